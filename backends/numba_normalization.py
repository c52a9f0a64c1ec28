"""The numba backend's normalization overrides: layer and batch normalization.

A mixin of ``NumbaBackend``. Layer normalization splits its rows between threads (as
native jobs where it can, ``numba_native``); batch normalization keeps its channel sums in float64.
2-D float32/float64 inputs only (the layers flatten theirs); the rest goes to
the NumPy reference.
"""

import numpy

from . import numba_compile_ahead, numba_native, thread_pool
from . import numba_dispatch as dispatch
from .numba_dispatch import _jit_dtype, _scale_and_shift

# layer_norm_backward's block bounds and float64 partial sums, as their types go
_BOUNDS, _PARTS = numpy.empty(0, numpy.int64), numpy.empty((0, 0))


class NormalizationOverrides:
    """Needs the ``self._normalization`` kernel module."""

    # -- layer normalization: rows split between the pool's threads ------------

    @staticmethod
    def _layer_norm_args(x, gamma, beta, *others):
        """``gamma`` and ``beta`` as arrays (ones and zeros when absent), or None to fall back
        (also for an empty ``x``)."""
        params = _scale_and_shift(x, gamma, beta, *others)
        return None if params is None or x.size == 0 else params

    def layer_norm_forward(self, x, gamma, beta, epsilon):
        params = self._layer_norm_args(x, gamma, beta)
        if params is None:
            return super().layer_norm_forward(x, gamma, beta, epsilon)
        rows, features = x.shape
        y = numpy.empty(x.shape, x.dtype)
        mean = numpy.empty((rows, 1), x.dtype)
        variance = numpy.empty((rows, 1), x.dtype)
        x = numpy.ascontiguousarray(x)
        args = (x, *params, x.dtype.type(epsilon), y, mean, variance)
        numba_compile_ahead.start(  # the backward's arguments: of these types
            self._normalization.layer_norm_backward,
            lambda: (y, x, mean, variance, params[0], args[3], _BOUNDS, y, _PARTS, _PARTS, 0, 0),
        )
        min_rows = -(-dispatch.MIN_SPLIT_ELEMENTS // features)
        numba_native.run_packed(self._normalization, "layer_norm_forward", args, rows, min_rows)
        return y, mean, variance

    def layer_norm_backward(self, dy, x, mean, variance, gamma, epsilon):
        params = self._layer_norm_args(x, gamma, None, dy, mean, variance)
        rows = x.shape[0]
        if params is None or dy.shape != x.shape or not mean.shape == variance.shape == (rows, 1):
            return super().layer_norm_backward(dy, x, mean, variance, gamma, epsilon)
        features = x.shape[1]
        parts = min(thread_pool.width(), max(1, x.size // dispatch.MIN_SPLIT_ELEMENTS))
        blocks = thread_pool.blocks(rows, parts)
        bounds = numpy.array([start for start, _ in blocks] + [rows], numpy.int64)
        dx = numpy.empty(x.shape, x.dtype)
        dgamma_parts = numpy.empty((len(blocks), features))
        dbeta_parts = numpy.empty((len(blocks), features))
        arrays = tuple(numpy.ascontiguousarray(a) for a in (dy, x, mean, variance))
        args = (*arrays, params[0], x.dtype.type(epsilon), bounds, dx, dgamma_parts, dbeta_parts)
        numba_compile_ahead.wait(self._normalization.layer_norm_backward)
        numba_native.run_packed(self._normalization, "layer_norm_backward", args, len(blocks), 1)
        dgamma = dgamma_parts.sum(axis=0).astype(x.dtype)
        dbeta = dbeta_parts.sum(axis=0).astype(x.dtype)
        return dx, dgamma, dbeta

    # -- batch normalization -----------------------------------------------

    @staticmethod
    def _batch_norm_args(x, gamma, beta):
        """``gamma`` and ``beta`` as arrays (ones and zeros when absent), or None to fall back
        (also for a batch of no rows)."""
        params = _scale_and_shift(x, gamma, beta)  # None unless x is 2-D
        return None if params is None or x.shape[0] == 0 else params

    def batch_norm_forward(self, x, gamma, beta, epsilon):
        params = self._batch_norm_args(x, gamma, beta)
        if params is None:
            return super().batch_norm_forward(x, gamma, beta, epsilon)
        y = numpy.empty(x.shape, x.dtype)
        mean = numpy.empty(x.shape[1], x.dtype)
        variance = numpy.empty(x.shape[1], x.dtype)
        self._normalization.batch_norm_forward(
            numpy.ascontiguousarray(x), *params, x.dtype.type(epsilon), y, mean, variance
        )
        return y, mean, variance

    def batch_norm_backward(self, dy, x, mean, variance, gamma, epsilon):
        params = self._batch_norm_args(x, gamma, None)
        if (
            params is None
            or _jit_dtype(x, dy, mean, variance) is None
            or dy.shape != x.shape
            or mean.shape != x.shape[1:]
            or variance.shape != x.shape[1:]
        ):
            return super().batch_norm_backward(dy, x, mean, variance, gamma, epsilon)
        dx = numpy.empty(x.shape, x.dtype)
        dgamma = numpy.empty(x.shape[1], x.dtype)
        dbeta = numpy.empty(x.shape[1], x.dtype)
        self._normalization.batch_norm_backward(
            numpy.ascontiguousarray(dy),
            numpy.ascontiguousarray(x),
            numpy.ascontiguousarray(mean),
            numpy.ascontiguousarray(variance),
            params[0],
            x.dtype.type(epsilon),
            dx,
            dgamma,
            dbeta,
        )
        return dx, dgamma, dbeta
