"""Max pooling over channels-last ``(batch, height, width, channels)`` arrays.

Padding is implicit: positions outside the input count as ``-inf`` (they never
win a max, as in the reference) and receive no gradient. A window of only
``-inf`` reports offset 0, as the reference does. Channels are the
innermost loop, so every read and write walks contiguous memory.
"""

import numba
import numpy


@numba.njit(cache=True, error_model="numpy")
def max_pool2d_forward(x, pool_h, pool_w, stride_h, stride_w, top, left, y, argmax):
    batch, height, width, channels = x.shape
    _, out_h, out_w, _ = y.shape
    for n in range(batch):
        for oh in range(out_h):
            for ow in range(out_w):
                best = y[n, oh, ow]
                index = argmax[n, oh, ow]
                for c in range(channels):
                    best[c] = -numpy.inf
                    index[c] = 0
                for i in range(pool_h):
                    row = oh * stride_h + i - top
                    if row < 0 or row >= height:
                        continue
                    for j in range(pool_w):
                        col = ow * stride_w + j - left
                        if col < 0 or col >= width:
                            continue
                        offset = i * pool_w + j
                        values = x[n, row, col]
                        for c in range(channels):
                            value = values[c]
                            if value > best[c]:
                                best[c] = value
                                index[c] = offset
                            elif value != value:  # NaN propagates but never wins
                                best[c] = value


@numba.njit(cache=True, error_model="numpy")
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
