"""``keras.ops.image``: resizing, patches, padding and cropping, colour spaces, affine sampling
and blurs of images, with Keras 3's names, arguments, result dtypes and numbers (its JAX
backend's, where backends differ).

Images are a batch ``(batch, height, width, channels)`` or one image ``(height, width,
channels)``; ``data_format="channels_first"`` (``(batch, channels, height, width)``) is
accepted too, the default (None) being ``engine.config.imagecheck_data_format()``,
channels-last as in Keras. Results keep the input's dtype, as Keras's do: an integer image
resized or sampled comes back rounded to its integer dtype (and outside the graph).

Gradients reach the images through every op that is a smooth (here: linear) function of
them: ``resize``, ``extract_patches``, ``pad_images``, ``crop_images``,
``rgb_to_grayscale``, ``affine_transform``, ``map_coordinates``, ``gaussian_blur``,
``sobel_edges``, ``perspective_transform``, ``scale_and_translate``, ``elastic_transform``,
``ssim`` (in both images), and the colour conversions. Sampling positions (``transform``,
``coordinates``, points, scales, noise) are constants, as Keras documents for
``affine_transform``.

The resampling shares its arithmetic with the preprocessing layers
(``engine.layers.preprocessing.sampling``): separable taps gathered along one axis at a
time, and ``map_coordinates``'s taps gathered per output point. Those modules are imported
when first used, since ``engine.layers`` itself imports ``engine.ops``.
"""

import math

import numpy

from . import config
from . import functional as F
from .conversion import as_tensor, cast_tensor, check_data_format
from .ops_shape import pad as _pad
from .tensor import Tensor, apply

__all__ = [
    "affine_transform",
    "crop_images",
    "elastic_transform",
    "extract_patches",
    "extract_patches_3d",
    "gaussian_blur",
    "hsv_to_rgb",
    "map_coordinates",
    "pad_images",
    "perspective_transform",
    "resize",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "scale_and_translate",
    "sobel_edges",
    "ssim",
]

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
_FLOAT32_EPS = float(numpy.finfo(numpy.float32).eps)


def _sampling():
    from .layers.preprocessing import sampling

    return sampling


def _geometry():
    from .layers.preprocessing import geometry

    return geometry


def _colour():
    from .layers.preprocessing import augmentation_base

    return augmentation_base


# -- arguments ----------------------------------------------------------------------------


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
    data_format = check_data_format("rgb_to_grayscale", data_format)
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
    data_format = check_data_format("rgb_to_hsv", data_format)
    images = _float_images("rgb_to_hsv", images, data_format)
    x, restore = _channels_last(images, data_format)
    return restore(F.stack(list(_colour().rgb_to_hsv(x)), axis=-1))


def hsv_to_rgb(images, data_format=None) -> Tensor:
    """HSV images (float, values in [0, 1]; hue taken modulo 1) as RGB."""
    data_format = check_data_format("hsv_to_rgb", data_format)
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
    data_format = check_data_format("resize", data_format)
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
    data_format = check_data_format(function, data_format)
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
    data_format = check_data_format(function, data_format)
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
    data_format = check_data_format(function, data_format)
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
    data_format = check_data_format(function, data_format)
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
    data_format = check_data_format(function, data_format)
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
    data_format = check_data_format(function, data_format)
    images = _images(function, images, (4,))
    x, restore = _channels_last(_to_float(images), data_format)
    smooth, slope = numpy.array([1.0, 2.0, 1.0]), numpy.array([-1.0, 0.0, 1.0])
    height, width = x.shape[1], x.shape[2]
    vertical = _along_axes(x, {1: _same_taps(slope, height), 2: _same_taps(smooth, width)})
    horizontal = _along_axes(x, {1: _same_taps(smooth, height), 2: _same_taps(slope, width)})
    return F.stack([restore(vertical), restore(horizontal)], axis=-1)


# -- perspective, elastic deformation ----------------------------------------------------


def _corner_points(function: str, name: str, value) -> numpy.ndarray:
    points = _host(value)
    if points.ndim not in (2, 3) or points.shape[-2:] != (4, 2):
        raise ValueError(
            f"{function}: {name} must have shape (4, 2) (one image) or (N, 4, 2) (a batch): four "
            f"(x, y) corners; got shape {points.shape}."
        )
    return points.astype(numpy.float32).reshape(-1, 4, 2)


