"""Searching, counting, segment and NaN-ignoring reductions (``engine.ops_search``):
values against NumPy formulas, Keras 3's dtypes and edge values, gradients against
finite differences, and errors that name the function and the argument; on every backend.
"""

import warnings

import numpy
import pytest

import engine
from engine import ops_search as ops
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(11)

# rows 0..6 in segments 0, 2, 2, (dropped), 0, (dropped), 2 of 4: segments 1 and 3 are empty
DATA = rng.permutation(21).reshape(7, 3) / 5.0 - 2.0
IDS = numpy.array([0, 2, 2, -1, 0, 7, 2], "int32")
NANS = rng.normal(size=(3, 4))
NANS[0, 1] = NANS[2, 0] = NANS[2, 3] = numpy.nan
ALL_NAN_ROW = NANS.copy()
ALL_NAN_ROW[1] = numpy.nan


def tensor(value):
    return engine.tensor(value)


def segment_reference(data, ids, count, reduce, empty):
    rows = [reduce(data[ids == s], axis=0) if (ids == s).any() else None for s in range(count)]
    return numpy.stack([numpy.full(data.shape[1:], empty) if r is None else r for r in rows])


# -- segment reductions -----------------------------------------------------------------

SEGMENTS = {
    "segment_sum": (ops.segment_sum, numpy.sum, 0.0),
    "segment_max": (ops.segment_max, numpy.max, -numpy.inf),
    "segment_min": (ops.segment_min, numpy.min, numpy.inf),
    "segment_prod": (ops.segment_prod, numpy.prod, 1.0),
}


@pytest.mark.parametrize("name", sorted(SEGMENTS))
def test_segment_values_and_empty_segments(backend, name):
    op, reduce, empty = SEGMENTS[name]
    data = DATA.astype("float32")
    result = op(tensor(data), tensor(IDS), num_segments=4)
    assert result.dtype == numpy.float32 and result.shape == (4, 3)
    expected = segment_reference(data, IDS, 4, reduce, empty)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)
    # num_segments defaults to the largest id + 1; sorted is only a hint
    inferred = op(data[:, 0], IDS, sorted=True).numpy()
    numpy.testing.assert_allclose(inferred, segment_reference(data[:, 0], IDS, 8, reduce, empty))


def test_segment_integers_keep_their_dtype(backend):
    data = numpy.array([[3, -1], [5, 2], [-4, 7]], "int32")
    ids = numpy.array([1, 1, 3])
    info = numpy.iinfo("int32")
    expected = {
        "segment_sum": [[0, 0], [8, 1], [0, 0], [-4, 7]],
        "segment_max": [[info.min] * 2, [5, 2], [info.min] * 2, [-4, 7]],
        "segment_min": [[info.max] * 2, [3, -1], [info.max] * 2, [-4, 7]],
        "segment_prod": [[1, 1], [15, -2], [1, 1], [-4, 7]],
    }
    for name, (op, _, _) in SEGMENTS.items():
        result = op(data, ids, 4)
        assert result.dtype == numpy.int32, name
        numpy.testing.assert_array_equal(result.numpy(), expected[name], err_msg=name)


@pytest.mark.parametrize("name", sorted(SEGMENTS))
def test_segment_gradients(backend, float64, name):
    op = SEGMENTS[name][0]
    data = DATA.copy()
    data[1, 0] = 0.0  # a zero factor: segment_prod's gradient stays exact
    ids = numpy.array([0, 2, 2, -1, 0, 1, 2])  # no empty segment: its +-inf would poison
    check_gradients(lambda d: op(d, ids, num_segments=3), data)


def test_segment_max_ties_share_the_gradient(backend):
    data = tensor(numpy.array([[1.0, 2.0], [1.0, 0.0], [1.0, 5.0]]))
    data.requires_grad = True
    ops.segment_max(data, [0, 0, 0], 1).sum().backward()
    numpy.testing.assert_allclose(data.grad.numpy(), [[1 / 3, 0], [1 / 3, 0], [1 / 3, 1]])


