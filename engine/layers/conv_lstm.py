"""ConvLSTM1D, 2D and 3D: LSTMs whose input and recurrent transforms are convolutions.

As Keras 3: ``kernel`` (*kernel_size, channels, 4*filters), ``recurrent_kernel``
(*kernel_size, filters, 4*filters) and ``bias`` (4*filters,), gates ``i, f, c, o``
along the last axis; the recurrent convolution has stride 1 and ``"same"``
padding, so the states keep the input convolution's output shape. The cell
runs step by step through ``layers.RNN`` on the existing convolution ops;
channels-last only, as the other convolution layers.
"""

from .. import functional as F
from .. import regularizers
from ..functional.conv3d import conv3d
from .base import format_shape, register_layer, unique_name
from .conv import check_data_format, check_padding, normalize_tuple, spatial_output_shape
from .core import ActivityRegularized
from .recurrent import _ForgetBiasInitializer
from .rnn import RNN
from .rnn_cells import DropoutRNNCell, zeros_state


class ConvLSTMCell(DropoutRNNCell):
    """One ConvLSTM step on ``(batch, *spatial, channels)``; states ``[h, c]``, each
    ``(batch, *output_spatial, filters)``."""

    n_gates = 4

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        unit_forget_bias: bool = True,
        **kwargs,
    ):
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"ConvLSTM: `filters` must be a positive integer, got {filters!r}.")
        super().__init__(filters, **kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        check_data_format(data_format, where)
        self.rank, self.filters = rank, filters
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", where)
        self.strides = normalize_tuple(strides, rank, "strides", where)
        self.padding = check_padding(padding, ("valid", "same"), where)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{where}: `strides` > 1 is not compatible with `dilation_rate` > 1; got "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}."
            )
        self.unit_forget_bias = bool(unit_forget_bias)
        self.output_spatial = None  # known once built

    @property
    def state_size(self):
        return [self.filters, self.filters]

    def _mask_count(self) -> int:
        return 4  # Keras's ConvLSTM cell always draws one mask per gate

    def _bias_initializer(self):
        if self.unit_forget_bias:
            return _ForgetBiasInitializer(self.filters, self.bias_initializer)
        return self.bias_initializer

    def output_shape_for(self, input_shape) -> tuple:
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects steps of rank {self.rank + 2} "
                f"(batch, *spatial, channels), got {format_shape(tuple(input_shape))}."
            )
        spatial = spatial_output_shape(
            self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate
        )
        return (input_shape[0], *spatial, self.filters)

    def build(self, input_shape):
        self.output_spatial = self.output_shape_for(input_shape)[1:-1]
        if None in self.output_spatial or input_shape[-1] is None:
            raise ValueError(
                f"ConvLSTM layers need static spatial and channel sizes; received step shape "
                f"{format_shape(tuple(input_shape))}."
            )
        width = 4 * self.filters
        self._add_weights(
            (*self.kernel_size, input_shape[-1], width),
            (*self.kernel_size, self.filters, width),
            (width,),
        )

    def _conv(self, x, kernel, bias, strides, padding, dilation_rate):
        if self.rank == 1:
            return F.conv1d(x, kernel, bias, strides[0], padding, dilation_rate[0])
        if self.rank == 3:
            return conv3d(x, kernel, bias, strides, padding, dilation_rate)
        return F.conv2d(x, kernel, bias, strides, padding, dilation_rate)

    def _gate_conv(self, x, kernel, bias, masks, strides, padding, dilation_rate):
        """The convolution for all four gates at once, or gate by gate on ``x * masks[k]``."""
        if masks is None:
            return self._conv(x, kernel, bias, strides, padding, dilation_rate)
        f = self.filters
        parts = [
            self._conv(
                x * mask,
                kernel[..., k * f : (k + 1) * f],
                None if bias is None else bias[k * f : (k + 1) * f],
                strides,
                padding,
                dilation_rate,
            )
            for k, mask in enumerate(masks)
        ]
        return F.concatenate(parts, axis=-1)

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        input_masks, recurrent_masks = self._masks(inputs, h_prev, training)
        ones = (1,) * self.rank
        z = self._gate_conv(
            inputs,
            self.kernel,
            self.bias,
            input_masks,
            self.strides,
            self.padding,
            self.dilation_rate,
        )
        z = z + self._gate_conv(
            h_prev, self.recurrent_kernel, None, recurrent_masks, ones, "same", ones
        )
        f = self.filters
        i = self.recurrent_activation(z[..., :f])
        forget = self.recurrent_activation(z[..., f : 2 * f])
        c = forget * c_prev + i * self.activation(z[..., 2 * f : 3 * f])
        o = self.recurrent_activation(z[..., 3 * f :])
        h = o * self.activation(c)
        return h, [h, c]

    def get_initial_state(self, batch_size=None) -> list:
        shape = (batch_size, *self.output_spatial, self.filters)
        return [zeros_state(self, shape), zeros_state(self, shape)]

    def compute_output_shape(self, input_shape, states_shape=None):
        output = self.output_shape_for(input_shape)
        return output, [output, output]

    def get_config(self):
        config_dict = super().get_config()
        del config_dict["units"]
        return {
            **config_dict,
            "rank": self.rank,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": self.dilation_rate,
            "unit_forget_bias": self.unit_forget_bias,
        }


