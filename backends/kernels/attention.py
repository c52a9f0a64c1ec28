"""Scaled dot-product attention: ``softmax(q @ k.T * scale) @ v`` over the last two axes.

Shapes: ``q`` is ``(batch, heads, len_q, dim)``, ``k`` ``(batch, heads, len_k,
dim)`` and ``v`` ``(batch, heads, len_k, dim_v)``; the output is ``(batch,
heads, len_q, dim_v)``. ``scale`` defaults to ``1 / sqrt(dim)``.

Which keys a query sees: ``mask`` is None or a boolean array broadcastable to
``(batch, heads, len_q, len_k)``, True where query ``i`` may attend to key
``j``; ``causal`` adds ``j <= i`` (aligned at the top left, as Keras's
``use_causal_mask`` and PyTorch's ``is_causal``). Both together mean both.

A query row whose keys are all masked has an output of zeros, a logsumexp of
``-inf`` and zero gradients, never NaN: FlashAttention's and PyTorch's fused
kernels' answer. Keras's ``dot_product_attention`` gives such a row uniform
weights instead; ``engine.functional.scaled_dot_product_attention`` builds
that on top of these kernels (``empty_rows="uniform"``).

The forward returns ``(out, logsumexp)``: ``logsumexp`` (``(batch, heads,
len_q)``) is ``log(sum_j exp(score_ij))`` over the attended keys, all the
backward needs to rebuild the softmax without storing it. A fused backend
(Numba, CUDA) computes both a block of keys at a time (online softmax, as
FlashAttention does) and never holds the ``len_q x len_k`` scores; this
reference does, so its memory grows with ``len_q * len_k``.
"""

import math

import numpy


def attention_scale(dim: int, scale=None) -> float:
    """The factor on the scores: ``scale``, or ``1 / sqrt(dim)`` when it is None."""
    return 1.0 / math.sqrt(dim) if scale is None else float(scale)


def as_4d_mask(mask):
    """``mask`` with leading axes of length 1 added up to four (a view), or None."""
    if mask is None or mask.ndim == 4:
        return mask
    return mask.reshape((1,) * (4 - mask.ndim) + mask.shape)


class AttentionKernels:
    xp = numpy

    def _allowed_keys(self, mask, causal: bool, len_q: int, len_k: int):
        """The boolean ``(..., len_q, len_k)`` array of attended keys, or None for all."""
        xp = self.xp
        allowed = None if mask is None else mask.astype(bool, copy=False)
        if causal:
            lower = xp.arange(len_k)[None, :] <= xp.arange(len_q)[:, None]
            allowed = lower if allowed is None else allowed & lower
        return allowed

    def _attention_weights(self, q, k, mask, scale, causal, logsumexp=None):
        """The softmax weights ``(batch, heads, len_q, len_k)`` and, without ``logsumexp``, it."""
        xp = self.xp
        factor = q.dtype.type(attention_scale(q.shape[-1], scale))
        scores = xp.matmul(q, xp.swapaxes(k, -1, -2)) * factor
        allowed = self._allowed_keys(mask, causal, q.shape[-2], k.shape[-2])
        if allowed is not None:
            scores = xp.where(allowed, scores, scores.dtype.type(-numpy.inf))
        if logsumexp is not None:
            # -inf (a row with no keys) would give exp(-inf + inf): its weights are zero anyway
            finite = xp.where(xp.isfinite(logsumexp), logsumexp, 0)
            return xp.exp(scores - finite[..., None])
        peak = scores.max(axis=-1, keepdims=True)
        peak = xp.where(xp.isfinite(peak), peak, 0)
        weights = xp.exp(scores - peak)
        total = weights.sum(axis=-1, keepdims=True)
        attended = total > 0
        weights /= xp.where(attended, total, 1)
        logsumexp = xp.where(attended, xp.log(xp.where(attended, total, 1)) + peak, -numpy.inf)
        return weights, logsumexp[..., 0].astype(q.dtype, copy=False)

    def attention_forward(self, q, k, v, mask=None, scale=None, causal: bool = False):
        """``(out, logsumexp)`` of scaled dot-product attention (see the module docstring)."""
        weights, logsumexp = self._attention_weights(q, k, mask, scale, causal)
        return self.xp.matmul(weights, v), logsumexp

    def attention_backward(
        self, grad, q, k, v, out, logsumexp, mask=None, scale=None, causal: bool = False
    ):
        """``(dq, dk, dv)`` from the gradient of ``out`` and the forward's ``out, logsumexp``."""
        xp = self.xp
        weights = self._attention_weights(q, k, mask, scale, causal, logsumexp)
        grad_v = xp.matmul(xp.swapaxes(weights, -1, -2), grad)
        grad_weights = xp.matmul(grad, xp.swapaxes(v, -1, -2))
        # softmax backward: dS = P * (dP - rowsum(dP * P)), and rowsum(dP * P) = rowsum(dO * O)
        row_dot = (grad * out).sum(axis=-1, keepdims=True)
        factor = q.dtype.type(attention_scale(q.shape[-1], scale))
        grad_scores = weights * (grad_weights - row_dot) * factor
        grad_q = xp.matmul(grad_scores, k)
        grad_k = xp.matmul(xp.swapaxes(grad_scores, -1, -2), q)
        return grad_q, grad_k, grad_v
