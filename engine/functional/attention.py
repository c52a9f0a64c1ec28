"""Scaled dot-product attention as one op on the backends' fused attention kernels."""

import numpy

from ..tensor import Function, Tensor, apply
from .math import where
from .reduction import mean


class ScaledDotProductAttention(Function):
    """``softmax(query @ key.T * scale, masked) @ value``; gradients for all three inputs.

    Saves the inputs, the output and the per-row logsumexp: the backward
    kernels rebuild the softmax from them, so nothing of size ``len_q x len_k``
    outlives the forward (none is made at all on the numba and cupy backends).
    """

    def __init__(self, mask, scale, causal: bool):
        self.mask, self.scale, self.causal = mask, scale, causal

    def forward(self, query, key, value):
        out, logsumexp = self.backend.attention_forward(
            query, key, value, self.mask, self.scale, self.causal
        )
        if True in self.needs_input_grad:
            self.saved = (query, key, value, out, logsumexp)
        return out

    def backward(self, grad):
        query, key, value, out, logsumexp = self.saved
        grads = self.backend.attention_backward(
            grad, query, key, value, out, logsumexp, self.mask, self.scale, self.causal
        )
        return tuple(g if need else None for g, need in zip(grads, self.needs_input_grad))


def _check_inputs(query: Tensor, key: Tensor, value: Tensor) -> None:
    shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
    if not query.ndim == key.ndim == value.ndim == 4:
        raise ValueError(
            f"scaled_dot_product_attention takes (batch, heads, length, dim) tensors; got {shapes}."
        )
    if query.shape[:2] != key.shape[:2] or key.shape[:3] != value.shape[:3]:
        raise ValueError(
            "scaled_dot_product_attention: query, key and value need the same batch and "
            f"heads, and key and value the same length; got {shapes}."
        )
    if query.shape[3] != key.shape[3] or query.shape[3] == 0:
        raise ValueError(
            "scaled_dot_product_attention: query and key need the same nonzero last "
            f"dimension; got {shapes}."
        )
    dtypes = {t.data.dtype for t in (query, key, value)}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
        names = ", ".join(str(t.data.dtype) for t in (query, key, value))
        raise TypeError(
            f"scaled_dot_product_attention needs one float dtype for query, key and value; "
            f"got {names}."
        )


def _mask_array(mask, query: Tensor, key: Tensor):
    """``mask`` as a boolean array on the query's backend, checked against the scores' shape."""
    backend = query.backend
    data = mask.data if isinstance(mask, Tensor) else mask
    if not backend.is_native(data):
        data = backend.asarray(data)
    if data.dtype != bool:
        data = data != 0
    scores = (*query.shape[:3], key.shape[2])
    if data.ndim > 4 or any(m not in (1, s) for m, s in zip(data.shape[::-1], scores[::-1])):
        raise ValueError(
            f"scaled_dot_product_attention: mask of shape {tuple(data.shape)} does not "
            f"broadcast to the scores' shape (batch, heads, len_q, len_k) = {scores}."
        )
    return data


def _rows_without_keys(xp, mask, causal: bool, len_q: int, len_k: int):
    """A boolean array, True on the query rows that ``mask`` (and ``causal``) leave no key
    (shaped as the mask with its key axis 1); None where a host mask shows that there are
    none (a device mask is not asked: that would wait for the device)."""
    allowed = mask
    if causal:
        allowed = allowed & (xp.arange(len_k)[None, :] <= xp.arange(len_q)[:, None])
    empty = ~allowed.any(axis=-1, keepdims=True)
    if type(empty) is numpy.ndarray and not empty.any():
        return None
    return empty


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask=None,
    scale: float | None = None,
    is_causal: bool = False,
    empty_rows: str = "zeros",
) -> Tensor:
    """``softmax(query @ key.T * scale) @ value`` over ``(batch, heads, length, dim)`` tensors.

    ``value`` may have its own last dimension; the output is ``(batch, heads,
    len_q, value_dim)``. ``scale`` defaults to ``1 / sqrt(dim)``. ``mask`` (a
    boolean tensor or array broadcastable to ``(batch, heads, len_q, len_k)``,
    True where a query may attend to a key; nonzero numbers count as True)
    and ``is_causal`` (key ``j`` only for queries ``i >= j``, aligned at the
    first position as in Keras and PyTorch) combine with AND.

    A query whose keys are all masked gets zeros and zero gradients with
    ``empty_rows="zeros"`` (FlashAttention's and PyTorch's fused kernels' answer,
    and Keras's ``Softmax``-layer path); with ``empty_rows="uniform"`` it gets
    uniform weights over every key, so the mean of ``value``, as Keras 3's
    ``ops.dot_product_attention`` gives (it replaces masked scores by a large
    negative number, which leaves such a row all equal). Its gradient then goes
    to ``value`` only: the masked scores are constants, as in Keras on JAX.

    One op on the backend's fused kernels (``backends/kernels/attention.py``):
    on numba and cupy its memory grows linearly with the sequence lengths.
    """
    _check_inputs(query, key, value)
    if empty_rows not in ("zeros", "uniform"):
        raise ValueError(
            f"scaled_dot_product_attention: empty_rows must be 'zeros' or 'uniform'; got "
            f"{empty_rows!r}."
        )
    mask = None if mask is None else _mask_array(mask, query, key)
    scale = None if scale is None else float(scale)
    out = apply(ScaledDotProductAttention(mask, scale, bool(is_causal)), query, key, value)
    if empty_rows == "zeros" or mask is None:  # causal alone leaves every row key 0
        return out
    xp, len_q, len_k = query.backend.xp, query.shape[2], key.shape[2]
    empty = _rows_without_keys(xp, mask, bool(is_causal), len_q, len_k)
    if empty is None:
        return out
    return where(empty, mean(value, axis=2, keepdims=True), out)
