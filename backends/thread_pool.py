"""One pool of threads for the numba backend's kernels, with BLAS single-threaded inside it.

On a small machine two thread pools fight: OpenBLAS's workers spin for a while
after every GEMM, and any other thread that wants a core then waits for them
(measured on 2 cores: W4 training took 30 ms of CPU for 15 ms of wall time,
and splitting the LSTM rows over two threads gained nothing). So the numba
backend asks BLAS for one thread (``pin_blas``) and does the splitting itself:
``run_blocks`` cuts a row range into one block per thread and runs them on
this pool. A GEMM is split by rows of its output (``matmul``, unless OpenBLAS
splits it: see below), a sequence kernel by batch rows (as native jobs where it can:
``numba_native``), attention by batch rows
or (batch, head) jobs. Measured on the
idle 2-core machine, W4 and W6 steps took 11 and 47 ms instead of 15 and 58.
Against OpenBLAS's own two threads (same process, alternating rounds, 16:40
on the 2-core VM): W3 21.5 against 23.4 ms a step, W4 14.8 against 18.7, W6
44.4 against 54.7, W1 and W5 alike; W2 (mostly 128-row GEMMs) loses, 4.6
against 3.7 ms. Letting BLAS use its threads for the unsplit GEMMs won W2 back
but cost W4 and W6 a third (its spinning workers then take the core the pool's
blocks need).

A hand-off used to sleep on locks, and waking a sleeping worker costs 50-250 us
on a VM (an empty two-block hand-off: 58 us on the 2-core EPYC VM). Now each
side first spins on a flag for ``SPIN_TURNS`` turns, without the GIL, calling
``sched_yield`` at each turn (``_spin_until_set``), then sleeps on its lock; a worker announces
the end of its job from inside that spin, when it no longer holds the GIL that
the caller needs next. The empty hand-off took 14-19 us; what is left is mostly
the worker waiting for the GIL at the start (CPython's GIL waits sleep). The
yield matters: a spin that keeps its core starves any other thread that needs
it (with BLAS given two threads, W2 took 7.6 ms a step instead of 1.9). Steps,
same process, alternating rounds with and without the spin (two runs): W2 2.05
and 2.09 against 2.17 and 2.48 ms, W3 10.9 and 13.0 against 11.2 and 13.4, W4
6.5 and 7.5 against 6.7 and 7.6, W6 20.1 and 19.7 against 20.4 and 21.4.

Big 2-D products are the exception where ``blas_threads`` can install (Linux, NumPy's
OpenBLAS 0.3.27+): OpenBLAS's own parallel GEMM packs the right-hand matrix once
for all its jobs, and its jobs run on this pool's spinning workers (``_Worker._loop``
serves them through ``blas_threads.serve``) or on a native helper, never on
OpenBLAS's spinning threads. Same process, alternating: W2 1.59-1.62 against
1.86-1.93 ms a step; W3, W4 and W6 alike or slightly faster.

The width is ``engine.threads.get_num_threads()``; with one thread, or for
work too small to pay for a hand-off (15-60 us), everything runs on the
calling thread. Kernels given to the pool must release the GIL
(``nogil=True``), or the blocks run one after another.
"""

import _thread
import os
import threading

import numba
import numpy
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from . import blas_threads, core_contention

# A block hand-off costs 15-60 us (a spinning or a sleeping worker, 2-core EPYC VM); below
# this many multiply-adds a GEMM is not split.
MIN_SPLIT_MACS = 4_000_000

_local = threading.local()


# Each side of a hand-off spins this many turns (one sched_yield each: 0.18 us on a Xeon
# VM, ~0.5 us on the EPYC VM) before it sleeps on its lock; 0: always sleep (and on
# Windows, which has no sched_yield). At 1000 turns (0.18 ms on the Xeon) a worker was often
# asleep when a step's next big product came: W2's first backward product took 166 us
# (median) instead of 102. With 5000 (0.9 ms), alternating processes, two pairs each (ms
# a step): W2 1.35-1.39 against 1.42-1.47, W6 16.6-17.8 against 18.1-18.7, W3 8.5-9.0
# against 9.0-9.1, W4 5.2-5.5 against 5.4-5.5, W1 alike.
SPIN_TURNS = 0 if os.name == "nt" else 5000


@intrinsic
def _sched_yield(typingctx):  # pragma: no cover - compiled
    """libc's ``sched_yield()``: the spinning thread gives its core to any other runnable
    thread (a BLAS worker, say) instead of holding it for a whole time slice."""

    def codegen(context, builder, signature, args):
        function_type = ir.FunctionType(ir.IntType(32), [])
        function = cgutils.get_or_insert_function(builder.module, function_type, "sched_yield")
        return builder.call(function, [])

    return types.int32(), codegen


