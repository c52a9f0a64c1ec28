"""F-scores: ``FBetaScore`` and ``F1Score``, per class or averaged, as Keras 3."""

import numpy

from .base import Metric, as_float

EPSILON = 1e-7
AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """``(1 + beta**2) * precision * recall / (beta**2 * precision + recall)``.

    Predictions are 1 above ``threshold`` (or, with ``threshold=None``, at the
    largest score of each row); ``average`` is ``None`` (one score per class),
    ``"micro"`` (from the total counts), ``"macro"`` (the mean over classes) or
    ``"weighted"`` (the mean weighted by each class's number of true labels).
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(dtype=dtype, name=name)
        where = type(self).__name__
        if average not in AVERAGES:
            raise ValueError(
                f"{where}: `average` must be one of None, 'micro', 'macro', 'weighted'; got "
                f"{average!r}."
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{where}: `beta` must be a Python float > 0; got {beta!r}.")
        if threshold is not None and (
            not isinstance(threshold, float) or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                f"{where}: `threshold` must be None or a Python float in (0, 1]; got {threshold!r}."
            )
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"{type(self).__name__}: expects inputs of shape (samples, classes); got "
                f"y_true {tuple(y_true_shape)} and y_pred {tuple(y_pred_shape)}."
            )
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives", "support"):
            self.add_state(name, shape)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        xp, (y_true, y_pred, weights) = self.float_arrays(y_true, y_pred, sample_weight)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if self.threshold is None:  # the top score of each row; a row of zeros predicts none
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (xp.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(self.dtype)
        if weights is not None:
            weights = weights[:, None]

        def weighted_sum(values):
            return (values if weights is None else values * weights).sum(axis=self.axis)

        self.true_positives += weighted_sum(predicted * y_true)
        self.false_positives += weighted_sum(predicted * (1 - y_true))
        self.false_negatives += weighted_sum((1 - predicted) * y_true)
        self.support += weighted_sum(y_true)

    def result(self):
        if not self._built:
            return 0.0
        tp, fp, fn = (
            self.host(getattr(self, n))
            for n in ("true_positives", "false_positives", "false_negatives")
        )
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        beta_squared = self.beta**2
        score = precision * recall / (beta_squared * precision + recall + EPSILON)
        score = score * (1 + beta_squared)
        if self.average == "weighted":
            support = self.host(self.support)
            return as_float((score * support / (support.sum() + EPSILON)).sum())
        if self.average is not None:
            return as_float(numpy.mean(score))
        return as_float(score)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """The harmonic mean of precision and recall (``FBetaScore`` with ``beta=1``)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
