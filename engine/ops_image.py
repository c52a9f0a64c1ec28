"""``keras.ops.image``: resizing, patches, padding and cropping, colour spaces, affine sampling
and blurs of images, with Keras 3's names, arguments, result dtypes and numbers (its JAX
backend's, where backends differ).

Images are a batch ``(batch, height, width, channels)`` or one image ``(height, width,
channels)``; ``data_format="channels_first"`` (``(batch, channels, height, width)``) is
accepted too, the default (None) being ``engine.config.image_data_format()``,
channels-last as in Keras. Results keep the input's dtype, as Keras's do: an integer image
resized or sampled comes back rounded to its integer dtype (and outside the graph).

Gradients reach the images through every op that is a smooth (here: linear) function of
them: ``resize``, ``extract_patches``, ``pad_images``, ``crop_images``,
``rgb_to_grayscale``, ``affine_transform``, ``map_coordinates``, ``gaussian_blur``,
``sobel_edges``, and the colour conversions. Sampling positions (``transform``,
``coordinates``) are constants, as Keras documents for ``affine_transform``.

The resampling shares its arithmetic with the preprocessing layers
(``engine.layers.preprocessing.sampling``): separable taps gathered along one axis at a
time, and ``map_coordinates``'s taps gathered per output point. Those modules are imported
when first used, since ``engine.layers`` itself imports ``engine.ops``.
"""

import math

import numpy

from . import config
from . import functional as F
from .conversion import as_tensor, cast_tensor
from .ops_shape import pad as _pad
from .tensor import Tensor, apply

__all__ = [
    "affine_transform",
    "crop_images",
    "extract_patches",
    "extract_patches_3d",
    "gaussian_blur",
    "hsv_to_rgb",
    "map_coordinates",
    "pad_images",
    "resize",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "sobel_edges",
]

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
_FLOAT32_EPS = float(numpy.finfo(numpy.float32).eps)


def _sampling():
    from .layers.preprocessing import sampling

    return sampling


def _colour():
    from .layers.preprocessing import augmentation_base

    return augmentation_base


# -- arguments ----------------------------------------------------------------------------


def _data_format(function: str, data_format) -> str:
    if data_format is None:
        return config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{function}: data_format must be 'channels_last', 'channels_first' or None; "
            f"got {data_format!r}."
        )
    return data_format


def _images(function: str, images, ranks=(3, 4), name: str = "images") -> Tensor:
    images = as_tensor(images)
    if images.ndim not in ranks:
        wanted = " or ".join(str(r) for r in ranks)
        raise ValueError(
            f"{function}: {name} must have rank {wanted} (one image or a batch); got shape "
            f"{tuple(images.shape)}."
        )
    return images


def _choice(function: str, name: str, value, allowed) -> str:
    if value not in allowed:
        raise ValueError(
            f"{function}: {name} must be one of {', '.join(repr(a) for a in allowed)}; "
            f"got {value!r}."
        )
    return value


def _int_tuple(function: str, name: str, value, rank: int, minimum: int = 1) -> tuple:
    """``value`` (an int or ``rank`` ints) as a tuple of ``rank`` ints, each ``>= minimum``."""
    values = (value,) * rank if isinstance(value, (int, numpy.integer)) else value
    if (
        not isinstance(values, (tuple, list))
        or len(values) != rank
        or any(isinstance(v, bool) or not isinstance(v, (int, numpy.integer)) for v in values)
        or any(v < minimum for v in values)
    ):
        raise ValueError(
            f"{function}: {name} must be an int or a tuple of {rank} ints, each at least "
            f"{minimum}; got {value!r}."
        )
    return tuple(int(v) for v in values)


def _channels_last(images: Tensor, data_format: str, rank: int = 2):
    """``(batch, *spatial, channels)`` from ``images`` of ``rank`` spatial axes, and the function
    that puts a result of the same layout back into the caller's."""
    single = images.ndim == rank + 1
    x = F.reshape(images, (1, *images.shape)) if single else images
    first = data_format == "channels_first"
    if first:
        x = F.transpose(x, (0, *range(2, rank + 2), 1))

    def restore(y: Tensor) -> Tensor:
        if first:
            y = F.transpose(y, (0, y.ndim - 1, *range(1, y.ndim - 1)))
        return F.reshape(y, y.shape[1:]) if single else y

    return x, restore


