"""Preprocessing layers (Keras 3's names): images, normalization, text and lookups."""

from .augmentation import (
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .color import (
    RandomBrightness,
    RandomColorDegeneration,
    RandomColorJitter,
    RandomGrayscale,
    RandomHue,
    RandomInvert,
    RandomPosterization,
    RandomSaturation,
    Solarization,
)
from .geometry import RandomCrop, RandomErasing, RandomPerspective, RandomShear
from .image import CenterCrop, Resizing
from .image_extra import ContrastLimitedAdaptiveHistogramEqualization, RandomElasticTransform
from .lookup import IntegerLookup, StringLookup
from .mixing import AugMix, CutMix, MixUp, Pipeline, RandAugment
from .normalization import Normalization, Rescaling
from .text import TextVectorization
from .tone import AutoContrast, Equalization, RandomGaussianBlur, RandomSharpness

__all__ = [
    "AugMix",
    "AutoContrast",
    "CenterCrop",
    "ContrastLimitedAdaptiveHistogramEqualization",
    "CutMix",
    "Equalization",
    "IntegerLookup",
    "MixUp",
    "Normalization",
    "Pipeline",
    "RandAugment",
    "RandomBrightness",
    "RandomColorDegeneration",
    "RandomColorJitter",
    "RandomContrast",
    "RandomCrop",
    "RandomElasticTransform",
    "RandomErasing",
    "RandomFlip",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHue",
    "RandomInvert",
    "RandomPerspective",
    "RandomPosterization",
    "RandomRotation",
    "RandomSaturation",
    "RandomSharpness",
    "RandomShear",
    "RandomTranslation",
    "RandomZoom",
    "Rescaling",
    "Resizing",
    "Solarization",
    "StringLookup",
    "TextVectorization",
]
