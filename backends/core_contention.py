"""Whether other processes hold this machine's cores, so that splitting work would wait on them.

The kernel pool (``thread_pool.py``) splits a kernel into one block per thread
and waits for the slowest; OpenBLAS's parallel GEMM (``blas_threads.py``) is
worse: its jobs wait for each other's packed panels. When another process keeps
a core busy, the block that lands there waits a scheduler slice (milliseconds)
at every hand-off. Measured on the 2-core Xeon VM with one busy-looping process
beside the training: W4 66-140 ms a step on two threads against 8.3 on one
(5.5 with both cores free), W2 over 50 against 2.05; PyTorch 15-21 ms on W4.

So ``Monitor.check`` says when to run on the calling thread alone. In parallel
mode it reads, every ``CHECK_SECONDS``, how long the calling thread waited on the
run queue (``/proc/thread-self/schedstat``): with the cores free that is ~1% of
the time, with a busy neighbour ~45%. Above ``WAIT_FRACTION`` it turns serial if
other processes' runnable tasks (``/proc/loadavg``'s count, less this process's
threads in state R) leave no core for each of the pool's threads: our own
spinning workers can make the caller wait as well (W3's convolutions did, 20-60%
of the checks, before this second condition). While serial, once ``FREE_CHECKS``
checks in a row find those cores free, it turns parallel again. A check costs
~10-40 us; in between, ``check`` is a clock read.

Linux only (elsewhere never serial); ``ENGINE_ADAPTIVE_THREADS=0`` turns it off.
"""

import os
import sys
import threading
import time

CHECK_SECONDS = 0.05
#: the calling thread's share of time spent runnable but not running, above which the
#: cores are taken (free: ~0.01; beside one busy process on 2 cores: ~0.45)
WAIT_FRACTION = 0.2
#: checks in a row that must find free cores before splitting again
FREE_CHECKS = 3

_SCHEDSTAT = "/proc/thread-self/schedstat"
_LOADAVG = "/proc/loadavg"
_TASKS = "/proc/self/task"


def _enabled() -> bool:
    return (
        sys.platform.startswith("linux")
        and os.environ.get("ENGINE_ADAPTIVE_THREADS", "1") != "0"
        and os.path.exists(_SCHEDSTAT)
    )


def run_queue_wait_ns() -> int:
    """Nanoseconds the calling thread has spent runnable but waiting for a core."""
    with open(_SCHEDSTAT) as file:
        return int(file.read().split()[1])


def other_runnable_tasks() -> int:
    """Tasks runnable on the machine now, besides this process's own threads."""
    with open(_LOADAVG) as file:
        running = int(file.read().split()[3].split("/")[0])
    ours = 0
    for thread in os.listdir(_TASKS):
        try:
            with open(f"{_TASKS}/{thread}/stat") as file:
                # the state follows the command name, which may hold spaces and parentheses
                ours += file.read().rpartition(")")[2].split()[0] == "R"
        except OSError:  # the thread ended meanwhile
            pass
    return max(running - ours, 0)


class Monitor:
    """The serial/parallel state, checked at most every ``CHECK_SECONDS``."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = _enabled() if enabled is None else enabled
        self.serial = False
        self._next_check = 0.0
        self._last = None  # (thread, monotonic ns, run-queue wait ns) at the previous check
        self._free_checks = 0

    def check(self, threads: int) -> bool:
        """Whether ``threads`` threads should run as one now."""
        if not self.enabled or threads <= 1:
            return False
        now = time.monotonic()
        if now < self._next_check:
            return self.serial
        self._next_check = now + CHECK_SECONDS
        try:
            if self.serial:
                self._check_serial(threads)
            else:
                self._check_parallel(threads)
        except (OSError, ValueError, IndexError):
            self.enabled = self.serial = False  # an unexpected /proc: split as before
        return self.serial

    def _check_parallel(self, threads: int) -> None:
        sample = (threading.get_ident(), time.monotonic_ns(), run_queue_wait_ns())
        last = self._last
        if last is not None and last[0] == sample[0] and sample[1] > last[1]:
            waited = (sample[2] - last[2]) / (sample[1] - last[1])
            # our own spinning workers can make the caller wait too: only others count
            if waited > WAIT_FRACTION and not self._cores_free(threads):
                self.serial, self._free_checks = True, 0
        self._last = sample

    @staticmethod
    def _cores_free(threads: int) -> bool:
        """Whether other processes leave a core for each of ``threads`` (for all cores, when
        there are more threads than cores)."""
        cores = len(os.sched_getaffinity(0))
        return other_runnable_tasks() <= cores - min(threads, cores)

    def _check_serial(self, threads: int) -> None:
        if self._cores_free(threads):
            self._free_checks += 1
        else:
            self._free_checks = 0
        if self._free_checks >= FREE_CHECKS:
            self.serial, self._last = False, None


monitor = Monitor()
