"""Blocked scaled dot-product attention (FlashAttention's online softmax) on the CPU,
and the softmax kernels of the row panels that ``backends/numba_attention.py`` uses
for keys up to ``PANEL_MAX_KEYS`` (the file's last section: the products there are
BLAS's, these kernels only scale, mask and normalize whole rows of scores in place).

Each (batch, head) is one job; the entry points take a range of jobs and
release the GIL, so that ``thread_pool.run_blocks`` runs disjoint ranges at
once. The forward walks the queries ``block_q`` rows at a time and, for each
block, the keys ``block_k`` at a time: one ``block_q x block_k`` tile is all of
the score matrix that ever exists. A running maximum and sum per query rescale
the output accumulated so far whenever a later tile raises the maximum. The
backward rebuilds each tile of weights from the saved logsumexp
(``exp(score - logsumexp)``), so it stores nothing quadratic either. Besides
its tiles, a job holds transposed copies of its inputs and (backward)
gradients: memory is linear in the sequence lengths.

``q``, ``k``, ``v``, their gradients and ``out`` are ``(batch, heads, length,
dim)`` arrays of any strides (contiguous along ``dim`` for speed): they are
read and written one element at a time, while the hot loops run over each
job's contiguous tiles and transposed copies. ``mask`` is a boolean ``(batch
or 1, heads or 1, len_q or 1, len_k or 1)`` array, read with broadcasting
rather than expanded (``(1, 1, 1, 1)`` True for no mask). Rows with no key get what the
reference gives (``backends/kernels/attention.py``): zero output, ``-inf``
logsumexp, zero gradients.

What makes it fast here (measured at length 1024, dim 32, on 2 AVX2 cores
with no SVML):

- ``_gemm`` is a 4x4 register-blocked product that LLVM vectorizes along the
  output row, 2-3x faster than one multiply-add per output element. It alone
  allows fused multiply-adds (``fastmath={"contract"}``, no other fast-math
  flag: NaN and inf stay as they are): 10-15% faster. BLAS
  (``numpy.dot``) is not used because Numba reaches it only through SciPy,
  which the library does not depend on, and each call wakes its thread pool.
- ``exp_nonpositive`` (``vector_math.py``, shared with the recurrent kernels) is
  an exponential written as plain arithmetic, which LLVM vectorizes: 2-4x
  faster than libm's ``exp`` one element at a time.
- The forward computes its tiles transposed, keys by queries (``k @ q.T``),
  and accumulates the output transposed (``v.T @ p.T``): a query's running
  maximum and sum are then elementwise over a tile row, which vectorizes
  (a row reduction would run one comparison or add at a time without
  ``fastmath``), and both products run along ``block_q`` rather than along
  a head of 32 (measured: 15-20% faster). The backward keeps query-major
  tiles and accumulates its gradients transposed, for the same reason.
- Inner loops index 1-D C-contiguous views (``a[r, start:stop]``) with the
  bare loop variable: a 2-D column slice is typed as non-contiguous and an
  index such as ``offset + j`` keeps negative-index wraparound, and either
  stops LLVM from vectorizing the loop.
"""

import numba
import numpy

from .vector_math import exp_nonpositive, row_max


@numba.njit(cache=True, error_model="numpy")
def _exp_shifted(row, shift):
    """``row = exp(row - shift)`` in place (``row <= shift``)."""
    for j in range(row.size):
        row[j] = exp_nonpositive(row[j] - shift)


