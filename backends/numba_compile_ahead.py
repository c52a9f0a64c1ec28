"""Compile a kernel in a forked child process while this process compiles another.

Numba compiles one function at a time (under its global compiler lock), and a
cold cache makes a model's first step wait for every kernel it uses: W4's
LSTM pair takes ~3.5 s, half of it the backward, which is needed only after
the forward has compiled and run; W3's convolution and pooling backward
kernels take ~2 s. A forward override (recurrent layers, convolution, pooling,
layer normalization, the fused softmax cross-entropies) calls ``start`` with
its backward kernel and arguments of the types the backward will call it
with; ``start`` forks a child that compiles the kernel for those types into
Numba's cache, on a second core, while this process goes on. ``wait``, called
before the kernel's first use, waits for the child, so that the call then
loads the kernel from the cache instead of compiling it.
``tests/test_numba_compile_ahead.py`` checks that each override asks for the
types its backward's call compiles.

Only where this can help and cannot hurt: Linux (``os.fork``), at least two
CPUs for this process and two threads for the numba backend's kernels
(``engine.set_num_threads(1)`` turns it off), no MPI in the process (a fork can
corrupt memory that an MPI library registered with its network card), the
kernel cached (``cache=True``) in a writable directory and not there yet for
this signature, and not turned off by ``ENGINE_NUMBA_COMPILE_AHEAD=0``. The
child only compiles (it runs no kernel and no Python code of the caller's) and
leaves through ``os._exit``. Anything that goes wrong costs only the time
saved: a child that fails, or runs past ``WAIT_SECONDS``, leaves the signature
uncached and the call compiles it here; short of memory, Linux kills the child
first (``make_expendable``).
"""

import os
import signal
import sys
import time
import warnings

import numba
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher

from . import thread_pool

#: the longest ``wait`` waits for a child (its compile normally takes seconds)
WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.002

# dispatcher or a task's key -> (child's pid, start time), for the children not yet
# waited for
_pending: dict = {}
# the dispatchers ``start`` was called for in this process
_tried: set = set()


def enabled() -> bool:
    """Whether ``start`` may fork here (the platform, the CPUs, the environment)."""
    if os.environ.get("ENGINE_NUMBA_COMPILE_AHEAD", "1") == "0":
        return False
    if not hasattr(os, "fork") or not hasattr(os, "sched_getaffinity"):
        return False
    if "mpi4py.MPI" in sys.modules:
        return False
    return len(os.sched_getaffinity(0)) >= 2 and thread_pool.width() >= 2


def start(dispatcher, example_args) -> bool:
    """Fork a child compiling ``dispatcher`` into the cache for the types of the arguments
    ``example_args()`` returns (as a call with them would compile it); False, doing nothing,
    where that would not help. Only the first call for a dispatcher in a process does
    anything, so a forward override calls this at every call for a set look-up."""
    if dispatcher in _tried:
        return False
    _tried.add(dispatcher)
    if not enabled():
        return False
    signature = tuple(numba.typeof(arg) for arg in example_args())
    if not missing_from_cache(dispatcher, signature):
        return False
    return _fork(dispatcher, lambda: dispatcher.compile(signature))


def start_task(key, task) -> bool:
    """Fork a child that runs ``task()``, a compile into Numba's cache of something that
    is not one dispatcher's signature (a ``numba.cfunc`` and the driver that calls it,
    say); ``finished(key)`` says when it is done. As ``start``: once per ``key`` in a
    process, and False, doing nothing, where compiling ahead is off."""
    if key in _tried:
        return False
    _tried.add(key)
    if not enabled():
        return False
    return _fork(key, task)


