"""Whole-sequence recurrent ops: SimpleRNN, LSTM and GRU (``reset_after=True``).

Each op is one graph node for the whole sequence. The forward projects every
step's input with one GEMM and hands the loop over time to the backend's
``*_sequence_forward`` kernel; the backward hands BPTT to
``*_sequence_backward`` and computes the input kernel's and bias's gradients
with a GEMM and a sum over all steps. This keeps autograd overhead to one
node per layer call, and lets a backend run the time loop natively.

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

    def forward(self, x, kernel, recurrent_kernel, bias=None):
        backend = self.backend
        xp = backend.xp
        batch, timesteps, features = x.shape
        units = recurrent_kernel.shape[0]
        # time-major and contiguous, so the projection is one GEMM and each step a block
        x_steps = x.transpose(1, 0, 2)
        if self.go_backwards:
            x_steps = x_steps[::-1]
        x_steps = xp.ascontiguousarray(x_steps)
        input_bias, recurrent_bias = bias, None
        if self.cell == "gru" and bias is not None:
            input_bias, recurrent_bias = bias[0], bias[1]
        x_proj = backend.dense_forward(x_steps.reshape(-1, features), kernel, input_bias)
        x_proj = x_proj.reshape(timesteps, batch, -1)

        mask = None
        if self.mask is not None:
            mask = xp.ascontiguousarray(xp.asarray(self.mask, dtype=bool).T)
            if self.go_backwards:
                mask = mask[::-1]
        self.step_mask = mask

        needs = self.needs_input_grad
        self.x_steps = x_steps if needs[1] else None
        self.kernel = kernel if needs[0] else None
        self.recurrent_kernel = recurrent_kernel
        self.x_shape = x.shape
        self.has_bias = bias is not None

        h0 = xp.zeros((batch, units), dtype=x_proj.dtype)
        act, rec_act = self.activations
        if self.cell == "lstm":
            outputs, h, c, self.cache = backend.lstm_sequence_forward(
                x_proj, recurrent_kernel, h0, xp.zeros_like(h0), mask, act, rec_act
            )
            states = (h, c)
        elif self.cell == "gru":
            outputs, h, self.cache = backend.gru_sequence_forward(
                x_proj, recurrent_kernel, recurrent_bias, h0, mask, act, rec_act
            )
            states = (h,)
        else:
            outputs, h, self.cache = backend.simple_rnn_sequence_forward(
                x_proj, recurrent_kernel, h0, mask, act
            )
            states = (h,)

        packed = xp.empty((batch, timesteps + len(states), units), dtype=outputs.dtype)
        packed[:, :timesteps] = outputs.transpose(1, 0, 2)
        if mask is not None and self.zero_output_for_mask:
            packed[:, :timesteps] *= mask.T[:, :, None]
        for k, state in enumerate(states):
            packed[:, timesteps + k] = state
        return packed

    def backward(self, grad):
        backend = self.backend
        xp = backend.xp
        batch, timesteps, features = self.x_shape
        grad_outputs = grad[:, :timesteps].transpose(1, 0, 2)  # time-major view
        mask = self.step_mask
        if mask is not None and self.zero_output_for_mask:
            grad_outputs = grad_outputs * mask[:, :, None]
        dh = grad[:, timesteps]
        act, rec_act = self.activations
        recurrent_kernel, cache = self.recurrent_kernel, self.cache
        self.cache = None
        d_recurrent_bias = None
        if self.cell == "lstm":
            dx_proj, d_recurrent, _, _ = backend.lstm_sequence_backward(
                grad_outputs, dh, grad[:, timesteps + 1], recurrent_kernel, cache, mask,
                act, rec_act,
            )  # fmt: skip
        elif self.cell == "gru":
            dx_proj, d_recurrent, d_recurrent_bias, _ = backend.gru_sequence_backward(
                grad_outputs, dh, recurrent_kernel, cache, mask, act, rec_act
            )
        else:
            dx_proj, d_recurrent, _ = backend.simple_rnn_sequence_backward(
                grad_outputs, dh, recurrent_kernel, cache, mask, act
            )

        needs = self.needs_input_grad
        dx_flat = dx_proj.reshape(-1, dx_proj.shape[-1])
        grad_x = grad_kernel = grad_recurrent = grad_bias = None
        if needs[0]:
            grad_x = backend.matmul(dx_flat, self.kernel.T).reshape(timesteps, batch, features)
            if self.go_backwards:
                grad_x = grad_x[::-1]
            grad_x = xp.ascontiguousarray(grad_x.transpose(1, 0, 2))
        if needs[1]:
            grad_kernel = backend.matmul(self.x_steps.reshape(-1, features).T, dx_flat)
        if needs[2]:
            grad_recurrent = d_recurrent
        if self.has_bias and needs[3]:
            grad_bias = dx_flat.sum(axis=0)
            if self.cell == "gru":
                grad_bias = xp.stack([grad_bias, d_recurrent_bias])
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
