"""Probabilistic losses: cross-entropies (plain, focal, generalized), KL divergence, Poisson.

Cross-entropies on probabilities normalize and clip them to ``[1e-7, 1 - 1e-7]``
as Keras 3 does. When the probabilities come straight from a softmax recorded
in the graph, the loss is computed from the logits (faster, and exact where
the probabilities are not clipped), with the same clipping applied in log
space: ``log(clip(p)) == clip(log(p))``. Binary cross-entropy always uses the
probabilities: there float32's rounding of ``1 - p`` near saturation is part
of Keras's numbers. So the recorded path (``fit``, ``train_on_batch``) and the
unrecorded one (``evaluate``, ``predict``, validation) give the same numbers,
Keras 3's (on PyTorch or JAX): a saturated softmax costs at most
``-log(1e-7) = 16.12`` per sample, never the unclipped logits' value, and its
gradient is zero there.
"""

from .. import functional as F
from ..tensor import Tensor, as_dtype, derive, note_constant, reshaped
from .base import (
    _LEAST_LOSS,
    _LOSS_BOUNDS,
    _MOST_LOSS,
    EPSILON,
    LossFunctionWrapper,
    _check_axis,
    _logits_of,
    _target_array,
    _targets,
    takes_arrays,
)
from .labels import check_labels


