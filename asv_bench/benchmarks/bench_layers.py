"""Layers through the autograd: forward and backward of one layer call.

The two Conv2D cases are the layers issue's speed figures: a (64, 28, 28, 1)
batch into 32 3x3 filters, and (64, 14, 14, 32) into 64 3x3 filters, both
'valid'. ``bench_peers.TorchConv2DLayer`` times the same work in PyTorch.
``DepthwiseConv2DLayer`` is a MobileNet- or Xception-style 3x3 'same' depthwise
convolution of a (32, 32, 32, 16) batch, with a stride of 1 and of 2.
"""

import numpy

from .common import BACKENDS, backend_or_skip, host_random
from .workloads import limit_threads

#: case -> (input shape, filters)
CONV_CASES = {
    "28x28x1-32": ((64, 28, 28, 1), 32),
    "14x14x32-64": ((64, 14, 14, 32), 64),
}


class Conv2DLayer:
    """``Conv2D(filters, 3)`` forward, then backward to the input and the weights."""

    params = [BACKENDS, list(CONV_CASES)]
    param_names = ["backend", "case"]

    def setup(self, backend_name, case):
        import engine
        from engine import layers

        backend = backend_or_skip(backend_name)
        limit_threads()
        shape, filters = CONV_CASES[case]
        with engine.use_backend(backend_name):
            engine.utils.set_random_seed(0)
            self.layer = layers.Conv2D(filters, (3, 3))
            self.x = engine.Tensor(host_random(shape), requires_grad=True, backend=backend)
            self.layer(self.x)  # builds the weights
        self.backend = backend
        self.time_forward_backward(backend_name, case)  # JIT warm-up

    def time_forward_backward(self, backend_name, case):
        self.x.grad = None
        for weight in self.layer.trainable_weights:
            weight.grad = None
        self.layer(self.x).sum().backward()
        self.backend.synchronize()


class DepthwiseConv2DLayer:
    """``DepthwiseConv2D(3, strides, padding="same")`` forward, then backward to the input
    and the weights."""

    params = [BACKENDS, [1, 2]]
    param_names = ["backend", "strides"]

    def setup(self, backend_name, strides):
        import engine
        from engine import layers

        backend = backend_or_skip(backend_name)
        limit_threads()
        with engine.use_backend(backend_name):
            engine.utils.set_random_seed(0)
            self.layer = layers.DepthwiseConv2D(3, strides=strides, padding="same")
            x = host_random((32, 32, 32, 16))
            self.x = engine.Tensor(x, requires_grad=True, backend=backend)
            self.layer(self.x)  # builds the weights
        self.backend = backend
        self.time_forward_backward(backend_name, strides)  # JIT warm-up

    def time_forward_backward(self, backend_name, strides):
        self.x.grad = None
        for weight in self.layer.trainable_weights:
            weight.grad = None
        self.layer(self.x).sum().backward()
        self.backend.synchronize()


def torch_conv2d_case(torch, case):
    """The PyTorch module and input (NCHW, as PyTorch is fastest) of a ``CONV_CASES`` case."""
    shape, filters = CONV_CASES[case]
    batch, height, width, channels = shape
    conv = torch.nn.Conv2d(channels, filters, 3)
    x = torch.from_numpy(
        numpy.ascontiguousarray(host_random(shape).transpose(0, 3, 1, 2))
    ).requires_grad_()
    return conv, x
