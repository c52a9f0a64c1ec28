"""The numba backend's overrides agree with the generic reference kernels."""

import builtins
import platform

import numpy
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import backends
from backends.base import Backend

pytest.importorskip("numba")

from backends import numba_dispatch  # noqa: E402

DEFAULT_CUTOFFS = {
    name: getattr(numba_dispatch, name)
    for name in (
        "MIN_JIT_SIZE",
        "SCALAR_MATH_LIMIT",
    )
}

FLOATS = ("float32", "float64")
RTOL = {"float32": 1e-5, "float64": 1e-10}
ATOL = {"float32": 1e-6, "float64": 1e-12}
few = settings(max_examples=10, deadline=None)
LIFTED_CUTOFFS = {
    "MIN_JIT_SIZE": 0,
    "SCALAR_MATH_LIMIT": 10**9,
}

shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple)
dtypes = st.sampled_from(FLOATS)
seeds = st.integers(0, 2**31 - 1)


@pytest.fixture(scope="module")
def numba_backend():
    """The numba backend with its size cut-offs lifted, so small shapes reach the kernels."""
    with pytest.MonkeyPatch.context() as patch:
        for name, lifted in LIFTED_CUTOFFS.items():
            patch.setattr(numba_dispatch, name, lifted)
        yield backends.get("numba")


def random(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def assert_close(actual, expected, dtype):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    numpy.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=ATOL[dtype])


