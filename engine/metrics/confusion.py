"""Confusion-matrix metrics: true/false positive/negative counts, precision, recall, AUC,
and the best of one rate where another reaches a target (``PrecisionAtRecall``...).

Each counts, for every threshold ``t``, the (weighted) predictions ``y_pred > t``
that are right or wrong about the labels ``y_true != 0``, as Keras 3's
``update_confusion_matrix_variables``. Evenly spaced thresholds (AUC's) are
counted as Keras counts them: each prediction falls in one bucket, found with
``ceil(p * (T - 1)) - 1``, and a reversed cumulative sum of the buckets gives the
counts at every threshold in O(T + N) work, with Keras's float32 rounding.
"""

import numpy

from .base import Metric, as_float, divide_no_nan, same_rank

#: the score given to predictions outside the top k (Keras's ``NEG_INF``)
NEG_INF = -1e10
EPSILON = 1e-7
KINDS = ("true_positives", "false_positives", "true_negatives", "false_negatives")


def parse_thresholds(thresholds, default, where: str) -> list:
    """``thresholds`` (a number or a list of them, each in [0, 1]) as a list."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad or not values:
        raise ValueError(f"{where}: `thresholds` must be numbers in [0, 1]; got {thresholds!r}.")
    return [float(t) for t in values]


def evenly_distributed(thresholds) -> bool:
    """Whether ``thresholds`` are ``0, 1/(n-1), ..., 1`` (to 1e-7), Keras's fast case."""
    count = len(thresholds)
    if count < 3:
        return False
    even = numpy.arange(count, dtype=numpy.float32) / (count - 1)
    return bool(numpy.allclose(thresholds, even, atol=EPSILON))


def filter_top_k(y_pred, k: int, xp):
    """``y_pred`` with all but the ``k`` largest scores of the last axis set to ``NEG_INF``."""
    order = xp.argsort(-y_pred, axis=-1)
    rank = xp.argsort(order, axis=-1)
    return xp.where(rank < k, y_pred, y_pred.dtype.type(NEG_INF))


def segment_sum(values, buckets, count: int, backend):
    """Sum of ``values`` per bucket ``0..count-1`` (negative buckets dropped), by the
    backend's scatter-add (``embedding_backward``): unlike ``cupy.bincount``, it never
    asks the device for the largest bucket, so the update does not wait for the GPU."""
    xp = backend.xp
    valid = buckets >= 0
    buckets = xp.where(valid, buckets, 0).reshape(-1)
    values = xp.where(valid, values, 0).reshape(-1, 1)
    return backend.embedding_backward(buckets, values, count)[:, 0]


def confusion_counts(
    y_true,
    y_pred,
    thresholds,
    backend,
    dtype,
    evenly: bool = False,
    top_k=None,
    class_id=None,
    sample_weight=None,
    multi_label: bool = False,
    label_weights=None,
    limits=None,
    where: str = "metric",
) -> dict:
    """The counts of one batch per kind (``KINDS``): shape ``(T,)``, or ``(T, labels)``
    with ``multi_label``. ``thresholds`` is a host list, ``limits`` the same on the backend
    (sent once by the metric: a host-to-device copy would wait for the device)."""
    xp = backend.xp
    y_true = y_true.astype(dtype, copy=False)
    y_pred = y_pred.astype(dtype, copy=False)
    y_pred, y_true = same_rank(y_pred, y_true)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"{where}: y_true and y_pred must have the same shape; got y_true "
            f"{tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)}."
        )
    if sample_weight is not None:
        sample_weight = sample_weight.astype(dtype, copy=False)[..., None]
        _, sample_weight = same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k, xp)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                f"{where}: with `class_id`, y_pred must have shape (samples, classes); got "
                f"shape {tuple(y_pred.shape)}."
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if multi_label and y_pred.ndim != 2:
        raise ValueError(
            f"{where}: with `multi_label=True`, y_pred must have rank 2 (samples, labels); got "
            f"shape {tuple(y_pred.shape)}."
        )
    weights = None
    if sample_weight is not None:
        weights = xp.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None and not multi_label:
        label_weights = xp.broadcast_to(label_weights, y_pred.shape)
        weights = label_weights if weights is None else weights * label_weights
    positive = (y_true != 0).astype(dtype)
    if not multi_label:
        y_pred, positive = y_pred.reshape(-1), positive.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    true_labels = positive if weights is None else positive * weights
    false_labels = (1 - positive) if weights is None else (1 - positive) * weights
    count = len(thresholds)
    if evenly:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        buckets = xp.ceil(xp.clip(y_pred, 0.0, 1.0) * dtype.type(count - 1)) - 1
        if with_epsilon:  # every prediction in [0, 1] is above the first threshold
            buckets = xp.maximum(buckets, 0)
        buckets = buckets.astype("int64")
        if multi_label:
            labels = y_pred.shape[1]
            buckets = xp.where(buckets >= 0, buckets + count * xp.arange(labels), -1)
            size = count * labels
            tp = segment_sum(true_labels, buckets, size, backend).reshape(labels, count).T
            fp = segment_sum(false_labels, buckets, size, backend).reshape(labels, count).T
        else:
            tp = segment_sum(true_labels, buckets, count, backend)
            fp = segment_sum(false_labels, buckets, count, backend)
        tp = xp.cumsum(tp[::-1], axis=0)[::-1]
        fp = xp.cumsum(fp[::-1], axis=0)[::-1]
    else:
        if limits is None:
            limits = backend.asarray(numpy.asarray(thresholds, dtype=dtype))
        if multi_label:
            above = (y_pred[None] > limits[:, None, None]).astype(dtype)
            tp = (above * true_labels[None]).sum(axis=1)
            fp = (above * false_labels[None]).sum(axis=1)
        else:
            above = (y_pred[None, :] > limits[:, None]).astype(dtype)
            tp, fp = above @ true_labels, above @ false_labels
    return {
        "true_positives": tp,
        "false_positives": fp,
        "true_negatives": false_labels.sum(axis=0) - fp,
        "false_negatives": true_labels.sum(axis=0) - tp,
    }


