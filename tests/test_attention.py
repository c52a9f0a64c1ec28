"""Fused scaled dot-product attention: kernels on every backend against the reference,
the reference against plain NumPy, the differentiable op's gradients, and memory."""

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy
import pytest

import engine
from engine import functional as F
from tests.gradcheck import check_gradients

TOLERANCE = {"float32": 2e-5, "float64": 1e-10}

# (batch, heads, len_q, len_k, dim, dim_v)
SHAPES = [(2, 3, 5, 7, 4, 6), (1, 2, 9, 4, 3, 2), (2, 1, 1, 1, 2, 3)]
MASKS = [None, "padding", "full", "plane", "query rows"]


def make_mask(kind, rng, batch, heads, len_q, len_k):
    """A boolean mask of one of the shapes callers pass (True: may attend)."""
    if kind is None:
        return None
    if kind == "padding":  # (batch, 1, 1, len_k), as from a key padding mask
        mask = rng.random((batch, 1, 1, len_k)) > 0.3
        mask[..., 0] = True
        return mask
    if kind == "full":
        return rng.random((batch, heads, len_q, len_k)) > 0.5
    if kind == "plane":
        return rng.random((len_q, len_k)) > 0.4
    return rng.random((batch, 1, len_q, 1)) > 0.3  # whole query rows masked


def numpy_attention(q, k, v, mask, scale, causal):
    """Softmax attention as written in a textbook, fully masked rows zero."""
    scores = numpy.einsum("bhqd,bhkd->bhqk", q, k) * scale
    allowed = numpy.ones(scores.shape, bool)
    if mask is not None:
        allowed &= mask
    if causal:
        allowed &= numpy.tril(numpy.ones(scores.shape[-2:], bool))
    peak = numpy.where(allowed, scores, -numpy.inf).max(axis=-1, keepdims=True)
    peak = numpy.where(numpy.isfinite(peak), peak, 0)
    exps = numpy.where(allowed, numpy.exp(scores - peak), 0)
    total = exps.sum(axis=-1, keepdims=True)
    weights = exps / numpy.where(total > 0, total, 1)
    return numpy.einsum("bhqk,bhkd->bhqd", weights, v)


def random_inputs(rng, shape, dtype):
    batch, heads, len_q, len_k, dim, dim_v = shape
    q = rng.standard_normal((batch, heads, len_q, dim)).astype(dtype)
    k = rng.standard_normal((batch, heads, len_k, dim)).astype(dtype)
    v = rng.standard_normal((batch, heads, len_k, dim_v)).astype(dtype)
    return q, k, v


def assert_close(actual, expected, dtype):
    assert actual.dtype == numpy.dtype(dtype) and actual.shape == expected.shape
    tolerance = TOLERANCE[dtype]
    numpy.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def compare_with_reference(backend, reference, q, k, v, mask, scale, causal, rng):
    dtype = q.dtype.name
    out, logsumexp = reference.attention_forward(q, k, v, mask, scale, causal)
    on = backend.asarray
    got_out, got_logsumexp = backend.attention_forward(
        on(q), on(k), on(v), None if mask is None else on(mask), scale, causal
    )
    assert_close(backend.to_numpy(got_out), out, dtype)
    assert_close(backend.to_numpy(got_logsumexp), logsumexp, dtype)
    grad = rng.standard_normal(out.shape).astype(dtype)
    expected = reference.attention_backward(grad, q, k, v, out, logsumexp, mask, scale, causal)
    got = backend.attention_backward(
        on(grad), on(q), on(k), on(v), got_out, got_logsumexp,
        None if mask is None else on(mask), scale, causal,
    )  # fmt: skip
    for actual, wanted in zip(got, expected):
        assert_close(backend.to_numpy(actual), wanted, dtype)
        assert numpy.isfinite(backend.to_numpy(actual)).all()


