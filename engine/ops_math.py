"""Elementwise ``engine.ops`` (re-exported there): arithmetic, math functions, comparisons, logic.

Binary ops broadcast and promote their operands to one dtype as Keras 3 does;
float ops are differentiable, and integer or boolean results (comparisons,
``floor``, ``round``, ``sign``) are outside the graph.
"""

import builtins
import math

import numpy

from . import functional as F
from .config import floatx as config_floatx
from .conversion import (
    INT32,
    already_promoted,
    as_float,
    as_tensor,
    backend_of,
    cast_tensor,
    promote,
    result_type,
    to_tensor,
)
from .functional import elementwise
from .tensor import Tensor

# -- arithmetic -----------------------------------------------------------------


def _pair(function: str, x1, x2, floating: bool = False) -> tuple:
    """``x1`` and ``x2`` as tensors of one dtype on one backend."""
    if already_promoted((x1, x2), floating):
        return x1, x2
    return promote(function, {"x1": x1, "x2": x2}, floating=floating)


def _binary(function: str, op, x1, x2, floating: bool = False) -> Tensor:
    a, b = _pair(function, x1, x2, floating)
    try:
        return op(a, b)
    except ValueError as error:
        try:
            numpy.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"{function}: x1 of shape {a.shape} and x2 of shape {b.shape} do not broadcast."
            ) from error
        raise


def add(x1, x2) -> Tensor:
    """``x1 + x2``, broadcasting."""
    return _binary("add", F.add, x1, x2)


def subtract(x1, x2) -> Tensor:
    """``x1 - x2``, broadcasting."""
    return _binary("subtract", F.subtract, x1, x2)


def multiply(x1, x2) -> Tensor:
    """``x1 * x2``, broadcasting."""
    return _binary("multiply", F.multiply, x1, x2)


def divide(x1, x2) -> Tensor:
    """``x1 / x2``, broadcasting; integers divide to ``floatx``."""
    return _binary("divide", F.divide, x1, x2, floating=True)


true_divide = divide


def _outside_graph(function: str, op, x1, x2) -> Tensor:
    a, b = promote(function, {"x1": x1, "x2": x2})
    return Tensor._wrap(op(a.data, b.data), a.backend)


