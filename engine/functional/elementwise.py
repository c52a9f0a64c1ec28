"""Elementwise math beyond arithmetic: log1p, expm1, square, sin, cos, erf, maximum, minimum.

Each has a ``backward_graph`` for ``create_graph=True``.
"""

import math

from ..tensor import Function, Tensor, apply
from ._util import as_tensor, unbroadcast
from .math import exp
from .shape import sum_to

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


class Log1p(Function):
    def forward(self, x):
        self.x = x
        return self.backend.xp.log1p(x)

    def backward(self, grad):
        return (grad / (1 + self.x),)

    def backward_graph(self, grad):
        return (grad / (self.inputs[0] + 1.0),)


class Expm1(Function):
    def forward(self, x):
        self.y = self.backend.xp.expm1(x)
        return self.y

    def backward(self, grad):
        return (grad * (self.y + 1),)

    def backward_graph(self, grad):
        return (grad * exp(self.inputs[0]),)


class Square(Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return (grad * (2 * self.x),)

    def backward_graph(self, grad):
        return (grad * (self.inputs[0] * 2.0),)


class Sin(Function):
    def forward(self, x):
        self.x = x
        return self.backend.xp.sin(x)

    def backward(self, grad):
        return (grad * self.backend.xp.cos(self.x),)

    def backward_graph(self, grad):
        return (grad * cos(self.inputs[0]),)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return self.backend.xp.cos(x)

    def backward(self, grad):
        return (-grad * self.backend.xp.sin(self.x),)

    def backward_graph(self, grad):
        return (-grad * sin(self.inputs[0]),)


class Erf(Function):
    def forward(self, x):
        self.x = x
        return self.backend.erf(x)

    def backward(self, grad):
        x = self.x
        return (grad * (_TWO_OVER_SQRT_PI * self.backend.xp.exp(-x * x)),)

    def backward_graph(self, grad):
        x = self.inputs[0]
        return (grad * (exp(-(x * x)) * _TWO_OVER_SQRT_PI),)


class Extremum2(Function):
    """Elementwise maximum or minimum of two arrays; a tie splits the gradient in half.

    Halving at ties is what PyTorch and JAX do, so ``maximum(x, x)`` has gradient 1.
    """

    def __init__(self, kind: str):
        self.kind = kind

    def forward(self, a, b):
        xp = self.backend.xp
        self.shapes = a.shape, b.shape
        if self.kind == "maximum":
            self.a_wins, y = a > b, xp.maximum(a, b)
        else:
            self.a_wins, y = a < b, xp.minimum(a, b)
        self.tie = a == b
        return y

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        half = grad * self.tie * 0.5
        return (
            unbroadcast(grad * self.a_wins + half, self.shapes[0]) if need_a else None,
            unbroadcast(grad * ~(self.a_wins | self.tie) + half, self.shapes[1])
            if need_b
            else None,
        )

    def backward_graph(self, grad):
        # the derivative is piecewise constant: the same weights, as constants
        need_a, need_b = self.needs_input_grad
        weight_a = self.a_wins + 0.5 * self.tie
        grad_a = grad_b = None
        if need_a:
            grad_a = sum_to(grad * as_tensor(weight_a, grad), self.shapes[0])
        if need_b:
            grad_b = sum_to(grad * as_tensor(1 - weight_a, grad), self.shapes[1])
        return grad_a, grad_b


def log1p(x: Tensor) -> Tensor:
    return apply(Log1p(), x)


def expm1(x: Tensor) -> Tensor:
    return apply(Expm1(), x)


def square(x: Tensor) -> Tensor:
    return apply(Square(), x)


def sin(x: Tensor) -> Tensor:
    return apply(Sin(), x)


def cos(x: Tensor) -> Tensor:
    return apply(Cos(), x)


def erf(x: Tensor) -> Tensor:
    return apply(Erf(), x)


def maximum(a: Tensor, b: Tensor) -> Tensor:
    return apply(Extremum2("maximum"), a, b)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    return apply(Extremum2("minimum"), a, b)