def _fork(key, task) -> bool:
    """Fork a child that runs ``task()`` and leaves, noted as ``key``'s; False if the fork
    fails (no memory or processes left for a child: the compile happens here, later)."""
    # The lock is held across the fork, so that no other thread of this process is inside
    # Numba's compiler when the child (which has only this thread) starts compiling; the
    # child touches nothing else another thread could hold (Python resets its own locks).
    # Python 3.12+ warns about any fork of a process with threads (the kernel pool's).
    with global_compiler_lock, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        try:
            pid = os.fork()
        except OSError:
            return False
        if pid == 0:
            _run_and_exit(task)
    _pending[key] = (pid, time.monotonic())
    return True


def finished(key) -> bool:
    """Whether ``key``'s child (``start_task``'s, or ``start``'s for a dispatcher) has
    ended, reaping it; True when there is none. Never waits: a child still running past
    ``WAIT_SECONDS`` is killed."""
    if not _pending or key not in _pending:
        return True
    pid, started = _pending[key]
    try:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() - started < WAIT_SECONDS:
                return False
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:  # already reaped elsewhere (SIGCHLD ignored, say)
        pass
    del _pending[key]
    return True


def wait(dispatcher) -> None:
    """Wait for ``dispatcher``'s child, if one is running or unreaped. Cheap when none is."""
    if not _pending or dispatcher not in _pending:
        return
    pid, _ = _pending.pop(dispatcher)
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(_POLL_SECONDS)
    except ChildProcessError:  # already reaped elsewhere (SIGCHLD ignored, say)
        pass


def pending() -> list:
    """The dispatchers (and tasks' keys) whose children were not waited for yet."""
    return list(_pending)


def busy() -> bool:
    """Whether a child started here still runs; those that ended are reaped (a forward's
    child whose backward never comes, as in inference, would otherwise count for good)."""
    return not all([finished(key) for key in list(_pending)])


def missing_from_cache(dispatcher, signature) -> bool:
    """Whether compiling ahead can help: ``dispatcher`` is jitted, caches to a writable
    directory, and has ``signature`` neither compiled here nor in its cache."""
    if not isinstance(dispatcher, Dispatcher) or signature in dispatcher.overloads:
        return False
    cache = dispatcher._cache
    return getattr(cache, "_enabled", False) and _missing(cache, signature, dispatcher.targetctx)


def cfunc_missing_from_cache(py_func, signature) -> bool:
    """Whether ``numba.cfunc(signature, cache=True)(py_func)`` would compile (rather than
    load from a writable cache): as ``missing_from_cache``, for a C callback."""
    from numba.core.caching import FunctionCache
    from numba.core.registry import cpu_target

    try:
        cache = FunctionCache(py_func)
    except Exception:  # no file to cache next to (a function typed in at a prompt)
        return False
    return _missing(cache, signature, cpu_target.target_context)


def _missing(cache, signature, target_context) -> bool:
    """Whether Numba's ``cache`` has a writable directory and no entry for ``signature``."""
    try:  # Numba's cache internals: any change in them turns compiling ahead off
        cache._impl.locator.ensure_cache_path()
        if not os.access(cache.cache_path, os.W_OK):
            return False
        key = cache._index_key(signature, target_context.codegen())
        return key not in cache._cache_file._load_index()
    except Exception:
        return False


def _run_and_exit(task) -> None:
    """The child's whole life: compile into the cache, then leave without running the
    parent's exit handlers or flushing its buffers. It writes nothing: a warning would go
    to the parent's ``sys.stderr``, which in a notebook is a socket of the parent's."""
    status = 1
    try:
        make_expendable()
        warnings.simplefilter("ignore")
        task()
        status = 0
    finally:
        os._exit(status)


def make_expendable() -> None:
    """Ask Linux to kill this process first when memory runs out (an unprivileged process
    may raise its own ``oom_score_adj``): a child compiling ahead takes ~100-300 MB, and
    losing it costs only the time it would have saved, losing the parent its training."""
    try:
        with open("/proc/self/oom_score_adj", "w") as adjustment:
            adjustment.write("1000")
    except OSError:
        pass
