"""The ``keras.ops`` functions custom layers and losses use, differentiable, on every backend.

Names, arguments, broadcasting and result dtypes follow Keras 3, so code written
against ``keras.ops`` runs after changing the import::

    from engine import ops
    z = ops.einsum("bij,bjk->bik", q, k) / ops.sqrt(ops.cast(d, "float32"))

Inputs may be tensors, NumPy arrays, Python scalars or lists; the result is a
``Tensor`` on the backend of the input tensors (the current backend if none
is a tensor). Gradients flow through every float op; integer and boolean
results (``argmax``, comparisons, ``floor``, ``round``, ``sign``) are outside
the graph. Dtypes follow Keras 3's promotion (see ``engine.conversion``),
except that float64 stays float64. Shape and creation ops live in
``engine.ops_shape`` and are re-exported here.
"""

import builtins
import math

import numpy

from . import config, symbolic
from . import functional as F
from .conversion import (
    INT32,
    already_promoted,
    as_float,
    as_tensor,
    backend_of,
    cast_tensor,
    normalize_axis,
    promote,
    result_type,
    standardize_dtype,
    to_tensor,
)
from .functional import elementwise, linalg
from .functional import reduction as _reduction
from .ops_shape import (
    arange,
    broadcast_to,
    concatenate,
    expand_dims,
    eye,
    flip,
    full,
    full_like,
    moveaxis,
    ndim,
    one_hot,
    ones,
    ones_like,
    repeat,
    reshape,
    shape,
    split,
    squeeze,
    stack,
    swapaxes,
    take,
    take_along_axis,
    tile,
    transpose,
    zeros,
    zeros_like,
)
from .tensor import Tensor

# -- conversion ---------------------------------------------------------------


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """``x`` as a tensor on the current backend (a tensor is returned as it is, cast if asked)."""
    if sparse or ragged:
        raise ValueError("convert_to_tensor: sparse and ragged tensors are not supported.")
    backend = x.backend if isinstance(x, Tensor) else config.get_backend()
    return to_tensor(x, backend, dtype)


def convert_to_numpy(x) -> numpy.ndarray:
    """``x`` as a NumPy array (copied to the host from a device backend)."""
    if isinstance(x, Tensor):
        return x.numpy()
    if hasattr(x, "__cuda_array_interface__"):
        return x.get()  # a CuPy array
    return numpy.asarray(x)


def cast(x, dtype) -> Tensor:
    """``x`` as ``dtype``; differentiable between float dtypes."""
    return cast_tensor(as_tensor(x), dtype)


def stop_gradient(variable) -> Tensor:
    """The same values, cut from the graph: no gradient flows back through it."""
    return as_tensor(variable).detach()


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


# -- reductions ---------------------------------------------------------------------


