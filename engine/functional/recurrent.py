"""Whole-sequence recurrent ops: SimpleRNN, LSTM and the two GRU variants.

Each op is one graph node for the whole sequence. The forward projects every
step's input with one GEMM and hands the loop over time to the backend's
``*_sequence_forward`` kernel; the backward hands BPTT to
``*_sequence_backward`` and computes the input kernel's and bias's gradients
with one GEMM over all steps: the bias is the kernel's row for an input feature
of ones, so neither direction makes a pass of its own over the projections
(W4's step, numba, three alternating pairs: 4.89-5.20 against 5.11-5.37 ms).
This keeps autograd overhead to one node per layer call, and lets a backend run
the time loop natively.

The op has one output, so that autograd's single-output ``Function`` serves
it: a packed array of shape ``(batch, timesteps + n_states, units)``, the
per-step outputs (in processing order, so reversed when ``go_backwards``),
then the final states (``h``, and ``c`` for LSTM); with ``return_sequences``
False, the final states alone, ``(batch, n_states, units)`` (a layer that
returns only the last output then neither copies the sequence out nor takes a
gradient of it: W4's step, 5.6-5.7 against 5.9-6.2 ms, three alternating pairs).
The layers slice it, and the slices' gradients flow back into the final states'
gradients. The
initial states, when given, are inputs of the op and get gradients from the
kernels' BPTT. Masked steps (``mask[b, t]`` false) carry the previous state
forward, and their output is the previous output or, with
``zero_output_for_mask``, zeros, as in Keras.

Dropout follows Keras 3: ``input_mask`` (n_masks, batch, features) and
``recurrent_mask`` (n_masks, batch, units), masks of zeros and
``1 / (1 - rate)`` drawn once per sequence and applied at every step; one
input mask for all gates, or one per gate (as Keras when recurrent dropout is
on). The input masks are applied here, before the projection; the recurrent
ones inside the sequence kernels.
"""

from ..tensor import Function, Tensor, apply

N_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}
N_STATES = {"simple_rnn": 1, "lstm": 2, "gru": 1, "gru_reset_before": 1}


