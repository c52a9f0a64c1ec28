"""More regularization layers: SpatialDropout3D, AlphaDropout, ActivityRegularization.

As the other noise layers, their noise comes from the backend's generator,
seeded by ``engine.utils.set_random_seed``; ``seed`` is kept for configs.
"""

from .. import functional as F
from .. import regularizers
from ..tensor import Tensor
from .base import Layer, register_layer
from .conv import check_data_format
from .core import ActivityRegularized
from .regularization import _check_fraction, _SpatialDropout

# SELU's constants, which AlphaDropout's noise keeps the mean and variance of
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@register_layer
class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole channels of ``(batch, depth, height, width, channels)`` inputs, in
    training only."""

    rank = 5

    def __init__(self, rate: float, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        check_data_format(data_format, f"SpatialDropout3D '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last"}


@register_layer
class AlphaDropout(Layer):
    """Dropout that keeps a SELU network's mean and variance (Klambauer et al., 2017).

    In training each input is set to SELU's negative saturation value with
    probability ``rate``, then the result is scaled and shifted by Keras 3's
    affine correction; at inference the input passes through. ``noise_shape``
    (None entries taken from the input) shares one draw along its size-1 axes.
    """

    def __init__(self, rate: float, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_fraction(self, "rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.supports_masking = True

    def _noise_shape(self, shape) -> tuple:
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"AlphaDropout '{self.name}': noise_shape {self.noise_shape} has rank "
                f"{len(self.noise_shape)}, but the input has shape {tuple(shape)}."
            )
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        backend, rate = inputs.backend, self.rate
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        kept = (backend.random_uniform(self._noise_shape(inputs.shape), "float64") >= rate).astype(
            "float64"
        )
        a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * rate
        # a * (x * kept + alpha_p * (1 - kept)) + b, as one scale and one shift
        scale = (a * kept).astype(inputs.dtype)
        shift = (a * alpha_p * (1 - kept) + b).astype(inputs.dtype)
        y = F.multiply(inputs, Tensor._wrap(scale, backend))
        return F.add(y, Tensor._wrap(shift, backend))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        noise_shape = None if self.noise_shape is None else list(self.noise_shape)
        config = super().get_config()
        return {**config, "rate": self.rate, "seed": self.seed, "noise_shape": noise_shape}


@register_layer
class ActivityRegularization(ActivityRegularized, Layer):
    """Pass the input through and add ``l1 * sum(|x|) + l2 * sum(x**2)`` (divided by the batch
    size, as Keras 3.14+) to the losses ``fit`` minimizes."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        for argument, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(
                    f"ActivityRegularization '{self.name}': `{argument}` must be a number "
                    f">= 0, got {value!r}."
                )
        self.l1, self.l2 = float(l1), float(l2)
        self.activity_regularizer = regularizers.L1L2(l1=self.l1, l2=self.l2)
        self.supports_masking = True

    def call(self, inputs):
        self._regularize_activity(inputs)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
