"""Embedding gradient: a scatter-add with atomics instead of materializing ``add.at``."""

from numba import cuda


@cuda.jit
def embedding_backward(indices, grad, table_grad):
    """``table_grad[indices[r], :] += grad[r, :]`` for every row ``r``; repeats add up."""
    rows, width = grad.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < rows * width:
        row = index // width
        col = index - row * width
        cuda.atomic.add(table_grad, (indices[row], col), grad[row, col])
        index += stride
