"""The numba backend's relu convolution + 2x2 max pooling as one op
(``Backend.conv2d_relu_max_pool_forward`` / ``_backward``; the engine pairs a
``Conv2D(activation="relu")`` with the ``MaxPooling2D()`` that alone reads it).

A mixin of ``NumbaBackend``, on ``ConvolutionOverrides``' planning and blocks: the
pooled output and the int8 index are all the pair keeps (``numba_kernels/conv_pool.py``).
A grayscale 3x3 first layer computes each window's four outputs directly and
never writes them; any other convolution pools each chunk of GEMM output while it
is in cache, and its backward unpools each chunk of the pooled gradient into
scratch just before the chunk's GEMMs. Neither the convolution's output, its
relu mask, nor the full-size gradient of either is written to memory.
"""

import numpy

from . import numba_compile_ahead, thread_pool
from . import numba_dispatch as dispatch
from .numba_conv import (
    _column_chunks,
    _direct,
    _input_gradient_block,
    _padded_channel,
    _scratch,
    _sum_in_order,
    _weight_gradient_block,
)
from .numba_dispatch import _jit_dtype


def _pooled_forward_block(
    conv, kernels, x, weights, bias, pooled, index, window, out_hw, geometry, pointwise, start, stop
):
    """``pooled`` and ``index`` of the images ``[start, stop)``: each chunk's GEMM output
    given its bias and relu, then pooled, in this thread's scratch."""
    pixels, filters = out_hw[0] * out_hw[1], weights.shape[1]
    row = numpy.empty(filters, x.dtype)
    for rows, cols in _column_chunks(conv, x, window, out_hw, geometry, pointwise, start, stop):
        first, last = rows.start // pixels, rows.stop // pixels
        y = _scratch("relu_output", (last - first) * pixels * filters, x.dtype)
        y = y.reshape(-1, filters)
        numpy.matmul(cols, weights, out=y)
        conv.add_bias_relu(y, bias)
        y = y.reshape(last - first, *out_hw, filters)
        kernels.relu_max_pool(y, pooled[first:last], index[first:last], row)


def _unpooled_rows(kernels, grad, index, out_hw):
    """``(first, last) -> matrix``, as ``numba_conv._rows_of``: the convolution's output
    gradient of the images ``[first, last)``, unpooled into this thread's scratch."""
    filters = grad.shape[3]

    def rows(first, last):
        dy = _scratch("unpooled", (last - first) * out_hw[0] * out_hw[1] * filters, grad.dtype)
        dy = dy.reshape(last - first, *out_hw, filters)
        kernels.unpool(grad[first:last], index[first:last], dy, numpy.empty(filters, grad.dtype))
        return dy.reshape(-1, filters)

    return rows


class ConvPoolOverrides:
    """Needs ``ConvolutionOverrides`` (``_conv_plan``, ``self._conv``) and the
    ``self._conv_pool`` kernel module."""

    def _conv_pool_plan(self, x_shape, kernel_shape, strides, padding, dilation):
        """``_conv_plan``'s ``(out_hw, geometry, pointwise)`` where the convolution's output
        holds a 2x2 window, else None."""
        try:
            plan = self._conv_plan(x_shape, kernel_shape[:2], strides, padding, dilation)
        except ValueError:  # the window does not fit: the convolution says so itself
            return None
        return plan if plan is not None and min(plan[0]) >= 2 else None

    def fuses_conv2d_relu_max_pool(self, x, kernel, bias, strides, padding, dilation) -> bool:
        """Every convolution ``conv2d_forward`` takes to its kernels (a compiled dtype, one
        for all the arrays) whose output holds a 2x2 window."""
        arrays = (x, kernel) if bias is None else (x, kernel, bias)
        if (
            _jit_dtype(*arrays) is None
            or x.ndim != 4
            or kernel.ndim != 4
            or x.size == 0
            or kernel.size == 0
            or x.shape[3] != kernel.shape[2]
            or (bias is not None and bias.shape != kernel.shape[3:])
        ):
            return False
        return self._conv_pool_plan(x.shape, kernel.shape, strides, padding, dilation) is not None

    def conv2d_relu_max_pool_forward(self, x, kernel, bias, strides, padding, dilation):
        geometry_args = (strides, padding, dilation)
        if not self.fuses_conv2d_relu_max_pool(x, kernel, bias, *geometry_args):
            return super().conv2d_relu_max_pool_forward(x, kernel, bias, *geometry_args)
        kh, kw, c, f = kernel.shape
        out_hw, geometry, pointwise = self._conv_pool_plan(x.shape, kernel.shape, *geometry_args)
        n, x = x.shape[0], numpy.ascontiguousarray(x)
        bias = numpy.zeros(f, x.dtype) if bias is None else numpy.ascontiguousarray(bias)
        pooled = numpy.empty((n, out_hw[0] // 2, out_hw[1] // 2, f), x.dtype)
        index = numpy.empty(pooled.shape, numpy.int8)
        kernels, work = self._conv_pool, out_hw[0] * out_hw[1] * kh * kw * c * f
        if _direct(x.shape, (kh, kw)):
            padded = _padded_channel(x, out_hw, geometry)
            weights = numpy.ascontiguousarray(kernel).reshape(9, f)
            sums = numpy.empty((10, f), x.dtype)  # the backward's arguments are of these types
            numba_compile_ahead.start(
                kernels.direct_weight_gradient,
                lambda: (padded, pooled, index, *geometry[:4], sums[:9], sums[9], bias),
            )

            def block(start, stop):
                kernels.direct_forward(
                    padded[start:stop], weights, bias, *geometry[:4], pooled[start:stop],
                    index[start:stop], numpy.empty(f, x.dtype),
                )  # fmt: skip

            dispatch.split_images(block, batch=n, work_per_image=work)
            return pooled, index
        weights = numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f)
        numba_compile_ahead.start(
            kernels.unpool, lambda: (pooled, index, numpy.empty((0,) * 4, x.dtype), bias)
        )
        if not pointwise:  # the input gradient's scatter, on arguments of these types
            numba_compile_ahead.start(
                self._conv.col2im, lambda: (numpy.empty((0,) * 6, x.dtype), *geometry, x)
            )
        block_args = (self._conv, kernels, x, weights, bias, pooled, index, (kh, kw), out_hw)
        dispatch.split_images(
            _pooled_forward_block, *block_args, geometry, pointwise, batch=n, work_per_image=work
        )
        return pooled, index

    def conv2d_relu_max_pool_backward(
        self, grad, index, x, kernel, shapes, needs, strides, padding, dilation
    ):
        (x_shape, kernel_shape), geometry_args = shapes, (strides, padding, dilation)
        kh, kw, c, f = kernel_shape
        plan = (
            type(index) is numpy.ndarray
            and index.dtype == numpy.int8
            and _jit_dtype(grad) is not None
            and grad.ndim == 4
            and grad.shape == index.shape
            and len(x_shape) == 4
            and (grad.shape[0], grad.shape[3], x_shape[3]) == (x_shape[0], f, c)
            and (not needs[1] or _jit_dtype(grad, x) is not None)
            and (not needs[0] or _jit_dtype(grad, kernel) is not None)
            and self._conv_pool_plan(x_shape, kernel_shape, *geometry_args)
        )
        if not plan or grad.shape[1:3] != (plan[0][0] // 2, plan[0][1] // 2):
            return super().conv2d_relu_max_pool_backward(
                grad, index, x, kernel, shapes, needs, *geometry_args
            )
        out_hw, geometry, pointwise = plan
        grad, index = numpy.ascontiguousarray(grad), numpy.ascontiguousarray(index)
        kernels, work = self._conv_pool, out_hw[0] * out_hw[1] * kh * kw * c * f
        numba_compile_ahead.wait(kernels.unpool)  # the forward's child, if it had one
        unpooled = _unpooled_rows(kernels, grad, index, out_hw)
        dx = dkernel = dbias = None
        if needs[1] and _direct(x_shape, (kh, kw)):  # the bias gradient comes with it
            sums = self._direct_pooled_gradients(grad, index, x, out_hw, geometry, work)
            dkernel, dbias = sums[:9].reshape(kernel_shape), sums[9].copy() if needs[2] else None
        elif needs[0] and needs[1] and not pointwise:  # both in one pass over the chunks
            dx, dkernel = self._input_and_weight_gradients(unpooled, x, kernel, out_hw, geometry)
        elif needs[1]:
            partials = {}  # one kernel-sized sum per block, added up in block order
            block_args = (self._conv, unpooled, out_hw, numpy.ascontiguousarray(x), (kh, kw))
            dispatch.split_images(
                _weight_gradient_block, *block_args, geometry, pointwise, partials,
                batch=x_shape[0], work_per_image=work,
            )  # fmt: skip
            dkernel = _sum_in_order(partials).reshape(kernel_shape)
        if needs[2] and dbias is None:
            dbias = numpy.empty(f, grad.dtype)
            kernels.bias_gradient(grad, index, dbias, numpy.empty(f, grad.dtype))
        if needs[0] and dx is None:
            weights_t = numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f).T
            if pointwise:
                dy = unpooled(0, x_shape[0])
                dx = thread_pool.matmul(dy, weights_t).reshape(x_shape)
            else:
                dx = numpy.empty(tuple(x_shape), grad.dtype)
                numba_compile_ahead.wait(self._conv.col2im)
                block_args = (self._conv, unpooled, out_hw, weights_t, dx, (kh, kw), geometry)
                dispatch.split_images(
                    _input_gradient_block, *block_args, batch=x_shape[0], work_per_image=work
                )
        return dx, dkernel, dbias

    def _direct_pooled_gradients(self, grad, index, x, out_hw, geometry, work):
        """``conv_pool.direct_weight_gradient``'s kernel gradient (nine rows) and bias
        gradient (the tenth), summed over blocks of images in block order."""
        padded = _padded_channel(numpy.ascontiguousarray(x), out_hw, geometry)
        kernels, partials, f = self._conv_pool, {}, grad.shape[3]

        def block(start, stop):
            sums = numpy.empty((10, f), grad.dtype)
            kernels.direct_weight_gradient(
                padded[start:stop], grad[start:stop], index[start:stop], *geometry[:4],
                sums[:9], sums[9], numpy.empty(f, grad.dtype),
            )  # fmt: skip
            partials[start] = sums

        numba_compile_ahead.wait(kernels.direct_weight_gradient)
        dispatch.split_images(block, batch=x.shape[0], work_per_image=work)
        return _sum_in_order(partials)
