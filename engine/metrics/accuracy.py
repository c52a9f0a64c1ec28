"""Accuracy metrics: exact, binary, categorical, sparse categorical and top-k.

The functions take arrays or tensors and return one value per sample (an
array on the predictions' backend), as Keras's ``keras.metrics.*_accuracy``.
"""

from .. import config
from ..functional._util import native
from ..tensor import Tensor
from .base import MeanMetricWrapper, same_rank


def _arrays_of(y_true, y_pred):
    """``(y_true, y_pred, xp)`` as arrays on the predictions' backend."""
    backend = next((v.backend for v in (y_pred, y_true) if isinstance(v, Tensor)), None)
    backend = backend or config.get_backend()
    return native(y_true, backend), native(y_pred, backend), backend.xp


def _floats(matches):
    return matches.astype(config.floatx())


def accuracy(y_true, y_pred):
    """1 where the prediction equals the label exactly."""
    y_true, y_pred, xp = _arrays_of(y_true, y_pred)
    y_true, y_pred = same_rank(y_true, y_pred)
    return _floats(y_true == y_pred)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """1 where ``y_pred > threshold`` agrees with the 0/1 label."""
    y_true, y_pred, xp = _arrays_of(y_true, y_pred)
    y_true, y_pred = same_rank(y_true, y_pred)
    return _floats(y_true == (y_pred > threshold).astype(y_true.dtype))


def _sparse_labels(y_true, y_pred):
    """Class indices ``(n, ...)`` from labels shaped so or with a trailing axis of 1."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    return y_true


def categorical_accuracy(y_true, y_pred):
    """1 where the predicted class (argmax) is the one-hot label's."""
    y_true, y_pred, xp = _arrays_of(y_true, y_pred)
    return _floats(xp.argmax(y_true, axis=-1) == xp.argmax(y_pred, axis=-1))


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the predicted class (argmax) is the integer label."""
    y_true, y_pred, xp = _arrays_of(y_true, y_pred)
    labels = _sparse_labels(y_true, y_pred)
    return _floats(labels == xp.argmax(y_pred, axis=-1).astype(labels.dtype))


def _in_top_k(labels, y_pred, k: int, xp):
    """Keras's ``in_top_k`` (PyTorch backend): the label's score is at least the k-th
    largest score, so ties with the k-th count as in."""
    flat = y_pred.reshape(-1, y_pred.shape[-1])
    labels = labels.reshape(-1).astype("int64")
    k = min(k, flat.shape[-1])
    kth_largest = xp.partition(flat, flat.shape[-1] - k, axis=-1)[:, flat.shape[-1] - k]
    scores = xp.take_along_axis(flat, labels[:, None], axis=-1)[:, 0]
    return scores >= kth_largest


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """1 where the one-hot label's class is among the ``k`` highest predictions."""
    y_true, y_pred, xp = _arrays_of(y_true, y_pred)
    labels = xp.argmax(y_true, axis=-1)
    return _floats(_in_top_k(labels, y_pred, k, xp)).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5, from_sorted_ids: bool = False):
    """1 where the integer label is among the ``k`` highest predictions (or, with
    ``from_sorted_ids``, among the first ``k`` class ids of ``y_pred``)."""
    y_true, y_pred, xp = _arrays_of(y_true, y_pred)
    labels = _sparse_labels(y_true, y_pred)
    if from_sorted_ids:
        flat = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
        matches = (flat == labels.reshape(-1, 1).astype(flat.dtype)).any(axis=-1)
    else:
        matches = _in_top_k(labels, y_pred, k, xp)
    return _floats(matches).reshape(labels.shape)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k: int = 5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(
        self,
        k: int = 5,
        name="sparse_top_k_categorical_accuracy",
        dtype=None,
        from_sorted_ids: bool = False,
    ):
        super().__init__(
            sparse_top_k_categorical_accuracy, name, dtype, k=k, from_sorted_ids=from_sorted_ids
        )
        self.k, self.from_sorted_ids = k, from_sorted_ids
