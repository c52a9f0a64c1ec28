"""OpenBLAS's own parallel GEMM, with its jobs run on native helper threads of ours.

A GEMM split by rows on the kernel pool (``thread_pool.matmul``) packs the right-hand
matrix once per block and pays a Python hand-off; OpenBLAS's own threads pack it
once for all and were faster on every shape measured (2-core EPYC VM: 128x784x256
288-306 us against 314-412, 3200x64x256 577 against 657-679). But OpenBLAS's
workers spin for a while after every call, and on a small machine they then take
the cores that the pool's next blocks need (W4 and W6 a third slower).

OpenBLAS 0.3.27 and later can hand its parallel jobs to the caller instead
(``openblas_set_threads_callback_function``). ``install`` gives it a callback,
compiled here from LLVM IR (~7 ms at start-up; no Numba, so nothing cached), that
runs job 0 on the calling thread and posts each other job to a slot, all to run at
the same time (the jobs of a level-3 call wait for each other's packed panels: one
after another they would deadlock). A posted job is run by the kernel pool's worker
for that slot if it is spinning (its spin loop is ``serve``, which claims the job
with a compare-and-swap), else by the slot's native helper, a plain pthread that
never touches Python, woken through a semaphore. After a job a helper spins a while,
yielding its core at each turn, but only while no pool worker spins: one spinning
thread per core. OpenBLAS's own workers never run again. With helpers alone W4 and W6
were 17% and 7% slower: the BLAS calls left the pool's worker asleep for the next
pool job. Same process, alternating, two threads: 128x784x256 289-293 us against
315-369 split by rows, 4096x64x64 189-194 against 219.

The process keeps BLAS on one thread (``thread_pool.pin_blas``); ``matmul`` raises
OpenBLAS's thread count only around its own call. The count is process-wide, so a
BLAS call made by another thread at that moment may be split too; the callback
takes a lock, so such calls take turns on the helpers, and ``matmul`` takes one
around the raise and the restore.

Only on Linux (POSIX semaphores, pthreads), with NumPy's OpenBLAS built with
pthreads; elsewhere ``install`` returns False and the pool splits the rows as before.
"""

import _thread
import ctypes
import os
import sys

import numpy

# Layout of the state block shared by the callback, the helpers and the pool's workers.
_SEMAPHORE_BYTES = 64  # a glibc or musl sem_t is 32 bytes on 64-bit Linux
_HEADER_BYTES = 128  # the lock, then the words below
_HELPER_COUNT_AT = _SEMAPHORE_BYTES
_PARALLEL_CALLS_AT = _SEMAPHORE_BYTES + 8
_SPIN_TURNS_AT = _SEMAPHORE_BYTES + 16
_POOL_JOBS_AT = _SEMAPHORE_BYTES + 24  # jobs run by the pool's workers
_HELPER_JOBS_AT = _SEMAPHORE_BYTES + 32  # jobs run by the helpers
_SLOT_BYTES = 192  # per helper: go and done semaphores, the job, its state, the thread id
_JOB_AT = 2 * _SEMAPHORE_BYTES  # function, data, thread number, argument
_STATE_AT = _JOB_AT + 32  # 0 empty, 1 posted, 2 claimed
_POOL_SPINNING_AT = _STATE_AT + 8  # the kernel pool's worker for this slot is spinning
_THREAD_ID_AT = _POOL_SPINNING_AT + 8
MAX_HELPERS = 255  # OpenBLAS never asks for more threads than it was built for (64-1024)

