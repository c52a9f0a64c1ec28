"""Activation functions by Keras name: ``engine.activations.get("relu")(x)``."""

from . import functional as F
from .tensor import Tensor


def linear(x: Tensor) -> Tensor:
    return x


def relu(x: Tensor) -> Tensor:
    return F.relu(x)


def sigmoid(x: Tensor) -> Tensor:
    return F.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return F.tanh(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return F.softmax(x, axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return F.log_softmax(x, axis)


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    return F.activation(x, "leaky_relu", negative_slope=negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return F.activation(x, "elu", alpha=alpha)


def selu(x: Tensor) -> Tensor:
    return F.activation(x, "selu")


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    return F.activation(x, "gelu", approximate=approximate)


def softplus(x: Tensor) -> Tensor:
    return F.activation(x, "softplus")


def swish(x: Tensor) -> Tensor:
    return F.activation(x, "swish")


silu = swish

_ACTIVATIONS = {
    fn.__name__: fn
    for fn in (
        linear,
        relu,
        sigmoid,
        tanh,
        softmax,
        log_softmax,
        leaky_relu,
        elu,
        selu,
        gelu,
        softplus,
        swish,
    )
}
_ACTIVATIONS["silu"] = swish


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


def serialize(activation) -> str:
    name = getattr(activation, "__name__", None)
    if _ACTIVATIONS.get(name) is not activation:
        raise ValueError(f"Activation {activation!r} is not a built-in one and cannot be saved.")
    return name