def perspective_transform(
    images, start_points, end_points, interpolation="bilinear", fill_value=0, data_format=None
) -> Tensor:
    """Images warped by the projective map that takes the four ``end_points`` to the four
    ``start_points`` (each ``(x, y)``, shape ``(4, 2)`` or one set per image ``(N, 4, 2)``):
    output pixel ``(x, y)`` samples the input at the map's image of ``(x, y)`` (Keras's
    homography, solved from the points in float32), ``interpolation`` ``"bilinear"`` or
    ``"nearest"``, ``fill_value`` outside the image. No gradient reaches the points.
    """
    function = "perspective_transform"
    data_format = check_data_format(function, data_format)
    images = _images(function, images)
    order = AFFINE_INTERPOLATIONS.index(
        _choice(function, "interpolation", interpolation, AFFINE_INTERPOLATIONS)
    )
    start = _corner_points(function, "start_points", start_points)
    end = _corner_points(function, "end_points", end_points)
    if _host(start_points).shape != _host(end_points).shape:
        raise ValueError(
            f"{function}: start_points and end_points must have the same shape; got "
            f"{_host(start_points).shape} and {_host(end_points).shape}."
        )
    x, restore = _channels_last(images, data_format)
    batch = x.shape[0]
    if start.shape[0] not in (1, batch):
        raise ValueError(
            f"{function}: start_points has {start.shape[0]} point sets for a batch of {batch} "
            f"images; give one set per image, or one for all."
        )
    maps = _geometry().homographies(start.astype(numpy.float64), end.astype(numpy.float64))
    maps = numpy.broadcast_to(maps.astype(numpy.float32), (batch, 8))
    dtype = x.dtype
    if dtype.kind != "f":
        fill_value = numpy.asarray(fill_value).astype(dtype).item()
        x = _to_float(x)
    out = _geometry().projective_transform(x, maps, AFFINE_INTERPOLATIONS[order], float(fill_value))
    if out.dtype != dtype:
        out = _back_to_integers(out, dtype, half_away=True)
    return restore(out)


def elastic_warp(images: Tensor, noise, alpha, sigma, interpolation, fill_mode, fill_value):
    """``images`` ``(n, h, w, c)`` deformed by the displacement fields made from ``noise``, a
    host array ``(2, n, h, w)`` of standard normal draws (the column field, then the row
    field): each field is ``noise * sigma`` blurred by a Gaussian of ``sigma`` over
    ``int(6 * sigma) | 1`` taps (zero padding); output pixel ``(y, x)`` samples the input at
    ``(y + alpha * dy, x + alpha * dx)``. Shared by ``elastic_transform`` and the
    RandomElasticTransform layer (not in ``ops.image``: Keras has no such op)."""
    batch, height, width, _ = images.shape
    alpha, sigma = numpy.float32(alpha), numpy.float32(sigma)
    size = int(numpy.float32(6) * sigma) | 1
    backend = images.backend
    fields = numpy.asarray(noise, dtype=numpy.float32).reshape(2 * batch, height, width, 1) * sigma
    fields = Tensor._wrap(backend.asarray(fields), backend)
    smooth = gaussian_blur(fields, (size, size), (float(sigma), float(sigma)), "channels_last")
    dx, dy = smooth.data[:batch, ..., 0], smooth.data[batch:, ..., 0]
    xp = backend.xp
    rows = xp.arange(height, dtype=numpy.float32).reshape(1, height, 1) + alpha * dy
    cols = xp.arange(width, dtype=numpy.float32).reshape(1, 1, width) + alpha * dx
    order = AFFINE_INTERPOLATIONS.index(interpolation)
    return _sample(images, [rows, cols], order, fill_mode, fill_value)


def _number(function: str, name: str, value, positive: bool = False) -> float:
    if isinstance(value, Tensor):
        value = value.numpy()
    if (
        isinstance(value, bool)
        or numpy.ndim(value) != 0
        or not numpy.issubdtype(numpy.asarray(value).dtype, numpy.number)
        or not numpy.isfinite(value)
        or (positive and not value > 0)
    ):
        kind = "a positive number" if positive else "a finite number"
        raise ValueError(f"{function}: {name} must be {kind}; got {value!r}.")
    return float(value)


