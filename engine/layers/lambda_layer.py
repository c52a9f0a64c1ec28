"""``Lambda``: wrap a function of tensors as a layer, as Keras's ``layers.Lambda``.

Saving stores no code (no pickle, no marshalled bytecode), so a model holding a
Lambda saves only when its function has a name to find it by again: a ``def``
at module level, passed to ``load_model(custom_objects={"name": function})``
(or made known with ``registry.custom_object_scope``). A Python ``lambda`` or a
nested function is refused at save time with the way out; Keras saves their
bytecode and refuses to load it in its default safe mode.
"""

import inspect

from .. import registry
from .base import Layer, _takes_structures_cache, register_layer


def _function_name(function, layer: "Lambda", argument: str) -> str:
    """The name a saved config finds ``function`` by, or a clear error."""
    name = getattr(function, "__name__", None)
    qualified = getattr(function, "__qualname__", name)
    if name is None or name == "<lambda>" or qualified != name:
        what = "a Python lambda" if name == "<lambda>" else f"the nested function {qualified!r}"
        raise ValueError(
            f"Lambda '{layer.name}': cannot save its `{argument}`, {what}: saving stores no "
            f"code (no pickle). Define it with `def` at module level and load with "
            f"load_model(path, custom_objects={{'<its name>': <the function>}}), or write a "
            f"Layer subclass registered with @engine.saving.register_keras_serializable()."
        )
    return name


def _resolve_function(value, layer_name: str, argument: str):
    """A function from its saved ``{"class_name": "function", "config": name}``."""
    if not isinstance(value, dict):
        return value
    if value.get("class_name") != "function" or not isinstance(value.get("config"), str):
        raise ValueError(
            f"Lambda '{layer_name}': `{argument}` in the saved config is not a function name: "
            f"{value!r}."
        )
    name = value["config"]
    function = (registry._custom_objects.get() or {}).get(name)
    if function is None or not callable(function):
        raise ValueError(
            f"Lambda '{layer_name}': its `{argument}` is the function '{name}', which this load "
            f"does not know; pass load_model(path, custom_objects={{'{name}': {name}}})."
        )
    return function


@register_layer
class Lambda(Layer):
    """Apply ``function(inputs, **arguments)``; ``function`` may take ``training`` and
    ``mask`` too. ``output_shape`` (without the batch axis, or a function of the input
    shape) is needed only where the function cannot run on zeros to find it."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"Lambda '{self.name}': `function` must be callable, got {type(function).__name__}."
            )
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(
                f"Lambda '{self.name}': `arguments` must be a dict of keyword arguments, got "
                f"{type(arguments).__name__}."
            )
        self.function = function
        self.arguments = dict(arguments or {})
        if output_shape is not None and not callable(output_shape):
            output_shape = tuple(output_shape)
        self._output_shape = output_shape
        self.mask = mask
        self.supports_masking = mask is not None
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # some builtins have no signature
            parameters = {}
        self._takes_training = "training" in parameters
        self._takes_mask = "mask" in parameters

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._takes_mask:
            kwargs["mask"] = mask
        if self._takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)  # runs the function on zeros
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        return (shapes[0][0], *self._output_shape)

    def get_config(self):
        config = {
            **super().get_config(),
            "function": {
                "class_name": "function",
                "config": _function_name(self.function, self, "function"),
            },
            "arguments": self.arguments,
        }
        if self._output_shape is not None:
            if callable(self._output_shape):
                name = _function_name(self._output_shape, self, "output_shape")
                config["output_shape"] = {"class_name": "function", "config": name}
            else:
                config["output_shape"] = list(self._output_shape)
        if self.mask is not None:
            if not callable(self.mask):
                raise ValueError(
                    f"Lambda '{self.name}': cannot save a fixed `mask` tensor; give a function."
                )
            config["mask"] = {
                "class_name": "function",
                "config": _function_name(self.mask, self, "mask"),
            }
        return config

    @classmethod
    def from_config(cls, config_dict: dict) -> "Lambda":
        config_dict = dict(config_dict)
        name = config_dict.get("name", "lambda")
        for argument in ("function", "output_shape", "mask"):
            if argument in config_dict:
                config_dict[argument] = _resolve_function(config_dict[argument], name, argument)
        return cls(**config_dict)


# Keras's Lambda takes any structure of tensors (``Lambda(lambda xs: xs[0] + xs[1])([a, b])``),
# as the layers users write do; built-in layers take one tensor unless they say otherwise
_takes_structures_cache[Lambda] = True
