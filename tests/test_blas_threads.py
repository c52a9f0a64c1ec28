"""OpenBLAS's parallel jobs on our helpers and pool workers (``backends/blas_threads.py``).

Each product is checked against NumPy's on one BLAS thread; the counters say which
threads ran the jobs, so that each path (helper, pool worker, more jobs than helpers,
several callers at once, a forked child) is known to have run.
"""

import os
import sys
import threading
import time

import numpy
import pytest

import backends
from backends import blas_threads, thread_pool

pytest.importorskip("numba")


@pytest.fixture(scope="module")
def installed():
    backends.get("numba")  # pins BLAS to one thread and installs the callback
    if not blas_threads.installed():
        threadpoolctl = pytest.importorskip("threadpoolctl")
        wheel = os.path.dirname(numpy.__file__)
        if sys.platform.startswith("linux") and any(
            info["internal_api"] == "openblas" and info["filepath"].startswith(wheel)
            for info in threadpoolctl.threadpool_info()
        ):
            pytest.fail("NumPy's own OpenBLAS is loaded, but the callback did not install")
        pytest.skip("NumPy's BLAS is not OpenBLAS with pthreads on Linux (the pool splits)")


def _fill(out, value, start, stop):
    out[start:stop] = value


def _operands(rng, shape_a, shape_b, dtype, transposed):
    def make(shape, flip):
        x = rng.standard_normal(shape[::-1] if flip else shape)
        if numpy.dtype(dtype).kind == "c":
            x = x + 1j * rng.standard_normal(x.shape)
        x = x.astype(dtype)
        return x.T if flip else x

    return make(shape_a, transposed == "a"), make(shape_b, transposed == "b")


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("transposed", [None, "a", "b"])
@pytest.mark.parametrize("threads", [2, 3])
def test_products_split_by_openblas_equal_one_thread(installed, dtype, transposed, threads):
    rng = numpy.random.default_rng(0)
    a, b = _operands(rng, (150, 300), (300, 200), dtype, transposed)
    expected = numpy.matmul(a, b)  # BLAS on one thread: nothing reaches the callback
    before = blas_threads.counts()
    got = blas_threads.matmul(a, b, threads)
    after = blas_threads.counts()
    assert after["calls"] > before["calls"]  # OpenBLAS did hand us its jobs
    jobs = sum(after[key] - before[key] for key in ("pool_jobs", "helper_jobs"))
    assert jobs >= after["calls"] - before["calls"]
    tolerance = 1e-5 if dtype in ("float32", "complex64") else 1e-12
    numpy.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_matrix_vector_products_split_too(installed):
    rng = numpy.random.default_rng(1)
    a, x = rng.standard_normal((2000, 1500)), rng.standard_normal(1500)
    numpy.testing.assert_allclose(blas_threads.matmul(a, x, 2), a @ x, rtol=1e-12)


def test_a_call_with_more_jobs_than_helpers_starts_more(installed):
    rng = numpy.random.default_rng(2)
    a, b = rng.standard_normal((400, 300)), rng.standard_normal((300, 400))
    wanted = 4
    got = blas_threads.matmul(a, b, wanted)
    numpy.testing.assert_allclose(got, a @ b, rtol=1e-12)
    helpers = int(blas_threads._native.words[blas_threads._HELPER_COUNT_AT // 8])
    assert helpers >= wanted - 1


def test_a_spinning_pool_worker_runs_the_jobs_and_a_sleeping_one_leaves_them_to_helpers(
    installed, monkeypatch
):
    monkeypatch.setattr(thread_pool, "width", lambda: 2)
    rng = numpy.random.default_rng(3)
    a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 300))

    def product_after_a_pool_run():
        thread_pool.run_blocks(_fill, numpy.zeros(64), 1.0, count=64)
        return blas_threads.matmul(a, b, 2)

    monkeypatch.setattr(thread_pool, "SPIN_TURNS", 1 << 40)  # the worker spins until its next job
    product_after_a_pool_run()  # the worker's loop now spins in blas_threads.serve
    before = blas_threads.counts()
    for _ in range(20):
        numpy.testing.assert_allclose(product_after_a_pool_run(), a @ b, rtol=1e-12)
    after = blas_threads.counts()
    assert after["pool_jobs"] - before["pool_jobs"] >= 20

    monkeypatch.setattr(thread_pool, "SPIN_TURNS", 0)  # the worker sleeps on its lock
    product_after_a_pool_run()
    before = blas_threads.counts()
    for _ in range(20):
        numpy.testing.assert_allclose(product_after_a_pool_run(), a @ b, rtol=1e-12)
    after = blas_threads.counts()
    assert after["helper_jobs"] - before["helper_jobs"] >= 20
    assert after["pool_jobs"] == before["pool_jobs"]


