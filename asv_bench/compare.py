"""Training speed of W1-W6 on each backend and in PyTorch, measured side by side.

Every (workload, side) pair is built once; then each repeat times a block of
training steps of every pair in turn, so drift in the machine's speed touches
all sides alike. The figure is the median over repeats, as samples per second,
with the ratio to PyTorch (above 1: faster than PyTorch). Its markdown table is
how speed claims are reported in issue notes.

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
benchmarks. PyTorch is optional: without it the table has no PyTorch column.
"""

import argparse
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

    from benchmarks import workloads

    import backends

    names = args.backends or backends.available()
    for name in names:
        backends.get(name)  # fail early, with the reason, for an unusable backend
    sides = [(name, name) for name in names]
    with_torch = False
    if not args.no_torch:
        try:
            import torch

            with_torch = True
            sides.append(("torch", "PyTorch"))
        except ImportError:
            print("PyTorch is not installed: no PyTorch column.", file=sys.stderr)
    if args.memory:
        memory_comparison(args, sides, threads, with_torch)
        return
    workloads.limit_threads(threads)

    runners, skipped = {}, {}
    for key in args.workloads:
        workload = workloads.WORKLOADS[key]
        for side, _ in sides:
            try:
                if side == "torch":
                    runner = workloads.TorchRunner(workload, threads)
                else:
                    runner = workloads.EngineRunner(workload, side)
            except NotImplementedError as error:
                skipped[key, side] = str(error)
                continue
            for _ in range(3):  # JIT compilation, allocator and thread-pool warm-up
                runner.step()
            runners[key, side] = runner
    workloads.limit_threads(threads)

    # calls per block, from one calibration block each
    calls = {
        pair: max(1, round(args.seconds / workloads.seconds_per_call(runner.step, 0.05)))
        for pair, runner in runners.items()
    }
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    times: dict = {pair: [] for pair in runners}
    for _ in range(args.repeat):
        for pair, runner in runners.items():
            step = runner.step
            # each side's own BLAS threads: the numpy backend BLAS's, the numba backend one
            # per block of its kernel pool (selecting it pinned BLAS for the whole process)
            workloads.limit_threads(threads, side=pair[1])
            time.sleep(args.pause)
            start = clock()
            for _ in range(calls[pair]):
                step()
            times[pair].append((clock() - start) / calls[pair])

    rates = {
        pair: runners[pair].samples / statistics.median(values) for pair, values in times.items()
    }
    print(table(args.workloads, sides, rates, with_torch))
    print()
    versions = f"numpy {__import__('numpy').__version__}"
    if with_torch:
        versions += f", torch {torch.__version__}"
    print(
        f"Training samples/s ({args.clock} clock), median of {args.repeat} interleaved repeats "
        f"of ~{args.seconds:g} s blocks; {threads} thread(s); {platform.processor() or 'cpu'}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"Python {platform.python_version()}, {versions}; {blas_description()}."
    )
    for (key, side), reason in skipped.items():
        print(f"Skipped {key} on {side}: {reason}")


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
    else:
        import backends
        import engine  # noqa: F401

        backends.get(side)
    threads = workloads.limit_threads()
    imported = _peak_rss_mib()
    try:
        if side == "torch":
            runner = workloads.TorchRunner(workloads.WORKLOADS[key], threads)
        else:
            runner = workloads.EngineRunner(workloads.WORKLOADS[key], side)
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
    """The markdown table: a row per workload, samples/s per side, ratios to PyTorch."""
    return _markdown_table(
        keys, sides, rates, with_torch, "samples/s", cell=format_rate, number=lambda rate: rate
    )


def _markdown_table(keys, sides, values, with_torch: bool, unit: str, cell, number) -> str:
    """A row per workload: ``cell(value)`` per side under "<label> <unit>" ("n/a" where
    missing), then with PyTorch each engine side's ``number(value)`` over PyTorch's."""
    from benchmarks import workloads

    engine_sides = [(side, label) for side, label in sides if side != "torch"]
    header = ["workload"] + [f"{label} {unit}" for _, label in sides]
    if with_torch:
        header += [f"{label} / PyTorch" for _, label in engine_sides]
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
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
