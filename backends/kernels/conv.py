"""2-D convolution over channels-last arrays: im2col through a strided view, then one GEMM.

Arrays are ``x`` of shape ``(batch, height, width, in_channels)`` and kernels
of shape ``(kh, kw, in_channels, out_channels)``, as in Keras. ``padding`` is
``"valid"``, ``"same"`` (TensorFlow's rule: the extra row or column goes
after) or explicit ``((top, bottom), (left, right))`` pairs. The only scratch
array larger than the input is the column matrix of one GEMM.
"""

import numpy


def window_padding(size: int, window: int, stride: int, dilation: int, padding) -> tuple:
    """``(before, after)`` padding of one spatial axis for ``"valid"`` or ``"same"``."""
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        effective = (window - 1) * dilation + 1
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
        return (total // 2, total - total // 2)
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")


def resolve_padding(spatial: tuple, window: tuple, strides: tuple, dilation: tuple, padding):
    """Explicit ``((top, bottom), (left, right))`` pairs for any accepted ``padding``."""
    if isinstance(padding, str):
        return tuple(
            window_padding(size, k, s, d, padding)
            for size, k, s, d in zip(spatial, window, strides, dilation)
        )
    return tuple((int(before), int(after)) for before, after in padding)


def output_size(size: int, window: int, stride: int, dilation: int, pads: tuple) -> int:
    """Length of one output axis; zero or less when the window does not fit."""
    effective = (window - 1) * dilation + 1
    return (size + pads[0] + pads[1] - effective) // stride + 1


def transpose_output_size(
    size: int, window: int, stride: int, dilation: int, padding: str, output_padding=None
) -> int:
    """Length of one output axis of a transposed convolution, by Keras 3's rule."""
    effective = (window - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return (size - 1) * stride + effective + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + effective % 2 + output_padding


def transpose_padding(
    size: int, window: int, stride: int, dilation: int, padding: str, output_padding=None
) -> tuple:
    """``(before, after)`` padding of the convolution whose adjoint is this transposed one.

    A transposed convolution of an axis of ``size`` is ``conv2d_backward_input``
    of a convolution over an axis of ``transpose_output_size(...)`` padded by
    these: ``before`` crops the start of the full ``(size - 1) * stride +
    effective`` output (Keras's JAX rule, i.e. TensorFlow's: the odd row goes
    after), ``after`` its end; zeros are appended where the output is longer.
    """
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    effective = (window - 1) * dilation + 1
    before = 0
    if padding == "same":
        if output_padding is None:
            total = stride + effective - 2
        else:
            total = effective + effective % 2 - 2 + output_padding
        before = effective - 1 - min(total - total // 2, effective - 1)
    full = (size - 1) * stride + effective
    length = transpose_output_size(size, window, stride, dilation, padding, output_padding)
    return (before, max(full - length - before, 0))


class ConvKernels:
    xp = numpy

    #: from this many input channels on, im2col copies one strided view (measured on NumPy)
    IM2COL_VIEW_MIN_CHANNELS = 8

    def pad_spatial(self, x, pads, value=0):
        """``x`` (channels-last, 2-D spatial) padded by ``pads``; ``x`` itself when none."""
        (top, bottom), (left, right) = pads
        if not (top or bottom or left or right):
            return x
        widths = ((0, 0), (top, bottom), (left, right), (0, 0))
        return self.xp.pad(x, widths, mode="constant", constant_values=value)

    def windows(self, x, window, strides, dilation, out_shape):
        """A read-only strided view ``(n, out_h, out_w, kh, kw, c)`` of ``x``'s windows."""
        n, _, _, c = x.shape
        s_n, s_h, s_w, s_c = x.strides
        return self.xp.lib.stride_tricks.as_strided(
            x,
            shape=(n, out_shape[0], out_shape[1], window[0], window[1], c),
            strides=(
                s_n,
                s_h * strides[0],
                s_w * strides[1],
                s_h * dilation[0],
                s_w * dilation[1],
                s_c,
            ),
        )

    def _conv_geometry(self, x_shape, window, strides, padding, dilation):
        pads = resolve_padding(x_shape[1:3], window, strides, dilation, padding)
        out_h = output_size(x_shape[1], window[0], strides[0], dilation[0], pads[0])
        out_w = output_size(x_shape[2], window[1], strides[1], dilation[1], pads[1])
        if out_h <= 0 or out_w <= 0:
            raise ValueError(
                f"conv2d: a {window[0]}x{window[1]} window (dilation {dilation}) does not fit "
                f"an input of spatial size {tuple(x_shape[1:3])} with padding {pads}."
            )
        return pads, (out_h, out_w)

    def _im2col(self, x, window, strides, padding, dilation):
        """The ``(n * out_h * out_w, kh * kw * c)`` column matrix of ``x``'s windows.

        With few channels, ``kh * kw`` slice copies beat copying the 6-D strided
        view (its innermost run is only ``c`` long); with many, the view wins.
        """
        xp = self.xp
        pads, (out_h, out_w) = self._conv_geometry(x.shape, window, strides, padding, dilation)
        x = self.pad_spatial(x, pads)
        n, c = x.shape[0], x.shape[3]
        rows = n * out_h * out_w
        if c >= self.IM2COL_VIEW_MIN_CHANNELS:
            view = self.windows(xp.ascontiguousarray(x), window, strides, dilation, (out_h, out_w))
            return view.reshape(rows, window[0] * window[1] * c), (out_h, out_w)
        cols = xp.empty((n, out_h, out_w, window[0], window[1], c), dtype=x.dtype)
        for i in range(window[0]):
            top = i * dilation[0]
            for j in range(window[1]):
                left = j * dilation[1]
                cols[:, :, :, i, j, :] = x[
                    :,
                    top : top + strides[0] * out_h : strides[0],
                    left : left + strides[1] * out_w : strides[1],
                    :,
                ]
        return cols.reshape(rows, window[0] * window[1] * c), (out_h, out_w)

    def conv2d_forward(
        self,
        x,
        kernel,
        bias=None,
        strides=(1, 1),
        padding="valid",
        dilation=(1, 1),
        activation=None,
    ):
        """Cross-correlation of ``x`` with ``kernel`` (as Keras's Conv2D), plus ``bias``, then
        ``activation`` (a name that ``bias_activation_forward`` takes, or None)."""
        kh, kw, c, f = kernel.shape
        cols, (out_h, out_w) = self._im2col(x, (kh, kw), strides, padding, dilation)
        y = self.xp.matmul(cols, kernel.reshape(kh * kw * c, f))
        y = y.reshape(x.shape[0], out_h, out_w, f)
        return self.bias_activation_forward(y, bias, activation)

    def conv2d_backward(
        self,
        dy,
        x,
        kernel,
        shapes,
        needs,
        strides=(1, 1),
        padding="valid",
        dilation=(1, 1),
        relu_output=None,
    ):
        """``(dx, dkernel, dbias)`` of ``conv2d_forward``, each None unless ``needs`` asks for it.

        ``dy`` is the gradient of the output; with ``relu_output`` (the output of a fused
        relu) it is first taken back through the relu. ``shapes`` is ``(x.shape,
        kernel.shape)``: ``x`` may be None when the kernel gradient is not needed,
        ``kernel`` when the input gradient is not. ``needs`` is ``(x, kernel, bias)``.
        """
        if relu_output is not None:
            dy = self.relu_backward(dy, relu_output, relu_output)
        (x_shape, kernel_shape), geometry = shapes, (strides, padding, dilation)
        dx = self.conv2d_backward_input(dy, kernel, x_shape, *geometry) if needs[0] else None
        dkernel = self.conv2d_backward_weight(dy, x, kernel_shape, *geometry) if needs[1] else None
        dbias = self.conv2d_backward_bias(dy) if needs[2] else None
        return dx, dkernel, dbias

    def conv2d_backward_input(
        self, dy, kernel, x_shape, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        """Gradient w.r.t. ``x``: one GEMM to columns, then a scatter-add per kernel offset."""
        xp = self.xp
        kh, kw, c, f = kernel.shape
        n, h, w, _ = x_shape
        pads, (out_h, out_w) = self._conv_geometry(x_shape, (kh, kw), strides, padding, dilation)
        dcols = xp.matmul(dy.reshape(-1, f), kernel.reshape(kh * kw * c, f).T)
        dcols = dcols.reshape(n, out_h, out_w, kh, kw, c)
        (top, bottom), (left, right) = pads
        dx = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=dy.dtype)
        sh, sw = strides
        dh, dw = dilation
        # a loop over kernel offsets (kh * kw of them), not over pixels
        for i in range(kh):
            row = i * dh
            for j in range(kw):
                col = j * dw
                dx[:, row : row + sh * out_h : sh, col : col + sw * out_w : sw, :] += dcols[
                    :, :, :, i, j, :
                ]
        return dx[:, top : top + h, left : left + w, :]

    def conv2d_backward_weight(
        self, dy, x, kernel_shape, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        """Gradient w.r.t. the kernel; the columns are rebuilt from ``x`` rather than kept."""
        kh, kw, c, f = kernel_shape
        cols, _ = self._im2col(x, (kh, kw), strides, padding, dilation)
        return self.xp.matmul(cols.T, dy.reshape(-1, f)).reshape(kernel_shape)

    def bias_activation_forward(self, y, bias=None, activation=None):
        """``activation(y + bias)`` for a fresh convolution output ``y``, which it may overwrite.

        ``activation`` names a kernel pair (``"relu"``) or is None for none. The
        caller hands ``y`` over: backends may add and activate in place, in one pass.
        """
        if bias is not None:
            y += bias
        if activation is None:
            return y
        return getattr(self, activation + "_forward")(y)

    def conv2d_backward_bias(self, dy):
        """Sum of ``dy`` over all but its last (channel) axis, as one matrix-vector product."""
        flat = dy.reshape(-1, dy.shape[-1])
        return self.xp.matmul(self.xp.ones(flat.shape[0], dtype=dy.dtype), flat)