# -- the reference ---------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES)
def test_reference_is_softmax_attention(reference, rng, shape, mask_kind, causal):
    q, k, v = random_inputs(rng, shape, "float64")
    mask = make_mask(mask_kind, rng, *shape[:4])
    out, logsumexp = reference.attention_forward(q, k, v, mask, 0.7, causal)
    numpy.testing.assert_allclose(out, numpy_attention(q, k, v, mask, 0.7, causal), atol=1e-12)
    scores = numpy.einsum("bhqd,bhkd->bhqk", q, k) * 0.7
    allowed = numpy.broadcast_to(True if mask is None else mask, scores.shape)
    if causal:
        allowed = allowed & numpy.tril(numpy.ones(scores.shape[-2:], bool))
    with numpy.errstate(divide="ignore"):
        expected = numpy.log(numpy.where(allowed, numpy.exp(scores), 0).sum(axis=-1))
    numpy.testing.assert_allclose(logsumexp, expected, atol=1e-12)


def test_reference_default_scale_is_one_over_sqrt_dim(reference, rng):
    q, k, v = random_inputs(rng, (1, 1, 3, 4, 9, 2), "float64")
    out, _ = reference.attention_forward(q, k, v)
    numpy.testing.assert_allclose(out, numpy_attention(q, k, v, None, 1 / 3, False))


