"""Whole-sequence SimpleRNN, LSTM and GRU (``reset_after=True``): the time loop in one kernel.

Each kernel runs every step of a sequence for the batch rows ``[start, stop)``:
the recurrent GEMM of the step, the gate activations and the state update,
forward; and the gate derivatives and the GEMM back to the previous state,
backward. Batch rows are independent through time, so callers may split the
rows between threads. Arrays are C-contiguous and time-major as in the
reference kernels (``backends/kernels/recurrent.py``); ``mask`` is a boolean
``(timesteps, batch)`` array, or ``(0, 0)``-shaped for no mask. ``gates`` may
be ``x_proj`` itself, and the backward's ``dx_proj`` may be ``gates``: every
row is read before it is written (through row scratch), which spares W4 two
3 MB arrays a step (measured: ~9% less CPU time a training step). Each backward
can also make the inputs' gradient, one product a step on the step's gate
gradients while they are in cache, instead of one GEMM over all of them
afterwards (``*_sequence_backward_inputs``; medians, same process, alternating:
W4's step 4.80 against 5.09 ms, the same model with a GRU 4.07 against 4.37).

What decides the speed here, measured on x86-64 (AVX-512 and AVX2, no SVML):

- Numba calls libm for ``math.exp``/``math.tanh`` one element at a time
  (~20 ns for a sigmoid and a tanh), so the gates would cost more than the
  GEMMs. ``vector_math``'s ``sigmoid`` and ``tanh`` use its ``exp_parts``, an
  exponential written as plain arithmetic that LLVM vectorizes (~0.5 ns an
  element, within 2-3 ulp).
- The per-step GEMMs are small (64x64 by 64x256 in W4). They are
  ``numpy.dot`` on the block's rows, which Numba compiles to a call of SciPy's
  BLAS (single-threaded: pinned with the process's other BLAS libraries, see
  ``thread_pool.pin_scipy_blas``, or its threads fight the pool's). On a Xeon
  (AVX-512), one thread, 32 rows: 6.5 us a forward product against 12.5 for the
  4x4-blocked loop this module had (161 against 84 GFLOP/s), 7.7 against 13.5 for
  a backward one; W4's step
  5.0-5.5 ms against 5.4-5.6 (alternating processes). The backward's product
  takes the kernel transposed and C-contiguous (``kernel_t``), not ``kernel.T``:
  OpenBLAS repacks a transposed operand at every call (W4's 50 backward products
  of 32 rows: 353-356 us against 684-685, the same bits).
- The exponential's polynomial allows fused multiply-adds
  (``fastmath={"contract"}``; no flag that changes how NaN and inf behave): on
  AVX2 the gate activations ran 1.45x faster (W4's shapes, float32).

What decides the compile time (a cold cache compiles every kernel a model
uses): Numba compiles each jitted function a kernel calls as a module of its
own, and then optimizes and generates machine code for it again inside every
module that calls it, so a deep tree of small helpers costs several times its
size. Here the helpers are few and one level deep (``_helper``: without the
Python and C entry points that only calls from outside compiled code use),
and each takes one signature per dtype. Measured (CPU seconds, empty cache,
six alternating runs on a busy machine): W4's float32 ``lstm_forward`` and
``lstm_backward`` with all they call 9.0-10.8 with a helper tree three deep,
4.2-6.8 with one level; W4's whole cold first step (Xeon, two alternating runs)
2.23-2.28 with the blocked GEMM loops this module had, 1.89-1.98 with
``numpy.dot``.

Inner loops index 1-D views (a gate's slice of a row) with the bare loop
variable of a ``range(n)``: an index such as ``offset + j`` keeps Numba's
negative-index wraparound, and ``range(start, stop)`` an unsigned trip count,
and either stops LLVM from vectorizing the loop (measured: 5-10x slower).
Activations are chosen by code (``ACTIVATION_CODES``); their derivatives are
taken from their outputs, so the pre-activations are never stored.
"""

import numba
import numpy
from numba.extending import register_jitable

from .native_jobs import (
    HEADER_WORDS,
    block,
    job_cube,
    job_matrix,
    job_vector,
    packed_record,
    packed_split,
)
from .vector_math import like, sigmoid, tanh

LINEAR, TANH, SIGMOID, RELU = 0, 1, 2, 3
ACTIVATION_CODES = {"linear": LINEAR, "tanh": TANH, "sigmoid": SIGMOID, "relu": RELU}


