"""The numba backend's fused attention: row panels, or the blocked kernels of
``numba_kernels/attention.py`` for long keys.

A mixin of ``NumbaBackend``. Memory is linear in the sequence lengths (the
generic kernels hold the ``len_q x len_k`` scores, and backward four arrays of
that size). Batch rows (panels) or (batch, head) jobs (tiles) are split over
the backend's kernel pool (``thread_pool.run_blocks``), whose sleeping workers
do not fight BLAS for the cores as Numba's ``prange`` workers did (a
``prange`` measured up to 20x slower at length 256 when the other core was
busy). A block holds at least ``MIN_BLOCK_MACS`` multiply-adds, so small
inputs stay on the calling thread.

Two paths, both linear in memory:

- Keys up to ``PANEL_MAX_KEYS``: row panels. For ``PANEL_ROWS`` queries of a
  few batch rows at a time, BLAS computes the whole rows of scores
  (``PANEL_ROWS x len_k`` per head), a Numba kernel turns them into softmax
  weights in place, and BLAS multiplies them by ``v``; the backward rebuilds
  the weights from the logsumexp and runs its four products the same way.
  A panel is at most ``PANEL_SCORES`` scores or one batch row's, so it grows
  with ``len_k`` alone. At W6's shapes (batch 32, 2 heads of 32, length 128,
  heads-first views) forward + backward took 18.1 ms on one thread against
  21.5 for the tiles, and 11.8 against 14.0 on two (PyTorch's fused kernel:
  18.6 and 12.1).
- Longer keys: the blocked online-softmax kernels of
  ``numba_kernels/attention.py``, one (batch, head) job at a time, one
  ``block_q x block_k`` tile of scores each.

The kernels read their inputs with any strides over the first three axes
(the (batch, length, heads, dim) projections an attention layer transposes to
heads first are not copied), and the outputs and gradients take the layout of
``q``, ``k`` and ``v``: the layer's transpose back is then contiguous, and so
free to reshape. Inputs the kernels do not cover (other dtypes, empty dimensions, a mask that
does not broadcast) go to the NumPy reference through ``super()``.
"""

import numpy

from . import thread_pool
from .kernels.attention import as_4d_mask, attention_scale
from .numba_dispatch import _jit_dtype

#: queries by keys per tile, forward and backward (measured best of 32-128 by 64-128;
#: a tile of float64 scores takes 64-128 KiB, within L2)
FORWARD_BLOCKS = (128, 128)
BACKWARD_BLOCKS = (64, 128)

#: a job of fewer multiply-adds than this shares a block (a hand-off costs ~20 us)
MIN_BLOCK_MACS = 500_000

#: keys up to this many go by row panels (``_panel_forward``): whole rows of scores,
#: ``PANEL_ROWS`` queries at a time, the products by BLAS. Measured on one thread (2
#: heads of 32, float32, forward + backward): 9.4 against 11.2 ms at length 128, 27
#: against 38 at 512, 145 against 168 at 2048; causal masks alike or better.
PANEL_MAX_KEYS = 2048
PANEL_ROWS = 128
#: scores in one panel, over as many batch rows as fit (at least one): 256 KiB of float32
PANEL_SCORES = 65_536

_NO_MASK = numpy.ones((1, 1, 1, 1), dtype=bool)


def _kernel_mask(mask, q, k):
    """``(mask, masked)`` as the kernels take them, or None when ``mask`` does not fit."""
    if mask is None:
        return _NO_MASK, False
    if type(mask) is not numpy.ndarray or mask.ndim > 4:
        return None
    mask = as_4d_mask(mask)
    target = (*q.shape[:3], k.shape[2])
    if any(m not in (1, t) for m, t in zip(mask.shape, target)):
        return None
    return numpy.ascontiguousarray(mask, dtype=bool), True


def _rows_contiguous(array):
    """``array`` itself when its last axis is contiguous, else a C-contiguous copy."""
    if array.strides[-1] == array.itemsize or array.shape[-1] <= 1:
        return array
    return numpy.ascontiguousarray(array)


