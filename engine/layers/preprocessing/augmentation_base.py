"""What the Keras 3 image augmentation layers share: Keras's factor and value-range
arguments, images with labels, draws shared with sub-layers, and colour-space math.

A layer here takes channels-last images, batched or single, or a dict
``{"images": ..., "labels": ...}`` as Keras 3's augmentation layers do (labels
pass through, except in ``MixUp`` and ``CutMix``, which mix them with the
images); bounding boxes and segmentation masks are not supported. As the
layers of ``augmentation.py`` they augment when called directly or in ``fit``
and pass images through in ``predict``/``evaluate`` (``training=False``).

The colour conversions are Keras 3's on its torch backend, written with
differentiable ops: gradients reach the input images through every layer whose
output is a smooth function of them (everything but posterization and
equalization, which are step functions).
"""

import numpy

from ... import functional as F
from ...tensor import Tensor
from ..base import Layer
from .augmentation import RandomImageLayer, _is_number

#: Keras's ITU-R 601 luma weights (``ops.image.rgb_to_grayscale``)
LUMA = (0.2989, 0.587, 0.114)


def keras_factor(layer: Layer, argument: str, factor, low: float, high: float) -> tuple:
    """``(lower, upper)`` as Keras's ``_set_factor``: a number ``f`` in ``[low, high]`` gives
    ``(max(-|f|, low), |f|)``, a pair in ``[low, high]`` its sorted values."""
    values = list(factor) if isinstance(factor, (list, tuple)) else [factor]
    if (
        (isinstance(factor, (list, tuple)) and len(values) != 2)
        or not all(_is_number(v) for v in values)
        or any(not low <= v <= high for v in values)
    ):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{argument}` must be a number or a pair of "
            f"numbers (lower, upper) in [{low}, {high}]; got {factor!r}."
        )
    if len(values) == 2:
        lower, upper = sorted(values)
        return lower, upper
    magnitude = abs(values[0])
    return max(-magnitude, low), magnitude


def check_value_range(layer: Layer, value_range) -> tuple:
    """``(low, high)`` from a pair of numbers with ``low < high`` (Keras sorts the pair)."""
    if (
        not isinstance(value_range, (list, tuple))
        or len(value_range) != 2
        or not all(_is_number(v) for v in value_range)
        or value_range[0] == value_range[1]
    ):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `value_range` must be a pair (low, high) of "
            f"different numbers, the range of the input's values; got {value_range!r}."
        )
    low, high = sorted(value_range)
    return low, high


def rescale(images: Tensor, source: tuple, target: tuple) -> Tensor:
    """``images`` mapped linearly from the range ``source`` to ``target`` (Keras's
    ``_transform_value_range``: unchanged when the two are equal)."""
    if tuple(source) == tuple(target):
        return images
    scale = (target[1] - target[0]) / (source[1] - source[0])
    return (images - source[0]) * scale + target[0]


def grayscale(images: Tensor) -> Tensor:
    """``(n, h, w, 1)`` luma of RGB images (one channel: returned as it is)."""
    if images.shape[-1] == 1:
        return images
    weights = images.backend.asarray(numpy.asarray(LUMA).reshape(3, 1), dtype=images.dtype)
    return F.matmul(images, Tensor._wrap(weights, images.backend))


def rgb_to_hsv(images: Tensor) -> tuple:
    """``(hue, saturation, value)`` planes of RGB images, hue in [0, 1) (Keras's formulas)."""
    eps = float(numpy.finfo(images.dtype).eps)
    images = F.where(abs(images.data) < eps, 0.0, images)
    red, green, blue = images[..., 0], images[..., 1], images[..., 2]
    value, minimum = F.max(images, axis=-1), F.min(images, axis=-1)
    span = value - minimum
    positive_value, positive_span = value.data > 0, span.data > 0
    saturation = F.where(positive_value, span / F.where(positive_value, value, 1.0), 0.0)
    norm = 1.0 / (F.where(positive_span, span, 1.0) * 6.0)
    hue = F.where(
        value.data == green.data, norm * (blue - red) + 2 / 6, norm * (red - green) + 4 / 6
    )
    hue = F.where(value.data == red.data, norm * (green - blue), hue)
    wrap = (hue.data < 0).astype(hue.data.dtype)
    return F.where(positive_span, hue, 0.0) + wrap, saturation, value


def hsv_to_rgb(hue: Tensor, saturation: Tensor, value: Tensor) -> Tensor:
    """RGB images ``(n, h, w, 3)`` from hue, saturation and value planes."""
    sector = (hue - hue.backend.xp.floor(hue.data)) * 6.0
    weights = (
        F.clip(F.abs(sector - 3.0) - 1.0, 0.0, 1.0),
        F.clip(2.0 - F.abs(sector - 2.0), 0.0, 1.0),
        F.clip(2.0 - F.abs(sector - 4.0), 0.0, 1.0),
    )
    grey = 1.0 - saturation
    return F.stack([value * (grey + saturation * weight) for weight in weights], axis=-1)


class ImageAugmentation(RandomImageLayer):
    """A Keras 3 image augmentation layer: images or ``{"images", "labels"}`` in, the same out.

    Subclasses implement ``transform(images, training)`` on a batch, or
    ``augment(images, labels, training)`` where labels change too.
    """

    def _convert_inputs(self, inputs):
        if isinstance(inputs, dict):
            keys = set(inputs)
            if "images" not in keys or keys - {"images", "labels"}:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' takes images, or a dict with "
                    f"'images' and optionally 'labels' (bounding boxes and segmentation masks "
                    f"are not supported); got a dict with keys {sorted(keys)}."
                )
            return {key: self._single_input(value) for key, value in inputs.items()}
        return super()._convert_inputs(inputs)

    def call(self, inputs, training=True):
        given = inputs if isinstance(inputs, dict) else {"images": inputs}
        images, labels = given["images"], given.get("labels")
        self.check_images(images.shape)
        single = images.ndim == 3
        if single:
            images = images.reshape((1, *images.shape))
            labels = None if labels is None else labels.reshape((1, *labels.shape))
        images, labels = self.augment(images, labels, bool(training))
        if single:
            images = images.reshape(images.shape[1:])
            labels = None if labels is None else labels.reshape(labels.shape[1:])
        if not isinstance(inputs, dict):
            return images
        return {"images": images} if labels is None else {"images": images, "labels": labels}

    def augment(self, images, labels, training: bool):
        """``(images, labels)`` for a batch; labels (or None) pass through by default."""
        return self.transform(images, training), labels

    def per_image(self, images: Tensor, values) -> Tensor:
        """Host ``values``, one per image, as a constant ``(n, 1, 1, 1)`` tensor like ``images``."""
        array = numpy.asarray(values, dtype=images.dtype).reshape(-1, 1, 1, 1)
        return Tensor._wrap(images.backend.asarray(array), images.backend)

    def chosen(self, images: Tensor, factor: tuple) -> numpy.ndarray:
        """Which images Keras's "apply with probability" layers change: a threshold drawn from
        [0, 1) below a probability drawn from ``factor``, per image (host booleans)."""
        batch = images.shape[0]
        probability = self.uniform(images.backend, batch, *factor)
        return self.uniform(images.backend, batch, 0.0, 1.0) < probability

    def host_generator(self, backend) -> numpy.random.Generator:
        """A NumPy generator for draws other than uniform ones (permutations, beta, gamma):
        the layer's own when seeded, else one seeded from the backend's stream."""
        if self._generator is not None:
            return self._generator
        return numpy.random.default_rng(int(self.uniform(backend, 1, 0.0, 2.0**53)[0]))

    def share_draws(self, *layers: Layer) -> None:
        """Make ``layers`` (sub-layers applied by this one) draw from this layer's stream, as
        Keras's composite layers hand their seed generator to the layers they apply."""
        for layer in layers:
            layer.uniform = self.uniform
            layer.host_generator = self.host_generator

    def check_channels(self, images: Tensor, allowed=(3,)) -> None:
        if images.shape[-1] not in allowed:
            wanted = " or ".join(str(c) for c in allowed)
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects images with {wanted} channels "
                f"(RGB); got images of shape {tuple(images.shape)}."
            )


class ColorAugmentation(ImageAugmentation):
    """An augmentation of pixel values in ``value_range``, with a seed."""

    def __init__(self, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = check_value_range(self, value_range)

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range)}


class FactorColorAugmentation(ColorAugmentation):
    """A colour augmentation of strength ``factor``: Keras's number or pair in
    ``FACTOR_BOUNDS`` (see ``keras_factor``)."""

    FACTOR_BOUNDS = (0.0, 1.0)

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, "factor", factor, *self.FACTOR_BOUNDS)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}
