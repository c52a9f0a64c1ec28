"""Core layers: Input, Dense, Activation."""

import numpy

from .. import activations, constraints, initializers, regularizers
from .. import functional as F
from ..symbolic import KerasTensor, Node, is_string_array, standardize_dtype
from .base import InputSpec, Layer, register_layer


@register_layer
class InputLayer(Layer):
    """Declares the input shape of a model; passes its input through unchanged.

    Its ``output`` is the symbolic tensor that ``layers.Input`` returns. With
    ``dtype="string"`` it takes text (NumPy str or object arrays) and passes it on,
    on the host, to a ``TextVectorization`` or ``StringLookup``.
    """

    autocast = False  # integer inputs may be indices for an Embedding next

    def __init__(
        self,
        shape=None,
        batch_size=None,
        name=None,
        dtype=None,
        input_shape=None,
        batch_shape=None,
        sparse=None,
        **kwargs,
    ):
        if batch_shape is not None:
            if shape is not None or batch_size is not None:
                raise ValueError(
                    "InputLayer: give either `batch_shape` or `shape` (with `batch_size`), "
                    f"not both; got batch_shape={batch_shape}, shape={shape}."
                )
            batch_shape = tuple(batch_shape)
            batch_size, shape = batch_shape[0], batch_shape[1:]
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("InputLayer: give `shape`, the input shape without the batch axis.")
        if isinstance(shape, int):
            shape = (shape,)
        if sparse:
            raise ValueError(f"InputLayer: sparse inputs are not supported (got sparse={sparse}).")
        shape = tuple(shape)
        if dtype is not None and standardize_dtype(dtype) == "string":
            dtype = "string"  # Keras's name for text, whichever alias came (str, object)
        if any(s is not None and (not isinstance(s, int) or s <= 0) for s in shape):
            raise ValueError(
                f"InputLayer: `shape` must hold positive integers or None, got {shape}."
            )
        super().__init__(name=name, dtype=dtype, input_shape=shape, batch_size=batch_size, **kwargs)
        self.shape = shape
        self.supports_masking = True
        self.built = True
        self._build_input_shape = (batch_size, *shape)
        # its one node's output is ``self.output`` (``Layer.output``)
        Node(self, [], [KerasTensor((batch_size, *shape), self.dtype, name=self.name)], {})

    @property
    def batch_shape(self) -> tuple:
        return self._build_input_shape

    @property
    def accepts_strings(self) -> bool:
        """Whether this input takes text (``dtype="string"``); models let it through."""
        return self.dtype == "string"

    def _input_tensor(self, data):
        if not self.accepts_strings:
            return super()._input_tensor(data)
        array = numpy.asarray(data)
        if not is_string_array(array):
            raise TypeError(
                f"InputLayer '{self.name}' has dtype 'string' and expects text (an array or "
                f"list of str); got an array of dtype {array.dtype}."
            )
        return array

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            "shape": list(self.shape),
            "batch_size": self._batch_input_shape[0],
            "name": self.name,
            "dtype": self.dtype,
        }


def Input(  # noqa: N802 (Keras name)
    shape=None, batch_size=None, name=None, dtype=None, batch_shape=None, sparse=None
) -> KerasTensor:
    """``keras.Input``: a symbolic tensor to build models from (a ``Sequential``'s first entry,
    or the inputs of ``Model(inputs, outputs)``)."""
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        name=name,
        dtype=dtype,
        batch_shape=batch_shape,
        sparse=sparse,
    )
    return layer.output


class ActivityRegularized:
    """Mixin for layers taking ``activity_regularizer``: a penalty on their output.

    As in Keras 3, ``losses`` holds ``activity_regularizer(output)`` of each call
    since the outermost layer call began, divided by the output's batch size
    (Keras 3.14 and later; 3.13 and earlier did not divide), and
    ``fit``/``evaluate`` add it to the loss.
    """

    activity_regularizer = None

    def _regularize_activity(self, outputs) -> None:
        """Add the penalty on ``outputs`` with ``add_loss`` (reset at each outermost call)."""
        penalty = self.activity_regularizer(outputs)
        if outputs.ndim > 0:
            batch_size = outputs.shape[0]
            penalty = penalty * (1.0 / batch_size if batch_size else 0.0)  # Keras: divide_no_nan
        self.add_loss(penalty)

    def _activity_config(self) -> dict:
        return {"activity_regularizer": regularizers.serialize(self.activity_regularizer)}


@register_layer
class Dense(ActivityRegularized, Layer):
    """``activation(inputs @ kernel + bias)`` over the last axis."""

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Dense '{self.name}': `units` must be a positive integer, got {units!r}."
            )
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = (
            self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            if self.use_bias
            else None
        )
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        if self.activation is activations.relu:  # added with the bias, in one op
            outputs = F.dense(inputs, self.kernel, self.bias, activation="relu")
        else:
            outputs = self.activation(F.dense(inputs, self.kernel, self.bias))
        if self.activity_regularizer is not None:
            self._regularize_activity(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            **self._activity_config(),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


@register_layer
class Activation(Layer):
    """Applies an activation function by name or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