def _run_jobs(kernel, args, q, k, v):
    """``kernel(*args, start, stop)`` over the (batch, head) jobs, split over the pool."""
    batch, heads, len_q, dim = q.shape
    job_macs = len_q * k.shape[2] * (dim + v.shape[3])
    min_block = -(-MIN_BLOCK_MACS // job_macs)
    thread_pool.run_blocks(kernel, *args, count=batch * heads, min_block=min_block)


def _panel_plan(q, k):
    """``(rows, batches)``: queries and batch rows per panel, within ``PANEL_SCORES``."""
    heads, len_q, len_k = q.shape[1], q.shape[2], k.shape[2]
    rows = min(PANEL_ROWS, len_q)
    return rows, max(1, PANEL_SCORES // (heads * rows * len_k))


def _panel_forward(kernels, q, k, v, mask, masked, scale, causal, out, logsumexp, start, stop):
    """The forward of batch rows ``start`` to ``stop``: for each panel of queries, their
    whole rows of scores by BLAS, the softmax in place (Numba), the output by BLAS."""
    rows, batches = _panel_plan(q, k)
    len_q, len_k = q.shape[2], k.shape[2]
    for b0 in range(start, stop, batches):
        b1 = min(stop, b0 + batches)
        for q0 in range(0, len_q, rows):
            q1 = min(len_q, q0 + rows)
            keys = min(len_k, q1) if causal else len_k  # later keys are hidden from all
            scores = numpy.matmul(q[b0:b1, :, q0:q1], k[b0:b1, :, :keys].swapaxes(-1, -2))
            kernels.softmax_panel(scores, mask, masked, causal, scale, b0, q0, logsumexp)
            out[b0:b1, :, q0:q1] = numpy.matmul(scores, v[b0:b1, :, :keys])


def _panel_backward(
    kernels, grad, q, k, v, out, logsumexp, mask, masked, scale, causal, dq, dk, dv, start, stop
):
    """The backward of batch rows ``start`` to ``stop``, panel by panel as the forward,
    the weights rebuilt from ``logsumexp``."""
    rows, batches = _panel_plan(q, k)
    len_q, len_k = q.shape[2], k.shape[2]
    whole = len_q <= rows and not causal  # one panel covers every key's gradient
    for b0 in range(start, stop, batches):
        b1 = min(stop, b0 + batches)
        if whole:
            grad_k, grad_v = dk[b0:b1], dv[b0:b1]
        else:
            grad_k, grad_v = numpy.zeros_like(dk[b0:b1]), numpy.zeros_like(dv[b0:b1])
        for q0 in range(0, len_q, rows):
            q1 = min(len_q, q0 + rows)
            keys = min(len_k, q1) if causal else len_k
            queries, grads = q[b0:b1, :, q0:q1], grad[b0:b1, :, q0:q1]
            keys_b, values = k[b0:b1, :, :keys], v[b0:b1, :, :keys]
            weights = numpy.matmul(queries, keys_b.swapaxes(-1, -2))
            kernels.weights_panel(weights, mask, masked, causal, scale, b0, q0, logsumexp)
            grad_weights = numpy.matmul(grads, values.swapaxes(-1, -2))
            kernels.grad_scores_panel(weights, grad_weights, grads, out[b0:b1, :, q0:q1], scale)
            dq[b0:b1, :, q0:q1] = numpy.matmul(grad_weights, keys_b)
            if whole:
                grad_v[...] = numpy.matmul(weights.swapaxes(-1, -2), grads)
                grad_k[...] = numpy.matmul(grad_weights.swapaxes(-1, -2), queries)
            else:
                grad_v[:, :, :keys] += numpy.matmul(weights.swapaxes(-1, -2), grads)
                grad_k[:, :, :keys] += numpy.matmul(grad_weights.swapaxes(-1, -2), queries)
        if not whole:
            dk[b0:b1], dv[b0:b1] = grad_k, grad_v


def _run_panels(function, args, q, k, v):
    """``function(*args, start, stop)`` over batch rows, split over the pool."""
    batch, heads, len_q, dim = q.shape
    batch_macs = heads * len_q * k.shape[2] * (dim + v.shape[3])
    min_block = -(-MIN_BLOCK_MACS // batch_macs)
    thread_pool.run_blocks(function, *args, count=batch, min_block=min_block)


class AttentionOverrides:
    """Needs ``self._attention``, the kernel module."""

    @staticmethod
    def _attention_plan(q, k, v, mask, *others):
        """``(mask, masked)`` for the kernels, or None to fall back."""
        if _jit_dtype(q, k, v, *others) is None or not q.ndim == k.ndim == v.ndim == 4:
            return None
        batch, heads, _, dim = q.shape
        if k.shape[:2] != (batch, heads) or k.shape[3] != dim or v.shape[:3] != k.shape[:3]:
            return None
        if dim == 0 or v.shape[3] == 0:
            return None
        return _kernel_mask(mask, q, k)

    def attention_forward(self, q, k, v, mask=None, scale=None, causal: bool = False):
        plan = self._attention_plan(q, k, v, mask)
        if plan is None:
            return super().attention_forward(q, k, v, mask, scale, causal)
        batch, heads, len_q, dim = q.shape
        q, k, v = (_rows_contiguous(a) for a in (q, k, v))
        out = numpy.empty_like(q, shape=(batch, heads, len_q, v.shape[3]))
        logsumexp = numpy.empty((batch, heads, len_q), q.dtype)
        factor = q.dtype.type(attention_scale(dim, scale))
        if k.shape[2] <= PANEL_MAX_KEYS:
            args = (self._attention, q, k, v, *plan, factor, bool(causal), out, logsumexp)
            _run_panels(_panel_forward, args, q, k, v)
            return out, logsumexp
        args = (q, k, v, *plan, factor, bool(causal), *FORWARD_BLOCKS, out, logsumexp)
        _run_jobs(self._attention.attention_forward, args, q, k, v)
        return out, logsumexp

    def attention_backward(
        self, grad, q, k, v, out, logsumexp, mask=None, scale=None, causal: bool = False
    ):
        plan = self._attention_plan(q, k, v, mask, grad, out, logsumexp)
        if plan is None or grad.shape != out.shape or logsumexp.shape != q.shape[:3]:
            return super().attention_backward(grad, q, k, v, out, logsumexp, mask, scale, causal)
        grad, q, k, v, out = (_rows_contiguous(a) for a in (grad, q, k, v, out))
        dq, dk, dv = (numpy.empty_like(a) for a in (q, k, v))
        logsumexp = numpy.ascontiguousarray(logsumexp)
        factor = q.dtype.type(attention_scale(q.shape[3], scale))
        if k.shape[2] <= PANEL_MAX_KEYS:
            args = (self._attention, grad, q, k, v, out, logsumexp, *plan, factor, bool(causal))
            _run_panels(_panel_backward, (*args, dq, dk, dv), q, k, v)
            return dq, dk, dv
        args = (grad, q, k, v, out, logsumexp, *plan, factor, bool(causal), *BACKWARD_BLOCKS)
        _run_jobs(self._attention.attention_backward, (*args, dq, dk, dv), q, k, v)
        return dq, dk, dv
