"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Each takes a list of tensors (``multiple_inputs``). The elementwise ones
broadcast as Keras 3 does: sizes are aligned from the right (an input of
lower rank gains size-1 axes after the batch axis), and an axis of size 1
stretches to the other input's size. The lower-case functions (``add``,
``concatenate``...) make the layer and call it on the inputs, as in Keras.
"""

import functools

from .. import functional as F
from ..functional._util import native
from ..tensor import Tensor
from .base import Layer, format_shape, register_layer


def _format_shapes(shapes) -> str:
    return "[" + ", ".join(format_shape(s) for s in shapes) + "]"


class _Merge(Layer):
    """Shared body of the elementwise merge layers: shape checks, broadcasting, masks."""

    multiple_inputs = True
    #: exact number of inputs the layer takes (None: one or more)
    input_count: int | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_count(self, count: int) -> None:
        if self.input_count is not None and count != self.input_count:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' should be called on exactly "
                f"{self.input_count} inputs, but received {count}."
            )
        if count < 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' should be called on a list of at least "
                f"one input, but received an empty list."
            )

    def _check_list(self, input_shape) -> list:
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' should be called on a list of inputs, "
                f"but received input_shape={input_shape!r} (not a list of shapes)."
            )
        shapes = [tuple(s) for s in input_shape]
        self._check_count(len(shapes))
        return shapes

    def _broadcast(self, shape1: tuple, shape2: tuple, shapes: list) -> tuple:
        """Keras's elementwise output shape of two per-sample shapes (batch axis excluded)."""
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        if not shape2:
            return shape1
        output = list(shape1[: len(shape1) - len(shape2)])
        for i, j in zip(shape1[len(shape1) - len(shape2) :], shape2):
            if i is None or j is None:
                output.append(None)
            elif i == 1 or j == 1:
                output.append(j if i == 1 else i)
            elif i != j:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': inputs have incompatible shapes: "
                    f"per-sample shapes {format_shape(shape1)} and {format_shape(shape2)} do not "
                    f"broadcast (sizes {i} and {j}). Received input shapes "
                    f"{_format_shapes(shapes)}."
                )
            else:
                output.append(i)
        return tuple(output)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        batch_sizes = {s[0] for s in shapes if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': cannot merge tensors with different "
                f"batch sizes. Received input shapes {_format_shapes(shapes)}."
            )
        output = shapes[0][1:]
        for shape in shapes[1:]:
            output = self._broadcast(output, shape[1:], shapes)
        batch = batch_sizes.pop() if batch_sizes else None
        return (batch, *output)

    def call(self, inputs):
        self.compute_output_shape([x.shape for x in inputs])
        rank = max(x.ndim for x in inputs)
        aligned = []
        for x in inputs:
            if x.ndim < rank:  # size-1 axes after the batch axis, as Keras's expand_dims
                x = F.reshape(x, (x.shape[0],) + (1,) * (rank - x.ndim) + x.shape[1:])
            aligned.append(x)
        return self._merge(aligned)

    def _merge(self, inputs: list) -> Tensor:
        return functools.reduce(self._combine, inputs)

    def _combine(self, a: Tensor, b: Tensor) -> Tensor:
        """The binary op that ``_merge`` folds over the inputs, left to right."""
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        """The OR of the input masks, or None unless every input has one (as Keras)."""
        if mask is None or not isinstance(mask, (list, tuple)):
            return None
        if any(m is None for m in mask):
            return None
        backend = inputs[0].backend
        result = native(mask[0], backend)
        for m in mask[1:]:
            result = backend.xp.logical_or(result, native(m, backend))
        return Tensor._wrap(result, backend)


@register_layer
class Add(_Merge):
    """Elementwise sum of a list of inputs."""

    def _combine(self, a, b):
        return F.add(a, b)


@register_layer
class Subtract(_Merge):
    """``inputs[0] - inputs[1]``, for exactly two inputs."""

    input_count = 2

    def _combine(self, a, b):
        return F.subtract(a, b)


@register_layer
class Multiply(_Merge):
    """Elementwise product of a list of inputs."""

    def _combine(self, a, b):
        return F.multiply(a, b)


@register_layer
class Average(_Merge):
    """Elementwise mean of a list of inputs."""

    def _merge(self, inputs):
        return F.divide(functools.reduce(F.add, inputs), float(len(inputs)))


@register_layer
class Maximum(_Merge):
    """Elementwise maximum of a list of inputs; a tie sends the gradient to the earlier input."""

    def _combine(self, a, b):
        return F.where(a.data >= b.data, a, b)


@register_layer
class Minimum(_Merge):
    """Elementwise minimum of a list of inputs; a tie sends the gradient to the earlier input."""

    def _combine(self, a, b):
        return F.where(a.data <= b.data, a, b)


