"""The numba backend's convolution, average pooling and batch-normalization overrides.

A mixin of ``NumbaBackend``: convolution is Numba im2col / col2im (padding
handled without a padded copy) around BLAS GEMMs, which measured 3-5x faster
than direct loops at 32 channels; bias (+ relu) is added in place; batch
normalization keeps its channel sums in float64. Anything the kernels do not
cover goes to the NumPy reference through ``super()``.

The columns are never built for the whole batch: a few images at a time are
packed into a per-thread scratch array of about 1 MiB (``_CHUNK_BYTES``) and
multiplied while they are still in cache, the forward's GEMM writing straight
into its slice of the output. On W3 (8.9 MB of columns a batch in its second
convolution) this made a training step 19% faster than one GEMM over the
batch's columns (one thread; chunks of 0.25, 0.5, 1, 1.5 and 2 MiB measured,
0.75-1 MiB best); the GEMMs themselves run faster on cache-resident columns.
"""

import threading

import numpy

from .kernels.pooling import _pool_geometry
from .numba_dispatch import _jit_dtype

#: bytes of column matrix per GEMM (whole images; at least one)
_CHUNK_BYTES = 1 << 20
#: up to this many input channels the columns are packed transposed (``im2col_transposed``)
_TRANSPOSED_MAX_CHANNELS = 2
#: the largest scratch array kept between calls (one image's columns can be larger)
_KEEP_BYTES = 1 << 23

_scratch_arrays = threading.local()


def _scratch(name: str, size: int, dtype) -> numpy.ndarray:
    """A 1-D scratch array of ``size`` elements, reused by later calls on this thread.

    One array per name and dtype, grown to the largest size asked for, so a
    steady-state training step allocates no column matrices. Arrays above
    ``_KEEP_BYTES`` (a large image's columns) are not kept.
    """
    if size * numpy.dtype(dtype).itemsize > _KEEP_BYTES:
        return numpy.empty(size, dtype)
    arrays = _scratch_arrays.__dict__.setdefault("arrays", {})
    array = arrays.get((name, dtype))
    if array is None or array.size < size:
        array = arrays[name, dtype] = numpy.empty(size, dtype)
    return array[:size]


