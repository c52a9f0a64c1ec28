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

``activation`` and ``recurrent_activation`` are activation kernel names
(``"tanh"``, ``"sigmoid"``, ``"relu"``, ..., or ``"linear"``). A fused
override (Numba, CUDA) may handle only some and call ``super()`` for the rest.
The gate layouts follow Keras 3: LSTM ``[i, f, c, o]``, GRU ``[z, r, h]``.
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
        xp = self.xp
        units = h_prev.shape[-1]
        preact = x_proj + xp.matmul(h_prev, recurrent_kernel)
        gates = xp.empty_like(preact)
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
        xp = self.xp
        units = h_prev.shape[-1]
        rec = xp.matmul(h_prev, recurrent_kernel)
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

    def simple_rnn_sequence_forward(
        self, x_proj, recurrent_kernel, h0, mask=None, activation="tanh"
    ):
        """Run ``h = activation(x_proj[t] + h @ recurrent_kernel)`` over all steps.

        ``x_proj`` (timesteps, batch, units); ``h0`` (batch, units). Returns
        ``(outputs, h, cache)``: ``outputs`` (timesteps, batch, units) the state
        after each step, ``h`` the final state.
        """
        xp = self.xp
        (h_states,) = self._sequence_states(x_proj, [h0])
        preact = xp.empty_like(x_proj)
        for t in range(x_proj.shape[0]):
            h, preact[t] = self.simple_rnn_cell_forward(
                x_proj[t], h_states[t], recurrent_kernel, activation
            )
            if mask is not None:
                h = xp.where(mask[t][:, None], h, h_states[t])
            h_states[t + 1] = h
        return h_states[1:], h_states[-1], (h_states, preact)

    def simple_rnn_sequence_backward(
        self, grad_outputs, dh, recurrent_kernel, cache, mask=None, activation="tanh"
    ):
        """Back through all steps of ``simple_rnn_sequence_forward``.

        ``grad_outputs`` (timesteps, batch, units) and ``dh`` (batch, units) are
        the gradients of the outputs and of the final state. Returns
        ``(dx_proj, d_recurrent_kernel, dh0)``.
        """
        xp = self.xp
        h_states, preact = cache
        dx_proj = xp.empty_like(preact)
        kernel_t = recurrent_kernel.T
        for t in range(preact.shape[0] - 1, -1, -1):
            dh = dh + grad_outputs[t]
            keep = None
            if mask is not None:
                keep = mask[t][:, None]
                dh, dh_carried = _split(xp, keep, dh)
            dx_proj[t] = self.simple_rnn_cell_backward(dh, preact[t], h_states[t + 1], activation)
            dh = self.matmul(dx_proj[t], kernel_t)
            if keep is not None:
                dh += dh_carried
        return dx_proj, self._recurrent_kernel_grad(h_states, dx_proj), dh

    def lstm_sequence_forward(
        self,
        x_proj,
        recurrent_kernel,
        h0,
        c0,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        """Run ``lstm_cell_forward`` over all steps.

        ``x_proj`` (timesteps, batch, 4*units); ``h0``, ``c0`` (batch, units).
        Returns ``(outputs, h, c, cache)``: ``outputs`` (timesteps, batch, units)
        the ``h`` after each step, and the final ``h`` and ``c``.
        """
        xp = self.xp
        h_states, c_states = self._sequence_states(x_proj, [h0, c0])
        preact, gates = xp.empty_like(x_proj), xp.empty_like(x_proj)
        for t in range(x_proj.shape[0]):
            h, c, preact[t], gates[t] = self.lstm_cell_forward(
                x_proj[t], h_states[t], c_states[t], recurrent_kernel,
                activation, recurrent_activation,
            )  # fmt: skip
            if mask is not None:
                keep = mask[t][:, None]
                h = xp.where(keep, h, h_states[t])
                c = xp.where(keep, c, c_states[t])
            h_states[t + 1], c_states[t + 1] = h, c
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
    ):
        """Back through all steps of ``lstm_sequence_forward``.

        ``grad_outputs`` (timesteps, batch, units); ``dh``, ``dc`` the gradients
        of the final states. Returns ``(dx_proj, d_recurrent_kernel, dh0, dc0)``.
        """
        xp = self.xp
        h_states, c_states, preact, gates = cache
        dx_proj = xp.empty_like(preact)
        kernel_t = recurrent_kernel.T
        for t in range(preact.shape[0] - 1, -1, -1):
            dh = dh + grad_outputs[t]
            keep = None
            if mask is not None:
                keep = mask[t][:, None]
                dh, dh_carried = _split(xp, keep, dh)
                dc, dc_carried = _split(xp, keep, dc)
            dx_proj[t], dc = self.lstm_cell_backward(
                dh, dc, c_states[t], c_states[t + 1], preact[t], gates[t],
                activation, recurrent_activation,
            )  # fmt: skip
            dh = self.matmul(dx_proj[t], kernel_t)
            if keep is not None:
                dh += dh_carried
                dc += dc_carried
        return dx_proj, self._recurrent_kernel_grad(h_states, dx_proj), dh, dc

    def gru_sequence_forward(
        self,
        x_proj,
        recurrent_kernel,
        recurrent_bias,
        h0,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
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
        for t in range(x_proj.shape[0]):
            h, preact[t], gates[t], rec_h[t] = self.gru_cell_forward(
                x_proj[t], h_states[t], recurrent_kernel, recurrent_bias,
                activation, recurrent_activation,
            )  # fmt: skip
            if mask is not None:
                h = xp.where(mask[t][:, None], h, h_states[t])
            h_states[t + 1] = h
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
    ):
        """Back through all steps of ``gru_sequence_forward``.

        Returns ``(dx_proj, d_recurrent_kernel, d_recurrent_bias, dh0)``;
        ``dx_proj`` is also the input bias's gradient per step.
        """
        xp = self.xp
        h_states, preact, gates, rec_h = cache
        dx_proj = xp.empty_like(preact)
        drec = xp.empty_like(preact)
        kernel_t = recurrent_kernel.T
        for t in range(preact.shape[0] - 1, -1, -1):
            dh = dh + grad_outputs[t]
            keep = None
            if mask is not None:
                keep = mask[t][:, None]
                dh, dh_carried = _split(xp, keep, dh)
            dx_proj[t], drec[t], dh_direct = self.gru_cell_backward(
                dh, h_states[t], preact[t], gates[t], rec_h[t], activation, recurrent_activation
            )
            dh = self.matmul(drec[t], kernel_t) + dh_direct
            if keep is not None:
                dh += dh_carried
        n_gates = drec.shape[-1]
        d_bias = drec.reshape(-1, n_gates).sum(axis=0)
        return dx_proj, self._recurrent_kernel_grad(h_states, drec), d_bias, dh

    def _recurrent_kernel_grad(self, h_states, dpreact):
        """``sum_t h_prev[t].T @ dpreact[t]`` as one GEMM over all steps."""
        units, n_gates = h_states.shape[-1], dpreact.shape[-1]
        h_prev = h_states[:-1].reshape(-1, units)
        return self.matmul(h_prev.T, dpreact.reshape(-1, n_gates))
