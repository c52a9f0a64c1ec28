"""Shape ops: reshape, transpose, indexing, concatenate, stack, tile, repeat, flip, broadcast."""

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


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, grad):
        if self.axes is None:
            return (grad.transpose(),)
        return (grad.transpose(inverse_permutation(self.axes)),)


def _is_advanced(index) -> bool:
    """Whether ``index`` uses integer-array (fancy) indexing, which may repeat positions."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(part, "shape") or isinstance(part, list) for part in parts)


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, grad):
        xp = self.backend.xp
        full = xp.zeros(self.shape, dtype=self.dtype)
        if _is_advanced(self.index):
            xp.add.at(full, self.index, grad)
        else:
            full[self.index] = grad
        return (full,)


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


class Flip(Function):
    def __init__(self, axes: tuple):
        self.axes = axes

    def forward(self, x):
        return self.backend.xp.flip(x, self.axes)

    def backward(self, grad):
        return (self.backend.xp.flip(grad, self.axes),)


class BroadcastTo(Function):
    def __init__(self, shape: tuple):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        return self.backend.xp.broadcast_to(x, self.shape)

    def backward(self, grad):
        return (unbroadcast(grad, self.input_shape),)


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
