"""Training speed of W1-W6 on each backend, in PyTorch and in Keras 3 on JAX, side by side.

Every (workload, side) pair is built once, in a fresh interpreter of its own
(``SideProcess``: sides share no allocator state, thread pool or floating-point
flags); then, workload by workload, each repeat times a block of training steps
of every side in turn, so drift in the machine's speed touches all sides alike.
The figure is the median over repeats, as samples per second, with the ratio to
PyTorch (above 1: faster than PyTorch). Its markdown table is how speed claims
are reported in issue notes.

    python asv_bench/compare.py
    python asv_bench/compare.py --workloads W3 W4 --backends numpy numba --threads 2
    python asv_bench/compare.py --threads 1 --clock cpu   # on a machine other work keeps busy

With ``--memory`` it measures memory instead of speed: for each (workload,
side) a fresh interpreter imports the library (for this library: ``engine`` and
the backend, so Numba and its kernel modules; for PyTorch: ``torch``), notes
its peak resident set size, builds the model and trains ``--steps`` steps, and
reports the peak RSS of the whole process (Linux's ``VmHWM``, in
MiB) with the part after the imports in parentheses, and the ratio of the
peaks to PyTorch's (below 1: less memory than PyTorch). Run the speed
comparison (or ``--memory`` once) first so that Numba's cache is filled: a cold
compilation adds the compiler's memory to the numba figure.

    python asv_bench/compare.py --memory --steps 20

With ``--clock cpu`` a block is timed by the process's CPU time
(``time.process_time``, all its threads) instead of the wall clock: on a busy
machine the wall clock mostly measures how long the other processes held the
cores, while the CPU time of a one-thread run still measures the work (spinning
threads count as work, so compare threads > 1 by the wall clock).

The models come from ``benchmarks/workloads.py``, shared with the asv
benchmarks; Keras's are the same layer lists, built with ``keras`` in place of
``engine``. PyTorch, Keras and JAX are optional: without one the table has no
column for it. With both peers the table adds the ratio to the faster peer (the
"best peer" of issue 14's targets).
"""

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

WORKLOAD_KEYS = ["W1", "W2", "W3", "W4", "W5", "W6"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workloads", nargs="+", default=WORKLOAD_KEYS, choices=WORKLOAD_KEYS, metavar="W"
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=None,
        help="backend names (default: every backend available here)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="interleaved repeats (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS, Numba and PyTorch alike (default: all CPUs)",
    )
    parser.add_argument(
        "--seconds", type=float, default=0.3, help="length of one timed block of steps"
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.2,
        help="idle seconds before each block, so the last side's spinning threads go to sleep",
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="time blocks by the wall clock or by the process's CPU time (default: wall)",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-keras", action="store_true", help="leave Keras on JAX out")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="peak resident memory of a fresh process per (workload, side) instead of speed",
    )
    parser.add_argument(
        "--steps", type=int, default=20, help="training steps of each --memory process"
    )
    return parser.parse_args(argv)


def set_thread_environment(threads: int) -> None:
    """Thread caps that must be in the environment before NumPy or Numba load."""
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMBA_NUM_THREADS",
        "ENGINE_BENCH_THREADS",
    ):
        os.environ[name] = str(threads)


def format_rate(samples_per_second: float) -> str:
    if samples_per_second >= 1e6:
        return f"{samples_per_second / 1e6:.2f}M"
    if samples_per_second >= 1e3:
        return f"{samples_per_second / 1e3:.1f}k"
    return f"{samples_per_second:.0f}"