class RecurrentSequence(Function):
    """Inputs: ``x`` (batch, timesteps, features), ``kernel``, ``recurrent_kernel``,
    then ``bias`` if ``has_bias`` ((n_gates*units,), or (2, 3*units) for ``"gru"``),
    then the initial states if given (``h``, and ``c`` for LSTM; each (batch, units))."""

    def __init__(
        self,
        cell: str,
        mask=None,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        has_bias: bool = True,
        input_mask=None,
        recurrent_mask=None,
        return_sequences: bool = True,
    ):
        self.cell = cell
        self.return_sequences = return_sequences
        self.mask = mask
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.activations = (activation, recurrent_activation)
        self.has_bias = has_bias
        self.input_mask = input_mask
        self.recurrent_mask = recurrent_mask

    def forward(self, x, kernel, recurrent_kernel, *rest):
        backend = self.backend
        xp = backend.xp
        batch, timesteps, features = x.shape
        units = recurrent_kernel.shape[0]
        bias = rest[0] if self.has_bias else None
        initial_states = rest[1:] if self.has_bias else rest
        self.n_initial_states = len(initial_states)
        # time-major and contiguous, so the projection is one GEMM and each step a block
        x_steps = x.transpose(1, 0, 2)
        if self.go_backwards:
            x_steps = x_steps[::-1]
        input_bias, recurrent_bias = bias, None
        if self.cell == "gru" and bias is not None:
            input_bias, recurrent_bias = bias[0], bias[1]
        # the bias as one more input feature, of ones: the projection's GEMM adds it, and
        # the backward's GEMM for the kernel's gradient gives the bias's too, with no pass
        # of its own over the (timesteps * batch, gates) projections either way
        self.ones_column = self.input_mask is None and input_bias is not None
        if self.ones_column:
            dtype = xp.result_type(x.dtype, kernel.dtype)
            steps = xp.empty((timesteps, batch, features + 1), dtype)
            steps[..., :features] = x_steps
            steps[..., features] = 1
            x_steps = steps
            kernel = xp.concatenate([kernel, input_bias[None].astype(kernel.dtype)])
        x_steps = xp.ascontiguousarray(x_steps)
        if self.input_mask is None:
            x_flat = x_steps.reshape(timesteps * batch, -1)
            if self.ones_column:
                x_proj = backend.matmul(x_flat, kernel)
            else:
                x_proj = backend.dense_forward(x_flat, kernel, input_bias)
            x_proj = x_proj.reshape(timesteps, batch, -1)
        else:
            x_proj = backend.gate_masked_matmul(x_steps, kernel, self.input_mask)
            if input_bias is not None:
                x_proj += input_bias

        mask = None
        if self.mask is not None:
            mask = xp.ascontiguousarray(xp.asarray(self.mask, dtype=bool).T)
            if self.go_backwards:
                mask = mask[::-1]
        self.step_mask = mask

        needs = self.needs_input_grad
        bias_needed = self.has_bias and needs[3]
        self.x_steps = x_steps if needs[1] or (self.ones_column and bias_needed) else None
        self.kernel = kernel[:features] if needs[0] else None
        self.recurrent_kernel = recurrent_kernel
        self.x_shape = x.shape

        if not initial_states:
            h0 = xp.zeros((batch, units), dtype=x_proj.dtype)
            initial_states = (h0, h0) if self.cell == "lstm" else (h0,)
        act, rec_act = self.activations
        rec_mask = self.recurrent_mask
        if self.cell == "lstm":
            outputs, h, c, self.cache = backend.lstm_sequence_forward(
                x_proj, recurrent_kernel, *initial_states, mask, act, rec_act, rec_mask
            )
            states = (h, c)
        elif self.cell == "gru":
            outputs, h, self.cache = backend.gru_sequence_forward(
                x_proj, recurrent_kernel, recurrent_bias, *initial_states, mask, act, rec_act,
                rec_mask,
            )  # fmt: skip
            states = (h,)
        elif self.cell == "gru_reset_before":
            outputs, h, self.cache = backend.gru_reset_before_sequence_forward(
                x_proj, recurrent_kernel, *initial_states, mask, act, rec_act, rec_mask
            )
            states = (h,)
        else:
            outputs, h, self.cache = backend.simple_rnn_sequence_forward(
                x_proj, recurrent_kernel, *initial_states, mask, act, rec_mask
            )
            states = (h,)

        first_state = timesteps if self.return_sequences else 0
        packed = xp.empty((batch, first_state + len(states), units), dtype=outputs.dtype)
        if self.return_sequences:
            packed[:, :timesteps] = outputs.transpose(1, 0, 2)
            if mask is not None and self.zero_output_for_mask:
                packed[:, :timesteps] *= mask.T[:, :, None]
        for k, state in enumerate(states):
            packed[:, first_state + k] = state
        return packed

    def backward(self, grad):
        backend = self.backend
        xp = backend.xp
        batch, timesteps, features = self.x_shape
        mask = self.step_mask
        if self.return_sequences:
            first_state = timesteps
            grad_outputs = grad[:, :timesteps].transpose(1, 0, 2)  # time-major view
            if mask is not None and self.zero_output_for_mask:
                grad_outputs = grad_outputs * mask[:, :, None]
        else:
            first_state = 0
            grad_outputs = xp.zeros((timesteps, batch, grad.shape[-1]), grad.dtype)
        dh = grad[:, first_state]
        act, rec_act = self.activations
        recurrent_kernel, cache, rec_mask = self.recurrent_kernel, self.cache, self.recurrent_mask
        self.cache = None
        d_recurrent_bias = None
        needs = self.needs_input_grad
        # the backends' sequence backwards: (grad_outputs, dh[, dc], recurrent_kernel, cache,
        # mask, activation[, recurrent_activation], recurrent_mask)
        lstm = self.cell == "lstm"
        leading = (grad_outputs, dh, grad[:, first_state + 1]) if lstm else (grad_outputs, dh)
        activations = (act,) if self.cell == "simple_rnn" else (act, rec_act)
        *grads, grad_x = self._sequence_backward(
            (*leading, recurrent_kernel), (cache, mask, *activations, rec_mask)
        )
        if lstm:
            dx_proj, d_recurrent, dh0, dc0 = grads
            d_initial = (dh0, dc0)
        elif self.cell == "gru":
            dx_proj, d_recurrent, d_recurrent_bias, dh0 = grads
            d_initial = (dh0,)
        else:
            dx_proj, d_recurrent, dh0 = grads
            d_initial = (dh0,)

        dx_flat = dx_proj.reshape(-1, dx_proj.shape[-1])
        grad_kernel = grad_bias = None
        if self.input_mask is not None and (needs[0] or needs[1]):
            grad_x, grad_kernel = backend.gate_masked_matmul_backward(
                dx_proj, self.x_steps, self.kernel, self.input_mask, needs[0], needs[1]
            )
        else:
            if needs[0] and grad_x is None:
                grad_x = backend.matmul(dx_flat, self.kernel.T).reshape(timesteps, batch, features)
            if self.x_steps is not None:
                x_flat = self.x_steps.reshape(timesteps * batch, -1)
                grad_kernel = backend.matmul(x_flat.T, dx_flat)
                if self.ones_column:
                    grad_kernel, grad_bias = grad_kernel[:features], grad_kernel[features]
                if not needs[1]:
                    grad_kernel = None
        if grad_x is not None:
            if self.go_backwards:
                grad_x = grad_x[::-1]
            grad_x = xp.ascontiguousarray(grad_x.transpose(1, 0, 2))
        grads = [grad_x, grad_kernel, d_recurrent if needs[2] else None]
        if self.has_bias:
            if needs[3]:
                if grad_bias is None:
                    grad_bias = backend.bias_backward(dx_flat)
                if self.cell == "gru":
                    grad_bias = xp.stack([grad_bias, d_recurrent_bias])
            grads.append(grad_bias)
        if self.n_initial_states:
            grads.extend(d_initial)
        return tuple(grads)

    def _sequence_backward(self, leading: tuple, trailing: tuple) -> tuple:
        """The backend's ``{cell}_sequence_backward(*leading, *trailing)``, with the inputs'
        gradient last: where the layer needs it (and drew no input dropout mask), through
        ``{cell}_sequence_backward_inputs`` and the input kernel between the two, so that
        a backend may make it step by step; else None."""
        name = f"{self.cell}_sequence_backward"
        if self.needs_input_grad[0] and self.input_mask is None:
            return getattr(self.backend, name + "_inputs")(*leading, self.kernel, *trailing)
        return (*getattr(self.backend, name)(*leading, *trailing), None)


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
    initial_state=None,
    input_mask=None,
    recurrent_mask=None,
    return_sequences: bool = True,
) -> Tensor:
    """Run a ``"simple_rnn"``, ``"lstm"``, ``"gru"`` or ``"gru_reset_before"`` layer over a
    whole sequence.

    ``mask`` is a boolean (batch, timesteps) array or tensor, or None.
    ``initial_state`` is None (zeros) or a list of tensors, ``[h]`` or
    ``[h, c]``. ``input_mask`` and ``recurrent_mask`` are None or the dropout
    masks of the module docstring (backend arrays). Returns the packed array
    described in the module docstring (without the per-step outputs when
    ``return_sequences`` is False).
    """
    if cell not in N_GATES:
        raise ValueError(f"Unknown recurrent cell '{cell}'; expected one of {sorted(N_GATES)}.")
    if isinstance(mask, Tensor):
        mask = mask.data
    fn = RecurrentSequence(
        cell,
        mask,
        go_backwards,
        zero_output_for_mask,
        activation,
        recurrent_activation,
        has_bias=bias is not None,
        input_mask=input_mask,
        recurrent_mask=recurrent_mask,
        return_sequences=return_sequences,
    )
    inputs = [x, kernel, recurrent_kernel]
    if bias is not None:
        inputs.append(bias)
    if initial_state:
        if len(initial_state) != N_STATES[cell]:
            raise ValueError(
                f"A '{cell}' layer has {N_STATES[cell]} state(s); got {len(initial_state)} "
                "initial states."
            )
        inputs.extend(initial_state)
    return apply(fn, *inputs)
