"""The CTC loss as one differentiable op: the forward (alpha) recursion in log space over
the batch, a Python loop over time only, and the exact gradient with respect to the
logits from the alpha-beta recursion (softmax minus each class's normalized occupation).
``engine.ops.ctc_loss`` checks the arguments and calls it."""

import numpy

from ..tensor import Function

#: the log of an impossible start, finite as Keras's: an alignment-free sample costs ~1e5
_LOG_ZERO = -1e5


def _logsumexp3(xp, a, b, c):
    """``log(exp(a) + exp(b) + exp(c))`` elementwise, where any may be -inf."""
    top = xp.maximum(xp.maximum(a, b), c)
    safe = xp.where(xp.isfinite(top), top, 0)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        total = xp.exp(a - safe) + xp.exp(b - safe) + xp.exp(c - safe)
        return xp.where(xp.isfinite(top), xp.log(total) + safe, top)


def _shifted(xp, values, by: int):
    """``values`` moved ``by`` places along the last axis (right for by > 0), -inf coming in."""
    size = values.shape[-1]
    width = min(abs(by), size)
    fill = xp.full(values.shape[:-1] + (width,), -numpy.inf, dtype=values.dtype)
    if by > 0:
        return xp.concatenate([fill, values[..., : size - width]], axis=-1)
    return xp.concatenate([values[..., width:], fill], axis=-1)


class CTCLoss(Function):
    """``-log p(labels | logits)`` per sample; the labels and lengths are fixed arrays."""

    def __init__(self, targets, target_lengths, output_lengths, mask_index: int):
        self.targets = targets  # (batch, labels) int64, valid classes where counted
        self.target_lengths = target_lengths  # (batch,), clipped to the labels
        self.output_lengths = output_lengths  # (batch,), clipped to the steps
        self.mask_index = mask_index

    def forward(self, logits):
        xp = self.backend.xp
        batch, steps, classes = logits.shape
        labels = self.targets.shape[1]
        states = 2 * labels + 1
        log_probs = self.backend.log_softmax_forward(logits, -1)
        # the extended labels: a blank before, between and after the labels
        extended = xp.full((batch, states), self.mask_index, dtype="int64")
        extended[:, 1::2] = self.targets
        # a label state may be reached from two states back unless both hold the same class
        skip = xp.zeros((batch, states), dtype=bool)
        skip[:, 3::2] = self.targets[:, 1:] != self.targets[:, :-1]
        emit = xp.take_along_axis(
            log_probs, xp.broadcast_to(extended[:, None, :], (batch, steps, states)), axis=2
        )
        emit = xp.moveaxis(emit, 1, 0)  # (steps, batch, states)
        active = xp.arange(steps)[:, None] < self.output_lengths[None, :]  # (steps, batch)
        alpha = xp.full((batch, states), _LOG_ZERO, dtype=logits.dtype)
        alpha[:, 0] = 0  # a virtual blank before the first step
        alphas = xp.empty((steps, batch, states), dtype=logits.dtype)
        neg_inf = xp.asarray(-numpy.inf, dtype=logits.dtype)
        for t in range(steps):
            from_skip = xp.where(skip, _shifted(xp, alpha, 2), neg_inf)
            new = _logsumexp3(xp, alpha, _shifted(xp, alpha, 1), from_skip) + emit[t]
            alphas[t] = new
            alpha = xp.where(active[t][:, None], new, alpha)
        # the last label state or the blank after it ends an alignment
        last = 2 * self.target_lengths
        end = xp.arange(states)[None, :] == last[:, None]
        end |= (xp.arange(states)[None, :] == (last - 1)[:, None]) & (last > 0)[:, None]
        end_log = xp.where(end, xp.asarray(0, dtype=logits.dtype), neg_inf)
        log_likelihood = self._logsumexp(xp, alpha + end_log)
        if self.needs_input_grad[0]:
            self.saved = (log_probs, emit, alphas, active, skip, extended, end_log)
            self.log_likelihood = log_likelihood
        return -log_likelihood

    @staticmethod
    def _logsumexp(xp, values):
        top = values.max(axis=-1)
        safe = xp.where(xp.isfinite(top), top, 0)
        with numpy.errstate(divide="ignore"):
            return xp.log(xp.exp(values - safe[:, None]).sum(axis=-1)) + safe

    def backward(self, grad):
        xp = self.backend.xp
        log_probs, emit, alphas, active, skip, extended, end_log = self.saved
        steps, batch, states = alphas.shape
        classes = log_probs.shape[-1]
        skip_ahead = xp.zeros_like(skip)  # whether state s + 2 may follow state s
        skip_ahead[:, :-2] = skip[:, 2:]
        neg_inf = xp.asarray(-numpy.inf, dtype=alphas.dtype)
        # beta[t, s]: the log-probability of the steps after t given state s at step t
        last_step = (self.output_lengths - 1)[:, None]
        beta = end_log
        occupation = xp.empty_like(alphas)
        log_likelihood = self.log_likelihood[:, None]
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                ahead = beta + emit[t + 1]
                from_skip = xp.where(skip_ahead, _shifted(xp, ahead, -2), neg_inf)
                recursed = _logsumexp3(xp, ahead, _shifted(xp, ahead, -1), from_skip)
                beta = xp.where(t >= last_step, end_log, recursed)
            exponent = xp.where(active[t][:, None], alphas[t] + beta - log_likelihood, neg_inf)
            occupation[t] = xp.exp(exponent)
        occupation = xp.moveaxis(occupation, 0, 1)  # (batch, steps, states)
        one_hot = (extended[:, :, None] == xp.arange(classes)[None, None, :]).astype(alphas.dtype)
        per_class = xp.matmul(occupation, one_hot)  # (batch, steps, classes)
        valid = xp.moveaxis(active, 0, 1)[:, :, None].astype(alphas.dtype)
        d_logits = xp.exp(log_probs) * valid - per_class
        return (d_logits * grad.astype(alphas.dtype)[:, None, None],)
