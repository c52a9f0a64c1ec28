"""Activations and other neural-network ops of ``engine.ops`` (re-exported there): relu,
softmax, cross-entropies, ``dot_product_attention``, ..."""

import math

import numpy

from . import activations as _activations
from . import functional as F
from .conversion import (
    as_float,
    as_tensor,
    backend_of,
    cast_tensor,
    normalize_axis,
    promote,
    to_tensor,
)
from .functional import elementwise
from .losses import probabilistic as _losses
from .losses.base import EPSILON as _EPSILON
from .losses.probabilistic import _binary_crossentropy_elements, _normalized_probabilities
from .ops_linalg import norm
from .ops_math import _elementwise_constant, greater, maximum, minimum, where
from .ops_shape import moveaxis, one_hot, repeat, transpose
from .tensor import Tensor, is_grad_enabled

# -- activations ------------------------------------------------------------------------


def relu(x) -> Tensor:
    """``max(x, 0)`` (integers stay integers)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return _elementwise_constant(x, lambda xp, a: xp.maximum(a, 0))
    return F.relu(x)


def sigmoid(x) -> Tensor:
    return F.sigmoid(as_float("sigmoid", x))


def tanh(x) -> Tensor:
    return F.tanh(as_float("tanh", x))


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``, computed without overflow."""
    return F.activation(as_float("softplus", x), "softplus")


def log_sigmoid(x) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return F.negative(softplus(F.negative(as_float("log_sigmoid", x))))


def silu(x) -> Tensor:
    """``x * sigmoid(x)``."""
    return F.activation(as_float("silu", x), "swish")


swish = silu


def gelu(x, approximate: bool = True) -> Tensor:
    """Gaussian error linear unit; Keras's ops default is the tanh approximation."""
    return F.activation(as_float("gelu", x), "gelu", approximate=approximate)


def leaky_relu(x, negative_slope: float = 0.2) -> Tensor:
    return F.activation(as_float("leaky_relu", x), "leaky_relu", negative_slope=negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    return F.activation(as_float("elu", x), "elu", alpha=alpha)


def selu(x) -> Tensor:
    return F.activation(as_float("selu", x), "selu")


def _over_axes(function: str, op, x, axis) -> Tensor:
    """``op(x, axis)`` for one axis, or over several by moving them last and flattening them."""
    x = as_float(function, x)
    axes = normalize_axis(function, axis, x.ndim)
    if len(axes) == 1:
        return op(x, axes[0])
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = transpose(x, kept + list(axes))
    flat = F.reshape(moved, [x.shape[a] for a in kept] + [-1])
    result = F.reshape(op(flat, -1), moved.shape)
    return moveaxis(result, list(range(len(kept), x.ndim)), list(axes))


def softmax(x, axis=-1) -> Tensor:
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int or a tuple of axes)."""
    return _over_axes("softmax", F.softmax, x, axis)


def log_softmax(x, axis=-1) -> Tensor:
    """``x - logsumexp(x)`` over ``axis``."""
    return _over_axes("log_softmax", F.log_softmax, x, axis)


# -- more activations (Keras 3's ops.nn) ---------------------------------------------------


def relu6(x) -> Tensor:
    """``min(max(x, 0), 6)`` (integers become ``floatx``, as Keras on JAX).

    As in JAX, the gradient at 0 and at 6 is 0.
    """
    x = _floats("relu6", x)
    return _linear_between(x, x, 0.0, 6.0, 6.0)


def hard_sigmoid(x) -> Tensor:
    """``relu6(x + 3) / 6``: the piecewise-linear sigmoid (gradient 0 at -3 and 3, as JAX)."""
    x = _floats("hard_sigmoid", x)
    return _linear_between(x, (x + 3.0) / 6.0, -3.0, 3.0, 1.0)


def hard_silu(x) -> Tensor:
    """``x * hard_sigmoid(x)``."""
    x = _floats("hard_silu", x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def softsign(x) -> Tensor:
    """``x / (1 + |x|)``."""
    return _activations.softsign(_floats("softsign", x))


def celu(x, alpha: float = 1.0) -> Tensor:
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""
    if not alpha:
        raise ValueError(f"celu: alpha must be nonzero (it divides x); got alpha={alpha!r}.")
    x, alpha = _floats("celu", x), float(alpha)
    # exp of min(x, 0) only: exp(x) may overflow where it is not used; at 0 the gradient
    # is the negative side's, 1, as in JAX
    negative = elementwise.expm1(F.clip(x, None, 0.0) * (1 / alpha)) * alpha
    return F.where(x.data > 0, x, negative)


def glu(x, axis: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves ``a, b`` of ``x`` along ``axis``."""
    x = _floats("glu", x)
    (axis,) = normalize_axis("glu", [axis], x.ndim)
    if x.shape[axis] % 2:
        raise ValueError(
            f"glu: the size of axis {axis} must be even, to split it in two halves; got x of "
            f"shape {x.shape}."
        )
    return _activations.glu(x, axis)


