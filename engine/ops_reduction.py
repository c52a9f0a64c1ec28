"""Reductions of ``engine.ops`` (re-exported there): sum, mean, var, max, argmax, cumsum, ...

Float reductions are differentiable; integer and boolean ones keep an integer
dtype (int32 for booleans, as Keras) and stay outside the graph.
"""

import builtins

from . import functional as F
from .conversion import (
    INT32,
    as_float,
    as_tensor,
    cast_tensor,
    normalize_axis,
    result_type,
    standardize_dtype,
)
from .functional import elementwise
from .functional import reduction as _reduction
from .ops_math import maximum, minimum
from .tensor import Tensor

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