_IR = r"""
declare i32 @sem_init(i8*, i32, i32)
declare i32 @sem_wait(i8*)
declare i32 @sem_trywait(i8*)
declare i32 @sem_post(i8*)
declare i32 @sched_yield()
declare i32 @pthread_create(i64*, i8*, i8* (i8*)*, i8*)
declare i32 @pthread_detach(i64)
declare i64 @write(i32, i8*, i64)
declare void @abort()

@never = private constant i64 0
@message = private constant [{message_length} x i8] c"{message}"

define private i8* @at(i64 %offset) {{
  %address = add i64 {base}, %offset
  %pointer = inttoptr i64 %address to i8*
  ret i8* %pointer
}}

define private i64* @word(i8* %base, i64 %offset) {{
  %at = getelementptr i8, i8* %base, i64 %offset
  %pointer = bitcast i8* %at to i64*
  ret i64* %pointer
}}

; The slot of helper %index (it runs job %index + 1).
define private i8* @slot(i64 %index) {{
  %offset = mul i64 %index, {slot_bytes}
  %slot_offset = add i64 %offset, {header_bytes}
  %slot = call i8* @at(i64 %slot_offset)
  ret i8* %slot
}}

define private void @count(i64 %offset) {{
  %header = call i8* @at(i64 0)
  %counter = call i64* @word(i8* %header, i64 %offset)
  atomicrmw add i64* %counter, i64 1 monotonic
  ret void
}}

define private i64 @spin_turns() {{
  %header = call i8* @at(i64 0)
  %turns_at = call i64* @word(i8* %header, i64 {spin_turns})
  %turns = load volatile i64, i64* %turns_at
  ret i64 %turns
}}

; Sleep on the semaphore (again after a signal interrupted the wait).
define private void @sleep_on(i8* %semaphore) {{
entry:
  br label %wait
wait:
  %waited = call i32 @sem_wait(i8* %semaphore)
  %woken = icmp eq i32 %waited, 0
  br i1 %woken, label %done, label %wait
done:
  ret void
}}

; Take one count of the semaphore: try for spin_turns() turns, yielding the core in
; between, then sleep on it. The spin also ends as soon as *%stop is non-zero.
define private void @take(i8* %semaphore, i64* %stop) {{
entry:
  %turns = call i64 @spin_turns()
  br label %try
try:
  %turn = phi i64 [0, %entry], [%next, %yield]
  %tried = call i32 @sem_trywait(i8* %semaphore)
  %taken = icmp eq i32 %tried, 0
  br i1 %taken, label %done, label %spin
spin:
  %more = icmp slt i64 %turn, %turns
  %stopping = load atomic i64, i64* %stop seq_cst, align 8
  %free = icmp eq i64 %stopping, 0
  %go_on = and i1 %more, %free
  br i1 %go_on, label %yield, label %sleep
yield:
  call i32 @sched_yield()
  %next = add i64 %turn, 1
  br label %try
sleep:
  call void @sleep_on(i8* %semaphore)
  br label %done
done:
  ret void
}}

; Run the slot's job if it is posted and nobody claimed it yet; whether this thread ran it.
; The job is counted at %counter before its done semaphore is posted: a caller that
; joined it reads the count with it.
define private i1 @run_if_posted(i8* %slot, i64 %counter) {{
entry:
  %state = call i64* @word(i8* %slot, i64 {state})
  %seen = load atomic i64, i64* %state seq_cst, align 8
  %posted = icmp eq i64 %seen, 1
  br i1 %posted, label %claim, label %no
claim:
  %exchange = cmpxchg i64* %state, i64 1, i64 2 seq_cst seq_cst
  %claimed = extractvalue {{ i64, i1 }} %exchange, 1
  br i1 %claimed, label %run, label %no
run:
  %job = call i64* @word(i8* %slot, i64 {job})
  %data_at = getelementptr i64, i64* %job, i64 1
  %thread_at = getelementptr i64, i64* %job, i64 2
  %argument_at = getelementptr i64, i64* %job, i64 3
  %function_address = load i64, i64* %job
  %data_address = load i64, i64* %data_at
  %thread = load i64, i64* %thread_at
  %argument = load i64, i64* %argument_at
  %function = inttoptr i64 %function_address to void (i32, i8*, i32)*
  %data = inttoptr i64 %data_address to i8*
  %thread32 = trunc i64 %thread to i32
  %argument32 = trunc i64 %argument to i32
  call void %function(i32 %thread32, i8* %data, i32 %argument32)
  store atomic i64 0, i64* %state seq_cst, align 8
  call void @count(i64 %counter)
  %done = getelementptr i8, i8* %slot, i64 {semaphore}
  call i32 @sem_post(i8* %done)
  ret i1 true
no:
  ret i1 false
}}

; A helper thread: woken through its go semaphore for each job that the pool's worker
; for this slot may not see. After a job it spins a while, unless that worker spins.
define private i8* @helper(i8* %slot) {{
entry:
  %spinning = call i64* @word(i8* %slot, i64 {pool_spinning})
  br label %wait
wait:
  call void @take(i8* %slot, i64* %spinning)
  %ran = call i1 @run_if_posted(i8* %slot, i64 {helper_jobs})
  br label %wait
}}

; Whether helpers 0 .. %wanted-1 exist, starting those that do not (the lock is held).
define private i1 @ensure_helpers(i64 %wanted) {{
entry:
  %header = call i8* @at(i64 0)
  %count_at = call i64* @word(i8* %header, i64 {helper_count})
  %too_many = icmp sgt i64 %wanted, {max_helpers}
  br i1 %too_many, label %failed, label %check
check:
  %count = load i64, i64* %count_at
  %enough = icmp sge i64 %count, %wanted
  br i1 %enough, label %ready, label %start
start:
  %slot = call i8* @slot(i64 %count)
  %done = getelementptr i8, i8* %slot, i64 {semaphore}
  %thread_id = call i64* @word(i8* %slot, i64 {thread_id})
  call i32 @sem_init(i8* %slot, i32 0, i32 0)
  call i32 @sem_init(i8* %done, i32 0, i32 0)
  %created = call i32 @pthread_create(i64* %thread_id, i8* null, i8* (i8*)* @helper, i8* %slot)
  %ok = icmp eq i32 %created, 0
  br i1 %ok, label %started, label %failed
started:
  %id = load i64, i64* %thread_id
  call i32 @pthread_detach(i64 %id)
  %counted = add i64 %count, 1
  store i64 %counted, i64* %count_at
  br label %check
ready:
  ret i1 true
failed:
  ret i1 false
}}

; OpenBLAS's openblas_threads_callback: run dojob(i, jobdata + i * elsize, argument)
; for every job i at the same time, job 0 on this thread. Job i > 0 goes to slot i-1,
; where the pool's worker takes it if it is spinning, and the slot's helper otherwise.
define void @callback(i32 %sync, i8* %dojob, i32 %jobs, i64 %elsize, i8* %jobdata, i32 %argument) {{
entry:
  %function = bitcast i8* %dojob to void (i32, i8*, i32)*
  %parallel = icmp sgt i32 %jobs, 1
  br i1 %parallel, label %lock, label %serial
serial:
  %one = icmp eq i32 %jobs, 1
  br i1 %one, label %alone, label %return
alone:
  call void %function(i32 0, i8* %jobdata, i32 %argument)
  br label %return
lock:
  %header = call i8* @at(i64 0)
  call void @take(i8* %header, i64* @never)
  %calls_at = call i64* @word(i8* %header, i64 {parallel_calls})
  %calls = load i64, i64* %calls_at
  %calls_next = add i64 %calls, 1
  store i64 %calls_next, i64* %calls_at
  %count = sext i32 %jobs to i64
  %helpers = sub i64 %count, 1
  %ready = call i1 @ensure_helpers(i64 %helpers)
  br i1 %ready, label %post, label %abort
abort:
  %text = getelementptr [{message_length} x i8], [{message_length} x i8]* @message, i64 0, i64 0
  call i64 @write(i32 2, i8* %text, i64 {message_length})
  call void @abort()
  unreachable
post:
  %post_index = phi i64 [1, %lock], [%post_next, %posted]
  %post_helper = sub i64 %post_index, 1
  %post_slot = call i8* @slot(i64 %post_helper)
  %job = call i64* @word(i8* %post_slot, i64 {job})
  %function_address = ptrtoint i8* %dojob to i64
  store i64 %function_address, i64* %job
  %skip = mul i64 %post_index, %elsize
  %data = getelementptr i8, i8* %jobdata, i64 %skip
  %data_address = ptrtoint i8* %data to i64
  %data_at = getelementptr i64, i64* %job, i64 1
  store i64 %data_address, i64* %data_at
  %thread_at = getelementptr i64, i64* %job, i64 2
  store i64 %post_index, i64* %thread_at
  %argument_at = getelementptr i64, i64* %job, i64 3
  %argument64 = sext i32 %argument to i64
  store i64 %argument64, i64* %argument_at
  %state = call i64* @word(i8* %post_slot, i64 {state})
  store atomic i64 1, i64* %state seq_cst, align 8
  ; the worker clears its flag before it looks at the state a last time: one of the
  ; two sees the other's store, so the job is never left for nobody
  %spinning = call i64* @word(i8* %post_slot, i64 {pool_spinning})
  %pool = load atomic i64, i64* %spinning seq_cst, align 8
  %pool_away = icmp eq i64 %pool, 0
  br i1 %pool_away, label %wake, label %posted
wake:
  call i32 @sem_post(i8* %post_slot)
  br label %posted
posted:
  %post_next = add i64 %post_index, 1
  %all_posted = icmp sge i64 %post_next, %count
  br i1 %all_posted, label %own, label %post
own:
  call void %function(i32 0, i8* %jobdata, i32 %argument)
  br label %join
join:
  %join_index = phi i64 [0, %own], [%join_next, %join]
  %join_slot = call i8* @slot(i64 %join_index)
  %done = getelementptr i8, i8* %join_slot, i64 {semaphore}
  call void @take(i8* %done, i64* @never)
  %join_next = add i64 %join_index, 1
  %joined = icmp sge i64 %join_next, %helpers
  br i1 %joined, label %unlock, label %join
unlock:
  call i32 @sem_post(i8* %header)
  br label %return
return:
  ret void
}}

; The kernel pool's worker %helper between its own jobs: whether flags[%index] became
; non-zero within %turns turns (yielding the core at each), running any OpenBLAS job
; posted to its slot meanwhile (each one restarts the count). flags[%announce] is set
; first unless %announce < 0. %helper < 0: no slot.
define i32 @serve(i64* %flags, i64 %index, i64 %turns, i64 %announce, i64 %helper) {{
entry:
  %announces = icmp sge i64 %announce, 0
  br i1 %announces, label %announce_it, label %setup
announce_it:
  %announce_at = getelementptr i64, i64* %flags, i64 %announce
  store volatile i64 1, i64* %announce_at
  br label %setup
setup:
  %has_slot = icmp sge i64 %helper, 0
  %own_slot = call i8* @slot(i64 %helper)
  %slot = select i1 %has_slot, i8* %own_slot, i8* null
  %spinning = call i64* @word(i8* %slot, i64 {pool_spinning})
  %flag_at = getelementptr i64, i64* %flags, i64 %index
  br i1 %has_slot, label %mark, label %loop
mark:
  store atomic i64 1, i64* %spinning seq_cst, align 8
  br label %loop
loop:
  %turn = phi i64 [0, %setup], [0, %mark], [%next, %yield], [0, %ran]
  %flag = load volatile i64, i64* %flag_at
  %set = icmp ne i64 %flag, 0
  br i1 %set, label %finish, label %blas
blas:
  br i1 %has_slot, label %look, label %count
look:
  %did = call i1 @run_if_posted(i8* %slot, i64 {pool_jobs})
  br i1 %did, label %ran, label %count
ran:
  br label %loop
count:
  %more = icmp slt i64 %turn, %turns
  br i1 %more, label %yield, label %finish
yield:
  call i32 @sched_yield()
  %next = add i64 %turn, 1
  br label %loop
finish:
  %result = zext i1 %set to i32
  br i1 %has_slot, label %unmark, label %out
unmark:
  store atomic i64 0, i64* %spinning seq_cst, align 8
  %ran_last = call i1 @run_if_posted(i8* %slot, i64 {pool_jobs})
  br label %out
out:
  ret i32 %result
}}

; The lock free, no helpers: a fresh state (their threads are gone after a fork).
define void @reset() {{
  %header = call i8* @at(i64 0)
  call i32 @sem_init(i8* %header, i32 0, i32 1)
  ret void
}}

; Start helpers 0 .. %wanted-1 ahead of the first call; whether they run.
define i32 @prepare(i64 %wanted) {{
  %header = call i8* @at(i64 0)
  call void @take(i8* %header, i64* @never)
  %ready = call i1 @ensure_helpers(i64 %wanted)
  call i32 @sem_post(i8* %header)
  %result = zext i1 %ready to i32
  ret i32 %result
}}
"""

