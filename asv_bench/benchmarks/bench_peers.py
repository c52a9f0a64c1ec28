"""PyTorch (CPU, eager) and Keras 3 (on JAX) peers of the seed workloads, each skipped
when it is not installed.

Same models, batch sizes and optimizers as ``bench_workloads`` (from
``workloads.py``), with ``torch.set_num_threads`` at the shared thread count,
so the dashboard shows this library and its peers side by side. Neither is a
dependency of the library: install them yourself to see these.
"""

import numpy

from .bench_autograd import ten_op_chain
from .bench_layers import CONV_CASES, torch_conv2d_case
from .common import SkipNotImplemented
from .workloads import WORKLOADS, KerasRunner, TorchRunner, limit_threads, seconds_per_call


def _import_torch_or_skip():
    try:
        import torch
    except ImportError:
        raise SkipNotImplemented("PyTorch is not installed") from None
    return torch


class _PeerSteps:
    """A peer's training step and predict batch of ``self.runner`` (its ``setup`` builds it)."""

    params = [list(WORKLOADS)]
    param_names = ["workload"]

    def time_train_step(self, workload_key):
        self.runner.step()

    def time_predict_batch(self, workload_key):
        self.runner.predict()

    def track_train_samples_per_second(self, workload_key):
        return self.runner.samples / seconds_per_call(self.runner.step, 0.2, rounds=3)

    track_train_samples_per_second.unit = "samples/s"


class TorchWorkload(_PeerSteps):
    """One training step and one predict batch of W1-W6 in PyTorch."""

    timeout = 120

    def setup(self, workload_key):
        _import_torch_or_skip()
        self.runner = TorchRunner(WORKLOADS[workload_key])
        limit_threads()
        for _ in range(2):
            self.runner.step()
        self.runner.predict()


class KerasJaxWorkload(_PeerSteps):
    """One training step and one predict batch of W1-W6 in Keras 3 on JAX (skipped where
    Keras or JAX is not installed): the same layer lists as this library's."""

    timeout = 180

    def setup(self, workload_key):
        try:
            self.runner = KerasRunner(WORKLOADS[workload_key])
        except ImportError as error:
            raise SkipNotImplemented(f"Keras on JAX: {error}") from None
        limit_threads()
        for _ in range(2):
            self.runner.step()
        self.runner.predict()


class TorchAutogradOverhead:
    """PyTorch's per-op overhead on the same 8x8 graphs as ``bench_autograd``."""

    def setup(self):
        torch = _import_torch_or_skip()
        limit_threads()
        rng = numpy.random.default_rng(0)
        self.a, self.b = (
            torch.from_numpy(rng.random((8, 8), dtype="float32")).requires_grad_() for _ in range(2)
        )
        self.grad = torch.ones(8, 8)
        self.time_one_op()  # the first backward starts PyTorch's autograd engine
        self.time_ten_op_chain()

    def time_one_op(self):
        self.a.grad = self.b.grad = None
        (self.a * self.b).backward(self.grad)

    def time_ten_op_chain(self):
        self.a.grad = self.b.grad = None
        ten_op_chain(self.a, self.b).backward(self.grad)


class TorchConv2DLayer:
    """PyTorch's ``Conv2d`` forward and backward on the cases of ``bench_layers.Conv2DLayer``."""

    params = [list(CONV_CASES)]
    param_names = ["case"]

    def setup(self, case):
        torch = _import_torch_or_skip()
        limit_threads()
        torch.manual_seed(0)
        self.conv, self.x = torch_conv2d_case(torch, case)
        self.time_forward_backward(case)

    def time_forward_backward(self, case):
        self.x.grad = None
        self.conv.zero_grad(set_to_none=True)
        self.conv(self.x).sum().backward()
