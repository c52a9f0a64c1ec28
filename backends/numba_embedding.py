"""The numba backend's embedding override: the table gradient as one scatter-add pass.

A mixin of ``NumbaBackend``; indices out of range go to the NumPy reference,
which raises NumPy's error.
"""

import numpy

from .numba_dispatch import _jit_dtype


class EmbeddingOverrides:
    """Needs the ``self._embedding`` kernel module."""

    def embedding_backward(self, indices, grad, input_dim: int):
        if (
            _jit_dtype(grad) is None
            or type(indices) is not numpy.ndarray
            or indices.dtype.kind not in "iu"
            or grad.shape[:-1] != indices.shape
        ):
            return super().embedding_backward(indices, grad, input_dim)
        rows = numpy.ascontiguousarray(indices, dtype=numpy.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= input_dim):
            return super().embedding_backward(indices, grad, input_dim)  # NumPy's error
        output_dim = grad.shape[-1]
        table_grad = numpy.zeros((input_dim, output_dim), dtype=grad.dtype)
        self._embedding.embedding_backward(
            rows, numpy.ascontiguousarray(grad).reshape(-1, output_dim), table_grad
        )
        return table_grad
