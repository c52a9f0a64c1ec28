"""Inverted dropout as one op, its mask drawn in ``forward``.

The mask is the backend's (``dropout_mask``: zeros and ``1 / (1 - rate)``), drawn when
the op runs, so that a taped training forward (``models/replay.py``) draws a new one
at each replay, from the same generator and in the same order as the layers would.
The arithmetic is ``multiply``'s: ``x * mask``, and ``grad * mask`` back.
"""

from ..tensor import Function, Tensor, apply
from ._util import unbroadcast
from .shape import sum_to


class Dropout(Function):
    def __init__(self, rate: float, mask_shape: tuple):
        self.rate, self.mask_shape = rate, mask_shape

    def forward(self, x):
        self.mask = mask = self.backend.dropout_mask(self.mask_shape, self.rate, x.dtype)
        self.shape = x.shape
        return x * mask

    def backward(self, grad):
        return (unbroadcast(grad * self.mask, self.shape),)

    def backward_graph(self, grad):
        mask = Tensor._wrap(self.mask, self.backend)
        return (sum_to(grad * mask, self.shape),)


def dropout(x: Tensor, rate: float, mask_shape: tuple) -> Tensor:
    """``x`` times a new inverted-dropout mask of ``mask_shape`` (broadcast to ``x``)."""
    return apply(Dropout(float(rate), tuple(mask_shape)), x)