# -- the tile product ---------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _gemm(a, a_col, b, b_col, c, c_col, inner, cols, factor, accumulate):
    """``c[:, C] (+)= factor * a[:, A] @ b[:inner, B]``, ``A = a_col : a_col + inner``, ...

    ``B`` and ``C`` are the ``cols`` columns from ``b_col`` and ``c_col``; ``a``
    and ``c`` have the same number of rows. Four rows of ``a`` by four
    rows of ``b`` at a time: each pass over an output row does four
    multiply-adds per load and store of it, and each load of ``b`` serves four
    output rows.
    """
    rows = c.shape[0]
    b_stop, c_stop, a_stop = b_col + cols, c_col + cols, a_col + inner
    if not accumulate:
        for r in range(rows):
            out = c[r, c_col:c_stop]
            for j in range(cols):
                out[j] = 0
    for r in range(0, rows - rows % 4, 4):
        c0, c1 = c[r, c_col:c_stop], c[r + 1, c_col:c_stop]
        c2, c3 = c[r + 2, c_col:c_stop], c[r + 3, c_col:c_stop]
        a0, a1 = a[r, a_col:a_stop], a[r + 1, a_col:a_stop]
        a2, a3 = a[r + 2, a_col:a_stop], a[r + 3, a_col:a_stop]
        for p in range(0, inner - inner % 4, 4):
            b0, b1 = b[p, b_col:b_stop], b[p + 1, b_col:b_stop]
            b2, b3 = b[p + 2, b_col:b_stop], b[p + 3, b_col:b_stop]
            x00, x01 = a0[p] * factor, a0[p + 1] * factor
            x02, x03 = a0[p + 2] * factor, a0[p + 3] * factor
            x10, x11 = a1[p] * factor, a1[p + 1] * factor
            x12, x13 = a1[p + 2] * factor, a1[p + 3] * factor
            x20, x21 = a2[p] * factor, a2[p + 1] * factor
            x22, x23 = a2[p + 2] * factor, a2[p + 3] * factor
            x30, x31 = a3[p] * factor, a3[p + 1] * factor
            x32, x33 = a3[p + 2] * factor, a3[p + 3] * factor
            for j in range(cols):
                y0, y1, y2, y3 = b0[j], b1[j], b2[j], b3[j]
                c0[j] += x00 * y0 + x01 * y1 + x02 * y2 + x03 * y3
                c1[j] += x10 * y0 + x11 * y1 + x12 * y2 + x13 * y3
                c2[j] += x20 * y0 + x21 * y1 + x22 * y2 + x23 * y3
                c3[j] += x30 * y0 + x31 * y1 + x32 * y2 + x33 * y3
        for p in range(inner - inner % 4, inner):
            y = b[p, b_col:b_stop]
            x0, x1, x2, x3 = a0[p] * factor, a1[p] * factor, a2[p] * factor, a3[p] * factor
            for j in range(cols):
                c0[j] += x0 * y[j]
                c1[j] += x1 * y[j]
                c2[j] += x2 * y[j]
                c3[j] += x3 * y[j]
    for r in range(rows - rows % 4, rows):
        out, coefficients = c[r, c_col:c_stop], a[r, a_col:a_stop]
        for p in range(inner):
            x, y = coefficients[p] * factor, b[p, b_col:b_stop]
            for j in range(cols):
                out[j] += x * y[j]


@numba.njit(cache=True, error_model="numpy")
def _transpose_into(a, rows, cols, out):
    """``out[:cols, :rows] = a[:rows, :cols].T``."""
    for r in range(rows):
        row = a[r]
        for j in range(cols):
            out[j, r] = row[j]


@numba.njit(cache=True, error_model="numpy")
def _transposed(a):
    out = numpy.empty((a.shape[1], a.shape[0]), a.dtype)
    _transpose_into(a, a.shape[0], a.shape[1], out)
    return out


@numba.njit(cache=True, error_model="numpy")
def _mask_tile(tile, mask, causal, q0, rows, k0, cols):
    """Set the scores of the keys each query may not see to ``-inf``."""
    minus_inf = tile.dtype.type(-numpy.inf)
    key_step = 1 if mask.shape[1] > 1 else 0
    for r in range(rows):
        i = q0 + r
        allowed = mask[i if mask.shape[0] > 1 else 0]
        out = tile[r]
        for j in range(cols):
            key = k0 + j
            if (causal and key > i) or not allowed[key * key_step]:
                out[j] = minus_inf


@numba.njit(cache=True, error_model="numpy")
def _mask_tile_transposed(tile, mask, causal, q0, rows, k0, cols):
    """Set the scores (``tile[key, query]``) of keys a query may not see to ``-inf``."""
    minus_inf = tile.dtype.type(-numpy.inf)
    query_step = 1 if mask.shape[0] > 1 else 0
    key_step = 1 if mask.shape[1] > 1 else 0
    for j in range(cols):
        key = k0 + j
        out = tile[j]
        for r in range(rows):
            i = q0 + r
            if (causal and key > i) or not mask[i * query_step, key * key_step]:
                out[r] = minus_inf


