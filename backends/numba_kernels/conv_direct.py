"""Direct 3x3 convolution of one input channel (a grayscale image's first layer).

With one input channel im2col's column matrix has nine columns, and a GEMM with
K = 9 spends its time packing and storing, not multiplying: W3's first layer ran at
10-17 GMAC/s. Here each output pixel loads its nine input values once and the
loop over the filters is a plain vectorizable loop over the kernel's rows. W3's
first layer (64x28x28x1 by 3x3x1x32, float32), same process, alternating: forward
410-530 us against 870-890 for im2col + GEMM on one thread, 310 against 500-670 on
two; kernel gradient 650-790 against 980-1045 on one, 455-510 against 855-1020 on
two. W3's training step: 9.3-9.9 against 10.0-10.6 ms.

``x`` is ``(batch, height, width)`` with the padding already in it (the backend
pads a copy: one channel is small), so every window is inside; ``stride_*`` and
``dilation_*`` are the convolution's. The filters are the last axis of the
kernel (``(9, filters)``) and of ``y``/``dy``.
"""

import numba
import numpy


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def forward(x, kernel, bias, relu, stride_h, stride_w, dilation_h, dilation_w, y):
    """``y[n, oh, ow, f] = bias[f] + sum(x[n, window] * kernel[:, f])`` over the nine taps,
    then ``relu`` (if set) as ``add_bias_relu`` applies it, while the row is in cache."""
    batch, out_h, out_w, filters = y.shape
    for n in range(batch):
        for oh in range(out_h):
            row0 = x[n, oh * stride_h]
            row1 = x[n, oh * stride_h + dilation_h]
            row2 = x[n, oh * stride_h + 2 * dilation_h]
            for ow in range(out_w):
                c0 = ow * stride_w
                c1 = c0 + dilation_w
                c2 = c1 + dilation_w
                a0, a1, a2 = row0[c0], row0[c1], row0[c2]
                a3, a4, a5 = row1[c0], row1[c1], row1[c2]
                a6, a7, a8 = row2[c0], row2[c1], row2[c2]
                out = y[n, oh, ow]
                for f in range(filters):
                    out[f] = bias[f] + (
                        a0 * kernel[0, f]
                        + a1 * kernel[1, f]
                        + a2 * kernel[2, f]
                        + a3 * kernel[3, f]
                        + a4 * kernel[4, f]
                        + a5 * kernel[5, f]
                        + a6 * kernel[6, f]
                        + a7 * kernel[7, f]
                        + a8 * kernel[8, f]
                    )
                if relu:
                    for f in range(filters):
                        value = out[f]
                        out[f] = 0 if value <= 0 else value


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def weight_gradient(
    x, dy, relu_output, masked, stride_h, stride_w, dilation_h, dilation_w, grad, bias_grad
):
    """``grad[t, f] = sum over pixels of x[n, tap t of the window] * g[n, oh, ow, f]`` and
    ``bias_grad[f]`` the sum of ``g``, where ``g`` is ``dy``, or with ``masked`` ``dy *
    (relu_output > 0)`` (a fused relu's derivative, as ``relu_backward``).

    ``grad`` is ``(9, filters)``, overwritten. Two pixels of a row at a time, so that
    each row of ``grad`` is loaded and stored once for both (one pixel at a time: ~25%
    slower; the sums in a local array instead of ``grad``: ~10% slower)."""
    batch, out_h, out_w, filters = dy.shape
    grad[:] = 0
    bias_grad[:] = 0
    for n in range(batch):
        for oh in range(out_h):
            row0 = x[n, oh * stride_h]
            row1 = x[n, oh * stride_h + dilation_h]
            row2 = x[n, oh * stride_h + 2 * dilation_h]
            for ow in range(0, out_w - 1, 2):
                c0 = ow * stride_w
                c1 = c0 + dilation_w
                c2 = c1 + dilation_w
                d0, d1, d2 = c0 + stride_w, c1 + stride_w, c2 + stride_w
                a0, a1, a2 = row0[c0], row0[c1], row0[c2]
                a3, a4, a5 = row1[c0], row1[c1], row1[c2]
                a6, a7, a8 = row2[c0], row2[c1], row2[c2]
                b0, b1, b2 = row0[d0], row0[d1], row0[d2]
                b3, b4, b5 = row1[d0], row1[d1], row1[d2]
                b6, b7, b8 = row2[d0], row2[d1], row2[d2]
                g = dy[n, oh, ow]
                h = dy[n, oh, ow + 1]
                gy = relu_output[n, oh, ow]
                hy = relu_output[n, oh, ow + 1]
                for f in range(filters):
                    gf, hf = g[f], h[f]
                    if masked:
                        gf, hf = gf * (gy[f] > 0), hf * (hy[f] > 0)
                    bias_grad[f] += gf + hf
                    grad[0, f] += a0 * gf + b0 * hf
                    grad[1, f] += a1 * gf + b1 * hf
                    grad[2, f] += a2 * gf + b2 * hf
                    grad[3, f] += a3 * gf + b3 * hf
                    grad[4, f] += a4 * gf + b4 * hf
                    grad[5, f] += a5 * gf + b5 * hf
                    grad[6, f] += a6 * gf + b6 * hf
                    grad[7, f] += a7 * gf + b7 * hf
                    grad[8, f] += a8 * gf + b8 * hf
            if out_w % 2:
                c0 = (out_w - 1) * stride_w
                c1 = c0 + dilation_w
                c2 = c1 + dilation_w
                a0, a1, a2 = row0[c0], row0[c1], row0[c2]
                a3, a4, a5 = row1[c0], row1[c1], row1[c2]
                a6, a7, a8 = row2[c0], row2[c1], row2[c2]
                g = dy[n, oh, out_w - 1]
                gy = relu_output[n, oh, out_w - 1]
                for f in range(filters):
                    gf = g[f] * (gy[f] > 0) if masked else g[f]
                    bias_grad[f] += gf
                    grad[0, f] += a0 * gf
                    grad[1, f] += a1 * gf
                    grad[2, f] += a2 * gf
                    grad[3, f] += a3 * gf
                    grad[4, f] += a4 * gf
                    grad[5, f] += a5 * gf
                    grad[6, f] += a6 * gf
                    grad[7, f] += a7 * gf
                    grad[8, f] += a8 * gf


