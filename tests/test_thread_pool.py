"""The numba backend's kernel pool: blocks, splitting, errors, and BLAS on one thread.

``thread_pool.width`` is patched to more threads than this machine may have,
so that every split path runs here whatever the CPU count.
"""

import threading
import time

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import backends
from backends import thread_pool

pytest.importorskip("numba")


@pytest.fixture
def three_threads(monkeypatch):
    monkeypatch.setattr(thread_pool, "width", lambda: 3)


@given(count=st.integers(0, 200), parts=st.integers(1, 9), align=st.integers(1, 17))
def test_blocks_cover_the_range_once_on_aligned_boundaries(count, parts, align):
    pieces = thread_pool.blocks(count, parts, align)
    assert len(pieces) <= parts
    covered = [i for start, stop in pieces for i in range(start, stop)]
    assert covered == list(range(count))
    assert all(start % align == 0 for start, _ in pieces)


def test_run_blocks_uses_worker_threads_and_covers_every_row(three_threads):
    seen = {}
    lock = threading.Lock()

    def kernel(out, start, stop):
        with lock:
            seen[(start, stop)] = threading.current_thread().name
        out[start:stop] = numpy.arange(start, stop)

    out = numpy.full(30, -1)
    thread_pool.run_blocks(kernel, out, count=30)
    assert (out == numpy.arange(30)).all()
    assert len(seen) == 3
    assert sum(name.startswith("engine-kernel") for name in seen.values()) == 2


def test_small_work_and_one_thread_stay_on_the_calling_thread(monkeypatch):
    names = []

    def kernel(start, stop):
        names.append(threading.current_thread().name)

    monkeypatch.setattr(thread_pool, "width", lambda: 3)
    thread_pool.run_blocks(kernel, count=7, min_block=4)  # one block of at least 4 rows
    monkeypatch.setattr(thread_pool, "width", lambda: 1)
    thread_pool.run_blocks(kernel, count=100)
    assert names == [threading.current_thread().name] * 2


def test_an_error_in_a_worker_reaches_the_caller(three_threads):
    def kernel(start, stop):
        if start > 0:
            raise ValueError(f"block {start}")

    with pytest.raises(ValueError, match="block"):
        thread_pool.run_blocks(kernel, count=9)

    def every_block_fails(start, stop):
        raise ValueError(f"block {start}")

    with pytest.raises(ValueError, match="block 0"):  # the caller's own error wins
        thread_pool.run_blocks(every_block_fails, count=9)
    # the pool still works afterwards
    out = numpy.zeros(9)
    thread_pool.run_blocks(lambda o, a, b: o.__setitem__(slice(a, b), 1.0), out, count=9)
    assert out.sum() == 9


def test_a_block_inside_the_pool_does_not_split_again(monkeypatch):
    monkeypatch.setattr(thread_pool, "_get_num_threads", lambda: 3)
    widths = []
    caller = threading.current_thread()

    def kernel(start, stop):
        widths.append((threading.current_thread() is caller, thread_pool.width()))

    thread_pool.run_blocks(kernel, count=9)
    assert sorted(widths) == [(False, 1), (False, 1), (True, 3)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shapes",
    [
        ((300, 130), (130, 70)),  # rows split
        ((4, 50, 130), (130, 90)),  # leading axes flattened
        ((6, 40, 100), (6, 100, 60)),  # batched, split along the first axis
        ((1, 3, 200, 100), (1, 3, 100, 120)),  # batched, one in the first axis: not split
        ((10, 10), (10, 10)),  # too small to split
        ((40, 2003), (2003, 60)),  # split along the long inner axis, three uneven parts
    ],
)
def test_matmul_equals_numpy(three_threads, shapes, dtype):
    rng = numpy.random.default_rng(0)
    a, b = (rng.standard_normal(shape).astype(dtype) for shape in shapes)
    expected = numpy.matmul(a, b)
    got = thread_pool.matmul(a, b)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    # an inner split sums its partial products in another order
    tolerance = {"rtol": 1e-4, "atol": 1e-4}
    if dtype == "float64":
        tolerance = {"rtol": 1e-10, "atol": 1e-12}
    numpy.testing.assert_allclose(got, expected, **tolerance)
    # transposed (non-contiguous) operands, as the backward passes give them
    if a.ndim == 2:
        numpy.testing.assert_allclose(thread_pool.matmul(b.T, a.T), expected.T, **tolerance)