def floor_divide(x1, x2) -> Tensor:
    """``x1 // x2`` (no gradient)."""
    return _outside_graph("floor_divide", lambda a, b: a // b, x1, x2)


def mod(x1, x2) -> Tensor:
    """``x1 % x2`` with the sign of ``x2``, as NumPy (no gradient)."""
    return _outside_graph("mod", lambda a, b: a % b, x1, x2)


def power(x1, x2) -> Tensor:
    """``x1 ** x2``, broadcasting; a Python-number exponent stays a constant."""
    if isinstance(x2, (int, float)) and not isinstance(x2, bool):
        x = as_tensor(x1)
        return F.power(cast_tensor(x, result_type(x, x2)), x2)
    return _binary("power", F.power, x1, x2)


def maximum(x1, x2) -> Tensor:
    """Elementwise maximum; a tie splits the gradient in half."""
    return _binary("maximum", elementwise.maximum, x1, x2)


def minimum(x1, x2) -> Tensor:
    """Elementwise minimum; a tie splits the gradient in half."""
    return _binary("minimum", elementwise.minimum, x1, x2)


def negative(x) -> Tensor:
    """``-x``."""
    return F.negative(as_tensor(x))


def abs(x) -> Tensor:  # noqa: A001  (Keras's name)
    """``|x|``; the gradient at 0 is 0."""
    return F.abs(as_tensor(x))


absolute = abs


def square(x) -> Tensor:
    """``x * x`` (booleans become int32, as in Keras)."""
    x = as_tensor(x)
    return elementwise.square(cast_tensor(x, INT32) if x.dtype.kind == "b" else x)


def sqrt(x) -> Tensor:
    return F.sqrt(as_float("sqrt", x))


def rsqrt(x) -> Tensor:
    """``1 / sqrt(x)``."""
    return F.power(as_float("rsqrt", x), -0.5)


def reciprocal(x) -> Tensor:
    return F.divide(1.0, as_float("reciprocal", x))


def exp(x) -> Tensor:
    return F.exp(as_float("exp", x))


def expm1(x) -> Tensor:
    """``exp(x) - 1``, accurate near 0."""
    return elementwise.expm1(as_float("expm1", x))


def log(x) -> Tensor:
    return F.log(as_float("log", x))


def log1p(x) -> Tensor:
    """``log(1 + x)``, accurate near 0."""
    return elementwise.log1p(as_float("log1p", x))


def log2(x) -> Tensor:
    return F.multiply(F.log(as_float("log2", x)), 1 / math.log(2))


def log10(x) -> Tensor:
    return F.multiply(F.log(as_float("log10", x)), 1 / math.log(10))


def sin(x) -> Tensor:
    return elementwise.sin(as_float("sin", x))


def cos(x) -> Tensor:
    return elementwise.cos(as_float("cos", x))


def tan(x) -> Tensor:
    x = as_float("tan", x)
    return F.divide(elementwise.sin(x), elementwise.cos(x))


def erf(x) -> Tensor:
    """The Gauss error function."""
    return elementwise.erf(as_float("erf", x))


def sinh(x) -> Tensor:
    return elementwise.unary("sinh", as_float("sinh", x))


def cosh(x) -> Tensor:
    return elementwise.unary("cosh", as_float("cosh", x))


def arcsin(x) -> Tensor:
    return elementwise.unary("arcsin", as_float("arcsin", x))


def arccos(x) -> Tensor:
    return elementwise.unary("arccos", as_float("arccos", x))


def arctan(x) -> Tensor:
    return elementwise.unary("arctan", as_float("arctan", x))


def arcsinh(x) -> Tensor:
    return elementwise.unary("arcsinh", as_float("arcsinh", x))


def arccosh(x) -> Tensor:
    return elementwise.unary("arccosh", as_float("arccosh", x))


def arctanh(x) -> Tensor:
    return elementwise.unary("arctanh", as_float("arctanh", x))


def exp2(x) -> Tensor:
    """``2 ** x``."""
    return elementwise.unary("exp2", as_float("exp2", x))


def arctan2(x1, x2) -> Tensor:
    """The angle of the point ``(x2, x1)``, in ``[-pi, pi]``."""
    return _binary("arctan2", lambda a, b: elementwise.binary("arctan2", a, b), x1, x2, True)


def hypot(x1, x2) -> Tensor:
    """``sqrt(x1**2 + x2**2)`` without overflow."""
    return _binary("hypot", lambda a, b: elementwise.binary("hypot", a, b), x1, x2, True)


def logaddexp(x1, x2) -> Tensor:
    """``log(exp(x1) + exp(x2))`` without overflow."""
    return _binary("logaddexp", lambda a, b: elementwise.binary("logaddexp", a, b), x1, x2, True)


def cbrt(x) -> Tensor:
    """The real cube root."""
    return elementwise.unary("cbrt", as_float("cbrt", x))


def sinc(x) -> Tensor:
    """``sin(pi x) / (pi x)``, 1 at 0."""
    return elementwise.unary("sinc", as_float("sinc", x))


def i0(x) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return elementwise.unary("i0", as_float("i0", x))


def erfc(x) -> Tensor:
    """``1 - erf(x)``, accurate where it is tiny."""
    return elementwise.erfc(as_float("erfc", x))


def erfinv(x) -> Tensor:
    """The inverse of ``erf`` on [-1, 1]."""
    return elementwise.erfinv(as_float("erfinv", x))


def fabs(x) -> Tensor:
    """``|x|`` as a float."""
    return F.abs(as_float("fabs", x))


def logaddexp2(x1, x2) -> Tensor:
    """``log2(2**x1 + 2**x2)`` without overflow."""
    return _binary("logaddexp2", lambda a, b: elementwise.binary("logaddexp2", a, b), x1, x2, True)


def fmod(x1, x2) -> Tensor:
    """The remainder of ``x1 / x2`` with the sign of ``x1`` (C's ``fmod``)."""
    a, b = _pair("fmod", x1, x2)
    if a.dtype.kind != "f":
        return Tensor._wrap(a.backend.xp.fmod(a.data, b.data), a.backend)
    return _binary("fmod", lambda a, b: elementwise.binary("fmod", a, b), a, b)


def _nan_ignoring(function: str, x1, x2, pick) -> Tensor:
    """``x1`` where it is not NaN and ``pick(x1, x2)`` holds or ``x2`` is NaN, else ``x2``."""
    a, b = _pair(function, x1, x2)
    xp = a.backend.xp
    first = ~xp.isnan(a.data) & (xp.isnan(b.data) | pick(a.data, b.data))
    if a.dtype.kind != "f":
        return Tensor._wrap(xp.where(first, a.data, b.data), a.backend)
    return F.where(first, a, b)


def fmax(x1, x2) -> Tensor:
    """Elementwise maximum ignoring NaN (NaN only where both are)."""
    return _nan_ignoring("fmax", x1, x2, lambda a, b: a >= b)


def fmin(x1, x2) -> Tensor:
    """Elementwise minimum ignoring NaN."""
    return _nan_ignoring("fmin", x1, x2, lambda a, b: a <= b)


def ldexp(x1, x2) -> Tensor:
    """``x1 * 2**x2`` for integer ``x2``."""
    x = as_float("ldexp", x1)
    exponent = to_tensor(x2, x.backend).data
    if exponent.dtype.kind not in "iu":
        raise TypeError(f"ldexp: x2 must be integers, got dtype {exponent.dtype}.")
    xp = x.backend.xp
    return F.multiply(x, xp.ldexp(xp.ones((), x.dtype), exponent))


def divide_no_nan(x1, x2) -> Tensor:
    """``x1 / x2``, and 0 where ``x2`` is 0 (gradients too)."""
    a, b = _pair("divide_no_nan", x1, x2, floating=True)
    zero = b.data == 0
    quotient = F.divide(a, F.where(zero, 1.0, b))
    return F.where(zero, 0.0, quotient)


def _integers(function: str, *values) -> list:
    tensors = promote(function, {f"x{i + 1}": v for i, v in enumerate(values)})
    if tensors[0].dtype.kind not in "iub":
        raise TypeError(f"{function}: needs integer or boolean tensors, got {tensors[0].dtype}.")
    return tensors


def _integer_op(function: str, ufunc: str, *values) -> Tensor:
    tensors = _integers(function, *values)
    backend = tensors[0].backend
    return Tensor._wrap(getattr(backend.xp, ufunc)(*[t.data for t in tensors]), backend)


def gcd(x1, x2) -> Tensor:
    return _integer_op("gcd", "gcd", x1, x2)


def lcm(x1, x2) -> Tensor:
    return _integer_op("lcm", "lcm", x1, x2)


def bitwise_and(x, y) -> Tensor:
    return _integer_op("bitwise_and", "bitwise_and", x, y)


def bitwise_or(x, y) -> Tensor:
    return _integer_op("bitwise_or", "bitwise_or", x, y)


def bitwise_xor(x, y) -> Tensor:
    return _integer_op("bitwise_xor", "bitwise_xor", x, y)


def bitwise_invert(x) -> Tensor:
    return _integer_op("bitwise_invert", "invert", x)


bitwise_not = bitwise_invert


def bitwise_left_shift(x, y) -> Tensor:
    return _integer_op("bitwise_left_shift", "left_shift", x, y)


left_shift = bitwise_left_shift


def bitwise_right_shift(x, y) -> Tensor:
    return _integer_op("bitwise_right_shift", "right_shift", x, y)


right_shift = bitwise_right_shift


def heaviside(x1, x2) -> Tensor:
    """0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0`` (no gradient)."""
    a, b = _pair("heaviside", x1, x2, floating=True)
    return Tensor._wrap(a.backend.xp.heaviside(a.data, b.data), a.backend)


def nextafter(x1, x2) -> Tensor:
    """The next float after ``x1`` toward ``x2`` (no gradient)."""
    a, b = _pair("nextafter", x1, x2, floating=True)
    return Tensor._wrap(a.backend.xp.nextafter(a.data, b.data), a.backend)


def real(x) -> Tensor:
    """The real part (the tensor itself for real numbers)."""
    x = as_tensor(x)
    if x.dtype.kind != "c":
        return x
    return Tensor._wrap(x.data.real.copy(), x.backend)


def imag(x) -> Tensor:
    """The imaginary part (zeros for real numbers)."""
    x = as_tensor(x)
    return Tensor._wrap(x.backend.xp.imag(x.data).copy(), x.backend)


def conjugate(x) -> Tensor:
    """The complex conjugate (the tensor itself for real numbers)."""
    x = as_tensor(x)
    if x.dtype.kind != "c":
        return x
    return Tensor._wrap(x.backend.xp.conjugate(x.data), x.backend)


conj = conjugate


def angle(x) -> Tensor:
    """The complex argument: ``pi`` for negative real numbers, else 0 (no gradient)."""
    x = as_tensor(x)
    data = x.data if x.dtype.kind in "fc" else x.data.astype(numpy.dtype(config_floatx()))
    return Tensor._wrap(x.backend.xp.angle(data), x.backend)


def isreal(x) -> Tensor:
    """Whether each entry has no imaginary part."""
    return _predicate("isreal", "isreal", x)


def deg2rad(x) -> Tensor:
    return F.multiply(as_float("deg2rad", x), math.pi / 180)


def rad2deg(x) -> Tensor:
    return F.multiply(as_float("rad2deg", x), 180 / math.pi)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None) -> Tensor:
    """``x`` with NaN, +inf and -inf replaced (by 0 and the dtype's largest and smallest
    finite numbers unless given); the gradient passes where ``x`` is finite."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return x
    xp, data = x.backend.xp, x.data
    info = numpy.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    replaced = xp.nan_to_num(data, nan=nan, posinf=posinf, neginf=neginf)
    return F.where(xp.isfinite(data), x, replaced)


def _elementwise_constant(x: Tensor, compute) -> Tensor:
    """An op whose gradient is zero almost everywhere: computed outside the graph."""
    return Tensor._wrap(compute(x.backend.xp, x.data), x.backend)


def sign(x) -> Tensor:
    """-1, 0 or 1 by the sign of ``x`` (no gradient)."""
    x = as_tensor(x)
    return _elementwise_constant(x, lambda xp, a: xp.sign(a))


def floor(x) -> Tensor:
    """Round down (no gradient; integers become ``floatx``, as in Keras)."""
    x = as_float("floor", x)
    return _elementwise_constant(x, lambda xp, a: xp.floor(a))


def trunc(x) -> Tensor:
    """Round toward zero (no gradient; integers stay integers)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return x
    return _elementwise_constant(x, lambda xp, a: xp.trunc(a))


