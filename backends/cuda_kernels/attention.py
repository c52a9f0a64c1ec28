"""Fused scaled dot-product attention: one thread per query row (forward, dQ) or key row (dK, dV).

A thread walks its row's keys one at a time with FlashAttention's online
softmax (a running maximum and sum, the accumulated output rescaled when the
maximum rises), so no score matrix is ever stored: memory is linear in the
sequence lengths. The backward recomputes each weight from the saved
logsumexp, ``p = exp(score - logsumexp)``, in two kernels with no atomics:
one thread per query row sums ``dQ``, one per key row ``dK`` and ``dV``.
Threads of a warp work on neighbouring rows of one (batch, head) and read the
same key (or query) at once, which the hardware broadcasts.

What this leaves to a later version: tiles staged in shared memory and
tensor-core products (FlashAttention proper). Rows accumulate in per-thread
local arrays of ``MAX_HEAD_DIM`` elements; wider heads go to the generic
kernels. Accumulation is in the inputs' dtype, as the CPU kernels do.

``mask`` is a boolean 4-D array broadcastable to ``(batch, heads, len_q,
len_k)`` (``(1, 1, 1, 1)`` True and ``masked`` False for none), read with
broadcasting. A row with no key has zero output, ``-inf`` logsumexp and zero
gradients, as in ``backends/kernels/attention.py``.
"""

import functools
import math

from numba import cuda, float32, float64

#: the widest head (query/key or value dim) the kernels take
MAX_HEAD_DIM = 256


@cuda.jit(device=True)
def _allowed(mask, masked, causal, b, h, i, j):
    """Whether query ``i`` of (``b``, ``h``) may attend to key ``j``."""
    if causal and j > i:
        return False
    if not masked:
        return True
    mb = b if mask.shape[0] > 1 else 0
    mh = h if mask.shape[1] > 1 else 0
    mi = i if mask.shape[2] > 1 else 0
    mj = j if mask.shape[3] > 1 else 0
    return mask[mb, mh, mi, mj]


@cuda.jit(device=True)
def _dot(a, c, b, h, row_a, row_c):
    """``a[b, h, row_a] . c[b, h, row_c]`` (rows of one length, at least 1)."""
    total = a[b, h, row_a, 0] * c[b, h, row_c, 0]
    for d in range(1, a.shape[3]):
        total += a[b, h, row_a, d] * c[b, h, row_c, d]
    return total


@cuda.jit(device=True)
def _unravel(index, heads, length):
    """``(batch, head, row)`` of a flat row index over ``(batch, heads, length)``."""
    return index // (length * heads), (index // length) % heads, index % length


@cuda.jit(device=True)
def _weight_and_grad_score(grad, q, k, v, shift, row_dot, scale, b, h, i, j):
    """``p_ij = exp(score_ij - logsumexp_i)`` and the score's gradient ``p_ij (dp_ij - D_i)``."""
    weight = math.exp(_dot(q, k, b, h, i, j) * scale - shift)
    return weight, weight * (_dot(grad, v, b, h, i, j) - row_dot[b, h, i]) * scale


@cuda.jit(device=True)
def _zero(acc, width):
    for e in range(width):
        acc[e] = 0


@functools.cache
def kernels(dtype_name: str):
    """``(forward, backward_query, backward_key)`` compiled for one float dtype's local arrays."""
    local_type = float32 if dtype_name == "float32" else float64
    zero, minus_inf = local_type(0), local_type(-math.inf)

    @cuda.jit
    def forward(q, k, v, mask, masked, scale, causal, out, logsumexp):
        """One thread per query row: ``out`` and ``logsumexp`` by online softmax over the keys."""
        batch, heads, len_q, dim_v = out.shape
        len_k = k.shape[2]
        acc = cuda.local.array(MAX_HEAD_DIM, local_type)
        index = cuda.grid(1)
        stride = cuda.gridsize(1)
        while index < batch * heads * len_q:
            b, h, i = _unravel(index, heads, len_q)
            _zero(acc, dim_v)
            peak = minus_inf
            total = zero
            stop = min(len_k, i + 1) if causal else len_k
            for j in range(stop):
                if not _allowed(mask, masked, causal, b, h, i, j):
                    continue
                score = _dot(q, k, b, h, i, j) * scale
                if score > peak:
                    rescale = math.exp(peak - score)  # 0 while no key was seen
                    total *= rescale
                    for e in range(dim_v):
                        acc[e] *= rescale
                    peak = score
                weight = math.exp(score - peak)
                total += weight
                for e in range(dim_v):
                    acc[e] += weight * v[b, h, j, e]
            if total > 0:
                for e in range(dim_v):
                    out[b, h, i, e] = acc[e] / total
                logsumexp[b, h, i] = peak + math.log(total)
            else:
                for e in range(dim_v):
                    out[b, h, i, e] = 0
                logsumexp[b, h, i] = minus_inf
            index += stride

    @cuda.jit
    def backward_query(grad, q, k, v, logsumexp, row_dot, mask, masked, scale, causal, dq):
        """One thread per query row: ``dq = scale * sum_j p_ij (grad_i . v_j - row_dot_i) k_j``."""
        batch, heads, len_q, dim = q.shape
        len_k = k.shape[2]
        acc = cuda.local.array(MAX_HEAD_DIM, local_type)
        index = cuda.grid(1)
        stride = cuda.gridsize(1)
        while index < batch * heads * len_q:
            b, h, i = _unravel(index, heads, len_q)
            _zero(acc, dim)
            shift = logsumexp[b, h, i]
            stop = min(len_k, i + 1) if causal else len_k
            if shift == minus_inf:  # a row with no key: no weight, no gradient
                stop = 0
            for j in range(stop):
                if not _allowed(mask, masked, causal, b, h, i, j):
                    continue
                _, grad_score = _weight_and_grad_score(
                    grad, q, k, v, shift, row_dot, scale, b, h, i, j
                )
                for d in range(dim):
                    acc[d] += grad_score * k[b, h, j, d]
            for d in range(dim):
                dq[b, h, i, d] = acc[d]
            index += stride

    @cuda.jit
    def backward_key(grad, q, k, v, logsumexp, row_dot, mask, masked, scale, causal, dk, dv):
        """One thread per key row: ``dv_j = sum_i p_ij grad_i``, ``dk_j = sum_i ds_ij q_i``."""
        batch, heads, len_k, dim = k.shape
        len_q = q.shape[2]
        dim_v = v.shape[3]
        acc_k = cuda.local.array(MAX_HEAD_DIM, local_type)
        acc_v = cuda.local.array(MAX_HEAD_DIM, local_type)
        index = cuda.grid(1)
        stride = cuda.gridsize(1)
        while index < batch * heads * len_k:
            b, h, j = _unravel(index, heads, len_k)
            _zero(acc_k, dim)
            _zero(acc_v, dim_v)
            for i in range(j if causal else 0, len_q):
                shift = logsumexp[b, h, i]
                if shift == minus_inf or not _allowed(mask, masked, causal, b, h, i, j):
                    continue
                weight, grad_score = _weight_and_grad_score(
                    grad, q, k, v, shift, row_dot, scale, b, h, i, j
                )
                for e in range(dim_v):
                    acc_v[e] += weight * grad[b, h, i, e]
                for d in range(dim):
                    acc_k[d] += grad_score * q[b, h, i, d]
            for d in range(dim):
                dk[b, h, j, d] = acc_k[d]
            for e in range(dim_v):
                dv[b, h, j, e] = acc_v[e]
            index += stride

    return forward, backward_query, backward_key