def _float_dtype(dtype) -> numpy.dtype:
    return dtype if dtype.kind == "f" else numpy.dtype(config.floatx())


def _to_float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else cast_tensor(x, config.floatx())


def _round_half_away(xp, values):
    """``values`` rounded to integers, halves away from zero (XLA's ``round``)."""
    whole = xp.trunc(values)
    return whole + xp.sign(values) * (xp.abs(values - whole) >= 0.5)


def _back_to_integers(x: Tensor, dtype, half_away: bool = False) -> Tensor:
    """Float results of an integer input as that dtype: rounded (halves to even, or away from
    zero) and clipped to the dtype's range (Keras's ``round`` + ``saturate_cast``)."""
    xp = x.backend.xp
    data = _round_half_away(xp, x.data) if half_away else xp.round(x.data)
    if dtype.kind in "iu":
        info = numpy.iinfo(dtype)
        data = xp.clip(data, info.min, info.max)
    return Tensor._wrap(data.astype(dtype), x.backend)


def _along_axes(x: Tensor, taps: dict) -> Tensor:
    """``x`` resampled along each ``axis: (index, weights)`` of ``taps`` (see ``sampling``)."""
    sampling = _sampling()
    for axis, (index, weights) in taps.items():
        x = apply(sampling.AxisResample(index, weights, axis, x.shape[axis]), x)
    return x


# -- colour -------------------------------------------------------------------------------


def _channel_count(images: Tensor, data_format: str) -> int:
    return images.shape[-1 if data_format == "channels_last" else -3]


