"""The NumPy-named ``engine.ops`` of Keras 3 beyond the core set: hyperbolic and inverse
trigonometric math, sorting and quantiles, padding, triangles, diagonals, windows and
scatters. Values against NumPy (the reference Keras's NumPy backend calls), gradients
against finite differences, on every backend.
"""

import numpy
import pytest

import engine
from engine import ops
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(7)


def rand(*shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, shape)


SQUARE = rand(3, 4)
# distinct values, so that sorting and quantiles have one answer and their gradients exist
DISTINCT = rng.permutation(12).reshape(3, 4) / 7.0 - 0.8

# name: (op, NumPy reference, input); each op is differentiable in its input
ONE_INPUT = {
    "sinh": (ops.sinh, numpy.sinh, rand(3, 4)),
    "cosh": (ops.cosh, numpy.cosh, rand(3, 4)),
    "arcsin": (ops.arcsin, numpy.arcsin, rand(3, 4, low=-0.9, high=0.9)),
    "arccos": (ops.arccos, numpy.arccos, rand(3, 4, low=-0.9, high=0.9)),
    "arctan": (ops.arctan, numpy.arctan, rand(3, 4, low=-3, high=3)),
    "arcsinh": (ops.arcsinh, numpy.arcsinh, rand(3, 4, low=-3, high=3)),
    "arccosh": (ops.arccosh, numpy.arccosh, rand(3, 4, low=1.1, high=3)),
    "arctanh": (ops.arctanh, numpy.arctanh, rand(3, 4, low=-0.9, high=0.9)),
    "exp2": (ops.exp2, numpy.exp2, rand(3, 4)),
    "deg2rad": (ops.deg2rad, numpy.deg2rad, rand(3, 4, low=-180, high=180)),
    "rad2deg": (ops.rad2deg, numpy.rad2deg, rand(3, 4)),
    "amax": (lambda x: ops.amax(x, axis=1), lambda x: numpy.amax(x, axis=1), DISTINCT),
    "amin": (lambda x: ops.amin(x, axis=0), lambda x: numpy.amin(x, axis=0), DISTINCT),
    "ptp": (lambda x: ops.ptp(x, axis=1), lambda x: numpy.ptp(x, axis=1), DISTINCT),
    "average_weights": (
        lambda x: ops.average(x, axis=1, weights=[1.0, 2.0, 3.0, 4.0]),
        lambda x: numpy.average(x, axis=1, weights=[1.0, 2.0, 3.0, 4.0]),
        rand(3, 4),
    ),
    "average": (ops.average, numpy.average, rand(3, 4)),
    "cumprod": (lambda x: ops.cumprod(x, axis=1), lambda x: numpy.cumprod(x, axis=1), rand(3, 4)),
    "cumprod_flat": (ops.cumprod, numpy.cumprod, rand(2, 3)),
    "sort": (ops.sort, numpy.sort, DISTINCT),
    "sort_axis0": (lambda x: ops.sort(x, axis=0), lambda x: numpy.sort(x, axis=0), DISTINCT),
    "median": (ops.median, numpy.median, DISTINCT),
    "median_axis": (
        lambda x: ops.median(x, axis=1, keepdims=True),
        lambda x: numpy.median(x, axis=1, keepdims=True),
        DISTINCT,
    ),
    "quantile": (
        lambda x: ops.quantile(x, [0.1, 0.5, 0.95], axis=0),
        lambda x: numpy.quantile(x, [0.1, 0.5, 0.95], axis=0),
        DISTINCT,
    ),
    "percentile_midpoint": (
        lambda x: ops.percentile(x, 30, axis=1, method="midpoint"),
        lambda x: numpy.percentile(x, 30, axis=1, method="midpoint"),
        DISTINCT,
    ),
    "quantile_nearest": (
        lambda x: ops.quantile(x, 0.4, method="nearest"),
        lambda x: numpy.quantile(x, 0.4, method="nearest"),
        DISTINCT,
    ),
    "top_k_values": (lambda x: ops.top_k(x, 2)[0], lambda x: -numpy.sort(-x)[:, :2], DISTINCT),
    "tril": (lambda x: ops.tril(x, 1), lambda x: numpy.tril(x, 1), rand(2, 3, 4)),
    "triu": (lambda x: ops.triu(x, -1), lambda x: numpy.triu(x, -1), rand(3, 4)),
    "pad_constant": (
        lambda x: ops.pad(x, [(1, 2), (0, 1)], constant_values=0.5),
        lambda x: numpy.pad(x, [(1, 2), (0, 1)], constant_values=0.5),
        rand(3, 4),
    ),
    "pad_reflect": (
        lambda x: ops.pad(x, 2, mode="reflect"),
        lambda x: numpy.pad(x, 2, mode="reflect"),
        rand(3, 4),
    ),
    "pad_symmetric": (
        lambda x: ops.pad(x, [(2, 1), (3, 0)], mode="symmetric"),
        lambda x: numpy.pad(x, [(2, 1), (3, 0)], mode="symmetric"),
        rand(3, 4),
    ),
    "pad_edge": (
        lambda x: ops.pad(x, 1, mode="edge"),
        lambda x: numpy.pad(x, 1, mode="edge"),
        SQUARE,
    ),
    "pad_wrap": (
        lambda x: ops.pad(x, 5, mode="wrap"),
        lambda x: numpy.pad(x, 5, mode="wrap"),
        SQUARE,
    ),
    "roll": (lambda x: ops.roll(x, 3), lambda x: numpy.roll(x, 3), rand(3, 4)),
    "roll_axes": (
        lambda x: ops.roll(x, (1, -2), axis=(0, 1)),
        lambda x: numpy.roll(x, (1, -2), axis=(0, 1)),
        rand(3, 4),
    ),
    "ravel": (ops.ravel, numpy.ravel, rand(3, 4)),
    "copy": (ops.copy, numpy.copy, rand(3, 4)),
    "fliplr": (ops.fliplr, numpy.fliplr, rand(3, 4)),
    "flipud": (ops.flipud, numpy.flipud, rand(3, 4)),
    "diag_of_vector": (lambda x: ops.diag(x, -1), lambda x: numpy.diag(x, -1), rand(4)),
    "diag_of_matrix": (lambda x: ops.diag(x, 1), lambda x: numpy.diag(x, 1), rand(3, 4)),
    "diagonal": (
        lambda x: ops.diagonal(x, -1, 1, 2),
        lambda x: numpy.diagonal(x, -1, 1, 2),
        rand(2, 3, 4),
    ),
    "trace": (lambda x: ops.trace(x, 1), lambda x: numpy.trace(x, 1), rand(3, 4)),
    "diff": (lambda x: ops.diff(x, 2), lambda x: numpy.diff(x, 2), rand(3, 5)),
    "get_item": (lambda x: ops.get_item(x, (1, slice(None, 2))), lambda x: x[1, :2], rand(3, 4)),
    "slice": (lambda x: ops.slice(x, [1, 1], [2, 3]), lambda x: x[1:3, 1:4], rand(3, 4)),
    "vstack": (lambda x: ops.vstack([x[0], x]), lambda x: numpy.vstack([x[0], x]), rand(3, 4)),
    "hstack": (lambda x: ops.hstack([x, x[:, :1]]), lambda x: numpy.hstack([x, x[:, :1]]), SQUARE),
    "dstack": (lambda x: ops.dstack([x, x]), lambda x: numpy.dstack([x, x]), rand(3, 4)),
    "nan_to_num": (ops.nan_to_num, numpy.nan_to_num, rand(3, 4)),
}


