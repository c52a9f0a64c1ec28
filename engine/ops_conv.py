"""Convolutions, pooling and normalizations of ``engine.ops`` (re-exported there): ``conv``,
``max_pool``, ``batch_normalization``, ...

Keras 3's functional forms of the layers, on the same differentiable ops the layers
use: inputs ``(batch, *spatial, channels)`` (``data_format="channels_last"``, the
default) or ``(batch, channels, *spatial)``, one to three spatial axes; kernels in
Keras's layouts (``(*window, in, out)``; ``(*window, out, in)`` for
``conv_transpose``; ``(*window, in, multiplier)`` for ``depthwise_conv``).
"""

import math

import numpy

from . import config
from . import functional as F
from .conversion import as_float, check_data_format, normalize_axis, promote
from .functional import conv3d as _conv3d
from .functional import pooling3d as _pooling3d
from .functional.conv_transpose import conv_transpose as _conv_transpose
from .functional.depthwise import depthwise_conv1d, depthwise_conv2d
from .ops_reduction import moments
from .tensor import Tensor


def _padding(function: str, padding) -> str:
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in ("valid", "same"):
        raise ValueError(f"{function}: padding must be 'valid' or 'same', got {padding!r}.")
    return padding


def _channels_last(function: str, x: Tensor, data_format, ranks=(1, 2, 3)) -> tuple:
    """``x`` as ``(batch, *spatial, channels)`` and a function that puts a result back in
    the caller's ``data_format``."""
    data_format = check_data_format(function, data_format)
    if x.ndim - 2 not in ranks:
        spatial = " or ".join(str(r) for r in ranks)
        raise ValueError(
            f"{function}: inputs must have {spatial} spatial axes between the batch and the "
            f"channels, got shape {x.shape}."
        )
    if data_format == "channels_last":
        return x, lambda y: y
    last = (0, *range(2, x.ndim), 1)
    first = (0, x.ndim - 1, *range(1, x.ndim - 1))
    return F.transpose(x, last), lambda y: F.transpose(y, first)


def _check_kernel(function: str, x: Tensor, kernel: Tensor, in_axis: int, layout: str) -> None:
    if kernel.ndim != x.ndim or kernel.shape[in_axis] != x.shape[-1]:
        raise ValueError(
            f"{function}: a kernel {layout} for inputs with {x.ndim - 2} spatial axes and "
            f"{x.shape[-1]} channels; got a kernel of shape {kernel.shape}."
        )


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1) -> Tensor:
    """N-D convolution (cross-correlation, as Keras) with a ``(*window, in, out)`` kernel."""
    x, kernel = promote("conv", {"inputs": inputs, "kernel": kernel}, floating=True)
    x, restore = _channels_last("conv", x, data_format)
    _check_kernel("conv", x, kernel, -2, "(*window, in_channels, out_channels)")
    padding = _padding("conv", padding)
    rank = x.ndim - 2
    if rank == 1:
        y = F.conv1d(x, kernel, None, _one(strides), padding, _one(dilation_rate))
    elif rank == 2:
        y = F.conv2d(x, kernel, None, strides, padding, dilation_rate)
    else:
        y = _conv3d.conv3d(x, kernel, None, strides, padding, dilation_rate)
    return restore(y)


def _one(value) -> int:
    """An int from an int or a 1-tuple (1-D arguments)."""
    return value if isinstance(value, int) else int(tuple(value)[0])