def rgb_to_grayscale(images, data_format=None) -> Tensor:
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` of RGB images, one channel (a one-channel image is
    returned as it is). Integer images are converted in float and truncated back, as Keras."""
    data_format = _data_format("rgb_to_grayscale", data_format)
    images = _images("rgb_to_grayscale", images)
    channels = _channel_count(images, data_format)
    if channels not in (1, 3):
        raise ValueError(
            f"rgb_to_grayscale: images must have 3 (RGB) or 1 channel(s) along the "
            f"{data_format} channel axis; got shape {tuple(images.shape)}."
        )
    if channels == 1:
        return images
    x, restore = _channels_last(images, data_format)
    luma = restore(_colour().grayscale(_to_float(x)))
    return cast_tensor(luma, images.dtype)


def _float_images(function: str, images, data_format: str) -> Tensor:
    images = _images(function, images)
    if images.dtype.kind != "f":
        raise ValueError(
            f"{function}: images must have a float dtype; got dtype {images.dtype}. Cast them "
            f"first, e.g. ops.cast(images, 'float32') / 255."
        )
    if _channel_count(images, data_format) != 3:
        raise ValueError(
            f"{function}: images must have 3 channels along the {data_format} channel axis; "
            f"got shape {tuple(images.shape)}."
        )
    return images


def rgb_to_hsv(images, data_format=None) -> Tensor:
    """RGB images (float, values in [0, 1]) as hue, saturation and value, each in [0, 1]
    (hue 0 is red, 1/3 green, 2/3 blue)."""
    data_format = _data_format("rgb_to_hsv", data_format)
    images = _float_images("rgb_to_hsv", images, data_format)
    x, restore = _channels_last(images, data_format)
    return restore(F.stack(list(_colour().rgb_to_hsv(x)), axis=-1))


def hsv_to_rgb(images, data_format=None) -> Tensor:
    """HSV images (float, values in [0, 1]; hue taken modulo 1) as RGB."""
    data_format = _data_format("hsv_to_rgb", data_format)
    images = _float_images("hsv_to_rgb", images, data_format)
    x, restore = _channels_last(images, data_format)
    return restore(_colour().hsv_to_rgb(x[..., 0], x[..., 1], x[..., 2]))


# -- resizing -----------------------------------------------------------------------------


def _triangle(x):
    return numpy.maximum(0.0, 1.0 - x)


def _keys_cubic(x):  # Keys' cubic convolution, a = -0.5
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return numpy.where(x >= 2.0, 0.0, numpy.where(x >= 1.0, far, near))


def _lanczos(radius: float):
    def kernel(x):
        with numpy.errstate(divide="ignore", invalid="ignore"):
            y = radius * numpy.sin(numpy.pi * x) * numpy.sin(numpy.pi * x / radius)
            out = numpy.where(x > 1e-3, y / numpy.where(x != 0, numpy.pi**2 * x**2, 1), 1.0)
        return numpy.where(x > radius, 0.0, out)

    return kernel


_KERNELS = {
    "bilinear": _triangle,
    "bicubic": _keys_cubic,
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
}


def _kernel_taps(in_size: int, out_size: int, method: str, antialias: bool):
    """``(index, weights)``, each ``(out_size, taps)``: JAX's ``scale_and_translate`` weights
    (half-pixel centres; each output's weights normalised to sum to 1; the kernel stretched by
    the downscaling factor when ``antialias``)."""
    inverse = in_size / out_size
    stretch = max(inverse, 1.0) if antialias else 1.0
    sample = (numpy.arange(out_size) + 0.5) * inverse - 0.5
    distance = numpy.abs(sample[:, None] - numpy.arange(in_size)[None, :]) / stretch
    weights = _KERNELS[method](distance)  # (out, in)
    total = weights.sum(axis=1, keepdims=True)
    weights = numpy.where(
        numpy.abs(total) > 1000.0 * _FLOAT32_EPS,
        weights / numpy.where(total != 0, total, 1.0),
        0.0,
    )
    count = max(int((weights != 0).sum(axis=1).max()), 1)
    order = numpy.argsort(weights == 0, axis=1, kind="stable")[:, :count]  # nonzero first
    return order, numpy.take_along_axis(weights, order, axis=1)


def _resize_taps(in_size: int, out_size: int, interpolation: str, antialias: bool):
    if interpolation == "nearest" or (
        interpolation == "bilinear" and not (antialias and out_size < in_size)
    ):  # the preprocessing layers' taps: the same numbers as JAX's here
        return _sampling().resize_taps(in_size, out_size, interpolation)
    return _kernel_taps(in_size, out_size, interpolation, antialias)


def resize(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_mode="constant",
    fill_value=0.0,
    data_format=None,
) -> Tensor:
    """Images resized to ``size = (height, width)``, half-pixel centres as Keras (on JAX).

    ``interpolation``: ``"bilinear"``, ``"nearest"`` (the input pixel whose centre is
    nearest), ``"bicubic"`` (Keys' cubic, a = -0.5), ``"lanczos3"`` or ``"lanczos5"``;
    ``antialias`` widens the kernel when downsampling (``nearest`` ignores it).
    ``crop_to_aspect_ratio`` first crops the largest centred window of the target's aspect
    ratio; ``pad_to_aspect_ratio`` instead pads the short side evenly with ``fill_value``
    (``fill_mode`` ``"constant"``, the only one). Integer images come back rounded and
    clipped to their dtype.
    """
    data_format = _data_format("resize", data_format)
    images = _images("resize", images)
    size = tuple(size) if isinstance(size, (tuple, list)) else size
    if (
        not isinstance(size, tuple)
        or len(size) != 2
        or any(isinstance(s, bool) or not isinstance(s, (int, numpy.integer)) for s in size)
        or any(s <= 0 for s in size)
    ):
        raise ValueError(f"resize: size must be (height, width), two positive ints; got {size!r}.")
    _choice("resize", "interpolation", interpolation, RESIZE_INTERPOLATIONS)
    _choice("resize", "fill_mode", fill_mode, ("constant",))
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "resize: give only one of crop_to_aspect_ratio and pad_to_aspect_ratio, not both."
        )
    sampling = _sampling()
    target_height, target_width = (int(s) for s in size)
    x, restore = _channels_last(images, data_format)
    height, width = x.shape[1], x.shape[2]
    dtype = x.dtype
    if interpolation != "nearest" or pad_to_aspect_ratio:  # integers: padded in float too
        x = _to_float(x)
    if crop_to_aspect_ratio:
        top, left, crop_height, crop_width = sampling.aspect_crop_box(
            height, width, target_height, target_width
        )
        x = x[:, top : top + crop_height, left : left + crop_width, :]
    elif pad_to_aspect_ratio:
        pad_height, pad_width = sampling.aspect_pad_box(height, width, target_height, target_width)
        widths = [(0, 0), (pad_height,) * 2, (pad_width,) * 2, (0, 0)]
        x = _pad(x, widths, constant_values=float(fill_value))
    taps = {
        axis: _resize_taps(x.shape[axis], target, interpolation, bool(antialias))
        for axis, target in ((1, target_height), (2, target_width))
        if x.shape[axis] != target
    }
    x = _along_axes(x, taps)
    if x.dtype != dtype:
        x = _back_to_integers(x, dtype)
    return restore(x)


# -- patches ------------------------------------------------------------------------------


def _patch_geometry(function: str, spatial, size, strides, dilation, padding):
    """Per spatial axis: output size and ``(before, after)`` zero padding (a convolution's)."""
    outs, pads = [], []
    for length, k, s, d in zip(spatial, size, strides, dilation):
        extent = (k - 1) * d + 1
        if padding == "valid":
            outs.append(max((length - extent) // s + 1, 0))
            pads.append((0, 0))
        else:
            out = -(-length // s)
            total = max((out - 1) * s + extent - length, 0)
            outs.append(out)
            pads.append((total // 2, total - total // 2))
    return outs, pads


def extract_patches(
    images, size, strides=None, dilation_rate=1, padding="valid", data_format=None
) -> Tensor:
    """Patches of images as channels: ``(batch, rows, cols, ph * pw * channels)``, each
    patch's pixels in row-major order, then channels (Keras's identity-kernel convolution).

    ``size``: an int or ``(ph, pw)`` for 2-D patches of images, or ``(pd, ph, pw)`` for 3-D
    patches of volumes ``(batch, depth, height, width, channels)`` (or one volume).
    ``strides`` defaults to ``size`` (patches side by side); ``padding`` is ``"valid"`` (whole
    patches only) or ``"same"`` (zero padding, ``ceil(length / stride)`` patches per axis).
    """
    function = "extract_patches"
    if isinstance(size, bool) or not isinstance(size, (int, numpy.integer, tuple, list)):
        raise TypeError(
            f"{function}: size must be an int or a tuple of 2 or 3 ints; got {size!r} of type "
            f"{type(size).__name__}."
        )
    if isinstance(size, (tuple, list)) and len(size) not in (2, 3):
        raise ValueError(
            f"{function}: size must be an int or a tuple of 2 (or 3, for volumes) ints; got "
            f"{size!r}."
        )
    rank = 3 if isinstance(size, (tuple, list)) and len(size) == 3 else 2
    data_format = _data_format(function, data_format)
    images = _images(function, images, (rank + 1, rank + 2))
    size = _int_tuple(function, "size", size, rank)
    strides = size if not strides else _int_tuple(function, "strides", strides, rank)
    dilation = _int_tuple(function, "dilation_rate", dilation_rate, rank)
    padding = padding.lower() if isinstance(padding, str) else padding
    _choice(function, "padding", padding, ("valid", "same"))
    x, restore = _channels_last(images, data_format, rank)
    batch, *spatial, channels = x.shape
    outs, pads = _patch_geometry(function, spatial, size, strides, dilation, padding)
    if any(before or after for before, after in pads):
        x = _pad(x, [(0, 0), *pads, (0, 0)])
    if strides == size and all(d == 1 for d in dilation):
        # side by side: a crop, a reshape and a transpose (no gather)
        x = x[(slice(None), *(slice(0, o * k) for o, k in zip(outs, size)))]
        x = F.reshape(x, (batch, *[n for pair in zip(outs, size) for n in pair], channels))
        x = F.transpose(x, (0, *range(1, 2 * rank, 2), *range(2, 2 * rank + 1, 2), 2 * rank + 1))
    else:
        xp = x.backend.xp
        index = []
        for axis, (o, k, s, d) in enumerate(zip(outs, size, strides, dilation)):
            positions = numpy.arange(o)[:, None] * s + numpy.arange(k)[None, :] * d
            shape = [1] * (2 * rank)
            shape[axis], shape[rank + axis] = o, k
            index.append(xp.asarray(positions.reshape(shape)))
        x = F.getitem(x, (slice(None), *index, slice(None)))  # (batch, *outs, *size, channels)
    x = F.reshape(x, (batch, *outs, math.prod(size) * channels))
    return restore(x)


def extract_patches_3d(
    volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None
) -> Tensor:
    """``extract_patches`` of volumes: ``size`` an int or ``(pd, ph, pw)``; the result is
    ``(batch, depths, rows, cols, pd * ph * pw * channels)``."""
    if isinstance(size, (int, numpy.integer)) and not isinstance(size, bool):
        size = (size,) * 3
    if not isinstance(size, (tuple, list)) or len(size) != 3:
        raise ValueError(
            f"extract_patches_3d: size must be an int or a tuple of 3 ints; got {size!r}."
        )
    if isinstance(strides, (int, numpy.integer)) and strides:
        strides = (strides,) * 3
    return extract_patches(volumes, size, strides, dilation_rate, padding, data_format)


# -- padding and cropping -----------------------------------------------------------------


def _two_of_three(function: str, names: tuple, values: tuple) -> None:
    if [v is None for v in values].count(True) != 1:
        given = ", ".join(f"{n}={v!r}" for n, v in zip(names, values))
        raise ValueError(f"{function}: give exactly two of {', '.join(names)}; got {given}.")
    for name, value in zip(names, values):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 0
        ):
            raise ValueError(f"{function}: {name} must be an int >= 0; got {value!r}.")


def _spatial_axes(images: Tensor, data_format: str) -> tuple:
    return (images.ndim - 3, images.ndim - 2) if data_format == "channels_last" else (-2, -1)


def pad_images(
    images,
    top_padding=None,
    left_padding=None,
    bottom_padding=None,
    right_padding=None,
    target_height=None,
    target_width=None,
    data_format=None,
) -> Tensor:
    """Images padded with zeros: give two of ``top_padding``, ``bottom_padding``,
    ``target_height``, and two of ``left_padding``, ``right_padding``, ``target_width``."""
    function = "pad_images"
    data_format = _data_format(function, data_format)
    images = _images(function, images)
    rows = ("top_padding", "bottom_padding", "target_height")
    cols = ("left_padding", "right_padding", "target_width")
    _two_of_three(function, rows, (top_padding, bottom_padding, target_height))
    _two_of_three(function, cols, (left_padding, right_padding, target_width))
    height_axis, width_axis = _spatial_axes(images, data_format)
    widths = [[0, 0] for _ in range(images.ndim)]
    for axis, names, (before, after, target) in (
        (height_axis, rows, (top_padding, bottom_padding, target_height)),
        (width_axis, cols, (left_padding, right_padding, target_width)),
    ):
        length = images.shape[axis]
        if before is None:
            before = target - after - length
        if after is None:
            after = target - before - length
        for name, value in zip(names, (before, after)):
            if value < 0:
                raise ValueError(
                    f"{function}: {name} comes out as {value} (< 0) for images of shape "
                    f"{tuple(images.shape)}: {names[2]} is smaller than the image."
                )
        widths[axis] = [int(before), int(after)]
    return _pad(images, widths)


def crop_images(
    images,
    top_cropping=None,
    left_cropping=None,
    bottom_cropping=None,
    right_cropping=None,
    target_height=None,
    target_width=None,
    data_format=None,
) -> Tensor:
    """Images cropped: give two of ``top_cropping``, ``bottom_cropping``, ``target_height``,
    and two of ``left_cropping``, ``right_cropping``, ``target_width``."""
    function = "crop_images"
    data_format = _data_format(function, data_format)
    images = _images(function, images)
    rows = ("top_cropping", "bottom_cropping", "target_height")
    cols = ("left_cropping", "right_cropping", "target_width")
    _two_of_three(function, rows, (top_cropping, bottom_cropping, target_height))
    _two_of_three(function, cols, (left_cropping, right_cropping, target_width))
    height_axis, width_axis = _spatial_axes(images, data_format)
    index = [slice(None)] * images.ndim
    for axis, names, (before, after, target) in (
        (height_axis, rows, (top_cropping, bottom_cropping, target_height)),
        (width_axis, cols, (left_cropping, right_cropping, target_width)),
    ):
        length = images.shape[axis]
        if before is None:
            before = length - target - after
        if target is None:
            target = length - before - after
        if before < 0 or target < 0 or before + target > length:
            raise ValueError(
                f"{function}: {names[0]}={before} and {names[2]}={target} do not fit in images "
                f"of shape {tuple(images.shape)} (length {length} along that axis)."
            )
        index[axis] = slice(int(before), int(before + target))
    return F.getitem(images, tuple(index))


# -- sampling at positions ----------------------------------------------------------------


def _sample(x: Tensor, coordinates: list, order: int, fill_mode: str, fill_value) -> Tensor:
    """``x`` ``(n, *spatial, c)`` at ``coordinates`` (backend arrays ``(n, *out)``, one per
    spatial axis) with ``map_coordinates``'s rules: nearest (halves away from zero) or linear
    taps, indices outside fixed by ``fill_mode``. Integer ``x`` comes back rounded."""
    xp = x.backend.xp
    interpolation = AFFINE_INTERPOLATIONS[order]
    if order == 0:  # round here (halves away from zero); the taps then round integers
        coordinates = [_round_half_away(xp, c) for c in coordinates]
    dtype = x.dtype
    if dtype.kind != "f":
        fill_value = numpy.asarray(fill_value).astype(dtype).item()
        x = _to_float(x)
    out = _sampling().sample(x, coordinates, interpolation, fill_mode, fill_value)
    return out if out.dtype == dtype else _back_to_integers(out, dtype, half_away=True)


def _host(value) -> numpy.ndarray:
    return value.numpy() if isinstance(value, Tensor) else numpy.asarray(value)


def affine_transform(
    images,
    transform,
    interpolation="bilinear",
    fill_mode="constant",
    fill_value=0,
    data_format=None,
) -> Tensor:
    """Images sampled at ``(x', y') = (a0 x + a1 y + a2, b0 x + b1 y + b2)`` for each output
    pixel ``(x, y)``: ``transform`` is ``[a0, a1, a2, b0, b1, b2, c0, c1]``, one row per image
    (or one row for all), mapping output points to input points. The projective ``c0, c1``
    are taken as 0, as Keras documents for its backends other than TensorFlow.

    ``interpolation``: ``"bilinear"`` or ``"nearest"``; outside the image, ``fill_mode``:
    ``"constant"`` (``fill_value``), ``"nearest"``, ``"wrap"``, ``"mirror"`` or ``"reflect"``.
    No gradient reaches ``transform``.
    """
    function = "affine_transform"
    data_format = _data_format(function, data_format)
    images = _images(function, images)
    order = AFFINE_INTERPOLATIONS.index(
        _choice(function, "interpolation", interpolation, AFFINE_INTERPOLATIONS)
    )
    _choice(function, "fill_mode", fill_mode, FILL_MODES)
    matrices = _host(transform)
    if matrices.ndim not in (1, 2) or matrices.shape[-1] != 8:
        raise ValueError(
            f"{function}: transform must have shape (8,) or (batch, 8), rows "
            f"[a0, a1, a2, b0, b1, b2, c0, c1]; got shape {matrices.shape}."
        )
    x, restore = _channels_last(images, data_format)
    batch, height, width, _ = x.shape
    matrices = matrices.reshape(-1, 8)
    if matrices.shape[0] not in (1, batch):
        raise ValueError(
            f"{function}: transform has {matrices.shape[0]} rows for a batch of {batch} images; "
            f"give one row per image, or one for all."
        )
    matrices = numpy.broadcast_to(matrices[:, :6], (batch, 6))
    xp = x.backend.xp
    coordinates = _sampling().affine_coordinates(xp, matrices, batch, height, width)
    return restore(_sample(x, coordinates, order, fill_mode, fill_value))


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0) -> Tensor:
    """``inputs`` (any rank ``r``) interpolated at ``coordinates``, shape ``(r, *out)``: entry
    ``coordinates[:, p]`` is the position of output point ``p`` along each axis. ``order`` 0
    takes the nearest entry (halves away from zero), 1 interpolates linearly; ``fill_mode``
    extends ``inputs`` past its edges (see ``affine_transform``). The result has shape ``out``
    and ``inputs``'s dtype. No gradient reaches ``coordinates``.
    """
    function = "map_coordinates"
    inputs = as_tensor(inputs)
    if isinstance(order, bool) or order not in (0, 1):
        raise ValueError(f"{function}: order must be 0 (nearest) or 1 (linear); got {order!r}.")
    _choice(function, "fill_mode", fill_mode, FILL_MODES)
    xp = inputs.backend.xp
    if isinstance(coordinates, Tensor):
        if coordinates.backend is not inputs.backend:
            raise ValueError(
                f"{function}: coordinates are on backend '{coordinates.backend.name}' but "
                f"inputs on '{inputs.backend.name}'; move one of them first."
            )
        points = coordinates.data
    elif isinstance(coordinates, (list, tuple)) and not all(
        numpy.ndim(c) == 0 for c in coordinates
    ):
        points = xp.stack([xp.asarray(_host(c)) for c in coordinates])
    else:
        points = xp.asarray(_host(coordinates))
    if points.ndim < 2 or points.shape[0] != inputs.ndim:
        raise ValueError(
            f"{function}: coordinates must have shape (rank of inputs, ...) = "
            f"({inputs.ndim}, ...), at least 2-D; got shape {tuple(points.shape)}."
        )
    if points.dtype != numpy.float64:
        points = points.astype(numpy.float32)
    x = F.reshape(inputs, (1, *inputs.shape, 1))
    out_shape = points.shape[1:]
    axes = [points[a][None] for a in range(inputs.ndim)]
    sampled = _sample(x, axes, order, fill_mode, fill_value)
    return F.reshape(sampled, out_shape)


# -- filters ------------------------------------------------------------------------------


def _same_taps(kernel: numpy.ndarray, length: int):
    """``(index, weights)`` of a 1-D correlation with ``kernel`` and zero "same" padding."""
    size = kernel.shape[0]
    positions = numpy.arange(length)[:, None] - (size - 1) // 2 + numpy.arange(size)[None, :]
    inside = (positions >= 0) & (positions < length)
    return numpy.clip(positions, 0, length - 1), numpy.where(inside, kernel[None, :], 0.0)


def _gaussian(size: int, sigma: float, dtype) -> numpy.ndarray:
    x = numpy.arange(size, dtype=dtype) - numpy.asarray((size - 1) / 2, dtype=dtype)
    kernel = numpy.exp(-0.5 * (x / numpy.asarray(sigma, dtype=dtype)) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None) -> Tensor:
    """Images convolved with a Gaussian kernel (zero padding, same size out), each channel
    apart. As Keras 3.15 computes it, the first entry of ``kernel_size`` and of ``sigma``
    applies along the width and the second along the height (equal entries, as the
    defaults, make the two readings agree). Integer images are blurred as ``floatx``.
    """
    function = "gaussian_blur"
    data_format = _data_format(function, data_format)
    images = _images(function, images)
    kernel_size = _int_tuple(function, "kernel_size", kernel_size, 2)
    sigmas = (sigma, sigma) if isinstance(sigma, (int, float, numpy.number)) else sigma
    if (
        not isinstance(sigmas, (tuple, list))
        or len(sigmas) != 2
        or any(isinstance(s, bool) or not isinstance(s, (int, float, numpy.number)) for s in sigmas)
        or any(not s > 0 for s in sigmas)
    ):
        raise ValueError(f"{function}: sigma must be two positive numbers; got {sigma!r}.")
    x, restore = _channels_last(_to_float(images), data_format)
    (width_size, height_size), (width_sigma, height_sigma) = kernel_size, sigmas
    taps = {
        1: _same_taps(_gaussian(height_size, height_sigma, x.dtype), x.shape[1]),
        2: _same_taps(_gaussian(width_size, width_sigma, x.dtype), x.shape[2]),
    }
    return restore(_along_axes(x, taps))


def sobel_edges(images, data_format=None) -> Tensor:
    """Sobel gradients of a batch of images: ``(..., 2)`` with the vertical (rows, kernel
    ``[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]``) then the horizontal one, zero padding."""
    function = "sobel_edges"
    data_format = _data_format(function, data_format)
    images = _images(function, images, (4,))
    x, restore = _channels_last(_to_float(images), data_format)
    smooth, slope = numpy.array([1.0, 2.0, 1.0]), numpy.array([-1.0, 0.0, 1.0])
    height, width = x.shape[1], x.shape[2]
    vertical = _along_axes(x, {1: _same_taps(slope, height), 2: _same_taps(smooth, width)})
    horizontal = _along_axes(x, {1: _same_taps(smooth, height), 2: _same_taps(slope, width)})
    return F.stack([restore(vertical), restore(horizontal)], axis=-1)
