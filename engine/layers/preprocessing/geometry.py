"""Random geometric augmentation as Keras 3: RandomCrop, RandomShear, RandomPerspective and
RandomErasing (rectangles of each image replaced by noise or a fill value).

Shear and perspective sample each output pixel at a transformed position with
Keras's ``map_coordinates`` rules (``sampling.py``); gradients scatter back
along the same taps.
"""

import numpy

from ... import functional as F
from ...tensor import Tensor, apply
from ..base import register_layer
from . import sampling
from .augmentation import AffineLayer, _is_number
from .augmentation_base import ColorAugmentation, ImageAugmentation, keras_factor
from .image import _spatial_output_shape, check_choice, check_size


@register_layer
class RandomCrop(ImageAugmentation):
    """Crop a random ``(height, width)`` window, the same for every image of a batch, when
    training on images larger than that along both sides.

    Otherwise (at inference, or an image not larger) the largest centred window of
    the target's aspect ratio is cropped and resized to ``(height, width)``
    (bilinear), as Keras documents. Keras 3.15 itself returns the input uncropped
    at inference, and crops small images from the window's corner.
    """

    def __init__(self, height: int, width: int, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = check_size(self, "height", height)
        self.width = check_size(self, "width", width)

    def transform(self, images, training: bool):
        height, width = images.shape[1], images.shape[2]
        if training and height > self.height and width > self.width:
            top = int(self.uniform(images.backend, 1, 0.0, height - self.height + 1)[0])
            left = int(self.uniform(images.backend, 1, 0.0, width - self.width + 1)[0])
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


@register_layer
class RandomShear(ImageAugmentation, AffineLayer):
    """Shear each image about its top-left corner: the output pixel ``(x, y)`` samples the
    input at ``(x + sx * y, y + sy * x)``, ``sx`` drawn from ``x_factor`` and ``sy`` from
    ``y_factor`` (a number ``f`` in [0, 1] means ``[-f, f]``; a pair in [-1, 1] is the range),
    both negated for half the images, as Keras."""

    def __init__(
        self,
        x_factor=0.0,
        y_factor=0.0,
        interpolation: str = "bilinear",
        fill_mode: str = "reflect",
        fill_value: float = 0.0,
        data_format=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            fill_mode=fill_mode,
            interpolation=interpolation,
            seed=seed,
            fill_value=fill_value,
            data_format=data_format,
            **kwargs,
        )
        self.x_factor = self._shear_factor("x_factor", x_factor)
        self.y_factor = self._shear_factor("y_factor", y_factor)

    def _shear_factor(self, argument: str, factor) -> tuple:
        if isinstance(factor, (list, tuple)):  # Keras 3.15 refuses negative ends, saved or not
            return keras_factor(self, argument, factor, -1.0, 1.0)
        _, upper = keras_factor(self, argument, factor, 0.0, 1.0)
        return -upper, upper

    def matrices(self, backend, batch, height, width):
        sign = numpy.where(self.uniform(backend, batch, 0.0, 1.0) > 0.5, -1.0, 1.0)
        shear_y = self.uniform(backend, batch, *self.y_factor) * sign
        shear_x = self.uniform(backend, batch, *self.x_factor) * sign
        ones, zeros = numpy.ones(batch), numpy.zeros(batch)
        return numpy.stack([ones, shear_x, zeros, shear_y, ones, zeros], axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "x_factor": list(self.x_factor),
            "y_factor": list(self.y_factor),
        }


def homographies(start: numpy.ndarray, end: numpy.ndarray) -> numpy.ndarray:
    """``(n, 8)`` projective maps taking the four ``end`` points ``(n, 4, 2)`` to the ``start``
    points (Keras's ``compute_homography_matrix``)."""
    batch = start.shape[0]
    system = numpy.zeros((batch, 8, 8))
    for corner in range(4):
        (sx, sy), (ex, ey) = start[:, corner].T, end[:, corner].T
        system[:, 2 * corner, :3] = numpy.stack([ex, ey, numpy.ones(batch)], axis=-1)
        system[:, 2 * corner + 1, 3:6] = numpy.stack([ex, ey, numpy.ones(batch)], axis=-1)
        system[:, 2 * corner, 6:] = numpy.stack([-sx * ex, -sx * ey], axis=-1)
        system[:, 2 * corner + 1, 6:] = numpy.stack([-sy * ex, -sy * ey], axis=-1)
    return numpy.linalg.solve(system, start.reshape(batch, 8, 1))[..., 0]


def projective_transform(images: Tensor, maps, interpolation: str, fill_value: float) -> Tensor:
    """Each image sampled at ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``, ``k = c0 x +
    c1 y + 1``, for output pixel ``(x, y)``; ``maps`` ``(n, 8)`` on the host; outside the image
    ``fill_value`` (Keras's ``perspective_transform``)."""
    xp = images.backend.xp
    batch, height, width, channels = images.shape
    maps = xp.asarray(maps, dtype=numpy.float32).reshape(batch, 8, 1, 1)
    rows = xp.arange(height, dtype=numpy.float32).reshape(1, height, 1)
    cols = xp.arange(width, dtype=numpy.float32).reshape(1, 1, width)
    scale = maps[:, 6] * cols + maps[:, 7] * rows + 1.0
    source_x = (maps[:, 0] * cols + maps[:, 1] * rows + maps[:, 2]) / scale
    source_y = (maps[:, 3] * cols + maps[:, 4] * rows + maps[:, 5]) / scale
    indices, weights, outside = [], [], []
    for row, row_weight, row_valid in sampling._axis_taps(
        xp, source_y, height, interpolation, "constant"
    ):
        for col, col_weight, col_valid in sampling._axis_taps(
            xp, source_x, width, interpolation, "constant"
        ):
            weight = 1.0 if row_weight is None else row_weight * col_weight
            weight = weight * xp.ones(row.shape, dtype=numpy.float32)
            valid = row_valid & col_valid
            indices.append(row * width + col)
            weights.append(weight * valid)
            outside.append(weight * ~valid)
    index = xp.stack(indices, axis=-1).reshape(batch, height * width, -1)
    weight = xp.stack(weights, axis=-1).reshape(batch, height * width, -1)
    constant = None
    if fill_value != 0:
        constant = (sum(outside) * numpy.float32(fill_value)).reshape(batch, height * width)
    flat = images.reshape((batch, height * width, channels))
    return apply(sampling.GatherPixels(index, weight, constant), flat).reshape(images.shape)


@register_layer
class RandomPerspective(ImageAugmentation):
    """Warp images in perspective: each corner but the top-left one moves by a draw from
    ``[-scale / 2, scale / 2]`` times its coordinates, the image following the homography
    (outside: ``fill_value``); each image is warped when a draw from [0, 1) falls below a
    probability drawn from ``factor``."""

    def __init__(
        self,
        factor=1.0,
        scale=1.0,
        interpolation: str = "bilinear",
        fill_value: float = 0.0,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, "factor", factor, 0.0, 1.0)
        if not _is_number(scale) or not 0 <= scale <= 1:
            raise ValueError(
                f"RandomPerspective '{self.name}': `scale` must be a number in [0, 1]; "
                f"got {scale!r}."
            )
        self.scale = scale
        self.interpolation = check_choice(
            self, "interpolation", interpolation, sampling.AFFINE_INTERPOLATIONS
        )
        if not _is_number(fill_value):
            raise ValueError(
                f"RandomPerspective '{self.name}': `fill_value` must be a number; "
                f"got {fill_value!r}."
            )
        self.fill_value = fill_value

    def transform(self, images, training: bool):
        if not training:
            return images
        batch, height, width, _ = images.shape
        chosen = self.chosen(images, self.factor)
        moves = self.uniform(images.backend, batch * 8, -0.5 * self.scale, 0.5 * self.scale)
        corners = numpy.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]])
        start = numpy.repeat(corners[None].astype(numpy.float64), batch, axis=0)
        end = start + start * moves.reshape(batch, 4, 2)
        warped = projective_transform(
            images, homographies(start, end), self.interpolation, self.fill_value
        )
        return F.where(images.backend.asarray(chosen.reshape(-1, 1, 1, 1)), warped, images)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "scale": self.scale,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
        }


