"""Convolution ops (channels-last) and the zero padding that goes with them."""

from ..tensor import Function, Tensor, apply

#: activations ``conv2d`` can apply inside its op: their derivative needs only the output
FUSED_ACTIVATIONS = ("relu",)


class Conv2D(Function):
    """``activation(conv2d(x, kernel) + bias)`` through the backend's im2col kernels.

    With an activation, the bias and the activation are applied by one backend
    kernel on the convolution's fresh output (in place where the backend can),
    and the op keeps that output for the activation's derivative.
    """

    def __init__(self, strides, padding, dilation, activation=None):
        self.strides, self.padding, self.dilation = strides, padding, dilation
        self.activation = activation

    def forward(self, x, kernel, bias=None):
        need_x, need_kernel = self.needs_input_grad[:2]
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.x_shape, self.kernel_shape = x.shape, kernel.shape
        geometry = (self.strides, self.padding, self.dilation)
        if self.activation is None:
            return self.backend.conv2d_forward(x, kernel, bias, *geometry)
        y = self.backend.conv2d_forward(x, kernel, None, *geometry)
        self.y = self.backend.bias_activation_forward(y, bias, self.activation)
        return self.y

    def backward(self, grad):
        needs = self.needs_input_grad
        backend = self.backend
        geometry = (self.strides, self.padding, self.dilation)
        if self.activation is not None:
            # the input of the activation is gone; these derivatives read only its output
            grad = getattr(backend, self.activation + "_backward")(grad, self.y, self.y)
        grad_x = grad_kernel = grad_bias = None
        if needs[0]:
            grad_x = backend.conv2d_backward_input(grad, self.kernel, self.x_shape, *geometry)
        if needs[1]:
            grad_kernel = backend.conv2d_backward_weight(grad, self.x, self.kernel_shape, *geometry)
        if len(needs) > 2 and needs[2]:
            grad_bias = backend.conv2d_backward_bias(grad)
        return grad_x, grad_kernel, grad_bias


class ZeroPad2D(Function):
    def __init__(self, pads):
        self.pads = pads

    def forward(self, x):
        return self.backend.pad_spatial(x, self.pads)

    def backward(self, grad):
        (top, bottom), (left, right) = self.pads
        return (grad[:, top : grad.shape[1] - bottom, left : grad.shape[2] - right, :],)


def as_pair(value, name: str) -> tuple:
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}.")
    return value


def conv2d(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None = None,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
    activation: str | None = None,
) -> Tensor:
    """2-D cross-correlation of ``(n, h, w, c)`` inputs with a ``(kh, kw, c, f)`` kernel.

    ``padding`` is ``"valid"``, ``"same"`` or ``((top, bottom), (left, right))``.
    ``activation`` (one of ``FUSED_ACTIVATIONS``) is applied inside the op.
    """
    if activation is not None and activation not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"conv2d: activation must be None or one of {FUSED_ACTIVATIONS}, got {activation!r}."
        )
    fn = Conv2D(
        as_pair(strides, "strides"),
        padding,
        as_pair(dilation_rate, "dilation_rate"),
        activation,
    )
    if bias is None:
        return apply(fn, x, kernel)
    return apply(fn, x, kernel, bias)


def conv1d(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None = None,
    strides: int = 1,
    padding="valid",
    dilation_rate: int = 1,
    activation: str | None = None,
) -> Tensor:
    """1-D convolution of ``(n, steps, c)`` inputs with a ``(k, c, f)`` kernel.

    ``padding`` may also be ``"causal"`` (all the padding before the sequence)
    or a ``(before, after)`` pair; ``activation`` is as in ``conv2d``.
    """
    n, steps, channels = x.shape
    if padding == "causal":
        padding = ((0, 0), (dilation_rate * (kernel.shape[0] - 1), 0))
    elif not isinstance(padding, str):
        padding = ((0, 0), tuple(padding))
    y = conv2d(
        x.reshape(n, 1, steps, channels),
        kernel.reshape(1, *kernel.shape),
        bias,
        (1, strides),
        padding,
        (1, dilation_rate),
        activation,
    )
    return y.reshape(n, y.shape[2], y.shape[3])


def zero_pad2d(x: Tensor, padding) -> Tensor:
    """Pad the height and width axes with zeros by ``((top, bottom), (left, right))``."""
    pads = tuple((int(a), int(b)) for a, b in padding)
    return apply(ZeroPad2D(pads), x)
