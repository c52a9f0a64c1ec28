"""``keras.backend``'s helpers that programs call (``from engine import backend as K``).

The settings live in ``engine.config``; this module names them as Keras 3's
``keras.backend`` does.
"""

import gc

import numpy

from . import symbolic
from .config import (
    backend,
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from .layers.base import reset_names


def clear_session(free_memory: bool = True) -> None:
    """Reset the automatic layer names (``dense``, ``dense_1``...), as Keras does; with
    ``free_memory``, also collect garbage so dropped models release their arrays."""
    reset_names()
    if free_memory:
        gc.collect()


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic tensor (from ``Input`` or a layer called on one)."""
    return isinstance(x, symbolic.KerasTensor)


def standardize_dtype(dtype) -> str:
    """A dtype's canonical name (``"float32"``, ``"int64"``...); None means ``floatx()``."""
    if dtype is None:
        return floatx()
    if hasattr(dtype, "dtype") and not isinstance(dtype, type):  # an array or tensor
        dtype = dtype.dtype
    return numpy.dtype(dtype).name


def is_float_dtype(dtype) -> bool:
    return numpy.dtype(standardize_dtype(dtype)).kind == "f"


def is_int_dtype(dtype) -> bool:
    return numpy.dtype(standardize_dtype(dtype)).kind in "iu"


__all__ = [
    "backend",
    "clear_session",
    "epsilon",
    "floatx",
    "image_data_format",
    "is_float_dtype",
    "is_int_dtype",
    "is_keras_tensor",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "standardize_dtype",
]
