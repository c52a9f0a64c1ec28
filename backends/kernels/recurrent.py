"""Recurrent cell kernels: one time step of SimpleRNN, LSTM and GRU, forward and backward.

A sequence op projects every step's input with one GEMM up front
(``x_proj = x @ kernel + bias``, shape ``(batch, timesteps, n_gates * units)``)
and then calls a cell kernel once per step with that step's slice. The cell
forward does the recurrent GEMM and the gate arithmetic, and returns what its
backward needs; the cell backward turns the gradients of the new state into
gradients of the gates' pre-activations (and of the previous cell state).
The weight gradients are then a few GEMMs over all steps at once, outside the
kernels. The gate layouts follow Keras 3: LSTM ``[i, f, c, o]``, GRU
``[z, r, h]``.

``activation`` and ``recurrent_activation`` are activation kernel names
(``"tanh"``, ``"sigmoid"``, ``"relu"``, ..., or ``"linear"``). A fused
override (Numba, CUDA) may handle only the default pair and call ``super()``
for the rest.
"""

import numpy


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
