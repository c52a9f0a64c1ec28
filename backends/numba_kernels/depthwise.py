"""Depthwise convolution: direct loops over the images ``[start, stop)``.

``x`` is ``(n, h, w, c)`` and ``dy``/``out`` ``(n, out_h, out_w, c * m)``, all
C-contiguous; ``kernel`` and ``dkernel`` are ``(kh, kw, c * m)`` (the layer's
``(kh, kw, c, m)`` with its last two axes merged). Padding is never copied: the
output columns whose input falls outside the image are left out of each kernel
offset's pass.

With a column stride of 1 and a multiplier of 1 (the common layer), a kernel
offset reads a contiguous run of input pixels for a run of output pixels, so its
multiply-add is one long loop over ``columns * c`` elements, with the offset's
weights tiled along the row (``tiled``: ``(kh, kw, out_w * c)``) and the kernel
gradient gathered in such a row too. A loop over one pixel's channels instead is
16 elements at such widths, too short to vectorize well (32x32x32x16, 3x3, one
thread: forward 1.24 ms pixel by pixel against 0.53 by rows). Other strides and
multipliers take the pixel-by-pixel loops, indexing the 4-D arrays directly (views of
each pixel were 4x slower there: stride 2, forward on two threads 0.95 ms against 0.21).
"""

import numba


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _columns(ox_count, width, offset):
    """The output columns ``[first, stop)`` whose input column ``ox + offset`` is inside."""
    first = max(0, -offset)
    stop = min(ox_count, width - offset)
    return first, max(first, stop)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def forward(x, kernel, tiled, out, strides, dilation, pads, start, stop):
    """``out[start:stop]``, the depthwise convolution of those images."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    window_h, window_w, outputs = kernel.shape
    rows, columns = out.shape[1], out.shape[2]
    multiplier = outputs // channels
    by_row = strides[1] == 1 and multiplier == 1
    for b in range(start, stop):
        for oy in range(rows):
            out_row = out[b, oy].reshape(columns * outputs)
            out_row[:] = 0
            for i in range(window_h):
                iy = oy * strides[0] + i * dilation[0] - pads[0]
                if iy < 0 or iy >= height:
                    continue
                in_row = x[b, iy].reshape(width * channels)
                for j in range(window_w):
                    offset = j * dilation[1] - pads[1]
                    if by_row:
                        first, last = _columns(columns, width, offset)
                        target = out_row[first * outputs : last * outputs]
                        source = in_row[(first + offset) * channels : (last + offset) * channels]
                        weights = tiled[i, j, first * outputs : last * outputs]
                        for q in range(target.size):
                            target[q] += source[q] * weights[q]
                        continue
                    for ox in range(columns):
                        ix = ox * strides[1] + offset
                        if ix < 0 or ix >= width:
                            continue
                        if multiplier == 1:
                            for q in range(outputs):
                                out[b, oy, ox, q] += x[b, iy, ix, q] * kernel[i, j, q]
                            continue
                        for c in range(channels):
                            value = x[b, iy, ix, c]
                            for q in range(c * multiplier, (c + 1) * multiplier):
                                out[b, oy, ox, q] += value * kernel[i, j, q]


@numba.njit(cache=True, error_model="numpy", nogil=True)
def input_gradient(dy, kernel, tiled, dx, strides, dilation, pads, start, stop):
    """``dx[start:stop]`` (zeroed here): each output's gradient sent back through the
    kernel offsets that read each input pixel."""
    height, width, channels = dx.shape[1], dx.shape[2], dx.shape[3]
    window_h, window_w, outputs = kernel.shape
    rows, columns = dy.shape[1], dy.shape[2]
    multiplier = outputs // channels
    by_row = strides[1] == 1 and multiplier == 1
    for b in range(start, stop):
        dx[b] = 0
        for oy in range(rows):
            dy_row = dy[b, oy].reshape(columns * outputs)
            for i in range(window_h):
                iy = oy * strides[0] + i * dilation[0] - pads[0]
                if iy < 0 or iy >= height:
                    continue
                dx_row = dx[b, iy].reshape(width * channels)
                for j in range(window_w):
                    offset = j * dilation[1] - pads[1]
                    if by_row:
                        first, last = _columns(columns, width, offset)
                        target = dx_row[(first + offset) * channels : (last + offset) * channels]
                        gradient = dy_row[first * outputs : last * outputs]
                        weights = tiled[i, j, first * outputs : last * outputs]
                        for q in range(target.size):
                            target[q] += gradient[q] * weights[q]
                        continue
                    for ox in range(columns):
                        ix = ox * strides[1] + offset
                        if ix < 0 or ix >= width:
                            continue
                        if multiplier == 1:
                            for q in range(outputs):
                                dx[b, iy, ix, q] += dy[b, oy, ox, q] * kernel[i, j, q]
                            continue
                        for c in range(channels):
                            total = dx[b, iy, ix, c]
                            for q in range(c * multiplier, (c + 1) * multiplier):
                                total += dy[b, oy, ox, q] * kernel[i, j, q]
                            dx[b, iy, ix, c] = total


@numba.njit(cache=True, error_model="numpy", nogil=True)
def kernel_gradient(x, dy, tiled_sums, dkernel, strides, dilation, pads, start, stop):
    """``dkernel`` (zeroed here): the kernel's gradient summed over the images
    ``[start, stop)``. By rows, each offset's products gather in its row of
    ``tiled_sums`` (``(kh, kw, out_w * c)``, zeroed here), folded into ``dkernel`` at
    the end; pixel by pixel, straight into ``dkernel``."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    window_h, window_w, outputs = dkernel.shape
    rows, columns = dy.shape[1], dy.shape[2]
    multiplier = outputs // channels
    by_row = strides[1] == 1 and multiplier == 1
    tiled_sums[:] = 0
    dkernel[:] = 0
    for b in range(start, stop):
        for oy in range(rows):
            dy_row = dy[b, oy].reshape(columns * outputs)
            for i in range(window_h):
                iy = oy * strides[0] + i * dilation[0] - pads[0]
                if iy < 0 or iy >= height:
                    continue
                in_row = x[b, iy].reshape(width * channels)
                for j in range(window_w):
                    offset = j * dilation[1] - pads[1]
                    if by_row:
                        first, last = _columns(columns, width, offset)
                        sums = tiled_sums[i, j, first * outputs : last * outputs]
                        source = in_row[(first + offset) * channels : (last + offset) * channels]
                        gradient = dy_row[first * outputs : last * outputs]
                        for q in range(sums.size):
                            sums[q] += source[q] * gradient[q]
                        continue
                    for ox in range(columns):
                        ix = ox * strides[1] + offset
                        if ix < 0 or ix >= width:
                            continue
                        if multiplier == 1:
                            for q in range(outputs):
                                dkernel[i, j, q] += x[b, iy, ix, q] * dy[b, oy, ox, q]
                            continue
                        for c in range(channels):
                            value = x[b, iy, ix, c]
                            for q in range(c * multiplier, (c + 1) * multiplier):
                                dkernel[i, j, q] += value * dy[b, oy, ox, q]
    if by_row:
        for i in range(window_h):
            for j in range(window_w):
                sums, row = dkernel[i, j], tiled_sums[i, j]
                for ox in range(columns):
                    part = row[ox * outputs : (ox + 1) * outputs]
                    for q in range(outputs):
                        sums[q] += part[q]
