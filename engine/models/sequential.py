"""Sequential: a plain stack of layers, each feeding the next."""

from .. import config
from ..layers.base import Layer, register_layer
from ..layers.core import InputLayer
from .model import Model


@register_layer
class Sequential(Model):
    """``Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)])`` or ``.add``."""

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.layers: list[Layer] = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append a layer; the model builds as soon as its input shape is known."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add: expected a Layer instance, got {type(layer).__name__} "
                f"({layer!r})."
            )
        if isinstance(layer, InputLayer) and self.layers:
            raise ValueError(
                f"Sequential '{self.name}': an Input can only be the first layer; it was given "
                f"after {len(self.layers)} layer(s)."
            )
        if any(existing is layer for existing in self.layers):
            raise ValueError(f"Sequential '{self.name}': layer '{layer.name}' was added twice.")
        self.layers.append(layer)
        self._layers.append(layer)
        first = self.layers[0]
        if first._batch_input_shape is not None:
            if self.built:
                shape = self.layers[-2].compute_output_shape(self._output_shape_of(-2))
                self._build_layer(layer, shape)
            elif len(self.layers) == 1 or not self.built:
                self.build_from_shape(first._batch_input_shape)
        else:
            self.built = False

    def _output_shape_of(self, position: int):
        shape = self._build_input_shape
        for layer in self.layers[: len(self.layers) + position]:
            shape = layer.compute_output_shape(shape)
        return shape

    def _build_layer(self, layer: Layer, input_shape) -> None:
        if layer.backend is None:
            layer.backend = self.backend
        layer.build_from_shape(input_shape)

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included)."""
        if input_shape is None:
            first = self.layers[0] if self.layers else None
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
        for layer in self.layers:
            self._build_layer(layer, shape)
            shape = layer.compute_output_shape(shape)
        self.dtype = self.layers[0].dtype if self.layers else self.dtype

    def build_from_shape(self, input_shape) -> None:
        if self.built:
            return
        self.build(tuple(input_shape))
        self.built = True

    def call(self, inputs, training=False, mask=None):
        x = inputs
        for layer in self.layers:
            outputs = layer(x, training=training, mask=mask)
            mask = layer.compute_mask(x, mask)
            x = outputs
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def layer_summaries(self):
        rows = []
        shape = self._build_input_shape
        for layer in self.layers:
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
                for layer in self.layers
            ],
        }
