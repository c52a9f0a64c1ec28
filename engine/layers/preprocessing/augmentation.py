"""Random image augmentation: RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
RandomContrast.

As in Keras 3 they transform images when training and pass them through (as
floats) at inference: ``fit`` calls them with ``training=True``, ``predict`` and
``evaluate`` with ``training=False``, and a layer called directly with no
``training`` argument augments (Keras's ``call(..., training=True)`` default).
Inside a model, the model's own mode decides.

The random numbers (a few per image) come from the backend's generator, seeded
by ``engine.utils.set_random_seed`` and, in ``fit``, per epoch as dropout masks
are; a layer given ``seed=`` draws from its own generator instead, the same
sequence for every layer made with that seed (Keras's ``SeedGenerator(seed)``).
"""

import math

import numpy

from ... import functional as F
from ... import symbolic
from ...functional.shape import flip
from ..base import Layer, register_layer
from . import sampling
from .image import ImageLayer, check_choice


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_factor(layer: Layer, argument: str, factor, low: float, high: float, low_open=False):
    """``(lower, upper)`` from a number ``f`` (``(-|f|, |f|)``) or a pair, in ``[low, high]``."""
    pair = list(factor) if isinstance(factor, (list, tuple)) else None
    values = pair if pair is not None else [factor]
    below = (lambda v: v <= low) if low_open else (lambda v: v < low)
    if (
        (pair is not None and len(pair) != 2)
        or not all(_is_number(v) for v in values)
        or any(below(v) or v > high for v in values)
    ):
        interval = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{argument}` must be a number or a pair of "
            f"numbers (lower, upper) in {interval}; got {factor!r}."
        )
    if pair is None:
        return -abs(float(factor)), abs(float(factor))
    lower, upper = sorted(float(v) for v in pair)
    return lower, upper


def _config_factor(factor):
    return list(factor) if isinstance(factor, (list, tuple)) else factor


class RandomImageLayer(ImageLayer):
    """An image layer that draws a few random numbers per image when training."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `seed` must be a non-negative integer or "
                f"None, got {seed!r}."
            )
        self.seed = seed
        self._generator = None if seed is None else numpy.random.default_rng(seed)

    def __call__(self, inputs, *args, training=None, mask=None, **kwargs):
        if training is None and not args and not symbolic.is_symbolic(inputs):
            training = True  # Keras 3: called directly, a random layer augments
        return super().__call__(inputs, *args, training=training, mask=mask, **kwargs)

    def uniform(self, backend, size: int, low: float, high: float) -> numpy.ndarray:
        """``size`` host float64 samples from ``[low, high)``."""
        if self._generator is not None:
            values = self._generator.random(size)
        else:
            values = backend.to_numpy(backend.random_uniform((size,), numpy.dtype("float64")))
        return low + (high - low) * values

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@register_layer
class RandomFlip(RandomImageLayer):
    """Flip each image left-right and/or upside down, each with probability 1/2.

    ``mode`` is ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``
    (independent draws for the two flips).
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode: str = "horizontal_and_vertical", seed=None, data_format=None, **kw):
        super().__init__(seed=seed, data_format=data_format, **kw)
        self.mode = check_choice(self, "mode", mode, self.MODES)

    def transform(self, images, training: bool):
        if not training:
            return images
        batch = images.shape[0]
        for name, axis in (("horizontal", 2), ("vertical", 1)):
            if name in self.mode:
                flips = self.uniform(images.backend, batch, 0.0, 1.0) <= 0.5
                images = F.where(flips.reshape(-1, 1, 1, 1), flip(images, (axis,)), images)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class AffineLayer(RandomImageLayer):
    """A random geometric transform, sampled with ``interpolation`` and ``fill_mode``."""

    def __init__(
        self,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed=None,
        fill_value: float = 0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.fill_mode = check_choice(self, "fill_mode", fill_mode, sampling.FILL_MODES)
        self.interpolation = check_choice(
            self, "interpolation", interpolation, sampling.AFFINE_INTERPOLATIONS
        )
        if not _is_number(fill_value):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `fill_value` must be a number, got "
                f"{fill_value!r}."
            )
        self.fill_value = float(fill_value)

    def matrices(self, backend, batch: int, height: int, width: int) -> numpy.ndarray:
        """``(batch, 6)`` random affine matrices (see ``sampling.affine_transform``)."""
        raise NotImplementedError

    def transform(self, images, training: bool):
        if not training:
            return images
        batch, height, width, _ = images.shape
        matrices = self.matrices(images.backend, batch, height, width)
        return sampling.affine_transform(
            images, matrices, self.interpolation, self.fill_mode, self.fill_value
        )

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
        }


@register_layer
class RandomRotation(AffineLayer):
    """Rotate each image about its centre by a random fraction of a full turn in
    ``factor`` (``0.1``: up to 36 degrees either way; ``(-0.2, 0.1)``: that range)."""

    def __init__(
        self,
        factor,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed=None,
        fill_value: float = 0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = parse_factor(self, "factor", factor, -1.0, 1.0)

    def matrices(self, backend, batch, height, width):
        lower, upper = self.factor
        turns = self.uniform(backend, batch, lower, upper)
        return sampling.rotation_matrices(turns * 2 * math.pi, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


@register_layer
class RandomZoom(AffineLayer):
    """Zoom each image about its centre: a factor ``f`` draws a scale in ``[1 + lower,
    1 + upper]`` of the area shown (positive: zoom out, negative: zoom in).

    Without ``width_factor`` both axes take the same scale (the aspect ratio is kept).
    """

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed=None,
        fill_value: float = 0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._height_range = parse_factor(self, "height_factor", height_factor, -1, 1, True)
        self._width_range = None
        if width_factor is not None:
            self._width_range = parse_factor(self, "width_factor", width_factor, -1, 1, True)

    def matrices(self, backend, batch, height, width):
        lower, upper = self._height_range
        height_zoom = self.uniform(backend, batch, 1.0 + lower, 1.0 + upper)
        width_zoom = height_zoom
        if self._width_range is not None:
            lower, upper = self._width_range
            width_zoom = self.uniform(backend, batch, 1.0 + lower, 1.0 + upper)
        return sampling.zoom_matrices(height_zoom, width_zoom, height, width)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": _config_factor(self.height_factor),
            "width_factor": _config_factor(self.width_factor),
        }


@register_layer
class RandomTranslation(AffineLayer):
    """Shift each image by a random fraction of its height (``height_factor``) and width
    (``width_factor``); a number ``f`` means ``[-f, f]``, a pair ``(lower, upper)`` that range."""

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed=None,
        fill_value: float = 0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._height_range = parse_factor(self, "height_factor", height_factor, -1.0, 1.0)
        self._width_range = parse_factor(self, "width_factor", width_factor, -1.0, 1.0)

    def matrices(self, backend, batch, height, width):
        dy = self.uniform(backend, batch, *self._height_range) * height
        dx = self.uniform(backend, batch, *self._width_range) * width
        return sampling.translation_matrices(dy, dx)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": _config_factor(self.height_factor),
            "width_factor": _config_factor(self.width_factor),
        }


@register_layer
class RandomContrast(RandomImageLayer):
    """Scale each image's deviation from its per-channel mean by a random factor in
    ``[1 - lower, 1 + upper]`` and clip to ``value_range``.

    ``factor`` is a number ``f`` in [0, 1] (the factor lies in ``[1 - f, 1 + f]``)
    or a pair ``(lower, upper)``.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor
        lower, upper = parse_factor(self, "factor", factor, 0.0, 1.0)
        if not isinstance(factor, (list, tuple)):
            lower = upper  # one number bounds the factor on both sides of 1
        self._range = (1.0 - lower, 1.0 + upper)
        if (
            not isinstance(value_range, (list, tuple))
            or len(value_range) != 2
            or not all(_is_number(v) for v in value_range)
            or value_range[0] >= value_range[1]
        ):
            raise ValueError(
                f"RandomContrast '{self.name}': `value_range` must be a pair (low, high) with "
                f"low < high, got {value_range!r}."
            )
        self.value_range = tuple(value_range)

    def transform(self, images, training: bool):
        if not training:
            return images
        factors = self.uniform(images.backend, images.shape[0], *self._range)
        factors = images.backend.asarray(factors.reshape(-1, 1, 1, 1).astype(images.dtype))
        mean = F.mean(images, axis=(1, 2), keepdims=True)
        adjusted = F.add(F.multiply(F.subtract(images, mean), factors), mean)
        return F.clip(adjusted, *self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": _config_factor(self.factor),
            "value_range": list(self.value_range),
        }
