"""Reductions: sum, mean, max, min over axes, with keepdims."""

from ..tensor import Function, Tensor, apply
from ._util import normalize_axes


def _expand(grad, input_shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input."""
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
        return (self.backend.xp.broadcast_to(grad, self.shape),)


class Mean(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, grad):
        count = 1
        for axis in self.axes:
            count *= self.shape[axis]
        grad = _expand(grad, self.shape, self.axes, self.keepdims) / count
        return (self.backend.xp.broadcast_to(grad, self.shape),)


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

    def backward(self, grad):
        grad = _expand(grad, self.x.shape, self.axes, self.keepdims)
        mask = (self.x == self.y).astype(grad.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return (mask * grad,)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(Sum(normalize_axes(axis, x.ndim), keepdims), x)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return apply(Mean(normalize_axes(axis, x.ndim), keepdims), x)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(Extremum(normalize_axes(axis, x.ndim), keepdims, "max"), x)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(Extremum(normalize_axes(axis, x.ndim), keepdims, "min"), x)