def conv_transpose(
    inputs,
    kernel,
    strides=1,
    padding="valid",
    output_padding=None,
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """Transposed N-D convolution with a ``(*window, out, in)`` kernel; output sizes as Keras."""
    x, kernel = promote("conv_transpose", {"inputs": inputs, "kernel": kernel}, floating=True)
    x, restore = _channels_last("conv_transpose", x, data_format)
    _check_kernel("conv_transpose", x, kernel, -1, "(*window, out_channels, in_channels)")
    padding = _padding("conv_transpose", padding)
    if x.ndim == 5:
        y = _conv3d.conv3d_transpose(
            x, kernel, None, strides, padding, output_padding, dilation_rate
        )
    else:
        y = _conv_transpose(x, kernel, None, strides, padding, output_padding, dilation_rate)
    return restore(y)


def depthwise_conv(
    inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1
) -> Tensor:
    """Each channel convolved with its own ``multiplier`` filters: a ``(*window, in,
    multiplier)`` kernel, ``in * multiplier`` output channels (1-D or 2-D)."""
    x, kernel = promote("depthwise_conv", {"inputs": inputs, "kernel": kernel}, floating=True)
    x, restore = _channels_last("depthwise_conv", x, data_format, ranks=(1, 2))
    _check_kernel("depthwise_conv", x, kernel, -2, "(*window, in_channels, multiplier)")
    padding = _padding("depthwise_conv", padding)
    depthwise = depthwise_conv1d if x.ndim == 3 else depthwise_conv2d
    return restore(depthwise(x, kernel, strides, padding, dilation_rate))


def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """``depthwise_conv`` then a 1x1 ``conv`` with ``pointwise_kernel``."""
    depthwise = depthwise_conv(
        inputs, depthwise_kernel, strides, padding, data_format, dilation_rate
    )
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format)


def _pool(function: str, kind: str, inputs, pool_size, strides, padding, data_format) -> Tensor:
    x = as_float(function, inputs)
    x, restore = _channels_last(function, x, data_format)
    padding = _padding(function, padding)
    rank = x.ndim - 2
    if rank == 1:
        pool = F.max_pool1d if kind == "max" else F.avg_pool1d
        y = pool(x, _one(pool_size), None if strides is None else _one(strides), padding)
    elif rank == 2:
        pool = F.max_pool2d if kind == "max" else F.avg_pool2d
        y = pool(x, pool_size, strides, padding)
    else:
        pool = _pooling3d.max_pool3d if kind == "max" else _pooling3d.avg_pool3d
        y = pool(x, pool_size, strides, padding)
    return restore(y)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Window maxima; ``strides`` defaults to ``pool_size``."""
    return _pool("max_pool", "max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Window means (padded positions not counted, as Keras); ``strides`` defaults to
    ``pool_size``."""
    return _pool("average_pool", "average", inputs, pool_size, strides, padding, data_format)


def _adaptive(function: str, mode: str, inputs, output_size, data_format) -> Tensor:
    x, restore = _channels_last(function, as_float(function, inputs), data_format)
    return restore(_pooling3d.adaptive_pool(x, output_size, mode))


def adaptive_average_pool(inputs, output_size, data_format=None) -> Tensor:
    """Means over ``output_size`` bins per spatial axis (PyTorch's and Keras's bins)."""
    return _adaptive("adaptive_average_pool", "average", inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None) -> Tensor:
    """Maxima over ``output_size`` bins per spatial axis."""
    return _adaptive("adaptive_max_pool", "max", inputs, output_size, data_format)


# -- normalizations --------------------------------------------------------------------


def _along(value, axis: int, ndim: int, like: Tensor):
    """A 1-D ``value`` shaped to broadcast along ``axis`` of a rank-``ndim`` tensor."""
    if value is None:
        return None
    (value,) = promote("batch_normalization", {"value": value}, dtype=like.dtype)
    shape = [1] * ndim
    shape[axis] = -1
    return F.reshape(value, shape)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3) -> Tensor:
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset`` with 1-D statistics along
    ``axis``, in Keras's order of operations (``x * inv + (offset - mean * inv)``)."""
    x = as_float("batch_normalization", x)
    (axis,) = normalize_axis("batch_normalization", axis, x.ndim)
    mean, variance = (_along(v, axis, x.ndim, x) for v in (mean, variance))
    inv = F.power(variance + float(epsilon), -0.5)
    if scale is not None:
        inv = inv * _along(scale, axis, x.ndim, x)
    shift = F.negative(mean) * inv
    if offset is not None:
        shift = shift + _along(offset, axis, x.ndim, x)
    return x * inv + shift


def _epsilon(epsilon) -> float:
    return config.epsilon() if epsilon is None else float(epsilon)


