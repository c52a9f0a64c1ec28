"""Elementwise activations and their derivatives.

Every activation ``name`` has ``name_forward(x)`` and
``name_backward(dy, x, y)`` where ``y`` is the forward output; a kernel uses
whichever of ``x`` and ``y`` gives the cheaper derivative.
"""

import math

import numpy

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class ActivationKernels:
    xp = numpy

    def relu_forward(self, x):
        return self.xp.maximum(x, 0)

    def relu_backward(self, dy, x, y):
        return dy * (y > 0)

    def sigmoid_forward(self, x):
        xp = self.xp
        # exp of a non-positive number never overflows
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def sigmoid_backward(self, dy, x, y):
        return dy * y * (1 - y)

    def tanh_forward(self, x):
        return self.xp.tanh(x)

    def tanh_backward(self, dy, x, y):
        return dy * (1 - y * y)

    def leaky_relu_forward(self, x, negative_slope=0.2):
        return self.xp.where(x > 0, x, x * negative_slope)

    def leaky_relu_backward(self, dy, x, y, negative_slope=0.2):
        return self.xp.where(x > 0, dy, dy * negative_slope)

    def elu_forward(self, x, alpha=1.0):
        xp = self.xp
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))

    def elu_backward(self, dy, x, y, alpha=1.0):
        return self.xp.where(x > 0, dy, dy * (y + alpha))

    def selu_forward(self, x):
        xp = self.xp
        negative = SELU_ALPHA * xp.expm1(xp.minimum(x, 0))
        return SELU_SCALE * xp.where(x > 0, x, negative)

    def selu_backward(self, dy, x, y):
        return self.xp.where(x > 0, SELU_SCALE * dy, dy * (y + SELU_SCALE * SELU_ALPHA))

    def softplus_forward(self, x):
        xp = self.xp
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def softplus_backward(self, dy, x, y):
        return dy * self.sigmoid_forward(x)

    def swish_forward(self, x):
        return x * self.sigmoid_forward(x)

    def swish_backward(self, dy, x, y):
        s = self.sigmoid_forward(x)
        return dy * (s + x * s * (1 - s))

    def gelu_forward(self, x, approximate=False):
        xp = self.xp
        if approximate:
            inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            return 0.5 * x * (1 + xp.tanh(inner))
        return 0.5 * x * (1 + self.erf(x / math.sqrt(2)))

    def gelu_backward(self, dy, x, y, approximate=False):
        xp = self.xp
        if approximate:
            c = math.sqrt(2 / math.pi)
            t = xp.tanh(c * (x + 0.044715 * x**3))
            dt = (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
            return dy * (0.5 * (1 + t) + 0.5 * x * dt)
        cdf = 0.5 * (1 + self.erf(x / math.sqrt(2)))
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return dy * (cdf + x * pdf)

    def erf(self, x):
        """Error function; the reference goes through the host's math.erf."""
        host = numpy.asarray(self.to_numpy(x))
        result = numpy.vectorize(math.erf, otypes=[host.dtype])(host)
        return self.xp.asarray(result)

    def softmax_forward(self, x, axis=-1):
        xp = self.xp
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def softmax_backward(self, dy, y, axis=-1):
        return y * (dy - (dy * y).sum(axis=axis, keepdims=True))

    def log_softmax_forward(self, x, axis=-1):
        xp = self.xp
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    def log_softmax_backward(self, dy, y, axis=-1):
        return dy - self.xp.exp(y) * dy.sum(axis=axis, keepdims=True)
