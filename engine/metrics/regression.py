"""Regression metrics: running means of the regression losses, the RMSE and R²."""

import warnings

import numpy

from .. import losses
from .base import Mean, MeanMetricWrapper, Metric, as_float, same_rank


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


class R2Score(Metric):
    """The coefficient of determination, ``1 - sum((y - y_pred)**2) / sum((y - mean(y))**2)``
    per output column, from running weighted sums (so batches add up to the whole).

    ``class_aggregation``: ``"uniform_average"`` (the mean over columns),
    ``"variance_weighted_average"`` (weighted by each column's total sum of squares) or
    None (one score per column). ``num_regressors > 0`` gives the adjusted R², with
    ``n`` counted as Keras 3 counts it: the number of values seen, samples times columns.
    """

    _AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")

    def __init__(
        self,
        class_aggregation="uniform_average",
        num_regressors: int = 0,
        name="r2_score",
        dtype=None,
    ):
        if class_aggregation not in self._AGGREGATIONS:
            raise ValueError(
                f"R2Score: `class_aggregation` must be one of {self._AGGREGATIONS}; got "
                f"{class_aggregation!r}."
            )
        if (
            isinstance(num_regressors, bool)
            or not isinstance(num_regressors, int)
            or num_regressors < 0
        ):
            raise ValueError(
                f"R2Score: `num_regressors` must be an integer >= 0; got {num_regressors!r}."
            )
        super().__init__(dtype=dtype, name=name)
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.add_state("num_samples")
        self._built = False

    def _build(self, y_true, y_pred) -> None:
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(
                f"R2Score expects 2-D inputs (batch, outputs); got y_true of shape "
                f"{tuple(y_true.shape)} and y_pred of shape {tuple(y_pred.shape)}."
            )
        columns = (y_pred.shape[-1],)
        # Keras's state names and order; "residual" is the weighted squared error
        for name in ("squared_sum", "sum", "residual", "count"):
            self.add_state(name, columns)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        xp, (y_true, y_pred, weights) = self.float_arrays(y_true, y_pred, sample_weight)
        y_true, y_pred = same_rank(y_true, y_pred)
        if not self._built:
            self._build(y_true, y_pred)
        if weights is None:
            weights = xp.ones((), dtype=y_true.dtype)
        elif weights.ndim == 1:
            weights = weights[:, None]
        weights = xp.broadcast_to(weights, y_true.shape)
        weighted = y_true * weights
        self.sum += weighted.sum(axis=0)
        self.squared_sum += (y_true * weighted).sum(axis=0)
        self.residual += ((y_true - y_pred) ** 2 * weights).sum(axis=0)
        self.count += weights.sum(axis=0)
        self.num_samples += y_true.size

    def result(self):
        if not self._built:
            return 0.0
        with numpy.errstate(divide="ignore", invalid="ignore"):
            mean = self.host(self.sum) / self.host(self.count)
            total = self.host(self.squared_sum) - self.host(self.sum) * mean
            scores = 1 - self.host(self.residual) / total
        scores = numpy.where(numpy.isinf(scores), 0.0, scores)
        if self.class_aggregation == "uniform_average":
            score = scores.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * scores).sum() / total.sum()
        else:
            score = scores
        if self.num_regressors:
            samples = float(self.host(self.num_samples))
            if self.num_regressors >= samples - 1:
                warnings.warn(
                    f"R2Score: {self.num_regressors} regressors for {samples:.0f} values: the "
                    f"adjusted R² is undefined; returning the plain R².",
                    UserWarning,
                    stacklevel=2,
                )
            else:
                score = 1 - (1 - score) * (samples - 1) / (samples - self.num_regressors - 1)
        return as_float(score)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
