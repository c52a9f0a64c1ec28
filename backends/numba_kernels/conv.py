"""im2col packing and col2im scatter for 2-D convolution over channels-last arrays.

The backend feeds the packed columns of a few images at a time to a BLAS
GEMM. Direct convolution loops were measured on the W3 shapes and lost: 3-5x
slower with 32 input channels and no faster with one; so did (this round)
direct loops blocked over four output columns, and packing one output row at a
time for an 8x4-blocked Numba GEMM (1.5-2x slower than BLAS with 1-32
channels). Without explicit register blocking their inner loops over 32-64
filters are too short to amortize the loads, stores and runtime alias checks
around them.

``x`` is ``(batch, height, width, in_channels)`` and the columns
``(batch, out_h, out_w, kh, kw, in_channels)`` (``im2col_transposed``: the
transpose, for one or two channels). Padding is implicit: positions
outside the input read as zero and receive no gradient; nothing is copied to
pad. The kernels are serial and release the GIL: the backend runs them on
blocks of images in its kernel pool (``thread_pool.py``). In parallel
(``prange`` over the batch) they had run slower in the training step, their
threads competing with OpenBLAS's.
"""

import numba
import numpy
from numba.extending import register_jitable

from .native_jobs import HEADER_WORDS, block, job_array, run_jobs


@numba.njit(cache=True, nogil=True, error_model="numpy")
def im2col(x, stride_h, stride_w, dilation_h, dilation_w, top, left, cols):
    """Pack ``x``'s windows into ``cols`` (``(batch, out_h, out_w, kh, kw, in)``), zero outside.

    One output row at a time, kernel offset by kernel offset: the row's block
    of ``cols`` stays in L1, and with one channel the copy is a plain strided loop.
    """
    batch, height, width, channels = x.shape
    _, out_h, out_w, kernel_h, kernel_w, _ = cols.shape
    for n in range(batch):
        for oh in range(out_h):
            out_row = cols[n, oh]
            for i in range(kernel_h):
                row = oh * stride_h + i * dilation_h - top
                if row < 0 or row >= height:
                    out_row[:, i] = 0
                    continue
                source = x[n, row]
                for j in range(kernel_w):
                    for ow in range(out_w):
                        col = ow * stride_w + j * dilation_w - left
                        out = out_row[ow, i, j]
                        if col < 0 or col >= width:
                            out[:] = 0
                        elif channels == 1:
                            out[0] = source[col, 0]
                        else:
                            pixel = source[col]
                            for c in range(channels):
                                out[c] = pixel[c]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _inside(size, out_size, stride, offset):
    """``(first, stop)``: the outputs ``o`` with ``0 <= o * stride + offset < size``."""
    first = 0 if offset >= 0 else (stride - 1 - offset) // stride
    stop = 0 if size - offset <= 0 else (size - offset + stride - 1) // stride
    return min(first, out_size), min(max(stop, first), out_size)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def im2col_transposed(x, stride_h, stride_w, dilation_h, dilation_w, top, left, cols):
    """Pack ``x``'s windows into ``cols`` (``(kh, kw, in, batch, out_h, out_w)``), zero outside.

    The transpose of ``im2col``'s matrix: one row per window offset and input
    channel, each a strided copy of an input row. With one or two channels
    this packs faster than ``im2col``'s interleaved layout and BLAS multiplies
    it faster (measured, convolution with the GEMMs: W3's first layer 7%
    faster forward and 10% for the kernel gradient; 22-27% with two channels;
    no gain with three).
    """
    batch, height, width, channels = x.shape
    kernel_h, kernel_w, _, _, out_h, out_w = cols.shape
    for i in range(kernel_h):
        for j in range(kernel_w):
            offset = j * dilation_w - left
            first, stop = _inside(width, out_w, stride_w, offset)
            for c in range(channels):
                for n in range(batch):
                    for oh in range(out_h):
                        out = cols[i, j, c, n, oh]
                        row = oh * stride_h + i * dilation_h - top
                        if row < 0 or row >= height:
                            out[:] = 0
                            continue
                        source = x[n, row]
                        out[:first] = 0
                        out[stop:] = 0
                        for ow in range(first, stop):
                            out[ow] = source[ow * stride_w + offset, c]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def col2im(cols, stride_h, stride_w, dilation_h, dilation_w, top, left, dx):
    """Scatter-add ``cols`` (``(batch, out_h, out_w, kh, kw, in)``) into zeroed ``dx``."""
    batch, height, width, channels = dx.shape
    _, out_h, out_w, kernel_h, kernel_w, _ = cols.shape
    for n in range(batch):
        for oh in range(out_h):
            in_row = cols[n, oh]
            for i in range(kernel_h):
                row = oh * stride_h + i * dilation_h - top
                if row < 0 or row >= height:
                    continue
                target = dx[n, row]
                for j in range(kernel_w):
                    for ow in range(out_w):
                        col = ow * stride_w + j * dilation_w - left
                        if col < 0 or col >= width:
                            continue
                        values = in_row[ow, i, j]
                        if channels == 1:
                            target[col, 0] += values[0]
                        else:
                            pixel = target[col]
                            for c in range(channels):
                                pixel[c] += values[c]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def add_bias(y, bias):
    """``y += bias`` over the rows of ``y`` (``(pixels, filters)``), in place.

    NumPy's broadcast add runs its inner loop once per row: with 32 filters that
    costs 3x this loop.
    """
    rows, filters = y.shape
    for r in range(rows):
        row = y[r]
        for f in range(filters):
            row[f] += bias[f]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def add_bias_relu(y, bias):
    """``y = relu(y + bias)`` over the rows of ``y`` (``(pixels, filters)``), in place.

    NaN stays NaN, as with ``numpy.maximum`` in the reference.
    """
    rows, filters = y.shape
    for r in range(rows):
        row = y[r]
        for f in range(filters):
            value = row[f] + bias[f]
            row[f] = 0 if value <= 0 else value


