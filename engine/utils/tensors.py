"""Helpers on batches, dtypes and symbolic tensors, as ``keras.utils`` has them."""

from .. import config, symbolic
from ..backend import is_keras_tensor
from ..models.trainer import unpack_x_y_sample_weight

#: Keras 3's names for Python types (its ``PYTHON_DTYPES_MAP`` on PyTorch and JAX)
_PYTHON_DTYPES = {bool: "bool", int: "int32", "int": "int32", float: "float32", str: "string"}


def standardize_dtype(dtype) -> str:
    """A dtype's Keras name: ``None`` is ``floatx()``, Python's ``float`` ``"float32"``
    and ``int`` ``"int32"`` (as Keras 3 on PyTorch and JAX), text ``"string"``, other
    dtypes (names, NumPy types, arrays' dtypes) their NumPy name."""
    if dtype is None:
        return config.floatx()
    if isinstance(dtype, (type, str)) and dtype in _PYTHON_DTYPES:
        return _PYTHON_DTYPES[dtype]
    try:
        return symbolic.standardize_dtype(dtype)
    except TypeError:
        raise ValueError(f"Invalid dtype: {dtype!r}.") from None


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """``x`` (wrapped in a tuple when it is a tuple or list itself), ``(x, y)`` or
    ``(x, y, sample_weight)``: the batch ``unpack_x_y_sample_weight`` takes apart."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def get_source_inputs(tensor) -> list:
    """The ``Input`` tensors a symbolic tensor is computed from, each once, in the order
    met going back through the graph (Keras's order); a non-symbolic value is returned
    as it is."""
    if not hasattr(tensor, "_keras_history"):
        return tensor
    if tensor._keras_history is None:
        return [tensor]
    sources: list = []
    visited: set = set()
    # depth-first, first inputs first, with a stack: deep graphs need no recursion
    pending = [tensor]
    while pending:
        current = pending.pop()
        layer, node_index, _ = current._keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in visited:
            continue
        visited.add(id(node))
        if not node.input_tensors:  # an Input
            for output in node.outputs:
                if all(output is not seen for seen in sources):
                    sources.append(output)
            continue
        pending.extend(reversed(node.input_tensors))
    return sources


__all__ = [
    "get_source_inputs",
    "is_keras_tensor",
    "pack_x_y_sample_weight",
    "standardize_dtype",
    "unpack_x_y_sample_weight",
]
