"""Searching, counting, segment and NaN-ignoring reductions of ``engine.ops`` (re-exported there).

- segment reductions (``segment_sum``, ``segment_max``, ``segment_min``, ``segment_prod``):
  rows of ``data`` grouped by a 1-D ``segment_ids``; ids outside ``[0, num_segments)`` are
  dropped and empty segments hold Keras's values (0, -inf or the dtype's minimum, +inf or
  its maximum, 1). Differentiable in float ``data`` (ties of a max or min share the
  gradient equally; a product's gradient is exact with zero factors).
- counting and searching (``bincount``, ``histogram``, ``digitize``, ``searchsorted``,
  ``isin``, ``unique``, ``unravel_index``, ``argpartition``): integer, boolean or
  bin-edge results outside the graph, but ``bincount``'s float ``weights`` carry a gradient.
- NaN-ignoring reductions (``nansum``, ``nanmean``, ..., ``nanquantile``): NaN entries are
  left out; a slice of NaNs alone gives NaN (``nanargmax``/``nanargmin``: -1). The float
  ones are differentiable, the gradient flowing to the entries that are not NaN.

Dtypes follow Keras 3 on JAX (int32 indices and counts), except that float64 stays
float64 and int64 stays int64.
"""

import builtins

import numpy

from . import functional as F
from .conversion import (
    INT32,
    as_float,
    as_tensor,
    backend_of,
    float_dtype,
    normalize_axis,
    promote,
    result_type,
    to_tensor,
)
from .functional import reduction as _reduction
from .functional import shape as _shape
from .ops_reduction import (
    _integer_reduction,
    _levels,
    _quantiles,
    argmax,
    argmin,
    cumprod,
    cumsum,
    max,
    min,
)
from .ops_shape import _axis
from .tensor import Function, Tensor, apply

# -- segment reductions -----------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, bool)


def _integer_data(function: str, name: str, value: Tensor):
    """``value``'s array, checked to hold integers."""
    if value.dtype.kind not in "iu":
        raise TypeError(f"{function}: {name} must be integers, got dtype {value.dtype}.")
    return value.data


def _segments(function: str, data, segment_ids, num_segments) -> tuple:
    """``(data, ids, rows, count)``: ``count`` segments, and the ids that fall in
    ``[0, count)`` with the rows of ``data`` they label (native arrays)."""
    backend = backend_of(function, {"data": data, "segment_ids": segment_ids})
    data = to_tensor(data, backend)
    ids = _integer_data(function, "segment_ids", to_tensor(segment_ids, backend))
    if ids.ndim != 1:
        raise ValueError(f"{function}: segment_ids must be 1-D, got shape {tuple(ids.shape)}.")
    if data.ndim == 0 or data.shape[0] != ids.shape[0]:
        raise ValueError(
            f"{function}: segment_ids (length {ids.shape[0]}) and data (shape {data.shape}) "
            f"must have the same leading dimension."
        )
    if isinstance(num_segments, Tensor):
        num_segments = num_segments.numpy().item()
    if num_segments is None:
        num_segments = builtins.max(int(ids.max()) + 1, 0) if ids.size else 0
    elif not _is_int(num_segments) or num_segments < 0:
        raise ValueError(
            f"{function}: num_segments must be a non-negative int or None, got {num_segments!r}."
        )
    xp = backend.xp
    (rows,) = xp.nonzero((ids >= 0) & (ids < num_segments))
    return data, ids[rows], rows, int(num_segments)


def _empty_value(dtype: numpy.dtype, largest: bool):
    """The value of an empty segment's max (``largest``) or min, as Keras on JAX gives."""
    if dtype.kind == "f":
        return -numpy.inf if largest else numpy.inf
    if dtype.kind == "b":
        return not largest
    info = numpy.iinfo(dtype)
    return info.min if largest else info.max


