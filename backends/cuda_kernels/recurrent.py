"""Whole-sequence LSTM and GRU: the time loop in one launch, default activations.

One block per batch row (grid-stride over rows), its threads over the gate
columns: each step computes the recurrent product ``h_prev @ recurrent_kernel``
(a dot of ``units`` per gate column), the gate activations (sigmoid for the
gates, tanh for the candidate and the output) and the state update, with a
``syncthreads`` between the two phases. Rows are independent through time, so
a block never waits for another. Replaces, per step, the cuBLAS product, the
cell kernel and their launches: ~4 launches a step become one a sequence.

The step's new state is written to global memory and read back by the block
after ``syncthreads``, which makes a block's global writes visible to its own
threads; no shared memory, so one kernel body serves float32 and float64.

Gate layouts follow Keras 3: LSTM ``[i, f, c, o]``, GRU ``[z, r, h]``
(``reset_after=True``). ``mask`` is ``(timesteps, batch)`` booleans, read only
where ``masked`` is true (a ``(1, 1)`` placeholder otherwise: no zero-size
arrays reach a launch, as in the attention kernels). A masked step carries the
row's states forward; in the backward its state gradients carry back unchanged
and its pre-activation gradients are zero, as in ``backends.kernels.recurrent``.
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
def lstm_sequence_forward(kernel, mask, masked, h_states, c_states, gates):
    """``gates`` (timesteps, batch, 4*units) holds ``x_proj`` on entry, the activated
    gates on exit; ``h_states``, ``c_states`` (timesteps + 1, batch, units) hold the
    initial states at index 0 and are filled after it."""
    timesteps, rows, width = gates.shape
    units = width // 4
    thread, threads = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        for t in range(timesteps):
            runs = not masked or mask[t, row]
            if runs:
                for j in range(thread, width, threads):
                    acc = gates[t, row, j]
                    for k in range(units):
                        acc += h_states[t, row, k] * kernel[k, j]
                    if 2 * units <= j < 3 * units:
                        gates[t, row, j] = math.tanh(acc)
                    else:
                        gates[t, row, j] = _sigmoid(acc)
            cuda.syncthreads()
            for u in range(thread, units, threads):
                if runs:
                    i, f = gates[t, row, u], gates[t, row, units + u]
                    g, o = gates[t, row, 2 * units + u], gates[t, row, 3 * units + u]
                    c = f * c_states[t, row, u] + i * g
                    c_states[t + 1, row, u] = c
                    h_states[t + 1, row, u] = o * math.tanh(c)
                else:
                    c_states[t + 1, row, u] = c_states[t, row, u]
                    h_states[t + 1, row, u] = h_states[t, row, u]
            cuda.syncthreads()


@cuda.jit
def lstm_sequence_backward(grad_outputs, dh, dc, kernel_t, mask, masked, c_states, gates, dx_proj):
    """BPTT: fills ``dx_proj`` (may be ``gates`` itself); ``dh``, ``dc`` hold the final
    states' gradients on entry and the initial states' on exit. ``kernel_t`` is the
    recurrent kernel transposed, (4*units, units), C-contiguous."""
    timesteps, rows, units = grad_outputs.shape
    thread, threads = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        for t in range(timesteps - 1, -1, -1):
            runs = not masked or mask[t, row]
            for u in range(thread, units, threads):
                d_h = dh[row, u] + grad_outputs[t, row, u]
                if runs:
                    i, f = gates[t, row, u], gates[t, row, units + u]
                    g, o = gates[t, row, 2 * units + u], gates[t, row, 3 * units + u]
                    c_act = math.tanh(c_states[t + 1, row, u])
                    d_c = dc[row, u] + d_h * o * (1.0 - c_act * c_act)
                    dx_proj[t, row, u] = d_c * g * i * (1.0 - i)
                    dx_proj[t, row, units + u] = d_c * c_states[t, row, u] * f * (1.0 - f)
                    dx_proj[t, row, 2 * units + u] = d_c * i * (1.0 - g * g)
                    dx_proj[t, row, 3 * units + u] = d_h * c_act * o * (1.0 - o)
                    dc[row, u] = d_c * f
                else:
                    for gate in range(4):
                        dx_proj[t, row, gate * units + u] = 0.0
                    dh[row, u] = d_h
            cuda.syncthreads()
            if runs:
                for u in range(thread, units, threads):
                    acc = dx_proj[t, row, 0] * kernel_t[0, u]
                    for j in range(1, 4 * units):
                        acc += dx_proj[t, row, j] * kernel_t[j, u]
                    dh[row, u] = acc
            cuda.syncthreads()


@cuda.jit
def gru_sequence_forward(kernel, bias, biased, mask, masked, h_states, gates, rec_h):
    """``reset_after=True``. ``gates`` (timesteps, batch, 3*units) holds ``x_proj`` on
    entry, the activated gates on exit; ``bias`` is the recurrent bias, read only
    where ``biased``; ``rec_h`` (timesteps, batch, units) receives the candidate's
    recurrent term (with its bias), which the backward needs."""
    timesteps, rows, width = gates.shape
    units = width // 3
    thread, threads = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        for t in range(timesteps):
            runs = not masked or mask[t, row]
            if runs:
                for j in range(thread, width, threads):
                    acc = h_states[t, row, 0] * kernel[0, j]
                    for k in range(1, units):
                        acc += h_states[t, row, k] * kernel[k, j]
                    if biased:
                        acc += bias[j]
                    if j < 2 * units:
                        gates[t, row, j] = _sigmoid(gates[t, row, j] + acc)
                    else:
                        rec_h[t, row, j - 2 * units] = acc
            cuda.syncthreads()
            for u in range(thread, units, threads):
                if runs:
                    z, r = gates[t, row, u], gates[t, row, units + u]
                    hh = math.tanh(gates[t, row, 2 * units + u] + r * rec_h[t, row, u])
                    gates[t, row, 2 * units + u] = hh
                    h_states[t + 1, row, u] = z * h_states[t, row, u] + (1.0 - z) * hh
                else:
                    h_states[t + 1, row, u] = h_states[t, row, u]
            cuda.syncthreads()


@cuda.jit
def gru_sequence_backward(
    grad_outputs, dh, kernel_t, mask, masked, h_states, gates, rec_h, dx_proj, drec
):
    """BPTT: fills ``dx_proj`` (may be ``gates`` itself) and ``drec``, the gradient of
    each step's recurrent term; ``dh`` holds the final state's gradient on entry and
    the initial state's on exit. ``kernel_t`` (3*units, units), C-contiguous."""
    timesteps, rows, units = grad_outputs.shape
    thread, threads = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        for t in range(timesteps - 1, -1, -1):
            runs = not masked or mask[t, row]
            for u in range(thread, units, threads):
                d_h = dh[row, u] + grad_outputs[t, row, u]
                if runs:
                    z, r = gates[t, row, u], gates[t, row, units + u]
                    hh = gates[t, row, 2 * units + u]
                    d_ah = d_h * (1.0 - z) * (1.0 - hh * hh)
                    d_az = d_h * (h_states[t, row, u] - hh) * z * (1.0 - z)
                    d_ar = d_ah * rec_h[t, row, u] * r * (1.0 - r)
                    dx_proj[t, row, u] = d_az
                    dx_proj[t, row, units + u] = d_ar
                    dx_proj[t, row, 2 * units + u] = d_ah
                    drec[t, row, u] = d_az
                    drec[t, row, units + u] = d_ar
                    drec[t, row, 2 * units + u] = d_ah * r
                    dh[row, u] = d_h * z
                else:
                    for gate in range(3):
                        dx_proj[t, row, gate * units + u] = 0.0
                        drec[t, row, gate * units + u] = 0.0
                    dh[row, u] = d_h
            cuda.syncthreads()
            if runs:
                for u in range(thread, units, threads):
                    acc = dh[row, u]
                    for j in range(3 * units):
                        acc += drec[t, row, j] * kernel_t[j, u]
                    dh[row, u] = acc
            cuda.syncthreads()