def main(argv=None) -> None:
    args = parse_args(argv)
    threads = args.threads or os.cpu_count() or 1
    set_thread_environment(threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

    import backends

    names = args.backends or backends.available()
    for name in names:
        backends.get(name)  # fail early, with the reason, for an unusable backend
    sides = [(name, name) for name in names]
    if not args.no_torch:
        if importlib.util.find_spec("torch"):
            sides.append(("torch", "PyTorch"))
        else:
            print("PyTorch is not installed: no PyTorch column.", file=sys.stderr)
    if not args.no_keras:
        if importlib.util.find_spec("keras") and importlib.util.find_spec("jax"):
            sides.append(("keras", "Keras-JAX"))
        else:
            print("Keras or JAX is not installed: no Keras-JAX column.", file=sys.stderr)
    with_torch = any(side == "torch" for side, _ in sides)
    if args.memory:
        memory_comparison(args, sides, threads, with_torch)
        return

    rates, skipped, versions = {}, {}, {"numpy": __import__("numpy").__version__}
    for key in args.workloads:
        workers = {}
        try:
            for side, _ in sides:  # each starts at once: their imports and warm-up overlap
                workers[side] = SideProcess(key, side, threads, args.clock)
            for side, worker in list(workers.items()):
                reason = worker.wait_ready()
                if reason is not None:
                    skipped[key, side] = reason
                    del workers[side]
                else:
                    versions.update(worker.versions)
            times = time_interleaved(workers, args)
        finally:
            for worker in workers.values():
                worker.stop()
        for side, values in times.items():
            rates[key, side] = workers[side].samples / statistics.median(values)

    print(table(args.workloads, sides, rates, with_torch))
    print()
    described = ", ".join(f"{name} {version}" for name, version in versions.items())
    if "jax" in versions and threads not in (1, os.cpu_count()):
        described += " (XLA on all CPUs: it has no cap but one thread)"
    print(
        f"Training samples/s ({args.clock} clock), median of {args.repeat} interleaved repeats "
        f"of ~{args.seconds:g} s blocks, each side in its own process; {threads} thread(s); "
        f"{platform.processor() or 'cpu'}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; Python {platform.python_version()}, {described}; "
        f"{blas_description()}."
    )
    for (key, side), reason in skipped.items():
        print(f"Skipped {key} on {side}: {reason}")


def time_interleaved(workers: dict, args) -> dict:
    """Seconds per step of each worker's blocks, the workers taking turns ``args.repeat``
    times; the calls in a block from one calibration block each."""
    calls = {
        side: max(1, round(args.seconds / worker.request("calibrate", 0.05)))
        for side, worker in workers.items()
    }
    times: dict = {side: [] for side in workers}
    for _ in range(args.repeat):
        for side, worker in workers.items():
            times[side].append(worker.request("block", calls[side], args.pause))
    return times


class SideProcess:
    """One (workload, side) in a fresh interpreter that times blocks of training steps on
    request (``_serve_side``).

    Sides share nothing then: not the allocator's state (glibc raises its mmap threshold
    after large frees, and PyTorch's W3 step ran 1.5x faster in a process where Keras on
    JAX had trained: 8.6k against 4.9k samples/s), nor thread pools, nor floating-point
    flags. Each side runs as in a user's own program.
    """

    def __init__(self, key: str, side: str, threads: int, clock: str):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.key, self.side = key, side
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_serve_side, args=(child, key, side, threads, clock), daemon=True
        )
        self.process.start()
        child.close()
        self.samples, self.versions = 0, {}

    def wait_ready(self) -> str | None:
        """None once the model is built and warm; the reason where this side is skipped."""
        message = self._receive()
        if message[0] == "skipped":
            return message[1]
        _, self.samples, self.versions = message
        return None

    def request(self, *request):
        self.connection.send(request)
        return self._receive()

    def _receive(self):
        try:
            message = self.connection.recv()
        except EOFError:
            raise RuntimeError(f"{self.key} on {self.side}: its process ended") from None
        if isinstance(message, tuple) and message[0] == "error":
            raise RuntimeError(f"{self.key} on {self.side} failed:\n{message[1]}")
        return message

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


def make_runner(key: str, side: str, threads: int):
    """The runner of workload ``key`` on ``side`` (a backend's name, "torch" or "keras")."""
    from benchmarks import workloads

    workload = workloads.WORKLOADS[key]
    if side == "torch":
        return workloads.TorchRunner(workload, threads)
    if side == "keras":
        return workloads.KerasRunner(workload, threads)
    return workloads.EngineRunner(workload, side)


def _side_versions(side: str) -> dict:
    if side == "torch":
        return {"torch": sys.modules["torch"].__version__}
    if side == "keras":
        return {"keras": sys.modules["keras"].__version__, "jax": sys.modules["jax"].__version__}
    return {}


def _serve_side(connection, key: str, side: str, threads: int, clock: str) -> None:
    """A ``SideProcess``'s interpreter: build and warm up, then answer requests ("calibrate",
    seconds) with seconds per call, ("block", calls, pause) with seconds per step, until None."""
    import traceback

    from benchmarks import workloads

    try:
        try:
            runner = make_runner(key, side, threads)
        except (NotImplementedError, ImportError) as error:
            connection.send(("skipped", str(error)))
            return
        for _ in range(3):  # JIT compilation, allocator and thread-pool warm-up
            runner.step()
        # this side's BLAS threads: one under the numba backend, whose kernel pool splits
        workloads.limit_threads(threads, side=side)
        connection.send(("ready", runner.samples, _side_versions(side)))
        timer = time.process_time if clock == "cpu" else time.perf_counter
        while (request := connection.recv()) is not None:
            if request[0] == "calibrate":
                connection.send(workloads.seconds_per_call(runner.step, request[1]))
                continue
            _, calls, pause = request
            time.sleep(pause)  # the last side's spinning threads go to sleep
            start = timer()
            for _ in range(calls):
                runner.step()
            connection.send((timer() - start) / calls)
    except Exception:
        connection.send(("error", traceback.format_exc()))


