"""Models: ``Sequential`` and the ``Model`` training API."""

from .model import Model
from .sequential import Sequential


def load_model(filepath, compile: bool = True):  # noqa: A002 (Keras's argument name)
    """A model saved with ``model.save``: architecture, weights, compile config, optimizer state."""
    from ..saving import load_model as _load_model

    return _load_model(filepath, compile=compile)


__all__ = ["Model", "Sequential", "load_model"]
