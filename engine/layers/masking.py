"""The Masking layer: marks time steps whose features all equal ``mask_value`` as padding."""

from .. import functional as F
from ..tensor import Tensor
from .base import Layer, register_layer


@register_layer
class Masking(Layer):
    """Skip padded time steps, as Keras 3: a step is masked when every feature equals
    ``mask_value``; its output is zeroed, and the mask ``(batch, steps)`` goes to the
    layers after it (recurrent and attention layers skip those steps)."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def _keep(self, inputs: Tensor):
        """``(..., 1)``: whether any feature of a step differs from ``mask_value``."""
        return (inputs.data != self.mask_value).any(axis=-1, keepdims=True)

    def call(self, inputs):
        keep = self._keep(inputs)
        return F.multiply(inputs, Tensor._wrap(keep.astype(inputs.data.dtype), inputs.backend))

    def compute_mask(self, inputs, mask=None):
        return Tensor._wrap(self._keep(inputs)[..., 0], inputs.backend)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