def box_masks(layer: ImageAugmentation, images: Tensor, ratios_x, ratios_y) -> tuple:
    """Keras's random boxes (CutMix, RandomErasing): per image, a box of ``ratio * size``
    along each axis at a uniformly drawn offset. Returns the ``(n, h, w, 1)`` host mask of
    pixels inside and the boxes' areas as fractions of the image."""
    batch, height, width, _ = images.shape
    bounds = []
    for ratios, size in ((ratios_x, width), (ratios_y, height)):
        length = (numpy.asarray(ratios) * size).astype(numpy.float32)
        start = (layer.uniform(images.backend, batch, 0.0, 1.0) * (size - length)).astype(
            numpy.float32
        )
        bounds.append((start, start + length))
    (x0, x1), (y0, y1) = bounds
    columns = numpy.arange(width, dtype=numpy.float32)[None, None, :]
    rows = numpy.arange(height, dtype=numpy.float32)[None, :, None]

    def inside(coordinates, low, high):
        return (coordinates >= low[:, None, None]) & (coordinates < high[:, None, None])

    masks = inside(columns, x0, x1) & inside(rows, y0, y1)
    areas = (x1 - x0) * (y1 - y0) / numpy.float32(width * height)
    return masks[..., None], areas


@register_layer
class RandomErasing(ColorAugmentation):
    """Replace a random box of each image, ``sqrt(s) * size`` along each side with ``s`` drawn
    per axis from ``scale``, when a draw from [0, 1) falls below a probability drawn from
    ``factor``. The box gets ``fill_value`` (a number or one per channel) or, when None,
    Gaussian noise times the top of ``value_range``; clipped to ``value_range``."""

    def __init__(
        self,
        factor=1.0,
        scale=(0.02, 0.33),
        fill_value=None,
        value_range=(0, 255),
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, "factor", factor, 0.0, 1.0)
        self.scale = keras_factor(self, "scale", scale, 0.0, 1.0)
        fills = fill_value if isinstance(fill_value, (list, tuple)) else [fill_value]
        if fill_value is not None and (
            len(fills) not in (1, 3) or not all(_is_number(v) for v in fills)
        ):
            raise ValueError(
                f"RandomErasing '{self.name}': `fill_value` must be None, a number or a list of "
                f"three numbers (one per channel); got {fill_value!r}."
            )
        self.fill_value = list(fill_value) if isinstance(fill_value, (list, tuple)) else fill_value

    def transform(self, images, training: bool):
        if not training:
            return images
        batch = images.shape[0]
        ratios = numpy.sqrt(self.uniform(images.backend, batch * 2, *self.scale)).reshape(batch, 2)
        masks, _ = box_masks(self, images, ratios[:, 0], ratios[:, 1])
        masks &= self.chosen(images, self.factor).reshape(-1, 1, 1, 1)
        low, high = self.value_range
        if self.fill_value is None:
            noise = self.host_generator(images.backend).standard_normal(images.shape) * high
        else:
            noise = numpy.broadcast_to(numpy.asarray(self.fill_value, float), images.shape)
        fill = images.backend.asarray(numpy.clip(noise, low, high).astype(images.dtype))
        masks = images.backend.asarray(numpy.broadcast_to(masks, images.shape))
        return F.where(masks, Tensor._wrap(fill, images.backend), images)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "scale": list(self.scale),
            "fill_value": self.fill_value,
        }