def hard_tanh(x) -> Tensor:
    """``clip(x, -1, 1)`` (integers stay integers, as Keras on JAX)."""
    x = _floats("hard_tanh", x, floating=False)
    if x.dtype.kind in "iu":
        return _elementwise_constant(x, lambda xp, a: xp.clip(a, -1, 1))
    return _activations.hard_tanh(_floats("hard_tanh", x))


def hard_shrink(x, threshold: float = 0.5) -> Tensor:
    """``x`` where ``|x| > threshold``, else 0."""
    return _activations.hard_shrink(_floats("hard_shrink", x), _number("hard_shrink", threshold))


def soft_shrink(x, threshold: float = 0.5) -> Tensor:
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return _activations.soft_shrink(_floats("soft_shrink", x), _number("soft_shrink", threshold))


def tanh_shrink(x) -> Tensor:
    """``x - tanh(x)``."""
    return _activations.tanh_shrink(_floats("tanh_shrink", x))


def squareplus(x, b=4) -> Tensor:
    """``(x + sqrt(x**2 + b)) / 2``, a smooth ReLU."""
    b = _number("squareplus", b, "b")
    if b < 0:
        raise ValueError(f"squareplus: b must be >= 0 (it is under a square root); got b={b}.")
    return _activations.squareplus(_floats("squareplus", x), b)


