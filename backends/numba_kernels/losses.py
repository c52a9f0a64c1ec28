"""Fused softmax + cross-entropy over the rows of ``(n, classes)`` logits."""

import math

import numba


@numba.njit(cache=True, error_model="numpy")
def _softmax_row(logits, probs, r):
    """Write row ``r``'s softmax into ``probs``; return ``(peak, log(sum))``.

    ``log(sum)`` is of the exponentials shifted by ``peak``, so the row's
    log-softmax is ``logits - peak - log(sum)``.
    """
    classes = logits.shape[1]
    peak = logits[r, 0]
    for j in range(1, classes):
        peak = max(peak, logits[r, j])
    total = 0.0
    for j in range(classes):
        e = math.exp(logits[r, j] - peak)
        probs[r, j] = e
        total += e
    for j in range(classes):
        probs[r, j] = probs[r, j] / total
    return peak, math.log(total)


@numba.njit(cache=True, error_model="numpy")
def softmax_cross_entropy_forward(logits, targets, loss, probs):
    rows, classes = logits.shape
    for r in range(rows):
        peak, log_total = _softmax_row(logits, probs, r)
        value = 0.0
        for j in range(classes):
            value -= targets[r, j] * (logits[r, j] - peak - log_total)
        loss[r] = value


@numba.njit(cache=True, error_model="numpy")
def softmax_cross_entropy_backward(probs, targets, dloss, grad):
    rows, classes = probs.shape
    for r in range(rows):
        for j in range(classes):
            grad[r, j] = (probs[r, j] - targets[r, j]) * dloss[r]


@numba.njit(cache=True, error_model="numpy")
def sparse_softmax_cross_entropy_forward(logits, labels, loss, probs):
    rows, classes = logits.shape
    for r in range(rows):
        label = labels[r]
        if label < 0 or label >= classes:
            raise IndexError("sparse cross-entropy: a label is outside [0, classes)")
        peak, log_total = _softmax_row(logits, probs, r)
        loss[r] = log_total - (logits[r, label] - peak)


@numba.njit(cache=True, error_model="numpy")
def sparse_softmax_cross_entropy_backward(probs, labels, dloss, grad):
    rows, classes = probs.shape
    for r in range(rows):
        label = labels[r]
        if label < 0 or label >= classes:
            raise IndexError("sparse cross-entropy: a label is outside [0, classes)")
        for j in range(classes):
            grad[r, j] = probs[r, j] * dloss[r]
        grad[r, label] = (probs[r, label] - 1) * dloss[r]
