"""``layers.serialize`` and ``layers.deserialize``: a layer as Keras 3's JSON-able dict.

``serialize(layer)`` gives ``{"module": "keras.layers", "class_name": ...,
"config": layer.get_config(), "registered_name": ...}`` (with
``"build_config": {"input_shape": ...}`` once the layer is built), and
``deserialize`` makes the layer again. Classes are found only through the
layer registry (built-in layers, ``@register_layer`` classes and the
``custom_objects`` given), so a config never imports or runs code.
"""

from .. import symbolic
from ..registry import custom_object_scope
from .base import Layer, layer_registry


def serialize(layer: Layer) -> dict:
    """``layer`` as ``{"module", "class_name", "config", "registered_name"[, "build_config"]}``."""
    if not isinstance(layer, Layer):
        raise TypeError(
            f"layers.serialize expects a layer, got {type(layer).__name__} ({layer!r})."
        )
    entry = layer_registry.serialize(layer)
    builtin = type(layer).__module__.startswith("engine.")
    result = {
        "module": "keras.layers" if builtin else type(layer).__module__,
        "class_name": entry["class_name"],
        "config": entry["config"],
        "registered_name": None if builtin else entry["class_name"],
    }
    if hasattr(layer, "get_build_config"):  # a model: its own build record
        build_config = layer.get_build_config()
    elif layer.built and layer._build_input_shape is not None:
        build_config = {"input_shape": symbolic.map_shapes(list, layer._build_input_shape)}
    else:
        build_config = None
    if build_config is not None:
        result["build_config"] = build_config
    return result


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """The layer a ``serialize`` dict (or any ``{"class_name", "config"}``) describes, built
    when the dict has a ``build_config``; ``custom_objects`` maps names to classes."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"layers.deserialize expects a dict with 'class_name' and 'config' (as "
            f"layers.serialize returns), got {config!r}."
        )
    with custom_object_scope(custom_objects):
        cls = layer_registry.lookup(config["class_name"])
        layer = cls.from_config(dict(config.get("config") or {}))
    build_config = config.get("build_config")
    if build_config and not layer.built:
        if hasattr(layer, "build_from_config"):
            layer.build_from_config(build_config)
        else:
            layer.build_from_shape(symbolic.map_shapes(tuple, build_config["input_shape"]))
    return layer
