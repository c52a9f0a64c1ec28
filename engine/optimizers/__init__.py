"""Optimizers with Keras 3's names, formulas and defaults."""

from ..registry import Registry
from . import schedules
from .base import Optimizer
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

_registry = Registry(
    "optimizer",
    {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad},
)


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        cls = _registry.lookup(identifier.get("class_name", ""))
        return cls.from_config(identifier.get("config", {}))
    return _registry.create(identifier)


def serialize(optimizer: Optimizer) -> dict:
    return _registry.serialize(optimizer)


def register_optimizer(cls):
    """Make a custom Optimizer subclass resolvable by name (and loadable)."""
    return _registry.register(cls)


__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "get",
    "register_optimizer",
    "schedules",
    "serialize",
]