def _helper(**options):
    """``numba.njit`` for functions only the kernels call: they link in its code, so it
    needs neither a Python nor a C entry point (each would be compiled and cached)."""
    return numba.njit(
        cache=True, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True, **options
    )


def _kernel(function):
    """``numba.njit`` for the kernels: called from Python, never through a C pointer."""
    return numba.njit(cache=True, error_model="numpy", nogil=True, no_cfunc_wrapper=True)(function)


@_helper(fastmath={"contract"})
def _activate(source, out, kind):
    """``out = activation(source)`` on 1-D views of one length."""
    if kind == TANH:
        for j in range(out.size):
            out[j] = tanh(source[j])
    elif kind == SIGMOID:
        for j in range(out.size):
            out[j] = sigmoid(source[j])
    elif kind == RELU:
        zero = like(out, 0.0)
        for j in range(out.size):
            out[j] = zero if source[j] < zero else source[j]  # NaN stays NaN
    else:
        _copy(source, out)


@_helper()
def _copy(source, out):
    for j in range(out.size):
        out[j] = source[j]


@_helper()
def _add(source, out):
    """``out += source`` on 1-D views of one length."""
    for j in range(out.size):
        out[j] += source[j]


@_helper()
def _times_derivative(d, y, kind):
    """``d *= activation'`` on 1-D views, from the activation's output ``y``."""
    one = like(d, 1.0)
    if kind == TANH:
        for j in range(d.size):
            d[j] *= one - y[j] * y[j]
    elif kind == SIGMOID:
        for j in range(d.size):
            d[j] *= y[j] * (one - y[j])
    elif kind == RELU:
        for j in range(d.size):
            if not y[j] > 0:
                d[j] = 0


# -- SimpleRNN ---------------------------------------------------------------------


@_kernel
def simple_rnn_forward(x_proj, kernel, mask, activation, h_states, start, stop):
    """Fill ``h_states[1:]`` (``h_states[0]`` holds h0) for rows ``[start, stop)``."""
    masked = mask.shape[0] > 0
    preact = numpy.empty(x_proj.shape[1:], x_proj.dtype)
    for t in range(x_proj.shape[0]):
        numpy.dot(h_states[t, start:stop], kernel, preact[start:stop])
        for b in range(start, stop):
            if masked and not mask[t, b]:
                _copy(h_states[t, b], h_states[t + 1, b])
            else:
                row = preact[b]
                _add(x_proj[t, b], row)
                _activate(row, h_states[t + 1, b], activation)


@_kernel
def simple_rnn_backward(
    grad_outputs, dh, kernel_t, mask, activation, h_states, dx_proj, input_kernel_t, dx_steps,
    start, stop,
):  # fmt: skip
    """BPTT for rows ``[start, stop)``: fills ``dx_proj``; ``dh`` ends as the gradient of h0.

    ``dh`` (batch, units) holds the final state's gradient on entry;
    ``kernel_t`` is the recurrent kernel transposed. ``dx_steps``: as ``lstm_backward``'s.
    """
    masked = mask.shape[0] > 0
    with_inputs = dx_steps.size > 0
    dh_next = numpy.empty(dh.shape, dh.dtype)
    for t in range(grad_outputs.shape[0] - 1, -1, -1):
        for b in range(start, stop):
            d, grad_row, dp = dh[b], grad_outputs[t, b], dx_proj[t, b]
            for j in range(d.size):
                d[j] += grad_row[j]
            if masked and not mask[t, b]:
                for j in range(dp.size):
                    dp[j] = 0
            else:
                for j in range(dp.size):
                    dp[j] = d[j]
                _times_derivative(dp, h_states[t + 1, b], activation)
        numpy.dot(dx_proj[t, start:stop], kernel_t, dh_next[start:stop])
        if with_inputs:
            numpy.dot(dx_proj[t, start:stop], input_kernel_t, dx_steps[t, start:stop])
        for b in range(start, stop):
            if masked and not mask[t, b]:
                continue  # dh carries over the skipped step unchanged
            d, d_next = dh[b], dh_next[b]
            for j in range(d.size):
                d[j] = d_next[j]


# -- LSTM --------------------------------------------------------------------------


