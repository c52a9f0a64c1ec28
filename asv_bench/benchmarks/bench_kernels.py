"""Backend kernels on raw arrays, each at a small and a large size.

Sizes are taken from the seed workloads where one fits: the small convolution
is W3's first layer, the large one its second (also each with its pooling, as
one op and as two); pooling follows W3's two pooling layers; the LSTM cell and
the whole-sequence LSTM are W4's at the small size.
"""

from .common import BACKENDS, backend_or_skip, host_random
from .workloads import limit_threads

SIZES = ["small", "large"]


class KernelBenchmark:
    """Arrays on the backend in ``setup``, every kernel run once there (JIT warm-up)."""

    params = [BACKENDS, SIZES]
    param_names = ["backend", "size"]

    def setup(self, backend_name, size):
        self.backend = backend_or_skip(backend_name)
        limit_threads()  # after the backend's import, which may load Numba
        self.make_inputs(size)
        for name in dir(self):
            if name.startswith("time_"):
                getattr(self, name)(backend_name, size)

    def array(self, shape, seed=0):
        return self.backend.asarray(host_random(shape, seed))


class Matmul(KernelBenchmark):
    """``w2`` is W2's first product (a batch of 128 by 784 by 256), which the numba
    backend splits between its pool's threads."""

    params = [BACKENDS, ["small", "w2", "large"]]

    def make_inputs(self, size):
        m, k, n = {"small": (128, 64, 64), "w2": (128, 784, 256), "large": (512, 1024, 1024)}[size]
        self.a, self.b = self.array((m, k)), self.array((k, n), seed=1)

    def time_matmul(self, backend_name, size):
        self.backend.matmul(self.a, self.b)
        self.backend.synchronize()


def _no_work(start, stop):
    pass


class KernelPoolHandOff:
    """The numba backend's kernel pool (``backends/thread_pool.py``): two empty blocks, one
    on a worker, so that what is timed is the hand-off itself (one block where the machine
    has one CPU)."""

    def setup(self):
        backend_or_skip("numba")
        limit_threads()
        from backends import thread_pool

        self.run_blocks = thread_pool.run_blocks
        self.time_empty_hand_off()

    def time_empty_hand_off(self):
        self.run_blocks(_no_work, count=2)


#: size -> (input shape, kernel shape): W3's first and second convolutions
CONVOLUTIONS = {
    "small": ((64, 28, 28, 1), (3, 3, 1, 32)),
    "large": ((64, 13, 13, 32), (3, 3, 32, 64)),
}


def _convolution_arrays(benchmark, size) -> None:
    """``benchmark.x``, ``.kernel`` and ``.bias`` of ``CONVOLUTIONS[size]``."""
    x_shape, kernel_shape = CONVOLUTIONS[size]
    benchmark.x, benchmark.kernel = benchmark.array(x_shape), benchmark.array(kernel_shape, seed=1)
    benchmark.bias = benchmark.array(kernel_shape[-1:], seed=2)


class Conv2D(KernelBenchmark):
    def make_inputs(self, size):
        _convolution_arrays(self, size)
        self.dy = self.backend.conv2d_forward(self.x, self.kernel, self.bias)

    def time_forward(self, backend_name, size):
        self.backend.conv2d_forward(self.x, self.kernel, self.bias)
        self.backend.synchronize()

    def time_backward_input(self, backend_name, size):
        self.backend.conv2d_backward_input(self.dy, self.kernel, self.x.shape)
        self.backend.synchronize()

    def time_backward_weight(self, backend_name, size):
        self.backend.conv2d_backward_weight(self.dy, self.x, self.kernel.shape)
        self.backend.synchronize()


