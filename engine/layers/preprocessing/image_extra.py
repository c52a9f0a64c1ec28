"""Contrast-limited adaptive histogram equalization and random elastic deformation, as Keras
3.15's ContrastLimitedAdaptiveHistogramEqualization and RandomElasticTransform.

CLAHE is deterministic and, as Keras's, active at inference too. Each image is padded at
the bottom and right (mirrored, edge pixels repeated) to a whole number of tiles,
``tile_grid_size`` of them; each tile and channel gets a histogram of its pixels' integer
levels (values mapped from ``value_range`` to [0, 255], truncated), whose bins above
``clip_limit`` times the mean bin count are cut and the excess spread evenly over all 256
bins; the normalized cumulative histogram is the tile's mapping. A pixel takes the
bilinear blend of the mappings of the four tiles whose centres surround it (tile ``k``
centred at ``k * tile + tile / 2`` in pixel indices, clamped at the borders). A step
function of the pixel values: no gradient reaches the input.

RandomElasticTransform displaces each pixel by a field of Gaussian noise smoothed by a
Gaussian of width ``sigma`` and scaled by ``alpha`` (Simard et al., 2003), one strength
drawn per call from ``scale``, and samples the image there with ``map_coordinates``'s rules
(``engine.ops_image``: Keras's JAX numbers). It augments when called directly and in
``fit``, and passes images through in ``predict``/``evaluate``, as the layers of
``augmentation.py``; gradients reach the images through the sampling.

As the other image layers here, both take channels-last images (batched or one) or a dict
``{"images", "labels"}``, and compute in the layer's float dtype (integer images come
out as floats).
"""

import numpy

from ... import functional as F
from ... import ops_image
from ...tensor import Tensor
from ..base import register_layer
from .augmentation import _is_number
from .augmentation_base import ColorAugmentation, keras_factor
from .image import check_choice
from .tone import DeterministicColorLayer

LEVELS = 256  # histogram bins: the integer levels of [0, 255]


def _to_range(values, source: tuple, target: tuple):
    """Float ``values`` mapped linearly from ``source`` to ``target`` (unchanged when equal),
    in the order of operations Keras uses, so that truncation to levels agrees."""
    if tuple(source) == tuple(target):
        return values
    unit = (values - source[0]) / (source[1] - source[0])
    return unit * (target[1] - target[0]) + target[0]


def _mirror_indices(size: int, padded: int) -> numpy.ndarray:
    """Indices ``0 .. size - 1`` extended to ``padded`` entries by mirroring with the edge
    repeated (``numpy.pad``'s "symmetric")."""
    return numpy.pad(numpy.arange(size), (0, padded - size), mode="symmetric")


def _blend_positions(xp, size: int, tile: int, tiles: int):
    """For each pixel index along one axis: the two surrounding tiles (clamped) and the
    weight of the second, in float32."""
    pixels = xp.arange(size, dtype=numpy.float32)
    # in 1-based tile coordinates (tile k's centre, pixel k * tile + tile / 2, at k + 1)
    position = (pixels - numpy.float32(tile / 2.0)) / numpy.float32(tile) + numpy.float32(1.0)
    lower = xp.floor(position)
    weight = position - lower
    first = xp.clip(lower.astype(numpy.int64) - 1, 0, tiles - 1)
    second = xp.clip(lower.astype(numpy.int64), 0, tiles - 1)
    return first, second, weight