@register_layer
class Concatenate(Layer):
    """Concatenate a list of inputs along ``axis``; every other axis must match."""

    multiple_inputs = True

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Concatenate '{self.name}': `axis` must be an int, got {axis!r}.")
        self.axis = axis
        self.supports_masking = True

    def _mismatch(self, shapes, why: str) -> ValueError:
        return ValueError(
            f"Concatenate '{self.name}' requires inputs with matching shapes except for the "
            f"concatenation axis {self.axis}: {why}. Received input shapes "
            f"{_format_shapes(shapes)}."
        )

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or not input_shape
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"Concatenate '{self.name}' should be called on a list of at least one input, "
                f"but received input_shape={input_shape!r}."
            )
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise self._mismatch(shapes, "the inputs have different ranks")
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Concatenate '{self.name}': axis {self.axis} is out of range for inputs of "
                f"rank {rank}. Received input shapes {_format_shapes(shapes)}."
            )
        axis = self.axis % rank
        output = []
        for position in range(rank):
            sizes = [s[position] for s in shapes]
            if position == axis:
                output.append(None if None in sizes else sum(sizes))
                continue
            known = {size for size in sizes if size is not None}
            if len(known) > 1:
                raise self._mismatch(shapes, f"axis {position} has sizes {sizes}")
            output.append(known.pop() if known else None)
        return tuple(output)

    def call(self, inputs):
        self.compute_output_shape([x.shape for x in inputs])
        return F.concatenate(inputs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Keras's rule: unmasked inputs count as all-True, concatenated, then any over the
        last axis."""
        if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        backend = inputs[0].backend
        xp = backend.xp
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(xp.ones(x.shape, dtype=bool))
                continue
            m = native(m, backend)
            if m.ndim < x.ndim:
                m = xp.broadcast_to(xp.expand_dims(m, -1), x.shape)
            masks.append(m)
        return Tensor._wrap(xp.concatenate(masks, axis=self.axis).any(axis=-1), backend)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register_layer
class Dot(Layer):
    """Per-sample dot product of two inputs along ``axes`` (an int, or one axis for each).

    With ``normalize=True`` both inputs are L2-normalized along those axes first,
    giving the cosine similarity. The output keeps the first input's other axes,
    then the second's (batch excluded); a result of rank 1 becomes ``(batch, 1)``.
    """

    multiple_inputs = True

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(
                isinstance(a, int) and not isinstance(a, bool) for a in axes
            ):
                raise ValueError(
                    f"Dot '{self.name}': `axes` must be an int or a pair of ints, got {axes!r}."
                )
            axes = tuple(axes)
        elif isinstance(axes, bool) or not isinstance(axes, int):
            raise TypeError(
                f"Dot '{self.name}': `axes` must be an int or a pair of ints, got {axes!r}."
            )
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = True

    def _resolve_axes(self, shape1, shape2) -> tuple[int, int]:
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        resolved = []
        for axis, shape in zip(axes, (shape1, shape2)):
            if not -len(shape) <= axis < len(shape):
                raise ValueError(
                    f"Dot '{self.name}': axis {axis} is out of range for an input of shape "
                    f"{format_shape(shape)}."
                )
            resolved.append(axis % len(shape))
        if 0 in resolved:
            raise ValueError(
                f"Dot '{self.name}': cannot take the dot product over axis 0 (the batch axis); "
                f"axes={self.axes!r} with input shapes {format_shape(shape1)} and "
                f"{format_shape(shape2)}."
            )
        return tuple(resolved)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                f"Dot '{self.name}' should be called on a list of 2 inputs, but received "
                f"input_shape={input_shape!r}."
            )
        shape1, shape2 = (tuple(s) for s in input_shape)
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(
                f"Dot '{self.name}' needs inputs of rank 2 or more, but received shapes "
                f"{format_shape(shape1)} and {format_shape(shape2)}."
            )
        axis1, axis2 = self._resolve_axes(shape1, shape2)
        size1, size2 = shape1[axis1], shape2[axis2]
        batch1, batch2 = shape1[0], shape2[0]
        if size1 is not None and size2 is not None and size1 != size2:
            raise ValueError(
                f"Dot '{self.name}': incompatible input shapes {format_shape(shape1)} and "
                f"{format_shape(shape2)}: axis {axis1} of the first has size {size1} but axis "
                f"{axis2} of the second has size {size2}."
            )
        if batch1 is not None and batch2 is not None and batch1 != batch2:
            raise ValueError(
                f"Dot '{self.name}': inputs of different batch sizes, shapes "
                f"{format_shape(shape1)} and {format_shape(shape2)}."
            )
        rest1 = [s for i, s in enumerate(shape1) if i != axis1]
        rest2 = [s for i, s in enumerate(shape2) if i not in (0, axis2)]
        if rest1[0] is None:
            rest1[0] = batch2
        output = rest1 + rest2
        return tuple(output if len(output) > 1 else output + [1])

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def _l2_normalize(self, x: Tensor, axis: int) -> Tensor:
        """``x / max(||x||, 1e-7)`` along ``axis``, as ``keras.ops.normalize``."""
        square_sum = F.sum(F.multiply(x, x), axis=axis, keepdims=True)
        return F.divide(x, F.sqrt(F.clip(square_sum, min_value=1e-14)))

    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(
                f"Dot '{self.name}' should be called on exactly 2 inputs, but received "
                f"{len(inputs)}."
            )
        x1, x2 = inputs
        output_shape = self.compute_output_shape([x1.shape, x2.shape])
        axis1, axis2 = self._resolve_axes(x1.shape, x2.shape)
        if self.normalize:
            x1, x2 = self._l2_normalize(x1, axis1), self._l2_normalize(x2, axis2)
        # x1 to (batch, rest1, k) and x2 to (batch, k, rest2): one batched matmul
        order1 = [i for i in range(x1.ndim) if i != axis1] + [axis1]
        order2 = [0, axis2] + [i for i in range(1, x2.ndim) if i != axis2]
        batch, size = x1.shape[0], x1.shape[axis1]
        left = F.reshape(F.transpose(x1, order1), (batch, -1, size))
        right = F.reshape(F.transpose(x2, order2), (batch, size, -1))
        return F.reshape(F.matmul(left, right), output_shape)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        axes = self.axes if isinstance(self.axes, int) else list(self.axes)
        return {**super().get_config(), "axes": axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    """Functional interface to ``Add``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional interface to ``Subtract``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional interface to ``Multiply``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional interface to ``Average``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional interface to ``Maximum``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional interface to ``Minimum``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    """Functional interface to ``Concatenate``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize: bool = False, **kwargs):
    """Functional interface to ``Dot`` (``axes`` defaults to -1, as ``keras.layers.dot``)."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
