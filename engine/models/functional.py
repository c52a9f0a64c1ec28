"""The functional model: a graph of layer calls from ``Input`` tensors to outputs.

``Model(inputs, outputs)`` walks the nodes recorded when layers were called on
symbolic tensors (``engine.symbolic``), keeps them in an order where every node
comes after the nodes feeding it, and runs them in that order. Nothing symbolic
happens per training step: a call is a loop over the nodes with a dict from
symbolic tensor to value.
"""

import numpy

from .. import config, symbolic
from ..layers.base import (
    Layer,
    format_shape,
    layer_registry,
    note_change,
    register_layer,
    shape_arguments,
)
from ..layers.core import InputLayer
from ..symbolic import KerasTensor
from ..tensor import Tensor
from . import data as data_utils
from . import fusion
from .model import Model, compute_dtype


@register_layer
class Functional(Model):
    """``engine.Model(inputs, outputs)``; inputs and outputs a tensor, list or dict."""

    builds_from_shape = True

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._input_structure = _plain_structure(inputs, "inputs", self.name)
        self._output_structure = _plain_structure(outputs, "outputs", self.name)
        self.inputs = symbolic.flatten(self._input_structure)
        self.outputs = symbolic.flatten(self._output_structure)
        for tensor in self.inputs:
            if not isinstance(tensor._keras_history[0], InputLayer):
                raise ValueError(
                    f"Model '{self.name}': every input must come from layers.Input(...); "
                    f"{tensor.name} is the output of layer '{tensor._keras_history[0].name}'."
                )
        self._nodes = _execution_order(self.inputs, self.outputs, self.name)
        self._steps = [_Step(node) for node in self._nodes]
        fusion.pair_steps(self._steps, self._nodes, self.outputs)
        for layer in _layers_in_order(self.inputs, self._nodes):
            self._layers.append(layer)
        note_change()
        self._input_names = [t._keras_history[0].name for t in self.inputs]
        self.output_names = _output_names(self.outputs)
        self.backend = next(
            (layer.backend for layer in self._layers if layer.backend is not None),
            config.get_backend(),
        )
        self.dtype = compute_dtype(self._layers, self.dtype)
        self._build_input_shape = symbolic.shapes_of(self._input_structure)
        self.built = True

    # -- structure --------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        """Every layer of the graph, InputLayers first (as in Keras 3)."""
        return list(self._layers)

    @property
    def input(self):
        return self._input_structure

    @property
    def output(self):
        return self._output_structure

    @property
    def input_shape(self):
        return self._build_input_shape

    @property
    def output_shape(self):
        return symbolic.shapes_of(self._output_structure)

    # -- running ----------------------------------------------------------

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        if symbolic.is_symbolic(inputs):
            return self._call_symbolic(inputs, training)
        return self.call(self._input_tensors(inputs), training=training, mask=mask)

    def call(self, inputs, training=None, mask=None):
        """Run the nodes in order; ``inputs`` is a flat list matching ``self.inputs``."""
        if not isinstance(inputs, list):
            inputs = self._input_tensors(inputs)
        values = {id(tensor): value for tensor, value in zip(self.inputs, inputs)}
        if mask is not None and len(self.inputs) == 1 and isinstance(inputs[0], Tensor):
            inputs[0]._keras_mask = mask
        # Masks ride on the tensors (``_keras_mask``), as in Keras 3: each layer's call
        # reads its input's and attaches its output's (``Layer.__call__``)
        for step in self._steps:
            if step.input_id is None:
                _run_node(step.node, values, training)
                continue
            if step.fusion is not None and step.fusion(values):
                continue  # run with the step before, as one op (``fusion.py``)
            # the common node, one tensor in and one out: no structures to pack
            values[step.output_id] = step.layer(
                values[step.input_id],
                training=training if step.training is None else step.training,
                **step.kwargs,
            )
        if isinstance(self._output_structure, KerasTensor):
            return values[id(self._output_structure)]
        return symbolic.pack_like(self._output_structure, [values[id(t)] for t in self.outputs])

    def _input_tensors(self, inputs) -> list[Tensor]:
        """The values given for the model's inputs, as a flat list in ``self.inputs`` order."""
        leaves = self.flatten_inputs(inputs, f"Model '{self.name}'")
        backend = self.backend or config.get_backend()
        return [_input_value(value, backend) for value in leaves]

    def flatten_inputs(self, inputs, where: str) -> list:
        """``inputs`` (one value, a list or a dict by input name) in ``self.inputs`` order."""
        names = self._input_names
        if isinstance(inputs, dict):
            if isinstance(self._input_structure, dict):
                names = list(self._input_structure)
            missing = [name for name in names if name not in inputs]
            if missing:
                raise ValueError(
                    f"{where}: the inputs dict has no key {missing[0]!r}; the model's inputs "
                    f"are {names}, got keys {list(inputs)}."
                )
            return [inputs[name] for name in names]
        if isinstance(inputs, (list, tuple)) and len(self.inputs) > 1:
            if len(inputs) != len(self.inputs):
                raise ValueError(
                    f"{where}: the model has {len(self.inputs)} inputs ({names}), but "
                    f"{len(inputs)} arrays were given."
                )
            return list(inputs)
        if len(self.inputs) > 1:
            raise ValueError(
                f"{where}: the model has {len(self.inputs)} inputs ({names}); give a list of "
                f"{len(self.inputs)} arrays or a dict keyed by input name, not one "
                f"{type(inputs).__name__}."
            )
        return [inputs]

    # -- training data ------------------------------------------------------

    def group_inputs(self, x, where: str):
        """Several inputs' arrays (a list, or a dict by input name) as one ``ArrayGroup``."""
        if len(self.inputs) == 1:
            if isinstance(x, dict) or (isinstance(x, (list, tuple)) and len(x) == 1):
                return self.flatten_inputs(x, where)[0]
            return x
        if isinstance(x, data_utils.ArrayGroup):
            return x
        return data_utils.ArrayGroup(self.flatten_inputs(x, where), self._input_names)

    def group_targets(self, y, where: str):
        """Several outputs' targets (a list, or a dict by output name) as one ``ArrayGroup``."""
        names = self.output_names
        if len(names) == 1:
            if isinstance(y, dict) or (isinstance(y, (list, tuple)) and len(y) == 1):
                return self._targets_by_output(y, where)[0]
            return y
        if isinstance(y, data_utils.ArrayGroup):
            return y
        return data_utils.ArrayGroup(self._targets_by_output(y, where), names)

    def _scored_outputs(self) -> list[int]:
        """The outputs whose targets ``fit`` needs: those compiled with a loss (Keras 3 takes
        ``loss=[loss, None]`` and then targets for the first output only)."""
        scored = getattr(self.loss, "scored", None)
        return list(range(len(self.output_names))) if scored is None else scored

    def _targets_by_output(self, y, where: str) -> list:
        names = self.output_names
        scored = self._scored_outputs()
        if len(scored) < len(names) and not isinstance(y, dict):
            given = list(y) if isinstance(y, (list, tuple)) else [y]
            if len(given) == len(scored):  # targets of the outputs with a loss only
                targets = [None] * len(names)
                for index, array in zip(scored, given):
                    targets[index] = array
                return targets
        if isinstance(y, dict):
            missing = [name for i, name in enumerate(names) if name not in y and i in scored]
            if missing:
                raise ValueError(
                    f"{where}: the targets dict has no key {missing[0]!r}; the model's outputs "
                    f"are {names}, got keys {list(y)}."
                )
            return [y.get(name) for name in names]
        if isinstance(y, (list, tuple)) and len(y) == len(names):
            return list(y)
        given = f"{len(y)} arrays" if isinstance(y, (list, tuple)) else "one array"
        raise ValueError(
            f"{where}: the model has {len(names)} outputs {names}; give `y` as a list of "
            f"{len(names)} arrays or a dict keyed by output name, got {given}."
        )

    def _check_input_shape(self, shape, where: str) -> None:
        if len(self.inputs) == 1:
            super()._check_input_shape(shape, where)
            return
        for name, expected, given in zip(self._input_names, self.input_shape, shape):
            if len(given) != len(expected) or any(
                e is not None and e != g for e, g in zip(expected[1:], given[1:])
            ):
                raise ValueError(
                    f"{where}: input '{name}' of model '{self.name}' expects arrays of shape "
                    f"{format_shape(expected)}, but got an array of shape {format_shape(given)}."
                )

    def _call_symbolic(self, inputs, training):
        """A nested model: one node whose outputs have this model's output structure."""
        given = self.flatten_inputs(inputs, f"Model '{self.name}'")
        for tensor, expected in zip(given, self.inputs):
            if not isinstance(tensor, KerasTensor):
                raise TypeError(
                    f"Model '{self.name}': mix of symbolic and real inputs ({tensor!r})."
                )
            _check_compatible(self.name, expected.shape, tensor.shape)
        shapes = symbolic.flatten_shapes(self.compute_output_shape([t.shape for t in given]))
        outputs = [
            symbolic.KerasTensor(shape, tensor.dtype)
            for shape, tensor in zip(_as_shape_list(shapes), self.outputs)
        ]
        kwargs = {} if training is None else {"training": training}
        symbolic.Node(self, given if len(given) > 1 else given[0], outputs, kwargs)
        return symbolic.pack_like(self._output_structure, outputs)

    def compute_output_shape(self, input_shape):
        """Output shapes (in the output structure) for inputs of ``input_shape``."""
        shapes_given = (
            [input_shape]
            if symbolic.is_shape(input_shape)
            else symbolic.flatten_shapes(input_shape)
        )
        shapes = {id(t): tuple(s) for t, s in zip(self.inputs, shapes_given)}
        for node in self._nodes:
            arguments = [shapes[id(t)] for t in symbolic.flatten(node.inputs)]
            if len(arguments) == 1 and not node.layer.multiple_inputs:
                arguments = arguments[0]
            kwargs = dict(node.call_kwargs)
            for key, tensor in node.tensor_kwargs.items():
                if isinstance(tensor, KerasTensor):
                    kwargs[key] = KerasTensor(shapes[id(tensor)], tensor.dtype)
            extra = shape_arguments(node.layer.compute_output_shape, kwargs)
            result = node.layer.compute_output_shape(arguments, **extra)
            result = [result] if symbolic.is_shape(result) else symbolic.flatten_shapes(result)
            for tensor, shape in zip(node.outputs, result):
                shapes[id(tensor)] = tuple(shape)
        return symbolic.pack_like(self._output_structure, [shapes[id(t)] for t in self.outputs])

    # -- summary and config -----------------------------------------------

    def layer_summaries(self):
        rows = []
        for layer in self._layers:
            shapes = [t.shape for node in self._nodes_of(layer) for t in node.outputs]
            if isinstance(layer, InputLayer):
                shapes = [layer.output.shape]
            shape = shapes[0] if len(shapes) == 1 else shapes
            params = layer.count_params() if layer.built else 0
            connected = ", ".join(self.connections(layer)) or "-"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, params, connected))
        return rows

    def connections(self, layer: Layer) -> list[str]:
        """Keras's "Connected to" entries: ``name[node][tensor]`` of each input."""
        entries = []
        for node in self._nodes_of(layer):
            for tensor in node.input_tensors:
                origin, node_index, tensor_index = tensor._keras_history
                entries.append(f"{origin.name}[{node_index}][{tensor_index}]")
        return entries

    def _nodes_of(self, layer: Layer) -> list:
        return [node for node in self._nodes if node.layer is layer]

    def get_config(self) -> dict:
        """Layers with their configs and, for each call, the tensors it took (Keras's format)."""
        node_ids = {}
        layer_configs = []
        for layer in self._layers:
            inbound = []
            for node in [n for n in layer._inbound_nodes if _node_in(n, self._nodes)]:
                node_ids[id(node)] = len(inbound)
                kwargs = dict(node.call_kwargs)
                for key, structure in node.tensor_kwargs.items():
                    kwargs[key] = {"tensors": _history_structure(structure, node_ids)}
                inbound.append(
                    {"args": _history_structure(node.inputs, node_ids), "kwargs": kwargs}
                )
            layer_configs.append(
                {
                    "class_name": type(layer).__name__,
                    "name": layer.name,
                    "config": layer.get_config(),
                    "inbound_nodes": inbound if not isinstance(layer, InputLayer) else [],
                }
            )
        for layer in self._layers:
            if isinstance(layer, InputLayer):
                node_ids[id(layer._inbound_nodes[0])] = 0
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layer_configs,
            "input_layers": _history_structure(self._input_structure, node_ids),
            "output_layers": _history_structure(self._output_structure, node_ids),
        }

    @classmethod
    def from_config(cls, config_dict: dict, custom_objects: dict | None = None) -> "Functional":
        """Rebuild the graph: make each layer, then replay its calls in dependency order."""
        return cls.rebuild(config_dict, _layer_of_entry)

    @classmethod
    def rebuild(cls, config_dict: dict, make_layer) -> "Functional":
        """``from_config`` with each layer made by ``make_layer(entry)`` from its entry in
        ``config_dict["layers"]`` (``clone_model`` passes its clone function's layers)."""
        created: dict[str, Layer] = {}
        pending = []
        for entry in config_dict.get("layers", []):
            if not isinstance(entry, dict) or "name" not in entry:
                raise ValueError(f"Model.from_config: bad layer entry {entry!r}.")
            layer = make_layer(entry)
            created[entry["name"]] = layer
            for node in entry.get("inbound_nodes", []):
                pending.append((entry["name"], layer, node))
        outputs_of: dict[tuple[str, int], list] = {}
        for name, layer in created.items():
            if isinstance(layer, InputLayer):
                outputs_of[(name, 0)] = [layer.output]

        def resolve(structure):
            if isinstance(structure, dict):
                return {k: resolve(v) for k, v in structure.items()}
            if isinstance(structure, list) and _is_history(structure):
                name, node_index, tensor_index = structure
                return outputs_of[(name, node_index)][tensor_index]
            if isinstance(structure, list):
                return [resolve(item) for item in structure]
            raise ValueError(f"Model.from_config: bad tensor reference {structure!r}.")

        calls_made: dict[str, int] = {}
        while pending:
            progressed = False
            for item in list(pending):
                name, layer, node = item
                try:
                    arguments = resolve(node["args"])
                    kwargs = {
                        key: resolve(value["tensors"]) if _holds_tensors(value) else value
                        for key, value in node.get("kwargs", {}).items()
                    }
                except KeyError:
                    continue
                result = layer(arguments, **kwargs)
                index = calls_made.get(name, 0)
                calls_made[name] = index + 1
                outputs_of[(name, index)] = symbolic.flatten(result)
                pending.remove(item)
                progressed = True
            if not progressed:
                raise ValueError(
                    "Model.from_config: the layer connections refer to tensors that no layer "
                    f"makes (first unresolved: layer '{pending[0][0]}')."
                )
        return cls(
            resolve(config_dict["input_layers"]),
            resolve(config_dict["output_layers"]),
            name=config_dict.get("name"),
            trainable=config_dict.get("trainable", True),
        )


