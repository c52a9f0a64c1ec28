"""Batch and layer normalization ops (training-mode statistics from the input itself)."""

from ..tensor import Function, Tensor, apply
from ._util import normalize_axes


class _Normalize(Function):
    """Normalize over ``axes`` of ``x`` and apply the optional ``gamma`` and ``beta``.

    The normalized (layer norm) or kept (batch norm) axes are moved last and
    flattened so the backend kernels see 2-D arrays.
    """

    kind = ""

    def __init__(self, axes, epsilon, has_gamma, has_beta):
        self.axes, self.epsilon = axes, epsilon
        self.has_gamma, self.has_beta = has_gamma, has_beta

    def _to_2d(self, x):
        xp = self.backend.xp
        moved = xp.moveaxis(x, self.axes, tuple(range(x.ndim - len(self.axes), x.ndim)))
        self.moved_shape = moved.shape
        width = 1
        for axis in self.axes:
            width *= x.shape[axis]
        return xp.ascontiguousarray(moved).reshape(-1, width)

    def _from_2d(self, y, ndim):
        xp = self.backend.xp
        y = y.reshape(self.moved_shape)
        return xp.moveaxis(y, tuple(range(ndim - len(self.axes), ndim)), self.axes)

    def forward(self, x, *params):
        params = list(params)
        gamma = params.pop(0) if self.has_gamma else None
        beta = params.pop(0) if self.has_beta else None
        self.ndim = x.ndim
        self.param_shape = next((p.shape for p in (gamma, beta) if p is not None), None)
        flat = self._to_2d(x)
        flat_gamma = gamma.reshape(-1) if gamma is not None else None
        flat_beta = beta.reshape(-1) if beta is not None else None
        y, self.mean, self.variance = getattr(self.backend, f"{self.kind}_forward")(
            flat, flat_gamma, flat_beta, self.epsilon
        )
        self.x, self.gamma = flat, flat_gamma
        return self._from_2d(y, x.ndim)

    def backward(self, grad):
        flat_grad = self._to_2d(grad)
        dx, dgamma, dbeta = getattr(self.backend, f"{self.kind}_backward")(
            flat_grad, self.x, self.mean, self.variance, self.gamma, self.epsilon
        )
        grads = [self._from_2d(dx, self.ndim) if self.needs_input_grad[0] else None]
        if self.has_gamma:
            grads.append(dgamma.reshape(self.param_shape))
        if self.has_beta:
            grads.append(dbeta.reshape(self.param_shape))
        return tuple(grads)


class BatchNorm(_Normalize):
    kind = "batch_norm"


class LayerNorm(_Normalize):
    kind = "layer_norm"


def _normalize(fn_class, x, gamma, beta, axes, epsilon):
    fn = fn_class(axes, epsilon, gamma is not None, beta is not None)
    params = [p for p in (gamma, beta) if p is not None]
    return fn, apply(fn, x, *params)


def batch_norm(
    x: Tensor, gamma: Tensor | None, beta: Tensor | None, axis: int = -1, epsilon: float = 1e-3
):
    """Normalize each channel along ``axis`` by the batch's mean and biased variance.

    Returns ``(y, mean, variance)``; the statistics are raw backend arrays of shape
    ``(channels,)``, outside the graph, for updating moving averages.
    """
    fn, y = _normalize(BatchNorm, x, gamma, beta, normalize_axes(axis, x.ndim), epsilon)
    return y, fn.mean, fn.variance


def layer_norm(
    x: Tensor, gamma: Tensor | None, beta: Tensor | None, axis=-1, epsilon: float = 1e-3
) -> Tensor:
    """Normalize each sample over ``axis`` (an int or a list of ints)."""
    return _normalize(LayerNorm, x, gamma, beta, normalize_axes(axis, x.ndim), epsilon)[1]
