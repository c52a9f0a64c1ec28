"""More of Keras 3's ``engine.ops``: special functions (erfc, erfinv, i0, sinc, cbrt), NaN-
and zero-safe arithmetic, integer and bit ops, products (kron, cross, inner, correlate,
cdist, corrcoef, trapezoid), splits, windows and casts, and sparsemax. Values against
NumPy and the standard library, gradients against finite differences, every backend."""

import math

import numpy
import pytest

from engine import ops
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(17)


def rand(*shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, shape)


_erfc = numpy.vectorize(math.erfc)


def _as_3d(vectors):
    """2-vectors with a zero third component (NumPy 2 deprecates crossing 2-vectors)."""
    return numpy.concatenate([vectors, numpy.zeros((*vectors.shape[:-1], 1))], axis=-1)


# name: (op, NumPy reference, inputs); differentiable in every float input
DIFFERENTIABLE = {
    "cbrt": (ops.cbrt, numpy.cbrt, (rand(3, 4, low=0.2, high=3),)),
    "sinc": (ops.sinc, numpy.sinc, (numpy.append(rand(5), 0.0),)),
    "i0": (ops.i0, numpy.i0, (rand(3, 4, low=-3, high=3),)),
    "erfc": (ops.erfc, _erfc, (rand(3, 4, low=-3, high=3),)),
    "fabs": (ops.fabs, numpy.fabs, (rand(3, 4),)),
    "logaddexp2": (ops.logaddexp2, numpy.logaddexp2, (rand(3, 4, low=-3, high=3), rand(4))),
    "fmod": (ops.fmod, numpy.fmod, (rand(3, 4, low=-5, high=5), rand(4, low=0.7, high=2))),
    "fmax": (ops.fmax, numpy.fmax, (rand(3, 4), rand(3, 4))),
    "fmin": (ops.fmin, numpy.fmin, (rand(3, 4), rand(4))),
    "ldexp": (
        lambda x: ops.ldexp(x, numpy.array([1, -2, 3, 0])),
        lambda x: numpy.ldexp(x, [1, -2, 3, 0]),
        (rand(3, 4),),
    ),
    "inner": (ops.inner, numpy.inner, (rand(2, 3), rand(4, 3))),
    "vdot": (ops.vdot, numpy.vdot, (rand(2, 3), rand(3, 2))),
    "kron": (ops.kron, numpy.kron, (rand(2, 3), rand(3, 2))),
    "kron_ranks": (ops.kron, numpy.kron, (rand(3), rand(2, 2))),
    "cross": (ops.cross, numpy.cross, (rand(4, 3), rand(4, 3))),
    "cross_mixed": (ops.cross, lambda a, b: numpy.cross(_as_3d(a), b), (rand(4, 2), rand(4, 3))),
    "cross_planar": (
        ops.cross,
        lambda a, b: a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
        (rand(4, 2), rand(4, 2)),
    ),
    "cross_axis": (
        lambda a, b: ops.cross(a, b, axis=0),
        lambda a, b: numpy.cross(a, b, axis=0),
        (rand(3, 2), rand(3, 2)),
    ),
    "cdist": (
        ops.cdist,
        lambda a, b: numpy.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)),
        (rand(3, 2), rand(4, 2)),
    ),
    "corrcoef": (ops.corrcoef, numpy.corrcoef, (rand(3, 5),)),
    "correlate_valid": (ops.correlate, numpy.correlate, (rand(6), rand(3))),
    "correlate_same_short_first": (
        lambda a, b: ops.correlate(a, b, "same"),
        lambda a, b: numpy.correlate(a, b, "same"),
        (rand(2), rand(5)),
    ),
    "correlate_full": (
        lambda a, b: ops.correlate(a, b, "full"),
        lambda a, b: numpy.correlate(a, b, "full"),
        (rand(4), rand(4)),
    ),
    "trapezoid": (ops.trapezoid, numpy.trapezoid, (rand(3, 4),)),
    "trapezoid_x": (
        lambda y, x: ops.trapezoid(y, x, axis=0),
        lambda y, x: numpy.trapezoid(y, x, axis=0),
        (rand(4, 2), numpy.array([0.0, 0.5, 1.5, 3.0])),
    ),
    "append": (ops.append, numpy.append, (rand(2, 3), rand(3))),
    "diagflat": (lambda x: ops.diagflat(x, -1), lambda x: numpy.diagflat(x, -1), (rand(2, 2),)),
    "rot90": (ops.rot90, numpy.rot90, (rand(3, 4),)),
    "rot90_three_turns": (
        lambda x: ops.rot90(x, 3, axes=(1, 2)),
        lambda x: numpy.rot90(x, 3, axes=(1, 2)),
        (rand(2, 3, 4),),
    ),
    "vander": (lambda x: ops.vander(x, 4), lambda x: numpy.vander(x, 4), (rand(3),)),
    "extract_sequences": (
        lambda x: ops.extract_sequences(x, 3, 2),
        lambda x: numpy.stack([x[..., i : i + 3] for i in (0, 2, 4)], axis=-2),
        (rand(2, 7),),
    ),
    "sparsemax_one_kept": (
        ops.sparsemax,
        lambda x: (x == x.max(-1, keepdims=True)).astype(float),
        (numpy.array([[0.1, 2.5, 0.3], [3.0, 0.2, -1.0]]),),
    ),
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_values_and_gradients(backend, float64, name):
    op, reference, inputs = DIFFERENTIABLE[name]
    numpy.testing.assert_allclose(op(*inputs).numpy(), reference(*inputs), rtol=1e-10, atol=1e-12)
    check_gradients(op, *inputs, backend=backend)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_float32_values_keep_float32(backend, name):
    op, reference, inputs = DIFFERENTIABLE[name]
    result = op(*[x.astype("float32") if x.dtype.kind == "f" else x for x in inputs])
    assert result.dtype == "float32" and result.backend is backend
    numpy.testing.assert_allclose(result.numpy(), reference(*inputs), rtol=1e-5, atol=1e-6)


