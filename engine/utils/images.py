"""Image files and arrays, as Keras 3's ``keras.utils``: ``load_img``, ``save_img``,
``img_to_array``, ``array_to_img``.

Images are PIL images, read and written by Pillow, an optional dependency
(``pip install pillow``); without it these functions raise an ImportError
saying so. Arrays are ``(height, width, channels)`` (``data_format=
"channels_first"`` reads and writes ``(channels, height, width)``, a plain
transpose on the host).
"""

import io
import os
import pathlib
import warnings

import numpy

from .. import config

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pillow(function: str):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f"{function} needs Pillow to read and write images, and it is not installed: "
            f"pip install pillow."
        ) from None
    return Image


def _data_format(function: str, data_format) -> str:
    data_format = config.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{function}: `data_format` must be 'channels_last' or 'channels_first'; got "
            f"{data_format!r}."
        )
    return data_format


def array_to_img(x, data_format=None, scale: bool = True, dtype=None):
    """A PIL image of a 3-D array: 1 channel gives a grayscale image (32-bit integers if
    a value is above 255), 3 RGB, 4 RGBA. With ``scale``, the values are first stretched
    to [0, 255] (minimum to 0, maximum to 255); otherwise they are truncated to bytes."""
    data_format = _data_format("array_to_img", data_format)
    image = _pillow("array_to_img")
    if hasattr(x, "numpy") and not isinstance(x, numpy.ndarray):
        x = x.numpy()
    x = numpy.array(x, dtype=dtype or config.floatx())
    if x.ndim != 3:
        raise ValueError(
            f"array_to_img: expected an image array of rank 3 (a single image); got shape "
            f"{x.shape}."
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - x.min()
        largest = x.max()
        if largest != 0:
            x /= largest
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if x.max() > 255:  # PIL's mode "I": 32-bit signed integer grayscale
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: unsupported number of channels: {channels} (1, 3 or 4).")


def img_to_array(img, data_format=None, dtype=None) -> numpy.ndarray:
    """A PIL image (or anything array-like) as a 3-D NumPy array, ``floatx`` by default;
    a grayscale image gets a channel axis of 1."""
    data_format = _data_format("img_to_array", data_format)
    x = numpy.asarray(img, dtype=dtype or config.floatx())
    if x.ndim == 2:
        x = x[None] if data_format == "channels_first" else x[..., None]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape} (rank 2 or 3).")
    return x


def save_img(path, x, data_format=None, file_format=None, scale: bool = True, **kwargs) -> None:
    """Write the array ``x`` as an image file; the format comes from the extension unless
    ``file_format`` is given (needed for a file object). ``kwargs`` go to Pillow's
    ``Image.save``. RGBA saved as JPEG is converted to RGB, with a warning, as Keras."""
    data_format = _data_format("save_img", data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn(
            "save_img: the JPEG format does not support RGBA images, converting to RGB.",
            UserWarning,
            stacklevel=2,
        )
        img = img.convert("RGB")
    img.save(path, format=file_format or None, **kwargs)


def load_img(
    path,
    color_mode: str = "rgb",
    target_size=None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
):
    """A PIL image read from ``path`` (a path or an ``io.BytesIO``), converted to
    ``color_mode`` ("grayscale", "rgb" or "rgba") and resized to ``target_size``
    ``(height, width)`` with ``interpolation``; ``keep_aspect_ratio`` first crops the
    centre to the target's aspect ratio, as Keras 3 does."""
    image = _pillow("load_img")
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(
            f"load_img: `color_mode` must be 'grayscale', 'rgb' or 'rgba'; got {color_mode!r}."
        )
    if isinstance(path, io.BytesIO):
        img = image.open(path)
    elif isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "rb") as handle:
            img = image.open(io.BytesIO(handle.read()))
    else:
        raise TypeError(f"load_img: `path` must be a path or an io.BytesIO, not {type(path)}.")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if target_size is None:
        return img
    size = (int(target_size[1]), int(target_size[0]))  # PIL's (width, height)
    if img.size == size:
        return img
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"load_img: invalid `interpolation` {interpolation!r}; supported methods are "
            f"{', '.join(_INTERPOLATIONS)}."
        )
    resample = getattr(image.Resampling, interpolation.upper())
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    target_width, target_height = size
    crop_height = min(height, (width * target_height) // target_width)
    crop_width = min(width, (height * target_width) // target_height)
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return img.resize(size, resample, box=(left, top, left + crop_width, top + crop_height))