def test_segment_errors_name_the_function_and_the_argument(backend):
    with pytest.raises(ValueError, match="segment_sum: segment_ids must be 1-D"):
        ops.segment_sum(DATA, IDS.reshape(7, 1))
    with pytest.raises(ValueError, match="segment_max: segment_ids .* same leading dimension"):
        ops.segment_max(DATA, IDS[:3])
    with pytest.raises(TypeError, match="segment_min: segment_ids must be integers"):
        ops.segment_min(DATA, IDS.astype("float32"))
    with pytest.raises(ValueError, match="segment_prod: num_segments must be a non-negative"):
        ops.segment_prod(DATA, IDS, num_segments=-2)


# -- counting and searching -------------------------------------------------------------


def test_bincount(backend):
    x = numpy.array([1, 2, 2, 5, 0, 2], "int32")
    counts = ops.bincount(x)
    assert counts.dtype == numpy.int32
    numpy.testing.assert_array_equal(counts.numpy(), numpy.bincount(x))
    numpy.testing.assert_array_equal(
        ops.bincount(x, minlength=9).numpy(), numpy.bincount(x, minlength=9)
    )
    weights = numpy.linspace(-1, 1, 6).astype("float32")
    summed = ops.bincount(x, weights=weights)
    assert summed.dtype == numpy.float32
    numpy.testing.assert_allclose(summed.numpy(), numpy.bincount(x, weights), rtol=1e-6)
    assert ops.bincount(x, weights=x).dtype == numpy.int32
    # 2-D: a row of counts per row, all as long as the largest value needs
    rows = numpy.array([[0, 1, 1], [3, 3, 0]], "int32")
    numpy.testing.assert_array_equal(ops.bincount(rows).numpy(), [[1, 2, 0, 0], [1, 0, 0, 2]])


def test_bincount_gradient_flows_to_float_weights(backend, float64):
    x = numpy.array([[0, 2, 2], [1, 0, 0]], "int32")
    check_gradients(lambda w: ops.bincount(x, weights=w, minlength=4), rng.normal(size=(2, 3)))


def test_histogram(backend):
    x = rng.uniform(-2, 3, 20).astype("float32")
    counts, edges = ops.histogram(x, bins=6)
    expected_counts, expected_edges = numpy.histogram(x, bins=6)
    assert counts.dtype == edges.dtype == numpy.float32
    numpy.testing.assert_array_equal(counts.numpy(), expected_counts)
    numpy.testing.assert_allclose(edges.numpy(), expected_edges, rtol=1e-6)
    counts, edges = ops.histogram(x, bins=4, range=(-1.0, 1.0))
    expected_counts, expected_edges = numpy.histogram(x, bins=4, range=(-1.0, 1.0))
    numpy.testing.assert_array_equal(counts.numpy(), expected_counts)
    numpy.testing.assert_allclose(edges.numpy(), expected_edges)
    assert ops.histogram(numpy.array([1, 4, 4], "int32"), bins=3)[0].dtype == numpy.float32


def test_digitize_and_searchsorted(backend):
    x = rng.normal(size=(3, 4)).astype("float32")
    bins = numpy.array([-1.0, 0.0, 0.5, 2.0], "float32")
    for edges in (bins, bins[::-1].copy()):
        result = ops.digitize(x, edges)
        assert result.dtype == numpy.int32
        numpy.testing.assert_array_equal(result.numpy(), numpy.digitize(x, edges))
    sequence = numpy.array([0, 1, 1, 3, 5], "int32")
    values = numpy.array([[1, 4], [-2, 5]], "int32")
    for side in ("left", "right"):
        result = ops.searchsorted(sequence, values, side=side)
        assert result.dtype == numpy.int32
        numpy.testing.assert_array_equal(
            result.numpy(), numpy.searchsorted(sequence, values, side=side)
        )
    assert ops.searchsorted(sequence, 1).numpy() == 1