def test_erfc_keeps_its_tail_and_erfinv_inverts_erf(backend, float64):
    """erfc(5) ~ 1.5e-12: 1 - erf(5) would have 4 right digits. erfinv(erf(y)) = y."""
    tail = numpy.array([3.0, 5.0, 10.0, 26.0, -4.0])
    expected = numpy.array([math.erfc(v) for v in tail])
    numpy.testing.assert_allclose(ops.erfc(tail).numpy(), expected, rtol=1e-14)
    assert ops.erfc(numpy.array([numpy.inf, -numpy.inf])).numpy().tolist() == [0.0, 2.0]
    y = numpy.linspace(-3.5, 3.5, 41)
    x = numpy.array([math.erf(v) for v in y])
    numpy.testing.assert_allclose(ops.erfinv(x).numpy(), y, rtol=1e-9, atol=1e-12)
    edges = ops.erfinv(numpy.array([1.0, -1.0, 1.5, 0.0])).numpy()
    assert edges[0] == numpy.inf and edges[1] == -numpy.inf and numpy.isnan(edges[2])
    check_gradients(ops.erfinv, rand(3, 4, low=-0.9, high=0.9), backend=backend)


def test_divide_no_nan_is_zero_with_zero_gradients_where_dividing_by_zero(backend, float64):
    a, b = rand(3, 4), numpy.array([0.5, 0.0, -1.5, 2.0])
    expected = numpy.where(b == 0, 0.0, a / numpy.where(b == 0, 1.0, b))
    numpy.testing.assert_allclose(ops.divide_no_nan(a, b).numpy(), expected, rtol=1e-12)
    check_gradients(ops.divide_no_nan, a, b + (b == 0), backend=backend)  # away from 0
    x, y = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    x.requires_grad = y.requires_grad = True
    ops.sum(ops.divide_no_nan(x, y)).backward()
    assert (x.grad.numpy()[:, 1] == 0).all() and y.grad.numpy()[1] == 0
    assert numpy.isfinite(y.grad.numpy()).all()


def test_nan_ignoring_extrema_and_bessel_gradient(backend, float64):
    a = numpy.array([1.0, numpy.nan, 2.0, numpy.nan])
    b = numpy.array([numpy.nan, 3.0, 1.0, numpy.nan])
    numpy.testing.assert_array_equal(ops.fmax(a, b).numpy(), numpy.fmax(a, b))
    numpy.testing.assert_array_equal(ops.fmin(a, b).numpy(), numpy.fmin(a, b))
    # I0's derivative is I1: its series against I1's integral form (1/pi) int e^(x cos t) cos t
    x = numpy.array([0.5, 4.0, -12.0])
    tensor = ops.convert_to_tensor(x)
    tensor.requires_grad = True
    ops.sum(ops.i0(tensor)).backward()
    angles = numpy.linspace(0.0, numpy.pi, 20001)
    integral = numpy.trapezoid(
        numpy.exp(x[:, None] * numpy.cos(angles)) * numpy.cos(angles), angles, axis=1
    )
    numpy.testing.assert_allclose(tensor.grad.numpy(), integral / numpy.pi, rtol=1e-7)


