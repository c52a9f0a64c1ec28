"""Intersection-over-union metrics from a running confusion matrix: ``IoU``, ``MeanIoU``,
``BinaryIoU``, ``OneHotIoU``, ``OneHotMeanIoU``.

The matrix is kept in floats, so fractional ``sample_weight`` counts as given.
Keras 3.15 keeps it in integers and truncates such weights to 0 (it warns);
that is a bug we do not copy: here ``BinaryIoU`` gives its documented example's
0.17361 where Keras 3.15 gives 0.
"""

import numpy

from .base import Metric, as_float
from .confusion import segment_sum

EPSILON = 1e-7


class IoU(Metric):
    """``tp / (tp + fp + fn)`` per class, averaged over ``target_class_ids`` (classes that
    appear neither in the labels nor in the predictions are left out of the mean)."""

    def __init__(
        self,
        num_classes: int,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(dtype=dtype, name=name)
        where = type(self).__name__
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"{where}: `num_classes` must be a positive integer; got {num_classes!r}."
            )
        target_class_ids = list(target_class_ids)
        if (
            not target_class_ids
            or max(target_class_ids) >= num_classes
            or min(target_class_ids) < 0
        ):
            raise ValueError(
                f"{where}: `target_class_ids` must be class ids in [0, {num_classes}); got "
                f"{target_class_ids}."
            )
        self.num_classes, self.target_class_ids = num_classes, target_class_ids
        self.ignore_class = ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.add_state("total_confusion_matrix", (num_classes, num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        backend, (y_true, y_pred, weights) = self.arrays(y_true, y_pred, sample_weight)
        self._count(y_true, y_pred, weights, backend)

    def _count(self, y_true, y_pred, weights, backend) -> None:
        xp = backend.xp
        if not self.sparse_y_true:
            y_true = xp.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = xp.argmax(y_pred, axis=self.axis)
        labels = y_true.astype("int64").reshape(-1)
        predicted = y_pred.astype("int64").reshape(-1)
        if labels.shape != predicted.shape:
            raise ValueError(
                f"{type(self).__name__}: y_true and y_pred hold {labels.size} and "
                f"{predicted.size} class ids; they must hold one each per sample."
            )
        weights = self._weights(weights, y_true.shape, labels.size, xp)
        classes = self.num_classes
        valid = (labels >= 0) & (labels < classes) & (predicted >= 0) & (predicted < classes)
        if self.ignore_class is not None:
            valid &= labels != self.ignore_class
        cells = labels * classes + predicted
        counts = segment_sum(weights, xp.where(valid, cells, -1), classes**2, backend)
        self.total_confusion_matrix += counts.reshape(classes, classes)

    def _weights(self, weights, shape, size: int, xp):
        """One float weight per class id: given so, or one per sample spread over its ids."""
        if weights is None:
            return xp.ones(size, dtype=self.dtype)
        weights = weights.astype(self.dtype, copy=False)
        if weights.size != size and 0 < weights.ndim <= len(shape):
            weights = weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim))
            weights = xp.broadcast_to(weights, shape)
        try:
            return xp.broadcast_to(weights.reshape(-1) if weights.ndim else weights, (size,))
        except ValueError:
            raise ValueError(
                f"{type(self).__name__}: `sample_weight` of shape {tuple(weights.shape)} does "
                f"not fit labels of shape {tuple(shape)}; give one weight per sample or per "
                f"label."
            ) from None

    def result(self) -> float:
        matrix = self.host(self.total_confusion_matrix)
        true_positives = numpy.diag(matrix)
        union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
        true_positives = true_positives[self.target_class_ids]
        union = union[self.target_class_ids]
        present = union > 1e-9
        iou = numpy.where(present, true_positives / (union + EPSILON), 0.0)
        return as_float(iou.sum() / (present.sum() + EPSILON))

    #: arguments a subclass fixes, so not in its config
    fixed_arguments: tuple = ()

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }
        return {key: value for key, value in config.items() if key not in self.fixed_arguments}


class BinaryIoU(IoU):
    """IoU of two classes, predictions being class 1 at or above ``threshold``."""

    fixed_arguments = ("num_classes", "ignore_class", "sparse_y_true", "sparse_y_pred", "axis")

    def __init__(self, target_class_ids=(0, 1), threshold: float = 0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        backend, (y_true, y_pred, weights) = self.arrays(y_true, y_pred, sample_weight)
        predicted = y_pred.astype("float32", copy=False) >= self.threshold
        self._count(y_true, predicted, weights, backend)


class MeanIoU(IoU):
    """The mean IoU over all ``num_classes`` classes."""

    fixed_arguments = ("target_class_ids",)

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(
            num_classes,
            list(range(num_classes)) if isinstance(num_classes, int) else [],
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )


class OneHotIoU(IoU):
    """``IoU`` for one-hot labels (and, by default, scores) along ``axis``."""

    fixed_arguments = ("sparse_y_true",)

    def __init__(
        self,
        num_classes: int,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ):
        super().__init__(
            num_classes,
            target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )


class OneHotMeanIoU(MeanIoU):
    """``MeanIoU`` for one-hot labels (and, by default, scores) along ``axis``."""

    fixed_arguments = ("target_class_ids", "sparse_y_true")

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ):
        super().__init__(
            num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )
