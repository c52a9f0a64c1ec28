"""The numba backend's convolution overrides (and a convolution's bias + relu).

A mixin of ``NumbaBackend``: convolution is Numba im2col / col2im (padding
handled without a padded copy) around BLAS GEMMs, which measured 3-5x faster
than direct loops at 32 channels; bias (+ relu) is added in place. Anything the
kernels do not cover goes to the NumPy reference through ``super()``.

A grayscale first layer (one input channel, 3x3) is a direct convolution instead
(``numba_kernels/conv_direct.py``): im2col's nine columns make a GEMM that only
packs and stores.

A layer's bias and relu are applied inside ``conv2d_forward`` (its ``activation``), to
each chunk of rows just multiplied, while it is in cache; and the backward of a
grayscale first layer (``conv2d_backward``: no input gradient) takes the relu's
derivative and sums the bias gradient in its kernel-gradient pass, so that neither the
masked gradient nor a separate bias pass is ever written. W3's step, same process,
alternating: 10.5 against 11.4 ms (a slow hour of the 2-core VM).

The columns are never built for the whole batch: a few images at a time are
packed into a per-thread scratch array of about 1 MiB (``_CHUNK_BYTES``) and
multiplied while they are still in cache, the forward's GEMM writing straight
into its slice of the output. On W3 (8.9 MB of columns a batch in its second
convolution) this made a training step 19% faster than one GEMM over the
batch's columns (one thread; chunks of 0.25, 0.5, 1, 1.5 and 2 MiB measured,
0.75-1 MiB best); the GEMMs themselves run faster on cache-resident columns.

Convolution splits the batch into one block of images per thread
of the kernel pool (``thread_pool.py``; BLAS on one thread in each block),
each block packing and multiplying its own chunks in its own scratch: the
kernel gradient is summed per block and the block sums added at the end, the
input gradient is zeroed and scattered chunk by chunk (a layer that needs both takes
them in the same pass over its chunks, ``_gradients_block``). Blocks get at least
``MIN_SPLIT_MACS`` multiply-adds (``dispatch.MIN_IMAGE_SPLIT_ELEMENTS`` elements for pooling
and bias), so small convolutions stay on the calling thread. Measured on W3's
training step with two threads, before and after in one process with
alternating rounds, on the 2-core machine while other work kept its load
average near 3: 26.1 -> 23.8 ms median, 21.1 -> 15.2 ms in the fastest round
(the rounds that found both cores free); with one thread, unchanged.
"""

import threading

import numpy

from . import numba_compile_ahead, numba_native, thread_pool
from . import numba_dispatch as dispatch
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


