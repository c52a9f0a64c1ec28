"""Numba JIT warm-up: seconds to the end of the first training step, cold and cached.

Each measurement runs in a fresh interpreter with ``NUMBA_CACHE_DIR`` pointing
at a temporary directory: empty for the cold figure, filled by one earlier
process for the cached one. The clock starts after ``import engine`` and stops
after the first ``train_on_batch``, so it holds Numba's own start-up, model
building, compilation (or loading from the cache) and one step.

Numba's start-up (its import, and the first use of its CPU target, which
imports its implementation registries and through them SciPy's BLAS) is done
first, and timed on its own: it is the same in every workload, and no kernel of
ours can make it shorter. Run as a script for the table of every workload,
with the CPU time of the child beside the wall clock (compiling is CPU-bound,
so the CPU time is the figure to trust on a machine other work keeps busy):

    cd asv_bench && python -m benchmarks.bench_jit [W1 W4 ...]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from .common import SkipNotImplemented, backend_or_skip
from .workloads import WORKLOADS

_SCRIPT = """
import json, sys, time
sys.path.insert(0, {directory!r})
import engine
import workloads
start, start_cpu = time.perf_counter(), time.process_time()
import numba
from numba.core.registry import cpu_target
cpu_target.target_context.refresh()
numba_start = time.perf_counter() - start
runner = workloads.EngineRunner(workloads.WORKLOADS[{key!r}], "numba")
runner.step()
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
print(json.dumps(dict(seconds=seconds, cpu_seconds=cpu_seconds, numba_start=numba_start)))
"""


def first_step_times(workload_key: str, cache_dir: str) -> dict:
    """Wall and CPU seconds to the end of the first numba training step in a new process,
    and the wall seconds of Numba's start-up among them."""
    script = _SCRIPT.format(directory=os.path.dirname(__file__), key=workload_key)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"numba warm-up of {workload_key} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def first_step_seconds(workload_key: str, cache_dir: str) -> float:
    """Seconds to the end of the first numba training step, in a new process."""
    return first_step_times(workload_key, cache_dir)["seconds"]


class NumbaWarmup:
    """``track_`` figures in seconds; skipped where the numba backend cannot run."""

    params = [list(WORKLOADS)]
    param_names = ["workload"]
    timeout = 600
    unit = "seconds"
    cache_dir = None

    def setup(self, workload_key):
        backend_or_skip("numba")
        from .workloads import missing_layers

        missing = missing_layers(workload_key)
        if missing:
            raise SkipNotImplemented(f"engine.layers has no {', '.join(missing)} yet")
        self.cache_dir = tempfile.mkdtemp(prefix="engine-numba-cache-")

    def teardown(self, workload_key):
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    def track_first_step_cold(self, workload_key):
        return first_step_seconds(workload_key, self.cache_dir)

    track_first_step_cold.unit = "seconds"

    def track_first_step_cached(self, workload_key):
        first_step_seconds(workload_key, self.cache_dir)  # fills the cache
        return first_step_seconds(workload_key, self.cache_dir)

    track_first_step_cached.unit = "seconds"


def main(keys) -> None:
    """Print the markdown table of cold and cached warm-ups of ``keys``."""
    print("| workload | cold s (CPU s) | cached s (CPU s) | Numba start-up s (cached run) |")
    print("|---|---|---|---|")
    for key in keys:
        cache_dir = tempfile.mkdtemp(prefix="engine-numba-cache-")
        try:
            cold = first_step_times(key, cache_dir)
            cached = first_step_times(key, cache_dir)
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
        print(
            f"| {key} | {cold['seconds']:.2f} ({cold['cpu_seconds']:.2f}) "
            f"| {cached['seconds']:.2f} ({cached['cpu_seconds']:.2f}) "
            f"| {cached['numba_start']:.2f} |",
            flush=True,
        )
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main(sys.argv[1:] or list(WORKLOADS))