@numba.njit(nogil=True, cache=True)
def _spin_until_set(flags, index, turns, announce=-1):  # pragma: no cover - compiled
    """Whether ``flags[index]`` became non-zero within ``turns`` turns, without the GIL.

    First sets ``flags[announce]`` (unless it is negative): set here, with the GIL already
    released, it lets the thread that spins on it take the GIL without waiting. The call
    out to the system also keeps the compiler from reading the flag only once."""
    if announce >= 0:
        flags[announce] = 1
    for _ in range(turns):
        if flags[index] != 0:
            return True
        _sched_yield()
    return False


class _Worker:
    """A daemon thread that runs one job at a time, handed over through two locks.

    The locks carry the job and its end; ``flags`` (go, done) only let each side
    spin a while before it sleeps on a lock, so that a hand-off inside a training step
    does not wait for a sleeping CPU to wake. A flag set after the other side cleared
    it stays set until the next hand-off, whose waiting side then goes straight to its
    lock: slower once, never wrong. Measured against two variants (same process,
    alternating, 11 rounds): W2 1.73 ms a step against 2.05 with no spin and 1.89 with
    only the worker spinning on a job number; W4 5.24 against 5.56 and 5.56; W6 16.4
    against 17.1 and 17.1; W3 alike."""

    def __init__(self, index: int):
        self.index = index
        self.job = None
        self.error = None
        self.flags = numpy.zeros(2, numpy.int64)
        self.go = _thread.allocate_lock()
        self.go.acquire()
        self.finished = _thread.allocate_lock()
        self.finished.acquire()
        threading.Thread(target=self._loop, name=f"engine-kernel-{index}", daemon=True).start()

    def _loop(self) -> None:
        _local.in_pool = True
        flags = self.flags
        announce = -1  # the done flag, from the end of the first job on
        while True:
            if SPIN_TURNS and blas_threads.installed():
                # spinning, it also runs the OpenBLAS jobs posted for it (blas_threads)
                blas_threads.serve(flags, 0, SPIN_TURNS, announce, self.index)
            elif SPIN_TURNS:
                _spin_until_set(flags, 0, SPIN_TURNS, announce)
            elif announce >= 0:
                flags[announce] = 1
            self.go.acquire()
            flags[0] = 0
            function, args = self.job
            self.job = None
            try:
                function(*args)
            except BaseException as error:  # handed to the caller, which re-raises it
                self.error = error
            self.finished.release()
            announce = 1

    def start(self, function, args) -> None:
        self.job = (function, args)
        self.go.release()
        self.flags[0] = 1

    def wait(self) -> None:
        if SPIN_TURNS and blas_threads.installed():
            # the same spin, no slot: it runs no BLAS jobs, and nothing is jitted for it
            blas_threads.serve(self.flags, 1, SPIN_TURNS, -1, -1)
        elif SPIN_TURNS:
            _spin_until_set(self.flags, 1, SPIN_TURNS)
        self.finished.acquire()
        self.flags[1] = 0


class _Pool:
    """Workers for one caller at a time; the caller runs the first block itself.

    Plain locks rather than queues or events: a hand-off then costs ~30 us
    instead of ~110-160 us (measured, 2 cores). A caller that finds the pool
    busy (another Python thread's split) runs its blocks on its own thread.
    """

    def __init__(self):
        self._workers: list[_Worker] = []
        self._busy = _thread.allocate_lock()

    def run(self, function, argument_sets: list) -> None:
        """``function(*args)`` for each of ``argument_sets``, the first on this thread."""
        if not self._busy.acquire(blocking=False):
            for args in argument_sets:
                function(*args)
            return
        try:
            helpers = len(argument_sets) - 1
            while len(self._workers) < helpers:
                self._workers.append(_Worker(len(self._workers)))
            workers = self._workers[:helpers]
            for worker, args in zip(workers, argument_sets[1:], strict=True):
                worker.start(function, args)
            try:
                function(*argument_sets[0])
            finally:  # wait for every worker, and take their errors even if ours raised
                for worker in workers:
                    worker.wait()
                errors = [worker.error for worker in workers if worker.error is not None]
                for worker in workers:
                    worker.error = None
            if errors:
                raise errors[0]
        finally:
            self._busy.release()


_pool = _Pool()


def _reset_after_fork() -> None:
    global _pool
    _pool = _Pool()  # a forked child has none of the parent's worker threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


_get_num_threads = None


def configured_width() -> int:
    """The pool's width as set (``engine.set_num_threads``)."""
    global _get_num_threads
    if _get_num_threads is None:
        from engine.threads import get_num_threads  # here: engine imports backends

        _get_num_threads = get_num_threads
    return _get_num_threads()


