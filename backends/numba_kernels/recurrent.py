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
3 MB arrays a step (measured: ~9% less CPU time a training step).

What decides the speed here, measured on x86-64 (AVX-512 and AVX2, no SVML):

- Numba calls libm for ``math.exp``/``math.tanh`` one element at a time
  (~20 ns for a sigmoid and a tanh), so the gates would cost more than the
  GEMMs. ``vector_math``'s ``sigmoid`` and ``tanh`` use its ``exp_parts``, an
  exponential written as plain arithmetic that LLVM vectorizes (~0.5 ns an
  element, within 2-3 ulp).
- The per-step GEMMs are small (64x64 by 64x256 in W4). Calling BLAS from
  inside the loop wakes its thread pool every step, which on a busy machine
  costs milliseconds; ``_matmul_rows`` is a plain 4x4-blocked loop that LLVM
  vectorizes, about as fast as single-threaded OpenBLAS at these sizes. The
  backward steps' products (4 x units long, into units columns) are dot
  products of rows instead (``_dot_rows``), twice as fast at that shape.
- The GEMM and the exponential's polynomial allow fused multiply-adds
  (``fastmath={"contract"}``; ``_dot_rows`` also ``reassoc``, to vectorize its
  sums; no flag that changes how NaN and inf behave): on AVX2 the GEMM ran 1.8x
  and the gate activations 1.45x faster (W4's shapes, float32); float64 gains
  less.

What decides the compile time (a cold cache compiles every kernel a model
uses): Numba compiles each jitted function a kernel calls as a module of its
own, and then optimizes and generates machine code for it again inside every
module that calls it, so a deep tree of small helpers costs several times its
size. Here the helpers are few and one level deep (``_helper``: without the
Python and C entry points that only calls from outside compiled code use),
each takes one signature per dtype (``_matmul_rows`` always accumulates, so
no ``Literal[bool]`` argument compiles it twice), and the GEMM's 4x4 blocks
need fewer than half the runtime overlap checks of 8x4. Measured (CPU
seconds, empty cache, six alternating runs on a busy machine): W4's float32
``lstm_forward`` and ``lstm_backward`` with all they call 9.0-10.8 with a
helper tree three deep and an 8x4 GEMM compiled once per ``accumulate``,
4.2-6.8 now; the GRU and SimpleRNN pairs together 9.2-14.4 and 5.8-8.5; W4's
whole cold first step (``bench_jit``, four runs) 11.0-14.0 and 6.5-9.3.

Inner loops index 1-D views (a gate's slice of a row) with the bare loop
variable of a ``range(n)``: an index such as ``offset + j`` keeps Numba's
negative-index wraparound, and ``range(start, stop)`` an unsigned trip count,
and either stops LLVM from vectorizing the loop (measured: 5-10x slower).
Activations are chosen by code (``ACTIVATION_CODES``); their derivatives are
taken from their outputs, so the pre-activations are never stored.
"""

import numba
import numpy

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
def _fill_zero(out):
    for j in range(out.size):
        out[j] = 0


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


# -- the recurrent GEMM ------------------------------------------------------------


@_helper(fastmath={"contract"})
def _matmul_rows(a, b, out, start, stop):
    """``out[r] += a[r] @ b`` for rows ``r`` in ``[start, stop)``.

    Four rows of ``a`` by four rows of ``b`` at a time, so each pass over an
    output row does four multiply-adds per load and store of it, and each
    load of ``b`` serves four rows. On AVX2 this ran 15% faster than eight
    rows of ``a``, and compiles in half the time: eight output rows need 2.7x
    the runtime overlap checks.
    """
    inner = b.shape[0]
    r = start
    while stop - r >= 4:
        o0, o1, o2, o3 = out[r], out[r + 1], out[r + 2], out[r + 3]
        a0, a1, a2, a3 = a[r], a[r + 1], a[r + 2], a[r + 3]
        for k in range(0, inner - 3, 4):
            k1, k2, k3 = k + 1, k + 2, k + 3
            w0, w1, w2, w3 = b[k], b[k1], b[k2], b[k3]
            a00, a01, a02, a03 = a0[k], a0[k1], a0[k2], a0[k3]
            a10, a11, a12, a13 = a1[k], a1[k1], a1[k2], a1[k3]
            a20, a21, a22, a23 = a2[k], a2[k1], a2[k2], a2[k3]
            a30, a31, a32, a33 = a3[k], a3[k1], a3[k2], a3[k3]
            for j in range(w0.size):
                x0, x1, x2, x3 = w0[j], w1[j], w2[j], w3[j]
                o0[j] += a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3
                o1[j] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3
                o2[j] += a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3
                o3[j] += a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3
        r += 4
    # what the blocks left: their rows' last ``inner % 4`` products, and the other rows
    blocked, k_blocked = r, inner - inner % 4
    for r in range(start, stop):
        row, a_row = out[r], a[r]
        for k in range(k_blocked if r < blocked else 0, inner):
            w, coefficient = b[k], a_row[k]
            for j in range(row.size):
                row[j] += coefficient * w[j]


@_helper(fastmath={"reassoc", "contract"})
def _dot_rows(a, b_rows, out, start, stop):
    """``out[r] += a[r] @ b_rows.T`` for rows ``r`` in ``[start, stop)``: each output is the
    dot product of a row of ``a`` with a row of ``b_rows``.

    For a long inner axis and short output rows, as in the LSTM and GRU backward steps
    (4 or 3 x units products into units columns). Two rows of ``a`` against four rows of
    ``b_rows``: eight sums stay in registers over the whole inner axis, and ``reassoc``
    lets LLVM vectorize them along it (in its own order: within float rounding of the
    sequential sum, and the same for a row whichever block it is in, since the blocks start
    at even rows). W4's backward step (64x256 by 256x64, float32, one thread): 23-27 us
    against 53-56 for ``_matmul_rows`` and 25-28 for OpenBLAS; 4x4 blocks were no faster
    and compile longer. With a short inner axis (the forward steps) it is slower: 45-49 us
    against 31-32.
    """
    inner, columns = a.shape[1], b_rows.shape[0]
    zero = like(out, 0.0)
    r = start
    while r < stop:
        pair = stop - r >= 2
        a0, o0 = a[r], out[r]
        a1, o1 = (a[r + 1], out[r + 1]) if pair else (a0, o0)
        j = 0
        while columns - j >= 4:
            w0, w1, w2, w3 = b_rows[j], b_rows[j + 1], b_rows[j + 2], b_rows[j + 3]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            for k in range(inner):
                x0, x1 = a0[k], a1[k]
                y0, y1, y2, y3 = w0[k], w1[k], w2[k], w3[k]
                s00 += x0 * y0
                s01 += x0 * y1
                s02 += x0 * y2
                s03 += x0 * y3
                s10 += x1 * y0
                s11 += x1 * y1
                s12 += x1 * y2
                s13 += x1 * y3
            o0[j] += s00
            o0[j + 1] += s01
            o0[j + 2] += s02
            o0[j + 3] += s03
            if pair:  # a lone last row ran as its own pair: its sums are written once
                o1[j] += s10
                o1[j + 1] += s11
                o1[j + 2] += s12
                o1[j + 3] += s13
            j += 4
        for i in range(2 if pair else 1):  # the last ``columns % 4`` outputs
            row, o = a[r + i], out[r + i]
            for c in range(j, columns):
                w = b_rows[c]
                total = zero
                for k in range(inner):
                    total += row[k] * w[k]
                o[c] += total
        r += 2 if pair else 1


# -- SimpleRNN ---------------------------------------------------------------------


@_kernel
def simple_rnn_forward(x_proj, kernel, mask, activation, h_states, start, stop):
    """Fill ``h_states[1:]`` (``h_states[0]`` holds h0) for rows ``[start, stop)``."""
    masked = mask.shape[0] > 0
    preact = numpy.empty(x_proj.shape[1:], x_proj.dtype)
    for t in range(x_proj.shape[0]):
        for b in range(start, stop):
            row, x_row = preact[b], x_proj[t, b]
            for j in range(row.size):
                row[j] = x_row[j]
        _matmul_rows(h_states[t], kernel, preact, start, stop)
        for b in range(start, stop):
            if masked and not mask[t, b]:
                _copy(h_states[t, b], h_states[t + 1, b])
            else:
                _activate(preact[b], h_states[t + 1, b], activation)


@_kernel
def simple_rnn_backward(
    grad_outputs, dh, kernel_t, mask, activation, h_states, dx_proj, start, stop
):
    """BPTT for rows ``[start, stop)``: fills ``dx_proj``; ``dh`` ends as the gradient of h0.

    ``dh`` (batch, units) holds the final state's gradient on entry;
    ``kernel_t`` is the recurrent kernel transposed.
    """
    masked = mask.shape[0] > 0
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
            _fill_zero(dh_next[b])
        _matmul_rows(dx_proj[t], kernel_t, dh_next, start, stop)
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
        for b in range(start, stop):
            row, x_row = preact[b], x_proj[t, b]
            for j in range(row.size):
                row[j] = x_row[j]
        _matmul_rows(h_states[t], kernel, preact, start, stop)
        for b in range(start, stop):
            c_old, c_new = c_states[t, b], c_states[t + 1, b]
            h_new = h_states[t + 1, b]
            if masked and not mask[t, b]:
                _copy(c_old, c_new)
                _copy(h_states[t, b], h_new)
                continue
            g, p = gates[t, b], preact[b]
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
    kernel,
    mask,
    activation,
    recurrent_activation,
    c_states,
    gates,
    dx_proj,
    start,
    stop,
):
    """BPTT for rows [start, stop): fills ``dx_proj``; ``dh``, ``dc`` end as h0's, c0's gradients.

    ``dh``, ``dc`` hold the final states' gradients on entry; ``kernel`` is the
    recurrent kernel, C-contiguous: its rows against each step's gate gradients.
    """
    masked = mask.shape[0] > 0
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
            _fill_zero(dh_next[b])
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
        _dot_rows(dx_proj[t], kernel, dh_next, start, stop)
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
        for b in range(start, stop):
            _fill_zero(rec[b])
        _matmul_rows(h_states[t], kernel, rec, start, stop)
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
    kernel,
    mask,
    activation,
    recurrent_activation,
    h_states,
    gates,
    rec_h,
    dx_proj,
    drec,
    start,
    stop,
):
    """BPTT for rows ``[start, stop)``: fills ``dx_proj``, ``drec``; ``dh`` ends as h0's gradient.

    ``drec`` is the gradient of ``h_prev @ kernel + recurrent_bias``; ``kernel`` is
    C-contiguous.
    """
    masked = mask.shape[0] > 0
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
            _fill_zero(dh_next[b])
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
        _dot_rows(drec[t], kernel, dh_next, start, stop)
        for b in range(start, stop):
            if masked and not mask[t, b]:
                continue  # dh carries over the skipped step unchanged
            d_h, d_next, direct = dh[b], dh_next[b], dh_direct[b]
            for j in range(units):
                d_h[j] = d_next[j] + direct[j]
