"""Reshaping layers for 1-D and 3-D data: ZeroPadding1D, ZeroPadding3D, Cropping3D,
UpSampling3D (channels-last, Keras 3's arguments and defaults)."""

from .. import functional as F
from .base import register_layer
from .conv import check_data_format
from .reshaping import _cropped, _pair, _repeat_each, _ShapeLayer

_VOLUME = "(batch, depth, height, width, channels)"


def _pairs3(value, where: str, argument: str) -> tuple:
    """An int, three ints or three pairs as three ``(before, after)`` pairs."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (_pair(value, where, argument),) * 3
    if isinstance(value, (list, tuple)) and len(value) == 3:
        return tuple(
            _pair(item, where, f"{position} entry of {argument}")
            for position, item in zip(("1st", "2nd", "3rd"), value)
        )
    raise ValueError(
        f"{where}: `{argument}` must be an int, a tuple of 3 ints or a tuple of 3 "
        f"(before, after) pairs, got {value!r}."
    )


def _grown(size, before: int, after: int):
    return None if size is None else size + before + after


@register_layer
class ZeroPadding1D(_ShapeLayer):
    """Pad the steps of ``(batch, steps, features)`` with zeros: ``padding`` is an int (both
    ends) or ``(start, end)``."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(ndim=3, **kwargs)
        where = f"ZeroPadding1D '{self.name}'"
        check_data_format(data_format, where)
        self.padding = _pair(padding, where, "padding")

    def call(self, inputs):
        n, steps, features = inputs.shape
        y = F.zero_pad2d(inputs.reshape(n, steps, 1, features), (self.padding, (0, 0)))
        return y.reshape(n, y.shape[1], features)

    def compute_output_shape(self, input_shape):
        batch, steps, features = self._checked(input_shape)
        return (batch, _grown(steps, *self.padding), features)

    def get_config(self):
        return {
            **super().get_config(),
            "padding": list(self.padding),
            "data_format": "channels_last",
        }


@register_layer
class ZeroPadding3D(_ShapeLayer):
    """Pad depth, height and width of ``(batch, d, h, w, c)`` with zeros.

    ``padding``: an int (all sides), three ints (symmetric per axis) or three
    ``(before, after)`` pairs.
    """

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(ndim=5, **kwargs)
        where = f"ZeroPadding3D '{self.name}'"
        check_data_format(data_format, where)
        self.padding = _pairs3(padding, where, "padding")

    def call(self, inputs):
        self._checked(inputs.shape)
        n, depth, height, width, channels = inputs.shape
        depth_pad, *planar_pads = self.padding
        # depth first, as the rows of (n, d, h * w, c); then height and width
        y = F.zero_pad2d(inputs.reshape(n, depth, height * width, channels), (depth_pad, (0, 0)))
        depth = y.shape[1]
        y = F.zero_pad2d(y.reshape(n * depth, height, width, channels), planar_pads)
        return y.reshape(n, depth, *y.shape[1:])

    def compute_output_shape(self, input_shape):
        batch, *spatial, channels = self._checked(input_shape)
        grown = (_grown(size, *pads) for size, pads in zip(spatial, self.padding))
        return (batch, *grown, channels)

    def get_config(self):
        return {
            **super().get_config(),
            "padding": [list(pair) for pair in self.padding],
            "data_format": "channels_last",
        }


@register_layer
class Cropping3D(_ShapeLayer):
    """Remove cells from the edges of depth, height and width of ``(batch, d, h, w, c)``.

    ``cropping``: an int, three ints or three ``(before, after)`` pairs.
    """

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(ndim=5, **kwargs)
        where = f"Cropping3D '{self.name}'"
        check_data_format(data_format, where)
        self.cropping = _pairs3(cropping, where, "cropping")

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        spatial = inputs.shape[1:4]
        index = tuple(
            slice(before, size - after) for size, (before, after) in zip(spatial, self.cropping)
        )
        return F.getitem(inputs, (slice(None), *index))

    def compute_output_shape(self, input_shape):
        batch, *spatial, channels = self._checked(input_shape)
        cropped = (
            _cropped(size, before, after, self, input_shape)
            for size, (before, after) in zip(spatial, self.cropping)
        )
        return (batch, *cropped, channels)

    def get_config(self):
        return {
            **super().get_config(),
            "cropping": [list(pair) for pair in self.cropping],
            "data_format": "channels_last",
        }


@register_layer
class UpSampling3D(_ShapeLayer):
    """Repeat each cell ``size = (d, h, w)`` times along depth, height and width."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(ndim=5, **kwargs)
        where = f"UpSampling3D '{self.name}'"
        check_data_format(data_format, where)
        if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
            size = (size,) * 3
        if not (
            isinstance(size, (list, tuple))
            and len(size) == 3
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size)
        ):
            raise ValueError(
                f"{where}: `size` must be an int >= 1 or a tuple of 3 of them, got {size!r}."
            )
        self.size = tuple(size)

    def call(self, inputs):
        self._checked(inputs.shape)
        return _repeat_each(inputs, {1: self.size[0], 2: self.size[1], 3: self.size[2]})

    def compute_output_shape(self, input_shape):
        batch, *spatial, channels = self._checked(input_shape)
        scaled = (None if n is None else n * s for n, s in zip(spatial, self.size))
        return (batch, *scaled, channels)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": "channels_last"}
