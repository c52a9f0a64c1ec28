"""Helpers shared by the differentiable ops."""

from .. import config
from ..tensor import Tensor, note_constant


def as_tensor(value, like: Tensor) -> Tensor:
    """Wrap a constant (scalar or array) as a tensor on ``like``'s backend and float dtype."""
    if isinstance(value, Tensor):
        return value
    backend = like.backend
    kind = like.data.dtype.kind
    dtype = like.data.dtype if kind == "f" else None
    if dtype is None and type(value) in (int, float):
        # a Python number is weakly typed, as in Keras 3 (and NumPy 2): an int takes an
        # integer tensor's dtype (int32 for booleans), a float becomes floatx
        if type(value) is float:
            dtype = config.floatx()
        else:
            dtype = like.data.dtype if kind in "iu" else "int32"
    if backend.is_native(value):
        data = value if dtype is None or value.dtype == dtype else value.astype(dtype)
    else:
        data = backend.asarray(value, dtype=dtype)
        if type(value) in (int, float):  # a number of the code, for a taped step's replay
            note_constant(data)
    return Tensor._wrap(data, backend)


def native(value, backend):
    """``value`` (tensor, array, list or number) as an array of ``backend``: a host constant
    (targets, labels, masks) given to an op on a GPU backend goes to the device, whose
    arrays refuse to mix with host ones."""
    if isinstance(value, Tensor):
        value = value.data
    return value if backend.is_native(value) else backend.asarray(value)


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def normalize_axes(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    result = []
    for a in axis:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor of rank {ndim}.")
        result.append(a % ndim)
    return tuple(sorted(result))


def inverse_permutation(axes) -> list:
    """The axes that undo ``transpose(axes)``."""
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return inverse
