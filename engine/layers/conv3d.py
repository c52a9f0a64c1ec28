"""3-D convolution layers (channels-last): Conv3D and Conv3DTranspose.

They share Conv2D's and Conv2DTranspose's arguments, weights and configs; the
ops (``engine.functional.conv3d``) run on the backends' 2-D convolution
kernels. Kernels are Keras's ``(kd, kh, kw, in, filters)`` and, transposed,
``(kd, kh, kw, filters, in)``.
"""

from ..functional.conv3d import conv3d, conv3d_transpose
from .base import register_layer
from .conv import _Conv
from .conv_transpose import _ConvTranspose


def activate(layer, outputs):
    """``layer.activation(outputs)``, with its activity penalty added when it has one."""
    outputs = layer.activation(outputs)
    if layer.activity_regularizer is not None:
        layer._regularize_activity(outputs)
    return outputs


@register_layer
class Conv3D(_Conv):
    """3-D convolution over ``(batch, depth, height, width, channels)``; kernel
    ``(kd, kh, kw, in, out)``."""

    rank = 3
    layout = "(batch, depth, height, width, channels)"

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", **kwargs):
        kwargs.setdefault("dilation_rate", (1, 1, 1))
        super().__init__(filters, kernel_size, strides, padding, **kwargs)

    def call(self, inputs):
        self._check_input(inputs.shape)
        y = conv3d(inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        return activate(self, y)


@register_layer
class Conv3DTranspose(_ConvTranspose):
    """Transposed 3-D convolution (the adjoint of Conv3D); kernel ``(kd, kh, kw, filters, in)``.

    Keras's argument order: ``data_format`` comes before ``output_padding`` here.
    """

    rank = 3
    layout = "(batch, depth, height, width, channels)"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1, 1),
        padding="valid",
        data_format=None,
        output_padding=None,
        dilation_rate=(1, 1, 1),
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            output_padding=output_padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            **kwargs,
        )

    def call(self, inputs):
        self._check_input(inputs.shape)
        y = conv3d_transpose(
            inputs,
            self.kernel,
            self.bias,
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation_rate,
        )
        return activate(self, y)