# -- every backend against the reference -------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES)
def test_kernels_match_reference(backend, reference, rng, shape, mask_kind, causal, dtype):
    q, k, v = random_inputs(rng, shape, dtype)
    mask = make_mask(mask_kind, rng, *shape[:4])
    compare_with_reference(backend, reference, q, k, v, mask, None, causal, rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_with_every_key_masked_give_zeros_not_nan(backend, reference, rng, dtype):
    q, k, v = random_inputs(rng, (2, 2, 4, 3, 5, 2), dtype)
    mask = numpy.ones((2, 2, 4, 3), bool)
    mask[0, 1, 2] = False
    mask[1, :, 0] = False
    out, logsumexp = backend.attention_forward(*map(backend.asarray, (q, k, v, mask)))
    out, logsumexp = backend.to_numpy(out), backend.to_numpy(logsumexp)
    assert (out[0, 1, 2] == 0).all() and (out[1, :, 0] == 0).all()
    assert logsumexp[0, 1, 2] == -numpy.inf and (logsumexp[1, :, 0] == -numpy.inf).all()
    assert numpy.isfinite(out).all()
    grad = numpy.ones(out.shape, dtype)
    dq, dk, dv = map(
        backend.to_numpy,
        backend.attention_backward(*map(backend.asarray, (grad, q, k, v, out, logsumexp, mask))),
    )
    assert (dq[0, 1, 2] == 0).all() and (dq[1, :, 0] == 0).all()
    assert all(numpy.isfinite(g).all() for g in (dq, dk, dv))
    compare_with_reference(backend, reference, q, k, v, mask, None, False, rng)


def test_kernels_take_views_of_other_layouts(backend, reference, rng):
    """(batch, length, heads, dim) projections transposed to heads first, as attention layers
    make them: not C-contiguous."""
    q, k, v = (rng.standard_normal((2, n, 3, 4)).transpose(0, 2, 1, 3) for n in (5, 6, 6))
    mask = rng.random((2, 1, 1, 6)) > 0.3
    compare_with_reference(backend, reference, q, k, v, mask, 0.5, True, rng)


# -- the numba kernels' tiling -------------------------------------------------


@pytest.fixture
def small_tiles(monkeypatch):
    """The numba backend with tiles of 6 query rows by 10 keys, so that small inputs span
    several tiles, with partial ones at both edges and the 4x4 product's remainders."""
    pytest.importorskip("numba")
    import backends
    from backends import numba_attention

    monkeypatch.setattr(numba_attention, "FORWARD_BLOCKS", (6, 10))
    monkeypatch.setattr(numba_attention, "BACKWARD_BLOCKS", (6, 10))
    monkeypatch.setattr(numba_attention, "PANEL_MAX_KEYS", 0)  # every length goes by tiles
    return backends.get("numba")


@pytest.fixture
def small_panels(monkeypatch):
    """The numba backend's row panels with 6 queries and at most 150 scores each, so that
    small inputs span several panels of queries and of batch rows, partial ones included."""
    pytest.importorskip("numba")
    import backends
    from backends import numba_attention

    monkeypatch.setattr(numba_attention, "PANEL_ROWS", 6)
    monkeypatch.setattr(numba_attention, "PANEL_SCORES", 150)
    return backends.get("numba")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", [(3, 2, 23, 31, 5, 7), (2, 1, 5, 13, 8, 3)])
def test_numba_panels_match_reference(
    small_panels, reference, rng, shape, mask_kind, causal, dtype
):
    q, k, v = random_inputs(rng, shape, dtype)
    mask = make_mask(mask_kind, rng, *shape[:4])
    compare_with_reference(small_panels, reference, q, k, v, mask, None, causal, rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", [(1, 2, 23, 31, 5, 7), (2, 1, 40, 13, 8, 3)])
def test_numba_tiles_match_reference(small_tiles, reference, rng, shape, mask_kind, causal, dtype):
    q, k, v = random_inputs(rng, shape, dtype)
    q *= 4  # peaked softmax rows: later tiles raise the running maximum
    mask = make_mask(mask_kind, rng, *shape[:4])
    compare_with_reference(small_tiles, reference, q, k, v, mask, None, causal, rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mask_kind", [None, "full"])
@pytest.mark.parametrize("panel_max_keys", [512, 0], ids=["panels", "tiles"])
def test_numba_jobs_split_over_three_threads_match_one(
    monkeypatch, rng, mask_kind, dtype, panel_max_keys
):
    """The jobs (batch rows for panels, (batch, head) pairs for tiles) cut into three
    blocks on the kernel pool give, bit for bit, what one thread gives; and the split
    does happen."""
    pytest.importorskip("numba")
    import backends
    from backends import numba_attention, thread_pool

    monkeypatch.setattr(numba_attention, "PANEL_MAX_KEYS", panel_max_keys)
    numba = backends.get("numba")
    shape = (3, 4, 23, 31, 5, 7)
    q, k, v = random_inputs(rng, shape, dtype)
    mask = make_mask(mask_kind, rng, *shape[:4])
    grad = rng.standard_normal((*shape[:3], shape[5])).astype(dtype)

    def forward_backward():
        out, logsumexp = numba.attention_forward(q, k, v, mask, None, True)
        backward = numba.attention_backward(grad, q, k, v, out, logsumexp, mask, None, True)
        return out, logsumexp, *backward

    monkeypatch.setattr(thread_pool, "width", lambda: 1)
    serial = forward_backward()
    blocks = []
    run = thread_pool._Pool.run

    def counted_run(pool, function, argument_sets):
        blocks.append(len(argument_sets))
        run(pool, function, argument_sets)

    monkeypatch.setattr(thread_pool._Pool, "run", counted_run)
    monkeypatch.setattr(thread_pool, "width", lambda: 3)
    monkeypatch.setattr(numba_attention, "MIN_BLOCK_MACS", 1)
    split = forward_backward()
    assert blocks == [3, 3]
    for got, expected in zip(split, serial):
        numpy.testing.assert_array_equal(got, expected)


def test_numba_attention_memory_is_linear_in_length():
    """Forward + backward at length 4096 (float64, 2 heads, dim 32) raise the numba process's
    peak memory by what the linear arrays take (inputs, output, gradients, the kernels'
    transposed copies: about 25 MiB); one score matrix alone would take 256 MiB. So does
    the longest length that goes by row panels (2048: two panels of 4 MiB). The
    reference at length 2048 is measured as a control: its scores must show up."""
    pytest.importorskip("numba")
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak memory")
    script = textwrap.dedent(
        """
        import json, numpy, backends
        from backends import numba_attention

        def peak_mib():  # the peak resident memory since the last reset (VmHWM)
            with open("/proc/self/status") as status:
                line = next(line for line in status if line.startswith("VmHWM"))
            return int(line.split()[1]) / 1024

        def reset_peak():
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")

        def forward_backward(backend, length):
            rng = numpy.random.default_rng(0)
            q, k, v, grad = (rng.standard_normal((1, 2, length, 32)) for _ in range(4))
            out, logsumexp = backend.attention_forward(q, k, v, causal=True)
            backend.attention_backward(grad, q, k, v, out, logsumexp, causal=True)

        numba = backends.get("numba")
        # compile, or load from the cache, both paths: row panels and the online kernels
        forward_backward(numba, 64)
        forward_backward(numba, numba_attention.PANEL_MAX_KEYS + 1)
        reset_peak()
        before = peak_mib()
        forward_backward(numba, 4096)
        fused = peak_mib() - before
        reset_peak()
        before = peak_mib()
        forward_backward(numba, numba_attention.PANEL_MAX_KEYS)
        panels = peak_mib() - before
        reset_peak()
        before = peak_mib()
        forward_backward(backends.get("numpy"), 2048)
        print(json.dumps({"fused": fused, "panels": panels, "reference": peak_mib() - before}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    growth = json.loads(result.stdout.strip().splitlines()[-1])
    assert growth["reference"] > 128, growth  # the control: the measurement sees the scores
    assert growth["fused"] < 48, growth
    assert growth["panels"] < 48, growth  # the row panels at their longest keys


# -- cupy in simulation: the GPU's launch configuration ----------------------------


def test_cuda_kernels_with_the_real_launch_configuration(reference, rng):
    """The simulator's small launch runs in the tests above; this one runs 256 x 2 threads."""
    from backends import cupy_backend

    if not cupy_backend.simulation_enabled():
        pytest.skip("simulation mode is off: run with ENGINE_CUDA_SIM=1 NUMBA_ENABLE_CUDASIM=1")
    import backends

    cupy = backends.get("cupy")
    saved = cupy.threads_per_block, cupy.max_blocks
    cupy.threads_per_block, cupy.max_blocks = cupy_backend.THREADS_PER_BLOCK, 2
    try:
        for dtype in ("float32", "float64"):
            q, k, v = random_inputs(rng, (2, 2, 5, 4, 3, 2), dtype)
            mask = make_mask("full", rng, 2, 2, 5, 4)
            compare_with_reference(cupy, reference, q, k, v, mask, None, True, rng)
    finally:
        cupy.threads_per_block, cupy.max_blocks = saved


# -- the differentiable op ---------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "padding", "full"])
def test_op_gradients(backend, float64, rng, mask_kind, causal):
    q, k, v = random_inputs(rng, (2, 2, 4, 5, 3, 2), "float64")
    mask = make_mask(mask_kind, rng, 2, 2, 4, 5)

    def attention(query, key, value):
        return F.scaled_dot_product_attention(query, key, value, mask=mask, is_causal=causal)

    check_gradients(attention, q, k, v, backend=backend)


def test_op_gradients_with_masked_rows_and_a_scale(backend, float64, rng):
    q, k, v = random_inputs(rng, (1, 2, 3, 4, 2, 3), "float64")
    mask = engine.tensor(numpy.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 1]]), backend=backend)

    def attention(query, key, value):
        return F.scaled_dot_product_attention(query, key, value, mask=mask, scale=0.3)

    check_gradients(attention, q, k, v, backend=backend)


def _allowed(mask, causal, shape):
    allowed = numpy.ones(shape, bool) if mask is None else numpy.broadcast_to(mask, shape)
    return allowed & numpy.tril(numpy.ones(shape[-2:], bool)) if causal else allowed


@pytest.mark.parametrize("causal", [False, True])
def test_uniform_empty_rows_are_the_mean_of_the_values(backend, rng, causal):
    """``empty_rows="uniform"`` (Keras's ``dot_product_attention``): a query row left no
    key attends to all of them equally; the other rows are the textbook softmax."""
    q, k, v = random_inputs(rng, (2, 2, 4, 5, 3, 2), "float64")
    mask = rng.random((2, 1, 4, 5)) > 0.4
    mask[0, :, 1] = False  # a padded query position
    mask[1, :, 0, 0] = False  # with causal, row 0 of sample 1 is left no key
    tensors = [engine.tensor(a, backend=backend) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(
        *tensors, mask=mask, is_causal=causal, empty_rows="uniform"
    )
    empty = ~_allowed(mask, causal, (2, 2, 4, 5)).any(axis=-1)
    assert empty[0, :, 1].all() and empty[1, :, 0].all() == causal
    expected = numpy_attention(q, k, v, mask, 1 / math.sqrt(3), causal)
    expected[empty] = numpy.broadcast_to(v.mean(axis=2, keepdims=True), expected.shape)[empty]
    numpy.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    zeros = F.scaled_dot_product_attention(*tensors, mask=mask, is_causal=causal)
    assert numpy.all(zeros.numpy()[empty] == 0)
    numpy.testing.assert_array_equal(zeros.numpy()[~empty], out.numpy()[~empty])


def test_op_gradients_with_uniform_empty_rows(backend, float64, rng):
    """The values' gradient takes an empty row's share evenly; its query gets none, and the
    keys none from it (the masked scores are constants, as in Keras on JAX)."""
    q, k, v = random_inputs(rng, (1, 2, 3, 4, 2, 3), "float64")
    mask = numpy.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 1]], bool)

    def attention(query, key, value):
        return F.scaled_dot_product_attention(
            query, key, value, mask=mask, scale=0.3, empty_rows="uniform"
        )

    check_gradients(attention, q, k, v, backend=backend)
    query, key, value = (engine.tensor(a, backend=backend, requires_grad=True) for a in (q, k, v))
    attention(query, key, value)[:, :, 1].sum().backward()  # the empty row's output only
    assert numpy.all(query.grad.numpy() == 0) and numpy.all(key.grad.numpy() == 0)
    numpy.testing.assert_allclose(value.grad.numpy(), numpy.full(v.shape, 1 / 4), rtol=1e-12)


