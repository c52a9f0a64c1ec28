"""The numba backend's depthwise convolution overrides (``numba_kernels/depthwise.py``).

A mixin of ``NumbaBackend``: float32/float64 NumPy arrays go to direct loops, the
batch split between the kernel pool's threads (the kernel gradient summed per block
of images, the block sums added in order); anything else goes to the NumPy reference
through ``super()``. The reference's multiply-add per kernel offset makes a
temporary of the output's size each time. asv ``bench_layers.DepthwiseConv2DLayer``
(3x3 'same' on a 32x32x32x16 batch, forward and backward, same process, alternating):
stride 1 13.3 ms on the reference against 2.2 here, stride 2 4.9 against 1.0.
"""

import numpy

from . import numba_dispatch as dispatch
from .numba_conv import _sum_in_order
from .numba_dispatch import _jit_dtype

# Blocks of images get at least this many multiply-adds: these loops run at ~10 GMAC/s
# (memory-bound, against ~50 for a GEMM), so a block of 0.5M is ~50 us, twice a hand-off.
MIN_SPLIT_WORK = 1 << 19


def _geometry(strides, dilation, pads) -> tuple:
    """The kernels' ``(strides, dilation, (top, left))``, as tuples of Python ints."""
    return (
        tuple(int(s) for s in strides),
        tuple(int(d) for d in dilation),
        (int(pads[0][0]), int(pads[1][0])),
    )


def _by_row(strides, channels: int, outputs: int, columns: int) -> int:
    """The length of the kernels' tiled rows: ``columns * outputs`` where they run by rows
    (a column stride of 1, a multiplier of 1), else 0."""
    return columns * outputs if strides[1] == 1 and outputs == channels else 0


def _tiled(weights, length: int):
    """Each kernel offset's weights repeated along an output row of ``length`` elements."""
    return numpy.ascontiguousarray(numpy.tile(weights, (1, 1, length // weights.shape[2])))


def _forward_block(kernels, x, weights, tiled, out, geometry, start, stop):
    kernels.forward(x, weights, tiled, out, *geometry, start, stop)


def _input_gradient_block(kernels, dy, weights, tiled, dx, geometry, start, stop):
    kernels.input_gradient(dy, weights, tiled, dx, *geometry, start, stop)


def _kernel_gradient_block(kernels, x, dy, shape, length, geometry, partials, start, stop):
    """The kernel gradient of the images ``[start, stop)``, stored as ``partials[start]``."""
    sums = numpy.empty(shape, dy.dtype)
    tiled_sums = numpy.empty((*shape[:2], length), dy.dtype)
    kernels.kernel_gradient(x, dy, tiled_sums, sums, *geometry, start, stop)
    partials[start] = sums


class DepthwiseOverrides:
    """Needs the ``self._depthwise`` kernel module."""

    def depthwise_conv2d_forward(self, x, kernel, strides, pads, dilation, out_hw):
        if _jit_dtype(x, kernel) is None or x.ndim != 4 or kernel.ndim != 4 or x.size == 0:
            return super().depthwise_conv2d_forward(x, kernel, strides, pads, dilation, out_hw)
        n, _, _, channels = x.shape
        kh, kw, _, multiplier = kernel.shape
        outputs = channels * multiplier
        weights = numpy.ascontiguousarray(kernel).reshape(kh, kw, outputs)
        tiled = _tiled(weights, _by_row(strides, channels, outputs, out_hw[1]))
        out = numpy.empty((n, *out_hw, outputs), x.dtype)
        dispatch.split_images(
            _forward_block,
            *(self._depthwise, numpy.ascontiguousarray(x), weights, tiled, out),
            _geometry(strides, dilation, pads),
            batch=n,
            work_per_image=out_hw[0] * out_hw[1] * kh * kw * outputs,
            min_work=MIN_SPLIT_WORK,
        )
        return out

    def depthwise_conv2d_backward(
        self, dy, x, kernel, x_shape, window, strides, pads, dilation, needs
    ):
        need_x, need_kernel = needs
        arrays = [dy] + [kernel] * bool(need_x) + [x] * bool(need_kernel)
        if _jit_dtype(*arrays) is None or dy.ndim != 4 or dy.size == 0:
            return super().depthwise_conv2d_backward(
                dy, x, kernel, x_shape, window, strides, pads, dilation, needs
            )
        n, _, _, channels = x_shape
        outputs = dy.shape[3]
        dy = numpy.ascontiguousarray(dy)
        geometry = _geometry(strides, dilation, pads)
        work = dy.shape[1] * dy.shape[2] * window[0] * window[1] * outputs
        length = _by_row(strides, channels, outputs, dy.shape[2])
        dx = dkernel = None
        if need_x:
            weights = numpy.ascontiguousarray(kernel).reshape(*window, outputs)
            dx = numpy.empty(tuple(x_shape), dy.dtype)
            dispatch.split_images(
                _input_gradient_block,
                *(self._depthwise, dy, weights, _tiled(weights, length), dx, geometry),
                batch=n,
                work_per_image=work,
                min_work=MIN_SPLIT_WORK,
            )
        if need_kernel:
            partials = {}  # one kernel-sized sum per block, added up in block order
            dispatch.split_images(
                _kernel_gradient_block,
                *(self._depthwise, numpy.ascontiguousarray(x), dy, (*window, outputs), length),
                *(geometry, partials),
                batch=n,
                work_per_image=work,
                min_work=MIN_SPLIT_WORK,
            )
            dkernel = _sum_in_order(partials).reshape(*window, channels, outputs // channels)
        return dx, dkernel
