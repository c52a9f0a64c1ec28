"""``erf`` on every backend against ``math.erf``, and exact GELU's gradient through it.

The reference kernel is W. J. Cody's rational approximation in float64: within a
few ulp of math.erf in float64, and math.erf rounded to float32 in float32.
"""

import math

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backends
import engine
from backends.base import Backend
from backends.kernels import activations
from engine import ops

from .gradcheck import check_gradients

BACKENDS = ["reference", *backends.available()]
#: float64 results may be off math.erf by this many ulp (the reference's worst
#: measured is 4, just above |x| = 0.46875 where erf = 1 - erfc loses a little)
FLOAT64_ULP = 5
#: float32 results computed in float32 arithmetic (Numba's, CUDA's erff) may be off by one
FLOAT32_ULP = {"reference": 0, "numpy": 0}

EDGES = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    1e-300,
    1.2e-38,
    1e-8,
    0.46875,
    numpy.nextafter(0.46875, 1.0),
    -numpy.nextafter(0.46875, 1.0),
    1.0,
    4.0,
    numpy.nextafter(4.0, 5.0),
    -4.0,
    5.9,
    5.92,
    6.0,
    6.5,
    26.5,
    27.0,
    1e308,
    -1e308,
    math.inf,
    -math.inf,
    math.nan,
]


def _backend(name: str):
    return Backend() if name == "reference" else backends.get(name)


def _expected(x: numpy.ndarray) -> numpy.ndarray:
    """math.erf of each element (in float64), rounded to ``x``'s dtype."""
    values = [math.erf(float(v)) for v in x.reshape(-1)]
    return numpy.array(values, dtype=numpy.float64).astype(x.dtype).reshape(x.shape)


def _assert_matches_math_erf(name: str, x: numpy.ndarray) -> None:
    backend = _backend(name)
    got = backend.to_numpy(backend.erf(backend.asarray(x)))
    allowed = FLOAT64_ULP if x.dtype == numpy.float64 else FLOAT32_ULP.get(name, 1)
    _assert_within_ulp(got, x, allowed, f"{name} {x.dtype}")


def _assert_within_ulp(got: numpy.ndarray, x: numpy.ndarray, allowed: int, label: str) -> None:
    """``got`` has ``x``'s dtype and shape, NaN where math.erf is, and is ``allowed`` ulp near."""
    expected = _expected(x)
    assert got.dtype == x.dtype and got.shape == x.shape
    nan = numpy.isnan(expected)
    numpy.testing.assert_array_equal(numpy.isnan(got), nan)
    x, got, expected = x[~nan], got[~nan], expected[~nan]
    numpy.testing.assert_array_equal(numpy.signbit(got), numpy.signbit(expected))
    error = numpy.abs(got.astype(numpy.float64) - expected.astype(numpy.float64))
    ulp = numpy.spacing(numpy.abs(expected)).astype(numpy.float64)
    if error.size and not (error <= allowed * ulp).all():
        worst = numpy.argmax(error / ulp)
        raise AssertionError(
            f"{label}: erf({x[worst]!r}) = {got[worst]!r}, math.erf gives "
            f"{expected[worst]!r} ({error[worst] / ulp[worst]:.1f} ulp, {allowed} allowed)"
        )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", BACKENDS)
def test_edge_cases(name, dtype):
    with numpy.errstate(over="ignore"):  # 1e308 in float32 is inf, as intended
        x = numpy.array(EDGES, dtype=numpy.float64).astype(dtype)
    _assert_matches_math_erf(name, x)
    got = _backend(name).to_numpy(_backend(name).erf(_backend(name).asarray(x)))
    assert got[0] == 0 and not numpy.signbit(got[0])
    assert got[1] == 0 and numpy.signbit(got[1])
    assert got[EDGES.index(math.inf)] == 1 and got[EDGES.index(-math.inf)] == -1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", BACKENDS)
def test_dense_grid_across_the_intervals(name, dtype):
    # every boundary of Cody's intervals (0.46875, 4) and the clamp at 6, both signs,
    # in one array larger than the reference's block
    x = numpy.linspace(-7.0, 7.0, 3 * activations._ERF_BLOCK + 7).astype(dtype)
    _assert_matches_math_erf(name, x)


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(finite_or_not, st.floats(-8, 8), st.floats(-1e-3, 1e-3), st.sampled_from(EDGES)),
        min_size=1,
        max_size=40,
    )
)
@pytest.mark.parametrize("name", BACKENDS)
def test_matches_math_erf_float64(name, values):
    _assert_matches_math_erf(name, numpy.array(values, dtype=numpy.float64))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(width=32, allow_nan=True, allow_infinity=True),
            st.floats(-8, 8, width=32),
        ),
        min_size=1,
        max_size=40,
    )
)
@pytest.mark.parametrize("name", BACKENDS)
def test_matches_math_erf_float32(name, values):
    _assert_matches_math_erf(name, numpy.array(values, dtype=numpy.float32))


@pytest.mark.parametrize(
    "x",
    [
        numpy.array(0.3),
        numpy.array(-0.0),
        numpy.zeros((0, 3)),
        numpy.linspace(-5, 5, 40).reshape(4, 10)[:, ::3],  # not contiguous
        numpy.linspace(-3, 3, 9, dtype=numpy.float16),
    ],
    ids=["0-d", "negative-zero-0-d", "empty", "strided", "float16"],
)
def test_reference_keeps_shape_and_dtype(x):
    got = Backend().erf(x)
    assert isinstance(got, numpy.ndarray)
    _assert_within_ulp(got, x, FLOAT64_ULP, "reference")


@pytest.mark.parametrize("name", backends.available())
def test_exact_gelu_gradient_matches_finite_differences(name, float64):
    # x / sqrt(2) reaches all three of Cody's intervals
    x = numpy.concatenate([numpy.linspace(-8, 8, 33), [-0.6, 0.66, 5.7, -6.1]])
    with engine.use_backend(name) as backend:
        check_gradients(lambda t: ops.gelu(t, approximate=False), x, backend=backend)