_SPATIAL = {1: "steps", 2: "rows, cols", 3: "depth, rows, cols"}
_CELL_ARGUMENTS = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
)


class ConvLSTM(ActivityRegularized, RNN):
    """Shared body of ConvLSTM1D and ConvLSTM2D: an RNN of one ConvLSTMCell, whose
    arguments it takes and saves flat, as Keras."""

    rank = 2
    keras_name = ""

    def __init__(
        self,
        filters: int,
        kernel_size,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        activity_regularizer=None,
        **kwargs,
    ):
        """The convolution and gate arguments (``strides``, ``padding``, ``dilation_rate``,
        ``activation``, initializers, ``dropout``...) are ``ConvLSTMCell``'s, with Keras's
        defaults; the others are ``RNN``'s and ``Layer``'s."""
        kwargs.setdefault("name", unique_name(self.keras_name))
        cell_arguments = {k: kwargs.pop(k) for k in _CELL_ARGUMENTS[2:] if k in kwargs}
        cell = ConvLSTMCell(
            self.rank, filters, kernel_size, dtype=kwargs.get("dtype"), **cell_arguments
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def _check_rank(self, shape) -> None:
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of rank {self.rank + 3} "
                f"(batch, timesteps, {_SPATIAL[self.rank]}, channels), "
                f"but received input with shape {format_shape(tuple(shape))}."
            )

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        self._check_rank(sequences_shape)
        batch, steps = sequences_shape[0], sequences_shape[1]
        state = self.cell.output_shape_for((batch, *sequences_shape[2:]))
        output = (batch, steps, *state[1:]) if self.return_sequences else state
        return [output, state, state] if self.return_state else output

    def call(self, sequences, initial_state=None, mask=None, training=False):
        outputs = super().call(sequences, initial_state, mask, training)
        if self.activity_regularizer is not None:
            self._regularize_activity(outputs[0] if self.return_state else outputs)
        return outputs

    def get_config(self):
        config_dict = super().get_config()
        cell_config = config_dict.pop("cell")["config"]
        for argument in _CELL_ARGUMENTS:
            config_dict[argument] = cell_config[argument]
        config_dict["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config_dict


@register_layer(name="conv_lstm1d")
class ConvLSTM1D(ConvLSTM):
    """ConvLSTM over ``(batch, timesteps, steps, channels)``."""

    rank = 1
    keras_name = "conv_lstm1d"


@register_layer(name="conv_lstm2d")
class ConvLSTM2D(ConvLSTM):
    """ConvLSTM over ``(batch, timesteps, rows, cols, channels)``."""

    rank = 2
    keras_name = "conv_lstm2d"


@register_layer(name="conv_lstm3d")
class ConvLSTM3D(ConvLSTM):
    """ConvLSTM over ``(batch, timesteps, depth, rows, cols, channels)``."""

    rank = 3
    keras_name = "conv_lstm3d"