def test_a_long_inner_axis_is_split_into_partial_products(three_threads, monkeypatch):
    calls = []
    real_block = thread_pool._partial_matmul_block

    def spy(a, b, out, start, stop):
        calls.append((start, stop))
        real_block(a, b, out, start, stop)

    monkeypatch.setattr(thread_pool, "_partial_matmul_block", spy)
    rng = numpy.random.default_rng(1)
    x, dy = rng.standard_normal((4000, 48)), rng.standard_normal((4000, 64))
    numpy.testing.assert_allclose(thread_pool.matmul(x.T, dy), x.T @ dy, rtol=1e-10, atol=1e-12)
    assert sorted(calls) == [(0, 1328), (1328, 2672), (2672, 4000)]  # whole cache lines


def test_width_follows_set_num_threads():
    import engine

    before = engine.get_num_threads()
    try:
        engine.set_num_threads(1)
        assert thread_pool.width() == 1
    finally:
        engine.set_num_threads(before)
    assert thread_pool.width() == before


def test_numba_backend_puts_numpys_blas_on_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    backends.get("numba")
    blas = [
        info
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas" and "numpy" in info["filepath"]
    ]
    assert blas and all(info["num_threads"] == 1 for info in blas)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_rows_split_between_threads_equal_one_thread(monkeypatch, dtype):
    numba_backend = backends.get("numba")
    rng = numpy.random.default_rng(1)
    steps, batch, units = 5, 19, 6
    kernel = (rng.standard_normal((units, 4 * units)) * 0.5).astype(dtype)
    h0, c0 = (rng.standard_normal((batch, units)).astype(dtype) for _ in range(2))
    x_proj = rng.standard_normal((steps, batch, 4 * units)).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for shape in ((steps, batch, units),) * 1]
    dh, dc = (rng.standard_normal((batch, units)).astype(dtype) for _ in range(2))

    def run(threads):
        monkeypatch.setattr(thread_pool, "width", lambda: threads)
        forward = numba_backend.lstm_sequence_forward(x_proj.copy(), kernel, h0, c0)
        backward = numba_backend.lstm_sequence_backward(grads[0], dh, dc, kernel, forward[3])
        return [*forward[:3], *backward]

    for split, serial in zip(run(3), run(1), strict=True):
        numpy.testing.assert_array_equal(split, serial)