def _reshaped_along(value, axes: tuple, x: Tensor):
    """``value`` (shaped as ``x``'s ``axes``) made to broadcast against ``x``."""
    if value is None:
        return None
    (value,) = promote("layer_normalization", {"value": value}, dtype=x.dtype)
    if axes == (x.ndim - 1,) or value.ndim == x.ndim:
        return value
    return F.reshape(value, [x.shape[a] if a in axes else 1 for a in range(x.ndim)])


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs) -> Tensor:
    """Normalize over ``axis`` (an int or a tuple) to mean 0 and variance 1, then
    ``* gamma + beta``; ``epsilon`` defaults to Keras's ``epsilon()`` (1e-7)."""
    if kwargs.pop("rms_scaling", False):
        raise ValueError(
            "layer_normalization: rms_scaling is deprecated in Keras; use rms_normalization."
        )
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}.")
    x = as_float("layer_normalization", x)
    axes = normalize_axis("layer_normalization", axis, x.ndim)
    mean, variance = moments(x, axes, keepdims=True)  # Keras's moments
    inv = F.power(variance + _epsilon(epsilon), -0.5)
    if gamma is not None:
        inv = inv * _reshaped_along(gamma, axes, x)
    shift = F.negative(mean) * inv
    if beta is not None:
        shift = shift + _reshaped_along(beta, axes, x)
    return x * inv + shift


def rms_normalization(x, scale=None, axis=-1, epsilon=None) -> Tensor:
    """``x * rsqrt(mean(x**2 over axis) + epsilon) * scale``."""
    x = as_float("rms_normalization", x)
    axes = normalize_axis("rms_normalization", axis, x.ndim)
    outputs = x * F.power(F.mean(x * x, axes, keepdims=True) + _epsilon(epsilon), -0.5)
    if scale is not None:
        outputs = outputs * _reshaped_along(scale, axes, x)
    return outputs


# -- rearranging blocks ------------------------------------------------------------------


def _blocks(function: str, x, block_size: int, data_format) -> tuple:
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"{function}: block_size must be a positive int, got {block_size!r}.")
    x = promote(function, {"x": x})[0]
    if x.ndim != 4:
        raise ValueError(f"{function}: x must be 4-D (a batch of images), got shape {x.shape}.")
    return _channels_last(function, x, data_format, ranks=(2,))


def depth_to_space(x, block_size: int, data_format="channels_last") -> Tensor:
    """Channels moved into ``block_size x block_size`` spatial blocks (TensorFlow's order)."""
    x, restore = _blocks("depth_to_space", x, block_size, data_format)
    n, h, w, c = x.shape
    if c % (block_size * block_size):
        raise ValueError(
            f"depth_to_space: {c} channels do not divide into blocks of {block_size}x{block_size}."
        )
    depth = c // (block_size * block_size)
    y = F.reshape(x, (n, h, w, block_size, block_size, depth))
    y = F.transpose(y, (0, 1, 3, 2, 4, 5))
    return restore(F.reshape(y, (n, h * block_size, w * block_size, depth)))


