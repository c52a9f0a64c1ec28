"""The ``Loss`` base class, Keras 3's reductions, and the helpers every loss uses."""

import functools
import math

from .. import functional as F
from ..conversion import as_tensor
from ..functional._util import native
from ..functional.activation import Softmax as _SoftmaxOp
from ..functional.reduction import sum_over_size
from ..registry import snake_case
from ..tensor import Tensor, as_dtype, derive, keras_mask, reshaped

EPSILON = 1e-7
#: ``-log(p)`` for ``p`` clipped to ``[EPSILON, 1 - EPSILON]``
_LEAST_LOSS, _MOST_LOSS = -math.log1p(-EPSILON), -math.log(EPSILON)
#: a cross-entropy's ``-log(clip(p))`` is ``-log(p)`` clipped to these: Keras's clipping of
#: the probabilities, in log space
_LOSS_BOUNDS = (_LEAST_LOSS, _MOST_LOSS)


def takes_arrays(loss_fn):
    """A loss function ``loss_fn(y_true, y_pred, ...)`` that also takes a ``y_pred`` that is
    not a Tensor (``conversion.as_tensor``), as Keras's do."""

    @functools.wraps(loss_fn)
    def loss(y_true, y_pred, *args, **kwargs):
        return loss_fn(y_true, as_tensor(y_pred), *args, **kwargs)

    return loss


#: per-sample loss functions -> the same loss followed by the default reduction (the mean
#: of the per-sample losses) in one op, which a wrapper of the function calls when it has
#: no sample weight, mask or cast to apply (same values and gradients, one op fewer)
BATCH_MEANS: dict = {}

#: Keras 3's ``reduction`` values (``None`` and ``"none"`` keep one loss per sample)
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def same_rank(x1, x2, expand_rank_1: bool = True):
    """Keras's ``squeeze_or_expand_to_same_rank``: drop or add one trailing axis of size 1."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1.reshape(x1.shape[:-1])
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2.reshape(x2.shape[:-1])
    return x1, x2


def mask_weights(mask, weights, dtype, reduction, backend):
    """Keras 3's ``apply_mask``: the weights with an output's mask folded in, as ``dtype``.

    For the mean reductions a kept entry weighs ``size / kept`` and a masked one 0, so
    that the mean over all entries is the mean over the kept ones (0 when none is kept);
    otherwise the mask counts as 0 and 1. ``weights`` (or None) multiply it.
    """
    xp = backend.xp
    mask = native(mask, backend)
    if reduction in ("sum_over_batch_size", "mean"):
        kept = mask.sum()
        scale = xp.where(kept > 0, mask.size / xp.maximum(kept, 1), 0)
        float_mask = xp.where(mask, scale, 0).astype(dtype)
    else:
        float_mask = mask.astype(dtype)
    if weights is None:
        return float_mask
    float_mask, weights = same_rank(float_mask, weights)
    while weights.ndim < float_mask.ndim:  # one weight per sample, a mask per step
        weights = weights[..., None]
    return weights * float_mask


def _fitted(weights, values):
    """``weights`` shaped to multiply ``values``: trailing axes added, or one trailing
    axis of size 1 dropped (``(n, 1)`` weights, ``(n,)`` losses); None where they cannot."""
    while weights.ndim < values.ndim:
        weights = weights[..., None]
    if weights.ndim > values.ndim and weights.shape[-1] == 1:
        weights = weights.reshape(weights.shape[:-1])
    if weights.ndim > values.ndim or any(
        w not in (1, v) for w, v in zip(weights.shape, values.shape)
    ):
        return None
    return weights


def _target_array(y_true, y_pred: Tensor, dtype=None):
    """``y_true`` as a raw array on ``y_pred``'s backend (targets carry no gradient)."""
    if isinstance(y_true, Tensor):
        y_true = y_true.data
    backend = y_pred.backend
    if not backend.is_native(y_true):
        y_true = derive(backend.asarray, y_true)
    if dtype is not None and y_true.dtype != dtype:
        y_true = derive(as_dtype, y_true, dtype)
    return y_true


def _match_shape(name, y_true, y_pred):
    """``y_true`` shaped like ``y_pred``: ``(n,)`` targets meet ``(n, 1)`` outputs and the
    other way round, as Keras's ``squeeze_or_expand_to_same_rank`` makes them."""
    if (y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1) or (
        y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1
    ):
        y_true = derive(reshaped, y_true, y_pred.shape)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"{name}: y_true and y_pred must have the same shape; got y_true {tuple(y_true.shape)}"
            f" and y_pred {tuple(y_pred.shape)}."
        )
    return y_true


def _targets(name: str, y_true, y_pred: Tensor):
    """``y_true`` on ``y_pred``'s backend, in its dtype and shape."""
    return _match_shape(name, _target_array(y_true, y_pred, y_pred.dtype), y_pred)