@numba.njit(cache=True, error_model="numpy")
def _tile_needs_mask(masked, causal, q0, k0, cols):
    """Whether a tile has keys to hide: any mask, or keys after its first query."""
    return masked or (causal and k0 + cols - 1 > q0)


# -- one (batch, head) --------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def _forward_head(q, k, v, mask, masked, scale, causal, block_q, block_k, out, logsumexp):
    len_q, dim = q.shape
    len_k, dim_v = v.shape
    dtype = q.dtype.type
    minus_inf, one = dtype(-numpy.inf), dtype(1)
    qt, vt = _transposed(q), _transposed(v)
    tile = numpy.empty((block_k, block_q), q.dtype)  # scores, keys by queries
    acc = numpy.empty((dim_v, block_q), q.dtype)  # the output, transposed
    running_max = numpy.empty(block_q, q.dtype)
    row_sum = numpy.empty(block_q, q.dtype)
    peak = numpy.empty(block_q, q.dtype)
    shift = numpy.empty(block_q, q.dtype)
    rescale = numpy.empty(block_q, q.dtype)
    for q0 in range(0, len_q, block_q):
        rows = min(block_q, len_q - q0)
        acc[:] = 0
        running_max[:] = minus_inf
        row_sum[:] = 0
        stop_k = min(len_k, q0 + rows) if causal else len_k
        for k0 in range(0, stop_k, block_k):
            cols = min(block_k, stop_k - k0)
            _gemm(k[k0 : k0 + cols], 0, qt, q0, tile[:cols], 0, dim, rows, scale, False)
            if _tile_needs_mask(masked, causal, q0, k0, cols):
                _mask_tile_transposed(tile, mask, causal, q0, rows, k0, cols)
            top = peak[:rows]
            for r in range(rows):
                top[r] = running_max[r]
            for j in range(cols):
                scores = tile[j, :rows]
                for r in range(rows):
                    score = scores[r]  # a select, not ``max``: see ``vector_math.row_max``
                    top[r] = score if score > top[r] else top[r]
            offset, factor, total = shift[:rows], rescale[:rows], row_sum[:rows]
            for r in range(rows):
                offset[r] = top[r] if top[r] != minus_inf else 0  # no key yet: exps all 0
                seen = top[r] != minus_inf
                factor[r] = exp_nonpositive(running_max[r] - offset[r]) if seen else one
                total[r] *= factor[r]
            for j in range(cols):
                scores = tile[j, :rows]
                for r in range(rows):
                    scores[r] = exp_nonpositive(scores[r] - offset[r])
                    total[r] += scores[r]
            for e in range(dim_v):
                acc_row = acc[e, :rows]
                for r in range(rows):
                    acc_row[r] *= factor[r]
            _gemm(vt, k0, tile[:cols], 0, acc, 0, cols, rows, one, True)
            for r in range(rows):
                running_max[r] = top[r]
        for r in range(rows):
            target = out[q0 + r]
            if row_sum[r] > 0:
                inverse = one / row_sum[r]
                for e in range(dim_v):
                    target[e] = acc[e, r] * inverse
                logsumexp[q0 + r] = running_max[r] + numpy.log(row_sum[r])
            else:
                target[:] = 0
                logsumexp[q0 + r] = minus_inf


