"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper.

Weights follow Keras 3's shapes and order: ``kernel`` (features, n*units),
``recurrent_kernel`` (units, n*units), ``bias`` (n*units,), with the gates
concatenated along the last axis in Keras's order (LSTM ``i, f, c, o``; GRU
``z, r, h``, its bias (2, 3*units) holding the input and the recurrent bias,
or with ``reset_after=False`` one (3*units,) input bias).
Each layer runs the whole sequence as one op, ``F.recurrent_sequence``.

Calls take Keras's ``initial_state`` (a list: ``[h]``, or ``[h, c]`` for
LSTM, each (batch, units)); with ``return_state=True`` they return the list
``[output, h]`` or ``[output, h, c]``. Gradients flow into the initial states
and back from the returned ones. ``dropout`` and ``recurrent_dropout`` follow
Keras 3: in training only, masks drawn once per call and reused at every
step; recurrent dropout gives each gate its own masks, for the inputs too
(Keras switches to ``implementation=1`` then).
"""

import numpy

from backends.base import Backend

from .. import activations, initializers, regularizers
from .. import functional as F
from ..tensor import Tensor
from .base import InputSpec, Layer, format_shape, layer_registry, register_layer


class _ForgetBiasInitializer:
    """LSTM bias: the bias initializer everywhere, plus one on the forget gate."""

    def __init__(self, units: int, initializer):
        self.units, self.initializer = units, initializer

    def __call__(self, shape, dtype="float32"):
        units = self.units
        return numpy.concatenate(
            [
                numpy.asarray(self.initializer((units,), dtype)),
                numpy.ones((units,), dtype=dtype),
                numpy.asarray(self.initializer((2 * units,), dtype)),
            ]
        )


class RecurrentLayer(Layer):
    """Shared arguments, weights and call of SimpleRNN, LSTM and GRU."""

    cell = ""  # the ``F.recurrent_sequence`` cell name
    n_gates = 1
    STATE_NAMES = ("h", "c")  # of ``initial_state`` and the returned states, in order

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        """``unroll`` is accepted for Keras programs and configs: in Keras it unrolls
        the time loop into the graph, which changes only speed and memory. Here the
        loop always runs inside the backend's sequence kernels, so it has no effect.
        ``seed`` is kept for configs; dropout masks come from the backend's
        generator, seeded by ``engine.utils.set_random_seed``."""
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `units` must be a positive integer, "
                f"got {units!r}."
            )
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        for argument in ("activation", "recurrent_activation"):
            name = activations.serialize(getattr(self, argument))
            if name != "linear" and not hasattr(Backend, name + "_forward"):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': `{argument}` '{name}' has no "
                    f"elementwise kernel; use e.g. 'tanh', 'sigmoid' or 'relu'."
                )
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        for argument, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': `{argument}` must be a number in "
                    f"[0, 1), got {rate!r}."
                )
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.input_spec = InputSpec(ndim=3)
        self.supports_masking = True

    @property
    def state_size(self) -> int:
        return 1

    # -- weights ----------------------------------------------------------

    def _bias_shape(self) -> tuple:
        return (self.n_gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        self._check_rank(input_shape)
        features = input_shape[-1]
        width = self.n_gates * self.units
        self.kernel = self.add_weight(
            name="kernel",
            shape=(features, width),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(self.units, width),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=self._bias_shape(),
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
            )
        self.input_spec = InputSpec(ndim=3, axes={-1: features})

    def _check_rank(self, input_shape) -> None:
        if len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects a 3-D input "
                f"(batch, timesteps, features), but received input with shape "
                f"{format_shape(tuple(input_shape))} (ndim={len(input_shape)})."
            )

    # -- calling ----------------------------------------------------------

    def __call__(self, inputs, initial_state=None, mask=None, training=None, **kwargs):
        """Keras's call order: ``layer(x, initial_state)`` passes initial states."""
        shape = inputs.shape if isinstance(inputs, Tensor) else numpy.shape(inputs)
        self._check_rank(shape)
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        return super().__call__(inputs, training=training, mask=mask, **kwargs)

    def call(self, inputs, mask=None, training=False, initial_state=None):
        timesteps = inputs.shape[1]
        if mask is not None and tuple(mask.shape) != tuple(inputs.shape[:2]):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `mask` must have the shape (batch, "
                f"timesteps) = {tuple(inputs.shape[:2])} of the inputs; got "
                f"{tuple(mask.shape)}."
            )
        input_mask = recurrent_mask = None
        if training:
            input_mask, recurrent_mask = self._dropout_masks(inputs)
        packed = F.recurrent_sequence(
            self.cell,
            inputs,
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            mask=mask,
            go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask,
            activation=activations.serialize(self.activation),
            recurrent_activation=activations.serialize(self.recurrent_activation),
            initial_state=self._initial_states(initial_state, inputs),
            input_mask=input_mask,
            recurrent_mask=recurrent_mask,
            return_sequences=self.return_sequences,
        )
        first_state = timesteps if self.return_sequences else 0
        if self.return_sequences:
            output = packed[:, :timesteps]
        else:
            output = packed[:, 0]  # the final h: the last unmasked step's output
        if not self.return_state:
            return output
        return [output] + [packed[:, first_state + k] for k in range(self.state_size)]

    def _dropout_masks(self, inputs):
        """Keras's dropout masks for one call: ``(input_mask, recurrent_mask)``, each None
        or (n_masks, batch, size), with a mask per gate when ``recurrent_dropout`` is on."""
        backend, dtype = inputs.backend, inputs.dtype
        batch, features = inputs.shape[0], inputs.shape[2]
        n_masks = self.n_gates if self.recurrent_dropout else 1
        input_mask = recurrent_mask = None
        if self.dropout:
            input_mask = backend.dropout_mask((n_masks, batch, features), self.dropout, dtype)
        if self.recurrent_dropout:
            recurrent_mask = backend.dropout_mask(
                (n_masks, batch, self.units), self.recurrent_dropout, dtype
            )
        return input_mask, recurrent_mask

    def _initial_states(self, initial_state, inputs) -> list | None:
        """``initial_state`` as a checked list of tensors on the inputs' backend and dtype."""
        if initial_state is None:
            return None
        states = initial_state
        if not isinstance(initial_state, (list, tuple)):
            states = [initial_state]
        names = self.STATE_NAMES[: self.state_size]
        if len(states) != self.state_size:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects {self.state_size} initial state "
                f"tensor(s) [{', '.join(names)}], but received {len(states)}."
            )
        expected = (inputs.shape[0], self.units)
        checked = []
        for name, state in zip(names, states):
            if not isinstance(state, Tensor):
                try:
                    state = Tensor(state, dtype=inputs.dtype, backend=inputs.backend)
                except TypeError as error:
                    raise TypeError(
                        f"{type(self).__name__} '{self.name}': initial state `{name}` must be "
                        f"a tensor or an array of numbers, got {type(state).__name__}."
                    ) from error
            elif state.dtype != inputs.dtype:
                state = state.astype(inputs.dtype)
            if tuple(state.shape) != expected:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': initial state `{name}` must have "
                    f"shape {format_shape(expected)} (batch, units), but received shape "
                    f"{format_shape(tuple(state.shape))}."
                )
            checked.append(state)
        return checked

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        batch, timesteps = input_shape[0], input_shape[1]
        if self.return_sequences:
            output = (batch, timesteps, self.units)
        else:
            output = (batch, self.units)
        if self.return_state:
            return [output] + [(batch, self.units)] * self.state_size
        return output

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }


