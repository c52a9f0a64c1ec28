"""Convolution layers (channels-last): Conv1D and Conv2D."""

from backends.kernels.conv import output_size, window_padding

from .. import activations, constraints, initializers, regularizers
from .. import functional as F
from .base import InputSpec, Layer, format_shape, register_layer
from .core import ActivityRegularized


def normalize_tuple(value, rank: int, argument: str, layer: str) -> tuple:
    """``value`` (an int or ``rank`` ints) as a tuple of ``rank`` positive ints."""
    try:
        values = (value,) * rank if isinstance(value, int) else tuple(value)
    except TypeError:  # a float or another non-sequence
        values = ()
    if len(values) != rank or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            f"{layer}: `{argument}` must be a positive integer or a tuple of {rank} positive "
            f"integers, got {value!r}."
        )
    return values


def check_data_format(data_format, layer: str) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{layer}: only data_format='channels_last' (batch, ..., channels) is supported, "
            f"got {data_format!r}. Transpose the input to channels-last first."
        )


def check_padding(padding, allowed: tuple, layer: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(f"{layer}: `padding` must be one of {allowed}, got {padding!r}.")
    return padding.lower()


def spatial_output_shape(layer, input_shape, window, strides, padding, dilation) -> tuple:
    """Output spatial sizes for ``input_shape``'s spatial axes (None stays None).

    Raises a ValueError naming ``layer`` when a window is larger than a
    ``"valid"``-padded input.
    """
    spatial = tuple(input_shape[1:-1])
    result = []
    for size, k, s, d in zip(spatial, window, strides, dilation):
        if size is None:
            result.append(None)
            continue
        if padding == "causal":
            pads = ((k - 1) * d, 0)
        else:
            pads = window_padding(size, k, s, d, padding)
        out = output_size(size, k, s, d, pads)
        if out <= 0:
            effective = tuple((k - 1) * d + 1 for k, d in zip(window, dilation))
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': the window {tuple(window)} "
                f"(covering {effective} with dilation {tuple(dilation)}) is larger than the "
                f"input's spatial size {spatial} with padding='{padding}'; expected an input "
                f"of at least {effective} (or padding='same'), but received input with shape "
                f"{format_shape(input_shape)}."
            )
        result.append(out)
    return tuple(result)


def check_rank(layer, input_shape, rank: int, layout: str) -> None:
    if len(input_shape) != rank:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects a {rank}-D input {layout}, but "
            f"received input with shape {format_shape(input_shape)} (rank {len(input_shape)})."
        )


class _Conv(ActivityRegularized, Layer):
    """Shared body of Conv1D and Conv2D."""

    rank = 2
    layout = "(batch, height, width, channels)"
    paddings = ("valid", "same")

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format=None,
        dilation_rate=1,
        groups: int = 1,
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
        where = f"{type(self).__name__} '{self.name}'"
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{where}: `filters` must be a positive integer, got {filters!r}.")
        if groups != 1:
            raise ValueError(f"{where}: only groups=1 is supported, got groups={groups!r}.")
        check_data_format(data_format, where)
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", where)
        self.strides = normalize_tuple(strides, self.rank, "strides", where)
        self.padding = check_padding(padding, self.paddings, where)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", where)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _fused_activation(self) -> str | None:
        """The activation's name when the convolution op can apply it itself (relu)."""
        return "relu" if self.activation is activations.relu else None

    def _check_input(self, input_shape) -> tuple:
        check_rank(self, input_shape, self.rank + 2, self.layout)
        return spatial_output_shape(
            self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate
        )

    def build(self, input_shape):
        self._check_input(input_shape)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the channels axis of the input must be "
                f"known, but received input with shape {format_shape(input_shape)}."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = (
            self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            if self.use_bias
            else None
        )
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    def compute_output_shape(self, input_shape):
        spatial = self._check_input(tuple(input_shape))
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": list(self.dilation_rate),
            "groups": 1,
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
class Conv2D(_Conv):
    """2-D convolution over ``(batch, height, width, channels)``; kernel ``(kh, kw, in, out)``."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        kwargs.setdefault("dilation_rate", (1, 1))
        super().__init__(filters, kernel_size, strides, padding, **kwargs)

    def call(self, inputs):
        self._check_input(inputs.shape)
        fused = self._fused_activation()
        y = F.conv2d(
            inputs,
            self.kernel,
            self.bias,
            self.strides,
            self.padding,
            self.dilation_rate,
            fused,
        )
        outputs = y if fused else self.activation(y)
        if self.activity_regularizer is not None:
            self._regularize_activity(outputs)
        return outputs


@register_layer
class Conv1D(_Conv):
    """1-D convolution over ``(batch, steps, channels)``; kernel ``(k, in, out)``.

    ``padding`` may also be ``"causal"``: output step t sees inputs up to t only.
    """

    rank = 1
    layout = "(batch, steps, channels)"
    paddings = ("valid", "same", "causal")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(filters, kernel_size, strides, padding, **kwargs)

    def call(self, inputs):
        self._check_input(inputs.shape)
        fused = self._fused_activation()
        y = F.conv1d(
            inputs,
            self.kernel,
            self.bias,
            self.strides[0],
            self.padding,
            self.dilation_rate[0],
            fused,
        )
        outputs = y if fused else self.activation(y)
        if self.activity_regularizer is not None:
            self._regularize_activity(outputs)
        return outputs