def elastic_transform(
    images,
    alpha=20.0,
    sigma=5.0,
    interpolation="bilinear",
    fill_mode="reflect",
    fill_value=0.0,
    seed=None,
    data_format=None,
) -> Tensor:
    """Images deformed elastically (Simard et al., 2003): two fields of standard normal noise
    per image, drawn from ``engine.random`` with ``seed`` (an int, a SeedGenerator, or None for
    the global generator), each times ``sigma`` and blurred by a Gaussian of width ``sigma``
    (``int(6 * sigma) | 1`` taps), displace every pixel by ``alpha`` times the fields; the
    image is sampled there with ``interpolation`` (``"bilinear"`` or ``"nearest"``) and, past
    its edges, ``fill_mode`` (``fill_value`` for ``"constant"``). ``alpha = 0`` returns the
    images. Keras's draws differ from these; the arithmetic is the same. Differentiable in the
    images.
    """
    function = "elastic_transform"
    data_format = check_data_format(function, data_format)
    images = _images(function, images)
    _choice(function, "interpolation", interpolation, AFFINE_INTERPOLATIONS)
    _choice(function, "fill_mode", fill_mode, FILL_MODES)
    alpha = _number(function, "alpha", alpha)
    sigma = _number(function, "sigma", sigma, positive=True)
    fill_value = _number(function, "fill_value", fill_value)
    from . import random

    x, restore = _channels_last(images, data_format)
    batch, height, width, _ = x.shape
    noise = random.normal((2, batch, height, width), dtype="float32", seed=seed).numpy()
    return restore(elastic_warp(x, noise, alpha, sigma, interpolation, fill_mode, fill_value))


# -- scale and translate ------------------------------------------------------------------

SCALE_AND_TRANSLATE_METHODS = {
    "linear": "bilinear",
    "bilinear": "bilinear",
    "trilinear": "bilinear",
    "cubic": "bicubic",
    "bicubic": "bicubic",
    "tricubic": "bicubic",
    "lanczos3": "lanczos3",
    "lanczos5": "lanczos5",
}


def _compressed_taps(weights: numpy.ndarray):
    """``(index, weights)``, each ``(out, taps)``, of the nonzero entries of an ``(out, in)``
    weight matrix."""
    count = max(int((weights != 0).sum(axis=1).max()), 1)
    order = numpy.argsort(weights == 0, axis=1, kind="stable")[:, :count]  # nonzero first
    return order, numpy.take_along_axis(weights, order, axis=1)


def _scale_translate_weights(in_size, out_size, scale, translation, method, antialias, dtype):
    """``(out, in)`` weights: output ``o`` samples input position ``(o + 0.5 - translation) /
    scale - 0.5`` with the kernel (stretched by ``1 / scale`` when downscaling and
    ``antialias``), normalised to sum to 1, zero where the position is outside the input."""
    scale, translation = dtype.type(scale), dtype.type(translation)
    inverse = dtype.type(1) / scale
    stretch = max(inverse, dtype.type(1)) if antialias else dtype.type(1)
    sample = (numpy.arange(out_size, dtype=dtype) + dtype.type(0.5)) * inverse
    sample = sample - translation * inverse - dtype.type(0.5)
    distance = numpy.abs(sample[:, None] - numpy.arange(in_size, dtype=dtype)[None, :]) / stretch
    weights = _KERNELS[method](distance).astype(dtype)
    total = weights.sum(axis=1, keepdims=True)
    weights = numpy.where(
        numpy.abs(total) > 1000.0 * _FLOAT32_EPS,
        weights / numpy.where(total != 0, total, 1.0),
        0.0,
    )
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return numpy.where(inside[:, None], weights, 0.0)


def scale_and_translate(
    images, output_shape, scale, translation, spatial_dims, method, antialias=True
) -> Tensor:
    """``images`` (any rank) resampled to ``output_shape`` along ``spatial_dims``: along axis
    ``spatial_dims[k]``, input position ``p`` (pixel centres at ``i + 0.5``) lands at ``p *
    scale[k] + translation[k]``, and each output pixel takes the kernel-weighted (normalised)
    mean of the input around its source position; outputs whose source lies outside the input
    are 0. ``method``: ``"linear"``/``"bilinear"``/``"trilinear"`` (triangle),
    ``"cubic"``/``"bicubic"``/``"tricubic"`` (Keys' cubic), ``"lanczos3"`` or
    ``"lanczos5"``; ``antialias`` widens the kernel by ``1 / scale`` when downscaling. Integer
    images give ``floatx`` results (JAX's promotion). No gradient reaches ``scale`` and
    ``translation``.
    """
    function = "scale_and_translate"
    images = as_tensor(images)
    _choice(function, "method", method, tuple(SCALE_AND_TRANSLATE_METHODS))
    kernel = SCALE_AND_TRANSLATE_METHODS[method]
    shape = _int_tuple(function, "output_shape", output_shape, images.ndim, minimum=0)
    ndim = images.ndim
    dims = spatial_dims if isinstance(spatial_dims, (tuple, list)) else (spatial_dims,)
    if any(
        isinstance(d, bool) or not isinstance(d, (int, numpy.integer)) or not -ndim <= d < ndim
        for d in dims
    ) or len({int(d) % ndim for d in dims}) != len(dims):
        raise ValueError(
            f"{function}: spatial_dims must be distinct axes of images (rank {ndim}); got "
            f"{spatial_dims!r}."
        )
    dims = tuple(int(d) % ndim for d in dims)
    scales = _host(scale).astype(numpy.float64).reshape(-1)
    translations = _host(translation).astype(numpy.float64).reshape(-1)
    for name, values in (("scale", scales), ("translation", translations)):
        if values.shape[0] != len(dims):
            raise ValueError(
                f"{function}: {name} must have one entry per spatial dim ({len(dims)}); got "
                f"{values.shape[0]}."
            )
    if not numpy.all(numpy.isfinite(scales) & (scales != 0)):
        raise ValueError(f"{function}: scale must be finite and nonzero; got {scales.tolist()}.")
    for axis in range(ndim):
        if axis not in dims and shape[axis] != images.shape[axis]:
            raise ValueError(
                f"{function}: output_shape {shape} differs from the images' shape "
                f"{tuple(images.shape)} along axis {axis}, which is not in spatial_dims."
            )
    x = _to_float(images)
    taps = {
        axis: _compressed_taps(
            _scale_translate_weights(
                x.shape[axis], shape[axis], s, t, kernel, bool(antialias), x.dtype
            )
        )
        for axis, s, t in zip(dims, scales, translations)
    }
    return _along_axes(x, taps)


