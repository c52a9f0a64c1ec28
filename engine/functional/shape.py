"""Shape ops: reshape, transpose, indexing, concatenate, stack."""

from ..tensor import Function, Tensor, apply


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
        inverse = [0] * len(self.axes)
        for position, axis in enumerate(self.axes):
            inverse[axis] = position
        return (grad.transpose(inverse),)


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
