"""The numba backend's pooling overrides: 2-D max and average pooling, channels last.

A mixin of ``NumbaBackend``: the images are split between the kernel pool's
threads in blocks of at least ``numba_dispatch.MIN_IMAGE_SPLIT_ELEMENTS``
elements. Max pooling keeps the argmax of each window (int8 for windows of up
to 127 elements), and its backward writes every element of ``dx`` directly
when the windows do not overlap.
"""

import numpy

from . import numba_compile_ahead
from . import numba_dispatch as dispatch
from .kernels.pooling import _pool_geometry
from .numba_dispatch import _jit_dtype


def _over_images(block, images) -> None:
    """``block(start, stop)`` over the images of ``images`` (the input of a forward, the
    ``dx`` of a backward), split in blocks of at least ``MIN_IMAGE_SPLIT_ELEMENTS``."""
    work = images[0].size if images.shape[0] else 0
    dispatch.split_images(
        block,
        batch=images.shape[0],
        work_per_image=work,
        min_work=dispatch.MIN_IMAGE_SPLIT_ELEMENTS,
    )


class PoolingOverrides:
    """Needs the ``self._pooling`` kernel module."""

    @staticmethod
    def _pool_geometry_args(x_shape, pool_size, strides, padding):
        """``(out_hw, (pool_h, pool_w, stride_h, stride_w, top, left))`` for the kernels."""
        pads, out_hw = _pool_geometry(x_shape, pool_size, strides, padding)
        return out_hw, tuple(map(int, (*pool_size, *strides, pads[0][0], pads[1][0])))

    def max_pool2d_forward(self, x, pool_size, strides, padding="valid"):
        if _jit_dtype(x) is None or x.ndim != 4 or x.size == 0:
            return super().max_pool2d_forward(x, pool_size, strides, padding)
        out_hw, geometry = self._pool_geometry_args(x.shape, pool_size, strides, padding)
        out_shape = (x.shape[0], *out_hw, x.shape[3])
        index_dtype = numpy.int8 if pool_size[0] * pool_size[1] <= 127 else numpy.int32
        x = numpy.ascontiguousarray(x)
        y = numpy.empty(out_shape, x.dtype)
        argmax = numpy.empty(out_shape, index_dtype)
        backward, backward_args = self._max_pool_backward_kernel(pool_size, strides, geometry)
        # the backward's arguments are of the types of these
        numba_compile_ahead.start(backward, lambda: (y, argmax, *backward_args, x))
        kernel = self._pooling.max_pool2d_forward

        def block(start, stop):
            kernel(x[start:stop], *geometry, y[start:stop], argmax[start:stop])

        _over_images(block, x)
        return y, argmax

    def max_pool2d_backward(self, dy, argmax, x_shape, pool_size, strides, padding="valid"):
        if _jit_dtype(dy) is None or dy.ndim != 4 or type(argmax) is not numpy.ndarray:
            return super().max_pool2d_backward(dy, argmax, x_shape, pool_size, strides, padding)
        _, geometry = self._pool_geometry_args(x_shape, pool_size, strides, padding)
        dy, argmax = numpy.ascontiguousarray(dy), numpy.ascontiguousarray(argmax)
        dx = numpy.empty(tuple(x_shape), dy.dtype)
        kernel, geometry = self._max_pool_backward_kernel(pool_size, strides, geometry)
        disjoint = kernel is self._pooling.max_pool2d_backward_disjoint  # writes all of dx

        def block(start, stop):
            if not disjoint:
                dx[start:stop] = 0
            kernel(dy[start:stop], argmax[start:stop], *geometry, dx[start:stop])

        numba_compile_ahead.wait(kernel)
        _over_images(block, dx)
        return dx

    def _max_pool_backward_kernel(self, pool_size, strides, geometry):
        """The backward kernel for this pooling and the geometry arguments it takes."""
        if strides[0] >= pool_size[0] and strides[1] >= pool_size[1]:
            return self._pooling.max_pool2d_backward_disjoint, geometry
        return self._pooling.max_pool2d_backward, geometry[1:]

    def avg_pool2d_forward(self, x, pool_size, strides, padding="valid"):
        if _jit_dtype(x) is None or x.ndim != 4 or x.size == 0:
            return super().avg_pool2d_forward(x, pool_size, strides, padding)
        out_hw, geometry = self._pool_geometry_args(x.shape, pool_size, strides, padding)
        x = numpy.ascontiguousarray(x)
        y = numpy.empty((x.shape[0], *out_hw, x.shape[3]), x.dtype)
        # the backward's arguments are of the types of these
        numba_compile_ahead.start(self._pooling.avg_pool2d_backward, lambda: (y, *geometry, x))
        kernel = self._pooling.avg_pool2d_forward

        def block(start, stop):
            kernel(x[start:stop], *geometry, y[start:stop])

        _over_images(block, x)
        return y

    def avg_pool2d_backward(self, dy, x_shape, pool_size, strides, padding="valid"):
        if _jit_dtype(dy) is None or dy.ndim != 4 or len(x_shape) != 4:
            return super().avg_pool2d_backward(dy, x_shape, pool_size, strides, padding)
        _, geometry = self._pool_geometry_args(x_shape, pool_size, strides, padding)
        dy = numpy.ascontiguousarray(dy)
        dx = numpy.empty(tuple(x_shape), dy.dtype)
        kernel = self._pooling.avg_pool2d_backward

        def block(start, stop):
            dx[start:stop] = 0
            kernel(dy[start:stop], *geometry, dx[start:stop])

        numba_compile_ahead.wait(kernel)
        _over_images(block, dx)
        return dx
