"""Correlation metrics: Pearson's and Lin's concordance coefficient, per sample along
``axis`` and averaged over the samples (weighted), as Keras 3 computes them."""

from .. import config, ops
from .. import functional as F
from ..losses.base import _target_array
from ..tensor import Tensor
from .base import MeanMetricWrapper


def _pair(y_true, y_pred):
    """``y_pred`` as a tensor and ``y_true`` as an array on its backend, in its dtype and
    rank (Keras's ``squeeze_or_expand_to_same_rank``)."""
    if not isinstance(y_pred, Tensor):
        y_pred = ops.convert_to_tensor(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = F.cast(y_pred, config.floatx())
    y_true = _target_array(y_true, y_pred, y_pred.dtype)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[..., None]
        else:
            y_pred = F.reshape(y_pred, y_pred.shape[:-1])
    return y_true, y_pred


def pearson_correlation(y_true, y_pred, axis=-1) -> Tensor:
    """``mean(z(y_true) * z(y_pred))`` along ``axis``, ``z`` the standardized values (mean
    0, standard deviation 1): Pearson's coefficient per sample, in [-1, 1]."""
    y_true, y_pred = _pair(y_true, y_pred)
    true_centered = y_true - y_true.mean(axis=axis, keepdims=True)
    true_scaled = true_centered / true_centered.std(axis=axis, keepdims=True)
    pred_centered = y_pred - F.mean(y_pred, axis=axis, keepdims=True)
    pred_std = F.sqrt(F.mean(pred_centered * pred_centered, axis=axis, keepdims=True))
    return F.mean(pred_centered / pred_std * true_scaled, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1) -> Tensor:
    """Lin's concordance ``2 cov / (var(y_true) + var(y_pred) + (mean(y_true) -
    mean(y_pred))**2 + epsilon)`` along ``axis``: 1 only when the predictions equal the
    targets, not merely correlate with them."""
    y_true, y_pred = _pair(y_true, y_pred)
    true_mean = y_true.mean(axis=axis, keepdims=True)
    pred_mean = F.mean(y_pred, axis=axis, keepdims=True)
    true_var = y_true.var(axis=axis, keepdims=True)
    pred_centered = y_pred - pred_mean
    pred_var = F.mean(pred_centered * pred_centered, axis=axis, keepdims=True)
    # Keras centres y_true on y_pred's mean too; the mean of the product is the same
    # covariance, since y_pred - mean(y_pred) sums to zero
    covariance = pred_centered * (pred_mean - y_true) * -2.0
    mean_gap = pred_mean - true_mean
    norm = pred_var + mean_gap * mean_gap + (true_var + config.epsilon())
    return F.mean(covariance / norm, axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """The weighted mean over samples of ``pearson_correlation`` along ``axis``."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name, dtype, axis=axis)
        self.axis = axis


class ConcordanceCorrelation(MeanMetricWrapper):
    """The weighted mean over samples of ``concordance_correlation`` along ``axis``."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name, dtype, axis=axis)
        self.axis = axis