def _layer_of_entry(entry: dict) -> Layer:
    """The layer a ``get_config`` entry describes, new, from its registered class."""
    return layer_registry.lookup(entry.get("class_name", "")).from_config(
        dict(entry.get("config", {}))
    )


def _input_value(value, backend):
    """A model input as a Tensor on ``backend``; text stays a host array, for the
    preprocessing layer that reads it."""
    if isinstance(value, Tensor):
        return value
    if not hasattr(value, "__cuda_array_interface__"):
        value = numpy.asarray(value)
        if symbolic.is_string_array(value):
            return value
    return Tensor(value, backend=backend)


class _Step:
    """What running one node needs, worked out once when the model is made."""

    __slots__ = ("node", "layer", "input_id", "output_id", "kwargs", "training", "fusion")

    def __init__(self, node):
        self.node, self.layer = node, node.layer
        simple = (
            isinstance(node.inputs, KerasTensor)
            and not node.tensor_kwargs
            and len(node.outputs) == 1
        )
        self.input_id = id(node.inputs) if simple else None
        self.output_id = id(node.outputs[0]) if simple else None
        self.kwargs = {k: v for k, v in node.call_kwargs.items() if k != "training"}
        self.training = node.call_kwargs.get("training")
        #: set by ``fusion.pair_steps``: runs this step (with another) as one op, when it can
        self.fusion = None


