"""Regularization layers: Dropout, GaussianNoise, GaussianDropout, SpatialDropout1D/2D.

Their noise comes from the backend's generator, seeded by
``engine.utils.set_random_seed``; ``seed`` is kept for configs.
"""

import math

from .. import functional as F
from ..tensor import Tensor
from .base import InputSpec, Layer, register_layer
from .conv import check_data_format


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``rate`` and scale
    the rest by ``1 / (1 - rate)``; at inference, pass the input through unchanged.

    ``noise_shape`` (None entries taken from the input) shares one mask value
    along its size-1 axes. ``seed`` is kept for configs; masks come from the
    backend's generator, seeded by ``engine.utils.set_random_seed``.
    """

    def __init__(self, rate: float, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"Dropout '{self.name}': `rate` must be a number in [0, 1), got {rate!r}."
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.supports_masking = True

    def _mask_shape(self, shape) -> tuple:
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"Dropout '{self.name}': noise_shape {self.noise_shape} has rank "
                f"{len(self.noise_shape)}, but the input has shape {tuple(shape)}."
            )
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return F.dropout(inputs, self.rate, self._mask_shape(inputs.shape))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        noise_shape = None if self.noise_shape is None else list(self.noise_shape)
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": noise_shape,
            "seed": self.seed,
        }


def _standard_normal(backend, shape):
    """Standard normal float64 samples from the backend's uniform generator (Box-Muller), so they
    are reproducible through ``engine.utils.set_random_seed`` as dropout masks are."""
    xp = backend.xp
    radius = xp.sqrt(-2.0 * xp.log1p(-backend.random_uniform(shape, "float64")))
    angle = (2.0 * math.pi) * backend.random_uniform(shape, "float64")
    return radius * xp.cos(angle)


def _check_fraction(layer: Layer, argument: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{argument}` must be a number in [0, 1), "
            f"got {value!r}."
        )
    return float(value)


@register_layer
class GaussianNoise(Layer):
    """In training, add zero-mean Gaussian noise of standard deviation ``stddev``; at
    inference, pass the input through."""

    def __init__(self, stddev: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or not 0 <= stddev <= 1:
            raise ValueError(
                f"GaussianNoise '{self.name}': `stddev` must be a number in [0, 1], got {stddev!r}."
            )
        self.stddev = float(stddev)
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        backend = inputs.backend
        noise = self.stddev * _standard_normal(backend, inputs.shape)
        return F.add(inputs, Tensor._wrap(noise.astype(inputs.dtype), backend))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@register_layer
class GaussianDropout(Layer):
    """In training, multiply by Gaussian noise of mean 1 and standard deviation
    ``sqrt(rate / (1 - rate))``; at inference, pass the input through."""

    def __init__(self, rate: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_fraction(self, "rate", rate)
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        backend = inputs.backend
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = 1.0 + stddev * _standard_normal(backend, inputs.shape)
        return F.multiply(inputs, Tensor._wrap(noise.astype(inputs.dtype), backend))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one mask value per sample and channel."""

    rank = 3

    def __init__(self, rate: float, seed=None, **kwargs):
        # the noise shape is fixed by the layer: (batch, 1, ..., 1, channels)
        super().__init__(rate, noise_shape=None, seed=seed, **kwargs)
        self.input_spec = InputSpec(ndim=self.rank)
        self.supports_masking = False

    def _mask_shape(self, shape) -> tuple:
        return (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        return input_shape

    def get_config(self):
        # Keras's SpatialDropout takes neither noise_shape nor trainable
        config = super().get_config()
        del config["noise_shape"], config["trainable"]
        return config


@register_layer
class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of ``(batch, steps, channels)`` inputs, in training only."""

    rank = 3


@register_layer
class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole channels of ``(batch, height, width, channels)`` inputs, in training
    only."""

    rank = 4

    def __init__(self, rate: float, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        check_data_format(data_format, f"SpatialDropout2D '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last"}