@_kernel
def lstm_forward(
    x_proj, kernel, mask, activation, recurrent_activation, h_states, c_states, gates, start, stop
):
    """Fill ``h_states[1:]``, ``c_states[1:]`` and the activated ``gates``; rows [start, stop)."""
    masked = mask.shape[0] > 0
    units = h_states.shape[2]
    preact = numpy.empty(x_proj.shape[1:], x_proj.dtype)
    for t in range(x_proj.shape[0]):
        numpy.dot(h_states[t, start:stop], kernel, preact[start:stop])
        for b in range(start, stop):
            c_old, c_new = c_states[t, b], c_states[t + 1, b]
            h_new = h_states[t + 1, b]
            if masked and not mask[t, b]:
                _copy(c_old, c_new)
                _copy(h_states[t, b], h_new)
                continue
            g, p = gates[t, b], preact[b]
            _add(x_proj[t, b], p)  # read before ``gates`` (maybe ``x_proj``) is written
            i, f = g[:units], g[units : 2 * units]
            cand, o = g[2 * units : 3 * units], g[3 * units :]
            _activate(p[: 2 * units], g[: 2 * units], recurrent_activation)
            _activate(p[2 * units : 3 * units], cand, activation)
            _activate(p[3 * units :], o, recurrent_activation)
            for j in range(units):
                c_new[j] = f[j] * c_old[j] + i[j] * cand[j]
            _activate(c_new, h_new, activation)
            for j in range(units):
                h_new[j] *= o[j]


@_kernel
def lstm_backward(
    grad_outputs,
    dh,
    dc,
    kernel_t,
    mask,
    activation,
    recurrent_activation,
    c_states,
    gates,
    dx_proj,
    input_kernel_t,
    dx_steps,
    start,
    stop,
):
    """BPTT for rows [start, stop): fills ``dx_proj``; ``dh``, ``dc`` end as h0's, c0's gradients.

    ``dh``, ``dc`` hold the final states' gradients on entry; ``kernel_t`` is the
    recurrent kernel transposed, C-contiguous. Unless ``dx_steps`` is empty, each step
    also fills its rows of ``dx_steps``, the inputs' gradient ``dx_proj @ input_kernel_t``,
    while the step's gate gradients are in cache.
    """
    masked = mask.shape[0] > 0
    with_inputs = dx_steps.size > 0
    units = dh.shape[1]
    dh_next = numpy.empty(dh.shape, dh.dtype)
    c_act = numpy.empty(units, dh.dtype)
    dc_act = numpy.empty(units, dh.dtype)
    d_row = numpy.empty(4 * units, dh.dtype)  # copied out last: dx_proj may be ``gates``
    d_i, d_f = d_row[:units], d_row[units : 2 * units]
    d_cand, d_o = d_row[2 * units : 3 * units], d_row[3 * units :]
    for t in range(grad_outputs.shape[0] - 1, -1, -1):
        for b in range(start, stop):
            d_h, d_c, dp = dh[b], dc[b], dx_proj[t, b]
            grad_row = grad_outputs[t, b]
            for j in range(units):
                d_h[j] += grad_row[j]
            if masked and not mask[t, b]:
                for j in range(dp.size):
                    dp[j] = 0
                continue
            g, c_old = gates[t, b], c_states[t, b]
            i, f = g[:units], g[units : 2 * units]
            cand, o = g[2 * units : 3 * units], g[3 * units :]
            _activate(c_states[t + 1, b], c_act, activation)
            for j in range(units):
                dc_act[j] = d_h[j] * o[j]
            _times_derivative(dc_act, c_act, activation)
            for j in range(units):
                dc_total = d_c[j] + dc_act[j]
                d_i[j] = dc_total * cand[j]
                d_f[j] = dc_total * c_old[j]
                d_cand[j] = dc_total * i[j]
                d_o[j] = d_h[j] * c_act[j]
                d_c[j] = dc_total * f[j]
            _times_derivative(d_row[: 2 * units], g[: 2 * units], recurrent_activation)
            _times_derivative(d_cand, cand, activation)
            _times_derivative(d_o, o, recurrent_activation)
            _copy(d_row, dp)
        numpy.dot(dx_proj[t, start:stop], kernel_t, dh_next[start:stop])
        if with_inputs:
            numpy.dot(dx_proj[t, start:stop], input_kernel_t, dx_steps[t, start:stop])
        for b in range(start, stop):
            if masked and not mask[t, b]:
                continue  # dh and dc carry over the skipped step unchanged
            d_h, d_next = dh[b], dh_next[b]
            for j in range(units):
                d_h[j] = d_next[j]


