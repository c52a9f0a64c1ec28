"""The numba backend's fused attention: the blocked kernels of ``numba_kernels/attention.py``.

A mixin of ``NumbaBackend``. Memory is linear in the sequence lengths (the
generic kernels hold the ``len_q x len_k`` scores, and backward four arrays of
that size). The (batch, head) jobs are split over the backend's kernel pool
(``thread_pool.run_blocks``), whose sleeping workers do not fight BLAS for the
cores as Numba's ``prange`` workers did (a ``prange`` measured up to 20x slower
at length 256 when the other core was busy). A block holds at least
``MIN_BLOCK_MACS`` multiply-adds, so small inputs stay on the calling thread.
Measured at W6's shapes (batch 32, 2 heads of dim 32, length 128, heads-first
views), forward + backward with the layer's reshapes, medians of 15
alternating rounds against the serial, copying version: 23.4 against 25.3 ms
on 2 threads and 22.1 against 24.9 ms of CPU on one, on the 2-core machine
under a load average of 4 from other processes (an idle-machine figure is
still to be taken).
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
        args = (
            q, k, v, *plan, q.dtype.type(attention_scale(dim, scale)), bool(causal),
            *FORWARD_BLOCKS, out, logsumexp,
        )  # fmt: skip
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
        args = (
            grad, q, k, v, out, numpy.ascontiguousarray(logsumexp), *plan,
            q.dtype.type(attention_scale(q.shape[3], scale)), bool(causal), *BACKWARD_BLOCKS,
            dq, dk, dv,
        )  # fmt: skip
        _run_jobs(self._attention.attention_backward, args, q, k, v)
        return dq, dk, dv