ACTIVATIONS = {
    "relu": {},
    "sigmoid": {},
    "tanh": {},
    "leaky_relu": {"negative_slope": 0.3},
    "elu": {"alpha": 0.7},
    "selu": {},
    "softplus": {},
    "swish": {},
    "gelu": {"approximate": True},  # the tanh form (the exact one is the reference's)
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@few
@given(shape=shapes, dtype=dtypes, seed=seeds)
def test_activations_match_reference(numba_backend, name, shape, dtype, seed):
    reference = Backend()
    rng = numpy.random.default_rng(seed)
    x = random(rng, shape, dtype)
    dy = random(rng, shape, dtype, 1.0)
    params = ACTIVATIONS[name]
    forward = getattr(numba_backend, name + "_forward")(x, **params)
    expected = getattr(reference, name + "_forward")(x, **params)
    assert_close(forward, expected, dtype)
    backward = getattr(numba_backend, name + "_backward")(dy, x, expected, **params)
    expected_backward = getattr(reference, name + "_backward")(dy, x, expected, **params)
    if name == "gelu" and dtype == "float32":
        # the tanh form's derivative cancels in its tails (0.5 * (1 + t) with t near -1):
        # both sides are within a few 1e-6 of the float64 value there (3.5e-6 and 4.1e-6 at
        # worst over 650k random elements), not always of each other
        exact = reference.gelu_backward(*(a.astype("float64") for a in (dy, x, expected)), **params)
        numpy.testing.assert_allclose(backward, exact, rtol=RTOL[dtype], atol=1e-5)
        numpy.testing.assert_allclose(expected_backward, exact, rtol=RTOL[dtype], atol=1e-5)
        return
    assert_close(backward, expected_backward, dtype)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", FLOATS)
def test_activations_keep_nan_and_inf_as_the_reference_does(numba_backend, name, dtype):
    """A NaN must survive the forward pass, or fit's NaN detection goes blind."""
    reference = Backend()
    x = numpy.array([numpy.nan, numpy.inf, -numpy.inf, -1.5, 0.0, 2.0], dtype=dtype)
    params = ACTIVATIONS[name]
    with numpy.errstate(all="ignore"):
        forward = getattr(numba_backend, name + "_forward")(x, **params)
        expected = getattr(reference, name + "_forward")(x, **params)
    numpy.testing.assert_array_equal(numpy.isnan(forward), numpy.isnan(expected))
    assert numpy.isnan(forward[0])


@given(
    values=st.lists(
        st.sampled_from([numpy.nan, -numpy.inf, numpy.inf, -2.5, -1.0, 0.0, 0.5, 3.0, 7.0]),
        min_size=1,
        max_size=40,
    ),
    dtype=dtypes,
)
@example(values=[numpy.nan] + [1.0] * 19, dtype="float32")  # long rows, a NaN first or later
@example(values=[1.0] * 9 + [numpy.nan, 5.0] + [2.0] * 9, dtype="float64")
@few
def test_row_max_keeps_pythons_max_semantics(values, dtype):
    """``vector_math.row_max`` (a short row on one running maximum, a long one on eight):
    the largest element, a NaN first in the row wins and any later NaN is passed over,
    as folding Python's ``max`` over the row gives."""
    import functools

    import numba

    from backends.numba_kernels.vector_math import row_max

    row = numpy.array(values, dtype=dtype)
    expected = functools.reduce(lambda best, x: x if x > best else best, row.tolist())
    result = numba.njit(lambda r: row_max(r))(row)
    if numpy.isnan(expected):
        assert numpy.isnan(result)
    else:
        assert result == expected


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "selu", "swish", "softplus", "gelu"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_vector_math_activations_at_the_extremes(numba_backend, name, dtype):
    """The activations on vector_math's exponential agree with the reference where it
    clamps, saturates or flushes: infinities, overflowing and underflowing arguments,
    tiny ones (accurate near 0) and signed zeros, in both passes."""
    reference = Backend()
    info = numpy.finfo(dtype)
    x = numpy.array(
        [-numpy.inf, -1e4, -800.0, -100.0, -88.5, -30.0, -1.0, -1e-3, -float(info.tiny), -0.0]
        + [0.0, float(info.tiny), 1e-30, 1e-3, 0.7, 1.0, 21.9, 22.1, 40.0, 100.0, 1e4, numpy.inf],
        dtype=dtype,
    )
    params = ACTIVATIONS[name]
    with numpy.errstate(all="ignore"):
        forward = getattr(numba_backend, name + "_forward")(x, **params)
        expected = getattr(reference, name + "_forward")(x, **params)
        dy = numpy.ones_like(x)
        backward = getattr(numba_backend, name + "_backward")(dy, x, expected, **params)
        expected_backward = getattr(reference, name + "_backward")(dy, x, expected, **params)
    rtol = 4 * info.eps
    # exp's results that would be subnormal are flushed to 0 (swish(-88.5) is -0.0, not
    # -3e-37); selu's backward at saturation cancels y + scale * alpha to within an ulp of 1
    flushed, cancelled = 1e3 * float(info.tiny), float(info.eps)
    numpy.testing.assert_allclose(forward, expected, rtol=rtol, atol=flushed, equal_nan=True)
    numpy.testing.assert_allclose(
        backward, expected_backward, rtol=rtol, atol=cancelled, equal_nan=True
    )


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@few
@given(shape=shapes, dtype=dtypes, seed=seeds, transpose=st.booleans())
def test_softmax_matches_reference(numba_backend, name, shape, dtype, seed, transpose):
    reference = Backend()
    rng = numpy.random.default_rng(seed)
    x = random(rng, shape, dtype)
    if transpose:  # a non-contiguous input
        x = x.T
    dy = random(rng, x.shape, dtype, 1.0)
    y = getattr(numba_backend, name + "_forward")(x)
    expected = getattr(reference, name + "_forward")(x)
    assert_close(y, expected, dtype)
    assert_close(
        getattr(numba_backend, name + "_backward")(dy, expected),
        getattr(reference, name + "_backward")(dy, expected),
        dtype,
    )


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_rows_split_over_three_threads(monkeypatch, rng, name, dtype):
    """Rows cut into blocks for three threads (37 rows: blocks of unequal size), forward and
    backward, contiguous or not, agree with the reference."""
    from backends import thread_pool

    monkeypatch.setattr(numba_dispatch, "MIN_SPLIT_VECTOR_MATH", 16)
    monkeypatch.setattr(thread_pool, "width", lambda: 3)
    numba_backend, reference = backends.get("numba"), Backend()
    for x in (random(rng, (37, 8), dtype), random(rng, (8, 37), dtype).T):
        dy = random(rng, x.shape, dtype, 1.0)
        y = getattr(reference, name + "_forward")(x)
        assert_close(getattr(numba_backend, name + "_forward")(x), y, dtype)
        assert_close(
            getattr(numba_backend, name + "_backward")(dy, y),
            getattr(reference, name + "_backward")(dy, y),
            dtype,
        )


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropies_split_over_three_threads(monkeypatch, rng, dtype):
    """The fused cross-entropies (dense and sparse targets) cut into blocks of rows for three
    threads agree with the reference, and a bad label in a worker's block still raises."""
    from backends import thread_pool

    monkeypatch.setattr(numba_dispatch, "MIN_SPLIT_VECTOR_MATH", 16)
    monkeypatch.setattr(thread_pool, "width", lambda: 3)
    numba_backend, reference = backends.get("numba"), Backend()
    logits = random(rng, (37, 8), dtype)
    labels = rng.integers(0, 8, 37)
    targets = numpy.eye(8, dtype=dtype)[labels]
    dloss = random(rng, (37,), dtype, 1.0)
    for name, target in (
        ("softmax_cross_entropy", targets),
        ("sparse_softmax_cross_entropy", labels),
    ):
        loss, probs = getattr(numba_backend, name + "_forward")(logits, target)
        expected_loss, expected_probs = getattr(reference, name + "_forward")(logits, target)
        assert_close(loss, expected_loss, dtype)
        assert_close(probs, expected_probs, dtype)
        assert_close(
            getattr(numba_backend, name + "_backward")(expected_probs, target, dloss),
            getattr(reference, name + "_backward")(expected_probs, target, dloss),
            dtype,
        )
    labels[-1] = 8  # in the last block, a worker's
    with pytest.raises(IndexError):
        numba_backend.sparse_softmax_cross_entropy_forward(logits, labels)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "swish"])