def clahe(xp, levels, tile_grid_size: tuple, clip_limit: float):
    """CLAHE of float32 images ``(n, h, w, c)`` with values on the [0, 255] scale (backend
    arrays); returns float32 values in [0, 255]."""
    batch, height, width, channels = levels.shape
    grid_h, grid_w = tile_grid_size
    tile_h, tile_w = -(-height // grid_h), -(-width // grid_w)
    pixels = tile_h * tile_w
    bins = xp.clip(levels, 0, LEVELS - 1).astype(numpy.int64)  # truncated toward zero

    # one histogram per (image, tile row, tile column, channel), on the padded images
    padded = xp.take(bins, xp.asarray(_mirror_indices(height, tile_h * grid_h)), axis=1)
    padded = xp.take(padded, xp.asarray(_mirror_indices(width, tile_w * grid_w)), axis=2)
    tile_rows = (xp.arange(tile_h * grid_h) // tile_h).reshape(1, -1, 1, 1)
    tile_cols = (xp.arange(tile_w * grid_w) // tile_w).reshape(1, 1, -1, 1)
    images = xp.arange(batch).reshape(-1, 1, 1, 1)
    planes = xp.arange(channels).reshape(1, 1, 1, -1)
    slot = ((images * grid_h + tile_rows) * grid_w + tile_cols) * channels + planes
    count = batch * grid_h * grid_w * channels * LEVELS
    histograms = xp.bincount((slot * LEVELS + padded).ravel(), minlength=count)
    histograms = histograms.astype(numpy.float32).reshape(batch, grid_h, grid_w, channels, LEVELS)

    if clip_limit > 0:  # cut every bin at the limit, spread the excess over all bins
        limit = numpy.float32(clip_limit * pixels / float(LEVELS))
        clipped = xp.minimum(histograms, limit)
        excess = (histograms - clipped).sum(axis=-1, keepdims=True)
        histograms = clipped + excess / numpy.float32(LEVELS)
    cdf = xp.cumsum(histograms, axis=-1)
    lowest = cdf.min(axis=-1, keepdims=True)
    span = numpy.float32(pixels) - lowest
    span = xp.where(span == 0, numpy.float32(1.0), span)
    mappings = xp.clip((cdf - lowest) * numpy.float32(255.0) / span, 0.0, 255.0)

    # each pixel: its level looked up in the four surrounding tiles' mappings, blended
    row0, row1, row_weight = _blend_positions(xp, height, tile_h, grid_h)
    col0, col1, col_weight = _blend_positions(xp, width, tile_w, grid_w)
    row0, row1 = row0.reshape(1, -1, 1, 1), row1.reshape(1, -1, 1, 1)
    col0, col1 = col0.reshape(1, 1, -1, 1), col1.reshape(1, 1, -1, 1)
    row_weight = row_weight.reshape(1, -1, 1, 1)
    col_weight = col_weight.reshape(1, 1, -1, 1)

    def mapped(rows, cols):
        return mappings[images, rows, cols, planes, bins]

    one = numpy.float32(1.0)
    top = mapped(row0, col0) * (one - col_weight) + mapped(row0, col1) * col_weight
    bottom = mapped(row1, col0) * (one - col_weight) + mapped(row1, col1) * col_weight
    return top * (one - row_weight) + bottom * row_weight


@register_layer
class ContrastLimitedAdaptiveHistogramEqualization(DeterministicColorLayer):
    """Contrast Limited Adaptive Histogram Equalization (CLAHE) of each channel of each image
    (see the module's description).

    ``value_range``: the range of the input's values (mapped to [0, 255] and back);
    ``clip_limit``: the most a histogram bin may hold, in multiples of the mean bin count
    (0 or less: no clipping); ``tile_grid_size``: the number of tiles ``(rows, columns)``.
    """

    def __init__(
        self,
        value_range=(0, 255),
        clip_limit=4.0,
        tile_grid_size=(8, 8),
        data_format=None,
        **kwargs,
    ):
        super().__init__(value_range=value_range, data_format=data_format, **kwargs)
        if not _is_number(clip_limit):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `clip_limit` must be a number (0 or "
                f"less: no clipping); got {clip_limit!r}."
            )
        self.clip_limit = clip_limit
        if (
            not isinstance(tile_grid_size, (list, tuple))
            or len(tile_grid_size) != 2
            or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in tile_grid_size
            )
        ):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `tile_grid_size` must be a pair of "
                f"positive integers (rows, columns) of tiles; got {tile_grid_size!r}."
            )
        self.tile_grid_size = tuple(tile_grid_size)

    def transform(self, images, training: bool):
        xp = images.backend.xp
        levels = _to_range(images.data.astype(numpy.float32), self.value_range, (0.0, 255.0))
        equalized = clahe(xp, levels, self.tile_grid_size, self.clip_limit)
        values = _to_range(equalized, (0.0, 255.0), self.value_range)
        return Tensor._wrap(values.astype(images.dtype), images.backend)

    def get_config(self):
        return {
            **super().get_config(),
            "clip_limit": self.clip_limit,
            "tile_grid_size": list(self.tile_grid_size),
        }


def elastic_parameters(height: int, width: int, strength) -> tuple:
    """``(alpha, sigma)`` for a distortion ``strength`` (Keras's: a tenth of the longer side
    and a twentieth of the shorter one, times the strength), in float32."""
    strength = numpy.float32(strength)
    alpha = numpy.float32(max(height, width)) * (numpy.float32(0.1) * strength)
    sigma = numpy.float32(min(height, width)) * (numpy.float32(0.05) * strength)
    return alpha, sigma


def elastic_transform(
    images: Tensor,
    noise,
    strength,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
) -> Tensor:
    """``images`` ``(n, h, w, c)`` deformed by the displacement fields made from ``noise``, a
    host array ``(2, n, h, w)`` of standard normal draws (the column field, then the row
    field): each field is ``noise * sigma`` blurred by a Gaussian of ``sigma`` over
    ``int(6 * sigma) | 1`` taps (zero padding), and output pixel ``(y, x)`` samples the
    input at ``(y + alpha * dy, x + alpha * dx)``; see ``elastic_parameters`` and
    ``ops_image.elastic_warp``, which ``ops.image.elastic_transform`` shares."""
    _, height, width, _ = images.shape
    alpha, sigma = elastic_parameters(height, width, strength)
    if not sigma > 0:  # no displacement (Keras's blur of width 0 would give NaN)
        return images
    return ops_image.elastic_warp(images, noise, alpha, sigma, interpolation, fill_mode, fill_value)


@register_layer
class RandomElasticTransform(ColorAugmentation):
    """Deform images elastically: each image, when a draw from [0, 1) falls below a
    probability drawn from ``factor``, is resampled along a smoothed random displacement
    field (see ``elastic_transform``) whose strength is drawn once per call from ``scale``;
    every image is then clipped to ``value_range``.

    ``factor`` and ``scale``: a number ``f`` in [0, 1] means ``[0, f]``, a pair the range
    (0 for either: images pass through). ``interpolation``: ``"bilinear"`` or ``"nearest"``;
    ``fill_mode``: ``"reflect"``, ``"mirror"``, ``"wrap"``, ``"nearest"`` or ``"constant"``
    (``fill_value``).
    """

    def __init__(
        self,
        factor=1.0,
        scale=1.0,
        interpolation: str = "bilinear",
        fill_mode: str = "reflect",
        fill_value: float = 0.0,
        value_range=(0, 255),
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, "factor", factor, 0.0, 1.0)
        self.scale = keras_factor(self, "scale", scale, 0.0, 1.0)
        self.interpolation = check_choice(
            self, "interpolation", interpolation, ops_image.AFFINE_INTERPOLATIONS
        )
        self.fill_mode = check_choice(self, "fill_mode", fill_mode, ops_image.FILL_MODES)
        if not _is_number(fill_value):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `fill_value` must be a number; got "
                f"{fill_value!r}."
            )
        self.fill_value = float(fill_value)

    def transform(self, images, training: bool):
        if not training or self.factor[1] == 0 or self.scale[1] == 0:
            return images
        batch, height, width, _ = images.shape
        chosen = self.chosen(images, self.factor)
        strength = self.uniform(images.backend, 1, *self.scale)[0]
        noise = self.host_generator(images.backend).standard_normal((2, batch, height, width))
        warped = elastic_transform(
            images, noise, strength, self.interpolation, self.fill_mode, self.fill_value
        )
        mask = images.backend.asarray(chosen.reshape(-1, 1, 1, 1))
        return F.clip(F.where(mask, warped, images), *self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "scale": list(self.scale),
            "interpolation": self.interpolation,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
        }
