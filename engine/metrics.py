"""Stateful metrics with Keras's names: accumulate over batches, report the running value.

State is kept as backend scalars so a GPU backend is not synchronized on
every batch; ``result()`` brings it to the host.
"""

import numpy

from .registry import Registry
from .tensor import Tensor


def _raw(value, backend):
    if isinstance(value, Tensor):
        return value.data
    return value if backend.is_native(value) else backend.asarray(value)


def _mismatch_message(name: str, y_true, y_pred, error) -> str:
    message = (
        f"metric '{name}': cannot compare targets of shape {tuple(y_true.shape)} with "
        f"predictions of shape {tuple(y_pred.shape)} ({error})."
    )
    if y_true.ndim < y_pred.ndim and y_pred.shape[-1] > 1:
        message += (
            " The targets look like sparse class indices: use a sparse metric such as "
            "'sparse_categorical_accuracy', or one-hot targets."
        )
    return message


class Metric:
    """Base class: ``update_state(y_true, y_pred, sample_weight=None)``, ``result()``."""

    def __init__(self, name: str | None = None):
        self.name = name or _default_names.get(type(self), type(self).__name__.lower())
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        backend = y_pred.backend if isinstance(y_pred, Tensor) else None
        y_pred = _raw(y_pred, backend) if backend else y_pred
        y_true = _raw(y_true, backend) if backend else y_true
        try:
            values = self.values(y_true, y_pred, backend.xp if backend else numpy)
        except ValueError as error:  # a shape mismatch, raised deep in NumPy
            raise ValueError(_mismatch_message(self.name, y_true, y_pred, error)) from None
        if sample_weight is not None:
            weights = _raw(sample_weight, backend) if backend else sample_weight
            weights = weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))
            weights = weights * (values * 0 + 1)
            self.total = self.total + (values * weights).sum()
            self.count = self.count + weights.sum()
        else:
            self.total = self.total + values.sum()
            self.count = self.count + values.size

    def values(self, y_true, y_pred, xp):
        """Per-sample values whose weighted mean is the metric."""
        raise NotImplementedError

    def result(self) -> float:
        count = float(self.count)
        return float(self.total) / count if count else 0.0

    def get_config(self) -> dict:
        return {"name": self.name}


def _squeeze_labels(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        return y_true.reshape(y_true.shape[:-1])
    return y_true


class Mean(Metric):
    """The weighted mean of the values given."""

    def update_state(self, values, sample_weight=None):
        weight = 1.0 if sample_weight is None else sample_weight
        self.total = self.total + values * weight
        self.count = self.count + weight


class Accuracy(Metric):
    """How often predictions equal labels exactly."""

    def values(self, y_true, y_pred, xp):
        return (y_true == y_pred).astype("float32")


class BinaryAccuracy(Metric):
    def __init__(self, name=None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred, xp):
        predicted = y_pred > self.threshold
        return (predicted == (y_true.reshape(y_pred.shape) > 0.5)).astype("float32").mean(axis=-1)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    def values(self, y_true, y_pred, xp):
        return (xp.argmax(y_true, axis=-1) == xp.argmax(y_pred, axis=-1)).astype("float32")


class SparseCategoricalAccuracy(Metric):
    def values(self, y_true, y_pred, xp):
        labels = _squeeze_labels(y_true, y_pred)
        return (labels.astype("int64") == xp.argmax(y_pred, axis=-1)).astype("float32")


class MeanAbsoluteError(Metric):
    def values(self, y_true, y_pred, xp):
        return xp.abs(y_pred - y_true.reshape(y_pred.shape)).mean(axis=-1)


class MeanSquaredError(Metric):
    def values(self, y_true, y_pred, xp):
        diff = y_pred - y_true.reshape(y_pred.shape)
        return (diff * diff).mean(axis=-1)


class MetricFunctionWrapper(Metric):
    """Wraps ``fn(y_true, y_pred) -> per-sample values`` on raw arrays."""

    def __init__(self, fn, name=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def values(self, y_true, y_pred, xp):
        return self.fn(y_true, y_pred)


_default_names = {
    Mean: "mean",
    Accuracy: "accuracy",
    BinaryAccuracy: "binary_accuracy",
    CategoricalAccuracy: "categorical_accuracy",
    SparseCategoricalAccuracy: "sparse_categorical_accuracy",
    MeanAbsoluteError: "mean_absolute_error",
    MeanSquaredError: "mean_squared_error",
}

_registry = Registry("metric", {name: cls for cls, name in _default_names.items()})
_registry.register(MeanAbsoluteError, "mae")
_registry.register(MeanSquaredError, "mse")


def get(identifier, y_true_shape=None, y_pred_shape=None) -> Metric:
    """A metric from a name, config or instance; ``"accuracy"`` is resolved as Keras 3 does.

    The plain name resolves to binary, sparse-categorical or categorical
    accuracy from the shapes of targets and predictions alone (never from the
    loss: three sigmoid outputs with binary cross-entropy get categorical
    accuracy, as in Keras 3); the metric keeps the name it was given
    (``"accuracy"`` or ``"acc"``).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        cls = resolve_accuracy(y_true_shape, y_pred_shape)
        return cls(name=identifier)
    if isinstance(identifier, str):
        return _registry.lookup(identifier)(name=identifier)
    if callable(identifier) and not isinstance(identifier, type):
        return MetricFunctionWrapper(identifier)
    return _registry.create(identifier)


def resolve_accuracy(y_true_shape, y_pred_shape):
    """Keras 3's ``is_binary_or_sparse_categorical`` (``trainers/compile_utils.py``)."""
    if y_pred_shape is None or y_true_shape is None:
        return Accuracy
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1:
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def serialize(metric: Metric) -> dict:
    """``{"class_name", "config"}`` of a registered metric class (for saving)."""
    return _registry.serialize(metric)
