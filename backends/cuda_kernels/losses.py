"""Fused softmax + cross-entropy: one thread per row forward, one per element backward."""

import math

from numba import cuda


@cuda.jit(device=True)
def _softmax_row(logits, probs, row):
    """Write row ``row``'s softmax into ``probs``; return ``(peak, log(sum))``.

    ``log(sum)`` is of the exponentials shifted by ``peak``, so the row's
    log-softmax is ``logits - peak - log(sum)``.
    """
    classes = logits.shape[1]
    peak = logits[row, 0]
    for j in range(1, classes):
        peak = max(peak, logits[row, j])
    total = 0.0
    for j in range(classes):
        e = math.exp(logits[row, j] - peak)
        probs[row, j] = e
        total += e
    for j in range(classes):
        probs[row, j] /= total
    return peak, math.log(total)


@cuda.jit
def softmax_cross_entropy_forward(logits, targets, loss, probs):
    """Dense targets: ``loss[i] = -sum(t * log_softmax)``, ``probs = softmax(logits)``."""
    rows, classes = logits.shape
    row = cuda.grid(1)
    stride = cuda.gridsize(1)
    while row < rows:
        peak, log_total = _softmax_row(logits, probs, row)
        value = 0.0
        for j in range(classes):
            value -= targets[row, j] * (logits[row, j] - peak - log_total)
        loss[row] = value
        row += stride


@cuda.jit
def sparse_softmax_cross_entropy_forward(logits, labels, loss, probs):
    """Integer labels: ``loss[i] = log(sum(exp)) - shifted[i, label]``.

    A label outside ``[0, classes)`` gives a NaN loss instead of a read out of
    bounds: the training loop checks device labels once per epoch
    (``engine/losses/labels.py``), and until then the kernel must not fault.
    """
    rows, classes = logits.shape
    row = cuda.grid(1)
    stride = cuda.gridsize(1)
    while row < rows:
        peak, log_total = _softmax_row(logits, probs, row)
        label = labels[row]
        if 0 <= label < classes:
            loss[row] = log_total - (logits[row, label] - peak)
        else:
            loss[row] = math.nan
        row += stride


@cuda.jit
def softmax_cross_entropy_backward(probs, targets, totals, dloss, grad):
    rows, classes = probs.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < rows * classes:
        row = index // classes
        col = index - row * classes
        grad[row, col] = (probs[row, col] * totals[row] - targets[row, col]) * dloss[row]
        index += stride


@cuda.jit
def sparse_softmax_cross_entropy_backward(probs, labels, dloss, grad):
    rows, classes = probs.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < rows * classes:
        row = index // classes
        col = index - row * classes
        value = probs[row, col]
        if col == labels[row]:
            value -= 1
        grad[row, col] = value * dloss[row]
        index += stride
