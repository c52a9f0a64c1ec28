"""The CTC loss (connectionist temporal classification), Keras 3's ``CTC`` / ``ctc``.

``y_true``: integer labels of shape ``(batch, max_label_length)``, padded with 0, which
is the blank class and never a label; a sample's label length is its number of nonzero
labels. ``y_pred``: logits of shape ``(batch, time, classes)`` (not a softmax), every
step counted. One loss per sample: ``engine.ops_ctc.ctc_loss``, differentiable in
``y_pred``.
"""

from ..ops_ctc import ctc_loss
from ..tensor import Tensor
from .base import Loss, LossFunctionWrapper, _target_array, takes_arrays


@takes_arrays
def ctc(y_true, y_pred: Tensor) -> Tensor:
    """The CTC loss of each sample, the blank being class 0 (Keras's ``losses.ctc``)."""
    if len(y_true.shape) != 2:
        raise ValueError(
            "ctc: targets `y_true` must be integer labels of shape (batch_size, max_length); "
            f"got shape {tuple(y_true.shape)}."
        )
    if len(y_pred.shape) != 3:
        raise ValueError(
            "ctc: logits `y_pred` must have shape (batch_size, max_length, num_classes); got "
            f"shape {tuple(y_pred.shape)}."
        )
    labels = _target_array(y_true, y_pred)
    xp = y_pred.backend.xp
    batch, steps = y_pred.shape[0], y_pred.shape[1]
    label_lengths = (labels != 0).sum(axis=-1)
    output_lengths = xp.full((batch,), steps, dtype="int64")
    return ctc_loss(labels, y_pred, label_lengths, output_lengths, mask_index=0)


class CTC(LossFunctionWrapper):
    """CTC loss of integer labels ``(batch, max_length)`` (0-padded) and logits
    ``(batch, time, classes)``; class 0 is the blank."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction, name, dtype)

    def get_config(self) -> dict:
        return Loss.get_config(self)