def width() -> int:
    """How many threads a split uses now: 1 inside a pool worker (no nesting), and 1 while
    other processes hold the cores (``core_contention``)."""
    if getattr(_local, "in_pool", False):
        return 1
    threads = configured_width()
    if threads > 1 and core_contention.monitor.check(threads):
        return 1
    return threads


# The calling thread's block is this much longer than a worker's: a worker starts
# ~50-100 us after the hand-off (a sleeping CPU is woken), and a caller that finishes
# first sleeps and is woken again (~100-250 us on a VM, measured); a caller that
# finishes last does not wait at all.
CALLER_SHARE = 1.2


def blocks(
    count: int, parts: int, align: int = 1, first_weight: float = 1.0
) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges covering ``range(count)`` in at most ``parts`` pieces whose
    inner boundaries are multiples of ``align``: near-equal, except that the first is
    ``first_weight`` times as long as the others."""
    units = -(-count // align)
    parts = max(1, min(parts, units))
    total = first_weight + parts - 1
    cuts = [0.0] + [(first_weight + i) / total for i in range(parts - 1)] + [1.0]
    bounds = [min(count, round(units * cut) * align) for cut in cuts]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i] < bounds[i + 1]]


def run_blocks(kernel, *args, count: int, min_block: int = 1, align: int = 1) -> None:
    """``kernel(*args, start, stop)`` over ``range(count)``, one block per thread.

    Blocks are at least ``min_block`` long, so small work stays on this thread.
    """
    parts = min(width(), count // max(min_block, 1))
    if parts <= 1:
        kernel(*args, 0, count)
        return
    pieces = blocks(count, parts, align, CALLER_SHARE)
    _pool.run(kernel, [(*args, start, stop) for start, stop in pieces])


# dtypes whose products NumPy hands to BLAS (``blas_threads`` can split those)
_BLAS_DTYPES = frozenset(numpy.dtype(code) for code in "fdFD")


def _matmul_block(a, b, out, start, stop):
    numpy.matmul(a[start:stop], b, out=out[start:stop])


def _batched_matmul_block(a, b, out, start, stop):
    numpy.matmul(a[start:stop], b[start:stop], out=out[start:stop])


def _partial_matmul_block(a, b, out, start, stop):
    numpy.matmul(a[:, start:stop], b[start:stop], out=out)


# A product whose inner axis is this many times longer than either side of its output is
# split along that axis (``_inner_split_matmul``).
INNER_SPLIT_RATIO = 16


def _inner_split_matmul(a, b, parts: int):
    """``a @ b`` for a long inner axis and a small output: each thread multiplies one slice
    of the inner axis, and the partial products are summed.

    Weight gradients are such products (``x.T @ dy``, the inner axis running over every
    sample and time step or pixel). Split by output rows instead, every thread reads all of
    both operands. Xeon, 2 threads, two alternating rounds in one process (us, inner
    against row split): W6's ``(64, 4096) @ (4096, 64)`` 211-217 against 267-272,
    ``(64, 4096) @ (4096, 128)`` 364-380 against 427-442, ``(128, 4096) @ (4096, 64)``
    358-361 against 390-392. With a larger output the two are level (W4's ``(64, 3200) @
    (3200, 256)``: 546-578 against 554-572), hence the ratio.
    """
    pieces = blocks(a.shape[1], parts, align=16)  # whole cache lines of a C-contiguous ``b``
    partials = numpy.empty((len(pieces), a.shape[0], b.shape[1]), numpy.result_type(a, b))
    _pool.run(
        _partial_matmul_block,
        [(a, b, partial, start, stop) for partial, (start, stop) in zip(partials, pieces)],
    )
    out = partials[0]
    for partial in partials[1:]:
        out += partial
    return out


def _transposed_is_faster(a, b) -> bool:
    """Whether ``(b.T @ a.T).T`` beats ``a @ b`` on OpenBLAS's parallel GEMM: for a weight
    gradient ``x.T @ dy`` (``a`` a transposed view, the inner axis long) with fewer rows
    than columns. Xeon, 2 threads, float32, us, ``a @ b`` against the transposed product
    and its copy, three runs: W4's LSTM ``(64, 3200) @ (3200, 256)`` 548-565 against
    496-514, ``(33, 3200) @ (3200, 256)`` 421-437 against 363-391; ``(16, 2048) @ (2048,
    512)`` 382 against 273, ``(100, 5000) @ (5000, 400)`` 1950 against 1804, ``(64, 1024)
    @ (1024, 256)`` 187 against 183."""
    if a.ndim != 2:
        return False
    rows, inner = a.shape
    columns = b.shape[1]
    return (
        rows < columns
        and inner >= 2 * columns
        and a.flags.f_contiguous
        and b.flags.c_contiguous
        and not a.flags.c_contiguous
    )


def matmul(a, b):
    """``numpy.matmul(a, b)``, split between the pool's threads when it is big enough.

    A 2-D product is split by rows of its output, or along its inner axis when that
    is much longer (``INNER_SPLIT_RATIO``); ``(..., m, k) @ (k, n)`` is
    one 2-D product over the flattened leading axes; a batched product with
    equal leading axes is split along the first axis. Anything else, or fewer
    than ``MIN_SPLIT_MACS`` multiply-adds, is one ``numpy.matmul``. Where
    ``blas_threads`` is installed, a 2-D product of BLAS floats is OpenBLAS's own
    parallel GEMM instead of a row split, its jobs on ``blas_threads``'s helpers (a wide
    weight gradient as its transpose: ``_transposed_is_faster``).
    """
    # the size first: most products of a small model are not split, and width() costs ~1 us
    if a.ndim < 2 or b.ndim < 2 or a.size * b.shape[-1] < MIN_SPLIT_MACS or width() <= 1:
        return numpy.matmul(a, b)
    *lead, rows, inner = a.shape
    columns = b.shape[-1]
    if b.shape[-2] != inner:
        return numpy.matmul(a, b)  # NumPy's error
    dtype = numpy.result_type(a, b)
    if a.ndim == 2 and b.ndim == 2 and inner >= INNER_SPLIT_RATIO * max(rows, columns):
        return _inner_split_matmul(a, b, width())
    if b.ndim == 2:
        flat = a.reshape(-1, inner)
        if _blas_split and a.dtype is b.dtype and a.dtype in _BLAS_DTYPES:
            if _transposed_is_faster(a, b):
                return numpy.ascontiguousarray(blas_threads.matmul(b.T, a.T, width()).T)
            out = blas_threads.matmul(flat, b, width())  # b packed once, no Python hand-off
            return out.reshape(*lead, rows, columns)
        out = numpy.empty((flat.shape[0], columns), dtype)
        # whole blocks of 16 rows keep the threads off each other's cache lines
        run_blocks(_matmul_block, flat, b, out, count=flat.shape[0], min_block=16, align=16)
        return out.reshape(*lead, rows, columns)
    if a.shape[:-2] == b.shape[:-2] and a.shape[0] > 1:
        out = numpy.empty((*lead, rows, columns), dtype)
        run_blocks(_batched_matmul_block, a, b, out, count=a.shape[0])
        return out
    return numpy.matmul(a, b)


_blas_pinned = False
_blas_split = False  # whether matmul hands 2-D products to blas_threads


def pin_blas() -> bool:
    """Ask every BLAS library loaded in the process for one thread (once), and
    give NumPy's OpenBLAS's parallel jobs to ``blas_threads`` where it can.

    NumPy's BLAS, which the backend's products call, is loaded by then, and SciPy's too
    (Numba imports it); one loaded later is pinned by ``pin_scipy_blas`` when a kernel
    first needs it.

    Needs ``threadpoolctl``; returns False where it is missing (BLAS then keeps
    its own threads, as before).
    """
    global _blas_pinned, _blas_split
    if _blas_pinned:
        return True
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return False
    controller = ThreadpoolController()  # one look at the loaded libraries (~30 ms)
    controller.limit(limits=1, user_api="blas")
    _blas_pinned = True
    helpers = max(configured_width() - 1, 1)
    _blas_split = blas_threads.install(SPIN_TURNS, helpers, controller.info())
    return True


_scipy_blas_pinned = False


def pin_scipy_blas() -> None:
    """Load SciPy's BLAS and ask it for one thread (once), before a kernel that calls
    ``numpy.dot`` runs: Numba compiles that to a call into SciPy's BLAS.

    Unpinned, its threads fought the pool's (W4: 88 ms a step instead of 5.5). Numba
    0.68 already imports SciPy's BLAS when it is imported itself (``numba.np.arraymath``
    checks for it), so ``pin_blas`` normally finds and pins it; this covers a SciPy BLAS
    loaded only later (0.6 ms when it is already loaded and pinned).
    """
    global _scipy_blas_pinned
    if _scipy_blas_pinned:
        return
    import scipy.linalg.cython_blas  # noqa: F401

    _scipy_blas_pinned = True
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return
    controller = ThreadpoolController()
    # SciPy's own copy only (``scipy.libs/`` in a wheel): NumPy's keeps whatever the user
    # set since ``pin_blas``; where the two share one library, ``pin_blas`` pinned it
    scipy_libraries = [info["filepath"] for info in controller.info() if is_scipy_blas(info)]
    if scipy_libraries:
        controller.select(filepath=scipy_libraries).limit(limits=1)


def is_scipy_blas(info: dict) -> bool:
    """Whether a ``threadpoolctl`` library record is a BLAS that SciPy ships for itself."""
    return info["user_api"] == "blas" and f"{os.sep}scipy" in info["filepath"]
