"""The cupy backend's whole-sequence LSTM and GRU: ``cuda_kernels/recurrent.py``.

A mixin of ``CupyBackend``. The generic sequence kernels loop over time in
Python: per step a cuBLAS product, a handful of elementwise kernels and, in
the backward, another product, so ~100 launches for a 50-step LSTM, each
costing host time that the GPU waits for. These run the loop on the device:
one launch for the forward, one for the backward, plus one GEMM for the
recurrent kernel's gradient over all steps.

They cover Keras's default activations (tanh, sigmoid) on float32 and float64
and GRU's ``reset_after=True``; other activations, recurrent dropout masks and
other dtypes go to the generic kernels through ``super()``. As on the numba
backend, the forward's cache holds None in place of the pre-activations (the
backward takes every derivative from the activations' outputs), and the
backward recognises its own forward's cache by it. Both directions consume
their big inputs as the interface allows: the gates overwrite ``x_proj``,
the gradients overwrite the gates.
"""


class CudaRecurrentOverrides:
    """Needs ``self.xp``, ``self._launch_rows``, ``self._floats`` and ``self.fused_sequences``
    from ``CupyBackend``."""

    def _fused_sequence(self, x_proj, recurrent_kernel, states, mask, activations, dropout):
        """``(mask, masked)`` as the kernels take them, or None to fall back."""
        if not self.fused_sequences:
            return None
        if tuple(activations) != ("tanh", "sigmoid") or dropout is not None:
            return None
        if not self._floats(x_proj, recurrent_kernel, *states) or x_proj.ndim != 3:
            return None
        if 0 in x_proj.shape:
            return None
        if mask is not None and mask.shape != x_proj.shape[:2]:
            return None
        return self._step_mask_of(mask)

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
        activations = (activation, recurrent_activation)
        step_mask = self._fused_sequence(
            x_proj, recurrent_kernel, (h0, c0), mask, activations, recurrent_mask
        )
        if step_mask is None:
            return super().lstm_sequence_forward(
                x_proj, recurrent_kernel, h0, c0, mask, activation, recurrent_activation,
                recurrent_mask,
            )  # fmt: skip
        xp = self.xp
        h_states, c_states = self._sequence_states(x_proj, [h0, c0])
        gates = xp.ascontiguousarray(x_proj)  # consumed: the gates overwrite it
        kernel = xp.ascontiguousarray(recurrent_kernel)
        self._launch_rows(
            self._recurrent.lstm_sequence_forward,
            x_proj.shape[1],
            x_proj.shape[2],
            kernel,
            *step_mask,
            h_states,
            c_states,
            gates,
        )
        return h_states[1:], h_states[-1], c_states[-1], (h_states, c_states, None, gates)

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
        h_states, c_states, preact, gates = cache
        if preact is not None:
            return super().lstm_sequence_backward(
                grad_outputs, dh, dc, recurrent_kernel, cache, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        grad_outputs, dh, dc = self._writable_gradients(gates.dtype, grad_outputs, dh, dc)
        kernel_t = self.xp.ascontiguousarray(recurrent_kernel.T, dtype=gates.dtype)
        dx_proj = gates  # the cache is consumed: the gradients overwrite the gates
        self._launch_rows(
            self._recurrent.lstm_sequence_backward,
            dh.shape[0],
            dh.shape[1],
            grad_outputs,
            dh,
            dc,
            kernel_t,
            *self._step_mask_of(mask),
            c_states,
            gates,
            dx_proj,
        )
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
        recurrent_mask=None,
    ):
        activations = (activation, recurrent_activation)
        states = (h0,) if recurrent_bias is None else (h0, recurrent_bias)
        step_mask = self._fused_sequence(
            x_proj, recurrent_kernel, states, mask, activations, recurrent_mask
        )
        if recurrent_bias is not None and recurrent_bias.shape != x_proj.shape[2:]:
            step_mask = None
        if step_mask is None:
            return super().gru_sequence_forward(
                x_proj, recurrent_kernel, recurrent_bias, h0, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        xp = self.xp
        (h_states,) = self._sequence_states(x_proj, [h0])
        gates = xp.ascontiguousarray(x_proj)  # consumed: the gates overwrite it
        rec_h = xp.empty_like(h_states[1:])
        biased = recurrent_bias is not None
        bias = recurrent_bias if biased else xp.zeros(1, x_proj.dtype)
        self._launch_rows(
            self._recurrent.gru_sequence_forward,
            x_proj.shape[1],
            x_proj.shape[2],
            xp.ascontiguousarray(recurrent_kernel),
            xp.ascontiguousarray(bias),
            biased,
            *step_mask,
            h_states,
            gates,
            rec_h,
        )
        return h_states[1:], h_states[-1], (h_states, None, gates, rec_h)

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
        h_states, preact, gates, rec_h = cache
        if preact is not None:
            return super().gru_sequence_backward(
                grad_outputs, dh, recurrent_kernel, cache, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        xp = self.xp
        grad_outputs, dh = self._writable_gradients(gates.dtype, grad_outputs, dh)
        kernel_t = xp.ascontiguousarray(recurrent_kernel.T, dtype=gates.dtype)
        dx_proj, drec = gates, xp.empty_like(gates)  # the gradients overwrite the gates
        self._launch_rows(
            self._recurrent.gru_sequence_backward,
            dh.shape[0],
            dh.shape[1],
            grad_outputs,
            dh,
            kernel_t,
            *self._step_mask_of(mask),
            h_states,
            gates,
            rec_h,
            dx_proj,
            drec,
        )
        d_bias = self.bias_backward(drec)
        return dx_proj, self._recurrent_kernel_grad(h_states, drec), d_bias, dh

    def _step_mask_of(self, mask):
        """``(mask, masked)`` for the kernels: a ``(1, 1)`` placeholder when there is none
        (no zero-size array reaches a launch)."""
        if mask is None:
            return self.xp.ones((1, 1), dtype=bool), False
        return self.xp.ascontiguousarray(mask, dtype=bool), True
