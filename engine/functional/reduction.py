"""Reductions: sum, mean, max, min over axes, with keepdims.

All but ``prod`` have a ``backward_graph`` for ``create_graph=True``.
"""

import math

from ..tensor import Function, Tensor, apply
from ._util import as_tensor, inverse_permutation, normalize_axes
from .math import exp
from .shape import broadcast_to, flip, reshape

#: a reduction's gradient for an input of at most this many numbers is spread into a new
#: array: NumPy's ``broadcast_to`` (a view) costs more in Python than copying them
_SPREAD_LIMIT = 4096


def _spread(xp, grad, shape: tuple):
    """``grad`` broadcast to ``shape``: itself when it has that shape already, else a new
    array for a small input or a read-only view of ``grad`` for a large one."""
    if grad.shape == shape:
        return grad
    if math.prod(shape) > _SPREAD_LIMIT:
        return xp.broadcast_to(grad, shape)
    spread = xp.empty(shape, grad.dtype)
    spread[...] = grad
    return spread


def _expand(grad, input_shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input (arrays or tensors)."""
    if not keepdims:
        shape = list(input_shape)
        for axis in axes:
            shape[axis] = 1
        grad = grad.reshape(shape)
    return grad


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad):
        grad = _expand(grad, self.shape, self.axes, self.keepdims)
        return (_spread(self.backend.xp, grad, self.shape),)

    def backward_graph(self, grad):
        return (broadcast_to(_expand(grad, self.shape, self.axes, self.keepdims), self.shape),)


class Mean(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        return mean_of(x, self.axes, self.keepdims)

    def _count(self) -> int:
        return _count(self.shape, self.axes)

    def backward(self, grad):
        grad = _expand(grad, self.shape, self.axes, self.keepdims) / self._count()
        return (_spread(self.backend.xp, grad, self.shape),)

    def backward_graph(self, grad):
        grad = _expand(grad, self.shape, self.axes, self.keepdims) * (1.0 / self._count())
        return (broadcast_to(grad, self.shape),)


def _count(shape: tuple, axes) -> int:
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count


def mean_of(x, axes: tuple, keepdims: bool = False):
    """``x.mean(axis=axes)`` of a raw array, as the ``Mean`` op computes it."""
    count = _count(x.shape, axes)
    if x.dtype.kind == "f" and x.dtype.itemsize >= 4 and 0 < count <= 1 << 24:
        # NumPy's mean is this sum and division behind a Python wrapper that costs more
        # than both on small arrays; dividing by a count exact in float32 rounds the same
        return x.sum(axis=axes, keepdims=keepdims) / count
    return x.mean(axis=axes, keepdims=keepdims)


class SumOverSize(Function):
    """``sum(x) / x.size`` in one op (Keras's "sum_over_batch_size" loss reduction): the
    sum over every axis, then the division by the size.

    The size stays a Python number: NumPy and CuPy convert it to the sum's dtype (a
    weak scalar) and round the quotient as a division by a constant of that dtype
    would, without sending a 0-d array to the device at every training step."""

    def forward(self, x):
        self.shape = x.shape
        self.size = x.size
        return x.sum() / self.size

    def backward(self, grad):
        grad = (grad / self.size).reshape((1,) * len(self.shape))
        return (_spread(self.backend.xp, grad, self.shape),)

    def backward_graph(self, grad):
        grad = grad / as_tensor(self.size, grad)
        return (broadcast_to(reshape(grad, (1,) * len(self.shape)), self.shape),)


class Extremum(Function):
    """Max or min; ties share the gradient equally."""

    def __init__(self, axes, keepdims, kind):
        self.axes, self.keepdims, self.kind = axes, keepdims, kind

    def forward(self, x):
        y = getattr(x, self.kind)(axis=self.axes, keepdims=True)
        self.x, self.y = x, y
        return (
            y
            if self.keepdims
            else y.reshape([s for i, s in enumerate(x.shape) if i not in self.axes])
        )

    def _weights(self, dtype):
        mask = (self.x == self.y).astype(dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return mask

    def backward(self, grad):
        grad = _expand(grad, self.x.shape, self.axes, self.keepdims)
        return (self._weights(grad.dtype) * grad,)

    def backward_graph(self, grad):
        grad = _expand(grad, self.x.shape, self.axes, self.keepdims)
        return (grad * as_tensor(self._weights(grad.dtype), grad),)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(Sum(normalize_axes(axis, x.ndim), keepdims), x)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return apply(Mean(normalize_axes(axis, x.ndim), keepdims), x)


def sum_over_size(x: Tensor) -> Tensor:
    """``sum(x) / size(x)``: the mean of every element, rounded as that sum and division."""
    return apply(SumOverSize(), x)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(Extremum(normalize_axes(axis, x.ndim), keepdims, "max"), x)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(Extremum(normalize_axes(axis, x.ndim), keepdims, "min"), x)


class LogSumExp(Function):
    """``log(sum(exp(x)))`` over axes, shifted by the maximum so it cannot overflow."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        xp = self.backend.xp
        shift = x.max(axis=self.axes, keepdims=True)
        shift = xp.where(xp.isfinite(shift), shift, 0)
        y = xp.log(xp.exp(x - shift).sum(axis=self.axes, keepdims=True)) + shift
        self.x, self.y = x, y
        return y if self.keepdims else y.reshape(_reduced_shape(x.shape, self.axes))

    def backward(self, grad):
        grad = _expand(grad, self.x.shape, self.axes, self.keepdims)
        return (grad * self.backend.xp.exp(self.x - self.y),)

    def backward_graph(self, grad):
        x = self.inputs[0]
        grad = _expand(grad, x.shape, self.axes, self.keepdims)
        return (grad * exp(x - apply(LogSumExp(self.axes, True), x)),)


class Prod(Function):
    """Product over axes; the gradient is the product of the other factors, so zeros are fine."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.x = x
        return x.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad):
        xp, x = self.backend.xp, self.x
        grad = _expand(grad, x.shape, self.axes, self.keepdims)
        if x.size == 0:
            return (xp.zeros_like(x),)
        # move the reduced axes last and flatten them; then each factor's cofactor
        # is the product of those before it times the product of those after it
        kept = [axis for axis in range(x.ndim) if axis not in self.axes]
        order = kept + list(self.axes)
        moved = x.transpose(order)
        rows = moved.reshape(moved.shape[: len(kept)] + (-1,))
        ones = xp.ones(rows.shape[:-1] + (1,), dtype=x.dtype)
        before = xp.cumprod(xp.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(
            xp.cumprod(xp.flip(xp.concatenate([rows[..., 1:], ones], axis=-1), -1), -1), -1
        )
        cofactors = (before * after).reshape(moved.shape).transpose(inverse_permutation(order))
        return (grad * cofactors,)


class Cumsum(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        return self.backend.xp.cumsum(x, axis=self.axis)

    def backward(self, grad):
        xp, axis = self.backend.xp, self.axis
        return (xp.flip(xp.cumsum(xp.flip(grad, axis), axis=axis), axis),)

    def backward_graph(self, grad):
        axis = (self.axis,)
        return (flip(apply(Cumsum(self.axis), flip(grad, axis)), axis),)


class Cumprod(Function):
    """Running product along one axis. Its gradient needs no division, so zero factors are
    exact: ``dx_i = (x_0 ... x_{i-1}) * r_i`` with ``r_i = g_i + x_{i+1} r_{i+1}``, a scan
    from the end along the axis."""

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        self.x = x
        return self.backend.xp.cumprod(x, axis=self.axis)

    def backward(self, grad):
        xp = self.backend.xp
        x = xp.moveaxis(self.x, self.axis, 0)
        grad = xp.moveaxis(grad, self.axis, 0)
        before = xp.ones_like(x)
        before[1:] = xp.cumprod(x[:-1], axis=0)
        after = xp.empty_like(grad)
        after[-1] = grad[-1]
        for i in range(len(x) - 2, -1, -1):
            after[i] = grad[i] + x[i + 1] * after[i + 1]
        return (xp.moveaxis(before * after, 0, self.axis),)


def _reduced_shape(shape, axes) -> tuple:
    return tuple(size for axis, size in enumerate(shape) if axis not in axes)


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return apply(LogSumExp(normalize_axes(axis, x.ndim), keepdims), x)


def prod(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return apply(Prod(normalize_axes(axis, x.ndim), keepdims), x)


def cumprod(x: Tensor, axis: int) -> Tensor:
    """Running product along one axis."""
    (axis,) = normalize_axes(axis, x.ndim)
    return apply(Cumprod(axis), x)


def cumsum(x: Tensor, axis: int) -> Tensor:
    """Running sum along one axis."""
    (axis,) = normalize_axes(axis, x.ndim)
    return apply(Cumsum(axis), x)
