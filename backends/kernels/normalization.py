"""Batch and layer normalization over 2-D arrays.

Callers flatten: batch normalization sees ``(samples, channels)`` and
normalizes each column; layer normalization sees ``(samples, features)`` and
normalizes each row. Variances are biased (divided by the count), as in Keras.
``gamma`` or ``beta`` may be None (``scale=False`` / ``center=False``).
Forward kernels return ``(y, mean, variance)``; backward kernels take the
forward input and statistics back and return ``(dx, dgamma, dbeta)``.
"""

import numpy


class NormalizationKernels:
    xp = numpy

    def _normalize_forward(self, x, gamma, beta, epsilon, axis):
        xp = self.xp
        mean = x.mean(axis=axis, keepdims=True)
        centered = x - mean
        variance = xp.mean(centered * centered, axis=axis, keepdims=True)
        y = centered
        y *= 1 / xp.sqrt(variance + epsilon)
        if gamma is not None:
            y *= gamma
        if beta is not None:
            y += beta
        return y, mean, variance

    def _normalize_backward(self, dy, x, mean, variance, gamma, epsilon, axis):
        xp = self.xp
        inv_std = 1 / xp.sqrt(variance + epsilon)
        x_hat = (x - mean) * inv_std
        # gamma and beta are per column in both layouts
        dbeta = dy.sum(axis=0)
        dgamma = (dy * x_hat).sum(axis=0)
        dx_hat = dy * gamma if gamma is not None else dy
        # d/dx of (x - mean) / std, with mean and std depending on x
        dx = dx_hat - dx_hat.mean(axis=axis, keepdims=True)
        dx -= x_hat * (dx_hat * x_hat).mean(axis=axis, keepdims=True)
        dx *= inv_std
        return dx, dgamma, dbeta

    def batch_norm_forward(self, x, gamma, beta, epsilon):
        """Normalize each channel of ``x`` (``(samples, channels)``) by its batch statistics.

        Returns ``(y, mean, variance)`` with the statistics of shape ``(channels,)``.
        """
        y, mean, variance = self._normalize_forward(x, gamma, beta, epsilon, axis=0)
        return y, mean[0], variance[0]

    def batch_norm_backward(self, dy, x, mean, variance, gamma, epsilon):
        return self._normalize_backward(dy, x, mean, variance, gamma, epsilon, axis=0)

    def layer_norm_forward(self, x, gamma, beta, epsilon):
        """Normalize each row of ``x`` (``(samples, features)``) by its own statistics.

        Returns ``(y, mean, variance)`` with the statistics of shape ``(samples, 1)``.
        """
        return self._normalize_forward(x, gamma, beta, epsilon, axis=1)

    def layer_norm_backward(self, dy, x, mean, variance, gamma, epsilon):
        return self._normalize_backward(dy, x, mean, variance, gamma, epsilon, axis=1)
