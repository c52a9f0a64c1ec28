"""Random colour augmentation as Keras 3: RandomBrightness, RandomGrayscale, RandomHue,
RandomSaturation, RandomColorDegeneration, RandomColorJitter, RandomInvert,
RandomPosterization and Solarization.

Each draws a few numbers per image (see ``augmentation.py`` for seeding) and
changes pixel values only; shapes are kept. Where Keras 3.15's code and its
documentation disagree, the layer follows the documentation, and says so.
"""

import numpy

from ... import config
from ... import functional as F
from ...tensor import Tensor
from ..base import register_layer
from .augmentation import RandomContrast, _config_factor, _is_number
from .augmentation_base import (
    ColorAugmentation,
    FactorColorAugmentation,
    ImageAugmentation,
    grayscale,
    hsv_to_rgb,
    keras_factor,
    rescale,
    rgb_to_hsv,
)


@register_layer
class RandomBrightness(FactorColorAugmentation):
    """Add ``delta * (high - low)`` to every pixel, ``delta`` drawn per image from ``factor``
    (a number ``f`` in [-1, 1] means ``[-f, f]``), and clip to ``value_range = (low, high)``."""

    FACTOR_BOUNDS = (-1.0, 1.0)

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor, value_range, seed=seed, **kwargs)

    def transform(self, images, training: bool):
        if not training:
            return images
        low, high = self.value_range
        delta = self.uniform(images.backend, images.shape[0], *self.factor) * (high - low)
        return F.clip(images + self.per_image(images, delta), low, high)