class Conv2DReluMaxPool(KernelBenchmark):
    """W3's two relu convolutions, each pooled 2x2: as one op (``fused_``, what a model
    runs where ``fuses_conv2d_relu_max_pool`` is true) and as the two ops (``two_ops_``);
    the backward gives the kernel and bias gradients, and the large one (a second layer)
    the input gradient too."""

    def make_inputs(self, size):
        _convolution_arrays(self, size)
        self.shapes = CONVOLUTIONS[size]
        self.needs = (size == "large", True, True)
        self.geometry = ((1, 1), "valid", (1, 1))
        pooled, self.index = self.backend.conv2d_relu_max_pool_forward(
            self.x, self.kernel, self.bias, *self.geometry
        )
        self.dy = self.array(pooled.shape, seed=3)
        self.y, self.argmax = self._two_ops_forward()

    def _two_ops_forward(self):
        backend = self.backend
        y = backend.conv2d_forward(self.x, self.kernel, self.bias, activation="relu")
        pooled, argmax = backend.max_pool2d_forward(y, (2, 2), (2, 2))
        return y, argmax

    def time_fused_forward(self, backend_name, size):
        self.backend.conv2d_relu_max_pool_forward(self.x, self.kernel, self.bias, *self.geometry)
        self.backend.synchronize()

    def time_fused_backward(self, backend_name, size):
        self.backend.conv2d_relu_max_pool_backward(
            self.dy, self.index, self.x, self.kernel, self.shapes, self.needs, *self.geometry
        )
        self.backend.synchronize()

    def time_two_ops_forward(self, backend_name, size):
        self._two_ops_forward()
        self.backend.synchronize()

    def time_two_ops_backward(self, backend_name, size):
        backend = self.backend
        grad = backend.max_pool2d_backward(self.dy, self.argmax, self.y.shape, (2, 2), (2, 2))
        backend.conv2d_backward(
            grad, self.x, self.kernel, self.shapes, self.needs, *self.geometry, relu_output=self.y
        )
        backend.synchronize()


class Pooling2D(KernelBenchmark):
    pool = (2, 2)

    def make_inputs(self, size):
        shape = {"small": (64, 11, 11, 64), "large": (64, 26, 26, 32)}[size]
        self.x = self.array(shape)
        y, self.argmax = self.backend.max_pool2d_forward(self.x, self.pool, self.pool)
        self.dy = self.array(y.shape, seed=1)

    def time_max_forward(self, backend_name, size):
        self.backend.max_pool2d_forward(self.x, self.pool, self.pool)
        self.backend.synchronize()

    def time_max_backward(self, backend_name, size):
        self.backend.max_pool2d_backward(self.dy, self.argmax, self.x.shape, self.pool, self.pool)
        self.backend.synchronize()

    def time_avg_forward(self, backend_name, size):
        self.backend.avg_pool2d_forward(self.x, self.pool, self.pool)
        self.backend.synchronize()

    def time_avg_backward(self, backend_name, size):
        self.backend.avg_pool2d_backward(self.dy, self.x.shape, self.pool, self.pool)
        self.backend.synchronize()


class SoftmaxCrossEntropy(KernelBenchmark):
    def make_inputs(self, size):
        import numpy

        n, classes = {"small": (128, 10), "large": (1024, 1000)}[size]
        self.logits = self.array((n, classes))
        labels = numpy.random.default_rng(1).integers(0, classes, size=n)
        self.targets = self.backend.asarray(numpy.eye(classes, dtype="float32")[labels])
        _, self.probs = self.backend.softmax_cross_entropy_forward(self.logits, self.targets)
        self.dloss = self.backend.asarray(numpy.full(n, 1.0 / n, dtype="float32"))

    def time_forward(self, backend_name, size):
        self.backend.softmax_cross_entropy_forward(self.logits, self.targets)
        self.backend.synchronize()

    def time_backward(self, backend_name, size):
        self.backend.softmax_cross_entropy_backward(self.probs, self.targets, self.dloss)
        self.backend.synchronize()


