"""Metric-learning losses on embeddings: Circle loss (Sun et al., 2020), as Keras 3.

``y_pred`` holds L2-normalized embeddings (a ``UnitNormalization`` layer last),
``y_true`` one integer class label per embedding. Each embedding is compared
with every reference embedding (the batch itself by default) by cosine
distance: same-label pairs are pulled together, other pairs pushed apart.
"""

from .. import functional as F
from ..functional.reduction import logsumexp
from ..tensor import Tensor
from .base import LossFunctionWrapper, _target_array, takes_arrays

#: stands for Keras's ``-inf`` in the masked log-sum-exps: exp() of it is 0, and a row
#: with nothing to sum gives a loss of exactly 0 with a zero gradient (never NaN)
_MASKED = -1e30


def _labels(name: str, labels, like: Tensor):
    labels = _target_array(labels, like)
    if labels.ndim == 2 and labels.shape[-1] == 1:
        labels = labels.reshape(-1)
    if labels.ndim != 1:
        raise ValueError(
            f"{name}: labels must be integers of shape (batch,) or (batch, 1); got shape "
            f"{tuple(labels.shape)}."
        )
    return labels.astype("int64")


@takes_arrays
def circle(
    y_true,
    y_pred: Tensor,
    ref_labels=None,
    ref_embeddings=None,
    remove_diagonal: bool = True,
    gamma: float = 80.0,
    margin: float = 0.4,
) -> Tensor:
    """Circle loss per embedding: ``softplus(logsumexp(positive terms) + logsumexp(negative
    terms))``, each similarity weighted by how far it is from its optimum."""
    if y_pred.ndim != 2:
        raise ValueError(
            f"circle: y_pred must be embeddings of shape (batch, dim); got {tuple(y_pred.shape)}."
        )
    xp = y_pred.backend.xp
    labels = _labels("circle", y_true, y_pred)
    if ref_embeddings is None:
        references = y_pred
    elif isinstance(ref_embeddings, Tensor):
        references = ref_embeddings
    else:
        references = Tensor._wrap(
            _target_array(ref_embeddings, y_pred, y_pred.dtype), y_pred.backend
        )
    ref_labels = labels if ref_labels is None else _labels("circle", ref_labels, y_pred)
    if len(labels) != y_pred.shape[0] or len(ref_labels) != references.shape[0]:
        raise ValueError(
            f"circle: one label per embedding is needed; got {len(labels)} labels for "
            f"{y_pred.shape[0]} embeddings and {len(ref_labels)} reference labels for "
            f"{references.shape[0]} reference embeddings."
        )
    distances = F.relu(1 - F.matmul(y_pred, F.transpose(references)))
    positive = labels[:, None] == ref_labels[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~xp.eye(len(labels), len(ref_labels), dtype=bool)
    dtype = y_pred.dtype
    positive_weights = F.relu((distances + margin) * positive.astype(dtype))
    negative_weights = F.relu((1 + margin - distances) * negative.astype(dtype))
    positive_terms = positive_weights * (margin - distances) * -float(gamma)
    negative_terms = negative_weights * (1 - margin - distances) * float(gamma)
    positive_loss = logsumexp(F.where(positive, positive_terms, _MASKED), axis=1)
    negative_loss = logsumexp(F.where(negative, negative_terms, _MASKED), axis=1)
    return F.activation(positive_loss + negative_loss, "softplus")


class Circle(LossFunctionWrapper):
    """Circle loss; the batch's mean is over the embeddings whose loss is above 0 (those
    with no same-label partner count for nothing), as Keras 3 masks it."""

    def __init__(
        self,
        gamma: float = 80.0,
        margin: float = 0.4,
        remove_diagonal: bool = True,
        reduction="sum_over_batch_size",
        name="circle",
        dtype=None,
    ):
        super().__init__(
            circle,
            reduction,
            name,
            dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )

    def __call__(self, y_true, y_pred: Tensor, sample_weight=None) -> Tensor:
        if self.dtype is not None and y_pred.dtype != self.dtype:
            y_pred = F.cast(y_pred, self.dtype)
        values = self.call(y_true, y_pred)
        xp = values.backend.xp
        # Keras's apply_mask: kept losses weigh total / kept under the mean reductions
        kept = values.data > 0
        if self.reduction in ("sum_over_batch_size", "mean"):
            count = kept.sum()
            scale = values.size / xp.maximum(count, 1)
            weights = xp.where(kept, scale, 0).astype(values.dtype)
        else:
            weights = kept.astype(values.dtype)
        if sample_weight is not None:
            weights = weights * self._weights(sample_weight, values, y_pred)
        return self._reduce(values * weights, weights)
