"""The numba backend's recurrent overrides: whole-sequence LSTM, GRU and SimpleRNN.

A mixin of ``NumbaBackend``: each sequence kernel runs the whole time loop in
one jitted call (each backward with the inputs' gradient, step by step, where the
layer asks for it: ``*_sequence_backward_inputs``). Anything the kernels do
not cover (other activations or dtypes, recurrent dropout masks) goes to the NumPy
reference through ``super()``; so does GRU's ``reset_after=False`` variant, which has
no override. Input dropout, initial states and ``go_backwards`` happen outside
these kernels, so they keep the fused path.
"""

import numpy

from . import numba_compile_ahead, numba_native, thread_pool
from .numba_dispatch import _jit_dtype


class RecurrentOverrides:
    """Needs the ``self._recurrent`` kernel module."""

    # The sequence kernels run the whole time loop in one jitted call. Their
    # cache holds no pre-activations (None in its place): the fused backward
    # takes every derivative from the activations' outputs, and recognises its
    # own forward's cache by that None.

    def _activation_codes(self, *names):
        codes = [self._recurrent.ACTIVATION_CODES.get(name) for name in names]
        return None if None in codes else codes

    @staticmethod
    def _step_mask(mask, x_proj):
        """The mask as the kernels take it (``(0, 0)`` for none), or None to fall back."""
        if mask is None:
            return numpy.zeros((0, 0), dtype=bool)
        if type(mask) is not numpy.ndarray or mask.shape != x_proj.shape[:2]:
            return None
        return numpy.ascontiguousarray(mask, dtype=bool)

    def _sequence_inputs(self, x_proj, recurrent_kernel, states, mask, names):
        """``(codes, mask)`` for the fused kernels, or None where they do not apply."""
        codes = self._activation_codes(*names)
        if codes is None or _jit_dtype(x_proj, recurrent_kernel, *states) is None:
            return None
        if x_proj.ndim != 3 or x_proj.shape[0] == 0:
            return None
        step_mask = self._step_mask(mask, x_proj)
        return None if step_mask is None else (codes, step_mask)

    def _run_rows(self, kernel, *args, batch):
        """Run a sequence kernel over all batch rows, split between threads: rows are
        independent through time. Blocks start on multiples of 8 rows
        (``ROW_ALIGN``), so that BLAS's row tiles of the per-step products fall alike
        whatever the number of threads.

        The blocks run as native jobs where they can (``numba_native``: no Python and no
        GIL in the hand-off), else on the kernel pool (``thread_pool.run_blocks``)."""
        thread_pool.pin_scipy_blas()  # the kernels' ``numpy.dot``
        numba_compile_ahead.wait(kernel)  # a backward compiled ahead: loaded from the cache
        align = self._recurrent.ROW_ALIGN
        numba_native.run_packed(self._recurrent, kernel.__name__, args, batch, align, align)

    @staticmethod
    def _state_sequence(x_proj, initial):
        states = numpy.empty((x_proj.shape[0] + 1, *initial.shape), dtype=x_proj.dtype)
        states[0] = initial
        return states

    @staticmethod
    def _inputs_gradient_buffers(dx_proj, input_kernel):
        """``(input_kernel_t, dx_steps)`` for a backward kernel: the input kernel transposed
        and the inputs' gradient it fills step by step, of ``dx_proj``'s steps and rows;
        empty arrays where ``input_kernel`` is None (the kernel then skips it)."""
        steps, batch, gates = dx_proj.shape
        if input_kernel is None:
            return numpy.empty((gates, 0), dx_proj.dtype), numpy.empty((0, 0, 0), dx_proj.dtype)
        input_kernel_t = numpy.ascontiguousarray(input_kernel.T, dtype=dx_proj.dtype)
        return input_kernel_t, numpy.empty((steps, batch, input_kernel_t.shape[1]), dx_proj.dtype)

    def simple_rnn_sequence_forward(
        self, x_proj, recurrent_kernel, h0, mask=None, activation="tanh", recurrent_mask=None
    ):
        fused = self._sequence_inputs(x_proj, recurrent_kernel, [h0], mask, [activation])
        if fused is None or recurrent_mask is not None:
            return super().simple_rnn_sequence_forward(
                x_proj, recurrent_kernel, h0, mask, activation, recurrent_mask
            )
        (code,), step_mask = fused
        h_states = self._state_sequence(x_proj, h0)
        x_proj, kernel = numpy.ascontiguousarray(x_proj), numpy.ascontiguousarray(recurrent_kernel)
        like_backward = (x_proj, h_states[0], kernel, step_mask, code, h_states, x_proj)
        like_backward += (kernel, x_proj, 0, 0)
        numba_compile_ahead.start(  # the backward's arguments are of these types
            self._recurrent.simple_rnn_backward, lambda: like_backward
        )
        self._run_rows(
            self._recurrent.simple_rnn_forward,
            x_proj,
            kernel,
            step_mask,
            code,
            h_states,
            batch=x_proj.shape[1],
        )
        return h_states[1:], h_states[-1], (h_states, None)

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
        if cache[1] is not None:
            return super().simple_rnn_sequence_backward(
                grad_outputs, dh, recurrent_kernel, cache, mask, activation, recurrent_mask
            )
        return self._simple_rnn_backward(grad_outputs, dh, recurrent_kernel, cache, mask,
                                         activation)[:-1]  # fmt: skip

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
        if cache[1] is not None or _jit_dtype(cache[0], input_kernel) is None:
            return super().simple_rnn_sequence_backward_inputs(
                grad_outputs, dh, recurrent_kernel, input_kernel, cache, mask, activation,
                recurrent_mask,
            )  # fmt: skip
        return self._simple_rnn_backward(
            grad_outputs, dh, recurrent_kernel, cache, mask, activation, input_kernel
        )

    def _simple_rnn_backward(
        self, grad_outputs, dh, recurrent_kernel, cache, mask, activation, input_kernel=None
    ):
        """The fused backward: ``(dx_proj, d_recurrent_kernel, dh0, dx_steps)``, the last
        None unless ``input_kernel`` is given."""
        h_states = cache[0]
        grad_outputs, dh = self._writable_gradients(h_states.dtype, grad_outputs, dh)
        dx_proj = numpy.empty(grad_outputs.shape, h_states.dtype)
        inputs = self._inputs_gradient_buffers(dx_proj, input_kernel)
        self._run_rows(
            self._recurrent.simple_rnn_backward,
            grad_outputs,
            dh,
            numpy.ascontiguousarray(recurrent_kernel.T, dtype=h_states.dtype),
            self._step_mask(mask, grad_outputs),
            self._activation_codes(activation)[0],
            h_states,
            dx_proj,
            *inputs,
            batch=dh.shape[0],
        )
        dx_steps = None if input_kernel is None else inputs[1]
        return dx_proj, self._recurrent_kernel_grad(h_states, dx_proj), dh, dx_steps

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
        names = [activation, recurrent_activation]
        fused = self._sequence_inputs(x_proj, recurrent_kernel, [h0, c0], mask, names)
        if fused is None or recurrent_mask is not None:
            return super().lstm_sequence_forward(
                x_proj, recurrent_kernel, h0, c0, mask, activation, recurrent_activation,
                recurrent_mask,
            )  # fmt: skip
        codes, step_mask = fused
        h_states = self._state_sequence(x_proj, h0)
        c_states = self._state_sequence(x_proj, c0)
        gates = x_proj = numpy.ascontiguousarray(x_proj)  # consumed: the gates overwrite it
        kernel = numpy.ascontiguousarray(recurrent_kernel)
        state = h_states[0]  # the backward's arguments are of these types
        like_backward = (h_states, state, state, kernel, step_mask, *codes)
        like_backward += (c_states, gates, gates, kernel, gates, 0, 0)
        numba_compile_ahead.start(self._recurrent.lstm_backward, lambda: like_backward)
        self._run_rows(
            self._recurrent.lstm_forward,
            x_proj,
            kernel,
            step_mask,
            *codes,
            h_states,
            c_states,
            gates,
            batch=x_proj.shape[1],
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
        if cache[2] is not None:
            return super().lstm_sequence_backward(
                grad_outputs, dh, dc, recurrent_kernel, cache, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        names = (activation, recurrent_activation)
        return self._lstm_backward(grad_outputs, dh, dc, recurrent_kernel, cache, mask, names)[:-1]

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
        if cache[2] is not None or _jit_dtype(cache[3], input_kernel) is None:
            return super().lstm_sequence_backward_inputs(
                grad_outputs, dh, dc, recurrent_kernel, input_kernel, cache, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        names = (activation, recurrent_activation)
        return self._lstm_backward(
            grad_outputs, dh, dc, recurrent_kernel, cache, mask, names, input_kernel
        )

    def _lstm_backward(
        self, grad_outputs, dh, dc, recurrent_kernel, cache, mask, names, input_kernel=None
    ):
        """The fused backward: ``(dx_proj, d_recurrent_kernel, dh0, dc0, dx_steps)``, the
        last None unless ``input_kernel`` is given."""
        h_states, c_states, _, gates = cache
        grad_outputs, dh, dc = self._writable_gradients(gates.dtype, grad_outputs, dh, dc)
        dx_proj = gates  # the cache is consumed: the gradients overwrite the gates
        inputs = self._inputs_gradient_buffers(dx_proj, input_kernel)
        self._run_rows(
            self._recurrent.lstm_backward,
            grad_outputs,
            dh,
            dc,
            numpy.ascontiguousarray(recurrent_kernel.T, dtype=gates.dtype),
            self._step_mask(mask, grad_outputs),
            *self._activation_codes(*names),
            c_states,
            gates,
            dx_proj,
            *inputs,
            batch=dh.shape[0],
        )
        dx_steps = None if input_kernel is None else inputs[1]
        return dx_proj, self._recurrent_kernel_grad(h_states, dx_proj), dh, dc, dx_steps

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
        names = [activation, recurrent_activation]
        arrays = [h0] if recurrent_bias is None else [h0, recurrent_bias]
        fused = self._sequence_inputs(x_proj, recurrent_kernel, arrays, mask, names)
        if fused is None or recurrent_mask is not None:
            return super().gru_sequence_forward(
                x_proj, recurrent_kernel, recurrent_bias, h0, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        codes, step_mask = fused
        if recurrent_bias is None:
            recurrent_bias = numpy.zeros(x_proj.shape[2], x_proj.dtype)
        h_states = self._state_sequence(x_proj, h0)
        gates = x_proj = numpy.ascontiguousarray(x_proj)  # consumed: the gates overwrite it
        rec_h = numpy.empty((x_proj.shape[0], *h0.shape), x_proj.dtype)
        kernel = numpy.ascontiguousarray(recurrent_kernel)
        like_backward = (rec_h, h_states[0], kernel, step_mask, *codes, h_states, gates, rec_h)
        numba_compile_ahead.start(  # the backward's arguments are of these types
            self._recurrent.gru_backward,
            lambda: (*like_backward, gates, gates, kernel, gates, 0, 0),
        )
        self._run_rows(
            self._recurrent.gru_forward,
            x_proj,
            kernel,
            numpy.ascontiguousarray(recurrent_bias),
            step_mask,
            *codes,
            h_states,
            gates,
            rec_h,
            batch=x_proj.shape[1],
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
        if cache[1] is not None:
            return super().gru_sequence_backward(
                grad_outputs, dh, recurrent_kernel, cache, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        names = (activation, recurrent_activation)
        return self._gru_backward(grad_outputs, dh, recurrent_kernel, cache, mask, names)[:-1]

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
        if cache[1] is not None or _jit_dtype(cache[2], input_kernel) is None:
            return super().gru_sequence_backward_inputs(
                grad_outputs, dh, recurrent_kernel, input_kernel, cache, mask, activation,
                recurrent_activation, recurrent_mask,
            )  # fmt: skip
        names = (activation, recurrent_activation)
        return self._gru_backward(
            grad_outputs, dh, recurrent_kernel, cache, mask, names, input_kernel
        )

    def _gru_backward(
        self, grad_outputs, dh, recurrent_kernel, cache, mask, names, input_kernel=None
    ):
        """The fused backward: ``(dx_proj, d_recurrent_kernel, d_recurrent_bias, dh0,
        dx_steps)``, the last None unless ``input_kernel`` is given."""
        h_states, _, gates, rec_h = cache
        grad_outputs, dh = self._writable_gradients(gates.dtype, grad_outputs, dh)
        dx_proj, drec = gates, numpy.empty_like(gates)  # the cache is consumed
        inputs = self._inputs_gradient_buffers(dx_proj, input_kernel)
        self._run_rows(
            self._recurrent.gru_backward,
            grad_outputs,
            dh,
            numpy.ascontiguousarray(recurrent_kernel.T, dtype=gates.dtype),
            self._step_mask(mask, grad_outputs),
            *self._activation_codes(*names),
            h_states,
            gates,
            rec_h,
            dx_proj,
            drec,
            *inputs,
            batch=dh.shape[0],
        )
        d_bias = self.bias_backward(drec)
        dx_steps = None if input_kernel is None else inputs[1]
        return dx_proj, self._recurrent_kernel_grad(h_states, drec), d_bias, dh, dx_steps