def _run_node(node, values: dict, training) -> None:
    """Run a node with several inputs or outputs, or tensors among its keyword arguments;
    their masks ride on the tensors (each tensor argument's to ``<argument>_mask``)."""
    arguments = symbolic.pack_like(node.inputs, [values[id(t)] for t in node.input_tensors])
    kwargs = dict(node.call_kwargs)
    for key, structure in node.tensor_kwargs.items():
        kwargs[key] = symbolic.map_structure(lambda t: values[id(t)], structure)
    kwargs.setdefault("training", training)
    outputs = node.layer(arguments, **kwargs)
    for tensor, value in zip(node.outputs, symbolic.flatten(outputs)):
        values[id(tensor)] = value


def _plain_structure(structure, argument: str, name: str):
    """A tensor, list or dict of KerasTensors (tuples become lists), checked."""
    if isinstance(structure, tuple):
        structure = list(structure)
    for leaf in symbolic.flatten(structure):
        if not isinstance(leaf, KerasTensor):
            raise TypeError(
                f"Model '{name}': `{argument}` must be symbolic tensors (from layers.Input and "
                f"layer calls), got {type(leaf).__name__}: {leaf!r}."
            )
    return structure


def _execution_order(inputs: list, outputs: list, name: str) -> list:
    """The nodes between ``inputs`` and ``outputs``, each after those feeding it.

    An iterative depth-first walk from the outputs (no recursion: graphs may be
    deep); reaching an Input that is not among ``inputs`` means the graph is
    disconnected.
    """
    input_ids = {id(t) for t in inputs}
    order, done, on_path = [], set(), set()
    stack = [(_producer(t), False) for t in reversed(outputs) if id(t) not in input_ids]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            on_path.discard(id(node))
            done.add(id(node))
            order.append(node)
            continue
        if isinstance(node.layer, InputLayer):
            tensor = node.outputs[0]
            raise ValueError(
                f"Model '{name}': graph disconnected: an output needs the input "
                f"'{tensor.name}' (shape {format_shape(tensor.shape)}), which is not among the "
                f"model's inputs {[t.name for t in inputs]}."
            )
        on_path.add(id(node))
        stack.append((node, True))
        for tensor in reversed(node.input_tensors):
            if id(tensor) in input_ids:
                continue
            parent = _producer(tensor)
            if id(parent) not in done:
                stack.append((parent, False))
    return order


