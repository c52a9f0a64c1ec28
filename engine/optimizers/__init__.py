"""Optimizers with Keras 3's names, formulas and defaults."""

from ..registry import Registry, custom_object_scope
from . import schedules
from .accumulators import Adadelta, Adafactor, Ftrl
from .adam_variants import Adamax, Lamb, Lion, Nadam, ScheduleFreeAdamW
from .base import Optimizer
from .multi import MultiOptimizer, OptimizerMap
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

_registry = Registry(
    "optimizer",
    {
        "sgd": SGD,
        "adam": Adam,
        "adamw": AdamW,
        "rmsprop": RMSprop,
        "adagrad": Adagrad,
        "adadelta": Adadelta,
        "adafactor": Adafactor,
        "adamax": Adamax,
        "ftrl": Ftrl,
        "lamb": Lamb,
        "lion": Lion,
        "nadam": Nadam,
        "schedulefreeadamw": ScheduleFreeAdamW,
        "multi_optimizer": MultiOptimizer,
    },
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
    """``{"class_name": ..., "config": {...}}``, as Keras's ``optimizers.serialize``."""
    return _registry.serialize(optimizer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """An optimizer from ``serialize``'s dict (Keras's ``optimizers.deserialize``)."""
    if not isinstance(config, dict):
        raise TypeError(
            f"optimizers.deserialize expects a dict {{'class_name': ..., 'config': ...}}, "
            f"got {type(config).__name__}."
        )
    with custom_object_scope(custom_objects):
        return get(config)


def register_optimizer(cls):
    """Make a custom Optimizer subclass resolvable by name (and loadable)."""
    return _registry.register(cls)


__all__ = [
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "MultiOptimizer",
    "Nadam",
    "Optimizer",
    "OptimizerMap",
    "RMSprop",
    "ScheduleFreeAdamW",
    "deserialize",
    "get",
    "register_optimizer",
    "schedules",
    "serialize",
]