def sparse_plus(x) -> Tensor:
    """0 for ``x <= -1``, ``(x + 1)**2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""
    return _activations.sparse_plus(_floats("sparse_plus", x))


def sparse_sigmoid(x) -> Tensor:
    """``clip((x + 1) / 2, 0, 1)`` (at -1 and 1 half the gradient, as JAX's clip gives)."""
    x = _floats("sparse_sigmoid", x)
    return minimum(maximum(x + 1.0, 0.0), 2.0) * 0.5


def threshold(x, threshold, default_value) -> Tensor:
    """``x`` where ``x > threshold``, else ``default_value``.

    The dtype follows Keras on JAX: ``x``'s, or ``floatx`` for an integer ``x`` with a
    float ``default_value``.
    """
    x = _floats("threshold", x, floating=False)
    return where(greater(x, threshold), x, default_value)


def _linear_between(x: Tensor, inside: Tensor, low: float, high: float, top: float) -> Tensor:
    """``inside`` (linear in ``x``) clipped to ``[0, top]``, which it leaves where ``x`` leaves
    ``(low, high)``; the gradient is zero there and at the ends (JAX's ``relu6``)."""
    data = x.data
    clipped = Tensor._wrap(x.backend.xp.clip(inside.data, 0, top), x.backend)
    return F.where((data > low) & (data < high), inside, clipped)


def _floats(function: str, x, name: str = "x", floating: bool = True) -> Tensor:
    """``as_float`` (``as_tensor`` unless ``floating``), with an error naming ``function``
    and the argument for a non-number."""
    try:
        return as_float(function, x) if floating else as_tensor(x)
    except TypeError as error:
        raise TypeError(f"{function}: {name} must hold numbers ({error})") from None


def _number(function: str, value, name: str = "threshold") -> float:
    """A Python float from a number (or a one-element tensor), or an error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, numpy.number, Tensor)):
        raise TypeError(f"{function}: {name} must be a number; got {value!r}.")
    return float(value)


def normalize(x, axis=-1, order: int = 2, epsilon=None) -> Tensor:
    """``x / max(norm(x, order), epsilon)`` over ``axis`` (an int or a tuple of axes).

    ``epsilon`` defaults to 1e-7 (Keras's ``epsilon()``). As Keras, the 2-norm is
    computed as ``x * min(rsqrt(sum(x**2)), 1 / epsilon)``, and a scalar ``x`` becomes
    a tensor of shape ``(1,)``.
    """
    if isinstance(order, bool) or not isinstance(order, (int, numpy.integer)) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1; got order={order!r}.")
    x = _floats("normalize", x)
    if x.ndim == 0:
        x = F.reshape(x, (1,))
    epsilon = _EPSILON if epsilon is None else float(epsilon)
    axes = normalize_axis("normalize", axis, x.ndim)
    if order == 2:
        # min(rsqrt(s), 1 / epsilon) as rsqrt(max(s, epsilon**2)): no 1 / 0 on a zero row
        squares = F.sum(elementwise.square(x), axes, keepdims=True)
        return x * F.power(F.clip(squares, epsilon * epsilon, None), -0.5)
    length = norm(x, ord=int(order), axis=axis, keepdims=True)
    return x / F.clip(length, epsilon, None)


# -- cross-entropies (per sample, Keras 3's ops.nn) ----------------------------------------


def _probabilities_and_targets(function: str, target, output) -> tuple:
    """``output`` as a float tensor and ``target`` in its dtype, checked to have one shape."""
    target, output = _on_one_backend(function, target, output)
    output = as_float(function, output)
    target = cast_tensor(target, output.dtype)  # Keras: the result has output's dtype
    if target.shape != output.shape:
        raise ValueError(
            f"{function}: target and output must have the same shape; got target.shape="
            f"{target.shape} and output.shape={output.shape}."
        )
    return target, output


def _on_one_backend(function: str, target, output) -> tuple:
    """``target`` and ``output`` as tensors (dtypes kept) on the backend of the tensors among
    them, with an error naming the argument that holds no numbers."""
    backend = backend_of(function, {"target": target, "output": output})
    tensors = []
    for name, value in (("target", target), ("output", output)):
        try:
            tensors.append(to_tensor(value, backend))
        except TypeError as error:
            raise TypeError(f"{function}: {name} must hold numbers ({error})") from None
    return tuple(tensors)


def _differentiated(target: Tensor) -> bool:
    """Whether a gradient must reach ``target`` (the fused losses treat targets as constants)."""
    return target.requires_grad and is_grad_enabled()


def binary_crossentropy(target, output, from_logits: bool = False) -> Tensor:
    """Elementwise ``-(target * log(p) + (1 - target) * log(1 - p))``.

    ``p`` is ``output`` clipped to ``[1e-7, 1 - 1e-7]``, as Keras does, or
    ``sigmoid(output)`` (computed stably) when ``from_logits``. Both arguments have
    the same shape; gradients reach both.
    """
    target, output = _probabilities_and_targets("binary_crossentropy", target, output)
    if not from_logits:
        return _binary_crossentropy_elements(target, output)
    if _differentiated(target):  # max(z, 0) - z * t + log(1 + exp(-|z|))
        softplus_of_minus_abs = elementwise.log1p(F.exp(F.negative(F.abs(output))))
        return F.relu(output) - output * target + softplus_of_minus_abs
    return F.sigmoid_cross_entropy(output, target.data)


def _classes_last(tensor: Tensor, axis: int) -> Tensor:
    return tensor if axis == tensor.ndim - 1 else moveaxis(tensor, axis, -1)


def _class_axis(function: str, axis, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"{function}: axis must be an int; got axis={axis!r}.")
    if ndim < 1:
        raise ValueError(f"{function}: output must have at least one axis (the classes).")
    return normalize_axis(function, axis, ndim)[0]


def categorical_crossentropy(target, output, from_logits: bool = False, axis=-1) -> Tensor:
    """``-sum(target * log(p))`` over the classes ``axis``, one loss per sample.

    ``p`` is ``output`` divided by its sum and clipped to ``[1e-7, 1 - 1e-7]``, as
    Keras does, or ``softmax(output)`` when ``from_logits``. ``target`` has
    ``output``'s shape; gradients reach both.
    """
    name = "categorical_crossentropy"
    target, output = _probabilities_and_targets(name, target, output)
    axis = _class_axis(name, axis, output.ndim)
    target, output = _classes_last(target, axis), _classes_last(output, axis)
    if from_logits:
        if not _differentiated(target):
            return F.softmax_cross_entropy(output, target.data)
        return F.negative(F.sum(F.log_softmax(output) * target, axis=-1))
    if not _differentiated(target):
        return _losses.categorical_crossentropy(target.data, output)
    return F.negative(F.sum(F.log(_normalized_probabilities(output)) * target, axis=-1))


def sparse_categorical_crossentropy(target, output, from_logits: bool = False, axis=-1) -> Tensor:
    """``-log(p[target])``, one loss per sample, for integer class labels ``target``.

    ``target`` has ``output``'s shape without the classes ``axis`` (or with a last axis
    of size 1); ``p`` is as in ``categorical_crossentropy``. Labels outside
    ``[0, classes)`` raise an error (Keras gives them a loss of 0).
    """
    name = "sparse_categorical_crossentropy"
    target, output = _on_one_backend(name, target, output)
    output = as_float(name, output)
    axis = _class_axis(name, axis, output.ndim)
    if target.ndim == output.ndim and target.shape[-1:] == (1,):
        target = F.reshape(target, target.shape[:-1])
    expected = output.shape[:axis] + output.shape[axis + 1 :]
    if target.shape != expected:
        raise ValueError(
            f"{name}: target must have output's shape without the classes axis {axis}, "
            f"{expected}; got target.shape={target.shape} and output.shape={output.shape}."
        )
    return _losses.sparse_categorical_crossentropy(
        target.data, _classes_last(output, axis), from_logits=from_logits
    )


def multi_hot(inputs, num_classes=None, axis: int = -1, dtype=None, sparse: bool = False, **kwargs):
    """Integer labels as multi-hot vectors: 1 at each class that occurs, as Keras 3 encodes them.

    Keras one-hot encodes ``inputs`` along ``axis`` and takes the maximum over axis 1
    of that (axis 0 for a 1-D input): ``(batch, labels)`` gives ``(batch,
    num_classes)``. ``num_tokens`` is accepted for ``num_classes``. Negative labels
    count for no class; no gradient.
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}.")
    if num_classes is None:
        raise ValueError("multi_hot: num_classes must be given.")
    if sparse:
        raise ValueError("multi_hot: sparse=True is not supported.")
    x = _floats("multi_hot", inputs, "inputs", floating=False)
    if x.ndim == 0:
        raise ValueError("multi_hot: inputs must have at least one axis; got a scalar.")
    encoded = one_hot(x, int(num_classes), axis=axis, dtype=dtype)
    reduced = 1 if x.ndim > 1 else 0
    return Tensor._wrap(encoded.data.max(axis=reduced), encoded.backend)


