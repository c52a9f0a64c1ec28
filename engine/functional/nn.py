"""Neural-network ops: the dense affine map and fused softmax cross-entropy.

Each has a ``backward_graph`` for ``create_graph=True``.
"""

from ..tensor import Function, Tensor, apply
from ._util import as_tensor, native, normalize_axes
from .activation import sigmoid, softmax
from .math import matmul
from .reduction import mean_of
from .reduction import sum as sum_over
from .shape import broadcast_to, reshape, transpose


class Dense(Function):
    """``activation(x @ kernel + bias)`` over the last axis; ``x`` may have any leading axes.

    ``activation`` is None or ``"relu"`` (``FUSED_ACTIVATIONS``): the backend adds the bias
    and applies it in one pass over the product's fresh output (in place where it can),
    and the op keeps that output for the activation's derivative, instead of a second op.
    """

    def __init__(self, activation=None):
        self.activation = activation

    def forward(self, x, kernel, bias=None):
        need_x, need_kernel = self.needs_input_grad[:2]
        self.x = x if need_kernel else None
        self.kernel = kernel if need_x else None
        self.x_shape = x.shape
        backend = self.backend
        if self.activation is None:
            return backend.dense_forward(x, kernel, bias)
        y = backend.bias_activation_forward(backend.dense_forward(x, kernel), bias, self.activation)
        self.y = y
        return y

    def backward(self, grad):
        needs = self.needs_input_grad
        if self.activation is not None:
            grad = self.backend.relu_backward(grad, self.y, self.y)
        matmul = self.backend.matmul
        grad_2d = grad.reshape(-1, grad.shape[-1])
        grad_x = grad_kernel = grad_bias = None
        if needs[0]:
            grad_x = matmul(grad, self.kernel.T)
        if needs[1]:
            x_2d = self.x.reshape(-1, self.x_shape[-1])
            grad_kernel = matmul(x_2d.T, grad_2d)
        if len(needs) > 2 and needs[2]:
            grad_bias = self.backend.bias_backward(grad)
        return grad_x, grad_kernel, grad_bias

    def backward_graph(self, grad):
        needs = self.needs_input_grad
        x, kernel = self.inputs[:2]
        if self.activation is not None:  # relu's derivative is a constant mask
            grad = grad * as_tensor(self.y > 0, grad)
        grad_2d = grad if grad.ndim == 2 else reshape(grad, (-1, grad.shape[-1]))
        grad_x = grad_kernel = grad_bias = None
        if needs[0]:
            grad_x = matmul(grad, transpose(kernel))
        if needs[1]:
            x_2d = x if x.ndim == 2 else reshape(x, (-1, x.shape[-1]))
            grad_kernel = matmul(transpose(x_2d), grad_2d)
        if len(needs) > 2 and needs[2]:
            grad_bias = sum_over(grad_2d, 0)
        return grad_x, grad_kernel, grad_bias


class SoftmaxCrossEntropy(Function):
    """Per-sample cross-entropy of ``softmax(logits)`` against targets (rows that need not
    sum to one, as Keras allows)."""

    def __init__(self, targets):
        self.targets = targets

    def forward(self, logits):
        self.shape = logits.shape
        flat = logits.reshape(-1, logits.shape[-1])
        targets = self.targets.reshape(flat.shape)
        loss, self.probs = self.backend.softmax_cross_entropy_forward(flat, targets)
        return loss.reshape(logits.shape[:-1])

    def backward(self, grad):
        targets = self.targets.reshape(self.probs.shape)
        flat = self.backend.softmax_cross_entropy_backward(self.probs, targets, grad.reshape(-1))
        return (flat.reshape(self.shape),)

    def backward_graph(self, grad):
        logits = self.inputs[0]
        targets = self.targets.reshape(logits.shape)
        totals = as_tensor(targets.sum(axis=-1, keepdims=True), grad)  # need not be one
        return (
            reshape(grad, (*grad.shape, 1)) * (softmax(logits) * totals - as_tensor(targets, grad)),
        )


