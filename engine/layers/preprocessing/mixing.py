"""Augmentations that mix images or chain other augmentations, as Keras 3: MixUp and CutMix
(which mix labels given as ``{"images": ..., "labels": ...}`` with the images), RandAugment,
AugMix, and Pipeline (layers applied in order).
"""

import numpy

from ... import functional as F
from ..base import Layer, register_layer
from ..serialization import deserialize, serialize
from .augmentation import RandomContrast, RandomRotation, RandomTranslation, _is_number
from .augmentation_base import ColorAugmentation, ImageAugmentation, keras_factor
from .color import (
    RandomBrightness,
    RandomColorDegeneration,
    RandomPosterization,
    Solarization,
)
from .geometry import RandomShear, box_masks
from .tone import AutoContrast, Equalization, RandomSharpness


def _mix(tensor, weights: numpy.ndarray, permutation: numpy.ndarray):
    """``weights * tensor + (1 - weights) * tensor[permutation]`` along the batch axis."""
    shape = (-1,) + (1,) * (tensor.ndim - 1)
    weights = tensor.backend.asarray(weights.astype(tensor.dtype).reshape(shape))
    index = tensor.backend.asarray(permutation)
    return tensor * weights + tensor[index] * (1.0 - weights)


@register_layer
class MixUp(ImageAugmentation):
    """Blend each image (and its labels) with another of the batch: ``w * x + (1 - w) *
    x[p]``, ``p`` a random permutation and ``w`` drawn per image from Beta(alpha, alpha)."""

    def __init__(self, alpha: float = 0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _is_number(alpha) or alpha <= 0:
            raise ValueError(
                f"MixUp '{self.name}': `alpha` must be a positive number, got {alpha!r}."
            )
        self.alpha = alpha

    def augment(self, images, labels, training: bool):
        if not training:
            return images, labels
        generator = self.host_generator(images.backend)
        batch = images.shape[0]
        permutation = generator.permutation(batch)
        weights = generator.beta(self.alpha, self.alpha, batch)
        images = _mix(images, weights, permutation)
        labels = None if labels is None else _mix(labels, weights, permutation)
        return images, labels

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register_layer
class CutMix(ImageAugmentation):
    """Paste a random box of another image of the batch into each image; labels mix by the
    area kept. The box is ``sqrt(1 - w)`` of each side, ``w`` drawn per image from Beta(a,
    a), ``a`` drawn once per call from ``factor`` (a number ``f`` in [0, 1] means ``[0, f]``)."""

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, "factor", factor, 0.0, 1.0)

    def augment(self, images, labels, training: bool):
        if not training:
            return images, labels
        backend, batch = images.backend, images.shape[0]
        alpha = self.uniform(backend, 1, *self.factor)[0] + 1e-6
        generator = self.host_generator(backend)
        ratios = numpy.sqrt(1.0 - generator.beta(alpha, alpha, batch))
        masks, areas = box_masks(self, images, ratios, ratios)
        permutation = generator.permutation(batch)
        masks = backend.asarray(numpy.broadcast_to(masks, images.shape))
        images = F.where(masks, images[backend.asarray(permutation)], images)
        if labels is not None:
            labels = _mix(labels, 1.0 - areas, permutation)
        return images, labels

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


def _augmentations(layer: ColorAugmentation, interpolation: str, all_ops: bool = True) -> dict:
    """The sub-layers RandAugment and AugMix choose from, by Keras's names, in Keras's order
    (AugMix's: geometry, posterization, solarization, autocontrast, equalization first)."""
    factor, value_range = list(layer.factor), list(layer.value_range)
    geometry = {
        "random_shear": RandomShear(factor, factor, interpolation=interpolation),
        "random_translation": RandomTranslation(factor, factor, interpolation=interpolation),
        "random_rotation": RandomRotation(factor, interpolation=interpolation),
    }
    tones = {
        "random_posterization": RandomPosterization(
            max(1, int(8 * layer.factor[1])), value_range=value_range
        ),
        "solarization": Solarization(factor, factor, value_range=value_range),
        "auto_contrast": AutoContrast(value_range=value_range),
        "equalization": Equalization(value_range=value_range),
    }
    colors = {}
    if all_ops:
        colors = {
            "random_brightness": RandomBrightness(factor, value_range=value_range),
            "random_color_degeneration": RandomColorDegeneration(factor, value_range=value_range),
            "random_contrast": RandomContrast(factor, value_range=value_range),
            "random_sharpness": RandomSharpness(factor, value_range=value_range),
        }
    layers = {**geometry, **tones, **colors}
    layer.share_draws(*layers.values())
    return layers


