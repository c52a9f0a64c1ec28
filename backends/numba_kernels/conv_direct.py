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
