"""EinsumDense: a dense layer whose contraction is an einsum equation, as Keras 3.

``EinsumDense("ab,bc->ac", output_shape=64)`` is ``Dense(64)``; other
equations give kernels of any rank (``"abc,cde->abde"``: a kernel ``(c, d, e)``
applied to each step). The kernel's and bias's shapes are read from the
equation, ``output_shape`` (the output without its batch axis) and
``bias_axes`` (output letters that get a bias), by Keras 3's rules, including
``...`` on the left or the right of the input and output.
"""

import math
import re

import numpy

from .. import activations, constraints, initializers, regularizers
from ..ops import einsum
from .base import InputSpec, Layer, register_layer
from .core import ActivityRegularized


def analyze_einsum(equation: str, bias_axes, input_shape, output_shape, where: str):
    """``(kernel_shape, bias_shape, full_output_shape, input_axes, output_axes)``, as Keras's
    ``_analyze_einsum_string``; the axes are the kernel's input and output units."""
    dotted = equation.replace("...", "0")
    patterns = (
        ("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$", False),
        ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$", True),
        ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$", False),
    )
    for pattern, left_elided in patterns:
        match = re.match(pattern, dotted)
        if match:
            return _analyze_split(
                *match.groups(), bias_axes, tuple(input_shape), output_shape, left_elided, where
            )
    raise ValueError(
        f"{where}: invalid einsum equation '{equation}'. Equations must be in the form "
        f"[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...."
    )


def _analyze_split(
    input_spec, weight_spec, output_spec, bias_axes, input_shape, output_shape, left, where
):
    elided = len(input_shape) - len(input_spec)
    output = [input_shape[0], *output_shape]
    if elided > 0 and left:
        for i in range(1, elided):
            output.insert(1, input_shape[i])
    elif elided > 0:
        output.extend(input_shape[len(input_shape) - elided :])
    if left:
        input_axis = {dim: i + elided - len(input_shape) for i, dim in enumerate(input_spec)}
        output_axis = {dim: i + elided for i, dim in enumerate(output_spec)}
    else:
        input_axis = {dim: i for i, dim in enumerate(input_spec)}
        output_axis = {dim: i for i, dim in enumerate(output_spec)}
    for dim in input_spec:
        if dim in output_axis:
            given, needed = output[output_axis[dim]], input_shape[input_axis[dim]]
            if given is not None and given != needed:
                raise ValueError(
                    f"{where}: input shape and output shape do not match at shared dimension "
                    f"'{dim}'. Input shape is {needed}, and output shape is {given}."
                )
    for dim in output_spec:
        if dim not in input_spec and dim not in weight_spec:
            raise ValueError(
                f"{where}: dimension '{dim}' was specified in the output '{output_spec}' but has "
                f"no corresponding dim in the input spec '{input_spec}' or weight spec "
                f"'{weight_spec}'."
            )
    kernel_shape, input_axes, output_axes = [], [], []
    for i, dim in enumerate(weight_spec):
        if dim in output_axis:
            kernel_shape.append(output[output_axis[dim]])
            output_axes.append(i)
        elif dim in input_axis:
            kernel_shape.append(input_shape[input_axis[dim]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"{where}: weight dimension '{dim}' did not have a match in either the input "
                f"spec '{input_spec}' or the output spec '{output_spec}'. For this layer, the "
                f"weight must be fully specified."
            )
    bias_shape = None
    if bias_axes is not None:
        offset = elided if left else 0
        size_of = {dim: output[i + offset] for i, dim in enumerate(output_spec)}
        for dim in bias_axes:
            if dim not in output_spec:
                raise ValueError(
                    f"{where}: bias dimension '{dim}' was requested, but is not part of the "
                    f"output spec '{output_spec}'."
                )
        first = min(output_spec.find(dim) for dim in bias_axes)
        bias_shape = [size_of[dim] if dim in bias_axes else 1 for dim in output_spec[first:]]
        if not left:
            bias_shape.extend([1] * max(elided, 0))
    return kernel_shape, bias_shape, output, input_axes, output_axes


def _kernel_initializer(initializer, input_axes, output_axes):
    """Keras 3's fans for an einsum kernel: a variance-scaling initializer reads fan-in and
    fan-out from the kernel's input and output axes (drawn as that matrix, then reshaped)."""
    if not isinstance(initializer, initializers.VarianceScaling):
        return initializer

    def initialize(shape, dtype="float32"):
        fan_in = math.prod(shape[a] for a in input_axes)
        fan_out = math.prod(shape[a] for a in output_axes)
        return numpy.asarray(initializer((fan_in, fan_out), dtype)).reshape(shape)

    return initialize


@register_layer
class EinsumDense(ActivityRegularized, Layer):
    """``activation(einsum(equation, inputs, kernel) + bias)``; weights kernel, then bias
    (present when ``bias_axes`` names output letters)."""

    def __init__(
        self,
        equation: str,
        output_shape,
        activation=None,
        bias_axes: str | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        activity_regularizer=None,
        **kwargs,
    ):
        kwargs.pop("gptq_unpacked_column_size", None)
        quantization = kwargs.pop("quantization_config", None)
        super().__init__(**kwargs)
        where = f"EinsumDense '{self.name}'"
        if lora_rank or quantization is not None:
            raise ValueError(
                f"{where}: LoRA (lora_rank) and quantization are not supported; got "
                f"lora_rank={lora_rank!r}, quantization_config={quantization!r}."
            )
        if not isinstance(equation, str):
            raise ValueError(f"{where}: `equation` must be a string, got {equation!r}.")
        self.equation = equation
        sizes = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        if not all(s is None or (isinstance(s, int) and s > 0) for s in sizes):
            raise ValueError(
                f"{where}: `output_shape` must be a positive int or a tuple of them (None for "
                f"sizes taken from the input), got {output_shape!r}."
            )
        self.partial_output_shape = sizes
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise ValueError(f"{where}: `bias_axes` must be a string or None, got {bias_axes!r}.")
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _analyze(self, input_shape):
        return analyze_einsum(
            self.equation,
            self.bias_axes,
            input_shape,
            self.partial_output_shape,
            f"EinsumDense '{self.name}'",
        )

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = self._analyze(input_shape)
        self.input_spec = InputSpec(ndim=len(input_shape))
        self.kernel = self.add_weight(
            name="kernel",
            shape=tuple(kernel_shape),
            initializer=_kernel_initializer(self.kernel_initializer, input_axes, output_axes),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if bias_shape is not None:
            self.bias = self.add_weight(
                name="bias",
                shape=tuple(bias_shape),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def compute_output_shape(self, input_shape):
        return tuple(self._analyze(tuple(input_shape))[2])

    def call(self, inputs):
        outputs = einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        outputs = self.activation(outputs)
        if self.activity_regularizer is not None:
            self._regularize_activity(outputs)
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": list(self.partial_output_shape),
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            **self._activity_config(),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": None,
        }
