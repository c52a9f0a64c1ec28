"""Depthwise convolution (channels-last): each input channel convolved with its own filters.

The generic body is written against ``backend.xp`` and loops over the
``kh * kw`` kernel offsets, each a multiply-add of one strided slice of the
(padded) input with that offset's ``(channels, multiplier)`` weights, so no
scratch array is larger than the output. Output channel ``c * multiplier + m``
is input channel ``c`` through filter ``m``, as in Keras and TensorFlow.
"""

from backends.kernels.conv import output_size, resolve_padding

from ..tensor import Function, Tensor, apply
from .conv_transpose import as_tuple


def _offsets(window, strides, dilation, out_hw):
    """``(i, j, index)`` for each kernel offset: the slice of the padded input it reads."""
    for i in range(window[0]):
        rows = slice(
            i * dilation[0], i * dilation[0] + strides[0] * (out_hw[0] - 1) + 1, strides[0]
        )
        for j in range(window[1]):
            start = j * dilation[1]
            cols = slice(start, start + strides[1] * (out_hw[1] - 1) + 1, strides[1])
            yield i, j, (slice(None), rows, cols, slice(None))


class DepthwiseConv2D(Function):
    def __init__(self, window, strides, pads, dilation, out_hw):
        self.window, self.strides, self.pads = window, strides, pads
        self.dilation, self.out_hw = dilation, out_hw

    def forward(self, x, kernel):
        need_x, need_kernel = self.needs_input_grad
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.x_shape = x.shape
        padded = self.backend.pad_spatial(x, self.pads)
        _, _, c, m = kernel.shape
        y = self.backend.xp.zeros((x.shape[0], *self.out_hw, c, m), dtype=x.dtype)
        for i, j, index in _offsets(self.window, self.strides, self.dilation, self.out_hw):
            y += padded[index][..., None] * kernel[i, j]
        return y.reshape(x.shape[0], *self.out_hw, c * m)

    def backward(self, grad):
        xp = self.backend.xp
        need_x, need_kernel = self.needs_input_grad
        n, h, w, c = self.x_shape
        (top, bottom), (left, right) = self.pads
        grad = grad.reshape(n, *self.out_hw, c, -1)
        offsets = list(_offsets(self.window, self.strides, self.dilation, self.out_hw))
        grad_x = grad_kernel = None
        if need_x:
            grad_x = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=grad.dtype)
            for i, j, index in offsets:
                grad_x[index] += (grad * self.kernel[i, j]).sum(axis=-1)
            grad_x = grad_x[:, top : top + h, left : left + w, :]
        if need_kernel:
            padded = self.backend.pad_spatial(self.x, self.pads)
            flat_grad = grad.reshape(-1, c, grad.shape[-1])
            grad_kernel = xp.empty((*self.window, c, grad.shape[-1]), dtype=grad.dtype)
            for i, j, index in offsets:
                window = padded[index].reshape(-1, c)
                grad_kernel[i, j] = xp.einsum("pc,pcm->cm", window, flat_grad)
        return grad_x, grad_kernel


def depthwise_conv2d(
    x: Tensor, kernel: Tensor, strides=(1, 1), padding="valid", dilation_rate=(1, 1)
) -> Tensor:
    """Depthwise convolution of ``(n, h, w, c)`` inputs with a ``(kh, kw, c, multiplier)`` kernel:
    ``(n, out_h, out_w, c * multiplier)``. ``padding``: ``"valid"``, ``"same"`` or pairs."""
    if x.ndim != 4 or kernel.ndim != 4 or x.shape[3] != kernel.shape[2]:
        raise ValueError(
            f"depthwise_conv2d: expected inputs (n, h, w, c) and a kernel (kh, kw, c, "
            f"multiplier), got {tuple(x.shape)} and {tuple(kernel.shape)}."
        )
    strides = as_tuple(strides, 2, "strides")
    dilation = as_tuple(dilation_rate, 2, "dilation_rate")
    window = kernel.shape[:2]
    pads = resolve_padding(x.shape[1:3], window, strides, dilation, padding)
    out_hw = tuple(
        output_size(size, k, s, d, p)
        for size, k, s, d, p in zip(x.shape[1:3], window, strides, dilation, pads)
    )
    if min(out_hw) <= 0:
        raise ValueError(
            f"depthwise_conv2d: a {window[0]}x{window[1]} window (dilation {dilation}) does not "
            f"fit an input of spatial size {tuple(x.shape[1:3])} with padding {padding!r}."
        )
    return apply(DepthwiseConv2D(window, strides, pads, dilation, out_hw), x, kernel)


def depthwise_conv1d(
    x: Tensor, kernel: Tensor, strides=1, padding="valid", dilation_rate=1
) -> Tensor:
    """Depthwise convolution of ``(n, steps, c)`` inputs with a ``(k, c, multiplier)`` kernel,
    run as a 2-D one of height 1."""
    n, steps, channels = x.shape
    (stride,) = as_tuple(strides, 1, "strides")
    (dilation,) = as_tuple(dilation_rate, 1, "dilation_rate")
    y = depthwise_conv2d(
        x.reshape(n, 1, steps, channels),
        kernel.reshape(1, *kernel.shape),
        (1, stride),
        padding,
        (1, dilation),
    )
    return y.reshape(n, y.shape[2], y.shape[3])