@pytest.mark.parametrize("turns", [0, 3, 1000])
def test_hand_offs_are_right_when_worker_spins_end_around_the_posts(installed, monkeypatch, turns):
    """Short spins end while jobs are being posted: each job must still run exactly once,
    by the worker (it looks at its slot again after it stops spinning) or by the helper."""
    monkeypatch.setattr(thread_pool, "width", lambda: 2)
    monkeypatch.setattr(thread_pool, "SPIN_TURNS", turns)
    blas_threads.set_spin_turns(turns)
    try:
        rng = numpy.random.default_rng(4)
        a, b = rng.standard_normal((200, 150)), rng.standard_normal((150, 180))
        expected = a @ b
        out = numpy.zeros(32)
        for round_ in range(200):
            thread_pool.run_blocks(_fill, out, round_, count=32)
            assert (out == round_).all()
            numpy.testing.assert_allclose(blas_threads.matmul(a, b, 2), expected, rtol=1e-12)
    finally:
        blas_threads.set_spin_turns(thread_pool.SPIN_TURNS)


def test_python_threads_calling_at_once_take_turns_on_the_helpers(installed):
    rng = numpy.random.default_rng(5)
    pairs = [(rng.standard_normal((250, 200)), rng.standard_normal((200, 220))) for _ in range(3)]
    failures = []

    def products(a, b):
        expected = a @ b
        for _ in range(40):
            if not numpy.allclose(blas_threads.matmul(a, b, 2), expected, rtol=1e-12):
                failures.append("wrong product")

    threads = [threading.Thread(target=products, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    # each caller raised OpenBLAS's thread count and put it back: one thread again
    threadpoolctl = pytest.importorskip("threadpoolctl")
    numpys = [i for i in threadpoolctl.threadpool_info() if "numpy" in i["filepath"]]
    assert [info["num_threads"] for info in numpys] == [1]


def test_thread_pool_matmul_hands_big_float_products_to_openblas(installed, monkeypatch):
    monkeypatch.setattr(thread_pool, "width", lambda: 2)
    rng = numpy.random.default_rng(6)
    a, b = rng.standard_normal((4, 100, 300)), rng.standard_normal((300, 200))  # 24M MACs
    before = blas_threads.counts()["calls"]
    numpy.testing.assert_allclose(thread_pool.matmul(a, b), a @ b, rtol=1e-12)
    assert blas_threads.counts()["calls"] > before
    # integers are not BLAS's: the pool splits their rows
    ints = rng.integers(-5, 5, (400, 300)), rng.integers(-5, 5, (300, 200))
    before = blas_threads.counts()["calls"]
    numpy.testing.assert_array_equal(thread_pool.matmul(*ints), ints[0] @ ints[1])
    assert blas_threads.counts()["calls"] == before


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_wide_weight_gradient_is_the_transposed_product(installed, monkeypatch, dtype):
    """``x.T @ dy`` with fewer rows than columns and a long inner axis runs as
    ``(dy.T @ x).T`` (faster on OpenBLAS's parallel GEMM), and comes back C-contiguous;
    other shapes and layouts keep their product."""
    monkeypatch.setattr(thread_pool, "width", lambda: 2)
    calls = []
    real = blas_threads.matmul
    monkeypatch.setattr(
        blas_threads, "matmul", lambda a, b, t: calls.append((a.shape, b.shape)) or real(a, b, t)
    )
    rng = numpy.random.default_rng(7)
    x, dy = rng.standard_normal((1600, 40)).astype(dtype), rng.standard_normal((1600, 128))
    dy = dy.astype(dtype)
    product = thread_pool.matmul(x.T, dy)
    assert calls == [((128, 1600), (1600, 40))]
    assert product.shape == (40, 128) and product.flags.c_contiguous
    numpy.testing.assert_allclose(product, x.T @ dy, rtol=1e-4 if dtype == "float32" else 1e-12)
    calls.clear()
    wide = rng.standard_normal((1600, 120)).astype(dtype)
    thread_pool.matmul(wide.T, x)  # more rows than columns
    thread_pool.matmul(numpy.ascontiguousarray(x.T), dy)  # not a transposed view
    assert calls == [((120, 1600), (1600, 40)), ((40, 1600), (1600, 128))]


def compiled_here(monkeypatch, job):
    """No child compiles ``job`` ahead (on a cold cache the first update would run on one
    thread while one does: ``tests/test_numba_compile_ahead.py``); any still running ends."""
    from backends import numba_compile_ahead, numba_native

    deadline = time.monotonic() + 120
    while not numba_compile_ahead.finished(job):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    monkeypatch.setattr(numba_compile_ahead, "enabled", lambda: False)
    monkeypatch.setattr(numba_native, "START_AFTER", 1)  # split from the first call
    monkeypatch.setattr(numba_compile_ahead, "busy", lambda: False)  # others' children aside


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("threads", [2, 3])
def test_adam_runs_as_native_jobs_bit_for_bit_as_on_one_thread(
    installed, monkeypatch, dtype, amsgrad, threads
):
    """A weight over twice the native split size: Adam's jobs go through the callback (not
    the Python pool), every element is updated once, exactly as on one thread."""
    from backends import numba_dispatch

    monkeypatch.setattr(numba_dispatch, "MIN_NATIVE_SPLIT_ADAM", 1000)
    job = f"backends.numba_kernels.optimizers.{'amsgrad' if amsgrad else 'adam'}_job_{dtype}"
    compiled_here(monkeypatch, job)
    numba_backend = backends.get("numba")
    rng = numpy.random.default_rng(8)
    shape = (61, 97)  # 5917 elements: blocks of 1000 or more, a ragged last one
    param, grad, m = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    v, v_hat = (numpy.abs(rng.standard_normal(shape)).astype(dtype) for _ in range(2))

    def update(width):
        monkeypatch.setattr(thread_pool, "width", lambda: width)
        state = [param.copy(), m.copy(), v.copy()] + ([v_hat.copy()] if amsgrad else [])
        for _ in range(3):
            numba_backend.adam_update(
                state[0], grad, *state[1:3], 0.01, 0.9, 0.999, 1e-7, *state[3:]
            )
        return state

    serial = update(1)
    monkeypatch.setattr(
        thread_pool._Pool, "run", lambda *args: pytest.fail("the Python pool was used")
    )
    before = blas_threads.counts()
    split = update(threads)
    after = blas_threads.counts()
    assert after["calls"] - before["calls"] == 3
    jobs = sum(after[key] - before[key] for key in ("pool_jobs", "helper_jobs"))
    assert jobs == 3 * (threads - 1)  # job 0 of each call runs on the caller
    for got, expected in zip(split, serial, strict=True):
        numpy.testing.assert_array_equal(got, expected)
    assert not numpy.array_equal(serial[0], param)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("threads", [2, 3])
def test_a_products_bias_is_added_as_native_jobs_as_on_one_thread(
    installed, monkeypatch, dtype, relu, threads
):
    """``dense_forward``'s bias and ``bias_activation_forward``'s bias + relu over blocks of
    rows in native jobs: the reference's values, bit for bit, every row once."""
    from backends import numba_backend as numba_module
    from backends import numba_dispatch
    from backends.base import Backend

    monkeypatch.setattr(numba_dispatch, "MIN_NATIVE_SPLIT_BIAS", 500)
    monkeypatch.setattr(numba_module, "MIN_SPLIT_BIAS_ELEMENTS", 0)  # past the small path
    name = "add_bias_relu" if relu else "add_bias"
    compiled_here(monkeypatch, f"backends.numba_kernels.conv.{name}_job_{dtype}")
    monkeypatch.setattr(thread_pool, "width", lambda: threads)
    monkeypatch.setattr(thread_pool._Pool, "run", lambda *a: pytest.fail("the Python pool ran"))
    numba_backend, reference = backends.get("numba"), Backend()
    rng = numpy.random.default_rng(9)
    x, kernel, bias = (
        rng.standard_normal(shape).astype(dtype) for shape in ((203, 7), (7, 45), 45)
    )
    before = blas_threads.counts()
    if relu:
        got = numba_backend.bias_activation_forward(x @ kernel, bias, "relu")
        expected = reference.bias_activation_forward(x @ kernel, bias, "relu")
    else:
        got = numba_backend.dense_forward(x, kernel, bias)
        expected = reference.dense_forward(x, kernel, bias)
    after = blas_threads.counts()
    assert after["calls"] - before["calls"] == 1  # 203 rows of 45: blocks of 12 rows or more
    jobs = sum(after[key] - before[key] for key in ("pool_jobs", "helper_jobs"))
    assert jobs == threads - 1
    numpy.testing.assert_array_equal(got, expected)
    assert (got == 0).any() == relu


def _sequence_pass(numba_backend, cell, arrays, mask):
    """A sequence kernel's forward and backward through the backend: every array they give."""
    x_proj, kernel, bias, h0, c0, grad = (array.copy() for array in arrays)  # x_proj is consumed
    if cell == "lstm":  # each with the inputs' gradient, of an input kernel of 3 features
        outputs, h, c, cache = numba_backend.lstm_sequence_forward(x_proj, kernel, h0, c0, mask)
        backward = numba_backend.lstm_sequence_backward_inputs(
            grad, h0, c0, kernel, kernel[:3], cache, mask
        )
        return (outputs, h, c, *backward)
    if cell == "gru":
        outputs, h, cache = numba_backend.gru_sequence_forward(x_proj, kernel, bias, h0, mask)
        backward = numba_backend.gru_sequence_backward_inputs(
            grad, h0, kernel, kernel[:3], cache, mask
        )
        return (outputs, h, *backward)
    outputs, h, cache = numba_backend.simple_rnn_sequence_forward(x_proj, kernel, h0, mask)
    backward = numba_backend.simple_rnn_sequence_backward_inputs(
        grad, h0, kernel, kernel[:3], cache, mask
    )
    return (outputs, h, *backward)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize(("dtype", "masked"), [("float32", False), ("float64", True)])
def test_recurrent_sequences_run_as_native_jobs_bit_for_bit_as_on_one_thread(
    installed, monkeypatch, cell, dtype, masked
):
    """Each sequence kernel, forward and backward, splits its batch rows into native jobs
    (not the Python pool) on multiples of 8 rows, and gives one thread's bits."""
    threads, steps, batch, units = 3, 4, 37, 8  # blocks of 8, 16 and 13 rows
    for direction in ("forward", "backward"):
        compiled_here(
            monkeypatch, f"backends.numba_kernels.recurrent.{cell}_{direction}_job_{dtype}"
        )
    numba_backend = backends.get("numba")
    rng = numpy.random.default_rng(10)
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell] * units
    shapes = [(steps, batch, gates), (units, gates), (gates,), (batch, units), (batch, units)]
    arrays = [(0.5 * rng.standard_normal(shape)).astype(dtype) for shape in shapes]
    arrays.append(rng.standard_normal((steps, batch, units)).astype(dtype))
    mask = rng.random((steps, batch)) < 0.8 if masked else None

    def run(width):
        monkeypatch.setattr(thread_pool, "width", lambda: width)
        return _sequence_pass(numba_backend, cell, arrays, mask)

    serial = run(1)
    monkeypatch.setattr(thread_pool._Pool, "run", lambda *a: pytest.fail("the Python pool ran"))
    before = blas_threads.counts()
    split = run(threads)
    after = blas_threads.counts()
    assert after["calls"] - before["calls"] == 2  # the forward and the backward
    jobs = sum(after[key] - before[key] for key in ("pool_jobs", "helper_jobs"))
    assert jobs == 2 * (threads - 1)
    assert len(split) == len(serial)
    for got, expected in zip(split, serial, strict=True):
        if expected is not None:
            numpy.testing.assert_array_equal(got, expected)
    assert not numpy.array_equal(serial[0][-1], serial[0][0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_normalization_runs_as_native_jobs_bit_for_bit_as_on_the_pool(
    installed, monkeypatch, dtype
):
    """Forward and backward split their rows (the backward its row blocks) into native
    jobs, not the Python pool, and give the pool's bits on the same blocks."""
    from backends import numba_dispatch, numba_native

    monkeypatch.setattr(numba_dispatch, "MIN_SPLIT_ELEMENTS", 600)
    for direction in ("forward", "backward"):
        compiled_here(
            monkeypatch, f"backends.numba_kernels.normalization.layer_norm_{direction}_job_{dtype}"
        )
    monkeypatch.setattr(thread_pool, "width", lambda: 3)
    numba_backend = backends.get("numba")
    rng = numpy.random.default_rng(11)
    x, dy = (rng.standard_normal((203, 24)).astype(dtype) for _ in range(2))  # 3 jobs each way
    gamma, beta = (rng.standard_normal(24).astype(dtype) for _ in range(2))

    def run():
        y, mean, variance = numba_backend.layer_norm_forward(x, gamma, beta, 1e-3)
        return (
            y,
            mean,
            variance,
            *numba_backend.layer_norm_backward(dy, x, mean, variance, gamma, 1e-3),
        )

    split = numba_native.split
    monkeypatch.setattr(numba_native, "split", lambda *args, **kwargs: False)
    on_the_pool = run()
    monkeypatch.setattr(numba_native, "split", split)
    monkeypatch.setattr(thread_pool._Pool, "run", lambda *a: pytest.fail("the Python pool ran"))
    before = blas_threads.counts()
    native = run()
    after = blas_threads.counts()
    assert after["calls"] - before["calls"] == 2
    jobs = sum(after[key] - before[key] for key in ("pool_jobs", "helper_jobs"))
    assert jobs == 2 * 2
    for got, expected in zip(native, on_the_pool, strict=True):
        numpy.testing.assert_array_equal(got, expected)


def test_a_job_record_holds_arrays_integers_and_floats_and_refuses_strided_arrays():
    """``put_argument`` writes an array's address and shape, an integer as it is, a float as
    its float64 bits; an array a job would misread (not C-contiguous) does not compile."""
    import numba

    from backends.numba_kernels.native_jobs import job_matrix, put_argument, scalar

    @numba.njit
    def round_trip(record, array, integer, number):
        word = put_argument(record, 0, array)
        word = put_argument(record, word, integer)
        put_argument(record, word, number)
        back, after = job_matrix(record, 0, array.dtype)
        return back.copy(), record[after], scalar(record, after + 1)

    record = numpy.zeros(8, numpy.int64)
    array = numpy.arange(6.0).reshape(2, 3)
    back, integer, number = round_trip(record, array, 7, numpy.float32(0.25))
    numpy.testing.assert_array_equal(back, array)
    assert list(record[1:3]) == [2, 3] and integer == 7 and number == 0.25
    with pytest.raises(numba.core.errors.TypingError, match="C-contiguous"):
        round_trip(record, array[:, ::2], 7, 0.25)


def test_a_packed_record_too_short_for_its_arguments_is_refused_before_any_write():
    from backends.numba_kernels.native_jobs import packed_split

    record = numpy.full(5, -1, numpy.int64)  # the header and one 3-D array need 6 words
    with pytest.raises(ValueError, match="do not fit"):
        packed_split(0, 0, 2, record, 4, (numpy.zeros((4, 2, 3)),))
    assert (record == -1).all()  # the longest real list, GRU's backward, runs in the tests


def test_native_job_blocks_cover_the_range_once_on_aligned_boundaries():
    from backends.numba_kernels.native_jobs import ALIGN, block

    for count in (0, 1, 15, 16, 17, 1000, 5917, 65536):
        for parts in (1, 2, 3, 7):
            bounds = [block(count, parts, index) for index in range(parts)]
            assert bounds[0][0] == 0 and bounds[-1][1] == count
            for (_, stop), (start, _) in zip(bounds, bounds[1:]):
                assert stop == start and (start % ALIGN == 0 or start == count)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_helpers(installed):
    rng = numpy.random.default_rng(7)
    a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 300))
    expected = blas_threads.matmul(a, b, 2)  # the parent's helpers exist now
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        ok = numpy.allclose(blas_threads.matmul(a, b, 2), expected, rtol=1e-12)
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(child, 0)
    assert answer == b"1"


def test_only_numpys_own_pthreads_openblas_is_chosen(monkeypatch):
    """Which library gets the callback: NumPy's wheel copy of OpenBLAS if it is loaded,
    the only OpenBLAS otherwise; never an OpenMP build, MKL, or one of several strangers."""
    opened = []
    monkeypatch.setattr(blas_threads.ctypes, "CDLL", lambda path: opened.append(path) or path)
    wheel = os.path.join(os.path.dirname(numpy.__file__) + ".libs", "libscipy_openblas64_.so")
    scipys = "/site-packages/scipy.libs/libscipy_openblas-1.so"

    def info(path, api="openblas", layer="pthreads"):
        return {"internal_api": api, "threading_layer": layer, "filepath": path}

    assert blas_threads._numpy_openblas([info(scipys), info(wheel)]) == wheel
    assert blas_threads._numpy_openblas([info(scipys)]) == scipys  # a system NumPy's
    assert blas_threads._numpy_openblas([info(scipys), info("/usr/lib/libopenblas.so")]) is None
    assert blas_threads._numpy_openblas([info(wheel, layer="openmp")]) is None
    assert blas_threads._numpy_openblas([info("/opt/libmkl_rt.so", api="mkl")]) is None
    assert blas_threads._numpy_openblas([]) is None
    assert opened == [wheel, scipys]
