"""Fused softmax + cross-entropy kernels.

Forward kernels return the per-sample loss and the softmax probabilities,
which are all the backward kernel needs.
"""

import numpy


class LossKernels:
    xp = numpy

    def softmax_cross_entropy_forward(self, logits, targets):
        """Cross-entropy of ``softmax(logits)`` against target distributions.

        ``logits`` and ``targets`` are ``(n, classes)``; returns ``(loss, probs)``
        with ``loss`` of shape ``(n,)``.
        """
        xp = self.xp
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        log_probs = shifted - xp.log(total)
        loss = -(targets * log_probs).sum(axis=1)
        return loss, exp / total

    def softmax_cross_entropy_backward(self, probs, targets, dloss):
        """Gradient w.r.t. logits: ``probs * sum(targets) - targets`` per row, times
        ``dloss`` (targets need not sum to one: Keras takes any)."""
        total = targets.sum(axis=1, keepdims=True)
        return (probs * total - targets) * dloss[:, None]

    def sparse_softmax_cross_entropy_forward(self, logits, labels):
        """As ``softmax_cross_entropy_forward`` with integer ``labels`` of shape ``(n,)``."""
        xp = self.xp
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1)
        rows = xp.arange(logits.shape[0])
        loss = xp.log(total) - shifted[rows, labels]
        return loss, exp / total[:, None]

    def sparse_cross_entropy_of_probabilities(self, probs, labels):
        """``-log(probs[i, labels[i]])`` for each row of softmax probabilities already
        computed; a probability below the dtype's smallest normal counts as that (a loss of
        87.3 in float32), so that none is infinite. The backward is
        ``sparse_softmax_cross_entropy_backward``'s, of ``probs``."""
        xp = self.xp
        picked = probs[xp.arange(probs.shape[0]), labels]
        return -xp.log(xp.maximum(picked, xp.finfo(probs.dtype).tiny))

    def sparse_softmax_cross_entropy_backward(self, probs, labels, dloss):
        rows = self.xp.arange(probs.shape[0])
        grad = probs.copy()
        grad[rows, labels] -= 1
        grad *= dloss[:, None]
        return grad
