"""Embedding kernels: a row gather and its scatter-add gradient."""

import numpy


class EmbeddingKernels:
    xp = numpy

    def embedding_forward(self, indices, table):
        """Rows of ``table`` (input_dim, output_dim) at integer ``indices`` of any shape.

        Returns an array of shape ``indices.shape + (output_dim,)``. Indices are
        assumed in range; the layer checks them.
        """
        return self.xp.take(table, indices, axis=0)

    def embedding_backward(self, indices, grad, input_dim: int):
        """Gradient of the table: ``grad`` rows summed into the rows ``indices`` picked.

        ``grad`` has shape ``indices.shape + (output_dim,)``; repeated indices add up.
        """
        xp = self.xp
        output_dim = grad.shape[-1]
        table_grad = xp.zeros((input_dim, output_dim), dtype=grad.dtype)
        xp.add.at(table_grad, indices.reshape(-1), grad.reshape(-1, output_dim))
        return table_grad
