"""3-D convolution ops (channels-last) on the backends' 2-D convolution kernels.

A 3-D convolution is a 2-D one over height and width once the ``kd`` depth
slices each output depth reads are stacked into the channels: the input
``(n, d, h, w, c)`` becomes ``(n * out_d, h, w, kd * c)`` and the kernel
``(kd, kh, kw, c, f)`` becomes ``(kh, kw, kd * c, f)``. One ``conv2d`` GEMM then
does the work, and every backend's fast convolution path serves it unchanged.
The depth stacking and its adjoint (a scatter-add) are a loop over the ``kd``
depth offsets on whole slices. The transposed convolution is the adjoint, as
in ``conv_transpose.py``: its forward is the input gradient of a convolution.

``pads`` below are explicit ``((front, back), (top, bottom), (left, right))``.
"""

from backends.kernels.conv import output_size, resolve_padding

from ..tensor import Function, Tensor, apply
from .conv_transpose import as_tuple, conv_transpose_geometry


def _depth_geometry(depth: int, window: int, stride: int, dilation: int, pads) -> int:
    size = output_size(depth, window, stride, dilation, pads)
    if size <= 0:
        raise ValueError(
            f"conv3d: a depth window of {window} (dilation {dilation}) does not fit an input "
            f"of depth {depth} with padding {tuple(pads)}."
        )
    return size


def _depth_columns(backend, x, window, stride, dilation, pads, out_depth):
    """``(n * out_d, h, w, kd * c)``: the depth slices each output depth reads, stacked."""
    xp = backend.xp
    n, _, h, w, c = x.shape
    front, back = pads
    if front or back:
        x = xp.pad(x, ((0, 0), (front, back), (0, 0), (0, 0), (0, 0)))
    columns = xp.empty((n, out_depth, h, w, window, c), dtype=x.dtype)
    span = stride * (out_depth - 1) + 1
    for i in range(window):
        start = i * dilation
        columns[:, :, :, :, i, :] = x[:, start : start + span : stride]
    return columns.reshape(n * out_depth, h, w, window * c)


def _depth_columns_adjoint(backend, columns, x_shape, window, stride, dilation, pads, out_depth):
    """The adjoint of ``_depth_columns``: each stacked slice added back where it came from."""
    xp = backend.xp
    n, depth, h, w, c = x_shape
    front, back = pads
    columns = columns.reshape(n, out_depth, h, w, window, c)
    dx = xp.zeros((n, depth + front + back, h, w, c), dtype=columns.dtype)
    span = stride * (out_depth - 1) + 1
    for i in range(window):
        start = i * dilation
        dx[:, start : start + span : stride] += columns[:, :, :, :, i, :]
    return dx[:, front : front + depth]


def _planar_kernel(kernel):
    """``(kd, kh, kw, c, f)`` as the ``(kh, kw, kd * c, f)`` kernel of the stacked input."""
    kd, kh, kw, c, f = kernel.shape
    return kernel.transpose(1, 2, 0, 3, 4).reshape(kh, kw, kd * c, f)


def conv3d_forward(backend, x, kernel, bias, strides, pads, dilation):
    """Cross-correlation of ``x`` ``(n, d, h, w, c)`` with ``kernel`` ``(kd, kh, kw, c, f)``."""
    n = x.shape[0]
    kd = kernel.shape[0]
    out_depth = _depth_geometry(x.shape[1], kd, strides[0], dilation[0], pads[0])
    columns = _depth_columns(backend, x, kd, strides[0], dilation[0], pads[0], out_depth)
    y = backend.conv2d_forward(
        columns, _planar_kernel(kernel), bias, strides[1:], pads[1:], dilation[1:]
    )
    return y.reshape(n, out_depth, *y.shape[1:])


def conv3d_backward_input(backend, dy, kernel, x_shape, strides, pads, dilation):
    """Gradient of ``conv3d_forward`` w.r.t. its input of shape ``x_shape``."""
    n, depth, h, w, c = x_shape
    kd = kernel.shape[0]
    out_depth = dy.shape[1]
    planar = dy.reshape(n * out_depth, *dy.shape[2:])
    columns = backend.conv2d_backward_input(
        planar,
        _planar_kernel(kernel),
        (n * out_depth, h, w, kd * c),
        strides[1:],
        pads[1:],
        dilation[1:],
    )
    return _depth_columns_adjoint(
        backend, columns, x_shape, kd, strides[0], dilation[0], pads[0], out_depth
    )


def conv3d_backward_weight(backend, dy, x, kernel_shape, strides, pads, dilation):
    """Gradient of ``conv3d_forward`` w.r.t. its kernel of shape ``kernel_shape``."""
    kd, kh, kw, c, f = kernel_shape
    out_depth = dy.shape[1]
    columns = _depth_columns(backend, x, kd, strides[0], dilation[0], pads[0], out_depth)
    planar = dy.reshape(-1, *dy.shape[2:])
    grad = backend.conv2d_backward_weight(
        planar, columns, (kh, kw, kd * c, f), strides[1:], pads[1:], dilation[1:]
    )
    return grad.reshape(kh, kw, kd, c, f).transpose(2, 0, 1, 3, 4)