class SparseCrossEntropy(KernelBenchmark):
    """Integer labels: the fused softmax and loss from logits, the loss read from softmax
    probabilities already computed (a softmax model's output), and that softmax."""

    def make_inputs(self, size):
        import numpy

        n, classes = {"small": (128, 10), "large": (1024, 1000)}[size]
        self.logits = self.array((n, classes))
        self.labels = self.backend.asarray(numpy.random.default_rng(1).integers(0, classes, n))
        self.probs = self.backend.softmax_forward(self.logits)

    def time_fused_forward(self, backend_name, size):
        self.backend.sparse_softmax_cross_entropy_forward(self.logits, self.labels)
        self.backend.synchronize()

    def time_of_probabilities(self, backend_name, size):
        self.backend.sparse_cross_entropy_of_probabilities(self.probs, self.labels)
        self.backend.synchronize()

    def time_softmax(self, backend_name, size):
        self.backend.softmax_forward(self.logits)
        self.backend.synchronize()


class DropoutMask(KernelBenchmark):
    """A float32 mask of W6's feed-forward output (large) and of a dense layer's (small)."""

    def make_inputs(self, size):
        import numpy

        self.shape = {"small": (128, 64), "large": (32, 128, 64)}[size]
        self.dtype = numpy.dtype("float32")
        self.backend.seed(0)

    def time_mask(self, backend_name, size):
        self.backend.dropout_mask(self.shape, 0.1, self.dtype)
        self.backend.synchronize()


class AdamUpdate(KernelBenchmark):
    def make_inputs(self, size):
        shape = {"small": (64, 64), "large": (1024, 1024)}[size]
        self.param, self.grad = self.array(shape), self.array(shape, seed=1)
        self.m = self.backend.xp.zeros_like(self.param)
        self.v = self.backend.xp.zeros_like(self.param)

    def time_update(self, backend_name, size):
        self.backend.adam_update(self.param, self.grad, self.m, self.v, 1e-3, 0.9, 0.999, 1e-7)
        self.backend.synchronize()


class LSTMCell(KernelBenchmark):
    def make_inputs(self, size):
        batch, units = {"small": (64, 64), "large": (256, 256)}[size]
        self.x_proj = self.array((batch, 4 * units))
        self.h_prev = self.array((batch, units), seed=1)
        self.c_prev = self.array((batch, units), seed=2)
        self.recurrent_kernel = self.array((units, 4 * units), seed=3)
        _, self.c, self.preact, self.gates = self.backend.lstm_cell_forward(
            self.x_proj, self.h_prev, self.c_prev, self.recurrent_kernel
        )
        self.dh = self.array((batch, units), seed=4)
        self.dc = self.array((batch, units), seed=5)

    def time_forward(self, backend_name, size):
        self.backend.lstm_cell_forward(self.x_proj, self.h_prev, self.c_prev, self.recurrent_kernel)
        self.backend.synchronize()

    def time_backward(self, backend_name, size):
        self.backend.lstm_cell_backward(
            self.dh, self.dc, self.c_prev, self.c, self.preact, self.gates
        )
        self.backend.synchronize()


class LSTMSequence(KernelBenchmark):
    """The whole time loop of an LSTM layer, as the LSTM op runs it.

    The sequence kernels may consume ``x_proj`` and their cache (the numba
    backend writes gates and gradients over them), so each call starts from a
    copy of ``x_proj``, which is timed with it.
    """

    def make_inputs(self, size):
        steps, batch, units = {"small": (50, 64, 64), "large": (50, 256, 256)}[size]
        self.x_proj = self.array((steps, batch, 4 * units))
        self.recurrent_kernel = self.array((units, 4 * units), seed=1) * 0.1
        self.h0 = self.array((batch, units), seed=2)
        self.c0 = self.array((batch, units), seed=3)
        self.grad_outputs = self.array((steps, batch, units), seed=4)
        self.dh = self.array((batch, units), seed=5)
        self.dc = self.array((batch, units), seed=6)

    def forward(self):
        return self.backend.lstm_sequence_forward(
            self.x_proj.copy(), self.recurrent_kernel, self.h0, self.c0
        )

    def time_forward(self, backend_name, size):
        self.forward()
        self.backend.synchronize()

    def time_forward_backward(self, backend_name, size):
        cache = self.forward()[3]
        self.backend.lstm_sequence_backward(
            self.grad_outputs, self.dh, self.dc, self.recurrent_kernel, cache
        )
        self.backend.synchronize()