def _logits_of(y_pred: Tensor, kind: str):
    """The logits behind ``y_pred`` when it is a recorded softmax output."""
    creator = y_pred.creator
    if (
        kind == "softmax"
        and isinstance(creator, _SoftmaxOp)
        and creator.axis in (-1, y_pred.ndim - 1)
    ):
        return creator.inputs[0]
    return None


def _check_axis(name: str, axis) -> None:
    if isinstance(axis, bool) or axis != -1:
        # the classes are the last axis (channels-last images); no other is supported
        raise ValueError(f"{name}: only `axis=-1` (the last axis) is supported; got axis={axis!r}.")


def _check_reduction(reduction) -> str | None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Loss: invalid `reduction` {reduction!r}; expected one of "
            f"{', '.join(repr(r) for r in REDUCTIONS)}."
        )
    return reduction


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None) -> scalar tensor``.

    ``call(y_true, y_pred)`` gives the per-sample losses; ``sample_weight``
    multiplies them (one weight per sample, or per sample and time step), and
    ``reduction`` makes one number of them as Keras 3 does:
    ``"sum_over_batch_size"`` (the default, also ``"mean"``) divides the weighted
    sum by the number of losses, never by the sum of the weights;
    ``"mean_with_sample_weight"`` divides by the sum of the weights; ``"sum"``;
    ``"none"``/``None`` returns the per-sample losses.
    """

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.reduction = _check_reduction(reduction)
        self.dtype = dtype

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true, y_pred: Tensor, sample_weight=None) -> Tensor:
        y_pred = as_tensor(y_pred)
        mask = keras_mask(y_pred)  # Keras 3: masked steps of the output add no loss
        if self.dtype is not None and y_pred.dtype != self.dtype:
            y_pred = F.cast(y_pred, self.dtype)
        values = self.call(y_true, y_pred)
        weights = None
        if sample_weight is not None:
            weights = self._weights(sample_weight, values, y_pred)
        if mask is not None and values.ndim:
            weights = self._masked(mask, weights, values)
        if weights is not None:
            values = values * weights
        return self._reduce(values, weights)

    def _masked(self, mask, weights, values: Tensor):
        weights = _fitted(
            mask_weights(mask, weights, values.dtype, self.reduction, values.backend), values
        )
        if weights is None:
            raise ValueError(
                f"loss '{self.name}': the mask of y_pred, of shape {tuple(mask.shape)}, does "
                f"not fit the losses of shape {tuple(values.shape)}; a layer's compute_mask "
                f"gave the model's output a mask of another shape than its per-step losses."
            )
        return weights

    def _weights(self, sample_weight, values: Tensor, y_pred: Tensor):
        weights = _fitted(_target_array(sample_weight, y_pred, values.dtype), values)
        if weights is None:
            given = tuple(getattr(sample_weight, "shape", ()))
            raise ValueError(
                f"loss '{self.name}': `sample_weight` of shape {given} does not fit the "
                f"losses of shape {tuple(values.shape)} (one per sample, or per sample and "
                f"time step); give one weight per sample, shape ({values.shape[0]},)."
            )
        return weights

    def _reduce(self, values: Tensor, weights) -> Tensor:
        reduction = self.reduction
        if reduction in (None, "none") or values.ndim == 0:
            return values
        if reduction == "mean_with_sample_weight" and weights is not None:
            xp = values.backend.xp
            divisor = weights.sum()
            # 0 when no weight, as Keras
            return F.sum(values) / xp.where(divisor == 0, xp.inf, divisor)
        if reduction == "sum" or not values.size:
            return F.sum(values)
        return sum_over_size(values)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}


class LossFunctionWrapper(Loss):
    """Wraps a function ``fn(y_true, y_pred, **kwargs) -> per-sample tensor`` as a Loss.

    The built-in loss classes are such wrappers (as in Keras): their arguments are
    the function's ``kwargs``, readable as attributes and saved in the config.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction, dtype)
        self.fn = fn
        self.fn_kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __call__(self, y_true, y_pred: Tensor, sample_weight=None) -> Tensor:
        y_pred = as_tensor(y_pred)
        over_batch = BATCH_MEANS.get(self.fn)
        if (
            over_batch is not None
            and type(self).call is LossFunctionWrapper.call  # a subclass's call is its own
            and sample_weight is None
            and self.reduction in ("sum_over_batch_size", "mean")
            and y_pred.ndim > 1
            and y_pred.size
            and keras_mask(y_pred) is None
            and (self.dtype is None or y_pred.dtype == self.dtype)
        ):
            return over_batch(y_true, y_pred, **self.fn_kwargs)
        return super().__call__(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self.fn_kwargs}