@register_layer
class SimpleRNN(RecurrentLayer):
    """Fully connected RNN: ``h = activation(x @ kernel + h_prev @ recurrent_kernel + bias)``."""

    cell = "simple_rnn"
    n_gates = 1

    def __init__(self, units: int, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNN: unexpected keyword argument recurrent_activation.")
        super().__init__(units, activation=activation, **kwargs)

    def get_config(self):
        config_dict = super().get_config()
        del config_dict["recurrent_activation"]
        return config_dict


@register_layer
class LSTM(RecurrentLayer):
    """Long short-term memory (Hochreiter 1997), Keras's gate order ``i, f, c, o``."""

    cell = "lstm"
    n_gates = 4

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias

    @property
    def state_size(self) -> int:
        return 2

    def _bias_initializer(self):
        if self.unit_forget_bias:
            return _ForgetBiasInitializer(self.units, self.bias_initializer)
        return self.bias_initializer

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@register_layer
class GRU(RecurrentLayer):
    """Gated recurrent unit, gate order ``z, r, h``.

    ``reset_after=True`` (Keras 3's default, cuDNN's form) applies the reset gate
    after the recurrent matmul and has an input and a recurrent bias, (2, 3*units);
    ``reset_after=False`` (the original GRU) applies it to the state before the
    candidate's recurrent matmul and has one bias, (3*units,).
    """

    cell = "gru"
    n_gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)
        self.cell = "gru" if self.reset_after else "gru_reset_before"

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


