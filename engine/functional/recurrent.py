"""Whole-sequence recurrent ops: SimpleRNN, LSTM and GRU (``reset_after=True``).

Each op is one graph node for the whole sequence. The forward projects every
step's input with one GEMM, loops over time through the backend's cell
kernels and saves each step's gates; the backward loops back through time
(BPTT) through the cell backward kernels and computes the weight gradients
with a few GEMMs over all steps. This keeps autograd overhead to one node per
layer call instead of several per step.

The op returns one packed array of shape ``(batch, timesteps + n_states,
units)``: the per-step outputs (in processing order, so reversed when
``go_backwards``), then the final states (``h``, and ``c`` for LSTM). The
layers slice it. Masked steps (``mask[b, t]`` false) carry the previous state
forward, and their output is the previous output or, with
``zero_output_for_mask``, zeros, as in Keras.
"""

from ..tensor import Function, Tensor, apply

N_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
N_STATES = {"simple_rnn": 1, "lstm": 2, "gru": 1}


class RecurrentSequence(Function):
    """Inputs: ``x`` (batch, timesteps, features), ``kernel``, ``recurrent_kernel``
    and optionally ``bias`` ((n_gates*units,), or (2, 3*units) for GRU)."""

    def __init__(
        self,
        cell: str,
        mask=None,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
    ):
        self.cell = cell
        self.mask = mask
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.activations = (activation, recurrent_activation)

    # -- forward ----------------------------------------------------------

    def forward(self, x, kernel, recurrent_kernel, bias=None):
        backend = self.backend
        xp = backend.xp
        batch, timesteps, _ = x.shape
        units = recurrent_kernel.shape[0]
        x_steps = x.transpose(1, 0, 2)  # time-major, so each step's slice is contiguous
        if self.go_backwards:
            x_steps = x_steps[::-1]
        input_bias, recurrent_bias = bias, None
        if self.cell == "gru" and bias is not None:
            input_bias, recurrent_bias = bias[0], bias[1]
        x_proj = backend.dense_forward(x_steps, kernel, input_bias)

        mask = None
        if self.mask is not None:
            mask = xp.asarray(self.mask).T.astype(x.dtype)[:, :, None]
            if self.go_backwards:
                mask = mask[::-1]
        self.step_mask = mask

        needs = self.needs_input_grad
        self.x_steps = x_steps if needs[1] else None
        self.kernel = kernel if needs[0] else None
        self.recurrent_kernel = recurrent_kernel
        self.x_shape = x.shape
        self.has_bias = bias is not None

        h = xp.zeros((batch, units), dtype=x.dtype)
        c = xp.zeros_like(h) if self.cell == "lstm" else None
        outputs = xp.empty((timesteps, batch, units), dtype=x.dtype)
        saved = {name: [] for name in ("h_prev", "c_prev", "c", "h", "preact", "gates", "rec_h")}
        step_forward = getattr(self, "_forward_" + self.cell)
        for t in range(timesteps):
            h_new, c_new = step_forward(x_proj[t], h, c, recurrent_kernel, recurrent_bias, saved)
            if mask is not None:
                m = mask[t]
                h_new = xp.where(m > 0, h_new, h)
                if c is not None:
                    c_new = xp.where(m > 0, c_new, c)
            h, c = h_new, c_new
            outputs[t] = h
        if mask is not None and self.zero_output_for_mask:
            outputs *= mask
        self.saved = {name: xp.stack(values) for name, values in saved.items() if values}
        states = [h] if c is None else [h, c]
        packed = xp.concatenate([outputs] + [s[None] for s in states], axis=0)
        return xp.ascontiguousarray(packed.transpose(1, 0, 2))

    def _forward_simple_rnn(self, x_proj, h, c, recurrent_kernel, recurrent_bias, saved):
        h_new, preact = self.backend.simple_rnn_cell_forward(
            x_proj, h, recurrent_kernel, self.activations[0]
        )
        saved["h_prev"].append(h)
        saved["preact"].append(preact)
        saved["h"].append(h_new)
        return h_new, None

    def _forward_lstm(self, x_proj, h, c, recurrent_kernel, recurrent_bias, saved):
        h_new, c_new, preact, gates = self.backend.lstm_cell_forward(
            x_proj, h, c, recurrent_kernel, *self.activations
        )
        saved["h_prev"].append(h)
        saved["c_prev"].append(c)
        saved["c"].append(c_new)
        saved["preact"].append(preact)
        saved["gates"].append(gates)
        return h_new, c_new

    def _forward_gru(self, x_proj, h, c, recurrent_kernel, recurrent_bias, saved):
        h_new, preact, gates, rec_h = self.backend.gru_cell_forward(
            x_proj, h, recurrent_kernel, recurrent_bias, *self.activations
        )
        saved["h_prev"].append(h)
        saved["preact"].append(preact)
        saved["gates"].append(gates)
        saved["rec_h"].append(rec_h)
        return h_new, None

    # -- backward (through time) -----------------------------------------

    def backward(self, grad):
        backend = self.backend
        xp = backend.xp
        batch, timesteps, features = self.x_shape
        grad = grad.transpose(1, 0, 2)  # time-major
        grad_outputs = grad[:timesteps]
        if self.step_mask is not None and self.zero_output_for_mask:
            grad_outputs = grad_outputs * self.step_mask
        dh = grad[timesteps].copy()
        dc = grad[timesteps + 1].copy() if self.cell == "lstm" else None
        recurrent_kernel = self.recurrent_kernel
        saved = self.saved
        n_gates = recurrent_kernel.shape[1]
        dx_proj = xp.empty((timesteps, batch, n_gates), dtype=grad.dtype)
        drec = xp.empty_like(dx_proj) if self.cell == "gru" else dx_proj
        mask = self.step_mask
        act, rec_act = self.activations
        for t in range(timesteps - 1, -1, -1):
            dh = dh + grad_outputs[t]
            dh_keep = dc_keep = None
            if mask is not None:
                m = mask[t]
                dh, dh_keep = dh * m, dh * (1 - m)
                if dc is not None:
                    dc, dc_keep = dc * m, dc * (1 - m)
            if self.cell == "lstm":
                dx_proj[t], dc = backend.lstm_cell_backward(
                    dh, dc, saved["c_prev"][t], saved["c"][t], saved["preact"][t],
                    saved["gates"][t], act, rec_act,
                )  # fmt: skip
                dh = xp.matmul(dx_proj[t], recurrent_kernel.T)
                if dc_keep is not None:
                    dc += dc_keep
            elif self.cell == "gru":
                dx_proj[t], drec[t], dh_direct = backend.gru_cell_backward(
                    dh, saved["h_prev"][t], saved["preact"][t], saved["gates"][t],
                    saved["rec_h"][t], act, rec_act,
                )  # fmt: skip
                dh = xp.matmul(drec[t], recurrent_kernel.T) + dh_direct
            else:
                dx_proj[t] = backend.simple_rnn_cell_backward(
                    dh, saved["preact"][t], saved["h"][t], act
                )
                dh = xp.matmul(dx_proj[t], recurrent_kernel.T)
            if dh_keep is not None:
                dh += dh_keep

        needs = self.needs_input_grad
        dx_flat = dx_proj.reshape(-1, n_gates)
        grad_x = grad_kernel = grad_recurrent = grad_bias = None
        if needs[0]:
            grad_x = xp.matmul(dx_proj, self.kernel.T)
            if self.go_backwards:
                grad_x = grad_x[::-1]
            grad_x = xp.ascontiguousarray(grad_x.transpose(1, 0, 2))
        if needs[1]:
            grad_kernel = xp.matmul(self.x_steps.reshape(-1, features).T, dx_flat)
        if needs[2]:
            h_prev = saved["h_prev"].reshape(-1, recurrent_kernel.shape[0])
            grad_recurrent = xp.matmul(h_prev.T, drec.reshape(-1, n_gates))
        if self.has_bias and needs[3]:
            grad_bias = dx_flat.sum(axis=0)
            if self.cell == "gru":
                grad_bias = xp.stack([grad_bias, drec.reshape(-1, n_gates).sum(axis=0)])
        return grad_x, grad_kernel, grad_recurrent, grad_bias


def recurrent_sequence(
    cell: str,
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    mask=None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
) -> Tensor:
    """Run a ``"simple_rnn"``, ``"lstm"`` or ``"gru"`` layer over a whole sequence.

    ``mask`` is a boolean (batch, timesteps) array or tensor, or None. Returns
    the packed array described in the module docstring.
    """
    if cell not in N_GATES:
        raise ValueError(f"Unknown recurrent cell '{cell}'; expected one of {sorted(N_GATES)}.")
    if isinstance(mask, Tensor):
        mask = mask.data
    fn = RecurrentSequence(
        cell, mask, go_backwards, zero_output_for_mask, activation, recurrent_activation
    )
    if bias is None:
        return apply(fn, x, kernel, recurrent_kernel)
    return apply(fn, x, kernel, recurrent_kernel, bias)
