"""Convolution ops (channels-last) and the zero padding that goes with them.

For ``create_graph=True`` a convolution's input gradient is a transposed
convolution and its kernel gradient the op ``Conv2DBackwardWeight``; each of
those is differentiable again through the others, so gradients of any order
run on the same backend kernels.
"""

from ..tensor import Function, Tensor, apply
from ._util import as_tensor
from .reduction import sum as sum_over
from .shape import GetItem

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
        y = self.backend.conv2d_forward(x, kernel, bias, *geometry, activation=self.activation)
        if self.activation is not None:
            self.y = y  # the input of the activation is gone; its derivative reads y
        return y

    def backward(self, grad):
        needs = self.needs_input_grad
        backend = self.backend
        relu_output = None
        if self.activation == "relu":
            relu_output = self.y  # taken back through the relu by the backend, maybe fused
        elif self.activation is not None:
            grad = getattr(backend, self.activation + "_backward")(grad, self.y, self.y)
        needs = (needs[0], needs[1], len(needs) > 2 and needs[2])
        return backend.conv2d_backward(
            grad,
            self.x,
            self.kernel,
            (self.x_shape, self.kernel_shape),
            needs,
            self.strides,
            self.padding,
            self.dilation,
            relu_output=relu_output,
        )

    def backward_graph(self, grad):
        from .conv_transpose import Conv2DTranspose  # that module imports this one

        geometry = (self.strides, self.padding, self.dilation)
        input_gradient = Conv2DTranspose(self.x_shape[1:3], *geometry)
        return convolution_backward_graph(self, grad, input_gradient, geometry, transposed=False)


def convolution_backward_graph(fn, grad: Tensor, input_gradient, geometry, transposed: bool):
    """``backward_graph`` of ``Conv2D`` and ``Conv2DTranspose``, whose gradients mirror each other.

    ``input_gradient`` is the op that takes ``grad`` back to the input (a
    transposed convolution for a convolution and the other way round); the
    kernel gradient is ``Conv2DBackwardWeight`` of ``(grad, x)``, or of
    ``(x, grad)`` for a transposed convolution. An activation fused into the op
    is undone first: only its output was kept, which suffices for relu, whose
    derivative is a constant mask of it; others return ``NotImplemented``.
    """
    if fn.activation is not None:
        if fn.activation != "relu":
            return NotImplemented
        grad = grad * as_tensor(fn.y > 0, grad)
    needs = fn.needs_input_grad
    x, kernel = fn.inputs[:2]
    grad_x = grad_kernel = grad_bias = None
    if needs[0]:
        grad_x = apply(input_gradient, grad, kernel)
    if needs[1]:
        operands = (x, grad) if transposed else (grad, x)
        grad_kernel = apply(Conv2DBackwardWeight(fn.kernel_shape, *geometry), *operands)
    if len(needs) > 2 and needs[2]:
        grad_bias = sum_over(grad, (0, 1, 2))
    return grad_x, grad_kernel, grad_bias


class Conv2DBackwardWeight(Function):
    """A convolution's kernel gradient as an op of ``(dy, x)``, for higher-order gradients.

    It is linear in each input: its gradient for ``dy`` is the convolution of
    ``x`` with the incoming kernel-shaped gradient, and for ``x`` the transposed
    convolution of ``dy`` with it.
    """

    def __init__(self, kernel_shape, strides, padding, dilation):
        self.kernel_shape = kernel_shape
        self.strides, self.padding, self.dilation = strides, padding, dilation

    def forward(self, dy, x):
        need_dy, need_x = self.needs_input_grad
        self.dy = dy if need_x else None
        self.x = x if need_dy else None
        self.x_shape = x.shape
        geometry = (self.strides, self.padding, self.dilation)
        return self.backend.conv2d_backward_weight(dy, x, self.kernel_shape, *geometry)

    def backward(self, grad):
        need_dy, need_x = self.needs_input_grad
        backend = self.backend
        geometry = (self.strides, self.padding, self.dilation)
        return (
            backend.conv2d_forward(self.x, grad, None, *geometry) if need_dy else None,
            backend.conv2d_backward_input(self.dy, grad, self.x_shape, *geometry)
            if need_x
            else None,
        )

    def backward_graph(self, grad):
        from .conv_transpose import Conv2DTranspose  # that module imports this one

        need_dy, need_x = self.needs_input_grad
        dy, x = self.inputs
        geometry = (self.strides, self.padding, self.dilation)
        return (
            apply(Conv2D(*geometry), x, grad) if need_dy else None,
            apply(Conv2DTranspose(self.x_shape[1:3], *geometry), dy, grad) if need_x else None,
        )


class ZeroPad2D(Function):
    def __init__(self, pads):
        self.pads = pads

    def forward(self, x):
        return self.backend.pad_spatial(x, self.pads)

    def backward(self, grad):
        return (grad[self._inner(grad.shape)],)

    def backward_graph(self, grad):
        return (apply(GetItem(self._inner(grad.shape)), grad),)

    def _inner(self, padded_shape) -> tuple:
        """The index of the unpadded part of a padded array."""
        (top, bottom), (left, right) = self.pads
        rows = slice(top, padded_shape[1] - bottom)
        return (slice(None), rows, slice(left, padded_shape[2] - right), slice(None))


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


class Conv2DReluMaxPool(Function):
    """``max_pool2d(conv2d(x, kernel, bias, activation="relu"))`` with 2x2 windows of
    stride 2, as one op: the backend keeps the pooled output and, for each pooled element,
    the offset whose gradient counts (``conv2d_relu_max_pool_forward``), never the
    convolution's output.

    Max pooling has no ``backward_graph``, so the two ops it stands for give no second
    derivative either."""

    def __init__(self, strides, padding, dilation):
        self.strides, self.padding, self.dilation = strides, padding, dilation

    def forward(self, x, kernel, bias=None):
        need_x, need_kernel = self.needs_input_grad[:2]
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.shapes = (x.shape, kernel.shape)
        geometry = (self.strides, self.padding, self.dilation)
        y, self.index = self.backend.conv2d_relu_max_pool_forward(x, kernel, bias, *geometry)
        return y

    def backward(self, grad):
        needs = self.needs_input_grad
        return self.backend.conv2d_relu_max_pool_backward(
            grad,
            self.index,
            self.x,
            self.kernel,
            self.shapes,
            (needs[0], needs[1], len(needs) > 2 and needs[2]),
            self.strides,
            self.padding,
            self.dilation,
        )


def conv2d_relu_max_pool(
    x: Tensor, kernel: Tensor, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1)
) -> Tensor | None:
    """``max_pool2d(conv2d(x, kernel, bias, ..., activation="relu"), 2)`` as one op where the
    backend has a fused kernel for these arguments; None otherwise (the caller runs the
    two ops)."""
    strides, dilation = as_pair(strides, "strides"), as_pair(dilation_rate, "dilation_rate")
    arrays = (x.data, kernel.data, None if bias is None else bias.data)
    if not x.backend.fuses_conv2d_relu_max_pool(*arrays, strides, padding, dilation):
        return None
    fn = Conv2DReluMaxPool(strides, padding, dilation)
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
