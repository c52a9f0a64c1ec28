"""A relu convolution's output max-pooled 2x2 (stride 2) as it is made, and the gradients
of the pair, without the convolution's full-size output or gradient in memory.

The pooling is ``pooling.max_pool2d_forward``'s, tie for tie: the first maximum of
the window (row-major offsets 0-3) wins, and a NaN propagates into the pooled value
but never wins the offset. Its ``index`` is that offset, or -1 where the winning
relu output is not positive, so that the backward needs neither the relu's output
nor the pooling's input: a pooled element's gradient goes to the one convolution
output its index names (``unpool``), and nowhere at -1.

Two ways in: a grayscale 3x3 first layer computes each window's four outputs
directly (``direct_forward``, ``direct_weight_gradient``: ``conv_direct``'s
arithmetic, and no output array at all); any other convolution pools each chunk of
im2col GEMM output while it is in cache (``relu_max_pool``) and, backward,
unpools each chunk of the gradient into scratch before its GEMMs (``unpool``).

The offsets are chosen as floats of the arrays' width in a scratch row and converted
to the int8 ``index`` after the loop over the filters: a loop of one width vectorizes
(as in ``pooling.max_pool2d_forward``).
"""

import numba
import numpy


@numba.njit(cache=True, nogil=True, inline="always")
def _pool_select(v0, v1, v2, v3, lowest, offsets):
    """``(maximum, offset)`` of a window's four relu outputs in row-major order; the
    offset is ``offsets[k]`` (0, 1, 2, 3 as floats of the values' type), or ``offsets[4]``
    (-1) where the winner is not positive."""
    best, offset = v0, offsets[0]
    winner = v0 if v0 > lowest else lowest  # a NaN never wins
    better = v1 > best
    offset, winner = (offsets[1], v1) if better else (offset, winner)
    best = v1 if better | (v1 != v1) else best
    better = v2 > best
    offset, winner = (offsets[2], v2) if better else (offset, winner)
    best = v2 if better | (v2 != v2) else best
    better = v3 > best
    offset, winner = (offsets[3], v3) if better else (offset, winner)
    best = v3 if better | (v3 != v3) else best
    return best, (offset if winner > 0 else offsets[4])


@numba.njit(cache=True, nogil=True, inline="always")
def _offsets(dtype):
    """The offsets 0-3 and -1 as floats of ``dtype``, for ``_pool_select``."""
    return dtype.type(0), dtype.type(1), dtype.type(2), dtype.type(3), dtype.type(-1)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def relu_max_pool(y, pooled, index, scratch):
    """Pool ``y`` (``(images, out_h, out_w, filters)``, a relu's output) into ``pooled``
    and ``index`` (``(images, out_h // 2, out_w // 2, filters)``); ``scratch`` is a
    ``(filters,)`` row of ``y``'s dtype."""
    images, rows, cols, filters = pooled.shape
    lowest, offsets = y.dtype.type(-numpy.inf), _offsets(y.dtype)
    for n in range(images):
        for ph in range(rows):
            top, low = y[n, 2 * ph], y[n, 2 * ph + 1]
            for pw in range(cols):
                p, q, s, t = top[2 * pw], top[2 * pw + 1], low[2 * pw], low[2 * pw + 1]
                out = pooled[n, ph, pw]
                for f in range(filters):
                    out[f], scratch[f] = _pool_select(p[f], q[f], s[f], t[f], lowest, offsets)
                kept = index[n, ph, pw]
                for f in range(filters):
                    kept[f] = scratch[f]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def unpool(grad, index, dy, scratch):
    """``dy`` (``(images, out_h, out_w, filters)``, every element written): each pooled
    gradient at the output its ``index`` names, zero elsewhere (also in a last row or
    column no window covers); ``scratch`` is a ``(filters,)`` row of ``grad``'s dtype."""
    images, rows, cols, filters = grad.shape
    zero = grad.dtype.type(0)
    dy[:, 2 * rows :] = 0
    dy[:, :, 2 * cols :] = 0
    for n in range(images):
        for ph in range(rows):
            top, low = dy[n, 2 * ph], dy[n, 2 * ph + 1]
            for pw in range(cols):
                p, q, s, t = top[2 * pw], top[2 * pw + 1], low[2 * pw], low[2 * pw + 1]
                kept, g = index[n, ph, pw], grad[n, ph, pw]
                for f in range(filters):
                    scratch[f] = kept[f]
                for f in range(filters):
                    k, gf = scratch[f], g[f]
                    p[f] = gf if k == 0 else zero
                    q[f] = gf if k == 1 else zero
                    s[f] = gf if k == 2 else zero
                    t[f] = gf if k == 3 else zero


@numba.njit(cache=True, nogil=True, error_model="numpy")
def bias_gradient(grad, index, out, scratch):
    """``out[f]``: the sum of the pooled gradients of filter ``f`` whose index is not -1
    (the bias gradient of the pair); ``scratch`` is a ``(filters,)`` row of ``grad``'s
    dtype."""
    images, rows, cols, filters = grad.shape
    zero = grad.dtype.type(0)
    out[:] = 0
    for n in range(images):
        for ph in range(rows):
            for pw in range(cols):
                kept, g = index[n, ph, pw], grad[n, ph, pw]
                for f in range(filters):
                    scratch[f] = kept[f]
                for f in range(filters):
                    out[f] += g[f] if scratch[f] >= 0 else zero


# -- a grayscale 3x3 first layer: each window's four outputs computed here --------------


@numba.njit(cache=True, nogil=True, inline="always")
def _taps(row0, row1, row2, c0, c1, c2):
    """The nine values of the window at columns ``c0, c1, c2`` of three rows."""
    return (
        row0[c0], row0[c1], row0[c2], row1[c0], row1[c1], row1[c2], row2[c0], row2[c1], row2[c2]
    )  # fmt: skip


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
    """``conv_direct.forward``'s output for filter ``f`` of the window's taps ``a`` (the same
    sum, rounded the same), through the relu."""
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
def direct_forward(x, kernel, bias, stride_h, stride_w, dilation_h, dilation_w, y, index, scratch):
    """``conv_direct.forward`` with its relu, pooled into ``y`` and ``index`` as computed.

    ``x`` is ``(batch, height, width)``, padded as ``conv_direct`` takes it, the kernel
    ``(9, filters)``; ``scratch`` a ``(filters,)`` row of ``x``'s dtype."""
    batch, pooled_h, pooled_w, filters = y.shape
    lowest, offsets = x.dtype.type(-numpy.inf), _offsets(x.dtype)
    for n in range(batch):
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                p, q, s, t = _pooled_windows(
                    x, n, ph, pw, stride_h, stride_w, dilation_h, dilation_w
                )
                out = y[n, ph, pw]
                for f in range(filters):
                    out[f], scratch[f] = _pool_select(
                        _relu_tap_sum(bias, kernel, f, p),
                        _relu_tap_sum(bias, kernel, f, q),
                        _relu_tap_sum(bias, kernel, f, s),
                        _relu_tap_sum(bias, kernel, f, t),
                        lowest,
                        offsets,
                    )
                kept = index[n, ph, pw]
                for f in range(filters):
                    kept[f] = scratch[f]


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def direct_weight_gradient(
    x, dy, index, stride_h, stride_w, dilation_h, dilation_w, grad, bias_grad, scratch
):
    """The kernel (``grad``, nine rows) and bias gradients of ``direct_forward``, from the
    gradient ``dy`` of its pooled output and its ``index``: each pooled gradient times the
    taps of the output the index names. Both overwritten; ``scratch`` as the forward's."""
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