@pytest.mark.parametrize("name", sorted(ONE_INPUT))
def test_values_against_numpy(backend, name):
    op, reference, x = ONE_INPUT[name]
    result = op(x.astype("float32"))
    assert isinstance(result, engine.Tensor) and result.backend is backend
    assert result.dtype == "float32"
    numpy.testing.assert_allclose(
        result.numpy(), reference(x.astype("float32")), rtol=2e-5, atol=2e-6
    )


@pytest.mark.parametrize("name", sorted(ONE_INPUT))
def test_gradients(backend, float64, name):
    op, reference, x = ONE_INPUT[name]
    numpy.testing.assert_allclose(op(x).numpy(), reference(x), rtol=1e-12, atol=1e-12)
    check_gradients(op, x, backend=backend)


# name: (op, NumPy reference, x1, x2)
TWO_INPUTS = {
    "arctan2": (ops.arctan2, numpy.arctan2, rand(3, 4), rand(4)),
    "hypot": (ops.hypot, numpy.hypot, rand(3, 4), rand(3, 1)),
    "logaddexp": (ops.logaddexp, numpy.logaddexp, rand(3, 4, low=-3, high=3), rand(4)),
    "slice_update": (
        lambda x, u: ops.slice_update(x, [1, 2], u),
        lambda x, u: numpy.concatenate(
            [x[:1], numpy.concatenate([x[1:, :2], u], axis=1)[:, : x.shape[1]]], axis=0
        ),
        rand(3, 4),
        rand(2, 2),
    ),
    "scatter_update": (
        lambda x, u: ops.scatter_update(x, [[0, 1], [2, 3]], u),
        lambda x, u: numpy.where(
            numpy.isin(numpy.arange(12).reshape(3, 4), [1, 11]),
            numpy.zeros((3, 4)) + numpy.array([[0, u[0], 0, 0]] + [[0] * 4] + [[0, 0, 0, u[1]]]),
            x,
        ),
        rand(3, 4),
        rand(2),
    ),
}