class SparseSoftmaxCrossEntropy(Function):
    """Per-sample cross-entropy of ``softmax(logits)`` against integer labels.

    ``bounds=(low, high)`` clips each loss into ``[low, high]`` in the same op, with the
    gradient of a clipped loss zero (as ``clip`` of the loss would give, one op fewer).
    ``probs``: ``softmax(logits)`` as the forward pass made it (a model's softmax output);
    with ``bounds`` the loss is then ``-log`` of each row's labelled probability, read
    from it, instead of a second softmax (``sparse_cross_entropy_of_probabilities``: a
    probability below the smallest normal float counts as that, whose loss is clipped
    like any below ``exp(-high)``).
    """

    def __init__(self, labels, bounds=None, probs=None):
        self.labels = labels
        self.bounds = bounds
        self.given_probs = probs

    def forward(self, logits):
        self.shape = logits.shape
        self.labels = native(self.labels, self.backend)
        flat = logits.reshape(-1, logits.shape[-1])
        probs, self.given_probs = self.given_probs, None
        if (
            self.bounds is not None
            and probs is not None
            and probs.shape == logits.shape
            and probs.dtype == logits.dtype
        ):
            self.probs = probs.reshape(flat.shape)
            loss = self.backend.sparse_cross_entropy_of_probabilities(
                self.probs, self.labels.reshape(-1)
            )
        else:
            loss, self.probs = self.backend.sparse_softmax_cross_entropy_forward(
                flat, self.labels.reshape(-1)
            )
        self.inside = None
        if self.bounds is not None:
            xp = self.backend.xp
            low, high = self.bounds
            clipped = xp.minimum(xp.maximum(loss, low), high)
            self.inside = clipped == loss  # NaN counts as clipped: no gradient, as clip's
            loss = clipped
        return loss.reshape(logits.shape[:-1])

    def backward(self, grad):
        grad = grad.reshape(-1)
        if self.inside is not None:
            grad = grad * self.inside
        flat = self.backend.sparse_softmax_cross_entropy_backward(
            self.probs, self.labels.reshape(-1), grad
        )
        return (flat.reshape(self.shape),)

    def backward_graph(self, grad):
        logits = self.inputs[0]
        xp = self.backend.xp
        if self.inside is not None:
            grad = grad * as_tensor(self.inside.reshape(grad.shape).astype(grad.dtype), grad)
        one_hot = xp.eye(logits.shape[-1], dtype=logits.dtype)[self.labels.reshape(grad.shape)]
        return (reshape(grad, (*grad.shape, 1)) * (softmax(logits) - as_tensor(one_hot, grad)),)


class MeanSquaredError(Function):
    """Per-sample ``mean((y_pred - targets) ** 2)`` over the last axis; ``targets`` is an array
    (no gradient) shaped like ``y_pred``.

    One op for the subtraction, product and mean, with the rounding of those three ops
    (forward and backward) at the Python cost of one.
    """

    def __init__(self, targets):
        self.targets = targets

    def forward(self, y_pred):
        diff = y_pred - self.targets
        self.diff = diff
        return mean_of(diff * diff, (diff.ndim - 1,))

    def backward(self, grad):
        diff = self.diff
        part = grad.reshape(*grad.shape, 1) / diff.shape[-1] * diff
        return (part + part,)  # d(diff * diff): the two factors' gradients, summed

    def backward_graph(self, grad):
        diff = self.inputs[0] - as_tensor(self.targets, grad)
        part = reshape(grad, (*grad.shape, 1)) * (1.0 / diff.shape[-1]) * diff
        return (part + part,)


class MeanSquaredErrorOverBatch(MeanSquaredError):
    """``MeanSquaredError`` followed by the mean of its per-sample losses (``SumOverSize``,
    the loss's default reduction) in one op: the same arithmetic and bits, one op fewer
    to run and to differentiate. The batch mean's gradient reaches every sample alike,
    so the backward multiplies by one number instead of spreading it into an array."""

    def forward(self, y_pred):
        if y_pred.shape[-1] != 1:
            losses = super().forward(y_pred)
            self.count = losses.size
            return losses.sum() / self.count
        # one feature (a regression's usual output): a sample's mean is its square, to the
        # bit, and the sum over the squares is the sum over the samples'
        diff = y_pred - self.targets
        self.diff, self.count = diff, diff.size
        return (diff * diff).sum() / self.count

    def backward(self, grad):
        # per element: (grad / count) / features * diff, the two ops' sequence of roundings;
        # the 0-d gradient's divisions as a scalar's (0.14 against 0.58 us on the host)
        part = grad[()] / self.count / self.diff.shape[-1] * self.diff
        return (part + part,)

    def backward_graph(self, grad):
        losses_shape = self.diff.shape[:-1]
        spread = reshape(grad / as_tensor(self.count, grad), (1,) * len(losses_shape))
        return super().backward_graph(broadcast_to(spread, losses_shape))


