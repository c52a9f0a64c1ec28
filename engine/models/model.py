"""Model: a Layer that can be trained (``Trainer``), with its layers, summary and saving.

``Model(inputs, outputs)`` makes a functional model (``functional.py``);
``Sequential`` and subclasses fill in ``call`` themselves.
"""

import numpy

from .. import config, saving, symbolic
from ..layers.base import Layer, format_shape
from ..layers.core import InputLayer
from . import data as data_utils
from .summary import summarize
from .trainer import Trainer


class Model(Trainer, Layer):
    """Base class of models; ``Sequential`` fills in ``call`` and the layer list."""

    autocast = False  # each layer casts its own inputs
    #: Sequential and functional models build from an input shape; a subclassed model
    #: is called once on a sample of the data to create its layers' weights
    builds_from_shape = False

    def __new__(cls, *args, **kwargs):
        # Keras's ``Model(inputs, outputs)`` is a functional model
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from .functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)

    # -- saving -----------------------------------------------------------

    def save(self, filepath, overwrite: bool = True) -> None:
        """Architecture, weights, compile config and optimizer state in one safetensors file."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """The weights alone, in one safetensors file."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath) -> None:
        """Weights from a file written by ``save_weights`` or ``save``."""
        saving.load_weights(self, filepath)

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON (no weights): ``engine.models.model_from_json`` makes
        a new model of it."""
        return saving.model_to_json(self, **kwargs)

    @classmethod
    def from_config(cls, config_dict: dict, custom_objects: dict | None = None) -> "Model":
        """``Model.from_config(functional_model.get_config())`` rebuilds the graph, as Keras."""
        if cls is Model and "input_layers" in config_dict:
            from .functional import Functional

            return Functional.from_config(config_dict)
        return super().from_config(config_dict)

    def get_compile_config(self) -> dict | None:
        if not self.compiled:
            return None
        return saving.compile_config(self)

    def get_build_config(self) -> dict | None:
        """The input shape (and dtype) the model was built for, as Keras saves it."""
        if not self.built or self._build_input_shape is None:
            return None
        return {
            "input_shape": _as_lists(self._build_input_shape),
            "input_dtype": getattr(self, "_build_input_dtype", None),
        }

    def build_from_config(self, config_dict: dict) -> None:
        """Build as ``get_build_config`` describes: a subclassed model is called once on
        zeros of that shape."""
        shape = config_dict["input_shape"]
        if self.builds_from_shape:
            self.build_from_shape(symbolic.map_shapes(tuple, shape))
            return
        dtype = config_dict.get("input_dtype") or self.dtype
        per_input = iter(dtype if isinstance(dtype, list) else [])  # in flatten order
        default = dtype if isinstance(dtype, str) else self.dtype

        def zeros(s):
            return numpy.zeros((1, *s[1:]), dtype=next(per_input, default))

        sample = symbolic.map_shapes(zeros, shape)
        if not isinstance(sample, numpy.ndarray):
            sample = data_utils.ArrayGroup.of(sample)
        self._ensure_built(sample)

    # -- inputs -----------------------------------------------------------

    @property
    def input_shape(self):
        return self._build_input_shape

    def _input_tensor(self, data):
        """Text stays on the host, for the preprocessing layer that reads it."""
        if not hasattr(data, "__cuda_array_interface__"):
            data = numpy.asarray(data)
            if symbolic.is_string_array(data):
                return data
        return super()._input_tensor(data)

    def _check_input(self, x, where: str) -> None:
        self._ensure_built(x)
        self._check_input_shape(x.shape, where)

    def _check_input_shape(self, shape, where: str) -> None:
        expected = self._build_input_shape
        if expected is None or not symbolic.is_shape(expected) or not symbolic.is_shape(shape):
            return  # a subclassed model checks its own structured inputs
        if len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected[1:], shape[1:])
        ):
            hint = ""
            if tuple(shape) == tuple(expected[1:]):
                hint = (
                    " It looks like one sample without its batch axis: batch a Dataset with "
                    ".batch(n), or give a single sample as x[None]."
                )
            raise ValueError(
                f"{where}: model '{self.name}' expects input of shape {format_shape(expected)} "
                f"(rank {len(expected)}), but got an array of shape {format_shape(shape)}.{hint}"
            )

    # -- inspection and moving --------------------------------------------

    def summary(self, line_length: int | None = None, print_fn=print) -> None:
        """Print the layers, their output shapes and parameter counts, as Keras does."""
        if not self.built:
            raise ValueError(
                f"Model '{self.name}' has not been built yet, so its weights and output shapes "
                f"are unknown. Give the first layer an input_shape (or start with "
                f"layers.Input(shape)), call model.build(input_shape), call it on a batch of "
                f"data, or fit it first."
            )
        summarize(self, line_length, print_fn)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def layer_summaries(self) -> list[tuple[str, tuple, int]]:
        """A subclassed model's layers; their output shapes depend on ``call`` ("?", as Keras)."""
        return [
            (
                f"{layer.name} ({type(layer).__name__})",
                "?",
                layer.count_params() if layer.built else 0,
            )
            for layer in self._layers
        ]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by its name or its position in ``model.layers`` (Keras's ``get_layer``)."""
        layers = self.layers
        if name is not None and index is not None:
            raise ValueError(
                f"get_layer: give a layer `name` or an `index`, not both (got name={name!r}, "
                f"index={index!r})."
            )
        if index is not None:
            if not isinstance(index, int) or not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"get_layer: asked for the layer at index {index!r}, but model "
                    f"'{self.name}' has {len(layers)} layers."
                )
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"get_layer: model '{self.name}' has no layer named {name!r}; its layers are "
                f"{[layer.name for layer in layers]}."
            )
        raise ValueError("get_layer: give a layer `name` or an `index`.")

    def to(self, backend) -> "Model":
        """Move weights and optimizer state to another backend (``"numpy"``, ``"cupy"``...)."""
        target = config.resolve_backend(backend)
        if self.optimizer is not None:  # first: it copies its state from the weights' backend
            self.optimizer.to(target)
        super().to(target)
        return self

    def build(self, input_shape) -> None:
        """A subclassed model's layers build when ``call`` first uses them."""


def _as_lists(structure):
    """Shapes as JSON has them: tuples become lists."""
    if isinstance(structure, dict):
        return {key: _as_lists(value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [_as_lists(item) for item in structure]
    return structure


def compute_dtype(layers: list, default: str) -> str:
    """The model's float dtype: that of its first layer after the inputs.

    Targets, sample weights and class weights are cast to it, never to an
    input's dtype (an ``Input(dtype="int32")`` before an Embedding holds indices).
    """
    for layer in layers:
        if isinstance(layer, InputLayer) or layer.dtype == "string":  # text out: no numbers
            continue
        if numpy.dtype(layer.dtype).kind == "f":
            return layer.dtype
    return default
