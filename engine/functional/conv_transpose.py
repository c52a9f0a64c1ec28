"""Transposed convolution ops (channels-last): the adjoint of ``conv2d``, on its kernels.

A transposed convolution of ``x`` is the input gradient of the convolution
that maps its output back to ``x``'s shape. So its forward is
``conv2d_backward_input``, its input gradient ``conv2d_forward`` and its kernel
gradient ``conv2d_backward_weight`` with ``x`` and the output gradient in
swapped roles: every backend's fast convolution path serves it unchanged.
The kernel is Keras's ``(kh, kw, filters, in_channels)``, which is the
convolution kernel ``(kh, kw, in, out)`` of that adjoint convolution as is.
"""

from backends.kernels.conv import transpose_output_size, transpose_padding

from ..tensor import Function, Tensor, apply
from .conv import FUSED_ACTIVATIONS, Conv2D, convolution_backward_graph


class Conv2DTranspose(Function):
    """``activation(conv2d_transpose(x, kernel) + bias)``; ``pads`` are the adjoint conv's."""

    def __init__(self, out_hw, strides, pads, dilation, activation=None):
        self.out_hw, self.strides, self.pads, self.dilation = out_hw, strides, pads, dilation
        self.activation = activation

    def forward(self, x, kernel, bias=None):
        need_x, need_kernel = self.needs_input_grad[:2]
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.kernel_shape = kernel.shape
        y_shape = (x.shape[0], *self.out_hw, kernel.shape[2])
        y = self.backend.conv2d_backward_input(
            x, kernel, y_shape, self.strides, self.pads, self.dilation
        )
        if bias is None and self.activation is None:
            return y
        y = self.backend.bias_activation_forward(y, bias, self.activation)
        self.y = y if self.activation is not None else None
        return y

    def backward(self, grad):
        needs = self.needs_input_grad
        backend = self.backend
        geometry = (self.strides, self.pads, self.dilation)
        if self.activation is not None:
            # the input of the activation is gone; these derivatives read only its output
            grad = getattr(backend, self.activation + "_backward")(grad, self.y, self.y)
        grad_x = grad_kernel = grad_bias = None
        if needs[0]:
            grad_x = backend.conv2d_forward(grad, self.kernel, None, *geometry)
        if needs[1]:
            grad_kernel = backend.conv2d_backward_weight(self.x, grad, self.kernel_shape, *geometry)
        if len(needs) > 2 and needs[2]:
            grad_bias = backend.conv2d_backward_bias(grad)
        return grad_x, grad_kernel, grad_bias

    def backward_graph(self, grad):
        geometry = (self.strides, self.pads, self.dilation)
        return convolution_backward_graph(self, grad, Conv2D(*geometry), geometry, transposed=True)


def conv_transpose_geometry(spatial, window, strides, padding, output_padding, dilation):
    """``(output sizes, adjoint convolution pads)`` for the spatial axes ``spatial``.

    ``output_padding`` is None or one int per axis, each less than its stride.
    """
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    if output_padding is None:
        output_padding = (None,) * len(spatial)
    for extra, stride in zip(output_padding, strides):
        if extra is not None and not 0 <= extra < stride:
            raise ValueError(
                f"output_padding must be at least 0 and less than the strides, got "
                f"output_padding={tuple(output_padding)} with strides={tuple(strides)}."
            )
    axes = tuple(zip(spatial, window, strides, dilation, output_padding))
    sizes = tuple(transpose_output_size(n, k, s, d, padding, op) for n, k, s, d, op in axes)
    pads = tuple(transpose_padding(n, k, s, d, padding, op) for n, k, s, d, op in axes)
    return sizes, pads


def conv2d_transpose(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None = None,
    strides=(1, 1),
    padding: str = "valid",
    output_padding=None,
    dilation_rate=(1, 1),
    activation: str | None = None,
) -> Tensor:
    """Transposed 2-D convolution of ``(n, h, w, in)`` inputs with a ``(kh, kw, f, in)`` kernel.

    Output sizes follow Keras 3 (``padding`` ``"valid"`` or ``"same"``, with
    ``output_padding`` None or an int or pair, less than ``strides``);
    ``activation`` is one of ``FUSED_ACTIVATIONS`` or None, applied in the op.
    """
    if activation is not None and activation not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"conv2d_transpose: activation must be None or one of {FUSED_ACTIVATIONS}, "
            f"got {activation!r}."
        )
    if x.ndim != 4 or kernel.ndim != 4 or x.shape[3] != kernel.shape[3]:
        raise ValueError(
            f"conv2d_transpose: expected inputs (n, h, w, in) and a kernel (kh, kw, filters, "
            f"in), got {tuple(x.shape)} and {tuple(kernel.shape)}."
        )
    strides = as_tuple(strides, 2, "strides")
    dilation = as_tuple(dilation_rate, 2, "dilation_rate")
    if output_padding is not None:
        output_padding = as_tuple(output_padding, 2, "output_padding")
    out_hw, pads = conv_transpose_geometry(
        x.shape[1:3], kernel.shape[:2], strides, padding, output_padding, dilation
    )
    fn = Conv2DTranspose(out_hw, strides, pads, dilation, activation)
    if bias is None:
        return apply(fn, x, kernel)
    return apply(fn, x, kernel, bias)


def conv_transpose(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None = None,
    strides=1,
    padding: str = "valid",
    output_padding=None,
    dilation_rate=1,
    activation: str | None = None,
) -> Tensor:
    """Transposed 1-D or 2-D convolution, by the rank of ``x``, as in ``keras.ops``.

    1-D: ``(n, steps, in)`` inputs and a ``(k, filters, in)`` kernel, run as a
    2-D one of height 1; the arguments are ints or 1-tuples. 2-D: as
    ``conv2d_transpose``.
    """
    if x.ndim != 3:
        return conv2d_transpose(
            x, kernel, bias, strides, padding, output_padding, dilation_rate, activation
        )
    n, steps, channels = x.shape
    if output_padding is not None:
        output_padding = (0, *as_tuple(output_padding, 1, "output_padding"))
    y = conv2d_transpose(
        x.reshape(n, 1, steps, channels),
        kernel.reshape(1, *kernel.shape),
        bias,
        (1, *as_tuple(strides, 1, "strides")),
        padding,
        output_padding,
        (1, *as_tuple(dilation_rate, 1, "dilation_rate")),
        activation,
    )
    return y.reshape(n, y.shape[2], y.shape[3])


def as_tuple(value, rank: int, name: str) -> tuple:
    """``value`` (an int or ``rank`` ints) as a tuple of ``rank`` ints."""
    value = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(value) != rank:
        raise ValueError(f"{name} must be an int or {rank} ints, got {value!r}.")
    return value