def test_isin(backend):
    x = numpy.array([[0, 1, 2], [5, 2, 7]], "int32")
    numpy.testing.assert_array_equal(ops.isin(x, [2, 7, 9]).numpy(), numpy.isin(x, [2, 7, 9]))
    numpy.testing.assert_array_equal(
        ops.isin(x, numpy.array([[1], [5]]), invert=True).numpy(), ~numpy.isin(x, [1, 5])
    )
    assert not ops.isin(numpy.array([numpy.nan, 1.0]), [numpy.nan]).numpy().any()


def test_unique(backend):
    x = numpy.array([[3, 1, 2], [1, 3, 5]], "int32")
    values, index, inverse, counts = ops.unique(
        x, return_index=True, return_inverse=True, return_counts=True
    )
    expected = numpy.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for result, reference in zip((values, index, inverse, counts), expected):
        assert result.dtype == numpy.int32
        numpy.testing.assert_array_equal(result.numpy(), reference.reshape(result.shape))
    assert inverse.shape == x.shape
    # a fixed size pads with fill_value (default: the first value), a count of 0 ...
    values, index, counts = ops.unique(x, return_index=True, return_counts=True, size=6)
    numpy.testing.assert_array_equal(values.numpy(), [1, 2, 3, 5, 1, 1])
    numpy.testing.assert_array_equal(index.numpy(), [1, 2, 0, 5, 1, 1])
    numpy.testing.assert_array_equal(counts.numpy(), [2, 1, 2, 1, 0, 0])
    numpy.testing.assert_array_equal(ops.unique(x, size=5, fill_value=-1).numpy()[-1], -1)
    # ... and cuts the rest
    numpy.testing.assert_array_equal(ops.unique(x, size=2).numpy(), [1, 2])
    rows = numpy.array([[1, 0, 2], [0, 1, 0], [1, 0, 2]], "int32")
    values, inverse = ops.unique(rows, axis=0, return_inverse=True)
    expected_values, expected_inverse = numpy.unique(rows, axis=0, return_inverse=True)
    numpy.testing.assert_array_equal(values.numpy(), expected_values)
    numpy.testing.assert_array_equal(inverse.numpy(), expected_inverse.reshape(-1))
    numpy.testing.assert_array_equal(ops.unique(rows, axis=1).numpy(), numpy.unique(rows, axis=1))
    numpy.testing.assert_array_equal(
        ops.unique(numpy.array([0.5, numpy.nan, 0.5, numpy.nan])).numpy(),
        [0.5, numpy.nan, numpy.nan],
    )


def test_unravel_index(backend):
    flat = numpy.array([0, 5, 11, 23], "int32")
    result = ops.unravel_index(flat, (2, 3, 4))
    for axis, reference in zip(result, numpy.unravel_index(flat, (2, 3, 4))):
        assert axis.dtype == numpy.int32
        numpy.testing.assert_array_equal(axis.numpy(), reference)
    # negative indices count from the end (as Keras on JAX)
    assert [int(a.numpy()) for a in ops.unravel_index(-1, (3, 3))] == [2, 2]


def test_argpartition(backend):
    x = rng.normal(size=(3, 6)).astype("float32")
    for kth, axis in ((2, -1), (-1, -1), (1, 0), ([1, 3], -1)):
        order = ops.argpartition(x, kth, axis=axis)
        assert order.dtype == numpy.int32 and order.shape == x.shape
        parted = numpy.take_along_axis(x, order.numpy(), axis=axis)
        expected = numpy.partition(x, kth, axis=axis)
        for k in numpy.atleast_1d(kth):
            taken = numpy.take(parted, k, axis=axis)
            numpy.testing.assert_array_equal(taken, numpy.take(expected, k, axis=axis))
    # Keras on JAX's order: the kth + 1 smallest ascending, then the others by index
    numpy.testing.assert_array_equal(ops.argpartition([3, 1, 2, 0, 5], 1).numpy(), [3, 1, 0, 2, 4])
    assert ops.argpartition(x, 3, axis=None).shape == (18,)


