"""Pooling ops over channels-last inputs."""

from ..tensor import Function, Tensor, apply
from .conv import as_pair


class MaxPool2D(Function):
    def __init__(self, pool_size, strides, padding):
        self.pool_size, self.strides, self.padding = pool_size, strides, padding

    def forward(self, x):
        self.x_shape = x.shape
        y, self.argmax = self.backend.max_pool2d_forward(
            x, self.pool_size, self.strides, self.padding
        )
        return y

    def backward(self, grad):
        return (
            self.backend.max_pool2d_backward(
                grad, self.argmax, self.x_shape, self.pool_size, self.strides, self.padding
            ),
        )


class AvgPool2D(Function):
    def __init__(self, pool_size, strides, padding):
        self.pool_size, self.strides, self.padding = pool_size, strides, padding

    def forward(self, x):
        self.x_shape = x.shape
        return self.backend.avg_pool2d_forward(x, self.pool_size, self.strides, self.padding)

    def backward(self, grad):
        return (
            self.backend.avg_pool2d_backward(
                grad, self.x_shape, self.pool_size, self.strides, self.padding
            ),
        )

    def backward_graph(self, grad):
        geometry = (self.pool_size, self.strides, self.padding)
        return (apply(AvgPool2DBackward(self.x_shape, *geometry), grad),)


class AvgPool2DBackward(Function):
    """Average pooling's input gradient (linear in it) as an op, for higher-order gradients.

    Its own gradient is average pooling again.
    """

    def __init__(self, x_shape, pool_size, strides, padding):
        self.x_shape = x_shape
        self.pool_size, self.strides, self.padding = pool_size, strides, padding

    def forward(self, grad):
        geometry = (self.pool_size, self.strides, self.padding)
        return self.backend.avg_pool2d_backward(grad, self.x_shape, *geometry)

    def backward(self, grad):
        return (self.backend.avg_pool2d_forward(grad, self.pool_size, self.strides, self.padding),)

    def backward_graph(self, grad):
        return (apply(AvgPool2D(self.pool_size, self.strides, self.padding), grad),)


def _pool_args(pool_size, strides):
    pool_size = as_pair(pool_size, "pool_size")
    return pool_size, pool_size if strides is None else as_pair(strides, "strides")


def max_pool2d(x: Tensor, pool_size=(2, 2), strides=None, padding="valid") -> Tensor:
    """Window maxima of ``(n, h, w, c)`` inputs; ``strides`` defaults to ``pool_size``."""
    return apply(MaxPool2D(*_pool_args(pool_size, strides), padding), x)


def avg_pool2d(x: Tensor, pool_size=(2, 2), strides=None, padding="valid") -> Tensor:
    """Window means of ``(n, h, w, c)`` inputs; padded positions are not counted."""
    return apply(AvgPool2D(*_pool_args(pool_size, strides), padding), x)


def _pool1d(pool, x: Tensor, pool_size: int, strides, padding) -> Tensor:
    n, steps, channels = x.shape
    strides = pool_size if strides is None else strides
    y = pool(x.reshape(n, 1, steps, channels), (1, pool_size), (1, strides), padding)
    return y.reshape(n, y.shape[2], channels)


def max_pool1d(x: Tensor, pool_size: int = 2, strides=None, padding="valid") -> Tensor:
    """Window maxima of ``(n, steps, c)`` inputs."""
    return _pool1d(max_pool2d, x, pool_size, strides, padding)


def avg_pool1d(x: Tensor, pool_size: int = 2, strides=None, padding="valid") -> Tensor:
    """Window means of ``(n, steps, c)`` inputs."""
    return _pool1d(avg_pool2d, x, pool_size, strides, padding)