class ConfusionMetric(Metric):
    """Counts of some of ``KINDS`` at each threshold; subclasses compute ``result()``."""

    kinds: tuple = ()

    def _add_counts(self, shape) -> None:
        for kind in self.kinds:
            self.add_state(kind, shape)

    def _on_device(self, name: str, values, backend):
        """``values`` (a host list) as a backend array, sent once per backend."""
        cache = self.__dict__.setdefault("_device_constants", {})
        key = (name, id(backend))
        if key not in cache:
            cache[key] = backend.asarray(numpy.asarray(values, dtype=self.dtype))
        return cache[key]

    def _update(self, y_true, y_pred, sample_weight, label_weights=None, **options) -> None:
        backend, (y_true, y_pred, weights) = self.arrays(y_true, y_pred, sample_weight)
        if label_weights is not None:
            label_weights = self._on_device("label_weights", label_weights, backend)
        limits = None if self._evenly else self._on_device("thresholds", self.thresholds, backend)
        counts = confusion_counts(
            y_true,
            y_pred,
            self.thresholds,
            backend,
            numpy.dtype(self.dtype),
            evenly=self._evenly,
            sample_weight=weights,
            label_weights=label_weights,
            limits=limits,
            where=type(self).__name__,
            **options,
        )
        for kind in self.kinds:
            getattr(self, kind)[...] += counts[kind]

    def _per_threshold(self, value):
        return as_float(value[0] if len(self.thresholds) == 1 else value)


