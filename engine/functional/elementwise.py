"""Elementwise math beyond arithmetic: log1p, expm1, square, sin, cos, erf, maximum,
minimum, the hyperbolic and inverse trigonometric functions, arctan2, hypot, logaddexp.

Each has a ``backward_graph`` for ``create_graph=True``.
"""

import math

from ..tensor import Function, Tensor, apply
from ._util import as_tensor, unbroadcast
from .math import exp, where
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


class Erfc(Function):
    def forward(self, x):
        self.x = x
        return self.backend.erfc(x)

    def backward(self, grad):
        x = self.x
        return (grad * (-_TWO_OVER_SQRT_PI * self.backend.xp.exp(-x * x)),)

    def backward_graph(self, grad):
        x = self.inputs[0]
        return (grad * (exp(-(x * x)) * -_TWO_OVER_SQRT_PI),)


class Erfinv(Function):
    """Inverse of erf; its derivative is ``sqrt(pi) / 2 * exp(y**2)`` at the output ``y``."""

    def forward(self, x):
        self.y = self.backend.erfinv(x)
        return self.y

    def backward(self, grad):
        return (grad * (self.backend.xp.exp(self.y * self.y) / _TWO_OVER_SQRT_PI),)

    def backward_graph(self, grad):
        y = apply(Erfinv(), self.inputs[0])
        return (grad * (exp(y * y) * (1 / _TWO_OVER_SQRT_PI)),)


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


class _Unary(Function):
    """``xp.<name>(x)``, whose derivative ``derivative(x)`` is written with tensor ops, so that
    one expression serves the backward pass and ``create_graph``."""

    name = ""

    @staticmethod
    def derivative(x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x):
        self.x = x
        return getattr(self.backend.xp, self.name)(x)

    def backward(self, grad):
        x = Tensor._wrap(self.x, self.backend)
        return (grad * self.derivative(x).data,)

    def backward_graph(self, grad):
        return (grad * self.derivative(self.inputs[0]),)


def _unary(name: str, derivative) -> type:
    return type(
        name.capitalize(), (_Unary,), {"name": name, "derivative": staticmethod(derivative)}
    )


def _one_minus_square(x):
    return 1.0 - x * x


Sinh = _unary("sinh", lambda x: cosh(x))
Cosh = _unary("cosh", lambda x: sinh(x))
Arcsin = _unary("arcsin", lambda x: _one_minus_square(x) ** -0.5)
Arccos = _unary("arccos", lambda x: -(_one_minus_square(x) ** -0.5))
Arctan = _unary("arctan", lambda x: 1.0 / (x * x + 1.0))
Arcsinh = _unary("arcsinh", lambda x: (x * x + 1.0) ** -0.5)
Arccosh = _unary("arccosh", lambda x: (x * x - 1.0) ** -0.5)
Arctanh = _unary("arctanh", lambda x: 1.0 / _one_minus_square(x))
Exp2 = _unary("exp2", lambda x: exp2(x) * math.log(2))
Cbrt = _unary("cbrt", lambda x: (apply(Cbrt(), x) ** 2 * 3.0) ** -1.0)


def _sinc_derivative(x: Tensor) -> Tensor:
    """``(cos(pi x) - sinc(x)) / x``, and 0 at 0."""
    nonzero = x.data != 0
    safe = where(nonzero, x, 1.0)
    return where(nonzero, (cos(safe * math.pi) - apply(Sinc(), safe)) / safe, 0.0)


def _bessel_i1(x: Tensor) -> Tensor:
    """The modified Bessel function I1 (I0's derivative), by its power series: all terms
    share x's sign, so the sum loses nothing; enough terms that the last is negligible."""
    xp = x.backend.xp
    half = x.data / 2.0
    count = int(min(float(xp.abs(half).max()) * 2 + 30, 800)) if half.size else 0
    term, total = half.copy(), half.copy()
    for k in range(1, count):
        term = term * half * half / (k * (k + 1))
        total = total + term
    return Tensor._wrap(total, x.backend)


Sinc = _unary("sinc", _sinc_derivative)
I0 = _unary("i0", _bessel_i1)


class _Binary(Function):
    """``xp.<name>(a, b)``, broadcasting; ``partials(a, b, y)`` gives both derivatives as
    tensor expressions (for the backward pass and ``create_graph``)."""

    name = ""

    @staticmethod
    def partials(a: Tensor, b: Tensor, y: Tensor) -> tuple:
        raise NotImplementedError

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = getattr(self.backend.xp, self.name)(a, b)
        return self.y

    def _gradients(self, grad, a, b, y):
        need_a, need_b = self.needs_input_grad
        da, db = self.partials(a, b, y)
        return (
            sum_to(grad * da, tuple(a.shape)) if need_a else None,
            sum_to(grad * db, tuple(b.shape)) if need_b else None,
        )

    def backward(self, grad):
        backend = self.backend
        a, b, y = (Tensor._wrap(v, backend) for v in (self.a, self.b, self.y))
        grads = self._gradients(Tensor._wrap(grad, backend), a, b, y)
        return tuple(None if g is None else g.data for g in grads)

    def backward_graph(self, grad):
        a, b = self.inputs
        return self._gradients(grad, a, b, apply(type(self)(), a, b))


class Arctan2(_Binary):
    name = "arctan2"

    @staticmethod
    def partials(a, b, y):
        squared = a * a + b * b
        return b / squared, -a / squared


class Hypot(_Binary):
    name = "hypot"

    @staticmethod
    def partials(a, b, y):
        return a / y, b / y


class Logaddexp2(_Binary):
    name = "logaddexp2"

    @staticmethod
    def partials(a, b, y):
        return exp2(a - y), exp2(b - y)


class Fmod(_Binary):
    """``a - trunc(a / b) * b`` with the sign of ``a``; the quotient is a constant."""

    name = "fmod"

    @staticmethod
    def partials(a, b, y):
        quotient = Tensor._wrap(a.backend.xp.trunc(a.data / b.data), a.backend)
        return 1.0, -quotient


class Logaddexp(_Binary):
    name = "logaddexp"

    @staticmethod
    def partials(a, b, y):
        return exp(a - y), exp(b - y)


def sinh(x: Tensor) -> Tensor:
    return apply(Sinh(), x)


def cosh(x: Tensor) -> Tensor:
    return apply(Cosh(), x)


def exp2(x: Tensor) -> Tensor:
    return apply(Exp2(), x)


def unary(name: str, x: Tensor) -> Tensor:
    """One of the ops above by its NumPy name (``"arcsin"``, ``"arctanh"``...)."""
    return apply(_UNARY[name](), x)


def binary(name: str, a: Tensor, b: Tensor) -> Tensor:
    """``"arctan2"``, ``"hypot"`` or ``"logaddexp"`` of two tensors of one dtype."""
    return apply(_BINARY[name](), a, b)


_UNARY = {
    op.name: op
    for op in (Sinh, Cosh, Arcsin, Arccos, Arctan, Arcsinh, Arccosh, Arctanh, Exp2, Cbrt, Sinc, I0)
}
_BINARY = {op.name: op for op in (Arctan2, Hypot, Logaddexp, Logaddexp2, Fmod)}


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


def erfc(x: Tensor) -> Tensor:
    return apply(Erfc(), x)


def erfinv(x: Tensor) -> Tensor:
    return apply(Erfinv(), x)


def maximum(a: Tensor, b: Tensor) -> Tensor:
    return apply(Extremum2("maximum"), a, b)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    return apply(Extremum2("minimum"), a, b)
