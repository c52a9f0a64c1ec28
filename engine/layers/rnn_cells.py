"""Recurrent cells: one timestep of SimpleRNN, LSTM and GRU, and a stack of cells.

``cell(x_t, states) -> (output, new_states)`` on ``x_t`` (batch, features) and
the list of states (each (batch, units)), with Keras 3's arguments, weight
shapes and order, so that ``RNN(LSTMCell(u))`` holds the same weights as
``LSTM(u)`` and computes the same outputs. A cell is a few differentiable ops
per step; ``layers.RNN`` runs one over a sequence (the fused SimpleRNN, LSTM and
GRU layers run whole sequences in backend kernels and stay the fast path).

Dropout follows Keras 3's ``DropoutRNNCell``: in training, masks are drawn on
a cell's first step and reused at every step until the ``RNN`` layer running
it clears them at the end of its call; with ``recurrent_dropout`` each gate
gets its own masks (Keras's ``implementation=1``). Masks come from the
backend's generator in the fused layers' order and shapes, so a seeded
``RNN(LSTMCell(u, dropout=...))`` draws the masks ``LSTM(u, dropout=...)`` does.
"""

from .. import activations, config, constraints, initializers, regularizers
from .. import functional as F
from ..tensor import Tensor
from .base import Layer, layer_registry, register_layer
from .recurrent import _ForgetBiasInitializer


def _rate(owner: str, argument: str, rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"{owner}: `{argument}` must be a number in [0, 1), got {rate!r}.")
    return float(rate)


def _columns(x: Tensor, start: int, stop: int) -> Tensor:
    return x[:, start:stop]