class _ConditionCount(ConfusionMetric):
    """The weighted count of one kind of outcome, at each threshold (default 0.5)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(dtype=dtype, name=name)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, 0.5, type(self).__name__)
        self._evenly = evenly_distributed(self.thresholds)
        self._add_counts((len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self._update(y_true, y_pred, sample_weight)

    def result(self):
        return self._per_threshold(self.host(getattr(self, self.kinds[0])))

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    kinds = ("true_positives",)


class FalsePositives(_ConditionCount):
    kinds = ("false_positives",)


class TrueNegatives(_ConditionCount):
    kinds = ("true_negatives",)


class FalseNegatives(_ConditionCount):
    kinds = ("false_negatives",)


class _PrecisionRecall(ConfusionMetric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(dtype=dtype, name=name)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = parse_thresholds(thresholds, default, type(self).__name__)
        self._evenly = evenly_distributed(self.thresholds)
        self._add_counts((len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self._update(y_true, y_pred, sample_weight, top_k=self.top_k, class_id=self.class_id)

    def result(self):
        hits, misses = (self.host(getattr(self, kind)) for kind in self.kinds)
        return self._per_threshold(divide_no_nan(hits, hits + misses))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)``: how many of the predicted positives are positive."""

    kinds = ("true_positives", "false_positives")


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)``: how many of the positives are predicted positive."""

    kinds = ("true_positives", "false_negatives")


class AUC(ConfusionMetric):
    """The area under the ROC or precision-recall curve, by a Riemann sum over thresholds."""

    kinds = KINDS

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label: bool = False,
        num_labels=None,
        label_weights=None,
        from_logits: bool = False,
    ):
        if str(curve).upper() not in ("ROC", "PR", "PRGAIN"):
            raise ValueError(f'AUC: `curve` must be "ROC", "PR" or "PRGAIN"; got {curve!r}.')
        if str(summation_method).lower() not in ("interpolation", "majoring", "minoring"):
            raise ValueError(
                f'AUC: `summation_method` must be "interpolation", "majoring" or "minoring"; '
                f"got {summation_method!r}."
            )
        super().__init__(dtype=dtype, name=name)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, 0.5, "AUC"))
            self._evenly = evenly_distributed([0.0, *inner, 1.0])
        else:
            if not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError(
                    f"AUC: `num_thresholds` must be an integer > 1; got {num_thresholds!r}."
                )
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self.num_thresholds = len(inner) + 2
        self.thresholds = [0.0 - EPSILON, *inner, 1.0 + EPSILON]
        self.curve = str(curve).upper()
        self.summation_method = str(summation_method).lower()
        self.multi_label, self.num_labels = multi_label, num_labels
        self.label_weights = None if label_weights is None else list(label_weights)
        self.from_logits = from_logits
        self._built = False
        if num_labels and not multi_label:
            raise ValueError("AUC: `num_labels` is needed only when `multi_label=True`.")
        if not multi_label:
            self._build(None)
        elif num_labels:
            self._build((None, num_labels))

    def _build(self, shape) -> None:
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(
                    f"AUC: with `multi_label=True`, y_pred must have rank 2 (samples, labels); "
                    f"got shape {tuple(shape)}."
                )
            self._add_counts((self.num_thresholds, shape[1]))
        else:
            self._add_counts((self.num_thresholds,))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if not self._built:
            self._build(numpy.shape(y_pred))
        if self.from_logits:
            backend, (y_pred,) = self.arrays(y_pred)
            y_pred = backend.sigmoid_forward(y_pred)
        self._update(
            y_true,
            y_pred,
            sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
        )

    def result(self) -> float:
        if not self._built:
            return 0.0
        tp, fp, tn, fn = (self.host(getattr(self, kind)) for kind in self.kinds)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._by_label(self._interpolated_pr_auc(tp, fp, fn))
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = numpy.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
            precision_gain = numpy.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
            x, y = numpy.maximum(recall_gain, 0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = numpy.minimum(y[:-1], y[1:])
        else:
            heights = numpy.maximum(y[:-1], y[1:])
        return self._by_label((x[:-1] - x[1:]) * heights)

    @staticmethod
    def _interpolated_pr_auc(tp, fp, fn):
        """Davis & Goadrich (2006)'s interpolation of precision between thresholds, in
        Keras's closed form: TP and TP + FP vary linearly within each interval."""
        dtp = tp[:-1] - tp[1:]
        predicted = tp + fp
        dp = predicted[:-1] - predicted[1:]
        slope = divide_no_nan(dtp, numpy.maximum(dp, 0))
        intercept = tp[1:] - slope * predicted[1:]
        both = (predicted[:-1] > 0) & (predicted[1:] > 0)
        ratio = numpy.where(
            both, divide_no_nan(predicted[:-1], numpy.maximum(predicted[1:], 0)), 1.0
        )
        return divide_no_nan(
            slope * (dtp + intercept * numpy.log(ratio)), numpy.maximum(tp[1:] + fn[1:], 0)
        )

    def _by_label(self, terms) -> float:
        if not self.multi_label:
            return as_float(terms.sum())
        by_label = terms.sum(axis=0)
        if self.label_weights is None:
            return as_float(by_label.mean())
        weights = numpy.asarray(self.label_weights, dtype=numpy.float64)
        return as_float(divide_no_nan((by_label * weights).sum(), weights.sum()))

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class _RateAtRate(ConfusionMetric):
    """The best ``dependent`` rate over the thresholds where the ``constrained`` rate is at
    least ``value`` (0 if none is), from the four counts at ``num_thresholds`` evenly
    spaced thresholds in [0, 1] (Keras's ``SensitivitySpecificityBase``)."""

    kinds = KINDS
    #: the name of the constructor's target argument, and the two rates compared
    target: str = ""
    constrained: str = ""
    dependent: str = ""

    def __init__(self, value, num_thresholds: int = 200, class_id=None, name=None, dtype=None):
        where = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(
                f"{where}: `{self.target}` must be in the range [0, 1]; got {value!r}."
            )
        if (
            isinstance(num_thresholds, bool)
            or not isinstance(num_thresholds, int)
            or num_thresholds <= 0
        ):
            raise ValueError(
                f"{where}: `num_thresholds` must be an integer > 0; got {num_thresholds!r}."
            )
        super().__init__(dtype=dtype, name=name)
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        setattr(self, self.target, value)
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._evenly = [0.0, *inner, 1.0], True
        self._add_counts((len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self._update(y_true, y_pred, sample_weight, class_id=self.class_id)

    def _rates(self) -> dict:
        tp, fp, tn, fn = (self.host(getattr(self, kind)) for kind in self.kinds)
        return {
            "recall": divide_no_nan(tp, tp + fn),  # also the sensitivity
            "precision": divide_no_nan(tp, tp + fp),
            "specificity": divide_no_nan(tn, tn + fp),
        }

    def result(self) -> float:
        rates = self._rates()
        feasible = rates[self.constrained] >= self.value
        return as_float(numpy.where(feasible, rates[self.dependent], 0.0).max(initial=0.0))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self.target: self.value,
        }


class SensitivityAtSpecificity(_RateAtRate):
    """The best sensitivity ``tp / (tp + fn)`` where the specificity ``tn / (tn + fp)`` is
    at least ``specificity``."""

    target, constrained, dependent = "specificity", "specificity", "recall"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_RateAtRate):
    """The best specificity where the sensitivity is at least ``sensitivity``."""

    target, constrained, dependent = "sensitivity", "recall", "specificity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_RateAtRate):
    """The best precision where the recall is at least ``recall``."""

    target, constrained, dependent = "recall", "recall", "precision"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_RateAtRate):
    """The best recall where the precision is at least ``precision`` (0 if it never is)."""

    target, constrained, dependent = "precision", "precision", "recall"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)
