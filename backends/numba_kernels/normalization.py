"""Batch normalization over ``(samples, channels)`` arrays, column by column.

Each kernel walks the rows with the channels innermost, so every pass reads
contiguous memory and vectorizes over channels. Sums are kept in float64
whatever the data's dtype (one pass per statistic instead of NumPy's
temporaries), then rounded to it; the per-element arithmetic follows the
reference's order: ``(x - mean) * inv_std * gamma + beta``.
"""

import math

import numba
import numpy


@numba.njit(cache=True, error_model="numpy")
def batch_norm_forward(x, gamma, beta, epsilon, y, mean, variance):
    """Normalize each column of ``x`` into ``y``; write its ``mean`` and biased ``variance``."""
    rows, channels = x.shape
    total = numpy.zeros(channels, numpy.float64)
    for r in range(rows):
        row = x[r]
        for c in range(channels):
            total[c] += row[c]
    for c in range(channels):
        mean[c] = total[c] / rows
    squares = numpy.zeros(channels, numpy.float64)
    for r in range(rows):
        row = x[r]
        for c in range(channels):
            centered = row[c] - mean[c]
            squares[c] += centered * centered
    inv_std = numpy.empty(channels, x.dtype)
    for c in range(channels):
        variance[c] = squares[c] / rows
        inv_std[c] = 1 / math.sqrt(variance[c] + epsilon)
    for r in range(rows):
        row = x[r]
        out = y[r]
        for c in range(channels):
            out[c] = (row[c] - mean[c]) * inv_std[c] * gamma[c] + beta[c]


@numba.njit(cache=True, error_model="numpy")
def batch_norm_backward(dy, x, mean, variance, gamma, epsilon, dx, dgamma, dbeta):
    """Gradients of ``batch_norm_forward`` w.r.t. ``x``, ``gamma`` and ``beta``.

    With ``x_hat = (x - mean) * inv_std``: ``dbeta = sum(dy)``,
    ``dgamma = sum(dy * x_hat)`` and
    ``dx = gamma * inv_std * (dy - dbeta / n - x_hat * dgamma / n)``.
    """
    rows, channels = x.shape
    inv_std = numpy.empty(channels, x.dtype)
    for c in range(channels):
        inv_std[c] = 1 / math.sqrt(variance[c] + epsilon)
    sum_dy = numpy.zeros(channels, numpy.float64)
    sum_dy_x_hat = numpy.zeros(channels, numpy.float64)
    for r in range(rows):
        grad = dy[r]
        row = x[r]
        for c in range(channels):
            g = grad[c]
            sum_dy[c] += g
            sum_dy_x_hat[c] += g * ((row[c] - mean[c]) * inv_std[c])
    mean_dy = numpy.empty(channels, x.dtype)
    mean_dy_x_hat = numpy.empty(channels, x.dtype)
    for c in range(channels):
        dbeta[c] = sum_dy[c]
        dgamma[c] = sum_dy_x_hat[c]
        mean_dy[c] = sum_dy[c] / rows
        mean_dy_x_hat[c] = sum_dy_x_hat[c] / rows
    for r in range(rows):
        grad = dy[r]
        row = x[r]
        out = dx[r]
        for c in range(channels):
            x_hat = (row[c] - mean[c]) * inv_std[c]
            out[c] = (grad[c] - mean_dy[c] - x_hat * mean_dy_x_hat[c]) * (gamma[c] * inv_std[c])
