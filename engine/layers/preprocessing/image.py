"""Image preprocessing layers: Resizing and CenterCrop, and the base of the image layers.

Images are channels-last: a batch ``(batch, height, width, channels)`` or one
image ``(height, width, channels)``, of any numeric dtype (integers come out as
the layer's float dtype, as in Keras).
"""

from ... import functional as F
from ...tensor import Tensor
from ..base import Layer, format_shape, register_layer
from ..conv import check_data_format
from . import sampling


def check_size(layer: Layer, argument: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{argument}` must be a positive integer, "
            f"got {value!r}."
        )
    return value


def check_choice(layer: Layer, argument: str, value, allowed: tuple) -> str:
    if value not in allowed:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{argument}` must be one of "
            f"{', '.join(repr(a) for a in allowed)}; got {value!r}."
        )
    return value


class ImageLayer(Layer):
    """A layer on channels-last images, batched (rank 4) or single (rank 3)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_data_format(data_format, f"{type(self).__name__} '{self.name}'")

    def check_images(self, shape) -> None:
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects channels-last images: a batch "
                f"(batch, height, width, channels) or one image (height, width, channels); "
                f"got an input of shape {format_shape(shape)}."
            )

    def call(self, inputs, training=False):
        self.check_images(inputs.shape)
        if inputs.ndim == 4:
            return self.transform(inputs, training)
        outputs = self.transform(inputs.reshape((1, *inputs.shape)), training)
        return outputs.reshape(outputs.shape[1:])

    def transform(self, images, training: bool):
        """The output for a batch of images ``(batch, height, width, channels)``."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        self.check_images(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last"}


def _spatial_output_shape(layer: ImageLayer, input_shape, height: int, width: int) -> tuple:
    layer.check_images(input_shape)
    shape = list(input_shape)
    shape[-3], shape[-2] = height, width
    return tuple(shape)


@register_layer
class Resizing(ImageLayer):
    """Resize images to ``(height, width)``, as Keras 3 on PyTorch (``antialias=False``).

    ``crop_to_aspect_ratio`` first crops the largest centred box of the target's
    aspect ratio; ``pad_to_aspect_ratio`` instead pads with ``fill_value``.
    """

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        fill_mode: str = "constant",
        fill_value: float = 0.0,
        antialias: bool = False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.height = check_size(self, "height", height)
        self.width = check_size(self, "width", width)
        self.interpolation = check_choice(
            self, "interpolation", interpolation, sampling.RESIZE_INTERPOLATIONS
        )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                f"Resizing '{self.name}': give only one of `crop_to_aspect_ratio` and "
                f"`pad_to_aspect_ratio`, not both."
            )
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = check_choice(self, "fill_mode", fill_mode, ("constant",))
        self.fill_value = float(fill_value)
        if antialias:
            raise ValueError(
                f"Resizing '{self.name}': antialias=True is not supported (Keras's default, "
                f"antialias=False, is); blur before downsampling, or resize in steps of at "
                f"most 2x."
            )
        self.antialias = False

    def transform(self, images, training: bool):
        height, width = images.shape[1], images.shape[2]
        if self.crop_to_aspect_ratio:
            top, left, crop_height, crop_width = sampling.aspect_crop_box(
                height, width, self.height, self.width
            )
            images = images[:, top : top + crop_height, left : left + crop_width, :]
        elif self.pad_to_aspect_ratio:
            padding = sampling.aspect_pad_box(height, width, self.height, self.width)
            images = _pad(images, *padding, self.fill_value)
        return sampling.resize(images, self.height, self.width, self.interpolation)

    def compute_output_shape(self, input_shape):
        return _spatial_output_shape(self, input_shape, self.height, self.width)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        }


def _pad(images, pad_height: int, pad_width: int, fill_value: float):
    """``images`` with ``pad_height`` rows above and below, ``pad_width`` columns each side."""
    if pad_height == pad_width == 0:
        return images
    xp = images.backend.xp

    def band(shape):
        return Tensor._wrap(xp.full(shape, fill_value, dtype=images.dtype), images.backend)

    batch, height, width, channels = images.shape
    if pad_height:
        rows = band((batch, pad_height, width, channels))
        images = F.concatenate([rows, images, rows], axis=1)
        height += 2 * pad_height
    if pad_width:
        cols = band((batch, height, pad_width, channels))
        images = F.concatenate([cols, images, cols], axis=2)
    return images


@register_layer
class CenterCrop(ImageLayer):
    """Crop the centre ``(height, width)`` of each image; an image smaller than that along
    either side is instead cropped to the target's aspect ratio and resized (bilinear), as
    Keras does."""

    def __init__(self, height: int, width: int, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height = check_size(self, "height", height)
        self.width = check_size(self, "width", width)

    def transform(self, images, training: bool):
        height, width = images.shape[1], images.shape[2]
        if height >= self.height and width >= self.width:
            top, left = (height - self.height) // 2, (width - self.width) // 2
            return images[:, top : top + self.height, left : left + self.width, :]
        top, left, crop_height, crop_width = sampling.aspect_crop_box(
            height, width, self.height, self.width
        )
        images = images[:, top : top + crop_height, left : left + crop_width, :]
        return sampling.resize(images, self.height, self.width, "bilinear")

    def compute_output_shape(self, input_shape):
        return _spatial_output_shape(self, input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
