"""Preprocessing layers (Keras 3's names): text and vocabulary lookups."""

from .lookup import IntegerLookup, StringLookup
from .text import TextVectorization

__all__ = ["IntegerLookup", "StringLookup", "TextVectorization"]
