"""im2col packing and col2im scatter for 2-D convolution over channels-last arrays.

The backend feeds the packed columns to one BLAS GEMM per convolution. Direct
convolution loops were measured on the W3 shapes and lost: 3-5x slower with 32
input channels and no faster with one. Without explicit register blocking
their inner loops over 32-64 filters are too short to amortize the loads,
stores and runtime alias checks around them.

``x`` is ``(batch, height, width, in_channels)`` and the columns
``(batch, out_h, out_w, kh, kw, in_channels)``. Padding is implicit: positions
outside the input read as zero and receive no gradient; nothing is copied to
pad. Both kernels are serial: in parallel (``prange`` over the batch) they ran
slower in the training step, their threads competing with OpenBLAS's.
"""

import numba


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
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
