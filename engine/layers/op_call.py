"""``OpCall``: an ``engine.ops`` function applied to symbolic tensors, as a graph node.

In Keras 3 ``x = ops.expand_dims(inputs, -1)`` or ``x = inputs / 255.0`` inside
a functional model records the operation. Here such a call becomes an
``OpCall`` layer whose inputs are the symbolic tensors among the arguments; the
other arguments are kept as JSON (numbers, strings, lists, slices), so a model
with them saves and loads like any other. Only functions of ``engine.ops`` can
be named (and the built-in activations, ``"activations.relu"``), so loading never runs
anything else.
"""

import numpy

from .. import activations, ops, symbolic
from ..symbolic import KerasTensor
from ..tensor import Tensor, no_grad
from .base import Layer, register_layer, unique_name


def get_item(x, index):
    """``x[index]`` (Keras's ``ops.get_item``)."""
    return ops.convert_to_tensor(x)[index]


def _function(name: str):
    if name == "get_item":
        return get_item
    namespace, _, short = name.rpartition(".")  # "image.resize": ops.image.resize
    if namespace == "activations":  # ``activations.relu(x)``: a built-in one, by name
        return activations.get(short)
    function = getattr(getattr(ops, namespace, None) if namespace else ops, short, None)
    if not callable(function) or short.startswith("_"):
        raise ValueError(f"OpCall: '{name}' is not a function of engine.ops.")
    return function


@register_layer
class OpCall(Layer):
    """``ops.<op>(*args, **kwargs)`` with the symbolic tensors among them as its inputs."""

    multiple_inputs = True
    autocast = False  # ops keep their inputs' dtypes

    def __init__(self, op: str, args=(), kwargs=None, **layer_kwargs):
        super().__init__(**layer_kwargs)
        self.op = op
        self.function = _function(op)
        self.args, self.call_arguments = list(args), dict(kwargs or {})

    @classmethod
    def for_call(cls, name: str, args: tuple, kwargs: dict):
        tensors: list[KerasTensor] = []
        template = _template([list(args), kwargs], tensors)
        layer = cls(name, template[0], template[1], name=unique_name(name))
        return layer(tensors)

    def call(self, inputs):
        args, kwargs = _fill(self.args, inputs), _fill(self.call_arguments, inputs)
        return self.function(*args, **kwargs)

    def compute_output_shape(self, input_shape):
        """Run the op once on zeros (a batch of one) on the host: ops have no shape rules."""
        import backends

        host = backends.get("numpy")
        probes = [
            Tensor(numpy.zeros(tuple(1 if s is None else s for s in shape)), backend=host)
            for shape in input_shape
        ]
        with no_grad():
            result = self.call(probes)
        batch_unknown = any(shape and shape[0] is None for shape in input_shape)

        def shape_of(tensor):
            shape = tuple(tensor.shape)
            if batch_unknown and shape and shape[0] == 1:
                return (None, *shape[1:])
            return shape

        return symbolic.map_structure(shape_of, result)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "op": self.op,
            "args": self.args,
            "kwargs": self.call_arguments,
        }


def _template(value, tensors: list):
    """``value`` with each KerasTensor replaced by ``{"tensor": i}`` and slices made JSON."""
    if isinstance(value, KerasTensor):
        tensors.append(value)
        return {"tensor": len(tensors) - 1}
    if isinstance(value, slice):
        return {"slice": [value.start, value.stop, value.step]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, dict):
        return {key: _template(item, tensors) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_template(item, tensors) for item in value]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, numpy.ndarray):
        return value.tolist()
    if isinstance(value, numpy.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"engine.ops on symbolic tensors: the argument {value!r} cannot be kept in a model "
        f"(use numbers, strings, lists, slices or other tensors)."
    )


def _fill(template, tensors: list):
    if isinstance(template, dict):
        if set(template) == {"tensor"}:
            return tensors[template["tensor"]]
        if set(template) == {"slice"}:
            return slice(*template["slice"])
        if set(template) == {"ellipsis"}:
            return Ellipsis
        if set(template) == {"tuple"}:
            return tuple(_fill(item, tensors) for item in template["tuple"])
        return {key: _fill(item, tensors) for key, item in template.items()}
    if isinstance(template, list):
        return [_fill(item, tensors) for item in template]
    return template


symbolic.register_op_layer(OpCall)