def space_to_depth(x, block_size: int, data_format="channels_last") -> Tensor:
    """``block_size x block_size`` spatial blocks moved into the channels."""
    x, restore = _blocks("space_to_depth", x, block_size, data_format)
    n, h, w, c = x.shape
    if h % block_size or w % block_size:
        raise ValueError(
            f"space_to_depth: height {h} and width {w} must be multiples of block_size "
            f"{block_size}."
        )
    y = F.reshape(x, (n, h // block_size, block_size, w // block_size, block_size, c))
    y = F.transpose(y, (0, 1, 3, 2, 4, 5))
    return restore(F.reshape(y, (n, h // block_size, w // block_size, c * block_size**2)))


def psnr(x1, x2, max_val) -> Tensor:
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2) ** 2))``."""
    a, b = promote("psnr", {"x1": x1, "x2": x2}, floating=True)
    if a.shape != b.shape:
        raise ValueError(f"psnr: x1 and x2 need one shape, got {a.shape} and {b.shape}.")
    mse = F.mean((a - b) * (a - b))
    return F.multiply(F.log(mse), -10.0 / math.log(10)) + 20.0 * math.log10(float(max_val))


# -- im2col and col2im (PyTorch's unfold and fold, as Keras 3 has them) -------------------


def _pair_of(function: str, name: str, value) -> tuple:
    pair = (value, value) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < (0 if name == "padding" else 1):
        raise ValueError(f"{function}: {name} must be an int or two ints, got {value!r}.")
    return pair


def _block_index(function, channels, size, kernel_size, dilation, padding, stride):
    """Host gather indices into the padded ``(channels, H + 2p, W + 2p)`` image: rows of
    ``(channel, kernel row, kernel column)``, columns the window positions, row-major."""
    kernel = _pair_of(function, "kernel_size", kernel_size)
    dilation = _pair_of(function, "dilation", dilation)
    padding = _pair_of(function, "padding", padding)
    stride = _pair_of(function, "stride", stride)
    counts = [
        (size[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
        for a in range(2)
    ]
    if min(counts) <= 0:
        raise ValueError(
            f"{function}: a {kernel} window (dilation {dilation}) does not fit the padded "
            f"spatial size {tuple(s + 2 * p for s, p in zip(size, padding))}."
        )
    rows = (
        numpy.arange(kernel[0])[:, None, None, None] * dilation[0]
        + numpy.arange(counts[0])[None, None, :, None] * stride[0]
    )
    cols = (
        numpy.arange(kernel[1])[None, :, None, None] * dilation[1]
        + numpy.arange(counts[1])[None, None, None, :] * stride[1]
    )
    rows, cols = numpy.broadcast_arrays(rows, cols)  # (kh, kw, out_h, out_w)
    shape = (channels, kernel[0] * kernel[1], counts[0] * counts[1])
    channel = numpy.broadcast_to(numpy.arange(channels)[:, None, None], shape)
    rows = numpy.broadcast_to(rows.reshape(1, shape[1], shape[2]), shape)
    cols = numpy.broadcast_to(cols.reshape(1, shape[1], shape[2]), shape)
    flat = tuple(a.reshape(channels * shape[1], shape[2]) for a in (channel, rows, cols))
    return flat, padding


def unfold(x, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks of ``(N, C, H, W)`` images (channels first, as PyTorch):
    ``(N, C * kh * kw, L)``, ``L`` the window positions row by row (im2col)."""
    x = as_float("unfold", x)
    if x.ndim != 4:
        raise ValueError(f"unfold: x must be 4-D (N, C, H, W), got shape {x.shape}.")
    (channel, rows, cols), pads = _block_index(
        "unfold", x.shape[1], x.shape[2:], kernel_size, dilation, padding, stride
    )
    from .ops_shape import pad  # ops_shape imports this module's neighbours only

    padded = pad(x, [(0, 0), (0, 0), (pads[0], pads[0]), (pads[1], pads[1])])
    xp = x.backend.xp
    index = (slice(None), *(xp.asarray(a) for a in (channel, rows, cols)))
    return F.getitem(padded, index)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """``unfold``'s adjoint (col2im): ``(N, C * kh * kw, L)`` blocks summed into
    ``(N, C, *output_size)`` images, overlaps adding up."""
    from .functional import shape as _shape

    x = as_float("fold", x)
    size = _pair_of("fold", "output_size", output_size)
    kernel = _pair_of("fold", "kernel_size", kernel_size)
    if x.ndim != 3 or x.shape[1] % (kernel[0] * kernel[1]):
        raise ValueError(
            f"fold: x must be (N, C * {kernel[0]} * {kernel[1]}, L), got shape {x.shape}."
        )
    channels = x.shape[1] // (kernel[0] * kernel[1])
    (channel, rows, cols), pads = _block_index(
        "fold", channels, size, kernel, dilation, padding, stride
    )
    if rows.shape[1] != x.shape[2]:
        raise ValueError(
            f"fold: {x.shape[2]} blocks given, but output_size {size} with these windows has "
            f"{rows.shape[1]}."
        )
    n = x.shape[0]
    xp = x.backend.xp
    batch = numpy.broadcast_to(numpy.arange(n)[:, None, None], (n, *rows.shape))
    index = tuple(
        xp.asarray(a)
        for a in (batch, *(numpy.broadcast_to(b, (n, *rows.shape)) for b in (channel, rows, cols)))
    )
    full = (n, channels, size[0] + 2 * pads[0], size[1] + 2 * pads[1])
    summed = _shape.scatter(x, index, full)
    return F.getitem(
        summed, (Ellipsis, slice(pads[0], pads[0] + size[0]), slice(pads[1], pads[1] + size[1]))
    )