# -- structural similarity ----------------------------------------------------------------


def _valid_taps(kernel: numpy.ndarray, length: int):
    """``(index, weights)`` of a 1-D correlation with ``kernel``, "valid" positions only."""
    size = kernel.shape[0]
    index = numpy.arange(length - size + 1)[:, None] + numpy.arange(size)[None, :]
    return index, numpy.broadcast_to(kernel[None, :], index.shape)


def ssim(
    image1,
    image2,
    max_val=1.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    data_format=None,
) -> Tensor:
    """Structural similarity of two images or batches (Wang et al., 2004): local means,
    variances and covariance under a ``filter_size`` Gaussian window of ``filter_sigma`` (valid
    positions only), ``((2 m1 m2 + c1)(2 s12 + c2)) / ((m1^2 + m2^2 + c1)(s1^2 + s2^2 + c2))``
    with ``c1 = (k1 max_val)^2``, ``c2 = (k2 max_val)^2``, averaged over positions and
    channels: one value per image (a scalar for one image), in ``image1``'s dtype (computed in
    float; integer images' values truncated, as Keras). Differentiable in both images.
    """
    function = "ssim"
    data_format = check_data_format(function, data_format)
    image1 = _images(function, image1, name="image1")
    image2 = _images(function, image2, name="image2")
    if tuple(image1.shape) != tuple(image2.shape):
        raise ValueError(
            f"{function}: image1 and image2 must have the same shape; got "
            f"{tuple(image1.shape)} and {tuple(image2.shape)}."
        )
    (filter_size,) = _int_tuple(function, "filter_size", filter_size, 1)
    filter_sigma = _number(function, "filter_sigma", filter_sigma, positive=True)
    max_val, k1, k2 = (
        _number(function, n, v) for n, v in zip(("max_val", "k1", "k2"), (max_val, k1, k2))
    )
    dtype = image1.dtype
    x1, _ = _channels_last(_to_float(image1), data_format)
    x2, _ = _channels_last(cast_tensor(image2, x1.dtype), data_format)
    height, width = x1.shape[1], x1.shape[2]
    if filter_size > min(height, width):
        raise ValueError(
            f"{function}: filter_size ({filter_size}) must not exceed the images' height and "
            f"width ({height}, {width})."
        )
    kernel = _gaussian(filter_size, filter_sigma, x1.dtype)
    taps = {1: _valid_taps(kernel, height), 2: _valid_taps(kernel, width)}
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    mean1, mean2 = _along_axes(x1, taps), _along_axes(x2, taps)
    mean11, mean22, mean12 = mean1 * mean1, mean2 * mean2, mean1 * mean2
    var1 = _along_axes(x1 * x1, taps) - mean11
    var2 = _along_axes(x2 * x2, taps) - mean22
    cov = _along_axes(x1 * x2, taps) - mean12
    numerator = (2.0 * mean12 + c1) * (2.0 * cov + c2)
    denominator = (mean11 + mean22 + c1) * (var1 + var2 + c2)
    value = (numerator / denominator).mean(axis=(1, 2, 3))
    if image1.ndim == 3:
        value = F.reshape(value, ())
    return value if value.dtype == dtype else cast_tensor(value, dtype)
