"""Reshaping layers: Flatten, Reshape, ZeroPadding2D, RepeatVector, Permute, Cropping1D,
Cropping2D, UpSampling1D, UpSampling2D."""

import math

import numpy

from .. import functional as F
from ..tensor import note_constant
from .base import InputSpec, Layer, format_shape, register_layer
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


def _is_count(value, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _pair(value, where: str, argument: str, minimum: int = 0) -> tuple:
    """An int or a pair of ints (each >= ``minimum``) as a pair, as Keras's standardize_tuple."""
    if _is_count(value, minimum):
        return (value, value)
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(_is_count(v, minimum) for v in value)
    ):
        return tuple(value)
    raise ValueError(
        f"{where}: `{argument}` must be an int >= {minimum} or a pair of them, got {value!r}."
    )


class _ShapeLayer(Layer):
    """A layer whose input rank is fixed by ``input_spec``; checked in shape inference too."""

    def __init__(self, ndim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=ndim)

    def _checked(self, input_shape) -> tuple:
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        return input_shape


@register_layer
class RepeatVector(_ShapeLayer):
    """Repeat a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``."""

    def __init__(self, n: int, **kwargs):
        super().__init__(ndim=2, **kwargs)
        if not _is_count(n, 1):
            raise ValueError(f"RepeatVector '{self.name}': `n` must be an int >= 1, got {n!r}.")
        self.n = n

    def call(self, inputs):
        batch, features = inputs.shape
        ones = inputs.backend.xp.ones((1, self.n, 1), dtype=inputs.dtype)
        note_constant(ones)  # of the shapes alone: a replay reuses it
        # broadcasting a size-1 axis repeats it; backward sums over the copies
        return F.multiply(F.reshape(inputs, (batch, 1, features)), ones)

    def compute_output_shape(self, input_shape):
        batch, features = self._checked(input_shape)
        return (batch, self.n, features)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


@register_layer
class Permute(_ShapeLayer):
    """Permute the non-batch axes: ``dims`` is a permutation of ``1..rank-1``."""

    def __init__(self, dims, **kwargs):
        dims = tuple(dims)
        super().__init__(ndim=len(dims) + 1, **kwargs)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                f"Permute '{self.name}': `dims` must be a permutation of 1..{len(dims)} "
                f"(the batch axis 0 stays first), got {dims!r}."
            )
        self.dims = dims

    def call(self, inputs):
        return F.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape):
        input_shape = self._checked(input_shape)
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


def _cropped(size, before: int, after: int, layer: Layer, input_shape) -> int | None:
    if size is None:
        return None
    if before + after >= size:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': cropping {before} + {after} must be smaller "
            f"than the axis it crops (size {size}); received input shape "
            f"{format_shape(input_shape)}."
        )
    return size - before - after


@register_layer
class Cropping1D(_ShapeLayer):
    """Remove ``cropping = (start, end)`` steps from the time axis of ``(batch, steps,
    features)``."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(ndim=3, **kwargs)
        self.cropping = _pair(cropping, f"Cropping1D '{self.name}'", "cropping")

    def call(self, inputs):
        start, end = self.cropping
        self.compute_output_shape(inputs.shape)
        return F.getitem(inputs, (slice(None), slice(start, inputs.shape[1] - end)))

    def compute_output_shape(self, input_shape):
        batch, steps, features = self._checked(input_shape)
        return (batch, _cropped(steps, *self.cropping, self, input_shape), features)

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


@register_layer
class Cropping2D(_ShapeLayer):
    """Remove rows and columns from the edges of ``(batch, height, width, channels)``.

    ``cropping``: an int (all sides), ``(rows, cols)`` (symmetric), or
    ``((top, bottom), (left, right))``.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(ndim=4, **kwargs)
        where = f"Cropping2D '{self.name}'"
        check_data_format(data_format, where)
        if _is_count(cropping):
            self.cropping = ((cropping, cropping), (cropping, cropping))
        elif isinstance(cropping, (list, tuple)) and len(cropping) == 2:
            self.cropping = (
                _pair(cropping[0], where, "cropping[0] (height)"),
                _pair(cropping[1], where, "cropping[1] (width)"),
            )
        else:
            raise ValueError(
                f"{where}: `cropping` must be an int, a pair (rows, cols), or a pair of pairs "
                f"((top, bottom), (left, right)), got {cropping!r}."
            )

    def call(self, inputs):
        (top, bottom), (left, right) = self.cropping
        self.compute_output_shape(inputs.shape)
        _, height, width, _ = inputs.shape
        rows, cols = slice(top, height - bottom), slice(left, width - right)
        return F.getitem(inputs, (slice(None), rows, cols))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = self._checked(input_shape)
        (top, bottom), (left, right) = self.cropping
        return (
            batch,
            _cropped(height, top, bottom, self, input_shape),
            _cropped(width, left, right, self, input_shape),
            channels,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "cropping": [list(pair) for pair in self.cropping],
            "data_format": "channels_last",
        }


