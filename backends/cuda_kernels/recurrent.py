"""Fused LSTM and GRU cell arithmetic: one thread per (row, unit), default activations.

The recurrent GEMM stays with cuBLAS (``xp.matmul``); these kernels fuse what
follows it, which the generic path runs as a dozen small CuPy kernels and
temporaries per step: gate activations (sigmoid for the gates, tanh for the
candidate and the output) and the state update, forward and backward. Gate
layouts follow Keras 3: LSTM ``[i, f, c, o]``, GRU ``[z, r, h]``
(``reset_after=True``).
"""

import math

from numba import cuda


@cuda.jit(device=True)
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@cuda.jit
def lstm_cell_forward(preact, c_prev, gates, c, h):
    """``preact`` (batch, 4*units) in; ``gates`` (activated), ``c`` and ``h`` out."""
    rows, units = c.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < rows * units:
        row = index // units
        unit = index - row * units
        i = _sigmoid(preact[row, unit])
        f = _sigmoid(preact[row, units + unit])
        g = math.tanh(preact[row, 2 * units + unit])
        o = _sigmoid(preact[row, 3 * units + unit])
        gates[row, unit] = i
        gates[row, units + unit] = f
        gates[row, 2 * units + unit] = g
        gates[row, 3 * units + unit] = o
        c_new = f * c_prev[row, unit] + i * g
        c[row, unit] = c_new
        h[row, unit] = o * math.tanh(c_new)
        index += stride


@cuda.jit
def lstm_cell_backward(dh, dc, c_prev, c, gates, dpreact, dc_prev):
    """Gradients of the pre-activations and of ``c_prev`` from those of ``h`` and ``c``."""
    rows, units = c.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < rows * units:
        row = index // units
        unit = index - row * units
        i = gates[row, unit]
        f = gates[row, units + unit]
        g = gates[row, 2 * units + unit]
        o = gates[row, 3 * units + unit]
        c_act = math.tanh(c[row, unit])
        d_h = dh[row, unit]
        d_c = dc[row, unit] + d_h * o * (1.0 - c_act * c_act)
        dpreact[row, unit] = d_c * g * i * (1.0 - i)
        dpreact[row, units + unit] = d_c * c_prev[row, unit] * f * (1.0 - f)
        dpreact[row, 2 * units + unit] = d_c * i * (1.0 - g * g)
        dpreact[row, 3 * units + unit] = d_h * c_act * o * (1.0 - o)
        dc_prev[row, unit] = d_c * f
        index += stride


@cuda.jit
def gru_cell_forward(x_proj, rec, h_prev, preact, gates, h):
    """``rec = h_prev @ recurrent_kernel (+ bias)`` (batch, 3*units) in; gates and ``h`` out."""
    rows, units = h.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < rows * units:
        row = index // units
        unit = index - row * units
        a_z = x_proj[row, unit] + rec[row, unit]
        a_r = x_proj[row, units + unit] + rec[row, units + unit]
        z = _sigmoid(a_z)
        r = _sigmoid(a_r)
        a_h = x_proj[row, 2 * units + unit] + r * rec[row, 2 * units + unit]
        hh = math.tanh(a_h)
        preact[row, unit] = a_z
        preact[row, units + unit] = a_r
        preact[row, 2 * units + unit] = a_h
        gates[row, unit] = z
        gates[row, units + unit] = r
        gates[row, 2 * units + unit] = hh
        h[row, unit] = z * h_prev[row, unit] + (1.0 - z) * hh
        index += stride


@cuda.jit
def gru_cell_backward(dh, h_prev, gates, rec_h, dx_proj, drec, dh_prev_direct):
    """Gradients of ``x_proj`` and ``rec``, and ``h_prev``'s through ``z * h_prev``."""
    rows, units = dh.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < rows * units:
        row = index // units
        unit = index - row * units
        z = gates[row, unit]
        r = gates[row, units + unit]
        hh = gates[row, 2 * units + unit]
        d_h = dh[row, unit]
        d_ah = d_h * (1.0 - z) * (1.0 - hh * hh)
        d_az = d_h * (h_prev[row, unit] - hh) * z * (1.0 - z)
        d_ar = d_ah * rec_h[row, unit] * r * (1.0 - r)
        dx_proj[row, unit] = d_az
        dx_proj[row, units + unit] = d_ar
        dx_proj[row, 2 * units + unit] = d_ah
        drec[row, unit] = d_az
        drec[row, units + unit] = d_ar
        drec[row, 2 * units + unit] = d_ah * r
        dh_prev_direct[row, unit] = d_h * z
        index += stride