class Conv3D(Function):
    """``conv3d(x, kernel) + bias`` on the backend's 2-D convolution kernels."""

    def __init__(self, strides, pads, dilation):
        self.geometry = (strides, pads, dilation)

    def forward(self, x, kernel, bias=None):
        need_x, need_kernel = self.needs_input_grad[:2]
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.x_shape, self.kernel_shape = x.shape, kernel.shape
        return conv3d_forward(self.backend, x, kernel, bias, *self.geometry)

    def backward(self, grad):
        needs, backend = self.needs_input_grad, self.backend
        grad_x = grad_kernel = grad_bias = None
        if needs[0]:
            grad_x = conv3d_backward_input(backend, grad, self.kernel, self.x_shape, *self.geometry)
        if needs[1]:
            grad_kernel = conv3d_backward_weight(
                backend, grad, self.x, self.kernel_shape, *self.geometry
            )
        if len(needs) > 2 and needs[2]:
            grad_bias = backend.conv2d_backward_bias(grad)
        return grad_x, grad_kernel, grad_bias


class Conv3DTranspose(Function):
    """The adjoint of ``Conv3D``: kernel ``(kd, kh, kw, filters, in)``, ``pads`` the adjoint's."""

    def __init__(self, out_shape, strides, pads, dilation):
        self.out_shape = out_shape
        self.geometry = (strides, pads, dilation)

    def forward(self, x, kernel, bias=None):
        need_x, need_kernel = self.needs_input_grad[:2]
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.kernel_shape = kernel.shape
        y_shape = (x.shape[0], *self.out_shape, kernel.shape[3])
        y = conv3d_backward_input(self.backend, x, kernel, y_shape, *self.geometry)
        if bias is not None:
            y += bias
        return y

    def backward(self, grad):
        needs, backend = self.needs_input_grad, self.backend
        grad_x = grad_kernel = grad_bias = None
        if needs[0]:
            grad_x = conv3d_forward(backend, grad, self.kernel, None, *self.geometry)
        if needs[1]:
            grad_kernel = conv3d_backward_weight(
                backend, self.x, grad, self.kernel_shape, *self.geometry
            )
        if len(needs) > 2 and needs[2]:
            grad_bias = backend.conv2d_backward_bias(grad)
        return grad_x, grad_kernel, grad_bias


def _check_shapes(name: str, x: Tensor, kernel: Tensor, channel_axis: int) -> None:
    if x.ndim != 5 or kernel.ndim != 5 or x.shape[4] != kernel.shape[channel_axis]:
        layout = "(kd, kh, kw, in, filters)" if channel_axis == 3 else "(kd, kh, kw, filters, in)"
        raise ValueError(
            f"{name}: expected inputs (n, d, h, w, in) and a kernel {layout}, got "
            f"{tuple(x.shape)} and {tuple(kernel.shape)}."
        )


def conv3d(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None = None,
    strides=(1, 1, 1),
    padding="valid",
    dilation_rate=(1, 1, 1),
) -> Tensor:
    """3-D cross-correlation of ``(n, d, h, w, c)`` inputs with a ``(kd, kh, kw, c, f)`` kernel.

    ``padding`` is ``"valid"``, ``"same"`` (TensorFlow's rule) or three
    ``(before, after)`` pairs.
    """
    _check_shapes("conv3d", x, kernel, 3)
    strides = as_tuple(strides, 3, "strides")
    dilation = as_tuple(dilation_rate, 3, "dilation_rate")
    pads = resolve_padding(x.shape[1:4], kernel.shape[:3], strides, dilation, padding)
    fn = Conv3D(strides, pads, dilation)
    return apply(fn, x, kernel) if bias is None else apply(fn, x, kernel, bias)


def conv3d_transpose(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None = None,
    strides=(1, 1, 1),
    padding: str = "valid",
    output_padding=None,
    dilation_rate=(1, 1, 1),
) -> Tensor:
    """Transposed 3-D convolution of ``(n, d, h, w, in)`` inputs with a ``(kd, kh, kw, f, in)``
    kernel; output sizes follow Keras 3, as ``conv2d_transpose``."""
    _check_shapes("conv3d_transpose", x, kernel, 4)
    strides = as_tuple(strides, 3, "strides")
    dilation = as_tuple(dilation_rate, 3, "dilation_rate")
    if output_padding is not None:
        output_padding = as_tuple(output_padding, 3, "output_padding")
    out_shape, pads = conv_transpose_geometry(
        x.shape[1:4], kernel.shape[:3], strides, padding, output_padding, dilation
    )
    fn = Conv3DTranspose(out_shape, strides, pads, dilation)
    return apply(fn, x, kernel) if bias is None else apply(fn, x, kernel, bias)