@register_layer
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    As in Keras, both directions are rebuilt from ``layer``'s config (named
    ``forward_<name>`` and ``backward_<name>``; the backward one with
    ``go_backwards`` flipped); the weights are the forward layer's, then the
    backward layer's. The backward outputs are flipped back into input order
    before merging, and with ``return_sequences`` masked steps output zeros.
    """

    MERGE_MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = layer_registry.create(layer)
        if not isinstance(layer, RecurrentLayer):
            raise ValueError(
                f"Bidirectional '{self.name}': `layer` must be a recurrent layer (SimpleRNN, "
                f"LSTM, GRU), got {layer!r}."
            )
        if merge_mode not in self.MERGE_MODES:
            raise ValueError(
                f"Bidirectional '{self.name}': invalid merge_mode {merge_mode!r}; expected "
                f"one of {self.MERGE_MODES}."
            )
        self.merge_mode = merge_mode
        self.forward_layer = self._recreate(layer, "forward", layer.go_backwards)
        if backward_layer is None:
            self.backward_layer = self._recreate(layer, "backward", not layer.go_backwards)
        else:
            if isinstance(backward_layer, dict):
                backward_layer = layer_registry.create(backward_layer)
            self.backward_layer = backward_layer
        if self.backward_layer.go_backwards == self.forward_layer.go_backwards:
            raise ValueError(
                f"Bidirectional '{self.name}': the forward and backward layers must have "
                f"different `go_backwards` values; both have {layer.go_backwards}."
            )
        for attribute in ("return_sequences", "return_state"):
            if getattr(self.backward_layer, attribute) != getattr(layer, attribute):
                raise ValueError(
                    f"Bidirectional '{self.name}': the forward and backward layers must have "
                    f"the same `{attribute}`."
                )
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sublayer in (self.forward_layer, self.backward_layer):
            sublayer.zero_output_for_mask = self.return_sequences
        self.input_spec = InputSpec(ndim=3)
        self.supports_masking = True

    @staticmethod
    def _recreate(layer, direction: str, go_backwards: bool) -> RecurrentLayer:
        config = layer.get_config()
        name = config["name"]
        for prefix in ("forward_", "backward_"):
            name = name.removeprefix(prefix)
        config["name"] = f"{direction}_{name}"
        config["go_backwards"] = go_backwards
        config.pop("input_shape", None)
        return type(layer).from_config(config)

    def build(self, input_shape):
        self.forward_layer.backend = self.backward_layer.backend = self.backend
        self.forward_layer.build_from_shape(input_shape)
        self.backward_layer.build_from_shape(input_shape)

    def __call__(self, inputs, initial_state=None, mask=None, training=None, **kwargs):
        shape = inputs.shape if isinstance(inputs, Tensor) else numpy.shape(inputs)
        self.forward_layer._check_rank(shape)
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        return super().__call__(inputs, training=training, mask=mask, **kwargs)

    def call(self, inputs, mask=None, training=False, initial_state=None):
        """``initial_state``: the forward layer's states, then the backward layer's (Keras)."""
        forward_state = backward_state = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) % 2:
                count = len(initial_state) if isinstance(initial_state, (list, tuple)) else 1
                raise ValueError(
                    f"Bidirectional '{self.name}': `initial_state` must be a list of the "
                    f"forward layer's states followed by the backward layer's, an even "
                    f"number of tensors; received {count}."
                )
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        forward = self.forward_layer(
            inputs, initial_state=forward_state, mask=mask, training=training
        )
        backward = self.backward_layer(
            inputs, initial_state=backward_state, mask=mask, training=training
        )
        if self.return_state:
            forward, forward_states = forward[0], forward[1:]
            backward, backward_states = backward[0], backward[1:]
        if self.return_sequences:
            backward = backward[:, ::-1]
        if self.merge_mode == "concat":
            output = F.concatenate([forward, backward], axis=-1)
        elif self.merge_mode == "sum":
            output = forward + backward
        elif self.merge_mode == "mul":
            output = forward * backward
        elif self.merge_mode == "ave":
            output = (forward + backward) * 0.5
        else:
            output = [forward, backward]
        if self.return_state:
            outputs = output if isinstance(output, list) else [output]
            return outputs + forward_states + backward_states
        return output

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        forward = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            forward, states = forward[0], forward[1:]
        if self.merge_mode == "concat":
            output = [(*forward[:-1], 2 * forward[-1])]
        elif self.merge_mode is None:
            output = [forward, forward]
        else:
            output = [forward]
        if self.return_state:
            return output + states + states
        return output[0] if len(output) == 1 else output

    def get_config(self):
        layer_config = {
            "class_name": type(self.forward_layer).__name__,
            "config": self.forward_layer.get_config(),
        }
        backward_config = {
            "class_name": type(self.backward_layer).__name__,
            "config": self.backward_layer.get_config(),
        }
        return {
            **super().get_config(),
            "layer": layer_config,
            "merge_mode": self.merge_mode,
            "backward_layer": backward_config,
        }
