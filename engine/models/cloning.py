"""``clone_model``: a new model of another's architecture, with new weights (Keras's
``keras.models.clone_model``)."""

from ..layers.core import InputLayer
from .functional import Functional, _layer_of_entry
from .sequential import Sequential


def _new_layer(layer):
    """Keras's default clone: the layer's class made again from its config."""
    return type(layer).from_config(layer.get_config())


def clone_model(
    model, input_tensors=None, clone_function=None, call_function=None, recursive=False
):
    """A new model of ``model``'s architecture: each layer made by ``clone_function(layer)``
    (default: again from its config, so with new weights; return ``layer`` itself to share
    it). A ``Sequential`` stays one with the same input shape; a functional model's graph is
    made again with the new layers; a subclassed model is made from its ``get_config``.

    ``input_tensors``, ``call_function`` and ``recursive=True`` are not supported yet: each
    raises ``NotImplementedError`` rather than be ignored.
    """
    for argument, value in (("input_tensors", input_tensors), ("call_function", call_function)):
        if value is not None:
            raise NotImplementedError(
                f"clone_model: `{argument}` is not supported; build the new model with the "
                f"functional API (layers.Input(...), then call the cloned layers)."
            )
    if recursive:
        raise NotImplementedError(
            "clone_model: `recursive=True` is not supported; nested models are cloned by "
            "clone_function like any other layer."
        )
    clone = clone_function or _new_layer
    if isinstance(model, Sequential):
        layers = [clone(layer) for layer in model.layers]
        first = model._stack[0] if model._stack else None
        if isinstance(first, InputLayer):
            layers.insert(0, InputLayer(batch_shape=first._batch_input_shape, name=first.name))
        cloned = Sequential(layers, name=model.name, trainable=model.trainable)
        if not cloned.built and model.built:
            cloned.build(model._build_input_shape)
        return cloned
    if isinstance(model, Functional):
        originals = {layer.name: layer for layer in model.layers}

        def make_layer(entry):
            original = originals.get(entry["name"])
            if original is None or isinstance(original, InputLayer):
                return _layer_of_entry(entry)  # a new Input of the same shape
            return clone(original)

        return type(model).rebuild(model.get_config(), make_layer)
    if clone_function is not None:
        raise ValueError(
            f"clone_model: `clone_function` applies to the layers of a Sequential or "
            f"functional model; '{model.name}' is a subclassed {type(model).__name__}, "
            f"which is cloned whole from its get_config()."
        )
    return type(model).from_config(model.get_config())