class DropoutRNNCell(Layer):
    """Weights, arguments and dropout masks shared by the built-in cells.

    ``n_gates`` column blocks of ``kernel`` (features, n_gates*units) and
    ``recurrent_kernel`` (units, n_gates*units), in Keras's gate order.
    """

    n_gates = 1

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        **kwargs,
    ):
        """``seed`` is kept for configs; masks come from the backend's generator, seeded by
        ``engine.utils.set_random_seed`` (as in the fused recurrent layers)."""
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `units` must be a positive integer, "
                f"got {units!r}."
            )
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        owner = f"{type(self).__name__} '{self.name}'"
        self.dropout = _rate(owner, "dropout", dropout)
        self.recurrent_dropout = _rate(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._dropout_mask = self._recurrent_dropout_mask = None

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    # -- weights ----------------------------------------------------------

    def _bias_shape(self) -> tuple:
        return (self.n_gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        width = self.n_gates * self.units
        self._add_weights((input_shape[-1], width), (self.units, width), self._bias_shape())

    def _add_weights(self, kernel_shape, recurrent_kernel_shape, bias_shape) -> None:
        """``kernel``, ``recurrent_kernel`` and (with ``use_bias``) ``bias``, in Keras's order."""
        self.kernel = self.add_weight(
            shape=kernel_shape,
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=recurrent_kernel_shape,
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=bias_shape,
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    # -- dropout masks (Keras's DropoutRNNCell) ----------------------------

    def _mask_count(self) -> int:
        """One mask for every gate, or one per gate with recurrent dropout (as Keras)."""
        return self.n_gates if self.recurrent_dropout else 1

    def _draw_mask(self, like: Tensor, rate: float):
        shape = (self._mask_count(), *like.shape)
        return like.backend.dropout_mask(shape, rate, like.dtype)

    def get_dropout_mask(self, step_input: Tensor):
        """The input masks of this call, ``(n_masks, batch, features)``; drawn once."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._draw_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state: Tensor):
        """The recurrent masks of this call, ``(n_masks, batch, units)``; drawn once."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_mask(state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def _masks(self, inputs: Tensor, state: Tensor, training: bool) -> tuple:
        """``(input_masks, recurrent_masks)`` for this step: None outside training."""
        if not training:
            return None, None
        return self.get_dropout_mask(inputs), self.get_recurrent_dropout_mask(state)

    def _gate_matmul(self, x: Tensor, kernel: Tensor, masks) -> Tensor:
        """``x @ kernel``, gate ``k``'s column block seeing ``x * masks[k]``."""
        if masks is None:
            return F.matmul(x, kernel)
        if len(masks) == 1:
            return F.matmul(x * masks[0], kernel)
        width = kernel.shape[1] // len(masks)
        return F.concatenate(
            [
                F.matmul(x * mask, _columns(kernel, k * width, (k + 1) * width))
                for k, mask in enumerate(masks)
            ],
            axis=1,
        )

    # -- states -------------------------------------------------------------

    def get_initial_state(self, batch_size=None) -> list:
        """Zeros for each state, ``(batch_size, units)``."""
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [zeros_state(self, (batch_size, size)) for size in sizes]

    def compute_output_shape(self, input_shape, states_shape=None):
        batch = input_shape[0]
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return (batch, self.units), [(batch, size) for size in sizes]

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
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def zeros_state(layer, shape) -> Tensor:
    """A zero state of ``shape`` on ``layer``'s backend and in its dtype."""
    backend = layer.backend or config.get_backend()
    return Tensor(backend.xp.zeros(shape, dtype=layer.dtype), backend=backend)


def _first_state(states) -> Tensor:
    return states[0] if isinstance(states, (list, tuple)) else states


@register_layer
class SimpleRNNCell(DropoutRNNCell):
    """``h = activation(x @ kernel + h_prev @ recurrent_kernel + bias)``."""

    def __init__(self, units: int, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNNCell: unexpected keyword argument recurrent_activation.")
        super().__init__(units, activation=activation, **kwargs)

    def call(self, inputs, states, training=False):
        h_prev = _first_state(states)
        input_masks, recurrent_masks = self._masks(inputs, h_prev, training)
        if input_masks is not None:
            inputs = inputs * input_masks[0]
        h = F.dense(inputs, self.kernel, self.bias)
        if recurrent_masks is not None:
            h_prev = h_prev * recurrent_masks[0]
        output = self.activation(h + F.matmul(h_prev, self.recurrent_kernel))
        return output, ([output] if isinstance(states, (list, tuple)) else output)

    def get_config(self):
        config_dict = super().get_config()
        del config_dict["recurrent_activation"]
        return config_dict


@register_layer
class LSTMCell(DropoutRNNCell):
    """One LSTM step, gates ``i, f, c, o``; states ``[h, c]``."""

    n_gates = 4

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs):
        kwargs.pop("implementation", None)  # Keras's choice of kernels; the result is the same
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if self.unit_forget_bias:
            return _ForgetBiasInitializer(self.units, self.bias_initializer)
        return self.bias_initializer

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        input_masks, recurrent_masks = self._masks(inputs, h_prev, training)
        z = self._gate_matmul(inputs, self.kernel, input_masks)
        z = z + self._gate_matmul(h_prev, self.recurrent_kernel, recurrent_masks)
        if self.bias is not None:
            z = z + self.bias
        u = self.units
        i = self.recurrent_activation(_columns(z, 0, u))
        f = self.recurrent_activation(_columns(z, u, 2 * u))
        c = f * c_prev + i * self.activation(_columns(z, 2 * u, 3 * u))
        o = self.recurrent_activation(_columns(z, 3 * u, 4 * u))
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@register_layer
class GRUCell(DropoutRNNCell):
    """One GRU step, gates ``z, r, h``; ``reset_after`` as the GRU layer (Keras 3's default
    True: bias (2, 3*units), the reset gate applied after the recurrent matmul)."""

    n_gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        h_prev = _first_state(states)
        input_masks, recurrent_masks = self._masks(inputs, h_prev, training)
        u = self.units
        input_bias = recurrent_bias = None
        if self.bias is not None:
            input_bias = self.bias[0] if self.reset_after else self.bias
            recurrent_bias = self.bias[1] if self.reset_after else None
        x = self._gate_matmul(inputs, self.kernel, input_masks)
        if input_bias is not None:
            x = x + input_bias
        if self.reset_after:
            inner = self._gate_matmul(h_prev, self.recurrent_kernel, recurrent_masks)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
        else:
            zr_masks = None if recurrent_masks is None else recurrent_masks[:2]
            inner = self._gate_matmul(h_prev, _columns(self.recurrent_kernel, 0, 2 * u), zr_masks)
        z = self.recurrent_activation(_columns(x, 0, u) + _columns(inner, 0, u))
        r = self.recurrent_activation(_columns(x, u, 2 * u) + _columns(inner, u, 2 * u))
        if self.reset_after:
            candidate = r * _columns(inner, 2 * u, 3 * u)
        else:
            h_dropped = h_prev if recurrent_masks is None else h_prev * recurrent_masks[2]
            candidate = F.matmul(r * h_dropped, _columns(self.recurrent_kernel, 2 * u, 3 * u))
        hh = self.activation(_columns(x, 2 * u, 3 * u) + candidate)
        h = z * h_prev + (1 - z) * hh
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


def cell_output_size(cell) -> int:
    """Keras's rule: ``output_size`` if the cell has one, else its first state size."""
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    state_size = cell.state_size
    return state_size[0] if isinstance(state_size, (list, tuple)) else state_size


def check_cell(cell, owner: str) -> None:
    """A cell needs ``call(inputs, states)`` and ``state_size``, as Keras checks."""
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{owner}: a cell must have a `call` method; received {cell!r}.")
    if getattr(cell, "state_size", None) is None:
        raise ValueError(
            f"{owner}: a cell must have a `state_size` attribute (an integer, or a list of "
            f"integers, one per state); received {cell!r}."
        )


def call_cell(cell, inputs, states, training):
    """``cell(inputs, states)`` (training passed where ``call`` takes it), new states as a
    list."""
    if isinstance(cell, Layer):
        output, new_states = cell(inputs, states, training=training)
    else:
        output, new_states = cell.call(inputs, states)
    if not isinstance(new_states, (list, tuple)):
        new_states = [new_states]
    return output, list(new_states)


def initial_cell_state(cell, batch_size: int, like) -> list:
    """The cell's ``get_initial_state`` or zeros (batch, size) for each state size."""
    get_initial_state = getattr(cell, "get_initial_state", None)
    if get_initial_state is not None:
        states = get_initial_state(batch_size=batch_size)
        return list(states) if isinstance(states, (list, tuple)) else [states]
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [zeros_state(like, (batch_size, size)) for size in sizes]


@register_layer
class StackedRNNCells(Layer):
    """Cells run one after the other in each step, as one cell: each cell's output is the
    next one's input; the states are the list of each cell's states."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = [layer_registry.create(c) if isinstance(c, dict) else c for c in cells]
        for cell in cells:
            check_cell(cell, f"StackedRNNCells '{self.name}'")
        self.cells = cells

    @property
    def state_size(self) -> list:
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self) -> int:
        return cell_output_size(self.cells[-1])

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                if cell.backend is None:
                    cell.backend = self.backend
                cell.build_from_shape(input_shape)
            input_shape = (input_shape[0], cell_output_size(cell))

    def get_initial_state(self, batch_size=None) -> list:
        return [initial_cell_state(cell, batch_size, self) for cell in self.cells]

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            listed = isinstance(cell_states, (list, tuple))
            inputs, cell_states = call_cell(
                cell, inputs, list(cell_states) if listed else [cell_states], training
            )
            new_states.append(cell_states if listed else cell_states[0])
        return inputs, new_states

    def compute_output_shape(self, input_shape, states_shape=None):
        batch = input_shape[0]
        states = []
        for size in self.state_size:
            sizes = size if isinstance(size, (list, tuple)) else [size]
            states.append([(batch, s) for s in sizes])
        return (batch, self.output_size), states

    def get_config(self):
        cells = [{"class_name": type(c).__name__, "config": c.get_config()} for c in self.cells]
        return {**super().get_config(), "cells": cells}
