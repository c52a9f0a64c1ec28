"""Reductions of ``engine.ops`` (re-exported there): sum, mean, var, max, argmax, cumsum, ...

Float reductions are differentiable; integer and boolean ones keep an integer
dtype (int32 for booleans, as Keras) and stay outside the graph.
"""

import builtins

import numpy

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
from .functional.shape import broadcast_to
from .ops_math import maximum, minimum
from .ops_shape import _axis, take_along_axis
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


def _running(function: str, x, axis, dtype, differentiable) -> Tensor:
    """A running sum or product (``function``) along ``axis`` (of the flattened tensor if
    None): integers and booleans keep an integer dtype outside the graph."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    (axis,) = normalize_axis(function, axis, x.ndim)
    dtype = standardize_dtype(dtype)
    if dtype is not None and dtype.kind == "f":
        x = cast_tensor(x, dtype)
    if x.dtype.kind != "f":
        dtype = dtype or (INT32 if x.dtype.kind == "b" else x.dtype)
        data = getattr(x.backend.xp, function)(x.data, axis=axis, dtype=dtype)
        return Tensor._wrap(data, x.backend)
    return differentiable(x, axis)


def cumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum along ``axis`` (of the flattened tensor if None)."""
    return _running("cumsum", x, axis, dtype, _reduction.cumsum)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow."""
    x = as_float("logsumexp", x)
    return _reduction.logsumexp(x, normalize_axis("logsumexp", axis, x.ndim), keepdims)


def amax(x, axis=None, keepdims: bool = False) -> Tensor:
    """The maximum over ``axis`` (``max``'s NumPy name)."""
    return max(x, axis, keepdims)


def amin(x, axis=None, keepdims: bool = False) -> Tensor:
    """The minimum over ``axis`` (``min``'s NumPy name)."""
    return min(x, axis, keepdims)


def ptp(x, axis=None, keepdims: bool = False) -> Tensor:
    """The range ``max - min`` over ``axis``."""
    x = as_tensor(x)
    high, low = max(x, axis, keepdims), min(x, axis, keepdims)
    if x.dtype.kind != "f":
        return Tensor._wrap(high.data - low.data, x.backend)
    return F.subtract(high, low)


def average(x, axis=None, weights=None) -> Tensor:
    """The mean over ``axis`` weighted by ``weights`` (of ``x``'s shape, or 1-D along ``axis``)."""
    x = as_float("average", x)
    if weights is None:
        return mean(x, axis)
    weights = cast_tensor(as_tensor(weights), x.dtype)
    if weights.shape != x.shape:
        if axis is None or weights.ndim != 1 or weights.shape[0] != x.shape[axis]:
            raise ValueError(
                f"average: weights of shape {weights.shape} must have x's shape {x.shape}, or "
                f"be 1-D of the length of axis {axis}."
            )
        (axis,) = normalize_axis("average", axis, x.ndim)
        weights = F.reshape(weights, [-1 if a == axis else 1 for a in range(x.ndim)])
    axes = normalize_axis("average", axis, x.ndim)
    total = F.sum(F.multiply(x, weights), axes)
    return F.divide(total, F.sum(broadcast_to(weights, x.shape), axes))


def count_nonzero(x, axis=None) -> Tensor:
    """How many entries are not zero over ``axis``, as int32."""
    x = as_tensor(x)
    axes = normalize_axis("count_nonzero", axis, x.ndim)
    return Tensor._wrap((x.data != 0).sum(axis=axes).astype(INT32), x.backend)


def cumprod(x, axis=None, dtype=None) -> Tensor:
    """Running product along ``axis`` (of the flattened tensor if None); its gradient is
    exact with zero factors."""
    return _running("cumprod", x, axis, dtype, _reduction.cumprod)


def argsort(x, axis=-1) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (stable: ties keep their order), int32."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    axis = _axis("argsort", axis, x.ndim)
    order = x.backend.xp.argsort(x.data, axis=axis, kind="stable")
    return Tensor._wrap(order.astype(INT32), x.backend)


def sort(x, axis=-1) -> Tensor:
    """``x`` sorted along ``axis``; the gradient goes back to where each value came from."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    return take_along_axis(x, argsort(x, axis), axis)


def top_k(x, k: int, sorted: bool = True) -> tuple:  # noqa: A002  (Keras's name)
    """``(values, indices)`` of the ``k`` largest entries along the last axis, largest
    first (ties: the lower index first); the values carry the gradient."""
    x = as_tensor(x)
    if x.ndim == 0 or not 0 <= k <= x.shape[-1]:
        raise ValueError(f"top_k: k={k} must be in [0, {x.shape[-1] if x.ndim else 0}].")
    xp = x.backend.xp
    data = x.data
    descending = -data if data.dtype.kind in "fi" else -(data.astype("int64"))
    indices = xp.argsort(descending, axis=-1, kind="stable")[..., :k].astype(INT32)
    values = take_along_axis(x, Tensor._wrap(indices, x.backend), -1)
    return values, Tensor._wrap(indices, x.backend)


def in_top_k(targets, predictions, k: int) -> Tensor:
    """Whether each sample's target class scores among its ``k`` best (a tie with the k-th
    best counts), as a boolean ``(batch,)`` tensor."""
    predictions = as_tensor(predictions)
    if predictions.ndim != 2:
        raise ValueError(
            f"in_top_k: predictions must be (batch, classes), got {predictions.shape}."
        )
    targets = as_tensor(targets)
    xp = predictions.backend.xp
    labels = targets.data.astype("int64").reshape(-1, 1)
    target_scores = xp.take_along_axis(predictions.data, labels, axis=-1)[:, 0]
    kth = xp.sort(predictions.data, axis=-1)[:, -k] if k > 0 else xp.full(len(labels), xp.inf)
    return Tensor._wrap(target_scores >= kth, predictions.backend)


_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _levels(function: str, q, scale: float = 1.0):
    """``q`` (a number or 1-D, in [0, 1], or [0, 100] with ``scale`` 100) as float64 levels."""
    levels = numpy.asarray(q.numpy() if isinstance(q, Tensor) else q, dtype="float64") / scale
    if levels.ndim > 1 or ((levels < 0) | (levels > 1)).any() or numpy.isnan(levels).any():
        bound = "[0, 100]" if scale == 100 else "[0, 1]"
        raise ValueError(f"{function}: q must be a number or 1-D, within {bound}; got {q!r}.")
    return levels


def _quantiles(
    function: str, x, levels, axis, method: str, keepdims: bool, skip_nan: bool = False
) -> Tensor:
    """The quantiles at ``levels`` over ``axis`` by NumPy's ``method``; with ``skip_nan``
    over each row's entries that are not NaN (NaN where none is), as ``nanquantile``.
    Differentiable through the values picked (the positions are constants)."""
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"{function}: method must be one of {_QUANTILE_METHODS}, got {method!r}.")
    x = as_float(function, x)
    xp = x.backend.xp
    axes = normalize_axis(function, axis, x.ndim)
    kept = [a for a in range(x.ndim) if a not in axes]
    kept_shape = [x.shape[a] for a in kept]
    flat = F.reshape(F.transpose(x, kept + list(axes)), kept_shape + [-1])
    ordered = sort(flat, axis=-1)  # NaNs sort last
    length = ordered.shape[-1]
    if skip_nan:
        count = (~xp.isnan(flat.data)).sum(axis=-1)
    elif length == 0:
        raise ValueError(f"{function}: the reduced axes of shape {x.shape} hold no entries.")
    else:
        count = xp.full(kept_shape, length)
    out_shape = [1 if a in axes else x.shape[a] for a in range(x.ndim)] if keepdims else kept_shape
    results = []
    for level in levels.reshape(-1):
        position = level * (count - 1).astype("float64")
        below, above = xp.floor(position), xp.ceil(position)
        fraction = position - below
        if method == "lower":
            above, fraction = below, 0 * fraction
        elif method == "higher":
            below, fraction = above, 0 * fraction
        elif method == "nearest":
            below = above = xp.rint(position)
            fraction = 0 * fraction
        elif method == "midpoint":
            fraction = xp.where(above > below, 0.5, 0.0)
        if length == 0:
            value = Tensor._wrap(xp.full(kept_shape, xp.nan, dtype=x.dtype), x.backend)
        else:
            picks = []
            for index in (below, above):
                index = xp.clip(index, 0, length - 1).astype("int64")[..., None]
                picks.append(take_along_axis(ordered, Tensor._wrap(index, x.backend), -1))
            low, high = (F.reshape(p, kept_shape) for p in picks)
            step = Tensor._wrap(fraction.astype(x.dtype), x.backend)
            blend = F.add(low, F.multiply(F.subtract(high, low), step))
            value = F.where(fraction == 0, low, blend)
            if skip_nan:
                value = F.where(count == 0, numpy.nan, value)
        results.append(F.reshape(value, out_shape))
    return F.stack(results, 0) if levels.ndim else results[0]


def quantile(x, q, axis=None, method: str = "linear", keepdims: bool = False) -> Tensor:
    """The ``q``-th quantiles (``q`` in [0, 1], a number or 1-D) over ``axis``, as
    ``numpy.quantile`` with ``method`` linear, lower, higher, midpoint or nearest; a
    1-D ``q`` adds a leading axis. Differentiable through the values it picks."""
    return _quantiles("quantile", x, _levels("quantile", q), axis, method, keepdims)


def percentile(x, q, axis=None, method: str = "linear", keepdims: bool = False) -> Tensor:
    """``quantile`` with ``q`` in percent."""
    levels = _levels("percentile", q, 100.0)
    return _quantiles("percentile", x, levels, axis, method, keepdims)


def median(x, axis=None, keepdims: bool = False) -> Tensor:
    """The median over ``axis`` (the mean of the middle two for an even count)."""
    return quantile(x, 0.5, axis, "linear", keepdims)