def test_default_cutoffs_agree_on_both_sides(name, monkeypatch):
    """With the shipped cut-offs, small and large inputs agree with the reference."""
    for cutoff in LIFTED_CUTOFFS:  # undo a lift the module fixture may hold
        monkeypatch.setattr(numba_dispatch, cutoff, DEFAULT_CUTOFFS[cutoff])
    numba_backend, reference = backends.get("numba"), Backend()
    rng = numpy.random.default_rng(1)
    for shape in [(3, 4), (64, 80)]:
        x = rng.standard_normal(shape).astype(numpy.float32)
        y = getattr(reference, name + "_forward")(x)
        assert_close(getattr(numba_backend, name + "_forward")(x), y, "float32")
        assert_close(
            getattr(numba_backend, name + "_backward")(x, x, y),
            getattr(reference, name + "_backward")(x, x, y),
            "float32",
        )
    wide = rng.standard_normal((4, 100))
    assert_close(numba_backend.softmax_forward(wide), reference.softmax_forward(wide), "float64")


def test_softmax_other_axis_falls_back(numba_backend, rng):
    x = rng.standard_normal((3, 4, 5))
    numpy.testing.assert_allclose(
        numba_backend.softmax_forward(x, axis=1), Backend().softmax_forward(x, axis=1)
    )


@few
@given(
    batch=st.integers(1, 5),
    sizes=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    dtype=dtypes,
    seed=seeds,
    leading=st.booleans(),
)
def test_dense_forward_matches_reference(numba_backend, batch, sizes, dtype, seed, leading):
    rng = numpy.random.default_rng(seed)
    shape = (2, batch, sizes[0]) if leading else (batch, sizes[0])
    x = random(rng, shape, dtype)
    kernel = random(rng, sizes, dtype)
    bias = random(rng, sizes[1:], dtype)
    assert_close(
        numba_backend.dense_forward(x, kernel, bias),
        Backend().dense_forward(x, kernel, bias),
        dtype,
    )
    assert_close(numba_backend.dense_forward(x, kernel), Backend().dense_forward(x, kernel), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "shape, transposed",
    [((3, 4), False), ((64, 32), False), ((4, 33, 20), False), ((40, 64), True), ((5, 0), False)],
)
def test_bias_backward_matches_reference(numba_backend, rng, dtype, shape, transposed):
    """Summed over every axis but the last; from 1024 elements a product with a row of ones
    (the same sums in another order), and the reference for a strided gradient."""
    grad = random(rng, shape[::-1] if transposed else shape, dtype)
    grad = grad.T if transposed else grad
    got = numba_backend.bias_backward(grad)
    expected = Backend().bias_backward(grad)
    assert got.shape == expected.shape == shape[-1:] and got.dtype == expected.dtype
    assert_close(got, expected, dtype)


def test_bias_backward_over_changing_batch_sizes(numba_backend, rng):
    """The row of ones is kept per dtype and grown when a longer batch comes: sums of 40,
    then 200, then 40 rows (and float64 between) all match the reference."""
    for rows, dtype in ((40, "float32"), (200, "float32"), (64, "float64"), (40, "float32")):
        grad = random(rng, (rows, 32), dtype)
        assert_close(numba_backend.bias_backward(grad), Backend().bias_backward(grad), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize(
    "shape, use_gamma, use_beta",
    [((1, 1), True, True), ((7, 5), False, True), ((40, 13), True, False), ((41, 64), True, True)],
)
def test_layer_norm_matches_reference(monkeypatch, rng, shape, use_gamma, use_beta, threads, dtype):
    """Row by row, with the rows split in blocks between three threads or on one."""
    from backends import thread_pool

    monkeypatch.setattr(thread_pool, "width", lambda: threads)
    monkeypatch.setattr(numba_dispatch, "MIN_SPLIT_ELEMENTS", 1)
    numba_backend, reference = backends.get("numba"), Backend()
    x = random(rng, shape, dtype) + 1
    gamma = random(rng, shape[1:], dtype) if use_gamma else None
    beta = random(rng, shape[1:], dtype) if use_beta else None
    ours = numba_backend.layer_norm_forward(x, gamma, beta, 1e-3)
    theirs = reference.layer_norm_forward(x, gamma, beta, 1e-3)
    for actual, expected in zip(ours, theirs):
        assert_close(actual, expected, dtype)
    _, mean, variance = theirs
    dy = random(rng, shape, dtype)
    ours = numba_backend.layer_norm_backward(dy, x, mean, variance, gamma, 1e-3)
    theirs = reference.layer_norm_backward(dy, x, mean, variance, gamma, 1e-3)
    for actual, expected in zip(ours, theirs):
        assert_close(actual, expected, dtype)


@pytest.mark.parametrize(
    "call, split",
    [
        (lambda b, x: b.relu_forward(x), "MIN_SPLIT_ONE_PASS"),
        (lambda b, x: b.tanh_backward(x, x, x), "MIN_SPLIT_ONE_PASS"),
        (lambda b, x: b.sgd_momentum_update(x, x.copy(), x.copy(), 0.1, 0.9), "MIN_SPLIT_ONE_PASS"),
        (
            lambda b, x: b.adam_update(x, x.copy(), x.copy(), x * x, 0.1, 0.9, 0.99, 1e-7),
            "MIN_SPLIT_ADAM",
        ),
        (lambda b, x: b.erf(x), "MIN_SPLIT_ELEMENTS"),
        (lambda b, x: b.sigmoid_forward(x), "MIN_SPLIT_VECTOR_MATH"),
        (lambda b, x: b.swish_backward(x, x, x), "MIN_SPLIT_VECTOR_MATH"),
        (lambda b, x: b.softmax_forward(x.reshape(-1, 16)), "MIN_SPLIT_VECTOR_MATH"),
        (lambda b, x: b.log_softmax_backward(*[x.reshape(-1, 16)] * 2), "MIN_SPLIT_VECTOR_MATH"),
    ],
)
def test_each_kernel_is_split_from_its_own_size(monkeypatch, rng, call, split):
    """Memory-bound one-pass kernels, Adam, the activations on vector_math's exponential
    and the rest each have their own split size: a kernel is run in two blocks from twice
    its size, and on this thread below it. (Without ``blas_threads``'s callback: with it,
    Adam's blocks are native jobs, tested in test_blas_threads.py.)"""
    from backends import blas_threads, thread_pool

    sizes = {
        "MIN_SPLIT_ELEMENTS": 64,
        "MIN_SPLIT_VECTOR_MATH": 128,
        "MIN_SPLIT_ADAM": 256,
        "MIN_SPLIT_ONE_PASS": 1024,
    }
    for name, size in sizes.items():
        monkeypatch.setattr(numba_dispatch, name, size)
    monkeypatch.setattr(numba_dispatch, "MIN_NATIVE_SPLIT_ADAM", sizes["MIN_SPLIT_ADAM"])
    monkeypatch.setattr(blas_threads, "installed", lambda: False)
    monkeypatch.setattr(numba_dispatch, "MIN_JIT_SIZE", 0)
    monkeypatch.setattr(thread_pool, "width", lambda: 2)
    pool_run = thread_pool._Pool.run
    splits = []
    monkeypatch.setattr(
        thread_pool._Pool,
        "run",
        lambda pool, function, sets: splits.append(len(sets)) or pool_run(pool, function, sets),
    )
    numba_backend = backends.get("numba")
    for size, expected in ((2 * sizes[split] - 16, []), (2 * sizes[split], [2])):
        splits.clear()
        call(numba_backend, random(rng, (size,), "float32"))
        assert splits == expected, (size, splits)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "swish", "elu", "selu"])
