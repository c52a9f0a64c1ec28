"""Per-op Python overhead of the autograd: tiny arrays, so the bookkeeping dominates."""

import numpy

from .common import BACKENDS, backend_or_skip
from .workloads import limit_threads


def ten_op_chain(a, b):
    """Ten elementwise ops, each feeding the next."""
    y = a
    for _ in range(2):
        y = (y * b + a - b).tanh().relu()
    return y


class AutogradOverhead:
    """Forward and backward of one op, and of a 10-op chain, on 8x8 arrays."""

    params = [BACKENDS]
    param_names = ["backend"]

    def setup(self, backend_name):
        import engine

        backend = backend_or_skip(backend_name)
        limit_threads()
        rng = numpy.random.default_rng(0)
        self.a, self.b = (
            engine.Tensor(rng.random((8, 8), dtype="float32"), requires_grad=True, backend=backend)
            for _ in range(2)
        )
        self.grad = backend.asarray(numpy.ones((8, 8), dtype="float32"))
        self.backend = backend
        self.time_one_op(backend_name)
        self.time_ten_op_chain(backend_name)

    def time_one_op(self, backend_name):
        self.a.grad = self.b.grad = None
        (self.a * self.b).backward(self.grad)
        self.backend.synchronize()

    def time_ten_op_chain(self, backend_name):
        self.a.grad = self.b.grad = None
        ten_op_chain(self.a, self.b).backward(self.grad)
        self.backend.synchronize()