@register_layer
class RandAugment(ColorAugmentation):
    """``num_ops`` augmentations chosen at random (one choice per call, for the whole batch)
    from Keras's eleven: shear, translation, rotation, brightness, colour degeneration,
    contrast, sharpness, posterization, solarization, autocontrast and equalization, each
    with strength ``factor`` (a number ``f`` in [0, 1] means ``[0, f]``)."""

    ORDER = (
        "random_shear",
        "random_translation",
        "random_rotation",
        "random_brightness",
        "random_color_degeneration",
        "random_contrast",
        "random_sharpness",
        "random_posterization",
        "solarization",
        "auto_contrast",
        "equalization",
    )

    def __init__(
        self,
        value_range=(0, 255),
        num_ops: int = 2,
        factor=0.5,
        interpolation: str = "bilinear",
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        if isinstance(num_ops, bool) or not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(
                f"RandAugment '{self.name}': `num_ops` must be a non-negative integer, "
                f"got {num_ops!r}."
            )
        self.num_ops = num_ops
        self.factor = keras_factor(self, "factor", factor, 0.0, 1.0)
        self.interpolation = interpolation
        choices = _augmentations(self, interpolation)
        self._choices = [choices[name] for name in self.ORDER]

    def transform(self, images, training: bool):
        if not training:
            return images
        for _ in range(self.num_ops):
            index = int(self.uniform(images.backend, 1, 0.0, len(self._choices))[0])
            images = self._choices[index].transform(images, True)
        return images

    def get_config(self):
        return {
            **super().get_config(),
            "num_ops": self.num_ops,
            "factor": list(self.factor),
            "interpolation": self.interpolation,
        }


@register_layer
class AugMix(ColorAugmentation):
    """AugMix (Hendrycks et al., 2020) as Keras 3: ``num_chains`` chains of ``chain_depth``
    steps, each step a random augmentation or none, mixed with Dirichlet(alpha) weights,
    then blended with the image by a Beta(alpha, alpha) draw and clipped to ``value_range``.
    The weights and chains are drawn once per call, for the whole batch; ``all_ops=False``
    leaves out brightness, colour degeneration, contrast and sharpness."""

    def __init__(
        self,
        value_range=(0, 255),
        num_chains: int = 3,
        chain_depth: int = 3,
        factor=0.3,
        alpha: float = 1.0,
        all_ops: bool = True,
        interpolation: str = "bilinear",
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        for argument, value in (("num_chains", num_chains), ("chain_depth", chain_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"AugMix '{self.name}': `{argument}` must be a positive integer, got {value!r}."
                )
        if not _is_number(alpha) or alpha <= 0:
            raise ValueError(
                f"AugMix '{self.name}': `alpha` must be a positive number, got {alpha!r}."
            )
        self.num_chains = num_chains
        self.chain_depth = chain_depth
        self.factor = keras_factor(self, "factor", factor, 0.0, 1.0)
        self.alpha = alpha
        self.all_ops = bool(all_ops)
        self.interpolation = interpolation
        self._choices = list(_augmentations(self, interpolation, self.all_ops).values())

    def transform(self, images, training: bool):
        if not training:
            return images
        generator = self.host_generator(images.backend)
        chain_weights = generator.dirichlet([self.alpha] * self.num_chains)
        blend = generator.beta(self.alpha, self.alpha)
        mixed = None
        for chain_weight in chain_weights:
            chained = images
            for _ in range(self.chain_depth):
                index = int(self.uniform(images.backend, 1, 0.0, len(self._choices) + 1)[0])
                if index < len(self._choices):  # the last choice is "no augmentation"
                    chained = self._choices[index].transform(chained, True)
            term = chained * float(chain_weight)
            mixed = term if mixed is None else mixed + term
        return F.clip(images * float(blend) + mixed * float(1 - blend), *self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "num_chains": self.num_chains,
            "chain_depth": self.chain_depth,
            "factor": list(self.factor),
            "alpha": self.alpha,
            "all_ops": self.all_ops,
            "interpolation": self.interpolation,
        }


@register_layer
class Pipeline(Layer):
    """Apply ``layers`` in order, each with the call's ``training`` (True by default, as
    Keras: augmentation layers in a Pipeline augment unless told otherwise). Takes what its
    first layer takes, e.g. a dict ``{"images", "labels"}`` for augmentation layers."""

    def __init__(self, layers, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(layers, (list, tuple)):
            raise ValueError(
                f"Pipeline '{self.name}': `layers` must be a list of layers, got {layers!r}."
            )
        built = [deserialize(layer) if isinstance(layer, dict) else layer for layer in layers]
        for layer in built:
            if not isinstance(layer, Layer):
                raise ValueError(
                    f"Pipeline '{self.name}': every entry of `layers` must be a Layer, "
                    f"got {layer!r}."
                )
        self._pipeline_layers = built

    @property
    def layers(self) -> list:
        return list(self._pipeline_layers)

    def _convert_inputs(self, inputs):
        if isinstance(inputs, dict):  # the layers check what they get
            return {key: self._single_input(value) for key, value in inputs.items()}
        return super()._convert_inputs(inputs)

    def build(self, input_shape):
        if isinstance(input_shape, dict):  # images with labels: the layers build when called
            return
        shape = input_shape
        for layer in self._pipeline_layers:
            if not layer.built:
                if layer.backend is None:
                    layer.backend = self.backend
                layer.build_from_shape(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=True):
        for layer in self._pipeline_layers:
            inputs = layer(inputs, training=training)
        return inputs

    def compute_output_shape(self, input_shape):
        for layer in self._pipeline_layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def get_config(self):
        return {**super().get_config(), "layers": [serialize(layer) for layer in self.layers]}