def test_op_forward_and_only_the_gradients_asked_for(backend, rng):
    q, k, v = random_inputs(rng, (2, 3, 4, 5, 6, 2), "float32")
    query = engine.tensor(q, backend=backend, requires_grad=True)
    key, value = engine.tensor(k, backend=backend), engine.tensor(v, backend=backend)
    out = F.scaled_dot_product_attention(query, key, value, is_causal=True)
    assert out.shape == (2, 3, 4, 2) and out.dtype == numpy.float32
    expected = numpy_attention(q, k, v, None, 1 / math.sqrt(6), True)
    numpy.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert query.grad.shape == q.shape and key.grad is None and value.grad is None
    with engine.no_grad():
        assert not F.scaled_dot_product_attention(query, key, value).requires_grad


def test_op_checks_its_inputs(rng):
    q, k, v = (engine.tensor(a) for a in random_inputs(rng, (1, 2, 3, 4, 5, 6), "float32"))
    with pytest.raises(ValueError, match="batch, heads, length, dim"):
        F.scaled_dot_product_attention(q.reshape(2, 3, 5), k, v)
    with pytest.raises(ValueError, match="same nonzero last dimension"):
        F.scaled_dot_product_attention(q, v, v)
    with pytest.raises(ValueError, match="same length"):
        F.scaled_dot_product_attention(q, k, v[:, :, :2])
    with pytest.raises(ValueError, match=r"does not broadcast.*\(1, 2, 3, 4\)"):
        F.scaled_dot_product_attention(q, k, v, mask=numpy.ones((3, 5), bool))
    with pytest.raises(TypeError, match="one float dtype"):
        F.scaled_dot_product_attention(q, k, engine.tensor(v.numpy().astype("float64")))
    with pytest.raises(ValueError, match="empty_rows must be 'zeros' or 'uniform'; got 'mean'"):
        F.scaled_dot_product_attention(q, k, v, empty_rows="mean")