def test_counting_errors_name_the_function_and_the_argument(backend):
    with pytest.raises(ValueError, match="bincount: x must hold non-negative"):
        ops.bincount([1, -2])
    with pytest.raises(ValueError, match="bincount: sparse=True is not supported"):
        ops.bincount([1, 2], sparse=True)
    with pytest.raises(TypeError, match="histogram: bins must be an int"):
        ops.histogram([1.0, 2.0], bins=2.5)
    with pytest.raises(ValueError, match="histogram: range"):
        ops.histogram([1.0, 2.0], range=(2.0, 1.0))
    with pytest.raises(ValueError, match="digitize: bins must be monotonically"):
        ops.digitize([1.0], [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="searchsorted: side must be"):
        ops.searchsorted([1, 2], [1], side="middle")
    with pytest.raises(ValueError, match="searchsorted: sorted_sequence must be 1-D"):
        ops.searchsorted([[1, 2]], [1])
    with pytest.raises(TypeError, match="isin: invert must be a bool"):
        ops.isin([1, 2], [1], invert="yes")
    with pytest.raises(ValueError, match="unique: size must be"):
        ops.unique([1, 2], size=-1)
    with pytest.raises(ValueError, match=r"unravel_index: indices must be in \[-9, 9\)"):
        ops.unravel_index([9], (3, 3))
    with pytest.raises(ValueError, match="argpartition: kth=4 must be"):
        ops.argpartition([1.0, 2.0], 4)


# -- NaN-ignoring reductions ------------------------------------------------------------

# name: (op, NumPy reference); each differentiable in float inputs
NAN_REDUCTIONS = {
    "nansum": (ops.nansum, numpy.nansum),
    "nanmean": (ops.nanmean, numpy.nanmean),
    "nanmax": (ops.nanmax, numpy.nanmax),
    "nanmin": (ops.nanmin, numpy.nanmin),
    "nanprod": (ops.nanprod, numpy.nanprod),
    "nanstd": (ops.nanstd, numpy.nanstd),
    "nanvar": (ops.nanvar, numpy.nanvar),
    "nanmedian": (ops.nanmedian, numpy.nanmedian),
}


@pytest.mark.parametrize("name", sorted(NAN_REDUCTIONS))
def test_nan_reduction_values(backend, name):
    op, reference = NAN_REDUCTIONS[name]
    x = NANS.astype("float32")
    for kwargs in ({}, {"axis": 1}, {"axis": 0, "keepdims": True}, {"axis": (0, 1)}):
        result = op(x, **kwargs)
        assert result.dtype == numpy.float32, kwargs
        numpy.testing.assert_allclose(result.numpy(), reference(x, **kwargs), rtol=2e-6)
    # a slice of NaNs alone gives NaN (nansum: 0, nanprod: 1)
    with warnings.catch_warnings():  # NumPy warns of the all-NaN slice
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = reference(ALL_NAN_ROW, axis=1)
    numpy.testing.assert_allclose(op(ALL_NAN_ROW, axis=1).numpy(), expected)


def test_nan_reduction_dtypes_of_integers(backend):
    x = numpy.array([[1, 0, 3], [2, 1, 0]], "int8")
    assert ops.nansum(x, axis=1).dtype == numpy.int32
    assert ops.nanprod(x.astype("uint8")).dtype == numpy.uint32
    assert ops.nanmax(x).dtype == numpy.int8
    assert ops.nanmean(x).dtype == ops.nanmedian(x).dtype == numpy.dtype(engine.floatx())
    assert ops.nancumsum(x > 0, axis=1).dtype == numpy.int32
    numpy.testing.assert_array_equal(ops.nansum(x, axis=1).numpy(), [4, 3])
    numpy.testing.assert_array_equal(ops.nanargmax(x, axis=1).numpy(), [2, 0])


@pytest.mark.parametrize("name", sorted(NAN_REDUCTIONS))
def test_nan_reduction_gradients(backend, float64, name):
    op = NAN_REDUCTIONS[name][0]
    check_gradients(lambda x: op(x, axis=1), NANS)
    check_gradients(op, NANS)


def test_nan_reduction_gradient_skips_nans(backend):
    x = tensor(NANS)
    x.requires_grad = True
    ops.nansum(x).backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), numpy.where(numpy.isnan(NANS), 0.0, 1.0))