@pytest.mark.parametrize("name", sorted(TWO_INPUTS))
def test_two_input_values_and_gradients(backend, float64, name):
    op, reference, a, b = TWO_INPUTS[name]
    numpy.testing.assert_allclose(op(a, b).numpy(), reference(a, b), rtol=1e-12, atol=1e-12)
    single = op(a.astype("float32"), b.astype("float32"))
    assert single.dtype == "float32" and single.backend is backend
    check_gradients(op, a, b, backend=backend)


def test_scatter_adds_repeated_positions_and_its_gradient_gathers(backend, float64):
    indices = numpy.array([[0, 1], [0, 1], [2, 3]])
    values = numpy.array([1.0, 2.0, 3.0])
    expected = numpy.zeros((3, 4))
    numpy.add.at(expected, tuple(indices.T), values)
    numpy.testing.assert_array_equal(ops.scatter(indices, values, (3, 4)).numpy(), expected)
    rows = ops.scatter(numpy.array([[1]]), numpy.ones((1, 4)), (3, 4)).numpy()
    numpy.testing.assert_array_equal(rows, numpy.eye(3)[1][:, None] * numpy.ones(4))
    check_gradients(lambda v: ops.scatter(indices, v, (3, 4)), values, backend=backend)


def test_cumprod_gradient_is_exact_with_zero_factors(backend, float64):
    x = numpy.array([[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, 1.5, 2.0]])
    check_gradients(lambda t: ops.cumprod(t, axis=1), x, backend=backend)


def test_sort_order_indices_and_integer_results(backend):
    x = numpy.array([[3, 1, 2, 1], [0, 5, 5, 4]])
    numpy.testing.assert_array_equal(ops.argsort(x).numpy(), numpy.argsort(x, kind="stable"))
    assert ops.argsort(x).dtype == "int32" and ops.sort(x).dtype == x.dtype
    values, indices = ops.top_k(x, 3)
    numpy.testing.assert_array_equal(values.numpy(), [[3, 2, 1], [5, 5, 4]])
    numpy.testing.assert_array_equal(indices.numpy(), [[0, 2, 1], [1, 2, 3]])  # ties: lower first
    assert indices.dtype == "int32"
    scores = numpy.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]], "float32")
    numpy.testing.assert_array_equal(ops.in_top_k([2, 0], scores, 1).numpy(), [False, False])
    numpy.testing.assert_array_equal(ops.in_top_k([2, 0], scores, 2).numpy(), [True, True])
    numpy.testing.assert_array_equal(ops.count_nonzero(x, axis=1).numpy(), [4, 3])
    assert ops.count_nonzero(x).dtype == "int32"
    numpy.testing.assert_array_equal(ops.cumprod(x, axis=1).numpy(), numpy.cumprod(x, axis=1))
    numpy.testing.assert_array_equal(ops.ptp(x, axis=1).numpy(), [2, 5])


def test_predicates_and_integer_ops(backend):
    x = numpy.array([-numpy.inf, -0.0, 0.0, 1.5, numpy.inf, numpy.nan], "float32")
    for name in ("isposinf", "isneginf", "signbit"):
        numpy.testing.assert_array_equal(getattr(ops, name)(x).numpy(), getattr(numpy, name)(x))
    numpy.testing.assert_array_equal(ops.trunc([-1.7, 2.5]).numpy(), [-1.0, 2.0])
    close = ops.isclose([1.0, 2.0, numpy.nan], [1.0 + 1e-7, 2.1, numpy.nan], equal_nan=True)
    numpy.testing.assert_array_equal(close.numpy(), [True, False, True])
    assert bool(ops.allclose([1.0, 2.0], [1.0, 2.0 + 1e-9]).numpy())
    replaced = ops.nan_to_num(x, nan=-1.0, posinf=9.0).numpy()
    numpy.testing.assert_array_equal(replaced, numpy.nan_to_num(x, nan=-1.0, posinf=9.0))
    grid = numpy.arange(12).reshape(3, 4)
    numpy.testing.assert_array_equal(ops.tril(grid).numpy(), numpy.tril(grid))
    numpy.testing.assert_array_equal(ops.pad(grid, 1).numpy(), numpy.pad(grid, 1))
    numpy.testing.assert_array_equal(ops.diag(grid[0]).numpy(), numpy.diag(grid[0]))
    numpy.testing.assert_array_equal(ops.trace(grid).numpy(), numpy.trace(grid))
    numpy.testing.assert_array_equal(ops.diff(grid, axis=0).numpy(), numpy.diff(grid, axis=0))
    for got, expected in zip(ops.nonzero(grid > 6), numpy.nonzero(grid > 6)):
        assert got.dtype == "int32"
        numpy.testing.assert_array_equal(got.numpy(), expected)