def _binary_crossentropy_elements(y_true, probs: Tensor) -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` elementwise, ``p`` clipped as Keras clips it."""
    probs = F.clip(probs, EPSILON, 1 - EPSILON)
    return -(F.log(probs) * y_true + F.log(1 - probs) * derive(_complement, y_true))


def _complement(targets):
    return 1 - targets


def _smoothed(targets, label_smoothing: float, shift: float):
    """Keras's label smoothing: ``targets`` scaled by ``1 - label_smoothing``, plus ``shift``."""
    return targets * (1 - label_smoothing) + shift


@takes_arrays
def binary_crossentropy(
    y_true, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1
) -> Tensor:
    _check_axis("binary_crossentropy", axis)
    y_true = _targets("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = derive(_smoothed, y_true, label_smoothing, 0.5 * label_smoothing)
    if from_logits:
        return F.mean(F.sigmoid_cross_entropy(y_pred, y_true), axis=-1)
    # always from the probabilities, as Keras 3: in float32, log(1 - p) from a
    # saturated sigmoid differs from its logits form by up to ~0.05 per element
    return F.mean(_binary_crossentropy_elements(y_true, y_pred), axis=-1)


def _normalized_probabilities(y_pred: Tensor) -> Tensor:
    """``y_pred / sum(y_pred)`` over the classes, clipped to ``[1e-7, 1 - 1e-7]``."""
    return F.clip(y_pred / F.sum(y_pred, axis=-1, keepdims=True), EPSILON, 1 - EPSILON)


@takes_arrays
def categorical_crossentropy(
    y_true, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1
) -> Tensor:
    _check_axis("categorical_crossentropy", axis)
    y_true = _targets("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = derive(_smoothed, y_true, label_smoothing, label_smoothing / y_pred.shape[-1])
    if from_logits:
        return F.softmax_cross_entropy(y_pred, y_true)
    logits = _logits_of(y_pred, "softmax")
    if logits is not None:  # clip(log(p)) per class, as Keras clips p
        log_probs = F.clip(F.log_softmax(logits), -_MOST_LOSS, -_LEAST_LOSS)
        return -F.sum(log_probs * y_true, axis=-1)
    return -F.sum(F.log(_normalized_probabilities(y_pred)) * y_true, axis=-1)


def _class_labels(name: str, y_true, y_pred: Tensor):
    """Integer class labels, one per prediction row (``(batch,)`` or ``(batch, 1)``), as an
    array on ``y_pred``'s backend."""
    labels = _target_array(y_true, y_pred)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = derive(reshaped, labels, labels.shape[:-1])
    if tuple(labels.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(
            f"{name}: expected integer labels of shape {tuple(y_pred.shape[:-1])} for "
            f"predictions of shape {tuple(y_pred.shape)}; got labels of shape "
            f"{tuple(labels.shape)}."
        )
    return labels


@takes_arrays
def sparse_categorical_crossentropy(
    y_true, y_pred: Tensor, from_logits: bool = False, axis=-1
) -> Tensor:
    _check_axis("sparse_categorical_crossentropy", axis)
    labels = _class_labels("sparse_categorical_crossentropy", y_true, y_pred)
    # on a device backend in fit/evaluate, without reading the labels back each step
    name = "sparse_categorical_crossentropy"
    check_labels(name, y_true, labels, y_pred.shape[-1], y_pred.backend)
    labels = derive(as_dtype, labels, "int64")
    if from_logits:
        return F.sparse_softmax_cross_entropy(y_pred, labels)
    logits = _logits_of(y_pred, "softmax")
    if logits is not None:  # one class per sample: clipping its loss clips its p
        return F.sparse_softmax_cross_entropy(
            logits, labels, bounds=_LOSS_BOUNDS, probs=y_pred.data
        )
    probs = _normalized_probabilities(y_pred)
    flat = F.reshape(probs, (-1, probs.shape[-1]))
    rows = y_pred.backend.xp.arange(flat.shape[0])
    note_constant(rows)  # one per batch size
    picked = F.getitem(flat, (rows, derive(reshaped, labels, (-1,))))
    return F.reshape(-F.log(picked), labels.shape)


@takes_arrays
def binary_focal_crossentropy(
    y_true,
    y_pred: Tensor,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis=-1,
) -> Tensor:
    """Binary cross-entropy scaled by ``(1 - p_t) ** gamma`` (Lin et al., 2017)."""
    _check_axis("binary_focal_crossentropy", axis)
    y_true = _targets("binary_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    probs = F.sigmoid(y_pred) if from_logits else y_pred
    cross_entropy = _binary_crossentropy_elements(y_true, probs)
    p_t = probs * y_true + (1 - probs) * (1 - y_true)
    focal = F.power(1 - p_t, gamma) * cross_entropy
    if apply_class_balancing:
        focal = focal * (y_true * alpha + (1 - y_true) * (1 - alpha))
    return F.mean(focal, axis=-1)


@takes_arrays
def categorical_focal_crossentropy(
    y_true,
    y_pred: Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis=-1,
) -> Tensor:
    """Categorical cross-entropy scaled per class by ``alpha * (1 - p) ** gamma``."""
    _check_axis("categorical_focal_crossentropy", axis)
    y_true = _targets("categorical_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = derive(_smoothed, y_true, label_smoothing, label_smoothing / y_pred.shape[-1])
    probs = _normalized_probabilities(F.softmax(y_pred) if from_logits else y_pred)
    weighting = F.power(1 - probs, gamma) * alpha
    return F.sum(weighting * -(F.log(probs) * y_true), axis=-1)


@takes_arrays
def kl_divergence(y_true, y_pred: Tensor) -> Tensor:
    """``sum(y_true * log(y_true / y_pred))``, both clipped to ``[1e-7, 1]``."""
    y_true = _targets("kl_divergence", y_true, y_pred)
    y_true = y_pred.backend.xp.clip(y_true, EPSILON, 1)
    return F.sum(F.log(y_true / F.clip(y_pred, EPSILON, 1)) * y_true, axis=-1)


@takes_arrays
def categorical_generalized_cross_entropy(y_true, y_pred: Tensor, q: float) -> Tensor:
    """``(1 - p ** q) / q`` with ``p`` the probability of the true class (Zhang & Sabuncu,
    2018): cross-entropy as ``q -> 0``, mean absolute error at ``q = 1``. ``y_true`` holds
    integer class labels, shape ``(batch,)`` or ``(batch, 1)``; ``y_pred`` probabilities."""
    labels = _class_labels("categorical_generalized_cross_entropy", y_true, y_pred)
    xp = y_pred.backend.xp
    one_hot = labels.astype("int64")[..., None] == xp.arange(y_pred.shape[-1])
    p = F.sum(y_pred * one_hot.astype(y_pred.dtype), axis=-1)
    return (1 - F.power(p, float(q))) / float(q)


@takes_arrays
def poisson(y_true, y_pred: Tensor) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + 1e-7))``."""
    y_true = _targets("poisson", y_true, y_pred)
    return F.mean(y_pred - F.log(y_pred + EPSILON) * y_true, axis=-1)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        _check_axis(name, axis)
        super().__init__(
            binary_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(BinaryCrossentropy):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)
        self.fn = categorical_crossentropy


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        from_logits: bool = False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        _check_axis(name, axis)
        if ignore_class is not None:
            raise ValueError(f"{name}: `ignore_class` is not supported; got {ignore_class!r}.")
        super().__init__(
            sparse_categorical_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=from_logits,
            axis=axis,
        )


class BinaryFocalCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        _check_axis(name, axis)
        super().__init__(
            binary_focal_crossentropy,
            reduction,
            name,
            dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        _check_axis(name, axis)
        super().__init__(
            categorical_focal_crossentropy,
            reduction,
            name,
            dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    def __init__(
        self,
        q: float = 0.5,
        reduction="sum_over_batch_size",
        name="categorical_generalized_cross_entropy",
        dtype=None,
    ):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            raise ValueError(f"{name}: `q` must be a number in the interval (0, 1); got {q!r}.")
        super().__init__(categorical_generalized_cross_entropy, reduction, name, dtype, q=q)


class KLDivergence(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction, name, dtype)


class Poisson(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction, name, dtype)