@register_layer
class RandomGrayscale(ImageAugmentation):
    """Replace each image by its luma (``0.2989 R + 0.587 G + 0.114 B`` in every channel)
    with probability ``factor``."""

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _is_number(factor) or not 0 <= factor <= 1:
            raise ValueError(
                f"RandomGrayscale '{self.name}': `factor` (the probability of converting an "
                f"image) must be a number in [0, 1]; got {factor!r}."
            )
        self.factor = factor

    def transform(self, images, training: bool):
        if not training:
            return images
        self.check_channels(images, (1, 3))
        chosen = self.uniform(images.backend, images.shape[0], 0.0, 1.0) < self.factor
        luma = grayscale(images)
        luma = F.concatenate([luma] * images.shape[-1], axis=-1)
        mask = images.backend.asarray(chosen.reshape(-1, 1, 1, 1))
        return F.where(mask, luma, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@register_layer
class RandomHue(FactorColorAugmentation):
    """Rotate each image's hue by ``±f / 2`` of a turn, ``f`` drawn from ``factor`` (a number
    ``f`` in [0, 1] means ``[0, f]``) and the sign at random; RGB images in ``value_range``."""

    def draw(self, backend, batch: int) -> numpy.ndarray:
        """The hue shift of each image, in turns."""
        sign = numpy.where(self.uniform(backend, batch, 0.0, 1.0) > 0.5, -1.0, 1.0)
        return sign * self.uniform(backend, batch, *self.factor) * 0.5

    def transform(self, images, training: bool):
        if not training:
            return images
        self.check_channels(images)
        shift = self.draw(images.backend, images.shape[0])
        hue, saturation, value = rgb_to_hsv(rescale(images, self.value_range, (0.0, 1.0)))
        hue = hue + self.per_image(images, shift).reshape((-1, 1, 1))
        hue = F.where(hue.data > 1.0, hue - 1.0, hue)
        hue = F.where(hue.data < 0.0, hue + 1.0, hue)
        rgb = F.clip(hsv_to_rgb(hue, saturation, value), 0.0, 1.0)
        return rescale(rgb, (0.0, 1.0), self.value_range)


@register_layer
class RandomSaturation(FactorColorAugmentation):
    """Scale each image's saturation by ``f / (1 - f)``, ``f`` drawn from ``factor`` in [0, 1]
    (0.5 keeps the image, 0 makes it grey, 1 fully saturated; a number ``f`` means ``[0, f]``).

    Keras 3.15 parses one number ``f`` as ``[-f, f]`` (a negative draw gives grey) and
    clips the saturation to ``value_range`` instead of [0, 1]; this layer does what
    Keras documents. Pairs in [0, 1] give Keras's numbers whenever the scaled
    saturation stays at most 1, and always with ``value_range=(0, 1)``.
    """

    def transform(self, images, training: bool):
        if not training:
            return images
        self.check_channels(images)
        drawn = self.uniform(images.backend, images.shape[0], *self.factor)
        scale = drawn / (1.0 - drawn + config.epsilon())
        hue, saturation, value = rgb_to_hsv(images)
        saturation = F.clip(saturation * self.per_image(images, scale).reshape((-1, 1, 1)), 0, 1)
        return hsv_to_rgb(hue, saturation, value)


@register_layer
class RandomColorDegeneration(FactorColorAugmentation):
    """Blend each image toward its luma by ``f`` drawn from ``factor`` (0 keeps it, 1 makes it
    grey; a number ``f`` in [0, 1] means ``[0, f]``), clipped to ``value_range``.

    Keras 3.15 parses one number ``f`` as ``[-f, f]`` (a negative draw oversaturates);
    this layer does what Keras documents. Pairs give Keras's numbers.
    """

    def transform(self, images, training: bool):
        if not training:
            return images
        self.check_channels(images, (1, 3))
        blend = self.per_image(images, self.uniform(images.backend, images.shape[0], *self.factor))
        blended = images + blend * (grayscale(images) - images)
        return F.clip(blended, *self.value_range)


@register_layer
class RandomColorJitter(ColorAugmentation):
    """RandomBrightness, RandomContrast, RandomSaturation and RandomHue in that order, each
    with its ``*_factor`` (a layer whose factor is None is skipped)."""

    def __init__(
        self,
        value_range=(0, 255),
        brightness_factor=None,
        contrast_factor=None,
        saturation_factor=None,
        hue_factor=None,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = saturation_factor
        self.hue_factor = hue_factor
        value_range = list(self.value_range)
        jitters = []
        for factor, layer_class in (
            (brightness_factor, RandomBrightness),
            (contrast_factor, RandomContrast),
            (saturation_factor, RandomSaturation),
            (hue_factor, RandomHue),
        ):
            if factor is not None:
                jitters.append(layer_class(factor=factor, value_range=value_range))
        self._jitters = jitters
        self.share_draws(*jitters)

    def transform(self, images, training: bool):
        if training:
            for layer in self._jitters:
                images = layer.transform(images, True)
        return images

    def get_config(self):
        return {
            **super().get_config(),
            "brightness_factor": _config_factor(self.brightness_factor),
            "contrast_factor": _config_factor(self.contrast_factor),
            "saturation_factor": _config_factor(self.saturation_factor),
            "hue_factor": _config_factor(self.hue_factor),
        }


@register_layer
class RandomInvert(FactorColorAugmentation):
    """Replace images by ``high - image`` (``value_range = (low, high)``): each image is
    inverted when a draw from [0, 1) falls below a probability drawn from ``factor`` (Keras's
    two draws: ``factor=1.0``, the default, inverts about half the images)."""

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor, value_range, data_format=data_format, seed=seed, **kwargs)

    def transform(self, images, training: bool):
        if not training:
            return images
        chosen = self.chosen(images, self.factor)
        mask = images.backend.asarray(chosen.reshape(-1, 1, 1, 1))
        return F.where(mask, self.value_range[1] - images, images)


@register_layer
class RandomPosterization(FactorColorAugmentation):
    """Keep the ``b`` high bits of each 8-bit channel value, ``b`` drawn per image from the
    integers in ``[lower, upper)`` of ``factor`` (a number ``f`` in [1, 8] means ``[1, f)``;
    ``lower == upper`` fixes it), as Keras: pixels are mapped from ``value_range`` to
    [0, 255] and truncated to integers first. A step function: no gradient reaches the input."""

    FACTOR_BOUNDS = (1, 8)

    def draw(self, backend, batch: int) -> numpy.ndarray:
        """The number of bits kept in each image."""
        lower, upper = self.factor
        if lower == upper:
            return numpy.full(batch, lower)
        return numpy.floor(self.uniform(backend, batch, lower, upper))

    def transform(self, images, training: bool):
        if not training:
            return images
        bits = self.draw(images.backend, images.shape[0])
        step = self.per_image(images, 2.0 ** (8 - bits)).data
        xp = images.backend.xp
        levels = xp.floor(xp.clip(rescale(images, self.value_range, (0, 255)).data, 0, 255))
        posterized = xp.floor(levels / step) * step
        out = Tensor._wrap(posterized.astype(images.dtype), images.backend)
        return rescale(out, (0, 255), self.value_range)


@register_layer
class Solarization(ColorAugmentation):
    """Add ``a`` to every pixel (clipped to [0, 255]) and invert those at or above a
    threshold ``t`` (``255 - x``), on images mapped from ``value_range`` to [0, 255].

    ``a / 255`` is drawn per image from ``addition_factor`` and ``t / 255`` from
    ``threshold_factor`` (a number ``f`` in [0, 1] means ``[0, f]``). The defaults
    (both 0) invert every pixel. Keras 3.15 leaves the lower end of a pair
    unscaled (``[lower, 255 * upper]``); this layer scales both, as documented.
    """

    def __init__(
        self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, **kwargs
    ):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.addition_factor = keras_factor(self, "addition_factor", addition_factor, 0.0, 1.0)
        self.threshold_factor = keras_factor(self, "threshold_factor", threshold_factor, 0, 1)

    def transform(self, images, training: bool):
        if not training:
            return images
        backend, batch = images.backend, images.shape[0]
        additions = self.uniform(backend, batch, *(255 * f for f in self.addition_factor))
        thresholds = self.uniform(backend, batch, *(255 * f for f in self.threshold_factor))
        shifted = rescale(images, self.value_range, (0, 255)) + self.per_image(images, additions)
        shifted = F.clip(shifted, 0.0, 255.0)
        below = shifted.data < self.per_image(images, thresholds).data
        solarized = F.where(below, shifted, 255.0 - shifted)
        return rescale(solarized, (0, 255), self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "addition_factor": list(self.addition_factor),
            "threshold_factor": list(self.threshold_factor),
        }