def ceil(x) -> Tensor:
    """Round up (no gradient; integers become ``floatx``, as in Keras)."""
    x = as_float("ceil", x)
    return _elementwise_constant(x, lambda xp, a: xp.ceil(a))


def round(x, decimals: int = 0) -> Tensor:  # noqa: A001  (Keras's name)
    """Round half to even, to ``decimals`` places (no gradient)."""
    x = as_tensor(x)
    return _elementwise_constant(x, lambda xp, a: xp.round(a, decimals))


def clip(x, x_min, x_max) -> Tensor:
    """``x`` limited to ``[x_min, x_max]``; the gradient passes where ``x`` is inside.

    Tensor bounds that require a gradient get it (through ``maximum`` and
    ``minimum``); constant bounds are folded into one op.
    """
    bounds = {"x_min": x_min, "x_max": x_max}
    if builtins.any(isinstance(b, Tensor) and b.requires_grad for b in bounds.values()):
        return minimum(maximum(x, x_min), x_max)
    given = {name: b for name, b in bounds.items() if b is not None}
    x, *limits = promote("clip", {"x": x, **given})
    limits = dict(zip(given, [t.data for t in limits]))
    return F.clip(x, limits.get("x_min"), limits.get("x_max"))


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``, broadcasting all three.

    With only ``condition``: the indices of its non-zero entries, one int32
    tensor per axis (as ``numpy.nonzero``).
    """
    if x1 is None and x2 is None:
        condition = as_tensor(condition)
        xp = condition.backend.xp
        return tuple(
            Tensor._wrap(i.astype(INT32), condition.backend) for i in xp.nonzero(condition.data)
        )
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither (to get the indices).")
    backend = backend_of("where", {"condition": condition, "x1": x1, "x2": x2})
    a, b = promote("where", {"x1": x1, "x2": x2})
    condition = to_tensor(condition, backend).data.astype(bool)
    return F.where(condition, a, b)


# -- comparisons and logic (no gradient) -----------------------------------------


def _predicate(function: str, ufunc: str, *values) -> Tensor:
    names = ("x1", "x2") if len(values) == 2 else ("x",)
    tensors = promote(function, dict(zip(names, values)))
    backend = tensors[0].backend
    return Tensor._wrap(getattr(backend.xp, ufunc)(*[t.data for t in tensors]), backend)


def equal(x1, x2) -> Tensor:
    return _predicate("equal", "equal", x1, x2)


def not_equal(x1, x2) -> Tensor:
    return _predicate("not_equal", "not_equal", x1, x2)


def greater(x1, x2) -> Tensor:
    return _predicate("greater", "greater", x1, x2)


def greater_equal(x1, x2) -> Tensor:
    return _predicate("greater_equal", "greater_equal", x1, x2)


def less(x1, x2) -> Tensor:
    return _predicate("less", "less", x1, x2)


def less_equal(x1, x2) -> Tensor:
    return _predicate("less_equal", "less_equal", x1, x2)


def logical_and(x1, x2) -> Tensor:
    return _predicate("logical_and", "logical_and", x1, x2)


def logical_or(x1, x2) -> Tensor:
    return _predicate("logical_or", "logical_or", x1, x2)


def logical_xor(x1, x2) -> Tensor:
    return _predicate("logical_xor", "logical_xor", x1, x2)


def logical_not(x) -> Tensor:
    return _predicate("logical_not", "logical_not", x)


def isnan(x) -> Tensor:
    return _predicate("isnan", "isnan", x)


def isinf(x) -> Tensor:
    return _predicate("isinf", "isinf", x)


def isfinite(x) -> Tensor:
    return _predicate("isfinite", "isfinite", x)


def isposinf(x) -> Tensor:
    return _predicate("isposinf", "isposinf", x)


def isneginf(x) -> Tensor:
    return _predicate("isneginf", "isneginf", x)


def signbit(x) -> Tensor:
    """Whether the sign bit is set (True for -0.0 and negative numbers)."""
    return _predicate("signbit", "signbit", x)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
    """Elementwise ``|x1 - x2| <= atol + rtol * |x2|``, as ``numpy.isclose``."""
    a, b = promote("isclose", {"x1": x1, "x2": x2})
    data = a.backend.xp.isclose(a.data, b.data, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return Tensor._wrap(data, a.backend)


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
    """Whether ``isclose`` holds everywhere: a boolean scalar tensor."""
    close = isclose(x1, x2, rtol, atol, equal_nan)
    return Tensor._wrap(close.data.all(), close.backend)
