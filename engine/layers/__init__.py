"""Layers with Keras 3's names, arguments and defaults."""

from .base import InputSpec, Layer, register_layer
from .conv import Conv1D, Conv2D
from .core import Activation, Dense, Input, InputLayer
from .embedding import Embedding
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from .regularization import Dropout
from .reshaping import Flatten, Reshape, ZeroPadding2D

__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "LayerNormalization",
    "MaxPooling1D",
    "MaxPooling2D",
    "Reshape",
    "ZeroPadding2D",
    "Bidirectional",
    "Embedding",
    "GRU",
    "LSTM",
    "SimpleRNN",
    "Activation",
    "Dense",
    "Input",
    "InputLayer",
    "InputSpec",
    "Layer",
    "register_layer",
]