def test_elementwise_and_bias_split_over_three_threads(monkeypatch, rng, name, dtype):
    """Activations and a dense layer's bias cut into blocks for three threads agree with
    the reference (an odd length: blocks of unequal size)."""
    from backends import numba_backend as numba_module
    from backends import thread_pool

    for cutoff, lifted in LIFTED_CUTOFFS.items():
        monkeypatch.setattr(numba_dispatch, cutoff, lifted)
    for split in ("MIN_SPLIT_ELEMENTS", "MIN_SPLIT_ONE_PASS", "MIN_SPLIT_VECTOR_MATH"):
        monkeypatch.setattr(numba_dispatch, split, 1)
    monkeypatch.setattr(numba_module, "MIN_SPLIT_BIAS_ELEMENTS", 1)
    monkeypatch.setattr(thread_pool, "width", lambda: 3)
    numba_backend, reference = backends.get("numba"), Backend()
    x = random(rng, (7, 53), dtype)
    y = getattr(reference, name + "_forward")(x)
    assert_close(getattr(numba_backend, name + "_forward")(x), y, dtype)
    dy = random(rng, x.shape, dtype)
    assert_close(
        getattr(numba_backend, name + "_backward")(dy, x, y),
        getattr(reference, name + "_backward")(dy, x, y),
        dtype,
    )
    kernel, bias = random(rng, (53, 9), dtype), random(rng, (9,), dtype)
    assert_close(
        numba_backend.dense_forward(x, kernel, bias),
        reference.dense_forward(x, kernel, bias),
        dtype,
    )


@few
@given(rows=st.integers(1, 8), classes=st.integers(1, 6), dtype=dtypes, seed=seeds)
def test_cross_entropy_matches_reference(numba_backend, rows, classes, dtype, seed):
    reference = Backend()
    rng = numpy.random.default_rng(seed)
    logits = random(rng, (rows, classes), dtype)
    targets = rng.random((rows, classes)).astype(dtype)
    targets /= targets.sum(axis=1, keepdims=True)
    labels = rng.integers(0, classes, rows)
    dloss = random(rng, (rows,), dtype, 1.0)

    loss, probs = numba_backend.softmax_cross_entropy_forward(logits, targets)
    expected_loss, expected_probs = reference.softmax_cross_entropy_forward(logits, targets)
    assert_close(loss, expected_loss, dtype)
    assert_close(probs, expected_probs, dtype)
    assert_close(
        numba_backend.softmax_cross_entropy_backward(expected_probs, targets, dloss),
        reference.softmax_cross_entropy_backward(expected_probs, targets, dloss),
        dtype,
    )

    loss, probs = numba_backend.sparse_softmax_cross_entropy_forward(logits, labels)
    expected_loss, expected_probs = reference.sparse_softmax_cross_entropy_forward(logits, labels)
    assert_close(loss, expected_loss, dtype)
    assert_close(probs, expected_probs, dtype)
    assert_close(
        numba_backend.sparse_softmax_cross_entropy_backward(expected_probs, labels, dloss),
        reference.sparse_softmax_cross_entropy_backward(expected_probs, labels, dloss),
        dtype,
    )


