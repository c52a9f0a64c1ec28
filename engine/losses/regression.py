"""Regression losses: squared, absolute, percentage, logarithmic, log-cosh, cosine."""

import math

from .. import functional as F
from ..functional.nn import mean_squared_error as mean_squared_error_op
from ..functional.nn import mean_squared_error_over_batch
from ..tensor import Tensor
from .base import BATCH_MEANS, EPSILON, LossFunctionWrapper, _targets, takes_arrays

_LOG_2 = math.log(2.0)


@takes_arrays
def mean_squared_error(y_true, y_pred: Tensor) -> Tensor:
    # one fused op: the subtraction, square and mean of three, as they round
    return mean_squared_error_op(y_pred, _targets("mean_squared_error", y_true, y_pred))


def _mean_squared_error_over_batch(y_true, y_pred: Tensor) -> Tensor:
    return mean_squared_error_over_batch(y_pred, _targets("mean_squared_error", y_true, y_pred))


BATCH_MEANS[mean_squared_error] = _mean_squared_error_over_batch


@takes_arrays
def mean_absolute_error(y_true, y_pred: Tensor) -> Tensor:
    y_true = _targets("mean_absolute_error", y_true, y_pred)
    return F.mean(F.abs(y_pred - y_true), axis=-1)


@takes_arrays
def mean_absolute_percentage_error(y_true, y_pred: Tensor) -> Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis."""
    y_true = _targets("mean_absolute_percentage_error", y_true, y_pred)
    xp = y_pred.backend.xp
    scale = xp.maximum(xp.abs(y_true), EPSILON)
    return F.mean(F.abs(y_pred - y_true) / scale, axis=-1) * 100.0


@takes_arrays
def mean_squared_logarithmic_error(y_true, y_pred: Tensor) -> Tensor:
    """``mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))**2)``."""
    y_true = _targets("mean_squared_logarithmic_error", y_true, y_pred)
    xp = y_pred.backend.xp
    diff = F.log(F.clip(y_pred, min_value=EPSILON) + 1.0) - xp.log(xp.maximum(y_true, EPSILON) + 1)
    return F.mean(diff * diff, axis=-1)


@takes_arrays
def huber(y_true, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    y_true = _targets("huber", y_true, y_pred)
    error = F.abs(y_pred - y_true)
    quadratic = F.clip(error, max_value=delta)
    linear = error - quadratic
    return F.mean(quadratic * quadratic * 0.5 + linear * delta, axis=-1)


@takes_arrays
def log_cosh(y_true, y_pred: Tensor) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)))``, as ``x + softplus(-2x) - log(2)`` (no overflow)."""
    x = y_pred - _targets("log_cosh", y_true, y_pred)
    return F.mean(x + F.activation(x * -2.0, "softplus") - _LOG_2, axis=-1)


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    """``x / max(||x||, 1e-7)``, Keras's ``normalize`` (``x * min(rsqrt(sum x**2), 1e7)``)."""
    squares = F.sum(x * x, axis=axis, keepdims=True)
    return x / F.sqrt(F.clip(squares, min_value=EPSILON * EPSILON))


@takes_arrays
def cosine_similarity(y_true, y_pred: Tensor, axis: int = -1) -> Tensor:
    """Minus the cosine of the angle between ``y_true`` and ``y_pred`` along ``axis``."""
    y_true = _targets("cosine_similarity", y_true, y_pred)
    xp = y_pred.backend.xp
    norm = xp.sqrt(xp.maximum((y_true * y_true).sum(axis=axis, keepdims=True), EPSILON**2))
    return -F.sum(_l2_normalize(y_pred, axis) * (y_true / norm), axis=axis)


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction, name, dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction, name, dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    def __init__(
        self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None
    ):
        super().__init__(mean_absolute_percentage_error, reduction, name, dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    def __init__(
        self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None
    ):
        super().__init__(mean_squared_logarithmic_error, reduction, name, dtype)


class Huber(LossFunctionWrapper):
    def __init__(
        self, delta: float = 1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None
    ):
        super().__init__(huber, reduction, name, dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction, name, dtype)


class CosineSimilarity(LossFunctionWrapper):
    def __init__(
        self, axis: int = -1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None
    ):
        super().__init__(cosine_similarity, reduction, name, dtype, axis=axis)
