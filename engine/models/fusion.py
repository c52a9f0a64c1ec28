"""Layer pairs a functional model runs as one op.

A ``Conv2D`` with a relu whose output only a ``MaxPooling2D`` with 2x2 windows of
stride 2 reads (``"valid"``, or ``"same"`` on an output of even sides: each
convolution block of the MNIST and CIFAR convnets and of the convolutional
autoencoders in Keras's examples) runs as ``F.conv2d_relu_max_pool`` where the
backend has a kernel for it: the convolution's output is pooled as it is computed,
and neither it nor its gradient is ever written. The values and gradients are those
of the two layers (the same pooling, tie for tie); anything else (a mask on the
input, an input the convolution would cast first, an activity regularizer, other
pooling), or a backend without the kernel, runs the layers as they are.
"""

from collections import Counter

from .. import activations
from ..functional.conv import conv2d_relu_max_pool
from ..layers.conv import Conv2D
from ..layers.pooling import MaxPooling2D
from ..tensor import Tensor


class ConvReluMaxPool:
    """Runs a Conv2D step and the MaxPooling2D step reading it as one op, when it can."""

    __slots__ = ("conv", "pool", "input_id", "output_id")

    def __init__(self, conv_step, pool_step):
        self.conv, self.pool = conv_step.layer, pool_step.layer
        self.input_id, self.output_id = conv_step.input_id, pool_step.output_id

    def __call__(self, values: dict) -> bool:
        """Put the pooled output in ``values`` and return True; False to run the layers."""
        inputs = values[self.input_id]
        conv, pool = self.conv, self.pool
        if (
            type(inputs) is not Tensor
            or inputs._keras_mask is not None
            or not conv.built
            or conv.activation is not activations.relu
            or conv.activity_regularizer is not None
            or pool.pool_size != (2, 2)
            or pool.strides != (2, 2)
            or inputs.data.dtype != conv.dtype  # the layer would cast its input first
            or not _whole_windows(conv, pool, inputs.data.shape)
        ):
            return False
        pooled = conv2d_relu_max_pool(
            inputs, conv.kernel, conv.bias, conv.strides, conv.padding, conv.dilation_rate
        )
        if pooled is None:
            return False
        values[self.output_id] = pooled
        return True


def _whole_windows(conv, pool, input_shape) -> bool:
    """Whether the pooling's windows are whole 2x2 windows of the convolution's output, as
    the fused op pools it: with ``"valid"`` padding, or ``"same"`` on even sides (which pads
    nothing: the convolutional autoencoders' 28 -> 14 pooling)."""
    if pool.padding == "valid":
        return True
    try:
        sides = conv._check_input(input_shape)
    except ValueError:  # the layer will say what is wrong with its input
        return False
    return all(side % 2 == 0 for side in sides)


class AlreadyComputed:
    """Stands for the pooling step of a ``ConvReluMaxPool``: skipped when it ran."""

    __slots__ = ("output_id",)

    def __init__(self, output_id: int):
        self.output_id = output_id

    def __call__(self, values: dict) -> bool:
        return self.output_id in values


def pair_steps(steps: list, nodes: list, outputs: list) -> None:
    """Set the ``fusion`` of each Conv2D step whose output is read by one MaxPooling2D step
    only (not by another layer, nor as a model output), and of that pooling step."""
    readers = Counter(id(tensor) for node in nodes for tensor in node.input_tensors)
    readers.update(id(tensor) for tensor in outputs)
    pools = {
        step.input_id: step
        for step in steps
        if type(step.layer) is MaxPooling2D and step.input_id is not None and not step.kwargs
    }
    for step in steps:
        pool = pools.get(step.output_id) if step.output_id is not None else None
        if (
            pool is not None
            and type(step.layer) is Conv2D
            and not step.kwargs
            and readers[step.output_id] == 1
        ):
            step.fusion = ConvReluMaxPool(step, pool)
            pool.fusion = AlreadyComputed(pool.output_id)
