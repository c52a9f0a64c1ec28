"""Preprocessing layers (Keras 3's names): images, normalization, text and lookups."""

from .augmentation import (
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .image import CenterCrop, Resizing
from .lookup import IntegerLookup, StringLookup
from .normalization import Normalization, Rescaling
from .text import TextVectorization

__all__ = [
    "CenterCrop",
    "IntegerLookup",
    "Normalization",
    "RandomContrast",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Rescaling",
    "Resizing",
    "StringLookup",
    "TextVectorization",
]
