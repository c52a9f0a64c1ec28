"""Activation functions by Keras name: ``engine.activations.get("relu")(x)``."""

import functools

from . import functional as F
from . import symbolic
from .conversion import as_tensor
from .functional import elementwise
from .tensor import Tensor


def _activation(fn):
    """``fn(x, ...)`` that also takes, as Keras's activations do, an array, a list or a
    number (``conversion.as_tensor``), and in the functional API a symbolic tensor: the
    call becomes a graph node (``OpCall`` of ``"activations.<name>"``)."""
    name = f"activations.{fn.__name__}"

    @functools.wraps(fn)
    def activation(x, *args, **kwargs):
        if isinstance(x, symbolic.KerasTensor):
            return symbolic.call_op(name, (x, *args), kwargs)
        return fn(as_tensor(x), *args, **kwargs)

    return activation


@_activation
def linear(x: Tensor) -> Tensor:
    return x


@_activation
def relu(x: Tensor, negative_slope: float = 0.0, max_value=None, threshold: float = 0.0) -> Tensor:
    """``max(x, 0)``; Keras's options: a ``negative_slope`` below ``threshold``, values
    under ``threshold`` (with no slope) set to zero, and a cap at ``max_value``."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return F.relu(x)
    if negative_slope:
        output = F.where(x.data > threshold, x, (x - threshold) * negative_slope)
    else:
        output = F.where(x.data > threshold, x, 0.0)
    if max_value is not None:
        output = F.clip(output, None, max_value)
    return output


@_activation
def relu6(x: Tensor) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return F.clip(x, 0.0, 6.0)


@_activation
def sigmoid(x: Tensor) -> Tensor:
    return F.sigmoid(x)


@_activation
def tanh(x: Tensor) -> Tensor:
    return F.tanh(x)


@_activation
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return F.softmax(x, axis)


@_activation
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return F.log_softmax(x, axis)


@_activation
def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    return F.activation(x, "leaky_relu", negative_slope=negative_slope)


@_activation
def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return F.activation(x, "elu", alpha=alpha)


@_activation
def selu(x: Tensor) -> Tensor:
    return F.activation(x, "selu")


@_activation
def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    return F.activation(x, "gelu", approximate=approximate)


@_activation
def softplus(x: Tensor) -> Tensor:
    return F.activation(x, "softplus")


@_activation
def swish(x: Tensor) -> Tensor:
    return F.activation(x, "swish")


silu = swish


@_activation
def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""
    negative = F.negative(F.relu(F.negative(x)))
    return F.relu(x) + alpha * elementwise.expm1(negative / alpha)


@_activation
def exponential(x: Tensor) -> Tensor:
    return F.exp(x)


@_activation
def glu(x: Tensor, axis: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` for the halves ``a, b`` of ``axis``."""
    size = x.shape[axis]
    if size % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got shape {tuple(x.shape)}.")
    axis = axis % x.ndim
    first = (slice(None),) * axis + (slice(None, size // 2),)
    second = (slice(None),) * axis + (slice(size // 2, None),)
    return x[first] * F.sigmoid(x[second])


@_activation
def hard_sigmoid(x: Tensor) -> Tensor:
    """``clip(x / 6 + 0.5, 0, 1)``."""
    return F.clip(x * (1 / 6) + 0.5, 0.0, 1.0)


@_activation
def hard_silu(x: Tensor) -> Tensor:
    """``x * hard_sigmoid(x)``."""
    return x * hard_sigmoid(x)


hard_swish = hard_silu


@_activation
def hard_tanh(x: Tensor) -> Tensor:
    return F.clip(x, -1.0, 1.0)


@_activation
def hard_shrink(x: Tensor, threshold: float = 0.5) -> Tensor:
    """``x`` where ``|x| > threshold``, else 0."""
    return F.where(abs(x.data) > threshold, x, 0.0)


@_activation
def soft_shrink(x: Tensor, threshold: float = 0.5) -> Tensor:
    """``x`` moved ``threshold`` towards zero, 0 within ``threshold`` of it."""
    shrunk = F.where(x.data > 0, x - threshold, x + threshold)
    return F.where(abs(x.data) > threshold, shrunk, 0.0)


@_activation
def tanh_shrink(x: Tensor) -> Tensor:
    return x - F.tanh(x)


@_activation
def threshold(x: Tensor, threshold: float, default_value: float) -> Tensor:
    """``x`` where ``x > threshold``, else ``default_value``."""
    return F.where(x.data > threshold, x, float(default_value))


@_activation
def log_sigmoid(x: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return F.negative(softplus(F.negative(x)))


@_activation
def mish(x: Tensor) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return x * F.tanh(softplus(x))


@_activation
def softsign(x: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return x / (F.abs(x) + 1.0)


@_activation
def sparse_plus(x: Tensor) -> Tensor:
    """0 below -1, ``(x + 1)**2 / 4`` on [-1, 1], ``x`` above 1."""
    middle = F.where(x.data < 1, (x + 1.0) * (x + 1.0) * 0.25, x)
    return F.where(x.data <= -1, 0.0, middle)


@_activation
def sparse_sigmoid(x: Tensor) -> Tensor:
    """``clip((x + 1) / 2, 0, 1)``."""
    return F.clip((x + 1.0) * 0.5, 0.0, 1.0)


@_activation
def squareplus(x: Tensor, b: float = 4) -> Tensor:
    """``(x + sqrt(x**2 + b)) / 2``."""
    return (x + F.sqrt(x * x + float(b))) * 0.5


@_activation
def sparsemax(x: Tensor, axis: int = -1) -> Tensor:
    """Euclidean projection onto the simplex (Martins & Astudillo, 2016): ``max(x - tau, 0)``.

    The support and its size come from sorting the values; ``tau`` is then the
    differentiable mean of the supported entries less one over their count.
    """
    xp = x.backend.xp
    data = x.data
    ordered = -xp.sort(-data, axis=axis)
    cumulative = xp.cumsum(ordered, axis=axis)
    shape = [1] * data.ndim
    shape[axis] = -1
    rank = xp.arange(1, data.shape[axis] + 1, dtype=data.dtype).reshape(shape)
    count = ((ordered - (cumulative - 1) / rank) > 0).sum(axis=axis, keepdims=True)
    top = xp.take_along_axis(cumulative, count - 1, axis=axis)
    support = data > (top - 1) / count
    total = F.sum(F.where(support, x, 0.0), axis=axis, keepdims=True)
    tau = (total - 1.0) / count.astype(data.dtype)
    return F.relu(x - tau)


_ACTIVATIONS = {
    fn.__name__: fn
    for fn in (
        linear,
        relu,
        relu6,
        sigmoid,
        tanh,
        softmax,
        log_softmax,
        leaky_relu,
        elu,
        selu,
        celu,
        gelu,
        glu,
        softplus,
        softsign,
        swish,
        exponential,
        hard_sigmoid,
        hard_silu,
        hard_tanh,
        hard_shrink,
        soft_shrink,
        tanh_shrink,
        threshold,
        log_sigmoid,
        mish,
        sparse_plus,
        sparse_sigmoid,
        squareplus,
        sparsemax,
    )
}
_ACTIVATIONS["silu"] = swish
_ACTIVATIONS["hard_swish"] = hard_silu


def get(identifier):
    """An activation function from a name, None (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _ACTIVATIONS[identifier]
        except KeyError:
            raise ValueError(
                f"Unknown activation: '{identifier}'. Valid activations are: "
                f"{', '.join(sorted(_ACTIVATIONS))}."
            ) from None
    if callable(identifier):
        return identifier
    raise TypeError(f"Cannot interpret {identifier!r} as an activation.")


def is_builtin(activation) -> bool:
    """Whether ``activation`` is one of the functions above (not a user's callable)."""
    return _ACTIVATIONS.get(getattr(activation, "__name__", None)) is activation


def serialize(activation) -> str:
    name = getattr(activation, "__name__", None)
    if _ACTIVATIONS.get(name) is not activation:
        raise ValueError(f"Activation {activation!r} is not a built-in one and cannot be saved.")
    return name


def deserialize(config, custom_objects: dict | None = None):
    """An activation from ``serialize``'s name (or Keras's ``{"config": name}`` dict);
    ``custom_objects`` may map names to functions."""
    if isinstance(config, dict):
        config = config.get("config")
    if custom_objects and config in custom_objects:
        return custom_objects[config]
    if not isinstance(config, str):
        raise TypeError(f"Cannot deserialize {config!r} as an activation; expected a name.")
    return get(config)