# -- GRU (reset_after=True) -----------------------------------------------------


@_kernel
def gru_forward(
    x_proj,
    kernel,
    recurrent_bias,
    mask,
    activation,
    recurrent_activation,
    h_states,
    gates,
    rec_h,
    start,
    stop,
):
    """Fill ``h_states[1:]``, the activated gates ``[z, r, hh]``, ``rec_h``; rows [start, stop)."""
    masked = mask.shape[0] > 0
    units = h_states.shape[2]
    rec = numpy.empty(x_proj.shape[1:], x_proj.dtype)  # h_prev @ kernel
    bias_zr, bias_h = recurrent_bias[: 2 * units], recurrent_bias[2 * units :]
    one = like(x_proj, 1.0)
    for t in range(x_proj.shape[0]):
        numpy.dot(h_states[t, start:stop], kernel, rec[start:stop])
        for b in range(start, stop):
            h_old, h_new = h_states[t, b], h_states[t + 1, b]
            if masked and not mask[t, b]:
                _copy(h_old, h_new)
                continue
            # pre-activations go to ``rec`` first: ``gates`` may be ``x_proj`` itself
            g, x_row, rec_row, rec_h_row = gates[t, b], x_proj[t, b], rec[b], rec_h[t, b]
            x_zr, rec_zr = x_row[: 2 * units], rec_row[: 2 * units]
            z, r, hh = g[:units], g[units : 2 * units], g[2 * units :]
            x_h, rec_row_h = x_row[2 * units :], rec_row[2 * units :]
            for j in range(2 * units):
                rec_zr[j] = x_zr[j] + (rec_zr[j] + bias_zr[j])
            _activate(rec_zr, g[: 2 * units], recurrent_activation)
            for j in range(units):
                candidate = rec_row_h[j] + bias_h[j]
                rec_h_row[j] = candidate
                rec_row_h[j] = x_h[j] + r[j] * candidate
            _activate(rec_row_h, hh, activation)
            for j in range(units):
                h_new[j] = z[j] * h_old[j] + (one - z[j]) * hh[j]


@_kernel
def gru_backward(
    grad_outputs,
    dh,
    kernel_t,
    mask,
    activation,
    recurrent_activation,
    h_states,
    gates,
    rec_h,
    dx_proj,
    drec,
    input_kernel_t,
    dx_steps,
    start,
    stop,
):
    """BPTT for rows ``[start, stop)``: fills ``dx_proj``, ``drec``; ``dh`` ends as h0's gradient.

    ``drec`` is the gradient of ``h_prev @ kernel + recurrent_bias``; ``kernel_t`` is the
    recurrent kernel transposed, C-contiguous. ``dx_steps``: as ``lstm_backward``'s.
    """
    masked = mask.shape[0] > 0
    with_inputs = dx_steps.size > 0
    units = dh.shape[1]
    one = like(dh, 1.0)
    dh_next = numpy.empty(dh.shape, dh.dtype)
    dh_direct = numpy.empty(dh.shape, dh.dtype)  # through ``z * h_prev``
    d_row = numpy.empty(3 * units, dh.dtype)  # copied out last: dx_proj may be ``gates``
    d_z, d_r, d_hh = d_row[:units], d_row[units : 2 * units], d_row[2 * units :]
    for t in range(grad_outputs.shape[0] - 1, -1, -1):
        for b in range(start, stop):
            d_h, dp, dr = dh[b], dx_proj[t, b], drec[t, b]
            grad_row = grad_outputs[t, b]
            for j in range(units):
                d_h[j] += grad_row[j]
            if masked and not mask[t, b]:
                for j in range(dp.size):
                    dp[j] = 0
                    dr[j] = 0
                continue
            g, h_old, rec_h_row = gates[t, b], h_states[t, b], rec_h[t, b]
            z, r, hh = g[:units], g[units : 2 * units], g[2 * units :]
            direct = dh_direct[b]
            for j in range(units):
                d_z[j] = d_h[j] * (h_old[j] - hh[j])
                d_hh[j] = d_h[j] * (one - z[j])
                direct[j] = d_h[j] * z[j]
            _times_derivative(d_hh, hh, activation)
            for j in range(units):
                d_r[j] = d_hh[j] * rec_h_row[j]
            _times_derivative(d_row[: 2 * units], g[: 2 * units], recurrent_activation)
            dr_zr, dr_h = dr[: 2 * units], dr[2 * units :]
            for j in range(2 * units):
                dr_zr[j] = d_row[j]
            for j in range(units):
                dr_h[j] = d_hh[j] * r[j]
            _copy(d_row, dp)
        numpy.dot(drec[t, start:stop], kernel_t, dh_next[start:stop])
        if with_inputs:
            numpy.dot(dx_proj[t, start:stop], input_kernel_t, dx_steps[t, start:stop])
        for b in range(start, stop):
            if masked and not mask[t, b]:
                continue  # dh carries over the skipped step unchanged
            d_h, d_next, direct = dh[b], dh_next[b], dh_direct[b]
            for j in range(units):
                d_h[j] = d_next[j] + direct[j]