def mean_squared_error(y_pred: Tensor, targets) -> Tensor:
    """Per-sample loss; ``targets`` is an array (no gradient) shaped like ``y_pred``."""
    if isinstance(targets, Tensor):
        targets = targets.data
    normalize_axes(-1, y_pred.ndim)  # a scalar has no last axis to average over
    return apply(MeanSquaredError(targets), y_pred)


def mean_squared_error_over_batch(y_pred: Tensor, targets) -> Tensor:
    """The mean of the per-sample losses, ``sum(losses) / losses.size`` (``y_pred`` has a
    batch axis and at least one sample)."""
    if isinstance(targets, Tensor):
        targets = targets.data
    if y_pred.ndim < 2 or not y_pred.size:
        raise ValueError(
            f"mean_squared_error_over_batch: y_pred needs a batch axis, a feature axis and "
            f"a sample; got shape {tuple(y_pred.shape)}."
        )
    return apply(MeanSquaredErrorOverBatch(targets), y_pred)


#: activations ``dense`` can apply inside its op: their derivative needs only the output
FUSED_ACTIVATIONS = ("relu",)


def dense(
    x: Tensor, kernel: Tensor, bias: Tensor | None = None, activation: str | None = None
) -> Tensor:
    """``x @ kernel + bias``, then ``activation`` (None, or one of ``FUSED_ACTIVATIONS``)."""
    if activation is not None and activation not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"dense: `activation` must be None or one of {FUSED_ACTIVATIONS}; got {activation!r}."
        )
    if bias is None:
        return apply(Dense(activation), x, kernel)
    return apply(Dense(activation), x, kernel, bias)


def softmax_cross_entropy(logits: Tensor, targets) -> Tensor:
    """Per-sample loss; ``targets`` is an array (no gradient) shaped like ``logits``."""
    if isinstance(targets, Tensor):
        targets = targets.data
    return apply(SoftmaxCrossEntropy(targets), logits)


def sparse_softmax_cross_entropy(logits: Tensor, labels, bounds=None, probs=None) -> Tensor:
    """Per-sample loss; integer ``labels`` are shaped like ``logits`` without its last axis.
    ``bounds=(low, high)``: each loss clipped into them (a clipped loss has no gradient).
    ``probs``: ``softmax(logits)`` already computed (an array), read instead of computed
    again when ``bounds`` are given."""
    if isinstance(labels, Tensor):
        labels = labels.data
    return apply(SparseSoftmaxCrossEntropy(labels, bounds, probs), logits)


class SigmoidCrossEntropy(Function):
    """Elementwise ``-(z log sigmoid(x) + (1 - z) log(1 - sigmoid(x)))``, stable for any ``x``."""

    def __init__(self, targets):
        self.targets = targets

    def forward(self, logits):
        xp = self.backend.xp
        self.logits, self.targets = logits, native(self.targets, self.backend)
        return xp.maximum(logits, 0) - logits * self.targets + xp.log1p(xp.exp(-xp.abs(logits)))

    def backward(self, grad):
        probs = self.backend.sigmoid_forward(self.logits)
        return (grad * (probs - self.targets),)

    def backward_graph(self, grad):
        return (grad * (sigmoid(self.inputs[0]) - as_tensor(self.targets, grad)),)


def sigmoid_cross_entropy(logits: Tensor, targets) -> Tensor:
    """Elementwise binary cross-entropy from logits; ``targets`` has no gradient."""
    if isinstance(targets, Tensor):
        targets = targets.data
    return apply(SigmoidCrossEntropy(targets), logits)
