"""Symbolic tensors and the nodes that record which layer made them.

``layers.Input(shape)`` returns a ``KerasTensor``: a shape (batch axis ``None``),
a dtype and the history of the layer call that produced it. Calling a layer on
symbolic tensors runs no kernel: the layer is built from the input shapes, its
output shapes come from ``compute_output_shape``, and a ``Node`` records the
call. ``engine.models.Model(inputs, outputs)`` walks these nodes.

Text has Keras's dtype name ``"string"``: its data are NumPy ``str`` or ``object``
arrays, which stay on the host (``is_string_array``) until a preprocessing
layer turns them into numbers.

This module sits beside ``tensor.py`` rather than in ``models/`` because
``Layer.__call__`` must recognise symbolic inputs, and layers may not import
models (dependencies point from models to layers).
"""

import itertools

import numpy

_tensor_ids = itertools.count()


class KerasTensor:
    """A placeholder for the value a layer will compute: shape, dtype and history."""

    def __init__(self, shape, dtype="float32", name: str | None = None, history=None):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = standardize_dtype(dtype)
        self.name = name or f"keras_tensor_{next(_tensor_ids)}"
        #: ``(layer, node_index, tensor_index)``: the call that produced this tensor
        self._keras_history = history

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError(
            f"KerasTensor '{self.name}' is symbolic: its batch size is not known until the "
            f"model runs. Use `tensor.shape` for the known axes."
        )

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"KerasTensor '{self.name}' is symbolic (a model input or a layer output in the "
            f"functional API): it has no values. Pass it to layers and build a "
            f"engine.Model(inputs, outputs), then call the model on real data."
        )

    def __bool__(self):
        raise TypeError(f"KerasTensor '{self.name}' is symbolic and has no truth value.")

    __hash__ = object.__hash__

    # arithmetic records ``engine.ops`` calls in the graph, as Keras 3 does
    def __add__(self, other):
        return call_op("add", (self, other))

    def __radd__(self, other):
        return call_op("add", (other, self))

    def __sub__(self, other):
        return call_op("subtract", (self, other))

    def __rsub__(self, other):
        return call_op("subtract", (other, self))

    def __mul__(self, other):
        return call_op("multiply", (self, other))

    def __rmul__(self, other):
        return call_op("multiply", (other, self))

    def __truediv__(self, other):
        return call_op("divide", (self, other))

    def __rtruediv__(self, other):
        return call_op("divide", (other, self))

    def __pow__(self, other):
        return call_op("power", (self, other))

    def __matmul__(self, other):
        return call_op("matmul", (self, other))

    def __neg__(self):
        return call_op("negative", (self,))

    def __abs__(self):
        return call_op("abs", (self,))

    def __getitem__(self, index):
        return call_op("get_item", (self, index))


def standardize_dtype(dtype) -> str:
    """A dtype's name: NumPy's, or Keras's ``"string"`` for text (str, bytes, object)."""
    if isinstance(dtype, str) and dtype == "string":
        return "string"
    dtype = numpy.dtype(dtype)
    return "string" if dtype.kind in "OSU" else dtype.name


def is_string_array(value) -> bool:
    """Whether ``value`` is a NumPy array of text (str or bytes, or objects that are)."""
    if not isinstance(value, numpy.ndarray):
        return False
    if value.dtype.kind in "SU":
        return True
    return value.dtype.kind == "O" and value.size > 0 and isinstance(value.flat[0], (str, bytes))


#: the layer class that records an ``engine.ops`` call on symbolic tensors
#: (``engine.layers.OpCall``; set by the layers package, which ops must not import)
_op_layer = None


def register_op_layer(cls) -> None:
    global _op_layer
    _op_layer = cls


def call_op(name: str, args: tuple, kwargs: dict | None = None):
    """``engine.ops.<name>(*args, **kwargs)`` on symbolic tensors: a node in the graph."""
    if _op_layer is None:
        import engine.layers  # noqa: F401  (registers OpCall)
    return _op_layer.for_call(name, args, kwargs or {})


class Node:
    """One call of ``layer`` on symbolic ``inputs`` (a tensor, list or dict) giving ``outputs``."""

    def __init__(self, layer, inputs, outputs: list[KerasTensor], call_kwargs: dict):
        self.layer = layer
        self.inputs = inputs
        self.outputs = outputs
        #: keyword arguments; symbolic ones (e.g. a recurrent layer's ``initial_state``)
        #: are inputs of the node too, after the positional ones in ``input_tensors``
        self.call_kwargs = call_kwargs
        self.tensor_kwargs = {
            key: value for key, value in call_kwargs.items() if is_symbolic(value)
        }
        self.input_tensors = flatten(inputs) + flatten(list(self.tensor_kwargs.values()))
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for position, tensor in enumerate(outputs):
            tensor._keras_history = (layer, self.index, position)

    @property
    def parent_nodes(self) -> list["Node"]:
        """The nodes that produced this node's inputs."""
        parents = []
        for tensor in self.input_tensors:
            layer, node_index, _ = tensor._keras_history
            parents.append(layer._inbound_nodes[node_index])
        return parents


def flatten(structure) -> list:
    """The leaves of a tensor, list, tuple or dict (dicts in key order), as a flat list."""
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_like(structure, leaves):
    """``leaves`` (a flat list) arranged as ``structure``."""
    iterator = iter(leaves)

    def pack(item):
        if isinstance(item, dict):
            return {key: pack(value) for key, value in item.items()}
        if isinstance(item, list):  # a plain list, also of a layer's tracked list attribute
            return [pack(value) for value in item]
        if isinstance(item, tuple):
            return type(item)(pack(value) for value in item)
        return next(iterator)

    return pack(structure)


def map_structure(function, structure):
    return pack_like(structure, [function(leaf) for leaf in flatten(structure)])


def is_symbolic(inputs) -> bool:
    """Whether ``inputs`` (a tensor or a structure of them) holds a KerasTensor."""
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, (list, tuple, dict)):
        return any(isinstance(leaf, KerasTensor) for leaf in flatten(inputs))
    return False


def shapes_of(structure):
    """The shapes of a structure of tensors, arranged as the structure."""
    return map_structure(lambda t: tuple(t.shape), structure)


def is_shape(value) -> bool:
    """Whether ``value`` is one shape (a tuple of ints and None), not a list of shapes."""
    return isinstance(value, (tuple, list)) and all(
        s is None or isinstance(s, (int, numpy.integer)) for s in value
    )


def flatten_shapes(structure) -> list[tuple]:
    """The shapes in a shape, list or dict of shapes, as a flat list."""
    if is_shape(structure):
        return [tuple(structure)]
    if isinstance(structure, dict):
        return [shape for key in structure for shape in flatten_shapes(structure[key])]
    return [shape for item in structure for shape in flatten_shapes(item)]


def map_shapes(function, structure):
    """``function`` applied to each shape of a shape, list or dict of shapes."""
    if is_shape(structure):
        return function(tuple(structure))
    if isinstance(structure, dict):
        return {key: map_shapes(function, value) for key, value in structure.items()}
    return type(structure)(map_shapes(function, item) for item in structure)