def _chunks(start, stop, out_hw, window, channels, dtype):
    """``(first, last)`` image ranges covering ``[start, stop)`` whose column matrices
    fit ``_CHUNK_BYTES``, as equal as whole images allow."""
    row_bytes = window[0] * window[1] * channels * numpy.dtype(dtype).itemsize
    images = max(1, _CHUNK_BYTES // (out_hw[0] * out_hw[1] * row_bytes))
    parts = -(-(stop - start) // images)
    return [(start + a, start + b) for a, b in thread_pool.blocks(stop - start, parts)]


def _column_chunks(conv, x, window, out_hw, geometry, pointwise, start, stop):
    """For each chunk of the images ``[start, stop)``: ``(rows, columns)``.

    ``columns`` is the ``(len(rows), kh * kw * c)`` matrix of the windows of
    the output rows ``rows`` (a slice of ``n * out_h * out_w``), in this
    thread's scratch and overwritten by the next chunk; a pointwise
    convolution's is ``x`` itself, in one chunk.
    """
    c = x.shape[3]
    pixels = out_hw[0] * out_hw[1]
    if pointwise:
        yield slice(start * pixels, stop * pixels), x[start:stop].reshape(-1, c)
        return
    depth = window[0] * window[1] * c
    transposed = c <= _TRANSPOSED_MAX_CHANNELS
    for first, last in _chunks(start, stop, out_hw, window, c, x.dtype):
        rows = slice(first * pixels, last * pixels)
        cols = _scratch("columns", (last - first) * pixels * depth, x.dtype)
        if transposed:  # the same matrix, Fortran-ordered
            cols_t = cols.reshape(*window, c, last - first, *out_hw)
            conv.im2col_transposed(x[first:last], *geometry, cols_t)
            yield rows, cols.reshape(depth, -1).T
        else:
            cols_6d = cols.reshape(last - first, *out_hw, *window, c)
            conv.im2col(x[first:last], *geometry, cols_6d)
            yield rows, cols.reshape(-1, depth)


def _forward_block(
    conv, x, weights, bias, relu, y, window, out_hw, geometry, pointwise, start, stop
):
    """``y``'s rows of the images ``[start, stop)``, one GEMM per chunk of columns, each
    chunk's rows given the bias (and relu) while they are in cache."""
    for rows, cols in _column_chunks(conv, x, window, out_hw, geometry, pointwise, start, stop):
        numpy.matmul(cols, weights, out=y[rows])
        if relu:
            conv.add_bias_relu(y[rows], bias)
        elif bias is not None:
            conv.add_bias(y[rows], bias)


def _rows_of(dy):
    """``(first, last) -> matrix``: the rows of ``dy`` (a convolution's output gradient)
    of the images ``[first, last)``, for the gradient blocks below."""
    pixels, rows = dy.shape[1] * dy.shape[2], dy.reshape(-1, dy.shape[3])
    return lambda first, last: rows[first * pixels : last * pixels]


def _input_gradient_block(conv, dy_rows, out_hw, weights_t, dx, window, geometry, start, stop):
    """``dx[start:stop]``, each chunk's column gradients scattered back while in cache;
    ``dy_rows(first, last)`` gives the output gradient's rows of a chunk (``_rows_of``)."""
    c = dx.shape[3]
    depth = window[0] * window[1] * c
    for first, last in _chunks(start, stop, out_hw, window, c, dx.dtype):
        dcols = _scratch("columns", (last - first) * out_hw[0] * out_hw[1] * depth, dx.dtype)
        numpy.matmul(dy_rows(first, last), weights_t, out=dcols.reshape(-1, depth))
        dx[first:last] = 0
        conv.col2im(dcols.reshape(last - first, *out_hw, *window, c), *geometry, dx[first:last])


def _weight_gradient_block(
    conv, dy_rows, out_hw, x, window, geometry, pointwise, partials, start, stop
):
    """The kernel gradient of the images ``[start, stop)``, stored as ``partials[start]``;
    ``dy_rows`` as ``_input_gradient_block``'s."""
    pixels = out_hw[0] * out_hw[1]
    grad = part = None
    for rows, cols in _column_chunks(conv, x, window, out_hw, geometry, pointwise, start, stop):
        dy = dy_rows(rows.start // pixels, rows.stop // pixels)
        if grad is None:
            grad = numpy.matmul(cols.T, dy)
            part = numpy.empty_like(grad)
        else:
            grad += numpy.matmul(cols.T, dy, out=part)
    partials[start] = grad


def _gradients_block(
    conv, dy_rows, out_hw, x, weights_t, dx, window, geometry, partials, start, stop
):
    """``_weight_gradient_block`` and ``_input_gradient_block`` in one pass over the chunks
    of the images ``[start, stop)``: each chunk's output gradient is read once, while in
    cache, by both products, and its column gradients overwrite its columns."""
    pixels, c = out_hw[0] * out_hw[1], x.shape[3]
    depth = window[0] * window[1] * c
    grad = part = None
    for rows, cols in _column_chunks(conv, x, window, out_hw, geometry, False, start, stop):
        first, last = rows.start // pixels, rows.stop // pixels
        dy = dy_rows(first, last)
        if grad is None:
            grad = numpy.matmul(cols.T, dy)
            part = numpy.empty_like(grad)
        else:
            grad += numpy.matmul(cols.T, dy, out=part)
        if cols.flags.c_contiguous:  # the columns are read: their scratch takes dcols
            dcols = numpy.matmul(dy, weights_t, out=cols)
        else:  # transposed columns (few channels): another scratch
            dcols = _scratch("column_gradients", cols.size, dx.dtype).reshape(-1, depth)
            numpy.matmul(dy, weights_t, out=dcols)
        dx[first:last] = 0
        conv.col2im(dcols.reshape(last - first, *out_hw, *window, c), *geometry, dx[first:last])
    partials[start] = grad


def _direct(x_shape, window) -> bool:
    """Whether ``conv_direct``'s kernels take this convolution: one input channel, 3x3."""
    return x_shape[3] == 1 and tuple(window) == (3, 3)


def _padded_channel(x, out_hw, geometry):
    """``x``'s one channel as ``(batch, height, width)``, zero-padded so that every window
    of the output lies inside (a view of ``x`` when no padding is needed)."""
    stride_h, stride_w, dilation_h, dilation_w, top, left = geometry
    n, height, width, _ = x.shape
    need_h = (out_hw[0] - 1) * stride_h + 2 * dilation_h + 1
    need_w = (out_hw[1] - 1) * stride_w + 2 * dilation_w + 1
    if top == left == 0 and need_h <= height and need_w <= width:
        return numpy.ascontiguousarray(x[..., 0])
    padded = numpy.zeros((n, max(need_h, top + height), max(need_w, left + width)), x.dtype)
    padded[:, top : top + height, left : left + width] = x[..., 0]
    return padded


def _direct_forward_block(kernels, x, weights, bias, relu, y, geometry, start, stop):
    kernels.forward(x[start:stop], weights, bias, relu, *geometry[:4], y[start:stop])


def _direct_weight_gradient_block(kernels, x, dy, relu_output, geometry, partials, start, stop):
    """The kernel and bias gradients of the images ``[start, stop)``, as ``partials[start]``
    (one array: the kernel's nine rows, then the bias)."""
    sums = numpy.empty((10, dy.shape[3]), dy.dtype)
    mask = None if relu_output is None else relu_output[start:stop]
    kernels.weight_gradient(
        *_direct_gradient_args(x[start:stop], dy[start:stop], mask, geometry, sums)
    )
    partials[start] = sums


def _direct_gradient_args(x, dy, relu_output, geometry, sums) -> tuple:
    """``conv_direct.weight_gradient``'s arguments (its forward builds the same from its own
    arrays, to compile it ahead): the relu's output is the mask, ``dy`` stands in unread
    without one; ``sums`` takes the kernel's nine rows, then the bias."""
    masked = relu_output is not None
    mask = relu_output if masked else dy
    return (x, dy, mask, masked, *geometry[:4], sums[:9], sums[9])


def _sum_in_order(partials: dict):
    """The blocks' partial sums added in block order (the same order at every width)."""
    grads = [partials[start] for start in sorted(partials)]
    total = grads[0]
    for grad in grads[1:]:
        total += grad
    return total


class ConvolutionOverrides:
    """Needs the ``self._conv`` kernel module."""

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

    def conv2d_forward(
        self,
        x,
        kernel,
        bias=None,
        strides=(1, 1),
        padding="valid",
        dilation=(1, 1),
        activation=None,
    ):
        kh, kw, c, f = kernel.shape
        arrays = (x, kernel) if bias is None else (x, kernel, bias)
        plan = (
            activation in (None, "relu")
            and _jit_dtype(*arrays) is not None
            and x.ndim == 4
            and x.size > 0
            and kernel.size > 0
            and x.shape[3] == c
            and (bias is None or bias.shape == (f,))
            and self._conv_plan(x.shape, (kh, kw), strides, padding, dilation)
        )
        if not plan:
            return super().conv2d_forward(x, kernel, bias, strides, padding, dilation, activation)
        out_hw, geometry, pointwise = plan
        x = numpy.ascontiguousarray(x)
        weights = numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f)
        relu, direct = activation == "relu", _direct(x.shape, (kh, kw))
        if bias is not None:
            bias = numpy.ascontiguousarray(bias)
        elif relu or direct:  # these kernels add a bias before the relu: zeros
            bias = numpy.zeros(f, x.dtype)
        n, pixels = x.shape[0], out_hw[0] * out_hw[1]
        y = numpy.empty((n * pixels, f), x.dtype)
        work = pixels * kh * kw * c * f
        if direct:
            padded, out = _padded_channel(x, out_hw, geometry), y.reshape(n, *out_hw, f)
            numba_compile_ahead.start(
                self._conv_direct.weight_gradient,
                lambda: _direct_gradient_args(
                    padded, out, out if relu else None, geometry, numpy.empty((10, f), x.dtype)
                ),
            )
            block_args = (self._conv_direct, padded, weights, bias, relu, out, geometry)
            dispatch.split_images(_direct_forward_block, *block_args, batch=n, work_per_image=work)
        else:
            if not pointwise:  # the input gradient's scatter, on arguments of these types
                numba_compile_ahead.start(
                    self._conv.col2im, lambda: (numpy.empty((0,) * 6, x.dtype), *geometry, x)
                )
            block_args = (self._conv, x, weights, bias, relu, y, (kh, kw), out_hw, geometry)
            dispatch.split_images(
                _forward_block, *block_args, pointwise, batch=n, work_per_image=work
            )
        return y.reshape(n, *out_hw, f)

    def conv2d_backward(
        self,
        dy,
        x,
        kernel,
        shapes,
        needs,
        strides=(1, 1),
        padding="valid",
        dilation=(1, 1),
        relu_output=None,
    ):
        """A grayscale first layer (no input gradient; ``_direct``) takes its relu's
        derivative, the kernel and the bias gradients in one pass over ``dy``; another
        layer that needs both the input and the kernel gradient takes them in one pass over
        its chunks (``_input_and_weight_gradients``); anything else is the reference's
        sequence of overrides."""
        x_shape, kernel_shape = shapes
        kh, kw, c, f = kernel_shape
        arrays = (dy, x) if relu_output is None else (dy, x, relu_output)
        plan = (
            needs[1]
            and (not needs[0] or _jit_dtype(kernel) == _jit_dtype(dy))
            and _jit_dtype(*arrays) is not None
            and x.ndim == 4
            and dy.ndim == 4
            and x.size > 0
            and (x.shape[3], dy.shape[0], dy.shape[3]) == (c, x.shape[0], f)
            and (relu_output is None or relu_output.shape == dy.shape)
            and self._conv_plan(x.shape, (kh, kw), strides, padding, dilation)
        )
        direct = _direct(x_shape, (kh, kw))
        both = needs[0] and not direct and plan and not plan[2]  # not pointwise
        direct = direct and not needs[0]
        if not plan or plan[0] != dy.shape[1:3] or not (direct or both):
            return super().conv2d_backward(
                dy, x, kernel, shapes, needs, strides, padding, dilation, relu_output
            )
        out_hw, geometry, _ = plan
        if direct:
            if relu_output is not None:
                relu_output = numpy.ascontiguousarray(relu_output)
            sums = self._direct_gradients(dy, x, relu_output, out_hw, geometry)
            return None, sums[:9].reshape(kernel_shape), sums[9].copy() if needs[2] else None
        if relu_output is not None:
            dy = self.relu_backward(dy, relu_output, relu_output)
        dy = numpy.ascontiguousarray(dy)
        dx, dkernel = self._input_and_weight_gradients(_rows_of(dy), x, kernel, out_hw, geometry)
        return dx, dkernel, self.conv2d_backward_bias(dy) if needs[2] else None

    def _input_and_weight_gradients(self, dy_rows, x, kernel, out_hw, geometry):
        """``(dx, dkernel)`` of a convolution (not pointwise) from one pass over each block's
        chunks (``_gradients_block``); ``dy_rows`` as ``_input_gradient_block``'s. asv's
        ``Conv2DLayer`` 14x14x32-64 (forward and both gradients, two threads, alternating
        processes): 5996-6013 us against 6502-7055 with a pass for each gradient."""
        kh, kw, c, f = kernel.shape
        weights_t = numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f).T
        x = numpy.ascontiguousarray(x)
        dx, partials = numpy.empty(x.shape, x.dtype), {}
        numba_compile_ahead.wait(self._conv.col2im)
        block_args = (self._conv, dy_rows, out_hw, x, weights_t, dx, (kh, kw), geometry, partials)
        dispatch.split_images(
            _gradients_block,
            *block_args,
            batch=x.shape[0],
            work_per_image=out_hw[0] * out_hw[1] * kh * kw * c * f,
        )
        return dx, _sum_in_order(partials).reshape(kernel.shape)

    def _direct_gradients(self, dy, x, relu_output, out_hw, geometry):
        """``conv_direct``'s kernel gradient (nine rows) and bias gradient (the tenth) of a
        grayscale 3x3 convolution, ``dy`` taken through the relu first with ``relu_output``."""
        dy = numpy.ascontiguousarray(dy)
        padded = _padded_channel(numpy.ascontiguousarray(x), out_hw, geometry)
        partials = {}  # one sum per block of images, added up in block order
        numba_compile_ahead.wait(self._conv_direct.weight_gradient)
        dispatch.split_images(
            _direct_weight_gradient_block,
            *(self._conv_direct, padded, dy, relu_output, geometry, partials),
            batch=x.shape[0],
            work_per_image=out_hw[0] * out_hw[1] * 9 * dy.shape[3],
        )
        return _sum_in_order(partials)

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
            return thread_pool.matmul(dy.reshape(-1, f), weights_t).reshape(x_shape)
        dx = numpy.empty(tuple(x_shape), dy.dtype)
        numba_compile_ahead.wait(self._conv.col2im)
        dispatch.split_images(
            _input_gradient_block,
            *(self._conv, _rows_of(dy), out_hw, weights_t, dx, (kh, kw), geometry),
            batch=x_shape[0],
            work_per_image=out_hw[0] * out_hw[1] * kh * kw * c * f,
        )
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
        if _direct(x.shape, (kh, kw)):
            return self._direct_gradients(dy, x, None, out_hw, geometry)[:9].reshape(kernel_shape)
        x, dy = numpy.ascontiguousarray(x), numpy.ascontiguousarray(dy)
        partials = {}  # one kernel-sized sum per block, added up in block order
        dispatch.split_images(
            _weight_gradient_block,
            *(self._conv, _rows_of(dy), out_hw, x, (kh, kw), geometry, pointwise, partials),
            batch=x.shape[0],
            work_per_image=out_hw[0] * out_hw[1] * kh * kw * c * f,
        )
        return _sum_in_order(partials).reshape(kernel_shape)

    def _bias_natively(self, y, bias, relu: bool) -> bool:
        """``y = y + bias`` (``relu``: then the relu), in place, as native jobs over blocks of
        rows (``numba_native.py``), for a C-contiguous ``y`` of a compiled dtype and a bias of
        its dtype and last axis; False where it cannot, or ``y`` is too small for two blocks.
        After a product OpenBLAS split by rows, each thread adds to rows still in its cache:
        a (3200, 256) product (W4's projection, before its bias joined the GEMM as a row)
        took 529 us with its bias, against 659 on one thread."""
        if (
            type(bias) is not numpy.ndarray
            or bias.dtype != y.dtype
            or bias.shape != y.shape[-1:]
            or y.ndim < 2
            or not y.flags.c_contiguous
            or _jit_dtype(y) is None
        ):
            return False
        rows = y.reshape(-1, y.shape[-1])
        min_rows = -(-dispatch.MIN_NATIVE_SPLIT_BIAS // max(rows.shape[1], 1))
        name, kernels = ("add_bias_relu" if relu else "add_bias"), self._conv
        arguments = (rows, numpy.ascontiguousarray(bias))
        return numba_native.split(kernels, name, kernels.BIAS_WORDS, arguments, len(rows), min_rows)

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
        if y.size >= 2 * dispatch.MIN_NATIVE_SPLIT_BIAS and self._bias_natively(
            y, bias, activation == "relu"
        ):
            return y
        kernel = self._conv.add_bias if activation is None else self._conv.add_bias_relu
        bias = numpy.ascontiguousarray(bias)
        if y.size < 2 * dispatch.MIN_IMAGE_SPLIT_ELEMENTS:  # one block: no closure, no pool
            kernel(rows, bias)
            return y

        def block(start, stop):
            kernel(rows[start:stop], bias)

        # whole blocks of 16 rows keep the threads off each other's cache lines
        min_rows = -(-dispatch.MIN_IMAGE_SPLIT_ELEMENTS // rows.shape[1])
        thread_pool.run_blocks(block, count=rows.shape[0], min_block=min_rows, align=16)
        return y
