"""Reshaping layers: Flatten, Reshape, ZeroPadding2D."""

import math

from .. import functional as F
from .base import Layer, format_shape, register_layer
from .conv import check_data_format, check_rank


@register_layer
class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(batch, ...)`` to ``(batch, features)``."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_data_format(data_format, f"Flatten '{self.name}'")

    def call(self, inputs):
        return F.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if None in rest else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last"}


@register_layer
class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (batch axis excluded; one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        if (
            not all(isinstance(s, int) and (s > 0 or s == -1) for s in target_shape)
            or target_shape.count(-1) > 1
        ):
            raise ValueError(
                f"Reshape '{self.name}': `target_shape` must hold positive integers and at "
                f"most one -1, got {target_shape!r}."
            )
        self.target_shape = target_shape

    def _resolve(self, input_shape) -> tuple:
        """``target_shape`` with its -1 filled in, checked against the input's size."""
        rest = input_shape[1:]
        if None in rest:
            return self.target_shape if -1 not in self.target_shape else None
        size = math.prod(rest)
        known = math.prod(s for s in self.target_shape if s != -1)
        if -1 in self.target_shape:
            if size % known:
                raise self._mismatch(input_shape)
            return tuple(size // known if s == -1 else s for s in self.target_shape)
        if known != size:
            raise self._mismatch(input_shape)
        return self.target_shape

    def _mismatch(self, input_shape) -> ValueError:
        return ValueError(
            f"Reshape '{self.name}': cannot reshape an input of shape "
            f"{format_shape(input_shape)} ({math.prod(input_shape[1:])} values per sample) "
            f"to target_shape {format_shape(self.target_shape)}."
        )

    def build(self, input_shape):
        self._resolve(input_shape)

    def call(self, inputs):
        return F.reshape(inputs, (inputs.shape[0], *self._resolve(inputs.shape)))

    def compute_output_shape(self, input_shape):
        resolved = self._resolve(tuple(input_shape))
        if resolved is None:
            resolved = tuple(None if s == -1 else s for s in self.target_shape)
        return (input_shape[0], *resolved)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@register_layer
class ZeroPadding2D(Layer):
    """Pad height and width with zeros.

    ``padding``: an int (all sides), ``(rows, cols)`` (symmetric), or
    ``((top, bottom), (left, right))``.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"ZeroPadding2D '{self.name}'"
        check_data_format(data_format, where)
        self.padding = self._normalize(padding, where)

    @staticmethod
    def _normalize(padding, where: str) -> tuple:
        def is_count(value):
            return isinstance(value, int) and not isinstance(value, bool) and value >= 0

        if is_count(padding):
            return ((padding, padding), (padding, padding))
        try:
            first, second = padding
            if is_count(first) and is_count(second):
                return ((first, first), (second, second))
            pairs = (tuple(first), tuple(second))
            if all(len(p) == 2 and all(is_count(v) for v in p) for p in pairs):
                return pairs
        except (TypeError, ValueError):
            pass
        raise ValueError(
            f"{where}: `padding` must be a non-negative int, a pair of them, or a pair of "
            f"(before, after) pairs, got {padding!r}."
        )

    def build(self, input_shape):
        check_rank(self, input_shape, 4, "(batch, height, width, channels)")

    def call(self, inputs):
        check_rank(self, inputs.shape, 4, "(batch, height, width, channels)")
        return F.zero_pad2d(inputs, self.padding)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "(batch, height, width, channels)")
        (top, bottom), (left, right) = self.padding
        n, h, w, c = input_shape
        return (
            n,
            None if h is None else h + top + bottom,
            None if w is None else w + left + right,
            c,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "padding": [list(pair) for pair in self.padding],
            "data_format": "channels_last",
        }
