"""Losses with Keras 3's names, formulas and defaults.

A loss object maps ``(y_true, y_pred)`` to one scalar tensor: the per-sample
losses (mean over the last axis where Keras takes it), weighted by an optional
``sample_weight``, summed and divided by the number of samples
("sum_over_batch_size"). Cross-entropies on probabilities normalize and clip
them to ``[1e-7, 1 - 1e-7]`` as Keras 3 does. When the probabilities come
straight from a softmax recorded in the graph, the loss is computed
from the logits (faster, and exact where the probabilities are not clipped),
with the same clipping applied in log space: ``log(clip(p)) == clip(log(p))``.
Binary cross-entropy always uses the probabilities: there float32's rounding
of ``1 - p`` near saturation is part of Keras's numbers.
So the recorded path (``fit``, ``train_on_batch``) and the unrecorded one
(``evaluate``, ``predict``, validation) give the same numbers, Keras 3's (on
PyTorch or JAX): a saturated softmax costs at most ``-log(1e-7) = 16.12`` per
sample, never the unclipped logits' value, and its gradient is zero there.
"""

import math

from . import functional as F
from .functional.activation import Softmax as _SoftmaxOp
from .registry import Registry
from .tensor import Tensor

EPSILON = 1e-7
#: ``-log(p)`` for ``p`` clipped to ``[EPSILON, 1 - EPSILON]``
_LEAST_LOSS, _MOST_LOSS = -math.log1p(-EPSILON), -math.log(EPSILON)


def _target_array(y_true, y_pred: Tensor, dtype=None):
    """``y_true`` as a raw array on ``y_pred``'s backend (targets carry no gradient)."""
    if isinstance(y_true, Tensor):
        y_true = y_true.data
    backend = y_pred.backend
    if not backend.is_native(y_true):
        y_true = backend.asarray(y_true)
    if dtype is not None and y_true.dtype != dtype:
        y_true = y_true.astype(dtype)
    return y_true


def _match_shape(name, y_true, y_pred):
    """``y_true`` shaped like ``y_pred``: ``(n,)`` targets meet ``(n, 1)`` outputs, as in Keras."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true.reshape(y_pred.shape)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"{name}: y_true and y_pred must have the same shape; got y_true {tuple(y_true.shape)}"
            f" and y_pred {tuple(y_pred.shape)}."
        )
    return y_true


def _logits_of(y_pred: Tensor, kind: str):
    """The logits behind ``y_pred`` when it is a recorded softmax output."""
    creator = y_pred.creator
    if (
        kind == "softmax"
        and isinstance(creator, _SoftmaxOp)
        and creator.axis in (-1, y_pred.ndim - 1)
    ):
        return creator.inputs[0]
    return None


def _clip_loss(loss: Tensor) -> Tensor:
    """``-log(clip(p))`` from ``-log(p)``: Keras's probability clipping in log space."""
    return F.clip(loss, _LEAST_LOSS, _MOST_LOSS)


def mean_squared_error(y_true, y_pred: Tensor) -> Tensor:
    y_true = _target_array(y_true, y_pred, y_pred.dtype)
    y_true = _match_shape("mean_squared_error", y_true, y_pred)
    diff = y_pred - y_true
    return F.mean(diff * diff, axis=-1)


def mean_absolute_error(y_true, y_pred: Tensor) -> Tensor:
    y_true = _target_array(y_true, y_pred, y_pred.dtype)
    y_true = _match_shape("mean_absolute_error", y_true, y_pred)
    return F.mean(F.abs(y_pred - y_true), axis=-1)