@numba.njit(cache=True, nogil=True, inline="always")
def _taps(row0, row1, row2, c0, c1, c2):
    """The nine values of the window at columns ``c0, c1, c2`` of three rows."""
    return (
        row0[c0],
        row0[c1],
        row0[c2],
        row1[c0],
        row1[c1],
        row1[c2],
        row2[c0],
        row2[c1],
        row2[c2],
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _pooled_windows(x, n, ph, pw, stride_h, stride_w, dilation_h, dilation_w):
    """The taps of the four convolution outputs pooled into ``(ph, pw)``, in the pooling's
    row-major order: top left, top right, bottom left, bottom right."""
    r = 2 * ph * stride_h
    top0, top1, top2 = x[n, r], x[n, r + dilation_h], x[n, r + 2 * dilation_h]
    r += stride_h
    low0, low1, low2 = x[n, r], x[n, r + dilation_h], x[n, r + 2 * dilation_h]
    c0 = 2 * pw * stride_w
    c1 = c0 + dilation_w
    c2 = c1 + dilation_w
    d0, d1, d2 = c0 + stride_w, c1 + stride_w, c2 + stride_w
    return (
        _taps(top0, top1, top2, c0, c1, c2),
        _taps(top0, top1, top2, d0, d1, d2),
        _taps(low0, low1, low2, c0, c1, c2),
        _taps(low0, low1, low2, d0, d1, d2),
    )


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"}, inline="always")
def _relu_tap_sum(bias, kernel, f, a):
    """``forward``'s output for filter ``f`` of the window's taps ``a``, through the relu."""
    value = bias[f] + (
        a[0] * kernel[0, f]
        + a[1] * kernel[1, f]
        + a[2] * kernel[2, f]
        + a[3] * kernel[3, f]
        + a[4] * kernel[4, f]
        + a[5] * kernel[5, f]
        + a[6] * kernel[6, f]
        + a[7] * kernel[7, f]
        + a[8] * kernel[8, f]
    )
    return 0 if value <= 0 else value


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def forward_relu_max_pool(
    x, kernel, bias, stride_h, stride_w, dilation_h, dilation_w, y, index, scratch
):
    """``forward`` with its relu, then 2x2 max pooling of stride 2 (windows inside the
    convolution's output): ``y`` is the pooled output, and the convolution's output is
    never written.

    ``index[n, ph, pw, f]`` is the window offset (row-major, 0-3) that ``max_pool2d_forward``
    keeps as its argmax, or -1 where that element's relu output is not positive (its
    gradient is zero). The pooling is ``max_pool2d_forward``'s, tie for tie: the first
    maximum wins, and a NaN propagates into ``y`` but never wins the offset. ``scratch`` is
    a ``(filters,)`` row of ``x``'s dtype: the offsets are chosen as floats, so that the
    loop over the filters is of one width and vectorizes, and converted after it."""
    batch, pooled_h, pooled_w, filters = y.shape
    lowest = x.dtype.type(-numpy.inf)
    one, two, three = x.dtype.type(1), x.dtype.type(2), x.dtype.type(3)
    for n in range(batch):
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                p, q, s, t = _pooled_windows(
                    x, n, ph, pw, stride_h, stride_w, dilation_h, dilation_w
                )
                out = y[n, ph, pw]
                for f in range(filters):
                    best = _relu_tap_sum(bias, kernel, f, p)
                    offset = 0
                    winner = best if best > lowest else lowest  # a NaN never wins
                    value = _relu_tap_sum(bias, kernel, f, q)
                    better = value > best
                    offset, winner = (one, value) if better else (offset, winner)
                    best = value if better | (value != value) else best
                    value = _relu_tap_sum(bias, kernel, f, s)
                    better = value > best
                    offset, winner = (two, value) if better else (offset, winner)
                    best = value if better | (value != value) else best
                    value = _relu_tap_sum(bias, kernel, f, t)
                    better = value > best
                    offset, winner = (three, value) if better else (offset, winner)
                    out[f] = value if better | (value != value) else best
                    scratch[f] = offset if winner > 0 else -1
                kept = index[n, ph, pw]
                for f in range(filters):
                    kept[f] = scratch[f]


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def weight_gradient_max_pool(
    x, dy, index, stride_h, stride_w, dilation_h, dilation_w, grad, bias_grad, scratch
):
    """The kernel and bias gradients of ``forward_relu_max_pool``, from the gradient of
    its pooled output ``dy`` and its ``index``: each pooled element's gradient goes to the
    one convolution output its ``index`` names (none where it is -1), as max pooling's and
    the relu's backward would send it, without the full-size gradient ever written.

    ``grad`` (nine rows) and ``bias_grad`` are overwritten; ``scratch`` is a
    ``(filters,)`` row of ``x``'s dtype (the offsets as floats)."""
    batch, pooled_h, pooled_w, filters = dy.shape
    grad[:] = 0
    bias_grad[:] = 0
    for n in range(batch):
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                p, q, s, t = _pooled_windows(
                    x, n, ph, pw, stride_h, stride_w, dilation_h, dilation_w
                )
                kept = index[n, ph, pw]
                for f in range(filters):
                    scratch[f] = kept[f]
                g = dy[n, ph, pw]
                for f in range(filters):
                    k = scratch[f]
                    gf = g[f] if k >= 0 else 0
                    top, left = k < 2, (k == 0) | (k == 2)
                    bias_grad[f] += gf
                    # the taps of the output the index names, as selects (a loop over the
                    # taps indexing the tuples would not vectorize: 5x slower)
                    grad[0, f] += gf * (
                        (p[0] if left else q[0]) if top else (s[0] if left else t[0])
                    )
                    grad[1, f] += gf * (
                        (p[1] if left else q[1]) if top else (s[1] if left else t[1])
                    )
                    grad[2, f] += gf * (
                        (p[2] if left else q[2]) if top else (s[2] if left else t[2])
                    )
                    grad[3, f] += gf * (
                        (p[3] if left else q[3]) if top else (s[3] if left else t[3])
                    )
                    grad[4, f] += gf * (
                        (p[4] if left else q[4]) if top else (s[4] if left else t[4])
                    )
                    grad[5, f] += gf * (
                        (p[5] if left else q[5]) if top else (s[5] if left else t[5])
                    )
                    grad[6, f] += gf * (
                        (p[6] if left else q[6]) if top else (s[6] if left else t[6])
                    )
                    grad[7, f] += gf * (
                        (p[7] if left else q[7]) if top else (s[7] if left else t[7])
                    )
                    grad[8, f] += gf * (
                        (p[8] if left else q[8]) if top else (s[8] if left else t[8])
                    )