_MESSAGE = b"engine: cannot start a thread for OpenBLAS's parallel jobs; aborting\n"


class _Native:
    """The compiled callback, helpers and worker loop, and the state block they share."""

    def __init__(self, spin_turns: int):
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        size = _HEADER_BYTES + MAX_HELPERS * _SLOT_BYTES
        self._memory = numpy.zeros(size + 64, numpy.uint8)
        start = -self._memory.ctypes.data % 64  # cache-line aligned
        self.block = self._memory[start : start + size]
        self.words = self.block[:_HEADER_BYTES].view(numpy.int64)
        message = "".join(f"\\{byte:02X}" for byte in _MESSAGE)
        source = _IR.format(
            base=self.block.ctypes.data,
            message=message,
            message_length=len(_MESSAGE),
            spin_turns=_SPIN_TURNS_AT,
            helper_count=_HELPER_COUNT_AT,
            parallel_calls=_PARALLEL_CALLS_AT,
            pool_jobs=_POOL_JOBS_AT,
            helper_jobs=_HELPER_JOBS_AT,
            semaphore=_SEMAPHORE_BYTES,
            job=_JOB_AT,
            state=_STATE_AT,
            pool_spinning=_POOL_SPINNING_AT,
            thread_id=_THREAD_ID_AT,
            header_bytes=_HEADER_BYTES,
            slot_bytes=_SLOT_BYTES,
            max_helpers=MAX_HELPERS,
        )
        module = llvm.parse_assembly(source)
        module.verify()
        target = llvm.Target.from_default_triple().create_target_machine(opt=0)
        self._engine = llvm.create_mcjit_compiler(module, target)
        self._engine.finalize_object()
        address = self._engine.get_function_address
        self.callback = address("callback")
        self._reset = ctypes.CFUNCTYPE(None)(address("reset"))
        self.prepare = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64)(address("prepare"))
        # CFUNCTYPE calls release the GIL, as the pool's worker needs while it spins
        self.serve = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, *[ctypes.c_int64] * 4)(
            address("serve")
        )
        self.reset(spin_turns)

    def reset(self, spin_turns: int) -> None:
        """No helpers, nothing posted, the lock free (after a fork, too)."""
        self.block[:] = 0
        self.words[_SPIN_TURNS_AT // 8] = spin_turns
        self._reset()


_native: _Native | None = None
_set_threads = None  # OpenBLAS's openblas_set_num_threads_local: sets, returns the old count


def _numpy_openblas(libraries: list[dict]):
    """NumPy's OpenBLAS as ``ctypes.CDLL``, if it is OpenBLAS with pthreads; else None.

    ``libraries``: ``threadpoolctl``'s ``info()`` of the process's thread pools."""
    found = [
        info
        for info in libraries
        if info.get("internal_api") == "openblas" and info.get("threading_layer") == "pthreads"
    ]
    # a wheel's own copy sits in numpy/ or next to it in numpy.libs/ (SciPy has another)
    package = os.path.dirname(numpy.__file__)
    homes = (package + os.sep, package + ".libs" + os.sep)
    own = [info for info in found if info["filepath"].startswith(homes)]
    chosen = own or found
    if len(chosen) != 1:
        return None  # none, or several and no telling which one NumPy calls
    return ctypes.CDLL(chosen[0]["filepath"])


def _symbol(library, name: str):
    """``name`` as OpenBLAS builds spell it (scipy-openblas: ``scipy_`` ... ``64_``)."""
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_"):
            function = getattr(library, f"{prefix}{name}{suffix}", None)
            if function is not None:
                return function
    return None


def install(spin_turns: int, helpers: int, libraries: list[dict]) -> bool:
    """Hand NumPy's OpenBLAS's parallel jobs to our helpers (once); whether it is done.

    ``libraries`` is ``threadpoolctl``'s ``info()``. Starts ``helpers`` helper threads
    now (more start when a call has more jobs)."""
    global _native, _set_threads
    if _native is not None:
        return True
    if not sys.platform.startswith("linux"):
        return False
    library = _numpy_openblas(libraries)
    if library is None:
        return False
    set_callback = _symbol(library, "openblas_set_threads_callback_function")
    set_threads = _symbol(library, "openblas_set_num_threads_local")
    if set_callback is None or set_threads is None:
        return False  # OpenBLAS before 0.3.27
    try:
        native = _Native(spin_turns)
    except Exception:  # no usable llvmlite, or the process lacks a symbol
        return False
    if not native.prepare(helpers):
        return False
    set_callback.argtypes = [ctypes.c_void_p]
    set_callback.restype = None
    set_threads.argtypes = [ctypes.c_int]
    set_threads.restype = ctypes.c_int
    # Never freed, not even while the interpreter shuts down: OpenBLAS keeps the callback,
    # and a helper may still be spinning in this code when the module's globals are cleared.
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(native))
    set_callback(native.callback)
    _native, _set_threads = native, set_threads
    return True