def segment_sum(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """The sum of the rows of ``data`` of each segment (``segment_ids[i]`` labels row i;
    ids outside ``[0, num_segments)`` are dropped; ``num_segments`` defaults to the
    largest id + 1). ``sorted`` is a hint, ignored. Differentiable in float ``data``."""
    data, ids, rows, count = _segments("segment_sum", data, segment_ids, num_segments)
    shape = (count, *data.shape[1:])
    if data.dtype.kind != "f":
        xp = data.backend.xp
        total = xp.zeros(shape, dtype=data.dtype)
        xp.add.at(total, ids, data.data[rows])
        return Tensor._wrap(total, data.backend)
    return _shape.scatter(F.getitem(data, rows), (ids,), shape)


class _SegmentExtremum(Function):
    """Max (``largest``) or min of the rows of each segment; ties share the gradient."""

    def __init__(self, ids, count: int, largest: bool):
        self.ids, self.count, self.largest = ids, count, largest

    def forward(self, x):
        xp = self.backend.xp
        shape = (self.count, *x.shape[1:])
        out = xp.full(shape, _empty_value(x.dtype, self.largest), dtype=x.dtype)
        (xp.maximum if self.largest else xp.minimum).at(out, self.ids, x)
        if True in self.needs_input_grad:
            self.x, self.out = x, out
        return out

    def _shares(self, dtype):
        """Where each row holds its segment's extremum, and 1 / the number of such rows."""
        xp = self.backend.xp
        hit = self.x == self.out[self.ids]
        ties = xp.zeros(self.out.shape, dtype=dtype)
        xp.add.at(ties, self.ids, hit.astype(dtype))
        return hit, xp.where(hit, 1 / xp.maximum(ties[self.ids], 1), 0).astype(dtype)

    def backward(self, grad):
        _, share = self._shares(grad.dtype)
        return (grad[self.ids] * share,)

    def backward_graph(self, grad):
        _, share = self._shares(grad.dtype)
        return (F.multiply(F.getitem(grad, self.ids), Tensor._wrap(share, grad.backend)),)


def _segment_extremum(function: str, data, segment_ids, num_segments, largest) -> Tensor:
    data, ids, rows, count = _segments(function, data, segment_ids, num_segments)
    return apply(_SegmentExtremum(ids, count, largest), F.getitem(data, rows))


def segment_max(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """The maximum of the rows of each segment (see ``segment_sum``); an empty segment
    holds -inf (the dtype's minimum for integers). Tied rows share the gradient."""
    return _segment_extremum("segment_max", data, segment_ids, num_segments, True)


def segment_min(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """The minimum of the rows of each segment (see ``segment_sum``); an empty segment
    holds +inf (the dtype's maximum for integers). Tied rows share the gradient."""
    return _segment_extremum("segment_min", data, segment_ids, num_segments, False)


def _running_products(xp, values, ids):
    """The running product of ``values`` within each run of equal ``ids`` (a segmented
    inclusive scan, by doubling: log2(len) steps of elementwise products)."""
    step, n = 1, len(ids)
    tail = (1,) * (values.ndim - 1)
    while step < n:
        same = (ids[step:] == ids[:-step]).reshape((-1, *tail))
        values = xp.concatenate(
            [values[:step], xp.where(same, values[step:] * values[:-step], values[step:])]
        )
        step *= 2
    return values


class _SortedSegmentProd(Function):
    """The product of each segment of rows grouped by the sorted ``ids``; the gradient
    of a row is the product of the other rows of its segment (exact with zeros)."""

    def __init__(self, ids, count: int):
        self.ids, self.count = ids, count

    def forward(self, x):
        xp, ids = self.backend.xp, self.ids
        out = xp.ones((self.count, *x.shape[1:]), dtype=x.dtype)
        self.x = x
        if len(ids) == 0:
            return out
        running = _running_products(xp, x, ids)
        sizes = xp.bincount(ids, minlength=self.count)
        last = xp.maximum(xp.cumsum(sizes) - 1, 0)
        filled = (sizes > 0).reshape((-1,) + (1,) * (x.ndim - 1))
        self.running = running
        return xp.where(filled, running[last], out)

    def backward(self, grad):
        xp, ids, x = self.backend.xp, self.ids, self.x
        if len(ids) == 0:
            return (xp.zeros_like(x),)
        tail = (1,) * (x.ndim - 1)
        same = (ids[1:] == ids[:-1]).reshape((-1, *tail))
        one = xp.ones_like(x[:1])
        before = xp.concatenate([one, xp.where(same, self.running[:-1], 1)])
        reverse = _running_products(xp, x[::-1], ids[::-1])[::-1]
        after = xp.concatenate([xp.where(same, reverse[1:], 1), one])
        return (grad[ids] * before * after,)


def segment_prod(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """The product of the rows of each segment (see ``segment_sum``); an empty segment
    holds 1. Differentiable in float ``data``, exactly where factors are zero."""
    data, ids, rows, count = _segments("segment_prod", data, segment_ids, num_segments)
    order = data.backend.xp.argsort(ids, kind="stable")
    return apply(_SortedSegmentProd(ids[order], count), F.getitem(data, rows[order]))


# -- counting and searching -------------------------------------------------------------


def bincount(x, weights=None, minlength=0, sparse=False) -> Tensor:
    """How many times each value ``0 .. max(x)`` (at least ``minlength`` bins) occurs in
    the non-negative integers ``x`` (1-D, or 2-D: one row of counts per row, all of one
    length), int32; with ``weights`` (``x``'s shape) their sums instead, in the dtype of
    ``x`` and ``weights`` together, differentiable in float ``weights``."""
    if sparse:
        raise ValueError("bincount: sparse=True is not supported (tensors here are dense).")
    if not _is_int(minlength) or minlength < 0:
        raise ValueError(f"bincount: minlength must be a non-negative int, got {minlength!r}.")
    backend = backend_of("bincount", {"x": x, "weights": weights})
    x = to_tensor(x, backend)
    values = _integer_data("bincount", "x", x)
    if x.ndim not in (1, 2):
        raise ValueError(f"bincount: x must be 1-D or 2-D, got shape {x.shape}.")
    xp = backend.xp
    if values.size and bool((values < 0).any()):
        raise ValueError("bincount: x must hold non-negative integers; it has negative ones.")
    length = builtins.max(int(values.max()) + 1 if values.size else 0, minlength)
    rows = 1 if x.ndim == 1 else x.shape[0]
    flat = values.reshape(-1).astype("int64")
    if x.ndim == 2:
        flat = flat + xp.repeat(xp.arange(rows, dtype="int64") * length, x.shape[1])
    shape = (length,) if x.ndim == 1 else (rows, length)
    if weights is None:
        counts = xp.bincount(flat, minlength=rows * length).astype(INT32)
        return Tensor._wrap(counts.reshape(shape), backend)
    weights = to_tensor(weights, backend)
    if weights.shape != x.shape:
        raise ValueError(
            f"bincount: weights of shape {weights.shape} must have x's shape {x.shape}."
        )
    dtype = result_type(x, weights)
    if dtype.kind == "b":
        dtype = INT32
    if dtype.kind != "f":
        sums = xp.zeros(rows * length, dtype=dtype)
        xp.add.at(sums, flat, weights.data.reshape(-1).astype(dtype))
        return Tensor._wrap(sums.reshape(shape), backend)
    weights = F.reshape(F.cast(weights, dtype) if weights.dtype != dtype else weights, (-1,))
    return F.reshape(_shape.scatter(weights, (flat,), (rows * length,)), shape)


def histogram(x, bins=10, range=None) -> tuple:  # noqa: A002  (Keras's name)
    """``(counts, edges)``: how many entries of the 1-D ``x`` fall in each of ``bins``
    equal bins over ``range`` (``(min(x), max(x))`` if None; the last bin includes its
    right edge, entries outside are left out), and the ``bins + 1`` edges; both float
    (``floatx`` for integer ``x``), as Keras on JAX."""
    if not _is_int(bins):
        raise TypeError(f"histogram: bins must be an int, got {bins!r}.")
    if bins < 0:
        raise ValueError(f"histogram: bins must be non-negative, got {bins}.")
    if range is not None:
        if not isinstance(range, tuple) or len(range) != 2:
            raise ValueError(f"histogram: range must be a tuple of two numbers, got {range!r}.")
        if range[1] < range[0]:
            raise ValueError(f"histogram: range={range} must not end below its start.")
    x = as_tensor(x)
    if x.ndim != 1:
        raise ValueError(f"histogram: x must be 1-D, got shape {x.shape}.")
    xp, dtype = x.backend.xp, float_dtype(x.dtype)
    data = x.data.astype(dtype)
    if range is not None:
        low, high = (numpy.asarray(r, dtype=dtype).item() for r in range)
    elif data.size:
        low, high = float(data.min()), float(data.max())
    else:
        low, high = 0.0, 1.0
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = xp.linspace(low, high, bins + 1, dtype=dtype)
    where = xp.searchsorted(edges, data, side="right")
    where = xp.where(data == edges[-1], bins, where)
    counts = xp.bincount(where.reshape(-1), minlength=bins + 2)[1 : bins + 1]
    return Tensor._wrap(counts.astype(dtype), x.backend), Tensor._wrap(edges, x.backend)


def _promoted_pair(function: str, names: tuple, a, b) -> tuple:
    a, b = promote(function, {names[0]: a, names[1]: b})
    return a.data, b.data, a.backend


def digitize(x, bins) -> Tensor:
    """The index of the bin of each entry of ``x``: ``i`` with ``bins[i-1] <= x < bins[i]``
    for increasing ``bins`` (``bins[i-1] > x >= bins[i]`` for decreasing ones), int32."""
    values, edges, backend = _promoted_pair("digitize", ("x", "bins"), x, bins)
    if edges.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-D, got shape {tuple(edges.shape)}.")
    xp = backend.xp
    steps = edges[1:] - edges[:-1] if edges.dtype.kind != "b" else edges[1:] ^ edges[:-1]
    if bool((steps >= 0).all()):
        index = xp.searchsorted(edges, values, side="right")
    elif bool((steps <= 0).all()):
        index = len(edges) - xp.searchsorted(edges[::-1], values, side="right")
    else:
        raise ValueError("digitize: bins must be monotonically increasing or decreasing.")
    return Tensor._wrap(index.astype(INT32), backend)


def searchsorted(sorted_sequence, values, side="left") -> Tensor:
    """Where each of ``values`` would go in the 1-D ascending ``sorted_sequence`` to keep it
    sorted (before equal entries for ``side="left"``, after them for "right"), int32."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}.")
    sequence, values, backend = _promoted_pair(
        "searchsorted", ("sorted_sequence", "values"), sorted_sequence, values
    )
    if sequence.ndim != 1:
        raise ValueError(
            f"searchsorted: sorted_sequence must be 1-D, got shape {tuple(sequence.shape)}."
        )
    index = backend.xp.searchsorted(sequence, values, side=side)
    dtype = INT32 if len(sequence) <= numpy.iinfo(INT32).max else numpy.dtype("int64")
    return Tensor._wrap(index.astype(dtype), backend)


def isin(x1, x2, assume_unique=False, invert=False) -> Tensor:
    """Whether each entry of ``x1`` is among the entries of ``x2`` (``invert``: is not),
    a boolean tensor of ``x1``'s shape. ``assume_unique`` is a hint, ignored."""
    if not isinstance(invert, (bool, numpy.bool_)):
        raise TypeError(f"isin: invert must be a bool, got {invert!r}.")
    values, pool, backend = _promoted_pair("isin", ("x1", "x2"), x1, x2)
    xp = backend.xp
    pool = xp.sort(pool.reshape(-1))
    if pool.size == 0:
        found = xp.zeros(values.shape, dtype=bool)
    else:
        index = xp.minimum(xp.searchsorted(pool, values), pool.size - 1)
        found = pool[index] == values
    return Tensor._wrap(~found if invert else found, backend)


def unravel_index(indices, shape) -> tuple:
    """The coordinates in an array of ``shape`` of the flat (C-order) ``indices``, one
    tensor per axis in ``indices``' dtype (int32 for Python ints); negative indices count
    from the end, as on JAX."""
    shape = (shape,) if _is_int(shape) else tuple(shape)
    if not builtins.all(_is_int(size) and size >= 0 for size in shape):
        raise ValueError(f"unravel_index: shape must hold non-negative ints, got {shape!r}.")
    indices = as_tensor(indices)
    flat = _integer_data("unravel_index", "indices", indices)
    total = int(numpy.prod(shape))
    if flat.size and bool(((flat < -total) | (flat >= total)).any()):
        raise ValueError(
            f"unravel_index: indices must be in [-{total}, {total}) for shape {shape}."
        )
    flat = flat + total * (flat < 0)
    coordinates = []
    for size in reversed(shape):
        coordinates.append(flat % size)
        flat = flat // size
    return tuple(Tensor._wrap(c.astype(indices.dtype), indices.backend) for c in coordinates[::-1])


def argpartition(x, kth, axis=-1) -> Tensor:
    """Indices that partition ``x`` along ``axis`` (the flattened ``x`` if None) around
    its ``kth`` smallest (an int or a sequence): as Keras on JAX, the ``kth + 1``
    smallest come first in ascending order (ties: the lower index first), then the
    others in the order of their indices; int32."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    axis = _axis("argpartition", axis, x.ndim)
    size = x.shape[axis]
    kths = [kth] if _is_int(kth) else list(kth) if isinstance(kth, (list, tuple)) else [None]
    if not kths or not builtins.all(_is_int(k) and -size <= k < size for k in kths):
        raise ValueError(f"argpartition: kth={kth!r} must be ints in [-{size}, {size}).")
    first = builtins.max(int(k) % size for k in kths) + 1
    xp = x.backend.xp
    data = xp.moveaxis(x.data, axis, -1)
    smallest = xp.argsort(data, axis=-1, kind="stable")[..., :first]
    taken = xp.zeros(data.shape, dtype=bool)
    xp.put_along_axis(taken, smallest, True, axis=-1)
    others = xp.argsort(taken, axis=-1, kind="stable")[..., : size - first]
    order = xp.concatenate([smallest, others], axis=-1).astype(INT32)
    return Tensor._wrap(xp.moveaxis(order, -1, axis), x.backend)


def _padded(xp, values, size: int, fill):
    """``values`` cut or padded with ``fill`` along the first axis to ``size`` entries."""
    if len(values) >= size:
        return values[:size]
    pad = xp.broadcast_to(fill, (size - len(values), *values.shape[1:])).astype(values.dtype)
    return xp.concatenate([values, pad])


def unique(
    x,
    sorted=True,  # noqa: A002  (Keras's name)
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    size=None,
    fill_value=None,
):
    """The distinct entries of ``x`` (of the flattened ``x`` if ``axis`` is None, else the
    distinct slices along ``axis``), in ascending order (lexicographic for slices; each
    NaN counts as distinct), as Keras on JAX, which sorts whatever ``sorted`` says.

    With ``return_index``, ``return_inverse``, ``return_counts``: a tuple that adds the
    index of each one's first occurrence, the index into the result of each entry of
    ``x`` (``x``'s shape; its length along ``axis`` if given) and how many times each
    occurs, all int32. ``size`` fixes the number of results: fewer are padded with
    ``fill_value`` (default: the first result; its index; a count of 0), more are cut.
    """
    x = as_tensor(x)
    if size is not None and (not _is_int(size) or size < 0):
        raise ValueError(f"unique: size must be a non-negative int or None, got {size!r}.")
    xp = x.backend.xp
    if axis is None:
        rows, original = x.data.reshape(-1, 1), x.shape
    else:
        axis = _axis("unique", axis, x.ndim)
        moved = xp.moveaxis(x.data, axis, 0)
        rows, original = moved.reshape(moved.shape[0], -1), (x.shape[axis],)
    count = rows.shape[0]
    if size and count == 0 and fill_value is None:
        raise ValueError("unique: an empty x with a size needs a fill_value.")
    if rows.shape[1] == 1:
        order = xp.argsort(rows[:, 0], kind="stable")
    elif rows.shape[1] == 0:
        order = xp.arange(count)
    else:
        order = xp.lexsort(rows.T[::-1])
    ordered = rows[order]
    starts = xp.ones(count, dtype=bool)
    if count:
        starts[1:] = (ordered[1:] != ordered[:-1]).any(axis=1) if rows.shape[1] else False
    (first,) = xp.nonzero(starts)
    values = ordered[first]
    values = values.reshape(-1) if axis is None else values.reshape((-1, *moved.shape[1:]))
    index = order[first].astype(INT32)
    counts = xp.diff(xp.concatenate([first, xp.full(1, count, dtype=first.dtype)])).astype(INT32)
    if size is not None:
        fill = values[:1] if fill_value is None else xp.asarray(fill_value)
        values = _padded(xp, values, size, fill)
        index = _padded(xp, index, size, index[:1] if len(index) else xp.zeros(1, INT32))
        counts = _padded(xp, counts, size, xp.zeros(1, INT32))
    if axis is not None:
        values = xp.moveaxis(values, 0, axis)
    outputs = [values]
    if return_index:
        outputs.append(index)
    if return_inverse:
        inverse = xp.empty(count, dtype=INT32)
        inverse[order] = (xp.cumsum(starts) - 1).astype(INT32)
        outputs.append(inverse.reshape(original))
    if return_counts:
        outputs.append(counts)
    outputs = [Tensor._wrap(output, x.backend) for output in outputs]
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


# -- NaN-ignoring reductions -------------------------------------------------------------


def _nan_mask(x: Tensor):
    return x.backend.xp.isnan(x.data)


def _summed_dtype(dtype: numpy.dtype) -> numpy.dtype:
    """The dtype of an integer or boolean sum or product: int32 for booleans and narrow
    ints, uint32 for narrow unsigned ints (as Keras), wider ints kept."""
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < 4):
        return INT32
    if dtype.kind == "u" and dtype.itemsize < 4:
        return numpy.dtype("uint32")
    return dtype


def _nan_total(function: str, x, axis, keepdims, neutral: float, reduce, method: str):
    x = as_tensor(x)
    axes = normalize_axis(function, axis, x.ndim)
    if x.dtype.kind != "f":
        return _integer_reduction(x, method, axes, keepdims, _summed_dtype(x.dtype))
    return reduce(F.where(_nan_mask(x), neutral, x), axes, keepdims)


def nansum(x, axis=None, keepdims=False) -> Tensor:
    """The sum over ``axis`` of the entries that are not NaN (0 if none)."""
    return _nan_total("nansum", x, axis, keepdims, 0.0, F.sum, "sum")


def nanprod(x, axis=None, keepdims=False) -> Tensor:
    """The product over ``axis`` of the entries that are not NaN (1 if none)."""
    return _nan_total("nanprod", x, axis, keepdims, 1.0, _reduction.prod, "prod")


def _nan_count(x: Tensor, axes, keepdims):
    """How many entries are not NaN over ``axes``, in ``x``'s dtype, NaN where none
    (so that dividing by it gives NaN without a warning)."""
    count = (~_nan_mask(x)).sum(axis=axes, keepdims=keepdims).astype(x.dtype)
    return Tensor._wrap(x.backend.xp.where(count == 0, numpy.nan, count).astype(x.dtype), x.backend)


def nanmean(x, axis=None, keepdims=False) -> Tensor:
    """The mean over ``axis`` of the entries that are not NaN (NaN if none); integers
    average to ``floatx``."""
    x = as_float("nanmean", x)
    axes = normalize_axis("nanmean", axis, x.ndim)
    total = F.sum(F.where(_nan_mask(x), 0.0, x), axes, keepdims)
    return F.divide(total, _nan_count(x, axes, keepdims))


def nanvar(x, axis=None, keepdims=False) -> Tensor:
    """The (biased) variance over ``axis`` of the entries that are not NaN."""
    x = as_float("nanvar", x)
    axes = normalize_axis("nanvar", axis, x.ndim)
    nan = _nan_mask(x)
    centered = F.where(nan, 0.0, F.subtract(x, nanmean(x, axis, keepdims=True)))
    squares = F.sum(F.multiply(centered, centered), axes, keepdims)
    return F.divide(squares, _nan_count(x, axes, keepdims))


def nanstd(x, axis=None, keepdims=False) -> Tensor:
    """The (biased) standard deviation over ``axis`` of the entries that are not NaN."""
    return F.sqrt(nanvar(x, axis, keepdims))


def _nan_extremum(function: str, x, axis, keepdims, largest: bool) -> Tensor:
    x = as_tensor(x)
    axes = normalize_axis(function, axis, x.ndim)
    if x.size == 0 or builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{function}: cannot reduce an empty axis of a tensor of {x.shape}.")
    if x.dtype.kind != "f":
        return (max if largest else min)(x, axis, keepdims)
    nan = _nan_mask(x)
    filled = F.where(nan, -numpy.inf if largest else numpy.inf, x)
    result = (F.max if largest else F.min)(filled, axes, keepdims)
    return F.where(nan.all(axis=axes, keepdims=keepdims), numpy.nan, result)


def nanmax(x, axis=None, keepdims=False) -> Tensor:
    """The maximum over ``axis`` of the entries that are not NaN (NaN if none)."""
    return _nan_extremum("nanmax", x, axis, keepdims, True)


def nanmin(x, axis=None, keepdims=False) -> Tensor:
    """The minimum over ``axis`` of the entries that are not NaN (NaN if none)."""
    return _nan_extremum("nanmin", x, axis, keepdims, False)


def _nan_arg_extremum(function: str, x, axis, keepdims, largest: bool) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return (argmax if largest else argmin)(x, axis, keepdims)
    if x.size == 0:
        raise ValueError(f"{function}: the tensor is empty (shape {x.shape}).")
    if axis is not None:
        (axis,) = normalize_axis(function, axis, x.ndim)
    xp, data = x.backend.xp, x.data
    nan = xp.isnan(data)
    filled = xp.where(nan, -xp.inf if largest else xp.inf, data)
    best = filled.max(axis=axis, keepdims=True) if largest else filled.min(axis=axis, keepdims=True)
    first = ((data == best) & ~nan).argmax(axis=axis, keepdims=keepdims)
    index = xp.where(nan.all(axis=axis, keepdims=keepdims), -1, first)
    return Tensor._wrap(index.astype(INT32), x.backend)


def nanargmax(x, axis=None, keepdims=False) -> Tensor:
    """The index of the maximum over ``axis`` (the flattened tensor if None) among the
    entries that are not NaN (the first on ties; -1 if all are NaN), int32."""
    return _nan_arg_extremum("nanargmax", x, axis, keepdims, True)


def nanargmin(x, axis=None, keepdims=False) -> Tensor:
    """The index of the minimum over ``axis`` among the entries that are not NaN (the
    first on ties; -1 if all are NaN), int32."""
    return _nan_arg_extremum("nanargmin", x, axis, keepdims, False)


def nancumsum(x, axis=None, dtype=None) -> Tensor:
    """The running sum along ``axis`` (of the flattened tensor if None), NaNs counting as 0."""
    x = as_tensor(x)
    if x.dtype.kind == "f":
        x = F.where(_nan_mask(x), 0.0, x)
    return cumsum(x, axis, dtype)


def nancumprod(x, axis=None, dtype=None) -> Tensor:
    """The running product along ``axis`` (of the flattened tensor if None), NaNs
    counting as 1."""
    x = as_tensor(x)
    if x.dtype.kind == "f":
        x = F.where(_nan_mask(x), 1.0, x)
    return cumprod(x, axis, dtype)


def nanquantile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """The ``q``-th quantiles (``q`` in [0, 1], a number or 1-D) over ``axis`` of the
    entries that are not NaN (NaN if none), as ``numpy.nanquantile`` with ``method``
    linear, lower, higher, midpoint or nearest; a 1-D ``q`` adds a leading axis.
    Differentiable through the values it picks."""
    levels = _levels("nanquantile", q)
    return _quantiles("nanquantile", x, levels, axis, method, keepdims, skip_nan=True)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """``nanquantile`` with ``q`` in percent."""
    levels = _levels("nanpercentile", q, 100.0)
    return _quantiles("nanpercentile", x, levels, axis, method, keepdims, skip_nan=True)


def nanmedian(x, axis=None, keepdims=False) -> Tensor:
    """The median over ``axis`` of the entries that are not NaN (NaN if none)."""
    return _quantiles("nanmedian", x, numpy.asarray(0.5), axis, "linear", keepdims, skip_nan=True)
