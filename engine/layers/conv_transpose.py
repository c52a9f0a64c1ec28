"""Transposed convolution layers (channels-last): Conv1DTranspose and Conv2DTranspose.

They share Conv1D's and Conv2D's arguments, weights and config (``_Conv``)
and differ in three things: the kernel is Keras's ``(..., filters,
in_channels)``, the output sizes follow Keras's transposed rule (with
``output_padding``), and the op is the convolution's adjoint.
"""

from ..functional.conv_transpose import conv_transpose, conv_transpose_geometry
from .base import register_layer
from .conv import _Conv, check_rank


def normalize_output_padding(value, rank: int, strides: tuple, layer: str):
    """``output_padding`` as None or ``rank`` ints, each at least 0 and less than its stride."""
    if value is None:
        return None
    try:
        values = (value,) * rank if isinstance(value, int) else tuple(value)
    except TypeError:
        values = ()
    if len(values) != rank or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < s
        for v, s in zip(values, strides)
    ):
        raise ValueError(
            f"{layer}: `output_padding` must be None or {rank} non-negative integers, each "
            f"strictly less than `strides`={strides}, got {value!r}."
        )
    return values


class _ConvTranspose(_Conv):
    """Shared body of Conv1DTranspose and Conv2DTranspose."""

    paddings = ("valid", "same")

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        **kwargs,
    ):
        super().__init__(
            filters, kernel_size, strides, padding, data_format, dilation_rate, **kwargs
        )
        where = f"{type(self).__name__} '{self.name}'"
        self.output_padding = normalize_output_padding(
            output_padding, self.rank, self.strides, where
        )
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{where}: `strides` > 1 cannot be combined with `dilation_rate` > 1, got "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}."
            )

    def add_weight(self, shape=None, *args, name=None, **kwargs):
        # ``_Conv.build`` asks for (..., in, filters); Keras stores the transposed
        # kernel as (..., filters, in), which is also what the op takes
        if name == "kernel":
            shape = (*shape[:-2], shape[-1], shape[-2])
        return super().add_weight(shape, *args, name=name, **kwargs)

    def _check_input(self, input_shape) -> tuple:
        """The output's spatial sizes (None stays None); any window fits any input."""
        check_rank(self, input_shape, self.rank + 2, self.layout)
        spatial = tuple(input_shape[1:-1])
        # the axes are independent: a stand-in for an unknown size is dropped below
        sizes, _ = conv_transpose_geometry(
            tuple(1 if n is None else n for n in spatial),
            self.kernel_size,
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation_rate,
        )
        return tuple(None if n is None else size for n, size in zip(spatial, sizes))

    def call(self, inputs):
        fused = self._fused_activation()
        y = conv_transpose(
            inputs,
            self.kernel,
            self.bias,
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation_rate,
            fused,
        )
        outputs = y if fused else self.activation(y)
        if self.activity_regularizer is not None:
            self._regularize_activity(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        del config["groups"]  # not an argument of Keras's transposed convolutions
        output_padding = None if self.output_padding is None else list(self.output_padding)
        return {**config, "output_padding": output_padding}


@register_layer
class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution (the adjoint of Conv2D); kernel ``(kh, kw, filters, in)``."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, **kwargs)


@register_layer
class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution over ``(batch, steps, channels)``; kernel ``(k, filters, in)``."""

    rank = 1
    layout = "(batch, steps, channels)"
