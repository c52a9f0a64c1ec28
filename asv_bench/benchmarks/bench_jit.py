"""Numba JIT warm-up: seconds to the end of the first training step, cold and cached.

Each measurement runs in a fresh interpreter with ``NUMBA_CACHE_DIR`` pointing
at a temporary directory: empty for the cold figure, filled by one earlier
process for the cached one. The clock starts after ``import engine`` and stops
after the first ``train_on_batch``, so it holds model building, compilation
(or loading from the cache) and one step.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from .common import SkipNotImplemented, backend_or_skip
from .workloads import WORKLOADS

_SCRIPT = """
import sys, time
sys.path.insert(0, {directory!r})
import engine
import workloads
start = time.perf_counter()
runner = workloads.EngineRunner(workloads.WORKLOADS[{key!r}], "numba")
runner.step()
print(time.perf_counter() - start)
"""


def first_step_seconds(workload_key: str, cache_dir: str) -> float:
    """Seconds to the end of the first numba training step, in a new process."""
    script = _SCRIPT.format(directory=os.path.dirname(__file__), key=workload_key)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"numba warm-up of {workload_key} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


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