@pytest.mark.parametrize("classes", [7, 8, 9, 17, 1000])
@pytest.mark.parametrize("dtype", FLOATS)
def test_wide_softmax_rows_match_reference_with_nan_and_inf(numba_backend, rng, classes, dtype):
    """Rows at and past the eight running maxima of ``row_max`` (the peak in every lane,
    the tail), with a NaN, a +inf or a -inf placed early, late and in the tail: each such
    row comes out NaN in both, as in the reference; the others agree to rounding."""
    reference = Backend()
    logits = random(rng, (12, classes), dtype)
    logits[1, classes - 1] += 200  # the peak in the tail (missed, exp would saturate)
    logits[2, 3] += 200  # ... and in one lane of the eight
    for row, value in ((3, numpy.nan), (4, numpy.inf), (5, -numpy.inf)):
        logits[row, 0] = value
        logits[row + 3, classes // 2] = value
        logits[row + 6, classes - 1] = value
    labels = rng.integers(0, classes, len(logits))
    targets = numpy.eye(classes, dtype=dtype)[labels]
    dy = random(rng, logits.shape, dtype, 1.0)
    with numpy.errstate(all="ignore"):
        probabilities = reference.softmax_forward(logits)
        log_probabilities = numpy.log(probabilities)
    calls = [
        ("softmax_forward", (logits,)),
        ("log_softmax_forward", (logits,)),
        ("sparse_softmax_cross_entropy_forward", (logits, labels)),
        ("softmax_cross_entropy_forward", (logits, targets)),
        ("softmax_backward", (dy, probabilities)),
        ("log_softmax_backward", (dy, log_probabilities)),
    ]
    pairs = []
    with numpy.errstate(all="ignore"):
        for name, arguments in calls:
            ours, theirs = (
                getattr(numba_backend, name)(*arguments),
                getattr(reference, name)(*arguments),
            )
            pairs += list(zip(ours, theirs)) if isinstance(ours, tuple) else [(ours, theirs)]
    for ours, theirs in pairs:
        assert ours.dtype == theirs.dtype
        numpy.testing.assert_array_equal(numpy.isnan(ours), numpy.isnan(theirs))
        finite = numpy.isfinite(theirs)
        numpy.testing.assert_allclose(ours[finite], theirs[finite], RTOL[dtype], ATOL[dtype])


def test_sparse_cross_entropy_rejects_out_of_range_labels(numba_backend):
    logits = numpy.zeros((2, 3), numpy.float32)
    with pytest.raises(IndexError):
        numba_backend.sparse_softmax_cross_entropy_forward(logits, numpy.array([0, 3]))


def _optimizer_cases(rng, shape, dtype):
    """(method name, argument builder): state arrays are fresh copies per backend."""
    return [
        ("sgd_update", lambda s: {"lr": 0.1}, 0),
        ("sgd_momentum_update", lambda s: {"velocity": s[0], "lr": 0.1, "momentum": 0.9}, 1),
        (
            "sgd_momentum_update",
            lambda s: {"velocity": s[0], "lr": 0.1, "momentum": 0.9, "nesterov": True},
            1,
        ),
        (
            "adam_update",
            lambda s: {
                "m": s[0],
                "v": numpy.abs(s[1]),
                "lr_t": 0.01,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-7,
            },
            2,
        ),
        (
            "adam_update",
            lambda s: {
                "m": s[0],
                "v": numpy.abs(s[1]),
                "lr_t": 0.01,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-7,
                "v_hat": numpy.abs(s[2]),
            },
            3,
        ),
        (
            "rmsprop_update",
            lambda s: {"velocity": numpy.abs(s[0]), "lr": 0.01, "rho": 0.9, "epsilon": 1e-7},
            1,
        ),
        (
            "rmsprop_update",
            lambda s: {
                "velocity": numpy.abs(s[0]) + 10,
                "lr": 0.01,
                "rho": 0.9,
                "epsilon": 1e-7,
                "momentum_buffer": s[1],
                "momentum": 0.5,
                "average_grad": s[2] * 0.1,
            },
            3,
        ),
        (
            "adagrad_update",
            lambda s: {"accumulator": numpy.abs(s[0]), "lr": 0.01, "epsilon": 1e-7},
            1,
        ),
    ]


@few
@given(shape=shapes, dtype=dtypes, seed=seeds)
def test_optimizer_updates_match_reference(numba_backend, shape, dtype, seed):
    reference = Backend()
    rng = numpy.random.default_rng(seed)
    for name, build, state_count in _optimizer_cases(rng, shape, dtype):
        param = random(rng, shape, dtype)
        grad = random(rng, shape, dtype)
        state = [random(rng, shape, dtype) for _ in range(state_count)]
        ours = {"param": param.copy(), "grad": grad, **build([a.copy() for a in state])}
        theirs = {"param": param.copy(), "grad": grad, **build([a.copy() for a in state])}
        getattr(numba_backend, name)(**ours)
        getattr(reference, name)(**theirs)
        for key, value in theirs.items():
            if isinstance(value, numpy.ndarray):
                assert_close(ours[key], value, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_dropout_mask_matches_reference_stream(numba_backend, dtype):
    reference = Backend()
    numba_backend.seed(3)
    reference.seed(3)
    dt = numpy.dtype(dtype)
    mask = numba_backend.dropout_mask((7, 9), 0.4, dt)
    expected = reference.dropout_mask((7, 9), 0.4, dt)
    assert mask.dtype == dt
    numpy.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("threads", [1, 3])
def test_large_dropout_masks_keep_the_reference_stream(numba_backend, monkeypatch, threads):
    """Masks drawn from raw words, in blocks on the pool, are the reference's bit for bit,
    and leave the generator where the reference does: odd and even sizes, float32 (whose
    draws keep half a word between calls) and float64, a rate that drops nothing, and
    other draws in between."""
    from backends import thread_pool

    monkeypatch.setattr(numba_dispatch, "MIN_SPLIT_ELEMENTS", 1024)  # blocks of 512 words
    monkeypatch.setattr(thread_pool, "width", lambda: threads)
    reference = Backend()
    numba_backend.seed(11)
    reference.seed(11)
    steps = [
        ((2049,), 0.3, "float32"),
        ((3001,), 0.5, "float64"),
        ((40, 101), 0.25, "float32"),
        ((4096,), 0.0, "float32"),
        ((7,), 0.5, "float32"),
        ((2, 2048), 0.9, "float64"),
        ((5000,), 0.1, "float32"),
    ]
    for shape, rate, dtype in steps:
        dt = numpy.dtype(dtype)
        mask = numba_backend.dropout_mask(shape, rate, dt)
        expected = reference.dropout_mask(shape, rate, dt)
        assert mask.dtype == dt and mask.shape == shape
        numpy.testing.assert_array_equal(mask, expected)
        numpy.testing.assert_array_equal(
            numba_backend.random_uniform((3,), "float32"), reference.random_uniform((3,), "float32")
        )


def test_dropout_masks_and_another_threads_draws_share_one_stream(numba_backend, monkeypatch):
    """A mask drawn as raw words holds the generator's lock, as ``random`` does: with
    another thread drawing uniforms meanwhile, every draw takes its own part of the stream,
    so the generator ends where drawing them all one after another leaves it."""
    import threading

    from backends import thread_pool

    monkeypatch.setattr(numba_dispatch, "MIN_SPLIT_ELEMENTS", 1024)
    monkeypatch.setattr(thread_pool, "width", lambda: 2)
    numba_backend.seed(5)
    masks, uniforms = 200, 2000

    def draw_uniforms():
        for _ in range(uniforms):
            numba_backend.random_uniform((3,), "float32")

    other = threading.Thread(target=draw_uniforms)
    other.start()
    for _ in range(masks):
        numba_backend.dropout_mask((4097,), 0.3, numpy.dtype("float32"))
    other.join()
    reference = Backend()
    reference.seed(5)
    reference.random_uniform((masks * 4097 + uniforms * 3,), "float32")
    ours, expected = (
        numba_backend._random.bit_generator.state,
        reference._random.bit_generator.state,
    )
    assert ours["state"] == expected["state"]
    assert ours["has_uint32"] == expected["has_uint32"]


# -- fallbacks and availability ---------------------------------------------


def test_float16_and_integers_fall_back_to_reference(numba_backend, rng):
    reference = Backend()
    x16 = rng.standard_normal((3, 4)).astype(numpy.float16)
    for name in ("relu", "sigmoid", "tanh", "softmax"):
        numpy.testing.assert_array_equal(
            getattr(numba_backend, name + "_forward")(x16),
            getattr(reference, name + "_forward")(x16),
        )
    ints = numpy.arange(-3, 3)
    numpy.testing.assert_array_equal(numba_backend.relu_forward(ints), reference.relu_forward(ints))
    param = numpy.ones(4, numpy.float16)
    numba_backend.sgd_update(param, numpy.ones(4, numpy.float16), 0.5)
    numpy.testing.assert_array_equal(param, numpy.full(4, 0.5, numpy.float16))
    mixed = numba_backend.dense_forward(
        numpy.ones((2, 3), numpy.float32), numpy.ones((3, 2), numpy.float64), numpy.ones(2)
    )
    assert mixed.dtype == numpy.float64
    mask = numba_backend.dropout_mask((5,), 0.5, numpy.dtype(numpy.float16))
    assert mask.dtype == numpy.float16


def test_non_contiguous_parameter_falls_back(numba_backend, rng):
    param = rng.standard_normal((4, 6))[:, ::2]
    expected = param - 0.1
    numba_backend.sgd_update(param, numpy.ones_like(param), 0.1)
    numpy.testing.assert_allclose(param, expected)


def _refuse_imports_of(monkeypatch, package: str) -> None:
    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == package or name.startswith(package + "."):
            raise ImportError(f"No module named '{package}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


def test_missing_numba_raises_backend_unavailable(monkeypatch):
    from backends.numba_backend import NumbaBackend

    _refuse_imports_of(monkeypatch, "numba")
    monkeypatch.setattr(backends, "_instances", {})
    monkeypatch.setitem(backends._registry, "numba", NumbaBackend)
    assert "numba" not in backends.available()
    with pytest.raises(backends.BackendUnavailableError, match="pip install numba"):
        backends.get("numba")


def test_missing_scipy_makes_numba_unavailable_and_says_why(monkeypatch):
    """Numba compiles ``numpy.dot`` in the recurrent kernels to calls into SciPy's BLAS."""
    from backends.numba_backend import NumbaBackend

    _refuse_imports_of(monkeypatch, "scipy")
    assert "scipy cannot be imported" in NumbaBackend.unavailable_reason()


def test_thread_count_round_trips():
    from engine import get_num_threads, set_num_threads

    before = get_num_threads()
    set_num_threads(1)
    assert get_num_threads() == 1
    set_num_threads(before)
    with pytest.raises(ValueError):
        set_num_threads(0)
    with pytest.raises(ValueError):
        set_num_threads(10_000)


def test_numba_num_threads_environment_is_honoured():
    import os
    import subprocess
    import sys

    code = "import engine; engine.set_backend('numba'); print(engine.get_num_threads())"
    environment = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "1"


@few
@given(
    batch=st.integers(1, 3),
    size=st.tuples(st.integers(2, 7), st.integers(2, 7)),
    channels=st.integers(1, 4),
    pool=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.sampled_from(["valid", "same"]),
    dtype=dtypes,
    seed=seeds,
)
def test_max_pool_matches_reference(
    numba_backend, batch, size, channels, pool, strides, padding, dtype, seed
):
    reference = Backend()
    pool = (min(pool[0], size[0]), min(pool[1], size[1]))
    rng = numpy.random.default_rng(seed)
    x = random(rng, (batch, *size, channels), dtype)
    y, argmax = numba_backend.max_pool2d_forward(x, pool, strides, padding)
    expected_y, expected_argmax = reference.max_pool2d_forward(x, pool, strides, padding)
    assert_close(y, expected_y, dtype)
    numpy.testing.assert_array_equal(argmax, expected_argmax)
    assert argmax.dtype == expected_argmax.dtype
    dy = random(rng, y.shape, dtype, 1.0)
    assert_close(
        numba_backend.max_pool2d_backward(dy, argmax, x.shape, pool, strides, padding),
        reference.max_pool2d_backward(dy, argmax, x.shape, pool, strides, padding),
        dtype,
    )


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "pool, strides, padding", [((2, 2), (2, 2), "valid"), ((3, 2), (1, 2), "same")]
)
def test_max_pool_keeps_nan_and_inf_as_the_reference_does(
    numba_backend, dtype, pool, strides, padding, rng
):
    """NaN propagates into the maximum but never wins the argmax; -inf and ties as the reference."""
    reference = Backend()
    x = random(rng, (2, 6, 7, 9), dtype)
    x[0, 0, 0, :3] = numpy.nan
    x[0, 1, 1, 1:5] = numpy.nan
    x[1, :2, :2, 4] = -numpy.inf
    x[1, 2:4, 2:4, 5] = numpy.inf
    x[1, 4:, :, 6] = 1.0  # ties: the first offset wins
    y, argmax = numba_backend.max_pool2d_forward(x, pool, strides, padding)
    expected_y, expected_argmax = reference.max_pool2d_forward(x, pool, strides, padding)
    numpy.testing.assert_array_equal(y, expected_y)
    numpy.testing.assert_array_equal(argmax, expected_argmax)
    assert argmax.dtype == expected_argmax.dtype


def test_a_second_process_loads_kernels_from_the_cache(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import numpy, backends\n"
        "from backends.numba_kernels import activations\n"
        "backend = backends.get('numba')\n"
        "backend.relu_forward(numpy.ones(4096, dtype='float32'))\n"
        "print(sum(activations.relu_forward.stats.cache_hits.values()))\n"
    )
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    hits = [
        subprocess.run(
            [sys.executable, "-c", code],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert hits == ["0", "1"]  # compiled once, then loaded from the cache


def test_a_change_to_the_shared_math_recompiles_the_kernels(tmp_path):
    """Numba stamps only a kernel's own file; the kernel modules' cache locator adds
    ``vector_math.py``'s stamp, so a kernel cached before a change there compiles again."""
    import os
    import pathlib
    import shutil
    import subprocess
    import sys

    code = tmp_path / "code"
    shutil.copytree(
        pathlib.Path(backends.__file__).parent,
        code / "backends",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    script = (
        "import numpy\n"
        "from backends.numba_kernels import attention\n"
        f"assert attention.__file__.startswith({str(code)!r})\n"
        "attention._exp_shifted(numpy.zeros(3, 'float32'), numpy.float32(0))\n"
        "stats = attention._exp_shifted.stats\n"
        "print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))\n"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(code))

    def hits_and_misses():
        result = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd=code,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert hits_and_misses() == ["0", "1"]  # compiled
    assert hits_and_misses() == ["1", "0"]  # loaded from the cache
    shared = code / "backends" / "numba_kernels" / "vector_math.py"
    shared.write_text(shared.read_text() + "\n# a change\n")
    assert hits_and_misses() == ["0", "1"]  # compiled again


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("shape", [(1,), (2,), (1000,), (3, 4), "strided gradient"])
def test_adam_takes_the_kernel_at_every_size(monkeypatch, shape, amsgrad):
    """The kernel, for a flat buffer's one element as for a matrix (through flat views) or
    a strided gradient; it rounds the scalars (Python floats) to float32 as the reference
    does: the same update."""
    numba_backend = backends.get("numba")
    kernels, calls = numba_backend._optimizers, []
    name = "amsgrad_update" if amsgrad else "adam_update"
    kernel = getattr(kernels, name)
    monkeypatch.setattr(kernels, name, lambda *a: calls.append(a[-4:]) or kernel(*a))
    rng = numpy.random.default_rng(3)
    strided = shape == "strided gradient"
    shape = (5,) if strided else shape
    param, m = (rng.standard_normal(shape).astype("float32") for _ in range(2))
    grad = rng.standard_normal((shape[0] * 2,)).astype("float32")[::2] if strided else m * 0.5
    state = [numpy.abs(rng.standard_normal(shape)).astype("float32") for _ in range(2)]
    v, v_hat = state[0], (state[1] if amsgrad else None)
    ours = [a for a in (param, m, v, v_hat) if a is not None]
    expected = [a.copy() for a in ours]
    Backend().adam_update(expected[0], grad, *expected[1:3], 0.01, 0.9, 0.999, 1e-7, *expected[3:])
    numba_backend.adam_update(param, grad, m, v, 0.01, 0.9, 0.999, 1e-7, v_hat)
    assert len(calls) == 1 and all(type(s) is float for s in calls[0])
    for got, want in zip(ours, expected, strict=True):
        numpy.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


X86 = platform.machine().lower() in ("x86_64", "amd64")
SUBNORMAL = numpy.float32(1e-39)


@pytest.mark.parametrize(
    "update",
    [
        lambda b, p, g, s: b.adam_update(p, g, s[0], s[1], 0.01, 0.9, 0.999, 1e-7),
        lambda b, p, g, s: b.adam_update(p, g, s[0], s[1], 0.01, 0.9, 0.999, 1e-7, s[2]),
        lambda b, p, g, s: b.sgd_momentum_update(p, g, s[0], 0.01, 0.9),
        lambda b, p, g, s: b.rmsprop_update(p, g, s[0], 0.01, 0.9, 1e-7),
        lambda b, p, g, s: b.adagrad_update(p, g, s[0], 0.01, 1e-7),
    ],
    ids=["adam", "amsgrad", "sgd_momentum", "rmsprop", "adagrad"],
)
@pytest.mark.parametrize("size", [64, 1 << 16], ids=["small", "split"])
def test_optimizer_kernels_flush_subnormal_state_to_zero_and_restore_the_float_mode(update, size):
    """As Keras's JAX and TensorFlow backends: a moment decaying below float32's normal
    range becomes zero (on x86-64) instead of slowing every later update; the
    thread's floating-point mode is restored, so NumPy keeps its subnormals."""
    numba_backend = backends.get("numba")  # every size takes the kernel (one call, or slices)
    param, grad = numpy.ones(size, "float32"), numpy.zeros(size, "float32")
    state = [numpy.full(size, SUBNORMAL) for _ in range(3)]
    update(numba_backend, param, grad, state)
    decayed = state[0]  # each kernel rewrites its first state array from itself (a decay,
    # or for Adagrad a sum with 0): subnormal inputs read as 0, subnormal results become 0
    if X86:
        assert (decayed == 0).all()
    else:
        assert (decayed > 0).all()
    assert numpy.float32(SUBNORMAL * numpy.float32(1.5)) > 0  # the mode did not leak


def test_kernel_families_are_imported_on_first_use_only():
    """A fresh process imports no kernel module until the backend needs it, then keeps it
    in the instance; the class has no ``__getattr__``, which would keep CPython from
    specializing every ``backend.method`` look-up in the engine."""
    import subprocess
    import sys

    script = (
        "import sys, backends\n"
        "b = backends.get('numba')\n"
        "print('backends.numba_kernels.conv' in sys.modules)\n"
        "module = b._conv\n"
        "print('backends.numba_kernels.conv' in sys.modules, b.__dict__['_conv'] is module)\n"
        "print(hasattr(type(b), '__getattr__'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:3] == ["False", "True True", "False"]
