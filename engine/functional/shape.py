"""Shape ops: reshape, transpose, indexing, concatenate, stack, tile, repeat, flip, broadcast.

Each (but an uneven repeat) has a ``backward_graph`` for ``create_graph=True``,
written with these same ops.
"""

from ..tensor import Function, Tensor, apply
from ._util import inverse_permutation, unbroadcast


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, grad):
        return (grad.reshape(self.input_shape),)

    def backward_graph(self, grad):
        return (reshape(grad, self.input_shape),)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, grad):
        if self.axes is None:
            return (grad.transpose(),)
        return (grad.transpose(inverse_permutation(self.axes)),)

    def backward_graph(self, grad):
        return (transpose(grad, None if self.axes is None else inverse_permutation(self.axes)),)


def _is_advanced(index) -> bool:
    """Whether ``index`` uses integer-array (fancy) indexing, which may repeat positions."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(part, "shape") or isinstance(part, list) for part in parts)


def _scatter(xp, values, index, shape, dtype):
    """Zeros of ``shape`` with ``values`` added at ``index``: the adjoint of ``x[index]``."""
    full = xp.zeros(shape, dtype=dtype)
    if _is_advanced(index):
        xp.add.at(full, index, values)
    else:
        full[index] = values
    return full


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, grad):
        return (_scatter(self.backend.xp, grad, self.index, self.shape, self.dtype),)

    def backward_graph(self, grad):
        return (apply(Scatter(self.index, self.shape), grad),)


class Scatter(Function):
    """``x`` placed (added) at ``index`` of a zero tensor of ``shape``: ``GetItem``'s gradient."""

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, x):
        return _scatter(self.backend.xp, x, self.index, self.shape, x.dtype)

    def backward(self, grad):
        return (grad[self.index],)

    def backward_graph(self, grad):
        return (apply(GetItem(self.index), grad),)


