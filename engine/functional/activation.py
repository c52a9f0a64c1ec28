"""Activation ops, each backed by a pair of backend kernels."""

from ..tensor import Function, Tensor, apply


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


class Softmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        self.logits = x  # read by the fused softmax cross-entropy
        self.y = self.backend.softmax_forward(x, self.axis)
        return self.y

    def backward(self, grad):
        return (self.backend.softmax_backward(grad, self.y, self.axis),)


class LogSoftmax(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        self.y = self.backend.log_softmax_forward(x, self.axis)
        return self.y

    def backward(self, grad):
        return (self.backend.log_softmax_backward(grad, self.y, self.axis),)


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
