"""Sequential: a plain stack of layers, each feeding the next.

As in Keras 3 it is a special case of the functional graph: once its input
shape is known it calls its layers on a symbolic input and runs the resulting
``Functional`` model, so masks, training flags and the per-node work are those
of any functional model. What stays here is the stack itself (``add``,
``pop``, building as soon as the input shape is known) and Keras's Sequential
config and summary.
"""

from .. import config
from ..layers.base import Layer, note_change, register_layer
from ..layers.core import InputLayer
from ..symbolic import KerasTensor
from .model import Model, compute_dtype


@register_layer
class Sequential(Model):
    """``Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)])`` or ``.add``."""

    builds_from_shape = True

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack: list[Layer] = []
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        """The layers in order, without the InputLayer (as in Keras 3)."""
        return [layer for layer in self._stack if not isinstance(layer, InputLayer)]

    def add(self, layer: Layer) -> None:
        """Append a layer; the model builds as soon as its input shape is known."""
        if isinstance(layer, KerasTensor):  # layers.Input(...) as the first entry
            origin = layer._keras_history[0] if layer._keras_history else None
            if not isinstance(origin, InputLayer):
                raise TypeError(
                    f"Sequential.add: only a tensor from layers.Input(...) can be added, got "
                    f"{layer!r} (the output of a layer call); build a functional "
                    f"engine.Model(inputs, outputs) instead."
                )
            layer = origin
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add: expected a Layer instance, got {type(layer).__name__} "
                f"({layer!r})."
            )
        if isinstance(layer, InputLayer) and self._stack:
            raise ValueError(
                f"Sequential '{self.name}': an Input can only be the first layer; it was given "
                f"after {len(self._stack)} layer(s)."
            )
        if any(existing is layer for existing in self._stack):
            raise ValueError(f"Sequential '{self.name}': layer '{layer.name}' was added twice.")
        self._stack.append(layer)
        self._layers.append(layer)
        note_change()
        first = self._stack[0]
        if self.built:
            shape = self._build_input_shape
            for previous in self._stack[:-1]:
                shape = previous.compute_output_shape(shape)
            self._build_layer(layer, shape)
            self._make_graph()
        elif first._batch_input_shape is not None:
            self.build_from_shape(first._batch_input_shape)

    def pop(self) -> Layer:
        """Remove the last layer and return it; the model keeps its input shape."""
        if not self.layers:
            raise ValueError(f"Sequential '{self.name}'.pop: the model has no layers to remove.")
        layer = self._stack.pop()
        self._layers.remove(layer)
        note_change()
        if self.built:
            self._make_graph()
        return layer

    @property
    def inputs(self) -> list:
        """The symbolic input of the built model, in a list (Keras's ``model.inputs``)."""
        return self._built_graph("inputs").inputs

    @property
    def outputs(self) -> list:
        return self._built_graph("outputs").outputs

    @property
    def input(self):
        return self._built_graph("input").input

    @property
    def output(self):
        return self._built_graph("output").output

    def _built_graph(self, what: str):
        graph = self.__dict__.get("_graph")
        if graph is None:
            raise AttributeError(
                f"Sequential model '{self.name}' has no {what} yet: it has not been built. "
                f"Give it an Input, call build(input_shape), or fit it first."
            )
        return graph

    @property
    def output_shape(self) -> tuple:
        """The shape of the model's output, batch axis included (once built)."""
        if not self.built:
            raise AttributeError(
                f"Sequential model '{self.name}' has no defined outputs yet: it has not been "
                f"built. Give it an Input, call build(input_shape), or fit it first."
            )
        return self.compute_output_shape(self._build_input_shape)

    def _build_layer(self, layer: Layer, input_shape) -> None:
        if layer.backend is None:
            layer.backend = self.backend
        layer.build_from_shape(input_shape)

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included)."""
        if input_shape is None:
            first = self._stack[0] if self._stack else None
            if first is None or first._batch_input_shape is None:
                raise ValueError(
                    f"Sequential '{self.name}'.build: give the input shape, e.g. "
                    f"model.build((None, 64))."
                )
            input_shape = first._batch_input_shape
        if self.backend is None:
            self.backend = config.get_backend()
        shape = tuple(input_shape)
        self._build_input_shape = shape
        for layer in self._stack:
            self._build_layer(layer, shape)
            shape = layer.compute_output_shape(shape)
        self.dtype = compute_dtype(self._stack, self.dtype)
        self.built = True
        self._make_graph()

    def _make_graph(self) -> None:
        """Call the stack on a symbolic input: ``call`` runs the graph this records."""
        from .functional import Functional

        first = self._stack[0] if self._stack else None
        if isinstance(first, InputLayer) and first.output.shape[1:] == self._build_input_shape[1:]:
            inputs = first.output
        else:  # named after the model, so that it takes no name from the user's Inputs
            inputs = InputLayer(
                batch_shape=(None, *self._build_input_shape[1:]), name=f"{self.name}_input"
            ).output
        outputs = inputs
        for layer in self._stack:
            if not isinstance(layer, InputLayer):
                outputs = layer(outputs)
        # not an attribute Layer.__setattr__ would track: the layers are the stack's
        object.__setattr__(self, "_graph", Functional(inputs, outputs, name=f"{self.name}_graph"))

    def build_from_shape(self, input_shape) -> None:
        if self.built:
            return
        self.build((None, *tuple(input_shape)[1:]))  # the batch size stays open

    def call(self, inputs, training=None, mask=None):
        return self._graph.call([inputs], training=training, mask=mask)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def layer_summaries(self):
        rows = []
        shape = self._build_input_shape
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
            if isinstance(layer, InputLayer):
                continue
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, layer.count_params()))
        return rows

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "build_input_shape": list(self._build_input_shape) if self._build_input_shape else None,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self._stack
            ],
        }

    @classmethod
    def from_config(cls, config_dict: dict) -> "Sequential":
        """Rebuild from ``get_config``; layer classes resolve only through the layer registry."""
        from ..layers.base import layer_registry

        layers = []
        for entry in config_dict.get("layers", []):
            if not isinstance(entry, dict):
                raise ValueError(f"Sequential.from_config: bad layer entry {entry!r}.")
            layer_cls = layer_registry.lookup(entry.get("class_name", ""))
            layers.append(layer_cls.from_config(dict(entry.get("config", {}))))
        model = cls(
            layers=layers,
            name=config_dict.get("name"),
            trainable=config_dict.get("trainable", True),
        )
        shape = config_dict.get("build_input_shape")
        if shape is not None and not model.built:
            model.build_from_shape(tuple(shape))
        return model