def test_creation_and_grids(backend):
    for got, expected in (
        (ops.linspace(0, 1, 5), numpy.linspace(0, 1, 5)),
        (ops.logspace(0, 2, 3), numpy.logspace(0, 2, 3)),
        (ops.tri(3, 4, 1), numpy.tri(3, 4, 1)),
        (ops.empty((2, 3)), numpy.zeros((2, 3))),
    ):
        assert got.dtype == "float32" and got.backend is backend  # Keras: floatx
        numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    samples, step = ops.linspace(0.0, 2.0, 4, endpoint=False, retstep=True)
    numpy.testing.assert_allclose(samples.numpy(), [0.0, 0.5, 1.0, 1.5])
    assert step == 0.5
    assert ops.linspace(0, 10, 3, dtype="int32").dtype == "int32"
    a, b, c = numpy.arange(2.0), numpy.arange(3.0), numpy.arange(4.0)
    for indexing in ("xy", "ij"):
        for got, expected in zip(
            ops.meshgrid(a, b, c, indexing=indexing), numpy.meshgrid(a, b, c, indexing=indexing)
        ):
            numpy.testing.assert_array_equal(got.numpy(), expected)
    pieces = ops.unstack(numpy.arange(6.0).reshape(2, 3), axis=1)
    assert [p.numpy().tolist() for p in pieces] == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]


def test_meshgrid_and_unstack_carry_gradients(backend, float64):
    check_gradients(
        lambda a, b: ops.meshgrid(a, b)[0] * ops.meshgrid(a, b)[1],
        rand(2),
        rand(3),
        backend=backend,
    )
    check_gradients(lambda x: ops.unstack(x, axis=1)[1] * 2.0, rand(2, 3), backend=backend)


def test_errors_name_the_function_and_the_argument(backend):
    x = numpy.zeros((3, 4), "float32")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        ops.pad(x, 1, mode="linear")
    with pytest.raises(ValueError, match="pad: constant_values is for mode='constant'"):
        ops.pad(x, 1, mode="edge", constant_values=1.0)
    with pytest.raises(ValueError, match=r"pad: pad_width \[\[1, 2, 3\]\] does not fit"):
        ops.pad(x, [[1, 2, 3]])
    with pytest.raises(ValueError, match="pad: pad_width must be non-negative integers"):
        ops.pad(x, -1)
    with pytest.raises(ValueError, match=r"slice: the window starting at \[2, 0\] of shape"):
        ops.slice(x, [2, 0], [2, 4])
    with pytest.raises(ValueError, match="slice_update: start_indices"):
        ops.slice_update(x, [0], numpy.ones((1, 1)))
    with pytest.raises(ValueError, match=r"top_k: k=5 must be in \[0, 4\]"):
        ops.top_k(x, 5)
    with pytest.raises(ValueError, match="quantile: q must be a number or 1-D, within"):
        ops.quantile(x, 1.5)
    with pytest.raises(ValueError, match="quantile: method must be one of"):
        ops.quantile(x, 0.5, method="cubic")
    with pytest.raises(ValueError, match="tril: x must have at least 2 axes"):
        ops.tril(numpy.zeros(3))
    with pytest.raises(ValueError, match="diagonal: axis1 and axis2 must differ"):
        ops.diagonal(x, 0, 1, 1)
    with pytest.raises(ValueError, match="average: weights of shape"):
        ops.average(x, axis=1, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="meshgrid: indexing must be 'xy' or 'ij'"):
        ops.meshgrid(x[0], indexing="yx")
    with pytest.raises(TypeError, match="scatter: indices must be integers"):
        ops.scatter(numpy.array([[0.5, 1.0]]), numpy.ones(1), (3, 4))