class ConvolutionOverrides:
    """Needs ``self._conv``, ``self._pooling`` and ``self._normalization`` kernel modules."""

    def _conv_plan(self, x_shape, window, strides, padding, dilation):
        """``(out_hw, geometry, pointwise)`` for the kernels, or None to fall back.

        ``geometry`` is the integer strides, dilation and top/left padding the
        kernels take; ``pointwise`` means ``x`` is its own column matrix (a 1x1
        window, stride 1 and no padding).
        """
        pads, out_hw = self._conv_geometry(x_shape, window, strides, padding, dilation)
        if min(pads[0] + pads[1]) < 0:
            return None
        geometry = tuple(map(int, (*strides, *dilation, pads[0][0], pads[1][0])))
        pointwise = tuple(window) == (1, 1) and tuple(strides) == (1, 1) and out_hw == x_shape[1:3]
        return out_hw, geometry, pointwise

    @staticmethod
    def _chunks(batch, out_hw, window, channels, dtype):
        """``(start, stop)`` image ranges whose column matrices fit ``_CHUNK_BYTES``."""
        row_bytes = window[0] * window[1] * channels * numpy.dtype(dtype).itemsize
        images = max(1, _CHUNK_BYTES // (out_hw[0] * out_hw[1] * row_bytes))
        return [(start, min(start + images, batch)) for start in range(0, batch, images)]

    def _column_chunks(self, x, window, out_hw, geometry):
        """For each chunk of images: ``(rows, columns)``, the columns in scratch.

        ``columns`` is the ``(len(rows), kh * kw * c)`` matrix of the windows
        of the output rows ``rows`` (a slice of ``n * out_h * out_w``),
        overwritten by the next chunk.
        """
        n, _, _, c = x.shape
        pixels = out_hw[0] * out_hw[1]
        depth = window[0] * window[1] * c
        transposed = c <= _TRANSPOSED_MAX_CHANNELS
        for start, stop in self._chunks(n, out_hw, window, c, x.dtype):
            rows = slice(start * pixels, stop * pixels)
            cols = _scratch("columns", (stop - start) * pixels * depth, x.dtype)
            if transposed:  # the same matrix, Fortran-ordered
                cols_t = cols.reshape(*window, c, stop - start, *out_hw)
                self._conv.im2col_transposed(x[start:stop], *geometry, cols_t)
                yield rows, cols.reshape(depth, -1).T
            else:
                cols_6d = cols.reshape(stop - start, *out_hw, *window, c)
                self._conv.im2col(x[start:stop], *geometry, cols_6d)
                yield rows, cols.reshape(-1, depth)

    def conv2d_forward(
        self, x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        kh, kw, c, f = kernel.shape
        arrays = (x, kernel) if bias is None else (x, kernel, bias)
        plan = (
            _jit_dtype(*arrays) is not None
            and x.ndim == 4
            and x.size > 0
            and kernel.size > 0
            and x.shape[3] == c
            and (bias is None or bias.shape == (f,))
            and self._conv_plan(x.shape, (kh, kw), strides, padding, dilation)
        )
        if not plan:
            return super().conv2d_forward(x, kernel, bias, strides, padding, dilation)
        out_hw, geometry, pointwise = plan
        x = numpy.ascontiguousarray(x)
        weights = numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f)
        y = numpy.empty((x.shape[0] * out_hw[0] * out_hw[1], f), x.dtype)
        if pointwise:
            numpy.matmul(x.reshape(-1, c), weights, out=y)
        else:
            for rows, cols in self._column_chunks(x, (kh, kw), out_hw, geometry):
                numpy.matmul(cols, weights, out=y[rows])
        if bias is not None:
            self._conv.add_bias(y, numpy.ascontiguousarray(bias))
        return y.reshape(x.shape[0], *out_hw, f)

    def conv2d_backward_input(
        self, dy, kernel, x_shape, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        kh, kw, c, f = kernel.shape
        plan = (
            _jit_dtype(dy, kernel) is not None
            and dy.ndim == 4
            and len(x_shape) == 4
            and dy.size > 0
            and kernel.size > 0
            and (dy.shape[0], dy.shape[3], x_shape[3]) == (x_shape[0], f, c)
            and self._conv_plan(x_shape, (kh, kw), strides, padding, dilation)
        )
        if not plan or plan[0] != dy.shape[1:3]:
            return super().conv2d_backward_input(dy, kernel, x_shape, strides, padding, dilation)
        out_hw, geometry, pointwise = plan
        weights_t = numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f).T
        dy = numpy.ascontiguousarray(dy)
        if pointwise:
            return numpy.matmul(dy.reshape(-1, f), weights_t).reshape(x_shape)
        dx = numpy.zeros(tuple(x_shape), dy.dtype)
        pixels = out_hw[0] * out_hw[1]
        for start, stop in self._chunks(x_shape[0], out_hw, (kh, kw), c, dy.dtype):
            dcols = _scratch("columns", (stop - start) * pixels * kh * kw * c, dy.dtype)
            numpy.matmul(
                dy[start:stop].reshape(-1, f), weights_t, out=dcols.reshape(-1, kh * kw * c)
            )
            dcols = dcols.reshape(stop - start, *out_hw, kh, kw, c)
            self._conv.col2im(dcols, *geometry, dx[start:stop])
        return dx

    def conv2d_backward_weight(
        self, dy, x, kernel_shape, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        kh, kw, c, f = kernel_shape
        plan = (
            _jit_dtype(dy, x) is not None
            and x.ndim == 4
            and dy.ndim == 4
            and x.size > 0
            and (x.shape[3], dy.shape[0], dy.shape[3]) == (c, x.shape[0], f)
            and self._conv_plan(x.shape, (kh, kw), strides, padding, dilation)
        )
        if not plan or plan[0] != dy.shape[1:3]:
            return super().conv2d_backward_weight(dy, x, kernel_shape, strides, padding, dilation)
        out_hw, geometry, pointwise = plan
        x, dy = numpy.ascontiguousarray(x), numpy.ascontiguousarray(dy)
        if pointwise:
            return numpy.matmul(x.reshape(-1, c).T, dy.reshape(-1, f)).reshape(kernel_shape)
        dy = dy.reshape(-1, f)
        grad = part = None
        for rows, cols in self._column_chunks(x, (kh, kw), out_hw, geometry):
            if grad is None:
                grad = numpy.matmul(cols.T, dy[rows])
                part = numpy.empty_like(grad)
            else:
                grad += numpy.matmul(cols.T, dy[rows], out=part)
        return grad.reshape(kernel_shape)

    def bias_activation_forward(self, y, bias=None, activation=None):
        if (
            activation not in (None, "relu")
            or _jit_dtype(y) is None
            or not y.flags.c_contiguous
            or y.ndim == 0
            or y.size == 0
            or (bias is not None and (_jit_dtype(y, bias) is None or bias.shape != y.shape[-1:]))
        ):
            return super().bias_activation_forward(y, bias, activation)
        rows = y.reshape(-1, y.shape[-1])
        if bias is None:
            if activation is None:
                return y
            bias = numpy.zeros(y.shape[-1], y.dtype)
        kernel = self._conv.add_bias if activation is None else self._conv.add_bias_relu
        kernel(rows, numpy.ascontiguousarray(bias))
        return y

    # average pooling (max pooling is overridden with the other pooling kernels above)

    def avg_pool2d_forward(self, x, pool_size, strides, padding="valid"):
        if _jit_dtype(x) is None or x.ndim != 4 or x.size == 0:
            return super().avg_pool2d_forward(x, pool_size, strides, padding)
        pads, out_hw = _pool_geometry(x.shape, pool_size, strides, padding)
        y = numpy.empty((x.shape[0], *out_hw, x.shape[3]), x.dtype)
        self._pooling.avg_pool2d_forward(
            numpy.ascontiguousarray(x),
            *map(int, (*pool_size, *strides, pads[0][0], pads[1][0])),
            y,
        )
        return y

    def avg_pool2d_backward(self, dy, x_shape, pool_size, strides, padding="valid"):
        if _jit_dtype(dy) is None or dy.ndim != 4 or len(x_shape) != 4:
            return super().avg_pool2d_backward(dy, x_shape, pool_size, strides, padding)
        pads, _ = _pool_geometry(x_shape, pool_size, strides, padding)
        dx = numpy.zeros(tuple(x_shape), dy.dtype)
        self._pooling.avg_pool2d_backward(
            numpy.ascontiguousarray(dy),
            *map(int, (*pool_size, *strides, pads[0][0], pads[1][0])),
            dx,
        )
        return dx

    def _batch_norm_args(self, x, gamma, beta):
        """``gamma`` and ``beta`` as arrays (ones and zeros when absent), or None to fall back."""
        params = [p for p in (gamma, beta) if p is not None]
        if _jit_dtype(x, *params) is None or x.ndim != 2 or x.shape[0] == 0:
            return None
        if any(p.shape != x.shape[1:] for p in params):
            return None
        channels = x.shape[1]
        gamma = numpy.ones(channels, x.dtype) if gamma is None else numpy.ascontiguousarray(gamma)
        beta = numpy.zeros(channels, x.dtype) if beta is None else numpy.ascontiguousarray(beta)
        return gamma, beta

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