# -- attention ---------------------------------------------------------------------------


def _broadcasts(shape: tuple, target: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` (without enlarging it)."""
    try:
        return numpy.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _attention_mask(mask, backend, scores_shape: tuple):
    """``mask`` as a boolean array on ``backend`` that broadcasts to ``scores_shape``."""
    data = mask.data if isinstance(mask, Tensor) else mask
    if not backend.is_native(data):
        data = backend.asarray(numpy.asarray(data))
    if data.dtype != bool:
        data = data != 0
    if not _broadcasts(tuple(data.shape), scores_shape):
        raise ValueError(
            f"dot_product_attention: mask of shape {tuple(data.shape)} does not broadcast "
            f"to the scores' shape (batch, heads, query_length, key_length) = {scores_shape}."
        )
    return data


def _check_attention_shapes(query: Tensor, key: Tensor, value: Tensor) -> None:
    shapes = f"query.shape={query.shape}, key.shape={key.shape}, value.shape={value.shape}"
    if not query.ndim == key.ndim == value.ndim == 4:
        raise ValueError(
            f"dot_product_attention: query, key and value must be 4-D, (batch, length, heads, "
            f"dim); got {shapes}."
        )
    if (
        query.shape[0] != key.shape[0]
        or key.shape[:3] != value.shape[:3]
        or query.shape[3] != key.shape[3]
    ):
        raise ValueError(
            "dot_product_attention: query, key and value need one batch size, key and value "
            f"one length and number of heads, query and key one dim; got {shapes}."
        )
    if query.shape[2] % key.shape[2]:
        raise ValueError(
            "dot_product_attention: the number of query heads must be a multiple of the number "
            f"of key and value heads (grouped-query attention); got {shapes}."
        )


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal: bool = False,
    flash_attention=None,
    attn_logits_soft_cap=None,
) -> Tensor:
    """``softmax(query @ key.T * scale + bias) @ value`` over ``(batch, length, heads, dim)``.

    As Keras 3: ``key`` and ``value`` may have fewer heads than ``query`` (a divisor of
    them: grouped-query attention); ``scale`` defaults to ``1 / sqrt(dim)``; ``bias``
    (added to the scores) and ``mask`` (boolean, True where a query may attend to a key)
    broadcast to ``(batch, heads, query_length, key_length)``; ``is_causal`` lets query
    ``i`` see keys ``j <= i``. A query left no key by the masks gets uniform weights
    (the mean of ``value``), as Keras's large negative number gives it.
    ``attn_logits_soft_cap`` (Keras: TPU only) caps the scores at ``cap * tanh(s / cap)``
    before masking. ``flash_attention=True`` is not supported: the fused kernel is chosen
    on its own.
    """
    if flash_attention:
        raise ValueError(
            "dot_product_attention: flash_attention=True is not supported by this library; "
            "pass flash_attention=None or False (the backends' fused attention kernels are "
            "used when no bias or soft cap is given)."
        )
    query, key, value = promote(
        "dot_product_attention", {"query": query, "key": key, "value": value}, floating=True
    )
    _check_attention_shapes(query, key, value)
    groups = query.shape[2] // key.shape[2]
    if groups > 1:
        key, value = repeat(key, groups, axis=2), repeat(value, groups, axis=2)
    q, k, v = (F.transpose(t, (0, 2, 1, 3)) for t in (query, key, value))
    scores_shape = (*q.shape[:3], k.shape[2])
    if mask is not None:
        mask = _attention_mask(mask, q.backend, scores_shape)
    if bias is None and attn_logits_soft_cap is None:
        out = F.scaled_dot_product_attention(
            q, k, v, mask=mask, scale=scale, is_causal=is_causal, empty_rows="uniform"
        )
        return F.transpose(out, (0, 2, 1, 3))
    scale = 1 / math.sqrt(q.shape[3]) if scale is None else float(scale)
    scores = F.matmul(q, F.transpose(k, (0, 1, 3, 2))) * scale
    if bias is not None:
        (bias,) = promote("dot_product_attention", {"bias": bias}, dtype=q.dtype)
        if not _broadcasts(bias.shape, scores_shape):
            raise ValueError(
                f"dot_product_attention: bias of shape {bias.shape} does not broadcast to the "
                f"scores' shape (batch, heads, query_length, key_length) = {scores_shape}."
            )
        scores = scores + bias
    if attn_logits_soft_cap is not None:
        cap = _number("dot_product_attention", attn_logits_soft_cap, "attn_logits_soft_cap")
        scores = F.tanh(scores * (1 / cap)) * cap
    if is_causal:
        xp, (len_q, len_k) = q.backend.xp, scores_shape[2:]
        causal = xp.arange(len_k)[None, :] <= xp.arange(len_q)[:, None]
        mask = causal if mask is None else mask & causal
    if mask is not None:
        lowest = -0.7 * float(numpy.finfo(scores.dtype).max)
        scores = F.where(mask, scores, lowest)
    out = F.matmul(F.softmax(scores), v)
    return F.transpose(out, (0, 2, 1, 3))


def sparsemax(x, axis: int = -1) -> Tensor:
    """The Euclidean projection of ``x`` onto the probability simplex along ``axis``
    (Martins and Astudillo, 2016): ``max(x - tau, 0)``, summing to 1, often sparse.

    Keras 3.15's backends compute ``tau`` from the sum of the cumulative sums over the
    kept entries instead of the last one, so their rows do not sum to 1 whenever two or
    more entries are kept (checked on JAX: ``[[-0.3, 1.4, 1.6, -1.2]]`` gives zeros);
    this is the published sparsemax, equal to Keras's where one entry is kept."""
    from .ops_reduction import cumsum, sort  # ops_reduction imports nothing of this module's

    x = _floats("sparsemax", x)
    (axis,) = normalize_axis("sparsemax", axis, x.ndim)
    moved = _classes_last(x, axis)
    descending = F.negative(sort(F.negative(moved), axis=-1))
    running = cumsum(descending, axis=-1)
    xp = x.backend.xp
    ranks = xp.arange(1, moved.shape[-1] + 1, dtype=x.dtype)
    support = (descending.data - (running.data - 1) / ranks) > 0  # a constant mask
    count = support.sum(axis=-1, keepdims=True).astype(x.dtype)
    kept = F.sum(F.where(support, descending, 0.0), axis=-1, keepdims=True)
    threshold = (kept - 1.0) / Tensor._wrap(count, x.backend)
    result = F.relu(moved - threshold)
    return result if axis == x.ndim - 1 else moveaxis(result, -1, axis)