def test_nanargmax_nanargmin(backend):
    x = ALL_NAN_ROW.astype("float32")
    for op, reference in ((ops.nanargmax, numpy.nanargmax), (ops.nanargmin, numpy.nanargmin)):
        result = op(x, axis=1)
        assert result.dtype == numpy.int32
        rows = [reference(row) if not numpy.isnan(row).all() else -1 for row in x]
        numpy.testing.assert_array_equal(result.numpy(), rows)
        assert int(op(x).numpy()) == reference(x)
        assert op(x, axis=0, keepdims=True).shape == (1, 4)
    # a NaN is never the answer, even beside -inf
    assert int(ops.nanargmax(numpy.array([numpy.nan, -numpy.inf])).numpy()) == 1


def test_nancumsum_nancumprod(backend, float64):
    for op, reference in ((ops.nancumsum, numpy.nancumsum), (ops.nancumprod, numpy.nancumprod)):
        numpy.testing.assert_allclose(op(NANS, axis=1).numpy(), reference(NANS, axis=1))
        numpy.testing.assert_allclose(op(NANS).numpy(), reference(NANS))
        check_gradients(lambda x, op=op: op(x, axis=0), NANS)
    result = ops.nancumsum(numpy.array([1, 2, 3], "int32"), dtype="float32")
    assert result.dtype == numpy.float32


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_nanquantile_nanpercentile(backend, method):
    x = NANS.astype("float32")
    levels = [0.0, 0.3, 0.5, 0.75, 1.0]
    result = ops.nanquantile(x, levels, axis=1, method=method)
    assert result.dtype == numpy.float32 and result.shape == (5, 3)
    numpy.testing.assert_allclose(
        result.numpy(), numpy.nanquantile(x, levels, axis=1, method=method), atol=1e-6
    )
    numpy.testing.assert_allclose(
        ops.nanpercentile(x, 62.5, axis=0, method=method, keepdims=True).numpy(),
        numpy.nanpercentile(x, 62.5, axis=0, method=method, keepdims=True),
        atol=1e-6,
    )


def test_nanquantile_gradient(backend, float64):
    check_gradients(lambda x: ops.nanquantile(x, [0.2, 0.5], axis=1), NANS)
    check_gradients(lambda x: ops.nanpercentile(x, 40.0), NANS)


def test_nan_errors_name_the_function_and_the_argument(backend):
    with pytest.raises(ValueError, match="nansum: axis=2 is out of range"):
        ops.nansum(NANS, axis=2)
    with pytest.raises(ValueError, match="nanmax: cannot reduce an empty axis"):
        ops.nanmax(numpy.zeros((0, 2)), axis=0)
    with pytest.raises(ValueError, match="nanargmin: the tensor is empty"):
        ops.nanargmin(numpy.zeros((0,)))
    with pytest.raises(ValueError, match="nanquantile: q must be a number or 1-D"):
        ops.nanquantile(NANS, 1.5)
    with pytest.raises(ValueError, match="nanpercentile: method must be one of"):
        ops.nanpercentile(NANS, 50, method="inverted_cdf")
    with pytest.raises(ValueError, match="nanmean: axis"):
        ops.nanmean(NANS, axis=(0, 0))
