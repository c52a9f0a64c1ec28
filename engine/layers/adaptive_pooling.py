"""Adaptive pooling layers (channels-last): pool any spatial size to ``output_size``.

Bins are Keras's (and PyTorch's): output cell ``i`` of an axis of ``n``
cells pools cells ``floor(i * n / size)`` to ``ceil((i + 1) * n / size)``.
"""

from ..functional.pooling3d import adaptive_pool
from .base import Layer, format_shape, register_layer
from .conv import check_data_format, check_rank, normalize_tuple

_LAYOUTS = {
    1: "(batch, steps, channels)",
    2: "(batch, height, width, channels)",
    3: "(batch, depth, height, width, channels)",
}


class _AdaptivePooling(Layer):
    rank = 2
    mode = "average"

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        check_data_format(data_format, where)
        self.output_size = normalize_tuple(output_size, self.rank, "output_size", where)

    def _check(self, input_shape) -> None:
        check_rank(self, input_shape, self.rank + 2, _LAYOUTS[self.rank])

    def build(self, input_shape):
        self._check(input_shape)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0], *self.output_size, input_shape[-1])

    def call(self, inputs):
        self._check(inputs.shape)
        if 0 in inputs.shape[1:-1]:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' cannot pool an empty axis; received input "
                f"with shape {format_shape(inputs.shape)}."
            )
        return adaptive_pool(inputs, self.output_size, self.mode)

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": list(self.output_size),
            "data_format": "channels_last",
        }


@register_layer
class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Mean over adaptive bins of steps: ``(batch, steps, c)`` to ``(batch, output_size, c)``."""

    rank = 1


@register_layer
class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Mean over adaptive bins: ``(batch, h, w, c)`` to ``(batch, *output_size, c)``."""


@register_layer
class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Mean over adaptive bins: ``(batch, d, h, w, c)`` to ``(batch, *output_size, c)``."""

    rank = 3


@register_layer
class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Maximum over adaptive bins of steps: ``(batch, steps, c)`` to
    ``(batch, output_size, c)``."""

    rank = 1
    mode = "max"


@register_layer
class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Maximum over adaptive bins: ``(batch, h, w, c)`` to ``(batch, *output_size, c)``."""

    mode = "max"


@register_layer
class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Maximum over adaptive bins: ``(batch, d, h, w, c)`` to ``(batch, *output_size, c)``."""

    rank = 3
    mode = "max"
