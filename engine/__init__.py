"""A Keras-style deep-learning library with interchangeable array backends.

>>> import engine
>>> engine.set_backend("numba")
>>> model = engine.models.Sequential([engine.layers.Dense(10, activation="softmax")])
"""

from backends import BackendMismatchError, BackendUnavailableError, DeviceOutOfMemoryError

from . import (
    activations,
    backend,
    callbacks,
    constraints,
    data,
    functional,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    utils,
)
from .config import floatx, get_backend, set_backend, set_floatx, use_backend
from .models import Model, Sequential
from .tensor import Function, Tensor, enable_grad, grad, is_grad_enabled, no_grad, tensor
from .threads import get_num_threads, set_num_threads

Input = layers.Input

__all__ = [
    "BackendMismatchError",
    "Input",
    "Model",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "constraints",
    "data",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "random",
    "regularizers",
    "saving",
    "utils",
    "BackendUnavailableError",
    "DeviceOutOfMemoryError",
    "Function",
    "Tensor",
    "enable_grad",
    "grad",
    "floatx",
    "functional",
    "get_backend",
    "get_num_threads",
    "is_grad_enabled",
    "no_grad",
    "set_backend",
    "set_floatx",
    "set_num_threads",
    "tensor",
    "use_backend",
]