def huber(y_true, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    y_true = _target_array(y_true, y_pred, y_pred.dtype)
    y_true = _match_shape("huber", y_true, y_pred)
    error = F.abs(y_pred - y_true)
    quadratic = F.clip(error, max_value=delta)
    linear = error - quadratic
    return F.mean(quadratic * quadratic * 0.5 + linear * delta, axis=-1)


def binary_crossentropy(
    y_true, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0
) -> Tensor:
    y_true = _target_array(y_true, y_pred, y_pred.dtype)
    y_true = _match_shape("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return F.mean(F.sigmoid_cross_entropy(y_pred, y_true), axis=-1)
    # always from the probabilities, as Keras 3: in float32, log(1 - p) from a
    # saturated sigmoid differs from its logits form by up to ~0.05 per element
    probs = F.clip(y_pred, EPSILON, 1 - EPSILON)
    per_element = -(F.log(probs) * y_true + F.log(1 - probs) * (1 - y_true))
    return F.mean(per_element, axis=-1)


def categorical_crossentropy(
    y_true, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0
) -> Tensor:
    y_true = _target_array(y_true, y_pred, y_pred.dtype)
    y_true = _match_shape("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        return F.softmax_cross_entropy(y_pred, y_true)
    logits = _logits_of(y_pred, "softmax")
    if logits is not None:  # clip(log(p)) per class, as Keras clips p
        log_probs = F.clip(F.log_softmax(logits), -_MOST_LOSS, -_LEAST_LOSS)
        return -F.sum(log_probs * y_true, axis=-1)
    probs = y_pred / F.sum(y_pred, axis=-1, keepdims=True)
    probs = F.clip(probs, EPSILON, 1 - EPSILON)
    return -F.sum(F.log(probs) * y_true, axis=-1)


def _check_labels(labels, num_classes: int) -> None:
    if labels.size == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"sparse_categorical_crossentropy: labels must be integers in [0, {num_classes}) "
            f"for a model with {num_classes} outputs; got a label of {bad}."
        )


def sparse_categorical_crossentropy(y_true, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    labels = _target_array(y_true, y_pred)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if tuple(labels.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(
            f"sparse_categorical_crossentropy: expected integer labels of shape "
            f"{tuple(y_pred.shape[:-1])} for predictions of shape {tuple(y_pred.shape)}; "
            f"got labels of shape {tuple(labels.shape)}."
        )
    if labels.dtype.kind == "f":
        if not bool((labels == labels.round()).all()):
            raise ValueError("sparse_categorical_crossentropy: labels must be whole numbers.")
    labels = labels.astype("int64", copy=False)
    _check_labels(labels, y_pred.shape[-1])
    if from_logits:
        return F.sparse_softmax_cross_entropy(y_pred, labels)
    logits = _logits_of(y_pred, "softmax")
    if logits is not None:  # one class per sample: clipping its loss clips its p
        return _clip_loss(F.sparse_softmax_cross_entropy(logits, labels))
    probs = y_pred / F.sum(y_pred, axis=-1, keepdims=True)
    probs = F.clip(probs, EPSILON, 1 - EPSILON)
    flat = F.reshape(probs, (-1, probs.shape[-1]))
    rows = y_pred.backend.xp.arange(flat.shape[0])
    picked = F.getitem(flat, (rows, labels.reshape(-1)))
    return F.reshape(-F.log(picked), labels.shape)


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None) -> scalar tensor``."""

    def __init__(self, name: str | None = None):
        self.name = name or _default_names.get(type(self), type(self).__name__.lower())

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true, y_pred: Tensor, sample_weight=None) -> Tensor:
        values = self.call(y_true, y_pred)
        count = values.size
        if sample_weight is not None:
            weights = _target_array(sample_weight, y_pred, values.dtype)
            while weights.ndim < values.ndim:
                weights = weights[..., None]
            if weights.ndim > values.ndim or any(
                w not in (1, v) for w, v in zip(weights.shape, values.shape)
            ):
                given = tuple(sample_weight.shape)
                raise ValueError(
                    f"loss '{self.name}': `sample_weight` of shape {given} does not fit the "
                    f"losses of shape {tuple(values.shape)} (one per sample, or per sample and "
                    f"time step); give one weight per sample, shape ({values.shape[0]},)."
                )
            values = values * weights
        return F.sum(values) / count if count else F.sum(values)

    def get_config(self) -> dict:
        return {"name": self.name}


class MeanSquaredError(Loss):
    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class Huber(Loss):
    def __init__(self, delta: float = 1.0, name=None):
        super().__init__(name)
        self.delta = delta

    def call(self, y_true, y_pred):
        return huber(y_true, y_pred, self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class BinaryCrossentropy(Loss):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name=None):
        super().__init__(name)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


class CategoricalCrossentropy(BinaryCrossentropy):
    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)


class SparseCategoricalCrossentropy(Loss):
    def __init__(self, from_logits: bool = False, name=None):
        super().__init__(name)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


_default_names = {
    MeanSquaredError: "mean_squared_error",
    MeanAbsoluteError: "mean_absolute_error",
    Huber: "huber_loss",
    BinaryCrossentropy: "binary_crossentropy",
    CategoricalCrossentropy: "categorical_crossentropy",
    SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
}

_registry = Registry(
    "loss",
    {
        "mean_squared_error": MeanSquaredError,
        "mean_absolute_error": MeanAbsoluteError,
        "huber": Huber,
        "binary_crossentropy": BinaryCrossentropy,
        "categorical_crossentropy": CategoricalCrossentropy,
        "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    },
)
for _alias, _cls in {
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "huber_loss": Huber,
}.items():
    _registry.register(_cls, _alias)


def get(identifier) -> Loss:
    """A loss from a name (``"mse"``, ``"categorical_crossentropy"``...), config or instance."""
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)
    return _registry.create(identifier)


def serialize(loss: Loss) -> dict:
    return _registry.serialize(loss)


class LossFunctionWrapper(Loss):
    """Wraps a function ``fn(y_true, y_pred) -> per-sample tensor`` as a Loss."""

    def __init__(self, fn, name=None):
        super().__init__(name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)