def _repeat_each(x, axis_sizes: dict):
    """Repeat every entry ``size`` times along each axis in ``axis_sizes`` (nearest upsampling).

    Each repeated axis gains a size-1 neighbour that a product with ones broadcasts,
    so backward sums each block of copies.
    """
    expanded, ones_shape, output = [], [], []
    for axis, size in enumerate(x.shape):
        expanded.append(size)
        ones_shape.append(1)
        output.append(size)
        if axis in axis_sizes:
            expanded.append(1)
            ones_shape.append(axis_sizes[axis])
            output[-1] = size * axis_sizes[axis]
    ones = x.backend.xp.ones(tuple(ones_shape), dtype=x.dtype)
    note_constant(ones)  # of the shapes alone: a replay reuses it
    return F.reshape(F.multiply(F.reshape(x, tuple(expanded)), ones), tuple(output))


@register_layer
class UpSampling1D(_ShapeLayer):
    """Repeat each time step ``size`` times: ``(batch, steps * size, features)``."""

    def __init__(self, size: int = 2, **kwargs):
        super().__init__(ndim=3, **kwargs)
        if not _is_count(size, 1):
            raise ValueError(
                f"UpSampling1D '{self.name}': `size` must be an int >= 1, got {size!r}."
            )
        self.size = size

    def call(self, inputs):
        return _repeat_each(inputs, {1: self.size})

    def compute_output_shape(self, input_shape):
        batch, steps, features = self._checked(input_shape)
        return (batch, None if steps is None else steps * self.size, features)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _bilinear_matrix(size: int, factor: int):
    """``(size * factor, size)`` weights of half-pixel bilinear upsampling along one axis."""
    output = numpy.arange(size * factor)
    source = numpy.maximum((output + 0.5) / factor - 0.5, 0.0)
    low = numpy.minimum(numpy.floor(source).astype(int), size - 1)
    high = numpy.minimum(low + 1, size - 1)
    weight = source - low
    matrix = numpy.zeros((size * factor, size))
    numpy.add.at(matrix, (output, low), 1.0 - weight)
    numpy.add.at(matrix, (output, high), weight)
    return matrix


@register_layer
class UpSampling2D(_ShapeLayer):
    """Scale height and width of ``(batch, height, width, channels)`` by ``size``.

    ``interpolation``: ``"nearest"`` (repeat rows and columns) or ``"bilinear"``
    (half-pixel centres, as ``keras.ops.image.resize``).
    """

    interpolations = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(ndim=4, **kwargs)
        where = f"UpSampling2D '{self.name}'"
        check_data_format(data_format, where)
        self.size = _pair(size, where, "size", minimum=1)
        if not isinstance(interpolation, str) or interpolation.lower() not in self.interpolations:
            raise ValueError(
                f"{where}: `interpolation` must be one of {self.interpolations}, got "
                f"{interpolation!r}."
            )
        self.interpolation = interpolation.lower()

    def call(self, inputs):
        if self.interpolation == "nearest":
            return _repeat_each(inputs, {1: self.size[0], 2: self.size[1]})
        _, height, width, _ = inputs.shape
        backend, dtype = inputs.backend, inputs.dtype
        rows = backend.asarray(_bilinear_matrix(height, self.size[0]).T.astype(dtype))
        cols = backend.asarray(_bilinear_matrix(width, self.size[1]).T.astype(dtype))
        note_constant(rows)  # of the shapes alone: a replay reuses them
        note_constant(cols)
        # rows: (batch, width, channels, height) @ (height, new height)
        x = F.matmul(F.transpose(inputs, (0, 2, 3, 1)), rows)
        # columns: (batch, new height, channels, width) @ (width, new width)
        x = F.matmul(F.transpose(x, (0, 3, 2, 1)), cols)
        return F.transpose(x, (0, 1, 3, 2))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = self._checked(input_shape)
        return (
            batch,
            None if height is None else height * self.size[0],
            None if width is None else width * self.size[1],
            channels,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "size": list(self.size),
            "data_format": "channels_last",
            "interpolation": self.interpolation,
        }