def installed() -> bool:
    return _native is not None


def callback_address() -> int:
    """The address of the callback given to OpenBLAS (``install`` first). Called as
    ``callback(0, job, jobs, 0, data, argument)`` it runs ``job(i, data, argument)`` for
    every ``i < jobs`` at once, job 0 on the calling thread, without the GIL: the numba
    backend's native jobs (``numba_kernels/native_jobs.py``) take this way too."""
    return _native.callback


def counts() -> dict[str, int]:
    """How many BLAS calls were split, and how many of their jobs the pool's workers
    and the helpers ran (since ``install``; for tests and profiles)."""
    if _native is None:
        return {"calls": 0, "pool_jobs": 0, "helper_jobs": 0}
    words = _native.words
    return {
        "calls": int(words[_PARALLEL_CALLS_AT // 8]),
        "pool_jobs": int(words[_POOL_JOBS_AT // 8]),
        "helper_jobs": int(words[_HELPER_JOBS_AT // 8]),
    }


def serve(flags, index: int, turns: int, announce: int, helper: int) -> bool:
    """A kernel-pool worker's wait for ``flags[index]`` (``thread_pool._spin_until_set``)
    that also runs the OpenBLAS jobs posted to helper ``helper``'s slot meanwhile, so
    that one thread, not two, spins on each core between a step's kernels. With a
    negative ``helper`` it only spins (the pool's caller waiting for its workers)."""
    slot = helper if helper < MAX_HELPERS else -1
    return bool(_native.serve(flags.ctypes.data, index, turns, announce, slot))


def set_spin_turns(turns: int) -> None:
    if _native is not None:
        _native.words[_SPIN_TURNS_AT // 8] = turns


# OpenBLAS's thread count is process-wide: two callers raising and restoring it at once
# could leave it raised for good. Their jobs take turns on the helpers anyway.
_raised = _thread.allocate_lock()


def matmul(a, b, threads: int):
    """``numpy.matmul(a, b)`` with OpenBLAS allowed ``threads`` threads (``install`` first)."""
    with _raised:
        previous = _set_threads(threads)
        try:
            return numpy.matmul(a, b)
        finally:
            _set_threads(previous)


def _reset_after_fork() -> None:
    if _native is not None:  # a forked child has none of the parent's helper threads
        _native.reset(int(_native.words[_SPIN_TURNS_AT // 8]))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