# -- the kernels as native jobs (``native_jobs``) ------------------------------------
# ``numba_recurrent`` runs each sequence kernel this way where it can: job ``index`` of
# ``parts`` runs the kernel on its block of batch rows, with no Python and no GIL in the
# hand-off (the pool's worker takes ~50 us to start a Python block, and its caller as long
# to see it end). Blocks start on multiples of ``ROW_ALIGN``, as the pool's do. Record:
# the batch size, the itemsize, then the kernel's arguments (``packed_split``).
ROW_ALIGN = 8


@register_jitable
def _rows(record, index, parts):
    return block(record[0], parts, index, ROW_ALIGN)


@register_jitable
def _simple_rnn_forward_block(record, index, parts, dtype):
    x_proj, word = job_cube(record, HEADER_WORDS, dtype)
    kernel, word = job_matrix(record, word, dtype)
    mask, word = job_matrix(record, word, numpy.bool_)
    h_states, _ = job_cube(record, word + 1, dtype)
    simple_rnn_forward(x_proj, kernel, mask, record[word], h_states, *_rows(record, index, parts))


@register_jitable
def _simple_rnn_backward_block(record, index, parts, dtype):
    grad_outputs, word = job_cube(record, HEADER_WORDS, dtype)
    dh, word = job_matrix(record, word, dtype)
    kernel_t, word = job_matrix(record, word, dtype)
    mask, word = job_matrix(record, word, numpy.bool_)
    activation = record[word]
    h_states, word = job_cube(record, word + 1, dtype)
    dx_proj, word = job_cube(record, word, dtype)
    input_kernel_t, word = job_matrix(record, word, dtype)
    dx_steps, _ = job_cube(record, word, dtype)
    start, stop = _rows(record, index, parts)
    simple_rnn_backward(
        grad_outputs, dh, kernel_t, mask, activation, h_states, dx_proj, input_kernel_t,
        dx_steps, start, stop,
    )  # fmt: skip


@register_jitable
def _lstm_forward_block(record, index, parts, dtype):
    x_proj, word = job_cube(record, HEADER_WORDS, dtype)
    kernel, word = job_matrix(record, word, dtype)
    mask, word = job_matrix(record, word, numpy.bool_)
    activation, recurrent_activation = record[word], record[word + 1]
    h_states, word = job_cube(record, word + 2, dtype)
    c_states, word = job_cube(record, word, dtype)
    gates, _ = job_cube(record, word, dtype)
    start, stop = _rows(record, index, parts)
    lstm_forward(
        x_proj, kernel, mask, activation, recurrent_activation, h_states, c_states, gates,
        start, stop,
    )  # fmt: skip


@register_jitable
def _lstm_backward_block(record, index, parts, dtype):
    grad_outputs, word = job_cube(record, HEADER_WORDS, dtype)
    dh, word = job_matrix(record, word, dtype)
    dc, word = job_matrix(record, word, dtype)
    kernel_t, word = job_matrix(record, word, dtype)
    mask, word = job_matrix(record, word, numpy.bool_)
    activation, recurrent_activation = record[word], record[word + 1]
    c_states, word = job_cube(record, word + 2, dtype)
    gates, word = job_cube(record, word, dtype)
    dx_proj, word = job_cube(record, word, dtype)
    input_kernel_t, word = job_matrix(record, word, dtype)
    dx_steps, _ = job_cube(record, word, dtype)
    start, stop = _rows(record, index, parts)
    lstm_backward(
        grad_outputs, dh, dc, kernel_t, mask, activation, recurrent_activation, c_states, gates,
        dx_proj, input_kernel_t, dx_steps, start, stop,
    )  # fmt: skip


