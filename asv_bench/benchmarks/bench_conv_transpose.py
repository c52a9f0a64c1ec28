"""Conv2DTranspose through the autograd at a GAN generator's upsampling step.

A (64, 7, 7, 64) batch into 32 4x4 filters, stride 2, 'same': (64, 14, 14, 32)
out, as in a DCGAN generator on 28x28 images.
"""

from .common import BACKENDS, backend_or_skip, host_random
from .workloads import limit_threads

SHAPE, FILTERS, KERNEL, STRIDES = (64, 7, 7, 64), 32, 4, 2


class Conv2DTransposeLayer:
    """``Conv2DTranspose(32, 4, strides=2, padding="same")``: forward, and with backward."""

    params = [BACKENDS]
    param_names = ["backend"]

    def setup(self, backend_name):
        import engine
        from engine import layers

        backend = backend_or_skip(backend_name)
        limit_threads()
        with engine.use_backend(backend_name):
            engine.utils.set_random_seed(0)
            self.layer = layers.Conv2DTranspose(FILTERS, KERNEL, strides=STRIDES, padding="same")
            self.x = engine.Tensor(host_random(SHAPE), requires_grad=True, backend=backend)
            self.layer(self.x)  # builds the weights
        self.engine = engine
        self.backend = backend
        self.time_forward_backward(backend_name)  # JIT warm-up

    def time_forward(self, backend_name):
        with self.engine.no_grad():
            self.layer(self.x)
        self.backend.synchronize()

    def time_forward_backward(self, backend_name):
        self.x.grad = None
        for weight in self.layer.trainable_weights:
            weight.grad = None
        self.layer(self.x).sum().backward()
        self.backend.synchronize()
