"""The numba backend's fused attention: the blocked kernels of ``numba_kernels/attention.py``.

A mixin of ``NumbaBackend``. Memory is linear in the sequence lengths (the
generic kernels hold the ``len_q x len_k`` scores, and backward four arrays of
that size). The (batch, head) jobs run on one thread. A ``prange`` over them
was measured on the 2-core machine shared with other processes (three runs of
15 interleaved repeats, median wall time, 2 heads of dim 32): at length 1024 it
ran the backward 1.2-1.7x faster when a core was free, but at length 256 it was
up to 20x slower (22.8 against 1.1 ms forward) when the other core was busy:
its workers wait for a core. Serial is the predictable choice, as in the other
kernels, whose threads would also compete with OpenBLAS's in training.
Inputs the kernels do not cover (other dtypes, empty dimensions, a mask that
does not broadcast) go to the NumPy reference through ``super()``.
"""

import numpy

from .kernels.attention import as_4d_mask, attention_scale
from .numba_dispatch import _jit_dtype

#: queries by keys per tile, forward and backward (measured best of 32-128 by 64-128;
#: a tile of float64 scores takes 64-128 KiB, within L2)
FORWARD_BLOCKS = (128, 128)
BACKWARD_BLOCKS = (64, 128)

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
        out = numpy.empty((batch, heads, len_q, v.shape[3]), q.dtype)
        logsumexp = numpy.empty((batch, heads, len_q), q.dtype)
        self._attention.attention_forward(
            *(numpy.ascontiguousarray(a) for a in (q, k, v)), *plan,
            q.dtype.type(attention_scale(dim, scale)), bool(causal), *FORWARD_BLOCKS,
            out, logsumexp,
        )  # fmt: skip
        return out, logsumexp

    def attention_backward(
        self, grad, q, k, v, out, logsumexp, mask=None, scale=None, causal: bool = False
    ):
        plan = self._attention_plan(q, k, v, mask, grad, out, logsumexp)
        if plan is None or grad.shape != out.shape or logsumexp.shape != q.shape[:3]:
            return super().attention_backward(grad, q, k, v, out, logsumexp, mask, scale, causal)
        dq, dk, dv = (numpy.empty(a.shape, q.dtype) for a in (q, k, v))
        arrays = (grad, q, k, v, out, logsumexp)
        self._attention.attention_backward(
            *(numpy.ascontiguousarray(a) for a in arrays), *plan,
            q.dtype.type(attention_scale(q.shape[3], scale)), bool(causal), *BACKWARD_BLOCKS,
            dq, dk, dv,
        )  # fmt: skip
        return dq, dk, dv
