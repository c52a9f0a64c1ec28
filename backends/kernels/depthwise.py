"""Depthwise convolution (channels-last): each input channel convolved with its own filters.

``x`` is ``(n, h, w, c)``, the kernel ``(kh, kw, c, multiplier)`` and the output
``(n, out_h, out_w, c * multiplier)``: output channel ``c * multiplier + m`` is
input channel ``c`` through filter ``m``, as in Keras and TensorFlow. ``pads`` is
``((top, bottom), (left, right))`` and ``out_hw`` the output's spatial size, as
``conv.resolve_padding`` and ``conv.output_size`` give them.

The reference loops over the ``kh * kw`` kernel offsets, each a multiply-add of
one strided slice of the padded input with that offset's ``(c, multiplier)``
weights, so no scratch array is larger than the output.
"""


def kernel_offsets(window, strides, dilation, out_hw):
    """``(i, j, index)`` for each kernel offset: the slice of the padded input it reads."""
    for i in range(window[0]):
        rows = slice(
            i * dilation[0], i * dilation[0] + strides[0] * (out_hw[0] - 1) + 1, strides[0]
        )
        for j in range(window[1]):
            start = j * dilation[1]
            cols = slice(start, start + strides[1] * (out_hw[1] - 1) + 1, strides[1])
            yield i, j, (slice(None), rows, cols, slice(None))


class DepthwiseKernels:
    def depthwise_conv2d_forward(self, x, kernel, strides, pads, dilation, out_hw):
        """The depthwise convolution of ``x`` with ``kernel``: ``(n, out_h, out_w, c * m)``."""
        padded = self.pad_spatial(x, pads)
        _, _, c, m = kernel.shape
        y = self.xp.zeros((x.shape[0], *out_hw, c, m), dtype=x.dtype)
        for i, j, index in kernel_offsets(kernel.shape[:2], strides, dilation, out_hw):
            y += padded[index][..., None] * kernel[i, j]
        return y.reshape(x.shape[0], *out_hw, c * m)

    def depthwise_conv2d_backward(
        self, dy, x, kernel, x_shape, window, strides, pads, dilation, needs
    ):
        """``(dx, dkernel)`` from the output's gradient ``dy``; ``needs`` (input, kernel)
        says which to compute, the other is None. ``x`` is needed for ``dkernel`` and
        ``kernel`` for ``dx`` (either may be None when its gradient is not)."""
        xp = self.xp
        need_x, need_kernel = needs
        n, h, w, c = x_shape
        (top, bottom), (left, right) = pads
        out_hw = dy.shape[1:3]
        dy = dy.reshape(n, *out_hw, c, -1)
        offsets = list(kernel_offsets(window, strides, dilation, out_hw))
        dx = dkernel = None
        if need_x:
            dx = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=dy.dtype)
            for i, j, index in offsets:
                dx[index] += (dy * kernel[i, j]).sum(axis=-1)
            dx = dx[:, top : top + h, left : left + w, :]
        if need_kernel:
            padded = self.pad_spatial(x, pads)
            flat_dy = dy.reshape(-1, c, dy.shape[-1])
            dkernel = xp.empty((*window, c, dy.shape[-1]), dtype=dy.dtype)
            for i, j, index in offsets:
                patch = padded[index].reshape(-1, c)
                dkernel[i, j] = xp.einsum("pc,pcm->cm", patch, flat_dy)
        return dx, dkernel