def _producer(tensor: KerasTensor):
    if tensor._keras_history is None:
        raise ValueError(f"{tensor!r} was not made by a layer call or layers.Input.")
    layer, node_index, _ = tensor._keras_history
    return layer._inbound_nodes[node_index]


def _layers_in_order(inputs: list, nodes: list) -> list[Layer]:
    layers, seen = [], set()
    for layer in [t._keras_history[0] for t in inputs] + [node.layer for node in nodes]:
        if id(layer) not in seen:
            seen.add(id(layer))
            layers.append(layer)
    return layers


def _output_names(outputs: list) -> list[str]:
    """Keras 3 names each output after the layer that made it."""
    return [t._keras_history[0].name for t in outputs]


def _check_compatible(name: str, expected: tuple, given: tuple) -> None:
    if len(expected) != len(given) or any(
        e is not None and g is not None and e != g for e, g in zip(expected, given)
    ):
        raise ValueError(
            f"Model '{name}' expects an input of shape {format_shape(expected)}, but was called "
            f"on a tensor of shape {format_shape(given)}."
        )


def _as_shape_list(shapes) -> list:
    return [shapes] if symbolic.is_shape(shapes) else list(shapes)


def _node_in(node, nodes: list) -> bool:
    return any(node is other for other in nodes)


def _history_structure(structure, node_ids: dict):
    """Each tensor as ``[layer_name, node_index, tensor_index]``, in the given structure."""
    if isinstance(structure, dict):
        return {k: _history_structure(v, node_ids) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [_history_structure(item, node_ids) for item in structure]
    layer, node_index, tensor_index = structure._keras_history
    node = layer._inbound_nodes[node_index]
    return [layer.name, node_ids.get(id(node), node_index), tensor_index]


def _holds_tensors(value) -> bool:
    return isinstance(value, dict) and list(value) == ["tensors"]


def _is_history(value) -> bool:
    return (
        len(value) == 3
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and isinstance(value[2], int)
    )
