"""Regularization layers: Dropout."""

from .. import functional as F
from ..tensor import Tensor
from .base import Layer, register_layer


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
        backend = inputs.backend
        mask = backend.dropout_mask(self._mask_shape(inputs.shape), self.rate, inputs.dtype)
        return F.multiply(inputs, Tensor._wrap(mask, backend))

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
