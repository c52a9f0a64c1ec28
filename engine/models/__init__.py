"""Models: ``Sequential`` and the ``Model`` training API."""

from .cloning import clone_model
from .functional import Functional
from .model import Model
from .sequential import Sequential


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True):  # noqa: A002
    """A model saved with ``model.save``: architecture, weights, compile config, optimizer state.

    ``custom_objects``: ``{"MyLayer": MyLayer}`` for classes not registered with
    ``@engine.layers.register_layer``.
    """
    from ..saving import load_model as _load_model

    return _load_model(filepath, custom_objects=custom_objects, compile=compile)


def save_model(model, filepath, overwrite: bool = True) -> None:
    """``model.save(filepath)``: architecture, weights, compile config and optimizer state."""
    model.save(filepath, overwrite=overwrite)


def model_from_json(json_string, custom_objects: dict | None = None) -> Model:
    """A new model (new weights) of the architecture ``model.to_json()`` gave."""
    from ..saving import model_from_json as _model_from_json

    return _model_from_json(json_string, custom_objects=custom_objects)


__all__ = [
    "Functional",
    "Model",
    "Sequential",
    "clone_model",
    "load_model",
    "model_from_json",
    "save_model",
]
