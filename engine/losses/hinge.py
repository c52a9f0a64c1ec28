"""Hinge losses (maximum-margin classification), with Keras 3's label conversion."""

from .. import functional as F
from ..tensor import Tensor
from .base import LossFunctionWrapper, _targets, takes_arrays


def _signed_labels(y_true, xp):
    """0/1 labels as -1/1; other labels (already -1/1) unchanged, decided on the device."""
    binary = xp.all((y_true == 0) | (y_true == 1))
    return xp.where(binary, 2 * y_true - 1, y_true)


@takes_arrays
def hinge(y_true, y_pred: Tensor) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0))``, 0/1 labels taken as -1/1."""
    y_true = _signed_labels(_targets("hinge", y_true, y_pred), y_pred.backend.xp)
    return F.mean(F.relu(1 - y_pred * y_true), axis=-1)


@takes_arrays
def squared_hinge(y_true, y_pred: Tensor) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2)``, 0/1 labels taken as -1/1."""
    y_true = _signed_labels(_targets("squared_hinge", y_true, y_pred), y_pred.backend.xp)
    margin = F.relu(1 - y_pred * y_true)
    return F.mean(margin * margin, axis=-1)


@takes_arrays
def categorical_hinge(y_true, y_pred: Tensor) -> Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` for one-hot targets."""
    y_true = _targets("categorical_hinge", y_true, y_pred)
    positive = F.sum(y_pred * y_true, axis=-1)
    negative = F.max(y_pred * (1 - y_true), axis=-1)
    return F.relu(negative - positive + 1)


class Hinge(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction, name, dtype)


class SquaredHinge(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction, name, dtype)


class CategoricalHinge(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction, name, dtype)
