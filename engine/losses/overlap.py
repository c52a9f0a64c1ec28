"""Overlap losses for segmentation: Dice and Tversky, as Keras 3 computes them.

Both compare the soft overlap of ``y_pred`` (probabilities) with ``y_true``
(0/1 masks) summed over ``axis``: over everything by default (one number for
the batch), or per sample with ``axis=(1, 2, 3)`` for images.
"""

from .. import config
from .. import functional as F
from ..tensor import Tensor
from .base import LossFunctionWrapper, _targets, takes_arrays


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@takes_arrays
def dice(y_true, y_pred: Tensor, axis=None) -> Tensor:
    """``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + epsilon)``."""
    y_true = _targets("dice", y_true, y_pred)
    axis = _axes(axis)
    intersection = F.sum(y_pred * y_true, axis=axis)
    total = F.sum(y_pred, axis=axis) + (y_true.sum(axis=axis) + config.epsilon())
    return 1 - intersection * 2.0 / total


@takes_arrays
def tversky(y_true, y_pred: Tensor, alpha: float = 0.5, beta: float = 0.5, axis=None) -> Tensor:
    """``1 - tp / (tp + alpha * fp + beta * fn + epsilon)`` with soft counts: Keras's ``fp``
    is ``sum((1 - y_pred) * y_true)`` and its ``fn`` is ``sum(y_pred * (1 - y_true))``
    (Salehi et al., 2017, with the roles as Keras 3 writes them)."""
    y_true = _targets("tversky", y_true, y_pred)
    axis = _axes(axis)
    intersection = F.sum(y_pred * y_true, axis=axis)
    fp = F.sum((1 - y_pred) * y_true, axis=axis)
    fn = F.sum(y_pred * (1 - y_true), axis=axis)
    return 1 - intersection / (intersection + fp * alpha + fn * beta + config.epsilon())


class Dice(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction, name, dtype, axis=axis)


class Tversky(LossFunctionWrapper):
    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        reduction="sum_over_batch_size",
        name="tversky",
        axis=None,
        dtype=None,
    ):
        super().__init__(tversky, reduction, name, dtype, alpha=alpha, beta=beta, axis=axis)