@register_jitable
def _gru_forward_block(record, index, parts, dtype):
    x_proj, word = job_cube(record, HEADER_WORDS, dtype)
    kernel, word = job_matrix(record, word, dtype)
    recurrent_bias, word = job_vector(record, word, dtype)
    mask, word = job_matrix(record, word, numpy.bool_)
    activation, recurrent_activation = record[word], record[word + 1]
    h_states, word = job_cube(record, word + 2, dtype)
    gates, word = job_cube(record, word, dtype)
    rec_h, _ = job_cube(record, word, dtype)
    start, stop = _rows(record, index, parts)
    gru_forward(
        x_proj, kernel, recurrent_bias, mask, activation, recurrent_activation, h_states,
        gates, rec_h, start, stop,
    )  # fmt: skip


@register_jitable
def _gru_backward_block(record, index, parts, dtype):
    grad_outputs, word = job_cube(record, HEADER_WORDS, dtype)
    dh, word = job_matrix(record, word, dtype)
    kernel_t, word = job_matrix(record, word, dtype)
    mask, word = job_matrix(record, word, numpy.bool_)
    activation, recurrent_activation = record[word], record[word + 1]
    h_states, word = job_cube(record, word + 2, dtype)
    gates, word = job_cube(record, word, dtype)
    rec_h, word = job_cube(record, word, dtype)
    dx_proj, word = job_cube(record, word, dtype)
    drec, word = job_cube(record, word, dtype)
    input_kernel_t, word = job_matrix(record, word, dtype)
    dx_steps, _ = job_cube(record, word, dtype)
    start, stop = _rows(record, index, parts)
    gru_backward(
        grad_outputs, dh, kernel_t, mask, activation, recurrent_activation, h_states, gates,
        rec_h, dx_proj, drec, input_kernel_t, dx_steps, start, stop,
    )  # fmt: skip


def simple_rnn_forward_job_float32(index, data, parts):  # pragma: no cover - compiled
    _simple_rnn_forward_block(packed_record(data), index, parts, numpy.float32)


def simple_rnn_forward_job_float64(index, data, parts):  # pragma: no cover - compiled
    _simple_rnn_forward_block(packed_record(data), index, parts, numpy.float64)


def simple_rnn_backward_job_float32(index, data, parts):  # pragma: no cover - compiled
    _simple_rnn_backward_block(packed_record(data), index, parts, numpy.float32)


def simple_rnn_backward_job_float64(index, data, parts):  # pragma: no cover - compiled
    _simple_rnn_backward_block(packed_record(data), index, parts, numpy.float64)


def lstm_forward_job_float32(index, data, parts):  # pragma: no cover - compiled
    _lstm_forward_block(packed_record(data), index, parts, numpy.float32)


def lstm_forward_job_float64(index, data, parts):  # pragma: no cover - compiled
    _lstm_forward_block(packed_record(data), index, parts, numpy.float64)


def lstm_backward_job_float32(index, data, parts):  # pragma: no cover - compiled
    _lstm_backward_block(packed_record(data), index, parts, numpy.float32)


def lstm_backward_job_float64(index, data, parts):  # pragma: no cover - compiled
    _lstm_backward_block(packed_record(data), index, parts, numpy.float64)


def gru_forward_job_float32(index, data, parts):  # pragma: no cover - compiled
    _gru_forward_block(packed_record(data), index, parts, numpy.float32)


def gru_forward_job_float64(index, data, parts):  # pragma: no cover - compiled
    _gru_forward_block(packed_record(data), index, parts, numpy.float64)


def gru_backward_job_float32(index, data, parts):  # pragma: no cover - compiled
    _gru_backward_block(packed_record(data), index, parts, numpy.float32)


def gru_backward_job_float64(index, data, parts):  # pragma: no cover - compiled
    _gru_backward_block(packed_record(data), index, parts, numpy.float64)


# ``numba_native.split(packed=True)`` runs each job through the one driver
simple_rnn_forward_split = simple_rnn_backward_split = packed_split
lstm_forward_split = lstm_backward_split = packed_split
gru_forward_split = gru_backward_split = packed_split
