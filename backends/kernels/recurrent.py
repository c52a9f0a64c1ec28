"""Recurrent kernels: whole sequences of SimpleRNN, LSTM and GRU, and their single steps.

A recurrent layer projects every step's input with one GEMM up front
(``x_proj = x @ kernel + bias``, time-major: ``(timesteps, batch, n_gates * units)``,
already reversed when the layer goes backwards) and hands the whole sequence
to a ``*_sequence_forward`` kernel: the loop over time, the recurrent GEMM and
the gate arithmetic of every step. It returns the outputs, the final states
and a ``cache`` for ``*_sequence_backward``, which runs back through time
(BPTT) and returns the gradients of ``x_proj``, of the recurrent weights and
of the initial states. The input kernel's and bias's gradients are GEMMs and
sums over all steps at once, left to the caller.

``mask`` is None or a boolean ``(timesteps, batch)`` array in processing
order: a masked step (false) carries each row's states forward unchanged, and
its output is the carried ``h`` (Keras's ``zero_output_for_mask`` is the
caller's: it zeroes those outputs and their gradients). The ``cache`` is
opaque to callers: pass it, unchanged, to the same backend's backward kernel.

Both directions consume their big inputs: a backend may reuse the memory of
``x_proj`` for the cache and of the cache for ``dx_proj`` (the references do
not), so a caller must not read ``x_proj`` after the forward or the cache
after the backward. This spares a training step two activation-sized
allocations, and the page faults of first touching them.

The reference sequence kernels below loop over time in Python through the
single-step cell kernels (``*_cell_forward/backward``), one NumPy or CuPy call
per piece; a backend overrides the sequence kernels to run the loop natively.

``recurrent_mask`` is None or Keras's recurrent dropout: masks of zeros and
``1 / (1 - rate)``, ``(n_masks, batch, units)``, drawn once per sequence; gate
``k``'s recurrent GEMM sees ``h_prev * recurrent_mask[k]`` (one mask per gate,
as Keras 3's ``implementation=1``, which recurrent dropout selects). Only
the recurrent GEMMs see it: GRU's ``z * h_prev`` mixes in the undropped state,
as in Keras. The fused overrides leave masked sequences to these references.

``activation`` and ``recurrent_activation`` are activation kernel names
(``"tanh"``, ``"sigmoid"``, ``"relu"``, ..., or ``"linear"``). A fused
override (Numba, CUDA) may handle only some and call ``super()`` for the rest.
The gate layouts follow Keras 3: LSTM ``[i, f, c, o]``, GRU ``[z, r, h]``, for
both GRU variants (``reset_after=True``, Keras 3's default, and the original
``reset_after=False``, here ``gru_reset_before``).
"""

import numpy


def _split(xp, keep, grad):
    """``grad`` on the steps that ran (``keep``) and on the masked steps, zero elsewhere."""
    zero = grad.dtype.type(0)
    return xp.where(keep, grad, zero), xp.where(keep, zero, grad)


