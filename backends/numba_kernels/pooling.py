"""Max and average pooling over channels-last ``(batch, height, width, channels)`` arrays.

Padding is implicit: positions outside the input count as ``-inf`` (they never
win a max, as in the reference) and receive no gradient. A window of only
``-inf`` reports offset 0, as the reference does. Averages leave padded
positions out of both sum and count, as Keras does. Channels are the
innermost loop, so every read and write walks contiguous memory. The kernels
release the GIL: the backend runs them on blocks of images in its kernel pool.
"""

import numba
import numpy


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool2d_forward(x, pool_h, pool_w, stride_h, stride_w, top, left, y, argmax):
    """Window maxima into ``y`` and their row-major window offsets into ``argmax``.

    The channel loop is branch-free, so LLVM vectorizes it: the running
    offsets are kept as floats of ``x``'s width in a scratch row (a select
    between values of one width vectorizes; the int8 ``argmax`` beside float32
    values did not) and converted once per window. Branches in that loop made
    it 8x slower (measured on W3's first pooling layer).
    """
    batch, height, width, channels = x.shape
    _, out_h, out_w, _ = y.shape
    offsets = numpy.empty(channels, x.dtype)
    lowest = x.dtype.type(-numpy.inf)
    for n in range(batch):
        for oh in range(out_h):
            for ow in range(out_w):
                best = y[n, oh, ow]
                for c in range(channels):
                    best[c] = lowest
                    offsets[c] = 0
                for i in range(pool_h):
                    row = oh * stride_h + i - top
                    if row < 0 or row >= height:
                        continue
                    for j in range(pool_w):
                        col = ow * stride_w + j - left
                        if col < 0 or col >= width:
                            continue
                        offset = x.dtype.type(i * pool_w + j)
                        values = x[n, row, col]
                        for c in range(channels):
                            value, current = values[c], best[c]
                            better = value > current
                            offsets[c] = offset if better else offsets[c]
                            # NaN propagates (as numpy.maximum) but never wins the offset
                            best[c] = value if better | (value != value) else current
                index = argmax[n, oh, ow]
                for c in range(channels):
                    index[c] = offsets[c]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool2d_backward(dy, argmax, pool_w, stride_h, stride_w, top, left, dx):
    batch, height, width, channels = dx.shape
    _, out_h, out_w, _ = dy.shape
    for n in range(batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(channels):
                    offset = argmax[n, oh, ow, c]
                    row = oh * stride_h + offset // pool_w - top
                    col = ow * stride_w + offset % pool_w - left
                    if 0 <= row < height and 0 <= col < width:
                        dx[n, row, col, c] += dy[n, oh, ow, c]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _covered(size, out_size, pool, stride, before):
    """Which positions along one axis some window covers."""
    covered = numpy.zeros(size, numpy.bool_)
    for o in range(out_size):
        for k in range(pool):
            position = o * stride + k - before
            if 0 <= position < size:
                covered[position] = True
    return covered


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool2d_backward_disjoint(dy, argmax, pool_h, pool_w, stride_h, stride_w, top, left, dx):
    """``max_pool2d_backward`` for windows that do not overlap (stride >= pool size).

    Each input position lies in at most one window, so every element of ``dx``
    is written once (its gradient or zero) and ``dx`` need not be zeroed first.
    Loops run over windows, not input positions: a per-position window lookup
    stopped LLVM from vectorizing the channel loop (measured 6x slower).
    """
    batch, height, width, channels = dx.shape
    _, out_h, out_w, _ = dy.shape
    zero = dx.dtype.type(0)
    for n in range(batch):
        for oh in range(out_h):
            for i in range(pool_h):
                row = oh * stride_h + i - top
                if row < 0 or row >= height:
                    continue
                for ow in range(out_w):
                    grad = dy[n, oh, ow]
                    index = argmax[n, oh, ow]
                    for j in range(pool_w):
                        col = ow * stride_w + j - left
                        if col < 0 or col >= width:
                            continue
                        offset = argmax.dtype.type(i * pool_w + j)
                        target = dx[n, row, col]
                        for c in range(channels):
                            target[c] = grad[c] if index[c] == offset else zero
    # positions no window covers (a remainder, or gaps when stride > pool) get zero
    rows = _covered(height, out_h, pool_h, stride_h, top)
    cols = _covered(width, out_w, pool_w, stride_w, left)
    if rows.all() and cols.all():
        return
    for n in range(batch):
        for row in range(height):
            for col in range(width):
                if not (rows[row] and cols[col]):
                    dx[n, row, col] = 0


@numba.njit(cache=True, nogil=True, error_model="numpy")
def avg_pool2d_forward(x, pool_h, pool_w, stride_h, stride_w, top, left, y):
    """Window means; positions outside the input are left out of the sum and the count."""
    batch, height, width, channels = x.shape
    _, out_h, out_w, _ = y.shape
    for n in range(batch):
        for oh in range(out_h):
            for ow in range(out_w):
                total = y[n, oh, ow]
                total[:] = 0
                count = 0
                for i in range(pool_h):
                    row = oh * stride_h + i - top
                    if row < 0 or row >= height:
                        continue
                    for j in range(pool_w):
                        col = ow * stride_w + j - left
                        if col < 0 or col >= width:
                            continue
                        count += 1
                        values = x[n, row, col]
                        for c in range(channels):
                            total[c] += values[c]
                scale = total.dtype.type(count)
                for c in range(channels):
                    total[c] /= scale


@numba.njit(cache=True, nogil=True, error_model="numpy")
def avg_pool2d_backward(dy, pool_h, pool_w, stride_h, stride_w, top, left, dx):
    """Spread each output gradient evenly over its window's real inputs; ``dx`` starts zeroed."""
    batch, height, width, channels = dx.shape
    _, out_h, out_w, _ = dy.shape
    share = numpy.empty(channels, dx.dtype)
    for n in range(batch):
        for oh in range(out_h):
            rows = min(oh * stride_h - top + pool_h, height) - max(oh * stride_h - top, 0)
            for ow in range(out_w):
                cols = min(ow * stride_w - left + pool_w, width) - max(ow * stride_w - left, 0)
                count = share.dtype.type(rows * cols)
                grad = dy[n, oh, ow]
                for c in range(channels):
                    share[c] = grad[c] / count
                for i in range(pool_h):
                    row = oh * stride_h + i - top
                    if row < 0 or row >= height:
                        continue
                    for j in range(pool_w):
                        col = ow * stride_w + j - left
                        if col < 0 or col >= width:
                            continue
                        target = dx[n, row, col]
                        for c in range(channels):
                            target[c] += share[c]