def _integer_reduction(x: Tensor, method: str, axes, keepdims, dtype=None) -> Tensor:
    """``x.<method>`` on integers and booleans, keeping int dtypes (NumPy widens to int64)."""
    if dtype is None:
        dtype = INT32 if x.dtype.kind == "b" else x.dtype
    data = getattr(x.data, method)(axis=axes, keepdims=keepdims, dtype=dtype)
    return Tensor._wrap(data, x.backend)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001  (Keras's name)
    """Sum over ``axis`` (all axes if None); booleans count as int32."""
    x = as_tensor(x)
    axes = normalize_axis("sum", axis, x.ndim)
    if x.dtype.kind != "f":
        return _integer_reduction(x, "sum", axes, keepdims)
    return F.sum(x, axes, keepdims)


def prod(x, axis=None, keepdims: bool = False, dtype=None) -> Tensor:
    """Product over ``axis``; the gradient handles zero factors."""
    x = as_tensor(x)
    axes = normalize_axis("prod", axis, x.ndim)
    dtype = standardize_dtype(dtype)
    if dtype is not None and dtype.kind == "f":
        x = cast_tensor(x, dtype)
    if x.dtype.kind != "f":
        return _integer_reduction(x, "prod", axes, keepdims, dtype)
    return _reduction.prod(x, axes, keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``; integers average to ``floatx``."""
    x = as_float("mean", x)
    return F.mean(x, normalize_axis("mean", axis, x.ndim), keepdims)


def var(x, axis=None, keepdims: bool = False) -> Tensor:
    """Biased variance (divides by N), as Keras."""
    x = as_float("var", x)
    axes = normalize_axis("var", axis, x.ndim)
    centered = F.subtract(x, F.mean(x, axes, keepdims=True))
    return F.mean(elementwise.square(centered), axes, keepdims)


def std(x, axis=None, keepdims: bool = False) -> Tensor:
    """Biased standard deviation, ``sqrt(var(x))``."""
    return F.sqrt(var(x, axis, keepdims))


def moments(x, axes, keepdims: bool = False, synchronized: bool = False) -> tuple:
    """``(mean, variance)`` over ``axes``, with Keras's ``E[x^2] - E[x]^2`` for the variance."""
    if synchronized:
        raise NotImplementedError("moments: synchronized=True is not supported.")
    x = as_float("moments", x)
    axes = normalize_axis("moments", axes, x.ndim, "axes")
    mean_ = F.mean(x, axes, keepdims=True)
    variance = F.subtract(
        F.mean(elementwise.square(x), axes, keepdims=True), elementwise.square(mean_)
    )
    if not keepdims:
        kept = [size for axis, size in enumerate(x.shape) if axis not in axes]
        mean_, variance = F.reshape(mean_, kept), F.reshape(variance, kept)
    return mean_, variance


def _extremum(function: str, op, x, axis, keepdims, initial) -> Tensor:
    x = as_tensor(x)
    axes = normalize_axis(function, axis, x.ndim)
    if x.size == 0 or builtins.any(x.shape[a] == 0 for a in axes):
        if initial is None:
            raise ValueError(f"{function}: cannot reduce an empty axis without `initial`.")
        if keepdims:
            kept = [1 if a in axes else size for a, size in enumerate(x.shape)]
        else:
            kept = [size for a, size in enumerate(x.shape) if a not in axes]
        data = x.backend.xp.full(kept, initial, dtype=result_type(x, initial))
        return Tensor._wrap(data, x.backend)
    result = op(x, axes, keepdims)
    if initial is None:
        return result
    pick = maximum if function == "max" else minimum
    return pick(result, initial)


def max(x, axis=None, keepdims: bool = False, initial=None) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient equally."""
    return _extremum("max", F.max, x, axis, keepdims, initial)


def min(x, axis=None, keepdims: bool = False, initial=None) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient equally."""
    return _extremum("min", F.min, x, axis, keepdims, initial)


def _arg_extremum(function: str, x, axis, keepdims) -> Tensor:
    x = as_tensor(x)
    if x.size == 0:
        raise ValueError(f"{function}: the tensor is empty (shape {x.shape}).")
    if axis is not None:
        (axis,) = normalize_axis(function, axis, x.ndim)
    data = getattr(x.data, function)(axis=axis, keepdims=keepdims)
    return Tensor._wrap(data.astype(INT32), x.backend)


def argmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the maximum (the first one on ties), int32; over the flattened tensor if no axis."""
    return _arg_extremum("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the minimum (the first one on ties), int32."""
    return _arg_extremum("argmin", x, axis, keepdims)


def any(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001  (Keras's name)
    x = as_tensor(x)
    axes = normalize_axis("any", axis, x.ndim)
    return Tensor._wrap(x.data.astype(bool).any(axis=axes, keepdims=keepdims), x.backend)


def all(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001  (Keras's name)
    x = as_tensor(x)
    axes = normalize_axis("all", axis, x.ndim)
    return Tensor._wrap(x.data.astype(bool).all(axis=axes, keepdims=keepdims), x.backend)


def cumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum along ``axis`` (of the flattened tensor if None)."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    (axis,) = normalize_axis("cumsum", axis, x.ndim)
    dtype = standardize_dtype(dtype)
    if dtype is not None and dtype.kind == "f":
        x = cast_tensor(x, dtype)
    if x.dtype.kind != "f":
        dtype = dtype or (INT32 if x.dtype.kind == "b" else x.dtype)
        return Tensor._wrap(x.backend.xp.cumsum(x.data, axis=axis, dtype=dtype), x.backend)
    return _reduction.cumsum(x, axis)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow."""
    x = as_float("logsumexp", x)
    return _reduction.logsumexp(x, normalize_axis("logsumexp", axis, x.ndim), keepdims)


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    A vector norm over one axis (``ord`` None/2, 1, inf, -inf, 0 or any p); a
    matrix norm over two (``ord`` None/"fro", "nuc", 1, -1, 2, -2, inf, -inf).
    With ``axis=None`` a 1-D or 2-D tensor takes its own kind of norm and a
    larger one the 2-norm of all its entries.
    """
    x = as_float("norm", x)
    if axis is None:
        if x.ndim > 2 and ord is not None:
            raise ValueError(
                f"norm: ord={ord!r} needs axis= for a tensor of rank {x.ndim} (shape {x.shape})."
            )
        if x.ndim > 2 or (x.ndim == 2 and ord is None):
            return _vector_norm(F.reshape(x, (-1,)), None, (0,), False, x.ndim if keepdims else 0)
        axis = tuple(range(x.ndim))
    axes = normalize_axis("norm", axis, x.ndim)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims, 0)
    if len(axes) == 2:
        order = axis if isinstance(axis, (tuple, list)) else axes
        return _matrix_norm(
            x,
            ord,
            normalize_axis("norm", order[0], x.ndim)[0],
            normalize_axis("norm", order[1], x.ndim)[0],
            keepdims,
        )
    raise ValueError(f"norm: axis={axis!r} names {len(axes)} axes; give one or two.")


def _vector_norm(x, ord, axes, keepdims, restore_ndim) -> Tensor:  # noqa: A002
    if ord is None or ord == 2:
        result = F.sqrt(F.sum(elementwise.square(x), axes, keepdims))
    elif ord == math.inf:
        result = F.max(F.abs(x), axes, keepdims)
    elif ord == -math.inf:
        result = F.min(F.abs(x), axes, keepdims)
    elif ord == 0:
        result = cast_tensor(sum(not_equal(x, 0), axes, keepdims), x.dtype)
    elif ord == 1:
        result = F.sum(F.abs(x), axes, keepdims)
    elif isinstance(ord, (int, float)) and not isinstance(ord, bool):
        result = F.power(F.sum(F.power(F.abs(x), ord), axes, keepdims), 1 / ord)
    else:
        raise ValueError(f"norm: ord={ord!r} is not a vector norm.")
    if restore_ndim:
        result = F.reshape(result, (1,) * restore_ndim)
    return result


def _matrix_norm(x, ord, row, col, keepdims) -> Tensor:  # noqa: A002
    if ord in (None, "fro"):
        return F.sqrt(F.sum(elementwise.square(x), (row, col), keepdims))
    if ord in ("nuc", 2, -2):
        moved = moveaxis(x, (row, col), (-2, -1))
        values = linalg.singular_values(moved)
        if ord == "nuc":
            result = F.sum(values, (values.ndim - 1,))
        else:
            result = (F.max if ord == 2 else F.min)(values, (values.ndim - 1,))
        if keepdims:
            result = expand_dims(result, tuple(sorted((row, col))))
        return result
    if ord in (1, -1, math.inf, -math.inf):
        summed, across = (row, col) if ord in (1, -1) else (col, row)
        sums = F.sum(F.abs(x), (summed,), keepdims=True)
        pick = F.max if ord in (1, math.inf) else F.min
        result = pick(sums, (across,), keepdims=True)
        if not keepdims:
            result = F.reshape(
                result, [s for a, s in enumerate(result.shape) if a not in (row, col)]
            )
        return result
    raise ValueError(f"norm: ord={ord!r} is not a matrix norm.")


# -- linear algebra -------------------------------------------------------------------


def matmul(x1, x2) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading axes broadcast."""
    a, b = _pair("matmul", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: x1 has shape {a.shape} and x2 {b.shape}; a scalar operand is not "
            f"allowed (use multiply)."
        )
    inner = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner:
        raise ValueError(
            f"matmul: x1 has shape {a.shape} and x2 {b.shape}; the last axis of x1 "
            f"({a.shape[-1]}) must equal the {'first' if b.ndim == 1 else 'second-to-last'} "
            f"axis of x2 ({inner})."
        )
    try:
        return F.matmul(a, b)
    except ValueError as error:
        raise ValueError(
            f"matmul: the leading axes of x1 {a.shape} and x2 {b.shape} do not broadcast."
        ) from error


def dot(x1, x2) -> Tensor:
    """``numpy.dot``: scalars multiply; else the last axis of x1 meets the second-to-last of x2."""
    a, b = _pair("dot", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return F.multiply(a, b)
    if b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


def tensordot(x1, x2, axes=2) -> Tensor:
    """Sum of products over ``axes``: the last n of x1 with the first n of x2, or two lists."""
    a, b = _pair("tensordot", x1, x2)
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    axes_a = [normalize_axis("tensordot", x, a.ndim, "axes")[0] for x in axes_a]
    axes_b = [normalize_axis("tensordot", x, b.ndim, "axes")[0] for x in axes_b]
    if len(axes_a) != len(axes_b) or builtins.any(
        a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b)
    ):
        raise ValueError(
            f"tensordot: axes {axes_a} of x1 {a.shape} do not match axes {axes_b} of x2 {b.shape}."
        )
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    term_a = [next(letters) for _ in range(a.ndim)]
    term_b = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(axes_a, axes_b):
        term_b[j] = term_a[i]
    output = [c for k, c in enumerate(term_a) if k not in axes_a]
    output += [c for k, c in enumerate(term_b) if k not in axes_b]
    return linalg.einsum(f"{''.join(term_a)},{''.join(term_b)}->{''.join(output)}", a, b)


def outer(x1, x2) -> Tensor:
    """``x1[:, None] * x2[None, :]`` of the flattened inputs."""
    a, b = _pair("outer", x1, x2)
    return F.multiply(F.reshape(a, (-1, 1)), F.reshape(b, (1, -1)))


def einsum(subscripts: str, *operands) -> Tensor:
    """Einstein summation (``...`` and implicit output allowed); its gradient is einsum again."""
    if not operands:
        raise ValueError(f"einsum: subscripts {subscripts!r} were given no operands.")
    named = {f"operands[{i}]": x for i, x in enumerate(operands)}
    return linalg.einsum(subscripts, *promote("einsum", named))


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


__all__ = [
    # conversion and creation
    "arange",
    "cast",
    "convert_to_numpy",
    "convert_to_tensor",
    "eye",
    "full",
    "full_like",
    "ndim",
    "one_hot",
    "ones",
    "ones_like",
    "shape",
    "stop_gradient",
    "zeros",
    "zeros_like",
    # arithmetic and elementwise math
    "abs",
    "absolute",
    "add",
    "ceil",
    "clip",
    "cos",
    "divide",
    "erf",
    "exp",
    "expm1",
    "floor",
    "floor_divide",
    "log",
    "log10",
    "log1p",
    "log2",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "negative",
    "power",
    "reciprocal",
    "round",
    "rsqrt",
    "sign",
    "sin",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "true_divide",
    "where",
    # comparisons and logic
    "equal",
    "greater",
    "greater_equal",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "not_equal",
    # reductions
    "all",
    "any",
    "argmax",
    "argmin",
    "cumsum",
    "logsumexp",
    "max",
    "mean",
    "min",
    "moments",
    "norm",
    "prod",
    "std",
    "sum",
    "var",
    # linear algebra
    "dot",
    "einsum",
    "matmul",
    "outer",
    "tensordot",
    # shapes
    "broadcast_to",
    "concatenate",
    "expand_dims",
    "flip",
    "moveaxis",
    "repeat",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "take_along_axis",
    "tile",
    "transpose",
    # activations
    "elu",
    "gelu",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "swish",
    "tanh",
]


def _records_symbolic_calls(name: str, function):
    """``function`` that, given symbolic tensors (functional API), records a graph node."""

    def wrapper(*args, **kwargs):
        if symbolic.is_symbolic(args) or symbolic.is_symbolic(kwargs):
            return symbolic.call_op(name, args, kwargs)
        return function(*args, **kwargs)

    wrapper.__name__, wrapper.__qualname__ = function.__name__, function.__qualname__
    wrapper.__doc__, wrapper.__wrapped__ = function.__doc__, function
    return wrapper


for _name in __all__:
    if _name not in ("convert_to_numpy", "shape", "ndim"):
        globals()[_name] = _records_symbolic_calls(_name, globals()[_name])
del _name
_eager_shape = shape


def shape(x) -> tuple:  # noqa: F811 (symbolic tensors know their shape, None for the batch)
    """The shape of ``x`` as a tuple of ints (None where a symbolic tensor's size is open)."""
    return x.shape if isinstance(x, symbolic.KerasTensor) else _eager_shape(x)
