"""Fused softmax + cross-entropy over the rows of ``(n, classes)`` logits."""

import math

import numba
from numba.extending import register_jitable

from .vector_math import exp_nonpositive, row_max, row_sum


@numba.njit(cache=True, error_model="numpy")
def _softmax_row(logits, probs, r):
    """Write row ``r``'s softmax into ``probs``; return ``(peak, log(sum))``.

    ``log(sum)`` is of the exponentials shifted by ``peak``, so the row's
    log-softmax is ``logits - peak - log(sum)``. Each pass over the row vectorizes
    (``vector_math``): the exponentials, their float64 sum, the scaling.
    """
    classes = logits.shape[1]
    row, out = logits[r], probs[r]
    peak = row_max(row)
    for j in range(classes):
        out[j] = exp_nonpositive(row[j] - peak)
    total = row_sum(out)
    # a float64 reciprocal: a float32 product rounds as the quotient (but for a rare double
    # rounding, one ulp), and a division a class cost more than the rest of the row (128
    # rows of 1000 classes: 149 against 90 us)
    inverse = 1.0 / total
    for j in range(classes):
        out[j] = out[j] * inverse
    return peak, math.log(total)


@register_jitable(fastmath={"reassoc"})
def _cross_entropy(target, row, peak, log_total):
    """``-sum(target * log_softmax(row))``, summed in an order that vectorizes."""
    value = 0.0
    for j in range(row.size):
        value -= target[j] * (row[j] - peak - log_total)
    return value


@numba.njit(cache=True, error_model="numpy", nogil=True)
def softmax_cross_entropy_forward(logits, targets, loss, probs):
    rows, classes = logits.shape
    for r in range(rows):
        peak, log_total = _softmax_row(logits, probs, r)
        loss[r] = _cross_entropy(targets[r], logits[r], peak, log_total)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def softmax_cross_entropy_backward(probs, targets, dloss, grad):
    rows, classes = probs.shape
    for r in range(rows):
        total = targets[r, 0] - targets[r, 0]  # zero in the arrays' dtype
        for j in range(classes):
            total += targets[r, j]
        for j in range(classes):
            grad[r, j] = (probs[r, j] * total - targets[r, j]) * dloss[r]


@numba.njit(cache=True, error_model="numpy", nogil=True)
def sparse_softmax_cross_entropy_forward(logits, labels, loss, probs):
    rows, classes = logits.shape
    for r in range(rows):
        label = labels[r]
        if label < 0 or label >= classes:
            raise IndexError("sparse cross-entropy: a label is outside [0, classes)")
        peak, log_total = _softmax_row(logits, probs, r)
        loss[r] = log_total - (logits[r, label] - peak)


@numba.njit(cache=True, error_model="numpy")
def sparse_cross_entropy_of_probabilities(probs, labels, tiny, loss):
    """``loss[r] = -log(probs[r, labels[r]])``, a probability below ``tiny`` (NaN aside)
    read as ``tiny``; the log in float64."""
    rows, classes = probs.shape
    for r in range(rows):
        label = labels[r]
        if label < 0 or label >= classes:
            raise IndexError("sparse cross-entropy: a label is outside [0, classes)")
        p = probs[r, label]
        if p < tiny:
            p = tiny
        loss[r] = -math.log(float(p))


@numba.njit(cache=True, error_model="numpy", nogil=True)
def sparse_softmax_cross_entropy_backward(probs, labels, dloss, grad):
    rows, classes = probs.shape
    for r in range(rows):
        label = labels[r]
        if label < 0 or label >= classes:
            raise IndexError("sparse cross-entropy: a label is outside [0, classes)")
        for j in range(classes):
            grad[r, j] = probs[r, j] * dloss[r]
        grad[r, label] = (probs[r, label] - 1) * dloss[r]