def memory_comparison(args, sides, threads: int, with_torch: bool) -> None:
    """Print the ``--memory`` table: one fresh process per (workload, side), one at a time."""
    peaks, skipped = {}, {}
    for key in args.workloads:
        for side, _ in sides:
            result = peak_memory_in_new_process(key, side, args.steps)
            if "skipped" in result:
                skipped[key, side] = result["skipped"]
            else:
                peaks[key, side] = result
    print(memory_table(args.workloads, sides, peaks, with_torch))
    print()
    print(
        f"Peak resident memory in MiB (VmHWM) of a fresh process that builds the model and "
        f"trains {args.steps} steps; in parentheses the peak after importing the library and "
        f"creating its backend, before the model is built. {threads} thread(s); "
        f"{os.cpu_count()} CPUs; {platform.python_version()}, "
        f"NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(default)')}."
    )
    for (key, side), reason in skipped.items():
        print(f"Skipped {key} on {side}: {reason}")


def peak_memory_in_new_process(key: str, side: str, steps: int) -> dict:
    """``measure_peak_memory`` run in a new interpreter; its result, parsed."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import compare; "
        f"compare.measure_peak_memory({key!r}, {side!r}, {steps})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"measuring {key} on {side} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _peak_rss_mib() -> float:
    """This process's peak RSS: Linux's ``VmHWM``, not ``ru_maxrss``, which a child started
    with ``vfork`` (as ``subprocess`` does) inherits from its parent (measured: a child of a
    400 MiB parent reported 400 MiB, its ``VmHWM`` 11 MiB)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_peak_memory(key: str, side: str, steps: int) -> None:
    """In a fresh process: import, build ``key`` on ``side``, train ``steps`` steps; print
    the peak RSS after the imports and at the end as JSON."""
    from benchmarks import workloads

    if side == "torch":
        import torch  # noqa: F401
    elif side == "keras":
        workloads.import_keras_on_jax(workloads.thread_count())
    else:
        import backends
        import engine  # noqa: F401

        backends.get(side)
    threads = workloads.limit_threads()
    imported = _peak_rss_mib()
    try:
        runner = make_runner(key, side, threads)
    except NotImplementedError as error:
        print(json.dumps({"skipped": str(error)}))
        return
    for _ in range(steps):
        runner.step()
    print(json.dumps({"imported": imported, "peak": _peak_rss_mib()}))


def memory_table(keys, sides, peaks, with_torch: bool) -> str:
    """The ``--memory`` markdown table: peak MiB per side (after imports), ratios to PyTorch."""
    return _markdown_table(
        keys,
        sides,
        peaks,
        with_torch,
        "MiB",
        cell=lambda peak: f"{peak['peak']:.0f} ({peak['imported']:.0f})",
        number=lambda peak: peak["peak"],
    )


def blas_description() -> str:
    """Which BLAS NumPy called, its kernel and threading (threadpoolctl), or why unknown."""
    try:
        import threadpoolctl
    except ImportError:
        return "BLAS unknown (no threadpoolctl)"
    found = [
        f"{info.get('internal_api')} {info.get('version')} "
        f"({info.get('architecture', '?')} kernels, {info.get('threading_layer', '?')})"
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return "BLAS " + ", ".join(found) if found else "BLAS unknown"


def table(keys, sides, rates, with_torch: bool) -> str:
    """The markdown table: a row per workload, samples/s per side, ratios to PyTorch and,
    where Keras on JAX ran too, to the faster of the two (the issue's "best peer")."""
    peers = [side for side in PEERS if any(side == name for name, _ in sides)]
    return _markdown_table(
        keys,
        sides,
        rates,
        with_torch,
        "samples/s",
        cell=format_rate,
        number=lambda rate: rate,
        best_peer=len(peers) > 1,
    )


# the other libraries' sides; every other side is a backend of this library
PEERS = ("torch", "keras")


def _markdown_table(
    keys, sides, values, with_torch: bool, unit: str, cell, number, best_peer: bool = False
) -> str:
    """A row per workload: ``cell(value)`` per side under "<label> <unit>" ("n/a" where
    missing), then with PyTorch each engine side's ``number(value)`` over PyTorch's, and
    with ``best_peer`` over the largest ``number`` among the peers (named in the cell)."""
    from benchmarks import workloads

    engine_sides = [(side, label) for side, label in sides if side not in PEERS]
    labels = dict(sides)
    header = ["workload"] + [f"{label} {unit}" for _, label in sides]
    if with_torch:
        header += [f"{label} / PyTorch" for _, label in engine_sides]
    if best_peer:
        header += [f"{label} / best peer" for _, label in engine_sides]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        cells = [f"{key} {workloads.WORKLOADS[key].title}"]
        for side, _ in sides:
            value = values.get((key, side))
            cells.append(cell(value) if value else "n/a")
        if with_torch:
            reference = values.get((key, "torch"))
            for side, _ in engine_sides:
                value = values.get((key, side))
                ratio = value and reference and number(value) / number(reference)
                cells.append(f"{ratio:.2f}x" if ratio else "n/a")
        if best_peer:
            measured = [(number(values[key, p]), p) for p in PEERS if values.get((key, p))]
            best, peer = max(measured) if measured else (None, None)
            for side, _ in engine_sides:
                value = values.get((key, side))
                ratio = value and best and number(value) / best
                cells.append(f"{ratio:.2f}x ({labels[peer]})" if ratio else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
