"""Regression metrics: running means of the regression losses, and the RMSE."""

import numpy

from .. import losses
from .base import Mean, MeanMetricWrapper, as_float, same_rank


def _cosine_similarity(y_true, y_pred, axis: int = -1):
    """The cosine of the angle between ``y_true`` and ``y_pred`` (the loss is its negative)."""
    return -losses.cosine_similarity(y_true, y_pred, axis)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name, dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name, dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name, dtype)


class CosineSimilarity(MeanMetricWrapper):
    def __init__(self, name="cosine_similarity", dtype=None, axis: int = -1):
        super().__init__(_cosine_similarity, name, dtype, axis=axis)
        self.axis = axis


class LogCoshError(MeanMetricWrapper):
    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses.log_cosh, name, dtype)


class RootMeanSquaredError(Mean):
    """The square root of the weighted mean of the squared errors."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        xp, (y_true, y_pred, weights) = self.float_arrays(y_true, y_pred, sample_weight)
        y_true, y_pred = same_rank(y_true, y_pred)
        error = y_pred - y_true
        self._accumulate(error * error, weights, xp)

    def result(self) -> float:
        return as_float(numpy.sqrt(super().result()))
