"""The embedding lookup: a row gather whose gradient is a scatter-add."""

from ..tensor import Function, Tensor, apply


class EmbeddingLookup(Function):
    """Rows of the table at integer indices (the indices carry no gradient)."""

    def __init__(self, indices):
        self.indices = indices

    def forward(self, table):
        self.input_dim = table.shape[0]
        return self.backend.embedding_forward(self.indices, table)

    def backward(self, grad):
        return (self.backend.embedding_backward(self.indices, grad, self.input_dim),)


def embedding(indices, table: Tensor) -> Tensor:
    """``table[indices]``; ``indices`` is an integer tensor or array of any shape.

    Indices are not range-checked here (the ``Embedding`` layer does it).
    """
    if isinstance(indices, Tensor):
        indices = indices.data
    return apply(EmbeddingLookup(indices), table)
