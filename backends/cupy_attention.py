"""The cupy backend's fused attention: the CUDA kernels of ``cuda_kernels/attention.py``.

A mixin of ``CupyBackend``. The generic kernels hold the ``len_q x len_k``
scores (and, backward, four arrays of that size) in device memory; these keep
one row's worth per thread. Inputs the kernels do not cover (other dtypes,
heads wider than ``MAX_HEAD_DIM``, empty dimensions) go to the generic
kernels through ``super()``. The kernel module is imported, and its kernels
compiled, on first use.
"""

from .kernels.attention import as_4d_mask, attention_scale


class CudaAttentionOverrides:
    """Needs ``self.xp``, ``self._launch`` and ``self._floats`` from ``CupyBackend``."""

    @staticmethod
    def _attention_kernels(dtype):
        """``(forward, backward_query, backward_key)`` for ``dtype`` (compiled on first use)."""
        from .cuda_kernels.attention import kernels

        return kernels(dtype.name)

    def _fused_attention_inputs(self, q, k, v, mask, *others):
        """``(q, k, v, mask, masked, *others)`` made contiguous, or None to fall back."""
        from .cuda_kernels.attention import MAX_HEAD_DIM

        if not self._floats(q, k, v, *others) or q.ndim != 4 or 0 in q.shape:
            return None
        if k.shape[-1] == 0 or v.shape[-1] == 0:
            return None
        if max(q.shape[-1], v.shape[-1]) > MAX_HEAD_DIM:
            return None
        xp = self.xp
        if mask is None:
            mask, masked = xp.ones((1, 1, 1, 1), dtype=bool), False
        else:
            mask, masked = xp.ascontiguousarray(as_4d_mask(mask), dtype=bool), True
        arrays = [xp.ascontiguousarray(a) for a in (q, k, v, *others)]
        return (*arrays[:3], mask, masked, *arrays[3:])

    def attention_forward(self, q, k, v, mask=None, scale=None, causal: bool = False):
        fused = self._fused_attention_inputs(q, k, v, mask)
        if fused is None:
            return super().attention_forward(q, k, v, mask, scale, causal)
        q, k, v, mask, masked = fused
        batch, heads, len_q, _ = q.shape
        forward = self._attention_kernels(q.dtype)[0]
        out = self.xp.empty((batch, heads, len_q, v.shape[-1]), dtype=q.dtype)
        logsumexp = self.xp.empty((batch, heads, len_q), dtype=q.dtype)
        factor = q.dtype.type(attention_scale(q.shape[-1], scale))
        self._launch(
            forward, batch * heads * len_q, q, k, v, mask, masked, factor, bool(causal),
            out, logsumexp,
        )  # fmt: skip
        return out, logsumexp

    def attention_backward(
        self, grad, q, k, v, out, logsumexp, mask=None, scale=None, causal: bool = False
    ):
        fused = self._fused_attention_inputs(q, k, v, mask, grad, out, logsumexp)
        if fused is None:
            return super().attention_backward(grad, q, k, v, out, logsumexp, mask, scale, causal)
        q, k, v, mask, masked, grad, out, logsumexp = fused
        _, backward_query, backward_key = self._attention_kernels(q.dtype)
        row_dot = (grad * out).sum(axis=-1)
        factor = q.dtype.type(attention_scale(q.shape[-1], scale))
        xp = self.xp
        dq, dk, dv = xp.empty_like(q), xp.empty_like(k), xp.empty_like(v)
        shared = (grad, q, k, v, logsumexp, row_dot, mask, masked, factor, bool(causal))
        self._launch(backward_query, q.shape[0] * q.shape[1] * q.shape[2], *shared, dq)
        self._launch(backward_key, k.shape[0] * k.shape[1] * k.shape[2], *shared, dk, dv)
        return dq, dk, dv