@numba.njit(cache=True, error_model="numpy")
def _backward_head(
    grad, q, k, v, out, logsumexp, mask, masked, scale, causal, block_q, block_k, dq, dk, dv
):
    """The gradients accumulate transposed (``(dim, length)``): every product then runs
    along a tile's rows (``block_q`` or ``block_k`` long) rather than along ``dim``,
    which measured faster with heads of 32 (a loop of 32 floats is too short to
    amortize its vectorized loop's setup)."""
    len_q, dim = q.shape
    len_k, dim_v = v.shape
    minus_inf, one = q.dtype.type(-numpy.inf), q.dtype.type(1)
    qt, kt, vt, grad_t = _transposed(q), _transposed(k), _transposed(v), _transposed(grad)
    dq_t = numpy.zeros((dim, len_q), q.dtype)
    dk_t = numpy.zeros((dim, len_k), q.dtype)
    dv_t = numpy.zeros((dim_v, len_k), q.dtype)
    weights = numpy.empty((block_q, block_k), q.dtype)
    grad_scores = numpy.empty((block_q, block_k), q.dtype)
    transposed = numpy.empty((block_k, block_q), q.dtype)
    row_dot = numpy.empty(len_q, q.dtype)  # rowsum(dO * O), which equals rowsum(dP * P)
    for i in range(len_q):
        total = q.dtype.type(0)
        for e in range(dim_v):
            total += grad[i, e] * out[i, e]
        row_dot[i] = total
    for k0 in range(0, len_k, block_k):
        cols = min(block_k, len_k - k0)
        first_q = (k0 // block_q) * block_q if causal else 0
        for q0 in range(first_q, len_q, block_q):
            rows = min(block_q, len_q - q0)
            _gemm(q[q0 : q0 + rows], 0, kt, k0, weights[:rows], 0, dim, cols, scale, False)
            if _tile_needs_mask(masked, causal, q0, k0, cols):
                _mask_tile(weights, mask, causal, q0, rows, k0, cols)
            for r in range(rows):
                shift = logsumexp[q0 + r]
                if shift == minus_inf:  # a row with no key: no weight, no gradient
                    weights[r, :cols] = 0
                else:
                    _exp_shifted(weights[r, :cols], shift)
            _gemm(grad[q0 : q0 + rows], 0, vt, k0, grad_scores[:rows], 0, dim_v, cols, one, False)
            for r in range(rows):
                p, ds = weights[r, :cols], grad_scores[r, :cols]
                offset = row_dot[q0 + r]
                for j in range(cols):
                    ds[j] = p[j] * (ds[j] - offset) * scale
            _gemm(grad_t, q0, weights, 0, dv_t, k0, rows, cols, one, True)  # dV += P.T dO
            _gemm(qt, q0, grad_scores, 0, dk_t, k0, rows, cols, one, True)  # dK += dS.T Q
            _transpose_into(grad_scores, rows, cols, transposed)
            _gemm(kt, k0, transposed, 0, dq_t, q0, cols, rows, one, True)  # dQ += dS K
    _transpose_into(dq_t, dim, len_q, dq)
    _transpose_into(dk_t, dim, len_k, dk)
    _transpose_into(dv_t, dim_v, len_k, dv)


# -- entry points -------------------------------------------------------------------


@numba.njit(cache=True, error_model="numpy")
def _mask_plane(mask, b, h):
    """The ``(len_q or 1, len_k or 1)`` plane of ``mask`` for batch ``b`` and head ``h``."""
    return mask[b if mask.shape[0] > 1 else 0, h if mask.shape[1] > 1 else 0]


@numba.njit(cache=True, error_model="numpy", nogil=True)
def attention_forward(
    q, k, v, mask, masked, scale, causal, block_q, block_k, out, logsumexp, start, stop
):
    """Fill ``out`` and ``logsumexp`` (``(batch, heads, len_q)``) for the (batch, head) jobs
    ``start`` to ``stop`` (``job = b * heads + h``), one at a time.

    ``masked`` False means ``mask`` is all True (it is then not read). The GIL is
    released: disjoint job ranges run on several threads at once.
    """
    heads = q.shape[1]
    for job in range(start, stop):
        b, h = job // heads, job % heads
        _forward_head(
            q[b, h], k[b, h], v[b, h], _mask_plane(mask, b, h), masked, scale, causal,
            block_q, block_k, out[b, h], logsumexp[b, h],
        )  # fmt: skip


@numba.njit(cache=True, error_model="numpy", nogil=True)
def attention_backward(
    grad, q, k, v, out, logsumexp, mask, masked, scale, causal, block_q, block_k, dq, dk, dv,
    start, stop,
):  # fmt: skip
    """Fill ``dq``, ``dk`` and ``dv`` for the jobs ``start`` to ``stop``, as the forward."""
    heads = q.shape[1]
    for job in range(start, stop):
        b, h = job // heads, job % heads
        _backward_head(
            grad[b, h], q[b, h], k[b, h], v[b, h], out[b, h], logsumexp[b, h],
            _mask_plane(mask, b, h), masked, scale, causal, block_q, block_k,
            dq[b, h], dk[b, h], dv[b, h],
        )  # fmt: skip


# -- row panels: the softmax of whole score rows, the products left to BLAS -------------


@numba.njit(cache=True, error_model="numpy")
def _visible_scores(row, scale, shift, plane, hide, causal, query):
    """``row = row * scale - shift``, and ``-inf`` for the keys ``query`` may not see
    (``plane``: its mask plane, read only when ``hide``)."""
    for j in range(row.size):
        row[j] = row[j] * scale - shift
    if not hide:
        return
    minus_inf = row.dtype.type(-numpy.inf)
    allowed = plane[query if plane.shape[0] > 1 else 0]
    key_step = 1 if plane.shape[1] > 1 else 0
    for j in range(row.size):
        if (causal and j > query) or not allowed[j * key_step]:
            row[j] = minus_inf


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def _row_sum(row):
    """The sum of ``row``, in whatever order vectorizes (the only fast-math flag here)."""
    total = row.dtype.type(0)
    for j in range(row.size):
        total += row[j]
    return total


@numba.njit(cache=True, error_model="numpy", nogil=True)
def softmax_panel(scores, mask, masked, causal, scale, b0, q0, logsumexp):
    """Turn ``scores`` (``(batches, heads, rows, len_k)``, the products ``q @ k.T`` of
    batches ``b0...`` and queries ``q0...``) into softmax weights in place, and fill
    their ``logsumexp`` (``(batch, heads, len_q)``). A row with no key gets zero weights
    and ``-inf``."""
    batches, heads, rows, len_k = scores.shape
    minus_inf, zero = scores.dtype.type(-numpy.inf), scores.dtype.type(0)
    for i in range(batches):
        for h in range(heads):
            plane = _mask_plane(mask, b0 + i, h)
            for r in range(rows):
                row, query = scores[i, h, r], q0 + r
                _visible_scores(row, scale, zero, plane, masked or causal, causal, query)
                top = row_max(row)
                if top == minus_inf:
                    row[:] = 0
                    logsumexp[b0 + i, h, query] = minus_inf
                    continue
                for j in range(len_k):
                    row[j] = exp_nonpositive(row[j] - top)
                total = _row_sum(row)
                inverse = scores.dtype.type(1) / total
                for j in range(len_k):
                    row[j] *= inverse
                logsumexp[b0 + i, h, query] = top + numpy.log(total)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def weights_panel(scores, mask, masked, causal, scale, b0, q0, logsumexp):
    """Turn ``scores`` into the forward's softmax weights in place, from its ``logsumexp``
    (``exp(score * scale - logsumexp)``; zero for hidden keys and rows with none)."""
    batches, heads, rows, len_k = scores.shape
    minus_inf = scores.dtype.type(-numpy.inf)
    for i in range(batches):
        for h in range(heads):
            plane = _mask_plane(mask, b0 + i, h)
            for r in range(rows):
                row, query = scores[i, h, r], q0 + r
                shift = logsumexp[b0 + i, h, query]
                if shift == minus_inf:
                    row[:] = 0
                    continue
                _visible_scores(row, scale, shift, plane, masked or causal, causal, query)
                for j in range(len_k):
                    row[j] = exp_nonpositive(row[j])


@numba.njit(cache=True, error_model="numpy", nogil=True)
def grad_scores_panel(weights, grad_weights, grad, out, scale):
    """``grad_weights = weights * (grad_weights - rowsum(grad * out)) * scale`` in place:
    the gradient of the scaled scores (``grad`` and ``out``: the panel's rows of the
    output's gradient and of the output; ``rowsum(dO * O)`` equals ``rowsum(dP * P)``)."""
    batches, heads, rows, len_k = weights.shape
    for i in range(batches):
        for h in range(heads):
            for r in range(rows):
                p, ds = weights[i, h, r], grad_weights[i, h, r]
                g, o = grad[i, h, r], out[i, h, r]
                offset = weights.dtype.type(0)
                for e in range(g.size):
                    offset += g[e] * o[e]
                for j in range(len_k):
                    ds[j] = p[j] * (ds[j] - offset) * scale
