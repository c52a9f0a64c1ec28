"""Running a kernel module's native jobs (``numba_kernels/native_jobs.py``) on the threads.

``split`` runs a kernel in blocks on ``blas_threads``'s callback: job 0 on this
thread, the others on the kernel pool's spinning workers or on native helpers,
with no Python and no GIL in the hand-off. A kernel module provides, for a name
such as ``adam``, one job per dtype (``adam_job_float32``, ``adam_job_float64``:
plain functions, made ``numba.cfunc``s here at their first use) and a ``nogil``
driver (``adam_split``) that fills the job's record and calls the callback.
"""

import numba
import numpy

from . import blas_threads, numba_compile_ahead, thread_pool

# the jobs made ``numba.cfunc``s, by module and name: kept here for good, since a job's
# machine code lives only as long as its ``cfunc`` object
_compiled_jobs: dict = {}
#: a job is compiled (or loaded from the cache) from its kernel's ``START_AFTER``-th call
#: on, and not while a compile-ahead child runs: on a cold cache the first step's own
#: compiles keep both cores (W4's, measured while its projection's bias job was compiled
#: in a third process at once, ended 0.1-0.4 s later)
START_AFTER = 3
_requests: dict = {}


def split(
    module,
    name: str,
    words: int,
    arguments: tuple,
    count: int,
    min_block: int,
    packed: bool = False,
) -> bool:
    """``module.{name}_split(callback, job, parts, record, *arguments)``: the kernel over
    ``count`` units (elements, rows) in blocks of at least ``min_block``, on two threads
    or more, ``record`` holding ``words`` int64 words; the job's dtype is that of
    ``arguments[0]``. ``packed``: the driver is ``native_jobs.packed_split``, given ``count``
    and ``arguments`` as one tuple. False, doing nothing, where
    ``blas_threads`` is not installed, the work is too small for two blocks, or the job is
    not compiled yet."""
    if count < 2 * min_block or not blas_threads.installed():
        return False
    parts = min(thread_pool.width(), count // min_block)
    if parts < 2:
        return False
    job, driver = f"{name}_job_{arguments[0].dtype.name}", getattr(module, f"{name}_split")
    record = numpy.empty(words, numpy.int64)  # one per call: two threads may run at once
    callback = blas_threads.callback_address()
    compiled = _compiled_jobs.get((module, job))
    passed = (count, arguments) if packed else arguments
    if compiled is None:
        compiled = _compile(module, job, driver, (callback, 0, parts, record, *passed))
        if compiled is None:
            return False
    driver(callback, compiled.address, parts, record, *passed)
    return True


def run_packed(module, name: str, arguments: tuple, count: int, min_block: int, align: int = 1):
    """``module.{name}(*arguments, start, stop)`` over ``count`` units in blocks of at least
    ``min_block``: as native jobs with a packed record (``split(packed=True)``: the job
    ``{name}_job_<dtype>`` and ``native_jobs.packed_split``) where they can run, else on the
    kernel pool, in blocks on multiples of ``align``."""
    from .numba_kernels.native_jobs import PACKED_WORDS

    if not split(module, name, PACKED_WORDS, arguments, count, min_block, packed=True):
        kernel = getattr(module, name)
        thread_pool.run_blocks(kernel, *arguments, count=count, min_block=min_block, align=align)


def _compile(module, job: str, driver, arguments):
    """``module``'s function ``job`` made a ``numba.cfunc``; None while a child compiles
    it, and ``driver`` for ``arguments``' types, into the cache
    (``numba_compile_ahead.start_task``): on a cold cache they take ~0.6 s, which the
    first step would wait for. Meanwhile the caller runs its kernel on one thread."""
    from .numba_kernels.native_jobs import JOB_SIGNATURE

    function = getattr(module, job)
    key = f"{module.__name__}.{job}"  # numba_compile_ahead's name for the child's task
    calls = _requests[key] = _requests.get(key, 0) + 1
    if calls < START_AFTER or not numba_compile_ahead.finished(key):
        return None
    if numba_compile_ahead.busy():  # another child compiling: its turn first
        return None
    signature = tuple(numba.typeof(argument) for argument in arguments)

    def compile_both():
        numba.cfunc(JOB_SIGNATURE, cache=True)(function)
        driver.compile(signature)

    cold = numba_compile_ahead.cfunc_missing_from_cache(function, JOB_SIGNATURE)
    if cold or numba_compile_ahead.missing_from_cache(driver, signature):
        if numba_compile_ahead.start_task(key, compile_both):
            return None
    compiled = numba.cfunc(JOB_SIGNATURE, cache=True)(function)  # loads it, if cached
    _compiled_jobs[module, job] = compiled
    return compiled
