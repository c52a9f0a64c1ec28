"""Depthwise convolution (channels-last): each input channel convolved with its own filters.

The op checks shapes and resolves padding; the backend's ``depthwise_conv2d_forward``
and ``depthwise_conv2d_backward`` (``backends/kernels/depthwise.py``) do the work.
"""

from backends.kernels.conv import output_size, resolve_padding

from ..tensor import Function, Tensor, apply
from .conv_transpose import as_tuple


class DepthwiseConv2D(Function):
    def __init__(self, window, strides, pads, dilation, out_hw):
        self.window, self.strides, self.pads = window, strides, pads
        self.dilation, self.out_hw = dilation, out_hw

    def forward(self, x, kernel):
        need_x, need_kernel = self.needs_input_grad
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.x_shape = x.shape
        return self.backend.depthwise_conv2d_forward(
            x, kernel, self.strides, self.pads, self.dilation, self.out_hw
        )

    def backward(self, grad):
        return self.backend.depthwise_conv2d_backward(
            grad,
            self.x,
            self.kernel,
            self.x_shape,
            self.window,
            self.strides,
            self.pads,
            self.dilation,
            self.needs_input_grad,
        )


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
