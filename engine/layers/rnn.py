"""RNN: any recurrent cell run over a sequence, step by step, as Keras 3's ``layers.RNN``.

The cell (a built-in one from ``rnn_cells``, a ``StackedRNNCells``, a list of
cells, or a user's layer with ``state_size`` and ``call(inputs, states)``) is
called once per timestep on ``(batch, ...)`` slices, and autograd records each
step, so any cell trains. The fused SimpleRNN, LSTM and GRU layers compute the
same results for the built-in cells in one backend kernel per sequence and are
the fast path; this is the general one.

Semantics follow Keras 3's ``backend.rnn``: with ``go_backwards`` the steps run
from the last and the returned sequence is in processing order; a masked step
keeps every state and outputs the previous step's output (zeros before the
first, or always zeros with ``zero_output_for_mask``).
"""

from .. import functional as F
from .. import symbolic
from ..tensor import Tensor
from .base import Layer, format_shape, layer_registry, register_layer
from .rnn_cells import (
    StackedRNNCells,
    call_cell,
    cell_output_size,
    check_cell,
    initial_cell_state,
)


def _sizes(state_size) -> list:
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


@register_layer
class RNN(Layer):
    """Runs ``cell`` over the time axis (1) of ``(batch, timesteps, ...)`` inputs."""

    def __init__(
        self,
        cell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        """``unroll`` is accepted for Keras programs: the steps always run as a Python
        loop, so it changes nothing."""
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = layer_registry.create(cell)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        check_cell(cell, f"{type(self).__name__} '{self.name}'")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._states = None

    @property
    def states(self):
        """With ``stateful``, the last call's final states (no gradient), the next call's
        initial states until ``reset_state``; else None."""
        return self._states

    @states.setter
    def states(self, value) -> None:
        self.reset_state(value)

    @property
    def state_size(self) -> list:
        return _sizes(self.cell.state_size)

    # -- building -----------------------------------------------------------

    def _check_rank(self, shape) -> None:
        if len(shape) < 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of shape (batch, "
                f"timesteps, ...), of rank 3 or more, but received input with shape "
                f"{format_shape(tuple(shape))}."
            )

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_rank(sequences_shape)
        if isinstance(self.cell, Layer) and not self.cell.built:
            if self.cell.backend is None:
                self.cell.backend = self.backend
            self.cell.build_from_shape((sequences_shape[0], *sequences_shape[2:]))

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        self._check_rank(sequences_shape)
        batch, length = sequences_shape[0], sequences_shape[1]
        size = cell_output_size(self.cell)
        output = (batch, length, size) if self.return_sequences else (batch, size)
        if not self.return_state:
            return output
        states = []
        for state_size in self.state_size:
            if isinstance(state_size, (list, tuple)):
                states.append([(batch, s) for s in state_size])
            else:
                states.append((batch, state_size))
        return [output, *states]

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # -- states -------------------------------------------------------------

    def get_initial_state(self, batch_size: int) -> list:
        return initial_cell_state(self.cell, batch_size, self)

    def reset_state(self, states=None) -> None:
        """Clear a stateful layer's states (zeros), or set them to ``states``."""
        if self._states is None and states is None:
            return
        if states is None:
            self._states = symbolic.map_structure(_zeros_like, self._states)
        else:
            like = symbolic.flatten(self._states)[0] if self._states is not None else None
            self._states = self._checked_states(states, like)

    reset_states = reset_state

    def _initial_states(self, initial_state, sequences: Tensor) -> list:
        if initial_state is None:
            if self.stateful and self._states is not None:
                return self._states
            return self.get_initial_state(sequences.shape[0])
        return self._checked_states(initial_state, sequences)

    def _checked_states(self, states, like) -> list:
        """``states`` as tensors in ``like``'s backend and dtype, grouped per cell for a
        stack of cells (a flat list of all their states is accepted too)."""
        if not isinstance(states, (list, tuple)):
            states = [states]
        states = list(states)
        expected = self.state_size
        flat_count = sum(len(_sizes(s)) for s in expected)
        if isinstance(self.cell, StackedRNNCells) and len(states) == flat_count:
            grouped, leaves = [], iter(states)
            for size in expected:
                take = len(_sizes(size))
                group = [next(leaves) for _ in range(take)]
                grouped.append(group if isinstance(size, (list, tuple)) else group[0])
            states = grouped
        if len(symbolic.flatten(states)) != flat_count:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects {flat_count} initial state "
                f"tensor(s) (state_size {self.cell.state_size}), but received "
                f"{len(symbolic.flatten(states))}."
            )
        return symbolic.map_structure(lambda state: _as_state(state, like, self), states)

    # -- calling ------------------------------------------------------------

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._check_rank(sequences.shape)
        states = self._initial_states(initial_state, sequences)
        steps = F.transpose(sequences, (1, 0, *range(2, sequences.ndim)))  # time-major
        timesteps = sequences.shape[1]
        order = range(timesteps - 1, -1, -1) if self.go_backwards else range(timesteps)
        keep = None
        if mask is not None:
            keep = mask.data if isinstance(mask, Tensor) else sequences.backend.asarray(mask)
            keep = keep.astype(bool).T  # (timesteps, batch)
        outputs, output = [], None
        try:
            for t in order:
                step_output, new_states = call_cell(self.cell, steps[t], states, training)
                if keep is not None:
                    step_output, new_states = self._masked_step(
                        keep[t], step_output, output, new_states, states
                    )
                output, states = step_output, new_states
                if self.return_sequences:
                    outputs.append(output)
        finally:
            _reset_dropout_masks(self.cell)
        if self.stateful:
            self._states = symbolic.map_structure(Tensor.detach, states)
        if self.return_sequences:
            output = F.stack(outputs, axis=1)
        if self.return_state:
            return [output, *states]
        return output

    def _masked_step(self, keep, output, previous_output, new_states, states):
        """Keras's masking: where ``keep`` is false, the previous states carry on and the
        output is the previous output (zeros before the first, or with
        ``zero_output_for_mask``)."""
        rows = keep.reshape(-1, *([1] * (output.ndim - 1)))
        if previous_output is None or self.zero_output_for_mask:
            output = F.where(rows, output, 0.0)
        else:
            output = F.where(rows, output, previous_output)
        flat_new, flat_old = symbolic.flatten(new_states), symbolic.flatten(states)
        kept = [
            F.where(keep.reshape(-1, *([1] * (new.ndim - 1))), new, old)
            for new, old in zip(flat_new, flat_old)
        ]
        return output, symbolic.pack_like(new_states, kept)

    def get_config(self):
        return {
            **super().get_config(),
            "cell": {"class_name": type(self.cell).__name__, "config": self.cell.get_config()},
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }


def _zeros_like(state: Tensor) -> Tensor:
    return Tensor(state.backend.xp.zeros_like(state.data), backend=state.backend)


def _as_state(state, like, layer) -> Tensor:
    """``state`` on ``like``'s backend and in its dtype (``like`` None: the layer's)."""
    backend = like.backend if like is not None else layer.backend
    dtype = like.dtype if like is not None else layer.dtype
    if isinstance(state, Tensor):
        return state if state.dtype == dtype else state.astype(dtype)
    try:
        return Tensor(state, dtype=dtype, backend=backend)
    except TypeError as error:
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}': an initial state must be a tensor or an "
            f"array of numbers, got {type(state).__name__}."
        ) from error


def _reset_dropout_masks(cell) -> None:
    """Clear the masks a cell (or each cell of a stack) drew during one call."""
    for each in getattr(cell, "cells", [cell]):
        if hasattr(each, "reset_dropout_mask"):
            each.reset_dropout_mask()
        if hasattr(each, "reset_recurrent_dropout_mask"):
            each.reset_recurrent_dropout_mask()
