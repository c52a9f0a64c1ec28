"""The seed workloads W1-W6: one training step, one predict and one test batch on each
backend.

``track_train_samples_per_second`` turns the step time into the figure the
issue notes quote (for W5, the full batch of 100 samples per step).
``FunctionalWorkload`` trains W2 and W5 built with the functional API, to set
beside ``Workload``'s Sequential figures (the functional W2 should be within 3%);
``EagerWorkload`` runs W1, W3 and W5 with ``run_eagerly=True`` (no replayed forward or
loss).
The models and data come from ``workloads.py``, shared with ``compare.py``.
"""

from .common import BACKENDS, SkipNotImplemented, backend_or_skip
from .workloads import WORKLOADS, EngineRunner, limit_threads, seconds_per_call

WORKLOAD_KEYS = list(WORKLOADS)


def _runner_or_skip(
    workload_key, backend_name, batch_size=None, functional=False, subclassed=False
):
    backend_or_skip(backend_name)
    try:
        return EngineRunner(
            WORKLOADS[workload_key], backend_name, batch_size, functional, subclassed
        )
    except NotImplementedError as error:
        raise SkipNotImplemented(f"{workload_key}: {error}") from None


class Workload:
    """A compiled model with one batch ready; two steps in setup warm up any JIT."""

    params = [BACKENDS, WORKLOAD_KEYS]
    param_names = ["backend", "workload"]
    timeout = 120
    run_eagerly = False

    def setup(self, backend_name, workload_key):
        self.runner = _runner_or_skip(workload_key, backend_name)
        self.runner.model.run_eagerly = self.run_eagerly
        limit_threads()  # after the backend's import, which may load Numba
        for _ in range(2):
            self.runner.step()
        self.runner.predict()
        self.runner.test_batch()

    def time_train_step(self, backend_name, workload_key):
        self.runner.step()

    def time_predict_batch(self, backend_name, workload_key):
        self.runner.predict()

    def time_test_batch(self, backend_name, workload_key):
        """``test_on_batch``: ``evaluate``'s step (forward, loss and metrics)."""
        self.runner.test_batch()

    def track_train_samples_per_second(self, backend_name, workload_key):
        return self.runner.samples / seconds_per_call(self.runner.step, 0.2, rounds=3)

    track_train_samples_per_second.unit = "samples/s"


class EagerWorkload(Workload):
    """W1, W3 and W5 with ``run_eagerly=True``: the layers run at every step and predict,
    to set beside ``Workload``'s replayed forwards and losses (``engine/models/replay.py``)."""

    params = [BACKENDS, ["W1", "W3", "W5"]]
    run_eagerly = True


class FunctionalWorkload:
    """W2 and W5 as ``engine.Model(inputs, outputs)``: the same layers as in ``Workload``."""

    params = [BACKENDS, ["W2", "W5"]]
    param_names = ["backend", "workload"]
    timeout = 120

    def setup(self, backend_name, workload_key):
        self.runner = _runner_or_skip(workload_key, backend_name, functional=True)
        limit_threads()
        for _ in range(2):
            self.runner.step()

    def time_train_step(self, backend_name, workload_key):
        self.runner.step()

    def track_train_samples_per_second(self, backend_name, workload_key):
        return self.runner.samples / seconds_per_call(self.runner.step, 0.2, rounds=3)

    track_train_samples_per_second.unit = "samples/s"


class SubclassedWorkload(FunctionalWorkload):
    """W2 and W5 as a subclassed ``engine.Model`` looping over its layers in ``call``."""

    def setup(self, backend_name, workload_key):
        self.runner = _runner_or_skip(workload_key, backend_name, subclassed=True)
        limit_threads()
        for _ in range(2):
            self.runner.step()


class EpochPeakMemory:
    """Peak resident memory over one training epoch (batches as in the workload)."""

    params = [BACKENDS, ["W2", "W3"]]
    param_names = ["backend", "workload"]
    timeout = 300

    def setup(self, backend_name, workload_key):
        workload = WORKLOADS[workload_key]
        self.runner = _runner_or_skip(workload_key, backend_name)
        limit_threads()
        self.runner.step()
        self.x, self.y = workload.batch(workload.epoch_samples, seed=1)

    def peakmem_train_epoch(self, backend_name, workload_key):
        self.runner.fit_epoch(self.x, self.y)
