"""Activation ops, each backed by a pair of backend kernels.

For ``create_graph=True`` each has its derivative written again with tensor ops
(``_DERIVATIVES``), so that a gradient through it can be differentiated again.
"""

import math

from backends.kernels.activations import SELU_ALPHA, SELU_SCALE

from ..tensor import Function, Tensor, apply
from ._util import as_tensor
from .elementwise import erf
from .math import clip, exp, where
from .reduction import sum as sum_over


def _relu_derivative(x: Tensor) -> Tensor:
    return as_tensor(x.data > 0, x)


def _leaky_relu_derivative(x: Tensor, negative_slope=0.2) -> Tensor:
    return as_tensor(x.backend.xp.where(x.data > 0, 1.0, negative_slope), x)


def _sigmoid_derivative(x: Tensor) -> Tensor:
    s = sigmoid(x)
    return s * (1.0 - s)


def _tanh_derivative(x: Tensor) -> Tensor:
    t = tanh(x)
    return 1.0 - t * t


def _exp_of_negative_part(x: Tensor) -> Tensor:
    # exp(min(x, 0)): exp(x) itself could overflow where where() discards it, and an
    # inf there would turn the next derivative into nan
    return exp(clip(x, max_value=0.0))


def _elu_derivative(x: Tensor, alpha=1.0) -> Tensor:
    return where(x.data > 0, 1.0, _exp_of_negative_part(x) * alpha)


def _selu_derivative(x: Tensor) -> Tensor:
    return where(x.data > 0, SELU_SCALE, _exp_of_negative_part(x) * (SELU_SCALE * SELU_ALPHA))


def _softplus_derivative(x: Tensor) -> Tensor:
    return sigmoid(x)


def _swish_derivative(x: Tensor) -> Tensor:
    s = sigmoid(x)
    return s * (x * (1.0 - s) + 1.0)


def _gelu_derivative(x: Tensor, approximate=False) -> Tensor:
    if approximate:
        c = math.sqrt(2 / math.pi)
        t = tanh((x + x * x * x * 0.044715) * c)
        dt = (1.0 - t * t) * ((x * x * (3 * 0.044715) + 1.0) * c)
        return (t + 1.0) * 0.5 + x * dt * 0.5
    cdf = (erf(x * (1 / math.sqrt(2))) + 1.0) * 0.5
    pdf = exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
    return cdf + x * pdf


#: ``name -> derivative(x, **params)`` as tensor ops, for ``Activation.backward_graph``
_DERIVATIVES = {
    "relu": _relu_derivative,
    "leaky_relu": _leaky_relu_derivative,
    "sigmoid": _sigmoid_derivative,
    "tanh": _tanh_derivative,
    "elu": _elu_derivative,
    "selu": _selu_derivative,
    "softplus": _softplus_derivative,
    "swish": _swish_derivative,
    "gelu": _gelu_derivative,
}


class Activation(Function):
    """``y = kernel(x)``; backward through ``<name>_backward(dy, x, y)``."""

    def __init__(self, name: str, params: dict | None = None):
        self.name = name
        self.params = params or {}

    def forward(self, x):
        y = getattr(self.backend, self.name + "_forward")(x, **self.params)
        self.x, self.y = x, y
        return y

    def backward(self, grad):
        kernel = getattr(self.backend, self.name + "_backward")
        return (kernel(grad, self.x, self.y, **self.params),)

    def backward_graph(self, grad):
        derivative = _DERIVATIVES.get(self.name)
        if derivative is None:
            return NotImplemented
        return (grad * derivative(self.inputs[0], **self.params),)


class Softmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        self.logits = x  # read by the fused softmax cross-entropy
        self.y = self.backend.softmax_forward(x, self.axis)
        return self.y

    def backward(self, grad):
        return (self.backend.softmax_backward(grad, self.y, self.axis),)

    def backward_graph(self, grad):
        y = softmax(self.inputs[0], self.axis)
        return (y * (grad - sum_over(grad * y, self.axis, keepdims=True)),)


class LogSoftmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        self.y = self.backend.log_softmax_forward(x, self.axis)
        return self.y

    def backward(self, grad):
        return (self.backend.log_softmax_backward(grad, self.y, self.axis),)

    def backward_graph(self, grad):
        y = softmax(self.inputs[0], self.axis)
        return (grad - y * sum_over(grad, self.axis, keepdims=True),)


def activation(x: Tensor, name: str, **params) -> Tensor:
    return apply(Activation(name, params), x)


def relu(x: Tensor) -> Tensor:
    return apply(Activation("relu"), x)


def sigmoid(x: Tensor) -> Tensor:
    return apply(Activation("sigmoid"), x)


def tanh(x: Tensor) -> Tensor:
    return apply(Activation("tanh"), x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return apply(Softmax(axis), x)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return apply(LogSoftmax(axis), x)