def test_integer_bit_and_outside_the_graph_ops(backend):
    a, b = numpy.array([12, 18, 7]), numpy.array([8, 27, 5])
    for name in ("gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor"):
        numpy.testing.assert_array_equal(
            getattr(ops, name)(a, b).numpy(), getattr(numpy, name)(a, b)
        )
    numpy.testing.assert_array_equal(ops.bitwise_not(a).numpy(), numpy.invert(a))
    numpy.testing.assert_array_equal(ops.left_shift(a, 2).numpy(), a << 2)
    numpy.testing.assert_array_equal(ops.right_shift(a, 1).numpy(), a >> 1)
    numpy.testing.assert_array_equal(ops.fmod(a, 5).numpy(), numpy.fmod(a, 5))
    x = numpy.array([-1.5, 0.0, 2.0])
    numpy.testing.assert_array_equal(ops.heaviside(x, 0.5).numpy(), numpy.heaviside(x, 0.5))
    numpy.testing.assert_array_equal(ops.nextafter(x, 10.0).numpy(), numpy.nextafter(x, 10.0))
    numpy.testing.assert_array_equal(ops.angle(x).numpy(), numpy.angle(x))
    assert ops.real(x) is not None and ops.isreal(x).numpy().all()
    numpy.testing.assert_array_equal(ops.imag(x).numpy(), numpy.zeros(3))
    numpy.testing.assert_array_equal(ops.conj(x).numpy(), x)
    assert ops.view(numpy.array([1.0], "float32"), "int32").numpy()[0] == 1065353216
    casted = ops.saturate_cast(numpy.array([-1.5, 300.0, 20.7], "float32"), "uint8")
    assert casted.dtype == "uint8" and casted.numpy().tolist() == [0, 255, 20]


def test_splits_windows_and_creation(backend):
    x = numpy.arange(7.0)
    assert [p.numpy().tolist() for p in ops.array_split(x, 3)] == [
        p.tolist() for p in numpy.array_split(x, 3)
    ]
    grid = numpy.arange(24.0).reshape(2, 3, 4)
    for name in ("hsplit", "vsplit", "dsplit"):
        for got, expected in zip(
            getattr(ops, name)(grid, 2 if name != "hsplit" else [1]),
            getattr(numpy, name)(grid, 2 if name != "hsplit" else [1]),
        ):
            numpy.testing.assert_array_equal(got.numpy(), expected)
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        window = getattr(ops, name)(7)
        assert window.dtype == "float32"
        numpy.testing.assert_allclose(window.numpy(), getattr(numpy, name)(7), atol=1e-7)
    numpy.testing.assert_allclose(ops.kaiser(6, 3.0).numpy(), numpy.kaiser(6, 3.0), rtol=1e-6)
    numpy.testing.assert_allclose(ops.geomspace(1, 1000, 4).numpy(), [1, 10, 100, 1000], rtol=1e-6)
    copied = ops.array([[1, 2], [3, 4]], dtype="float32")
    assert copied.dtype == "float32" and copied.backend is backend


def test_sparsemax_projects_onto_the_simplex(backend, float64):
    """Rows sum to 1 with entries >= 0, the kept ones shifted by one threshold; Keras 3.15's
    backends miscompute the threshold when two or more entries are kept."""
    x = rand(4, 5, low=-1, high=1.5)
    result = ops.sparsemax(x).numpy()
    numpy.testing.assert_allclose(result.sum(-1), 1.0, rtol=1e-12)
    assert (result >= 0).all()
    for row, out in zip(x, result):
        kept = out > 0
        shifts = row[kept] - out[kept]
        numpy.testing.assert_allclose(shifts, shifts[0], atol=1e-12)
        assert (row[~kept] <= shifts[0] + 1e-12).all()
    check_gradients(ops.sparsemax, x, backend=backend)
    check_gradients(lambda a: ops.sparsemax(a, axis=0), x, backend=backend)


def test_errors_name_the_function_and_the_argument(backend):
    with pytest.raises(TypeError, match="gcd: needs integer or boolean tensors, got float"):
        ops.gcd(numpy.ones(2), numpy.ones(2))
    with pytest.raises(TypeError, match="ldexp: x2 must be integers"):
        ops.ldexp(numpy.ones(2), numpy.ones(2))
    with pytest.raises(ValueError, match="cross: the vector axes must have 2 or 3 components"):
        ops.cross(numpy.ones((2, 4)), numpy.ones((2, 4)))
    with pytest.raises(ValueError, match="correlate: mode must be 'valid', 'same' or 'full'"):
        ops.correlate(numpy.ones(3), numpy.ones(2), "circular")
    with pytest.raises(ValueError, match=r"cdist: x and y must be \(\.\.\., rows, features\)"):
        ops.cdist(numpy.ones((2, 3)), numpy.ones((2, 4)))
    with pytest.raises(ValueError, match="rot90: axes must be two different axes"):
        ops.rot90(numpy.ones((2, 2)), axes=(1, 1))
    with pytest.raises(ValueError, match="extract_sequences: sequence_length=9"):
        ops.extract_sequences(numpy.ones(5), 9, 1)
    with pytest.raises(ValueError, match="array_split: indices_or_sections=0 must be positive"):
        ops.array_split(numpy.ones(5), 0)