class Copy(Function):
    """A new array with ``x``'s values; the gradient passes unchanged."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return (grad,)

    def backward_graph(self, grad):
        return (grad,)


def copy(x: Tensor) -> Tensor:
    return apply(Copy(), x)


def scatter(x: Tensor, index, shape) -> Tensor:
    """``x`` added at ``index`` of zeros of ``shape`` (repeated positions add up)."""
    return apply(Scatter(index, tuple(shape)), x)


class Concatenate(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        self.sizes = [a.shape[self.axis] for a in arrays]
        return self.backend.xp.concatenate(arrays, axis=self.axis)

    def backward(self, grad):
        xp = self.backend.xp
        bounds = list(xp.cumsum(xp.asarray(self.sizes))[:-1].tolist())
        pieces = xp.split(grad, bounds, axis=self.axis)
        return tuple(p if need else None for p, need in zip(pieces, self.needs_input_grad))

    def backward_graph(self, grad):
        grads, start = [], 0
        for size, need in zip(self.sizes, self.needs_input_grad):
            index = (slice(None),) * self.axis + (slice(start, start + size),)
            grads.append(apply(GetItem(index), grad) if need else None)
            start += size
        return tuple(grads)


class Stack(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return self.backend.xp.stack(arrays, axis=self.axis)

    def backward(self, grad):
        xp = self.backend.xp
        return tuple(
            xp.take(grad, i, axis=self.axis) if need else None
            for i, need in enumerate(self.needs_input_grad)
        )

    def backward_graph(self, grad):
        before = (slice(None),) * (self.axis % grad.ndim)
        return tuple(
            apply(GetItem((*before, i)), grad) if need else None
            for i, need in enumerate(self.needs_input_grad)
        )


def reshape(x: Tensor, shape) -> Tensor:
    return apply(Reshape(tuple(shape)), x)


def transpose(x: Tensor, axes=None) -> Tensor:
    return apply(Transpose(tuple(axes) if axes is not None else None), x)


def getitem(x: Tensor, index) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(part.data if isinstance(part, Tensor) else part for part in index)
    return apply(GetItem(index), x)


def flatten(x: Tensor) -> Tensor:
    """Keep the batch axis, flatten the rest."""
    return reshape(x, (x.shape[0], -1))


def concatenate(tensors, axis: int = 0) -> Tensor:
    tensors = list(tensors)
    ndim = tensors[0].ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for tensors of rank {ndim}.")
    return apply(Concatenate(axis % ndim), *tensors)


def stack(tensors, axis: int = 0) -> Tensor:
    tensors = list(tensors)
    return apply(Stack(axis), *tensors)


class Tile(Function):
    """``xp.tile``; ``repeats`` has one entry per axis (the caller pads it and the input)."""

    def __init__(self, repeats: tuple):
        self.repeats = repeats

    def forward(self, x):
        self.shape = x.shape
        return self.backend.xp.tile(x, self.repeats)

    def backward(self, grad):
        # axis k of the output is (repeats[k], shape[k]) laid out row-major: sum the copies
        interleaved = []
        for copies, size in zip(self.repeats, self.shape):
            interleaved += [copies, size]
        grad = grad.reshape(interleaved).sum(axis=tuple(range(0, len(interleaved), 2)))
        return (grad,)

    def backward_graph(self, grad):
        interleaved, summed = [], []
        for copies, size in zip(self.repeats, self.shape):
            interleaved += [copies, size]
            summed += [1, size]
        return (reshape(sum_to(reshape(grad, interleaved), summed), self.shape),)


class Repeat(Function):
    """Repeat each element along ``axis``, ``repeats`` (or ``repeats[i]``) times.

    The uneven form scatter-adds its gradient back; the even one just sums copies.
    """

    def __init__(self, repeats, axis: int):
        self.repeats, self.axis = repeats, axis

    def forward(self, x):
        self.shape = x.shape
        return self.backend.xp.repeat(x, self.repeats, axis=self.axis)

    def backward(self, grad):
        xp, axis, size = self.backend.xp, self.axis, self.shape[self.axis]
        if isinstance(self.repeats, int):
            split = grad.shape[:axis] + (size, self.repeats) + grad.shape[axis + 1 :]
            return (grad.reshape(split).sum(axis=axis + 1),)
        # uneven repeats: scatter-add each copy back onto the element it came from
        sources = xp.repeat(xp.arange(size), list(self.repeats))
        moved = xp.moveaxis(grad, axis, 0)
        full = xp.zeros((size,) + moved.shape[1:], dtype=grad.dtype)
        xp.add.at(full, sources, moved)
        return (xp.moveaxis(full, 0, axis),)

    def backward_graph(self, grad):
        if not isinstance(self.repeats, int):
            return NotImplemented
        axis, size = self.axis, self.shape[self.axis]
        split = grad.shape[:axis] + (size, self.repeats) + grad.shape[axis + 1 :]
        summed = grad.shape[:axis] + (size, 1) + grad.shape[axis + 1 :]
        return (reshape(sum_to(reshape(grad, split), summed), self.shape),)


class Flip(Function):
    def __init__(self, axes: tuple):
        self.axes = axes

    def forward(self, x):
        return self.backend.xp.flip(x, self.axes)

    def backward(self, grad):
        return (self.backend.xp.flip(grad, self.axes),)

    def backward_graph(self, grad):
        return (flip(grad, self.axes),)


class BroadcastTo(Function):
    def __init__(self, shape: tuple):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return self.backend.xp.broadcast_to(x, self.shape)

    def backward(self, grad):
        return (unbroadcast(grad, self.input_shape),)

    def backward_graph(self, grad):
        return (sum_to(grad, self.input_shape),)


class SumTo(Function):
    """Sum over the axes that broadcasting added or stretched: ``broadcast_to``'s adjoint."""

    def __init__(self, shape: tuple):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return unbroadcast(x, self.shape)

    def backward(self, grad):
        return (self.backend.xp.broadcast_to(grad, self.input_shape),)

    def backward_graph(self, grad):
        return (broadcast_to(grad, self.input_shape),)


def tile(x: Tensor, repeats) -> Tensor:
    """Tile as NumPy does: ``repeats`` shorter than the rank repeats the trailing axes."""
    repeats = (1,) * (x.ndim - len(repeats)) + tuple(repeats)
    if len(repeats) > x.ndim:
        x = reshape(x, (1,) * (len(repeats) - x.ndim) + x.shape)
    return apply(Tile(repeats), x)


def repeat(x: Tensor, repeats, axis: int) -> Tensor:
    return apply(Repeat(repeats, axis), x)


def split(x: Tensor, bounds, axis: int) -> list:
    """Pieces of ``x`` along ``axis`` between the given boundaries (NumPy's ``split`` indices)."""
    pieces, start = [], 0
    for stop in [*bounds, x.shape[axis]]:
        pieces.append(getitem(x, (slice(None),) * axis + (slice(start, stop),)))
        start = stop
    return pieces


def flip(x: Tensor, axes: tuple) -> Tensor:
    return apply(Flip(axes), x)


def broadcast_to(x: Tensor, shape) -> Tensor:
    return apply(BroadcastTo(tuple(shape)), x)


def sum_to(x: Tensor, shape) -> Tensor:
    """``x`` summed down to ``shape`` (a shape it was broadcast from), differentiably."""
    shape = tuple(shape)
    return x if x.shape == shape else apply(SumTo(shape), x)
