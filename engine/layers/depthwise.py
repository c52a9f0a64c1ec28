"""Depthwise and separable convolution layers (channels-last), as Keras 3.

``DepthwiseConv1D/2D`` convolve each input channel with ``depth_multiplier``
filters of its own: kernel ``(..., in, depth_multiplier)``, output channel
``c * depth_multiplier + m``. ``SeparableConv1D/2D`` follow that with a
pointwise (1x1) convolution to ``filters`` channels: weights, in Keras's order,
``depthwise_kernel (..., in, depth_multiplier)``, ``pointwise_kernel
(1, ..., in * depth_multiplier, filters)`` and ``bias (filters,)``.
"""

from .. import activations, constraints, initializers, regularizers
from .. import functional as F
from ..functional.depthwise import depthwise_conv1d, depthwise_conv2d
from .base import InputSpec, Layer, format_shape, register_layer
from .conv import (
    check_data_format,
    check_padding,
    check_rank,
    normalize_tuple,
    spatial_output_shape,
)
from .conv3d import activate
from .core import ActivityRegularized


def _positive_int(layer: Layer, argument: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{argument}` must be a positive integer, "
            f"got {value!r}."
        )
    return value


class _DepthwiseConv(ActivityRegularized, Layer):
    """Shared body of the depthwise and separable layers: the depthwise step."""

    rank = 2
    layout = "(batch, height, width, channels)"

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        check_data_format(data_format, where)
        self.depth_multiplier = _positive_int(self, "depth_multiplier", depth_multiplier)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", where)
        self.strides = normalize_tuple(strides, self.rank, "strides", where)
        self.padding = check_padding(padding, ("valid", "same"), where)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", where)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _output_spatial(self, input_shape) -> tuple:
        check_rank(self, input_shape, self.rank + 2, self.layout)
        return spatial_output_shape(
            self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate
        )

    def _channels(self, input_shape) -> int:
        self._output_spatial(input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the channels axis of the input must be "
                f"known, but received input with shape {format_shape(input_shape)}."
            )
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        return channels

    def _add_depthwise_kernel(self, name: str, channels: int):
        return self.add_weight(
            name=name,
            shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )

    def _add_bias(self, size: int):
        if not self.use_bias:
            return None
        return self.add_weight(
            name="bias",
            shape=(size,),
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def _depthwise(self, inputs, kernel):
        self._output_spatial(inputs.shape)
        op = depthwise_conv2d if self.rank == 2 else depthwise_conv1d
        return op(inputs, kernel, self.strides, self.padding, self.dilation_rate)

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            **self._activity_config(),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class _Depthwise(_DepthwiseConv):
    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.kernel = self._add_depthwise_kernel("kernel", channels)
        self.bias = self._add_bias(channels * self.depth_multiplier)

    def compute_output_shape(self, input_shape):
        spatial = self._output_spatial(tuple(input_shape))
        channels = input_shape[-1]
        outputs = None if channels is None else channels * self.depth_multiplier
        return (input_shape[0], *spatial, outputs)

    def call(self, inputs):
        y = self._depthwise(inputs, self.kernel)
        return activate(self, y if self.bias is None else F.add(y, self.bias))


@register_layer
class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution of ``(batch, height, width, channels)``; kernel
    ``(kh, kw, in, depth_multiplier)``, output ``in * depth_multiplier`` channels."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, **kwargs):
        kwargs.setdefault("dilation_rate", (1, 1))
        super().__init__(kernel_size, strides, padding, depth_multiplier, **kwargs)


@register_layer
class DepthwiseConv1D(_Depthwise):
    """Depthwise 1-D convolution of ``(batch, steps, channels)``; kernel
    ``(k, in, depth_multiplier)``."""

    rank = 1
    layout = "(batch, steps, channels)"

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, **kwargs)


class _Separable(_DepthwiseConv):
    """Depthwise convolution, then a pointwise one to ``filters`` channels (and the bias)."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            depthwise_constraint=depthwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        self.filters = _positive_int(self, "filters", filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.depthwise_kernel = self._add_depthwise_kernel("depthwise_kernel", channels)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel",
            shape=(*(1,) * self.rank, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self.bias = self._add_bias(self.filters)

    def compute_output_shape(self, input_shape):
        spatial = self._output_spatial(tuple(input_shape))
        return (input_shape[0], *spatial, self.filters)

    def call(self, inputs):
        y = self._depthwise(inputs, self.depthwise_kernel)
        pointwise = self.pointwise_kernel.reshape(-1, self.filters)
        return activate(self, F.dense(y, pointwise, self.bias))

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
        }


@register_layer
class SeparableConv2D(_Separable):
    """Depthwise 2-D convolution of ``(batch, height, width, channels)``, then a pointwise one;
    weights ``depthwise_kernel (kh, kw, in, depth_multiplier)``, ``pointwise_kernel
    (1, 1, in * depth_multiplier, filters)``, ``bias``."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        kwargs.setdefault("dilation_rate", (1, 1))
        super().__init__(filters, kernel_size, strides, padding, **kwargs)


@register_layer
class SeparableConv1D(_Separable):
    """Depthwise 1-D convolution of ``(batch, steps, channels)``, then a pointwise one;
    weights ``depthwise_kernel (k, in, depth_multiplier)``, ``pointwise_kernel
    (1, in * depth_multiplier, filters)``, ``bias``."""

    rank = 1
    layout = "(batch, steps, channels)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, **kwargs)