class RecurrentKernels:
    xp = numpy

    # -- helpers ----------------------------------------------------------

    def _activation_forward(self, name: str, x):
        if name == "linear":
            return x
        return getattr(self, name + "_forward")(x)

    def _activation_backward(self, name: str, dy, x, y):
        if name == "linear":
            return dy
        return getattr(self, name + "_backward")(dy, x, y)

    # -- per-gate dropout masks -------------------------------------------

    def gate_masked_matmul(self, x, kernel, masks):
        """``x @ kernel`` where gate ``k``'s columns see ``x * masks[k]``.

        Keras's dropout of a recurrent layer's inputs or state: ``masks``
        (n_masks, ..., features) broadcasts against ``x`` (..., features); one
        mask serves every gate, or each of the ``n_masks`` gates (equal column
        blocks of ``kernel``) has its own.
        """
        n_masks = masks.shape[0]
        features, width = kernel.shape[0], kernel.shape[1] // n_masks
        parts = [
            self.matmul(
                (x * masks[k]).reshape(-1, features), kernel[:, k * width : (k + 1) * width]
            )
            for k in range(n_masks)
        ]
        out = parts[0] if n_masks == 1 else self.xp.concatenate(parts, axis=1)
        return out.reshape(*x.shape[:-1], kernel.shape[1])

    def gate_masked_matmul_backward(self, dy, x, kernel, masks, needs_x=True, needs_kernel=True):
        """Gradients ``(dx, dkernel)`` of ``gate_masked_matmul``, None where not needed.

        ``x`` is read only for ``dkernel``; ``kernel`` only for ``dx``.
        """
        n_masks = masks.shape[0]
        features, columns = masks.shape[-1], dy.shape[-1]
        width = columns // n_masks
        dy_rows = dy.reshape(-1, columns)
        dx = dkernel = None
        if needs_kernel:
            dkernel = self.xp.empty((features, columns), dtype=dy.dtype)
        for k in range(n_masks):
            block = slice(k * width, (k + 1) * width)
            if needs_x:
                part = self.matmul(dy_rows[:, block], kernel[:, block].T)
                part = part.reshape(*dy.shape[:-1], features) * masks[k]
                dx = part if dx is None else dx + part
            if needs_kernel:
                x_rows = (x * masks[k]).reshape(-1, features)
                dkernel[:, block] = self.matmul(x_rows.T, dy_rows[:, block])
        return dx, dkernel

    def _recurrent_input_grad(self, dpreact, recurrent_kernel, kernel_t, recurrent_mask):
        """``h_prev``'s gradient through the recurrent GEMM, dropout masks included."""
        if recurrent_mask is None:
            return self.matmul(dpreact, kernel_t)
        return self.gate_masked_matmul_backward(
            dpreact, None, recurrent_kernel, recurrent_mask, needs_kernel=False
        )[0]

    # -- SimpleRNN --------------------------------------------------------

    def simple_rnn_cell_forward(self, x_proj, h_prev, recurrent_kernel, activation="tanh"):
        """``h = activation(x_proj + h_prev @ recurrent_kernel)``.

        Returns ``(h, preact)``; ``preact`` (batch, units) is kept for the backward.
        """
        preact = x_proj + self.xp.matmul(h_prev, recurrent_kernel)
        return self._activation_forward(activation, preact), preact

    def simple_rnn_cell_backward(self, dh, preact, h, activation="tanh"):
        """Gradient of the pre-activation from the gradient ``dh`` of the new state."""
        return self._activation_backward(activation, dh, preact, h)

    # -- LSTM -------------------------------------------------------------

    def lstm_cell_forward(
        self,
        x_proj,
        h_prev,
        c_prev,
        recurrent_kernel,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        """One LSTM step with Keras's equations and gate order ``[i, f, c, o]``.

        ``x_proj`` (batch, 4*units) is this step's ``x_t @ kernel + bias``.
        Returns ``(h, c, preact, gates)``: the new states, and the gates before
        and after their activations, each (batch, 4*units), for the backward.
        """
        preact = x_proj + self.xp.matmul(h_prev, recurrent_kernel)
        return self._lstm_gates(preact, c_prev, activation, recurrent_activation)

    def _lstm_gates(self, preact, c_prev, activation, recurrent_activation):
        """The LSTM step from its pre-activations: ``(h, c, preact, gates)``."""
        units = c_prev.shape[-1]
        gates = self.xp.empty_like(preact)
        rec = slice(None, 2 * units)
        gates[:, rec] = self._activation_forward(recurrent_activation, preact[:, rec])
        cand = slice(2 * units, 3 * units)
        gates[:, cand] = self._activation_forward(activation, preact[:, cand])
        out = slice(3 * units, None)
        gates[:, out] = self._activation_forward(recurrent_activation, preact[:, out])
        i, f, g, o = (gates[:, k * units : (k + 1) * units] for k in range(4))
        c = f * c_prev + i * g
        h = o * self._activation_forward(activation, c)
        return h, c, preact, gates

    def lstm_cell_backward(
        self,
        dh,
        dc,
        c_prev,
        c,
        preact,
        gates,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        """Back through one LSTM step.

        ``dh``, ``dc``: gradients of the step's new ``h`` and ``c``; ``c_prev``,
        ``c``, ``preact``, ``gates`` as the forward saw or returned them.
        Returns ``(dpreact, dc_prev)``: the gradient of the pre-activations
        (batch, 4*units) and the part of ``c_prev``'s gradient through this
        step. ``h_prev``'s is ``dpreact @ recurrent_kernel.T`` (left to the caller).
        """
        xp = self.xp
        units = c.shape[-1]
        i, f, g, o = (gates[:, k * units : (k + 1) * units] for k in range(4))
        c_act = self._activation_forward(activation, c)
        dc = dc + self._activation_backward(activation, dh * o, c, c_act)
        dgates = xp.empty_like(gates)
        dgates[:, :units] = dc * g
        dgates[:, units : 2 * units] = dc * c_prev
        dgates[:, 2 * units : 3 * units] = dc * i
        dgates[:, 3 * units :] = dh * c_act
        dpreact = xp.empty_like(gates)
        for part, name in (
            (slice(None, 2 * units), recurrent_activation),
            (slice(2 * units, 3 * units), activation),
            (slice(3 * units, None), recurrent_activation),
        ):
            dpreact[:, part] = self._activation_backward(
                name, dgates[:, part], preact[:, part], gates[:, part]
            )
        return dpreact, dc * f

    # -- GRU (reset_after=True) ------------------------------------------

    def gru_cell_forward(
        self,
        x_proj,
        h_prev,
        recurrent_kernel,
        recurrent_bias=None,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        """One GRU step, Keras's ``reset_after=True`` variant, gate order ``[z, r, h]``.

        ``x_proj`` (batch, 3*units) is ``x_t @ kernel + input_bias``;
        ``recurrent_bias`` (3*units,) or None. With
        ``rec = h_prev @ recurrent_kernel + recurrent_bias``:
        ``z, r = recurrent_activation(x_proj[z, r] + rec[z, r])``,
        ``hh = activation(x_proj[h] + r * rec[h])``, ``h = z * h_prev + (1 - z) * hh``.
        Returns ``(h, preact, gates, rec_h)``: pre-activations and activations of
        ``[z, r, hh]`` (batch, 3*units) and ``rec[h]`` (batch, units).
        """
        rec = self.xp.matmul(h_prev, recurrent_kernel)
        return self._gru_gates(
            x_proj, rec, recurrent_bias, h_prev, activation, recurrent_activation
        )

    def _gru_gates(self, x_proj, rec, recurrent_bias, h_prev, activation, recurrent_activation):
        """The GRU step from ``rec = h_prev @ recurrent_kernel`` (updated in place)."""
        xp = self.xp
        units = h_prev.shape[-1]
        if recurrent_bias is not None:
            rec += recurrent_bias
        preact = xp.empty_like(x_proj)
        gates = xp.empty_like(x_proj)
        zr = slice(None, 2 * units)
        preact[:, zr] = x_proj[:, zr] + rec[:, zr]
        gates[:, zr] = self._activation_forward(recurrent_activation, preact[:, zr])
        rec_h = rec[:, 2 * units :]
        r = gates[:, units : 2 * units]
        preact[:, 2 * units :] = x_proj[:, 2 * units :] + r * rec_h
        gates[:, 2 * units :] = self._activation_forward(activation, preact[:, 2 * units :])
        z, hh = gates[:, :units], gates[:, 2 * units :]
        h = z * h_prev + (1 - z) * hh
        return h, preact, gates, rec_h

    def gru_cell_backward(
        self,
        dh,
        h_prev,
        preact,
        gates,
        rec_h,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        """Back through one GRU step (``reset_after=True``).

        Returns ``(dx_proj, drec, dh_prev_direct)``: gradients of ``x_proj``
        and of ``rec = h_prev @ recurrent_kernel + recurrent_bias`` (each
        batch, 3*units), and the part of ``h_prev``'s gradient through
        ``z * h_prev``; the caller adds ``drec @ recurrent_kernel.T``.
        """
        xp = self.xp
        units = h_prev.shape[-1]
        z, r, hh = (gates[:, k * units : (k + 1) * units] for k in range(3))
        dgates = xp.empty_like(gates)
        dgates[:, :units] = dh * (h_prev - hh)
        dgates[:, 2 * units :] = dh * (1 - z)
        h_part = slice(2 * units, None)
        dx_proj = xp.empty_like(gates)
        dx_proj[:, h_part] = self._activation_backward(
            activation, dgates[:, h_part], preact[:, h_part], gates[:, h_part]
        )
        dgates[:, units : 2 * units] = dx_proj[:, h_part] * rec_h
        zr = slice(None, 2 * units)
        dx_proj[:, zr] = self._activation_backward(
            recurrent_activation, dgates[:, zr], preact[:, zr], gates[:, zr]
        )
        drec = dx_proj.copy()
        drec[:, h_part] *= r
        return dx_proj, drec, dh * z

    # -- GRU (reset_after=False) -----------------------------------------

    def gru_reset_before_cell_forward(
        self,
        x_proj,
        h_prev,
        recurrent_kernel,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """One GRU step, Keras's ``reset_after=False`` (the original GRU), gates ``[z, r, h]``.

        ``x_proj`` (batch, 3*units) is ``x_t @ kernel + bias``. With ``R`` the
        recurrent kernel: ``z, r = recurrent_activation(x_proj[z, r] + h_prev @ R[z, r])``,
        ``hh = activation(x_proj[h] + (r * h_prev) @ R[h])``,
        ``h = z * h_prev + (1 - z) * hh``. ``recurrent_mask`` as in the module
        docstring. Returns ``(h, preact, gates, h_reset)``: pre-activations and
        activations of ``[z, r, hh]`` and ``h_reset = r * h_prev``, the input of
        the candidate's recurrent GEMM (batch, units).
        """
        xp = self.xp
        units = h_prev.shape[-1]
        zr, cand = slice(None, 2 * units), slice(2 * units, None)
        preact = xp.empty_like(x_proj)
        gates = xp.empty_like(x_proj)
        if recurrent_mask is None:
            preact[:, zr] = x_proj[:, zr] + xp.matmul(h_prev, recurrent_kernel[:, zr])
            h_candidate = h_prev
        else:
            rec_zr = self.gate_masked_matmul(h_prev, recurrent_kernel[:, zr], recurrent_mask[:2])
            preact[:, zr] = x_proj[:, zr] + rec_zr
            h_candidate = h_prev * recurrent_mask[2]
        gates[:, zr] = self._activation_forward(recurrent_activation, preact[:, zr])
        h_reset = gates[:, units : 2 * units] * h_candidate
        preact[:, cand] = x_proj[:, cand] + xp.matmul(h_reset, recurrent_kernel[:, cand])
        gates[:, cand] = self._activation_forward(activation, preact[:, cand])
        z, hh = gates[:, :units], gates[:, cand]
        h = z * h_prev + (1 - z) * hh
        return h, preact, gates, h_reset

    def gru_reset_before_cell_backward(
        self,
        dh,
        h_prev,
        preact,
        gates,
        recurrent_kernel,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """Back through one ``gru_reset_before`` step.

        Returns ``(dpreact, dh_prev)``: the gradient of the pre-activations
        (also ``x_proj``'s) and all of ``h_prev``'s through this step.
        """
        xp = self.xp
        units = h_prev.shape[-1]
        zr, cand = slice(None, 2 * units), slice(2 * units, None)
        z, r, hh = (gates[:, k * units : (k + 1) * units] for k in range(3))
        dpreact = xp.empty_like(gates)
        dpreact[:, cand] = self._activation_backward(
            activation, dh * (1 - z), preact[:, cand], gates[:, cand]
        )
        dh_reset = self.matmul(dpreact[:, cand], recurrent_kernel[:, cand].T)
        h_candidate = h_prev if recurrent_mask is None else h_prev * recurrent_mask[2]
        dgates = xp.empty((dh.shape[0], 2 * units), dtype=gates.dtype)
        dgates[:, :units] = dh * (h_prev - hh)
        dgates[:, units:] = dh_reset * h_candidate
        dpreact[:, zr] = self._activation_backward(
            recurrent_activation, dgates, preact[:, zr], gates[:, zr]
        )
        dh_candidate = dh_reset * r
        if recurrent_mask is None:
            dh_zr = self.matmul(dpreact[:, zr], recurrent_kernel[:, zr].T)
        else:
            dh_candidate *= recurrent_mask[2]
            dh_zr = self._recurrent_input_grad(
                dpreact[:, zr], recurrent_kernel[:, zr], None, recurrent_mask[:2]
            )
        return dpreact, dh * z + dh_candidate + dh_zr

    # -- whole sequences ------------------------------------------------------

    def _sequence_states(self, x_proj, initial_states):
        """``(timesteps + 1, batch, units)`` arrays, each starting with its initial state."""
        timesteps = x_proj.shape[0]
        states = []
        for initial in initial_states:
            array = self.xp.empty((timesteps + 1, *initial.shape), dtype=x_proj.dtype)
            array[0] = initial
            states.append(array)
        return states

    def _writable_gradients(self, dtype, grad_outputs, *state_grads):
        """Contiguous ``grad_outputs`` and copies of the state gradients, which a fused
        backward kernel overwrites with the initial states' gradients."""
        xp = self.xp
        return (xp.ascontiguousarray(grad_outputs, dtype=dtype),) + tuple(
            xp.array(g, dtype=dtype, order="C") for g in state_grads
        )

    def _forward_steps(self, states, mask, step) -> None:
        """The time loop: ``state[t + 1]`` of each state sequence from ``step(t)``, its
        new states, except on masked rows, which carry ``state[t]`` forward."""
        xp = self.xp
        for t in range(states[0].shape[0] - 1):
            new_states = step(t)
            for sequence, new in zip(states, new_states):
                if mask is not None:
                    new = xp.where(mask[t][:, None], new, sequence[t])
                sequence[t + 1] = new

    def _backward_steps(self, grad_outputs, state_grads, mask, step) -> list:
        """BPTT's loop, last step first: add the step's output gradient to ``h``'s, then
        ``step(t, state_grads)`` returns the previous states' gradients; masked rows
        carry theirs over the step unchanged. Returns the initial states' gradients."""
        xp = self.xp
        for t in range(grad_outputs.shape[0] - 1, -1, -1):
            state_grads = [state_grads[0] + grad_outputs[t], *state_grads[1:]]
            if mask is None:
                state_grads = step(t, state_grads)
                continue
            keep = mask[t][:, None]
            ran, carried = zip(*[_split(xp, keep, grad) for grad in state_grads])
            state_grads = [grad + rest for grad, rest in zip(step(t, list(ran)), carried)]
        return state_grads

    def simple_rnn_sequence_forward(
        self, x_proj, recurrent_kernel, h0, mask=None, activation="tanh", recurrent_mask=None
    ):
        """Run ``h = activation(x_proj[t] + h @ recurrent_kernel)`` over all steps.

        ``x_proj`` (timesteps, batch, units); ``h0`` (batch, units). Returns
        ``(outputs, h, cache)``: ``outputs`` (timesteps, batch, units) the state
        after each step, ``h`` the final state.
        """
        (h_states,) = self._sequence_states(x_proj, [h0])
        preact = self.xp.empty_like(x_proj)

        def step(t):
            h_prev = h_states[t]
            if recurrent_mask is not None:
                h_prev = h_prev * recurrent_mask[0]
            h, preact[t] = self.simple_rnn_cell_forward(
                x_proj[t], h_prev, recurrent_kernel, activation
            )
            return (h,)

        self._forward_steps([h_states], mask, step)
        return h_states[1:], h_states[-1], (h_states, preact)

    def simple_rnn_sequence_backward(
        self,
        grad_outputs,
        dh,
        recurrent_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_mask=None,
    ):
        """Back through all steps of ``simple_rnn_sequence_forward``.

        ``grad_outputs`` (timesteps, batch, units) and ``dh`` (batch, units) are
        the gradients of the outputs and of the final state. Returns
        ``(dx_proj, d_recurrent_kernel, dh0)``.
        """
        h_states, preact = cache
        dx_proj = self.xp.empty_like(preact)
        kernel_t = recurrent_kernel.T

        def step(t, state_grads):
            dx_proj[t] = self.simple_rnn_cell_backward(
                state_grads[0], preact[t], h_states[t + 1], activation
            )
            return [
                self._recurrent_input_grad(dx_proj[t], recurrent_kernel, kernel_t, recurrent_mask)
            ]

        (dh,) = self._backward_steps(grad_outputs, [dh], mask, step)
        d_kernel = self._recurrent_kernel_grad(h_states, dx_proj, recurrent_mask)
        return dx_proj, d_kernel, dh

    def simple_rnn_sequence_backward_inputs(
        self,
        grad_outputs,
        dh,
        recurrent_kernel,
        input_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_mask=None,
    ):
        """``simple_rnn_sequence_backward``, and the inputs' gradient last (as
        ``lstm_sequence_backward_inputs``)."""
        grads = self.simple_rnn_sequence_backward(
            grad_outputs, dh, recurrent_kernel, cache, mask, activation, recurrent_mask
        )
        return (*grads, self._inputs_gradient(grads[0], input_kernel))

    def lstm_sequence_forward(
        self,
        x_proj,
        recurrent_kernel,
        h0,
        c0,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """Run ``lstm_cell_forward`` over all steps.

        ``x_proj`` (timesteps, batch, 4*units); ``h0``, ``c0`` (batch, units).
        Returns ``(outputs, h, c, cache)``: ``outputs`` (timesteps, batch, units)
        the ``h`` after each step, and the final ``h`` and ``c``.
        """
        h_states, c_states = self._sequence_states(x_proj, [h0, c0])
        preact, gates = self.xp.empty_like(x_proj), self.xp.empty_like(x_proj)

        def step(t):
            if recurrent_mask is None:
                h, c, preact[t], gates[t] = self.lstm_cell_forward(
                    x_proj[t], h_states[t], c_states[t], recurrent_kernel,
                    activation, recurrent_activation,
                )  # fmt: skip
            else:
                rec = self.gate_masked_matmul(h_states[t], recurrent_kernel, recurrent_mask)
                h, c, preact[t], gates[t] = self._lstm_gates(
                    x_proj[t] + rec, c_states[t], activation, recurrent_activation
                )
            return h, c

        self._forward_steps([h_states, c_states], mask, step)
        return h_states[1:], h_states[-1], c_states[-1], (h_states, c_states, preact, gates)

    def lstm_sequence_backward(
        self,
        grad_outputs,
        dh,
        dc,
        recurrent_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """Back through all steps of ``lstm_sequence_forward``.

        ``grad_outputs`` (timesteps, batch, units); ``dh``, ``dc`` the gradients
        of the final states. Returns ``(dx_proj, d_recurrent_kernel, dh0, dc0)``.
        """
        h_states, c_states, preact, gates = cache
        dx_proj = self.xp.empty_like(preact)
        kernel_t = recurrent_kernel.T

        def step(t, state_grads):
            dh, dc = state_grads
            dx_proj[t], dc = self.lstm_cell_backward(
                dh, dc, c_states[t], c_states[t + 1], preact[t], gates[t],
                activation, recurrent_activation,
            )  # fmt: skip
            dh = self._recurrent_input_grad(dx_proj[t], recurrent_kernel, kernel_t, recurrent_mask)
            return [dh, dc]

        dh, dc = self._backward_steps(grad_outputs, [dh, dc], mask, step)
        d_kernel = self._recurrent_kernel_grad(h_states, dx_proj, recurrent_mask)
        return dx_proj, d_kernel, dh, dc

    def lstm_sequence_backward_inputs(
        self,
        grad_outputs,
        dh,
        dc,
        recurrent_kernel,
        input_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """``lstm_sequence_backward``, and the gradient of the time-major inputs whose
        projection ``x_steps @ input_kernel`` the sequence took, last (``_inputs_gradient``)."""
        grads = self.lstm_sequence_backward(
            grad_outputs, dh, dc, recurrent_kernel, cache, mask, activation,
            recurrent_activation, recurrent_mask,
        )  # fmt: skip
        return (*grads, self._inputs_gradient(grads[0], input_kernel))

    def _inputs_gradient(self, dx_proj, input_kernel):
        """``dx_proj @ input_kernel.T`` over every step: the reference of the
        ``*_sequence_backward_inputs`` methods. Each is one method with its sequence's
        backward, so that a backend may compute this in its time loop, each step's gate
        gradients still in cache."""
        steps, batch, gates = dx_proj.shape
        dx_steps = self.matmul(dx_proj.reshape(steps * batch, gates), input_kernel.T)
        return dx_steps.reshape(steps, batch, -1)

    def gru_sequence_forward(
        self,
        x_proj,
        recurrent_kernel,
        recurrent_bias,
        h0,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """Run ``gru_cell_forward`` over all steps (``reset_after=True``).

        ``x_proj`` (timesteps, batch, 3*units) includes the input bias;
        ``recurrent_bias`` (3*units,) or None; ``h0`` (batch, units).
        Returns ``(outputs, h, cache)``.
        """
        xp = self.xp
        (h_states,) = self._sequence_states(x_proj, [h0])
        preact, gates = xp.empty_like(x_proj), xp.empty_like(x_proj)
        rec_h = xp.empty((x_proj.shape[0], *h0.shape), dtype=x_proj.dtype)

        def step(t):
            if recurrent_mask is None:
                h, preact[t], gates[t], rec_h[t] = self.gru_cell_forward(
                    x_proj[t], h_states[t], recurrent_kernel, recurrent_bias,
                    activation, recurrent_activation,
                )  # fmt: skip
            else:
                rec = self.gate_masked_matmul(h_states[t], recurrent_kernel, recurrent_mask)
                h, preact[t], gates[t], rec_h[t] = self._gru_gates(
                    x_proj[t], rec, recurrent_bias, h_states[t],
                    activation, recurrent_activation,
                )  # fmt: skip
            return (h,)

        self._forward_steps([h_states], mask, step)
        return h_states[1:], h_states[-1], (h_states, preact, gates, rec_h)

    def gru_sequence_backward(
        self,
        grad_outputs,
        dh,
        recurrent_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """Back through all steps of ``gru_sequence_forward``.

        Returns ``(dx_proj, d_recurrent_kernel, d_recurrent_bias, dh0)``;
        ``dx_proj`` is also the input bias's gradient per step.
        """
        h_states, preact, gates, rec_h = cache
        dx_proj, drec = self.xp.empty_like(preact), self.xp.empty_like(preact)
        kernel_t = recurrent_kernel.T

        def step(t, state_grads):
            dx_proj[t], drec[t], dh_direct = self.gru_cell_backward(
                state_grads[0], h_states[t], preact[t], gates[t], rec_h[t],
                activation, recurrent_activation,
            )  # fmt: skip
            dh = self._recurrent_input_grad(drec[t], recurrent_kernel, kernel_t, recurrent_mask)
            return [dh + dh_direct]

        (dh,) = self._backward_steps(grad_outputs, [dh], mask, step)
        d_bias = self.bias_backward(drec)
        d_kernel = self._recurrent_kernel_grad(h_states, drec, recurrent_mask)
        return dx_proj, d_kernel, d_bias, dh

    def gru_sequence_backward_inputs(
        self,
        grad_outputs,
        dh,
        recurrent_kernel,
        input_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """``gru_sequence_backward``, and the inputs' gradient last (as
        ``lstm_sequence_backward_inputs``)."""
        grads = self.gru_sequence_backward(
            grad_outputs, dh, recurrent_kernel, cache, mask, activation, recurrent_activation,
            recurrent_mask,
        )  # fmt: skip
        return (*grads, self._inputs_gradient(grads[0], input_kernel))

    def gru_reset_before_sequence_forward(
        self,
        x_proj,
        recurrent_kernel,
        h0,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """Run ``gru_reset_before_cell_forward`` over all steps (``reset_after=False``).

        ``x_proj`` (timesteps, batch, 3*units) includes the bias (Keras's
        ``reset_after=False`` GRU has only an input bias). Returns ``(outputs, h, cache)``.
        """
        xp = self.xp
        (h_states,) = self._sequence_states(x_proj, [h0])
        preact, gates = xp.empty_like(x_proj), xp.empty_like(x_proj)
        h_reset = xp.empty((x_proj.shape[0], *h0.shape), dtype=x_proj.dtype)

        def step(t):
            h, preact[t], gates[t], h_reset[t] = self.gru_reset_before_cell_forward(
                x_proj[t], h_states[t], recurrent_kernel, activation, recurrent_activation,
                recurrent_mask,
            )  # fmt: skip
            return (h,)

        self._forward_steps([h_states], mask, step)
        return h_states[1:], h_states[-1], (h_states, preact, gates, h_reset)

    def gru_reset_before_sequence_backward(
        self,
        grad_outputs,
        dh,
        recurrent_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """Back through all steps of ``gru_reset_before_sequence_forward``.

        Returns ``(dx_proj, d_recurrent_kernel, dh0)``.
        """
        xp = self.xp
        h_states, preact, gates, h_reset = cache
        dx_proj = xp.empty_like(preact)

        def step(t, state_grads):
            dx_proj[t], dh = self.gru_reset_before_cell_backward(
                state_grads[0], h_states[t], preact[t], gates[t], recurrent_kernel,
                activation, recurrent_activation, recurrent_mask,
            )  # fmt: skip
            return [dh]

        (dh,) = self._backward_steps(grad_outputs, [dh], mask, step)
        units = h_states.shape[-1]
        zr, cand = slice(None, 2 * units), slice(2 * units, None)
        mask_zr = None if recurrent_mask is None else recurrent_mask[:2]
        d_kernel = xp.empty_like(recurrent_kernel, dtype=dx_proj.dtype)
        d_kernel[:, zr] = self._recurrent_kernel_grad(h_states, dx_proj[..., zr], mask_zr)
        d_kernel[:, cand] = self.matmul(
            h_reset.reshape(-1, units).T, dx_proj[..., cand].reshape(-1, units)
        )
        return dx_proj, d_kernel, dh

    def gru_reset_before_sequence_backward_inputs(
        self,
        grad_outputs,
        dh,
        recurrent_kernel,
        input_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_mask=None,
    ):
        """``gru_reset_before_sequence_backward``, and the inputs' gradient last (as
        ``lstm_sequence_backward_inputs``)."""
        grads = self.gru_reset_before_sequence_backward(
            grad_outputs, dh, recurrent_kernel, cache, mask, activation, recurrent_activation,
            recurrent_mask,
        )  # fmt: skip
        return (*grads, self._inputs_gradient(grads[0], input_kernel))

    def _recurrent_kernel_grad(self, h_states, dpreact, recurrent_mask=None):
        """``sum_t h_prev[t].T @ dpreact[t]`` as one GEMM over all steps (per gate when masked)."""
        if recurrent_mask is not None:
            return self.gate_masked_matmul_backward(
                dpreact, h_states[:-1], None, recurrent_mask, needs_x=False
            )[1]
        units, n_gates = h_states.shape[-1], dpreact.shape[-1]
        h_prev = h_states[:-1].reshape(-1, units)
        return self.matmul(h_prev.T, dpreact.reshape(-1, n_gates))
