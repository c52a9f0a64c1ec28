"""Layers with Keras 3's names, arguments and defaults."""

from .base import InputSpec, Layer, register_layer
from .core import Activation, Dense, Input, InputLayer

__all__ = [
    "Activation",
    "Dense",
    "Input",
    "InputLayer",
    "InputSpec",
    "Layer",
    "register_layer",
]