def test_two_python_threads_splitting_at_once_both_get_their_results(three_threads):
    rng = numpy.random.default_rng(2)
    pairs = [(rng.standard_normal((200, 120)), rng.standard_normal((120, 100))) for _ in range(2)]
    results = [[], []]

    def products(index):
        a, b = pairs[index]
        for _ in range(30):
            results[index].append(thread_pool.matmul(a, b))

    threads = [threading.Thread(target=products, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (a, b), got in zip(pairs, results, strict=True):
        assert len(got) == 30
        for product in got:
            numpy.testing.assert_allclose(product, a @ b, rtol=1e-12)


@pytest.mark.parametrize("update", ["sgd", "sgd_momentum", "adam", "amsgrad"])
def test_optimizer_updates_split_between_threads_equal_one_thread(monkeypatch, update):
    """A long parameter (over twice its split size) updated in slices on three
    threads, bit for bit as on one, and the split does happen. (Adam's native jobs,
    where ``blas_threads`` installs, are tested in test_blas_threads.py.)"""
    from backends import blas_threads, numba_dispatch

    cutoffs = (
        "MIN_SPLIT_ELEMENTS",
        "MIN_SPLIT_ONE_PASS",
        "MIN_SPLIT_ADAM",
        "MIN_NATIVE_SPLIT_ADAM",
    )
    for cutoff in cutoffs:
        monkeypatch.setattr(numba_dispatch, cutoff, 4096)
    monkeypatch.setattr(blas_threads, "installed", lambda: False)
    numba_backend = backends.get("numba")
    rng = numpy.random.default_rng(2)
    size = 2 * 4096 + 37
    param, grad, m, v, v_hat = (rng.standard_normal(size).astype("float32") for _ in range(5))
    v, v_hat = numpy.abs(v), numpy.abs(v_hat)
    calls = {
        "sgd": lambda s: numba_backend.sgd_update(s[0], grad, 0.1),
        "sgd_momentum": lambda s: numba_backend.sgd_momentum_update(s[0], grad, s[1], 0.1, 0.9),
        "adam": lambda s: numba_backend.adam_update(s[0], grad, s[1], s[2], 0.01, 0.9, 0.999, 1e-7),
        "amsgrad": lambda s: numba_backend.adam_update(
            s[0], grad, s[1], s[2], 0.01, 0.9, 0.999, 1e-7, s[3]
        ),
    }

    def run(threads):
        monkeypatch.setattr(thread_pool, "width", lambda: threads)
        state = [param.copy(), m.copy(), v.copy(), v_hat.copy()]
        calls[update](state)
        return state

    serial = run(1)
    blocks = []
    pool_run = thread_pool._Pool.run
    monkeypatch.setattr(
        thread_pool._Pool,
        "run",
        lambda pool, function, sets: blocks.append(len(sets)) or pool_run(pool, function, sets),
    )
    for split, expected in zip(run(3), serial, strict=True):
        numpy.testing.assert_array_equal(split, expected)
    assert blocks == [2], blocks  # two blocks of at least the split size
    assert not numpy.array_equal(serial[0], param)


def test_spin_sees_a_flag_set_by_another_thread_and_gives_up_after_its_turns():
    flags = numpy.zeros(2, numpy.int64)
    assert not thread_pool._spin_until_set(flags, 0, 1000)  # nobody sets it
    setter = threading.Timer(0.02, flags.__setitem__, (0, 1))
    setter.start()
    # 2**40 turns would take days, so True means that it saw the store
    assert thread_pool._spin_until_set(flags, 0, 1 << 40)
    setter.join()


@pytest.mark.parametrize("turns", [0, 50, thread_pool.SPIN_TURNS])
def test_hand_offs_are_right_whether_the_sides_spin_or_sleep(three_threads, monkeypatch, turns):
    """0 turns: every hand-off sleeps on the locks; 50: the spin often runs out first (some
    blocks take 1 ms); the default: each side spins. Hundreds of hand-offs in a row, with blocks of
    uneven length, so that either side may be first at the next one."""
    monkeypatch.setattr(thread_pool, "SPIN_TURNS", turns)

    def kernel(out, round_, start, stop):
        if (round_ + start) % 7 == 0:
            time.sleep(0.001)
        out[start:stop] = round_

    out = numpy.zeros(30, numpy.int64)
    for round_ in range(300):
        thread_pool.run_blocks(kernel, out, round_, count=30)
        assert (out == round_).all()


def test_scipys_blas_is_put_on_one_thread_before_kernels_call_it():
    """Numba compiles ``numpy.dot`` in the recurrent kernels to calls into SciPy's BLAS."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    thread_pool.pin_scipy_blas()
    libraries = threadpoolctl.threadpool_info()
    scipy_blas = [info for info in libraries if thread_pool.is_scipy_blas(info)]
    assert all(info["num_threads"] == 1 for info in scipy_blas)
    # a wheel's SciPy ships its own BLAS; elsewhere it shares NumPy's, pinned by pin_blas
    assert scipy_blas or all(i["num_threads"] == 1 for i in libraries if i["user_api"] == "blas")