# ``add_bias`` and ``add_bias_relu`` as native jobs (``native_jobs``) over blocks of rows:
# after a product that OpenBLAS split by rows between the same threads, each thread's
# rows are still in its own cache. Record: rows, itemsize, the rows' and the bias's
# addresses, the number of columns.
BIAS_WORDS = HEADER_WORDS + 3


@register_jitable
def _bias_block(record, index, parts, dtype, relu):
    start, stop = block(record[0], parts, index)
    columns = record[4]
    rows = job_array(record, 2, start * columns, stop * columns, dtype)
    bias = job_array(record, 3, 0, columns, dtype)
    if relu:
        add_bias_relu(rows.reshape((stop - start, columns)), bias)
    else:
        add_bias(rows.reshape((stop - start, columns)), bias)


def add_bias_job_float32(index, data, parts):  # pragma: no cover - compiled
    _bias_block(numba.carray(data, BIAS_WORDS, numpy.int64), index, parts, numpy.float32, False)


def add_bias_job_float64(index, data, parts):  # pragma: no cover - compiled
    _bias_block(numba.carray(data, BIAS_WORDS, numpy.int64), index, parts, numpy.float64, False)


def add_bias_relu_job_float32(index, data, parts):  # pragma: no cover - compiled
    _bias_block(numba.carray(data, BIAS_WORDS, numpy.int64), index, parts, numpy.float32, True)


def add_bias_relu_job_float64(index, data, parts):  # pragma: no cover - compiled
    _bias_block(numba.carray(data, BIAS_WORDS, numpy.int64), index, parts, numpy.float64, True)


@numba.njit(cache=True, nogil=True)
def add_bias_split(callback, job, parts, record, rows, bias):
    """``add_bias`` (or, given its job, ``add_bias_relu``) on ``rows`` in ``parts`` native
    jobs; ``record``: ``BIAS_WORDS`` int64 words to fill."""
    record[0], record[1] = rows.shape[0], rows.itemsize
    record[2], record[3], record[4] = rows.ctypes.data, bias.ctypes.data, rows.shape[1]
    run_jobs(callback, job, parts, record)


add_bias_relu_split = add_bias_split
