"""Activations of ``engine.ops`` (re-exported there): relu, gelu, softmax, ..."""

from . import functional as F
from .conversion import as_float, as_tensor, normalize_axis
from .ops_math import _elementwise_constant
from .ops_shape import moveaxis, transpose
from .tensor import Tensor

# -- activations ------------------------------------------------------------------------


def relu(x) -> Tensor:
    """``max(x, 0)`` (integers stay integers)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return _elementwise_constant(x, lambda xp, a: xp.maximum(a, 0))
    return F.relu(x)


def sigmoid(x) -> Tensor:
    return F.sigmoid(as_float("sigmoid", x))


def tanh(x) -> Tensor:
    return F.tanh(as_float("tanh", x))


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``, computed without overflow."""
    return F.activation(as_float("softplus", x), "softplus")


def log_sigmoid(x) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return F.negative(softplus(F.negative(as_float("log_sigmoid", x))))


def silu(x) -> Tensor:
    """``x * sigmoid(x)``."""
    return F.activation(as_float("silu", x), "swish")


swish = silu


def gelu(x, approximate: bool = True) -> Tensor:
    """Gaussian error linear unit; Keras's ops default is the tanh approximation."""
    return F.activation(as_float("gelu", x), "gelu", approximate=approximate)


def leaky_relu(x, negative_slope: float = 0.2) -> Tensor:
    return F.activation(as_float("leaky_relu", x), "leaky_relu", negative_slope=negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    return F.activation(as_float("elu", x), "elu", alpha=alpha)


def selu(x) -> Tensor:
    return F.activation(as_float("selu", x), "selu")


def _over_axes(function: str, op, x, axis) -> Tensor:
    """``op(x, axis)`` for one axis, or over several by moving them last and flattening them."""
    x = as_float(function, x)
    axes = normalize_axis(function, axis, x.ndim)
    if len(axes) == 1:
        return op(x, axes[0])
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = transpose(x, kept + list(axes))
    flat = F.reshape(moved, [x.shape[a] for a in kept] + [-1])
    result = F.reshape(op(flat, -1), moved.shape)
    return moveaxis(result, list(range(len(kept), x.ndim)), list(axes))


def softmax(x, axis=-1) -> Tensor:
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int or a tuple of axes)."""
    return _over_axes("softmax", F.softmax, x, axis)


def log_softmax(x, axis=-1) -> Tensor:
    """``x - logsumexp(x)`` over ``axis``."""
    return _over_axes("log_softmax", F.log_softmax, x, axis)
