"""Attention layers: MultiHeadAttention, Attention (Luong) and AdditiveAttention (Bahdanau).

Keras 3's names, arguments, weight shapes and order, so weights move between
the two with ``set_weights``. Masks follow Keras 3: a boolean ``True`` means
"may attend"; the query mask, the value (and key) mask, ``attention_mask`` and
the causal mask are combined with AND.

A query row whose keys are all masked (a padded query position, whose row
the query mask empties) gets what Keras 3 gives it, never NaN. Keras's paths
differ here, and each of ours follows the one Keras takes:
- ``MultiHeadAttention`` and ``GroupedQueryAttention`` without dropout run
  Keras's ``dot_product_attention`` path: uniform weights over every key, so
  the mean of the values, with a gradient to the values only (Keras on JAX;
  on PyTorch its additive bias also sends one to the masked scores);
- with dropout or returned scores, Keras's ``Softmax``-layer path: zero
  weights (so the output bias);
- ``Attention`` and ``AdditiveAttention``: ``softmax(scores - 1e9)``, about
  uniform.
With a residual ``Add`` after the attention, as in keras.io's Transformers, the
padded positions' outputs reach the loss unmasked, so these rows change
Keras's numbers for the whole model.
"""

import math

import numpy

from .. import constraints, initializers, regularizers
from .. import functional as F
from ..tensor import Tensor
from .base import Layer, format_shape, register_layer
from .core import ActivityRegularized

#: the score of a masked position before the softmax (Keras's ``_large_negative_number``)
MASKED_SCORE = -1e9


def _mask_array(mask, backend):
    """A boolean array on ``backend`` from a mask given as a Tensor or an array (nonzero: keep)."""
    data = mask.data if isinstance(mask, Tensor) else mask
    data = data if backend.is_native(data) else backend.asarray(numpy.asarray(data))
    return data if data.dtype == bool else data != 0


def _causal_mask(backend, query_length: int, key_length: int):
    """``(1, Tq, Tk)``: query position i may attend to key positions j <= i (Keras's rule,
    aligned at the first position when the lengths differ)."""
    xp = backend.xp
    rows = xp.arange(query_length)[:, None]
    columns = xp.arange(key_length)[None, :]
    return (rows >= columns)[None]


def _masked_softmax(scores: Tensor, mask) -> Tensor:
    """Softmax over the last axis, masked positions zero (Keras 3's ``Softmax`` with a mask:
    scores set to -1e9, weights zeroed after, so a row with every key masked is all zero)."""
    if mask is None:
        return F.softmax(scores, axis=-1)
    weights = F.softmax(F.where(mask, scores, MASKED_SCORE), axis=-1)
    # where every row sees a key, exp(-1e9 - peak) is already exactly 0: skip the second
    # pass, but only for a host mask (asking a device array would wait for the device)
    if type(mask) is numpy.ndarray and bool(mask.any(axis=-1).all()):
        return weights
    return F.where(mask, weights, 0.0)


def _offset_softmax(scores: Tensor, mask) -> Tensor:
    """Softmax over the last axis with masked scores lowered by 1e9 (65504 in float16), as
    Keras 3's ``Attention`` does: a partly masked row gives its masked keys exactly zero
    weight, and a row with every key masked gets about uniform weights (and gradients)."""
    if mask is None:
        return F.softmax(scores, axis=-1)
    offset = 65504.0 if scores.data.dtype == numpy.float16 else 1e9
    return F.softmax(F.where(mask, scores, F.subtract(scores, offset)), axis=-1)


def _dropout(layer: Layer, weights: Tensor, training: bool) -> Tensor:
    if not training or layer.dropout == 0:
        return weights
    backend = weights.backend
    keep = backend.dropout_mask(weights.shape, layer.dropout, weights.data.dtype)
    return F.multiply(weights, Tensor._wrap(keep, backend))


def _check_rate(layer: Layer, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `dropout` must be a number in [0, 1), "
            f"got {value!r}."
        )
    return float(value)


def _projection_initializer(initializer, input_rank: int):
    """Keras 3.15's EinsumDense fans: a kernel ``(in..., out...)`` is initialized as the
    matrix ``(prod(in), prod(out))``, then reshaped."""

    def initialize(shape, dtype="float32"):
        matrix = (math.prod(shape[:input_rank]), math.prod(shape[input_rank:]))
        return numpy.asarray(initializer(matrix, dtype)).reshape(shape)

    return initialize


@register_layer
class MultiHeadAttention(ActivityRegularized, Layer):
    """Multi-head scaled dot-product attention (Vaswani et al., 2017), as Keras 3.

    Called as ``mha(query, value, key=None, attention_mask=None,
    return_attention_scores=False, training=None, use_causal_mask=False)`` on
    inputs ``(batch, length, features)``; query and value/key may have different
    lengths and feature sizes. Weights, in Keras's order: query kernel
    ``(query_dim, num_heads, key_dim)`` and bias ``(num_heads, key_dim)``, key
    kernel and bias alike, value kernel ``(value_features, num_heads,
    value_dim)`` and bias, output kernel ``(num_heads, value_dim, *output_shape)``
    and bias ``output_shape`` (``output_shape`` defaults to the query's feature
    size). ``use_gate=True`` adds a sigmoid gate on the query (Keras 3.15),
    ``sliding_window`` limits each query to keys within ``sliding_window - 1``
    positions. Attention runs over the sequence axis only (``attention_axes``
    None, 1 or -2). Input masks (an ``Embedding(mask_zero=True)`` or ``Masking``
    before it) arrive as ``query_mask``/``value_mask``/``key_mask`` and are
    combined with ``attention_mask``; the output keeps the query's mask. A query
    row whose keys are all masked gets what Keras gives it (see the module notes).
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int | None = None,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape=None,
        attention_axes=None,
        sliding_window: int | None = None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate: bool = False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"MultiHeadAttention '{self.name}'"
        if key_dim is None:
            raise TypeError(
                f"{where}: `key_dim` (the size of each attention head for query and key) is "
                f"required, a positive integer; it was not given."
            )
        for argument, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"{where}: `{argument}` must be a positive integer, got {value!r}."
                )
        if value_dim is not None and (not isinstance(value_dim, int) or value_dim <= 0):
            raise ValueError(
                f"{where}: `value_dim` must be a positive integer or None, got {value_dim!r}."
            )
        if sliding_window is not None and (
            not isinstance(sliding_window, int) or sliding_window <= 0
        ):
            raise ValueError(
                f"{where}: `sliding_window` must be None or a positive integer, "
                f"got {sliding_window!r}."
            )
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        if output_shape:
            output_shape = tuple(int(size) for size in output_shape)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        if attention_axes is not None:
            attention_axes = tuple(attention_axes)
            if attention_axes not in ((1,), (-2,)):
                raise ValueError(
                    f"{where}: only attention over the sequence axis of inputs (batch, "
                    f"sequence, features) is supported: attention_axes None, 1 or -2; got "
                    f"attention_axes={attention_axes}."
                )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = _check_rate(self, dropout)
        self.use_bias = use_bias
        self.use_gate = use_gate
        self._output_shape = output_shape or None
        self.attention_axes = attention_axes
        self.sliding_window = sliding_window
        self.flash_attention = flash_attention  # accepted for Keras programs; one kernel here
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self.supports_masking = True

    # -- weights ----------------------------------------------------------

    def _projection(self, name: str, kernel_shape: tuple, input_rank: int):
        """A projection's kernel and bias (Keras's EinsumDense ``name``/kernel, ``name``/bias)."""
        kernel = self.add_weight(
            name=f"{name}/kernel",
            shape=kernel_shape,
            initializer=_projection_initializer(self.kernel_initializer, input_rank),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(
                name=f"{name}/bias",
                shape=kernel_shape[input_rank:],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        return kernel, bias

    def _value_required(self, received) -> TypeError:
        return TypeError(
            f"MultiHeadAttention '{self.name}': `value` is required, a tensor of shape "
            f"(batch, sequence, features): call mha(query, value); received value={received!r}."
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise self._value_required(None)
        value_shape = tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for argument, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': `{argument}` must have shape (batch, "
                    f"sequence, features); received shape {format_shape(shape)}."
                )
        if value_shape[1] is not None and key_shape[1] is not None:
            if value_shape[1] != key_shape[1]:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': `value` and `key` must have the same "
                    f"length; received value shape {format_shape(value_shape)} and key shape "
                    f"{format_shape(key_shape)}."
                )
        heads, output_shape = self.num_heads, self._output_shape or (query_shape[-1],)
        self.query_kernel, self.query_bias = self._projection(
            "query", (query_shape[-1], heads, self.key_dim), 1
        )
        self.key_kernel, self.key_bias = self._projection(
            "key", (key_shape[-1], heads, self.key_dim), 1
        )
        if self.use_gate:
            self.gate_kernel, self.gate_bias = self._projection(
                "gate", (query_shape[-1], heads, self.value_dim), 1
            )
        self.value_kernel, self.value_bias = self._projection(
            "value", (value_shape[-1], heads, self.value_dim), 1
        )
        self.output_kernel, self.output_bias = self._projection(
            "attention_output", (heads, self.value_dim, *output_shape), 2
        )

    # -- calling ----------------------------------------------------------

    def _project(self, x: Tensor, kernel: Tensor, bias, heads_first: bool = True) -> Tensor:
        """``(batch, length, features)`` to ``(batch, heads, length, size)`` (or heads second)."""
        batch, length, features = x.shape
        heads, size = kernel.shape[1:]
        flat_bias = None if bias is None else F.reshape(bias, (heads * size,))
        y = F.dense(x, F.reshape(kernel, (features, heads * size)), flat_bias)
        if self.activity_regularizer is not None:
            self._regularize_activity(y)
        y = F.reshape(y, (batch, length, heads, size))
        return F.transpose(y, (0, 2, 1, 3)) if heads_first else y

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=False,
        use_causal_mask=False,
    ):
        if not isinstance(value, Tensor):
            raise self._value_required(value)
        key = value if key is None else key
        # Keras 3 takes the masks off the tensors it is given, having read them: a later
        # layer given the same tensor (a residual Add) sees no mask there
        for tensor in (query, value, key):
            if isinstance(tensor, Tensor):
                tensor._keras_mask = None
        mask = self._attention_mask(
            query, key, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        q = self._project(query, self.query_kernel, self.query_bias)
        k = self._project(key, self.key_kernel, self.key_bias)
        v = self._project(value, self.value_kernel, self.value_bias)
        scale = 1.0 / math.sqrt(float(self.key_dim))
        if return_attention_scores or (training and self.dropout):
            q = F.multiply(q, scale)
            scores = _masked_softmax(F.matmul(q, F.transpose(k, (0, 1, 3, 2))), mask)
            context = F.matmul(_dropout(self, scores, training), v)
        else:  # the fused kernel: no (Tq, Tk) score matrix kept (blocked on numba)
            scores = None
            # Keras's fused path (no dropout): a query left no key attends to all of them
            empty_rows = "zeros" if self.dropout else "uniform"
            context = F.scaled_dot_product_attention(
                q, k, v, mask=mask, scale=scale, empty_rows=empty_rows
            )
        # context: (batch, heads, Tq, value_dim)
        batch, heads, length, size = context.shape
        context = F.reshape(F.transpose(context, (0, 2, 1, 3)), (batch, length, heads * size))
        if self.use_gate:
            gate = F.sigmoid(self._project(query, self.gate_kernel, self.gate_bias, False))
            context = F.multiply(context, F.reshape(gate, (batch, length, heads * size)))
        output_shape = self.output_kernel.shape[2:]
        units = math.prod(output_shape)
        output_bias = None if self.output_bias is None else F.reshape(self.output_bias, (units,))
        output = F.dense(context, F.reshape(self.output_kernel, (heads * size, units)), output_bias)
        if self.activity_regularizer is not None:
            self._regularize_activity(output)
        output = F.reshape(output, (batch, length, *output_shape))
        return (output, scores) if return_attention_scores else output

    def _attention_mask(
        self, query, key, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
    ):
        """The AND of every mask given, as ``(batch or 1, heads or 1, Tq, Tk)``; None if none."""
        backend = query.backend
        xp = backend.xp
        batch, query_length, key_length = query.shape[0], query.shape[1], key.shape[1]
        masks = []
        for argument, given, length in (
            ("query_mask", query_mask, query_length),
            ("value_mask", value_mask, key_length),
            ("key_mask", key_mask, key_length),
        ):
            if given is not None:
                given = _mask_array(given, backend)
                self._check_mask(argument, given.shape, (batch, length))
                axes = (1, 3) if argument == "query_mask" else (1, 2)
                masks.append(xp.expand_dims(given, axes))
        if attention_mask is not None:
            given = _mask_array(attention_mask, backend)
            expected = {
                2: (query_length, key_length),
                3: (batch, query_length, key_length),
                4: (batch, self.num_heads, query_length, key_length),
            }.get(given.ndim, (batch, query_length, key_length))
            self._check_mask("attention_mask", given.shape, expected)
            if given.ndim == 3:
                given = given[:, None]  # the heads axis
            masks.append(given if given.ndim == 4 else given[None, None])
        if use_causal_mask:
            masks.append(_causal_mask(backend, query_length, key_length)[None])
        if self.sliding_window is not None:
            distance = xp.arange(query_length)[:, None] - xp.arange(key_length)[None, :]
            masks.append((xp.abs(distance) < self.sliding_window)[None, None])
        if not masks:
            return None
        combined = masks[0]
        for mask in masks[1:]:
            combined = combined & mask
        return combined

    def _check_mask(self, argument: str, shape: tuple, expected: tuple) -> None:
        """``shape`` must broadcast to ``expected`` (each size equal or 1), rank for rank."""
        fits = len(shape) == len(expected) and all(
            size in (1, wanted) for size, wanted in zip(shape, expected)
        )
        if not fits:
            names = {
                ("query_mask", 2): "(batch, query length)",
                ("value_mask", 2): "(batch, value length)",
                ("key_mask", 2): "(batch, key length)",
                ("attention_mask", 2): "(query length, key length)",
                ("attention_mask", 3): "(batch, query length, key length)",
                ("attention_mask", 4): "(batch, num_heads, query length, key length)",
            }[argument, len(expected)]
            raise ValueError(
                f"MultiHeadAttention '{self.name}': `{argument}` must have shape {names} = "
                f"{format_shape(expected)} (sizes of 1 broadcast); received shape "
                f"{format_shape(tuple(shape))}."
            )

    def compute_output_shape(
        self, query_shape, value_shape=None, key_shape=None, return_attention_scores=False
    ):
        query_shape = tuple(query_shape)
        output_shape = (*query_shape[:-1], *(self._output_shape or query_shape[-1:]))
        if not return_attention_scores:
            return output_shape
        key_length = None if value_shape is None else tuple(value_shape)[1]
        return [output_shape, (query_shape[0], self.num_heads, query_shape[1], key_length)]

    def get_config(self):
        def listed(value):
            return None if value is None else list(value)

        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "output_shape": listed(self._output_shape),
            "attention_axes": listed(self.attention_axes),
            "sliding_window": self.sliding_window,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            **self._activity_config(),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        }


@register_layer
class Attention(Layer):
    """Dot-product (Luong) attention on ``[query, value]`` or ``[query, value, key]``.

    ``scores = query @ key^T`` (times the ``scale`` weight with ``use_scale``), or
    with ``score_mode="concat"`` ``concat_score_weight * sum(tanh(query + key))``;
    the output is ``softmax(scores) @ value``, shape ``(batch, Tq, value features)``.
    ``mask=[query_mask, value_mask]``: masked values get no weight; the output is
    zero at masked query positions. Masked scores are lowered by 1e9 before the
    softmax, as in Keras 3, so a row with every value masked (a causal mask and a
    padded start) gets Keras's about uniform ``softmax(scores - 1e9)``.
    """

    multiple_inputs = True

    def __init__(
        self, use_scale: bool = False, score_mode: str = "dot", dropout=0.0, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `score_mode` must be 'dot' or 'concat', "
                f"got {score_mode!r}."
            )
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = _check_rate(self, dropout)
        self.seed = seed
        self.supports_masking = True

    def _check_inputs(self, shapes, mask=None) -> None:
        where = f"{type(self).__name__} '{self.name}'"
        if not isinstance(shapes, (list, tuple)) or not 2 <= len(shapes) <= 3:
            raise ValueError(
                f"{where} must be called on a list [query, value] or [query, value, key]; "
                f"received {len(shapes) if isinstance(shapes, (list, tuple)) else 1} input(s)."
            )
        query, value = tuple(shapes[0]), tuple(shapes[1])
        key = tuple(shapes[2]) if len(shapes) > 2 else value
        for argument, shape in (("query", query), ("value", value), ("key", key)):
            if len(shape) != 3:
                raise ValueError(
                    f"{where}: `{argument}` must have shape (batch, sequence, features); "
                    f"received shape {format_shape(shape)}."
                )
        if query[-1] != key[-1]:
            raise ValueError(
                f"{where}: `query` and `key` must have the same feature size; received query "
                f"shape {format_shape(query)} and key shape {format_shape(key)}."
            )
        if len(key) != len(value) or key[-2] != value[-2]:
            raise ValueError(
                f"{where}: `key` and `value` must have the same length; received value shape "
                f"{format_shape(value)} and key shape {format_shape(key)}."
            )
        if mask is None:
            return
        if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            raise ValueError(
                f"{where}: `mask` must be a list [query_mask, value_mask]; received {mask!r}."
            )
        for argument, given, expected in (
            ("query_mask", mask[0], query[:-1]),
            ("value_mask", mask[1], value[:-1]),
        ):
            if given is not None and tuple(given.shape) != expected:
                raise ValueError(
                    f"{where}: `{argument}` must have shape {format_shape(expected)} (the "
                    f"input's shape without its feature axis); received shape "
                    f"{format_shape(tuple(given.shape))}."
                )

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                name="concat_score_weight", shape=(), initializer="ones"
            )

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        """``(batch, Tq, Tv)`` attention scores."""
        if self.score_mode == "dot":
            scores = F.matmul(query, F.transpose(key, (0, 2, 1)))
            return scores if self.scale is None else F.multiply(scores, self.scale)
        summed = _pairwise_sum(query, key)
        if self.scale is not None:
            summed = F.multiply(self.scale, summed)
        return F.multiply(self.concat_score_weight, F.sum(F.tanh(summed), axis=-1))

    def call(
        self,
        inputs,
        mask=None,
        training=False,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        self._check_inputs([x.shape for x in inputs], mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        backend = query.backend
        query_mask = value_mask = None
        if mask is not None:
            query_mask = None if mask[0] is None else _mask_array(mask[0], backend)
            value_mask = None if mask[1] is None else _mask_array(mask[1], backend)
        scores = self._scores(query, key)
        scores_mask = None if value_mask is None else value_mask[:, None, :]
        if use_causal_mask:
            causal = _causal_mask(backend, scores.shape[-2], scores.shape[-1])
            scores_mask = causal if scores_mask is None else scores_mask & causal
        weights = _dropout(self, _offset_softmax(scores, scores_mask), training)
        output = F.matmul(weights, value)
        if query_mask is not None:
            output = F.where(query_mask[..., None], output, 0.0)
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs, mask=None):
        """The query's mask (Keras 3)."""
        if mask is None or mask[0] is None:
            return None
        backend = self.backend or inputs[0].backend
        return Tensor._wrap(_mask_array(mask[0], backend), backend)

    def compute_output_shape(self, input_shape, return_attention_scores=False):
        self._check_inputs(input_shape)
        query, value = tuple(input_shape[0]), tuple(input_shape[1])
        key = tuple(input_shape[2]) if len(input_shape) > 2 else value
        output_shape = (*query[:-1], value[-1])
        if return_attention_scores:
            return [output_shape, (*query[:-1], key[-2])]
        return output_shape

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


def _pairwise_sum(query: Tensor, key: Tensor) -> Tensor:
    """``query[:, i] + key[:, j]`` as ``(batch, Tq, Tv, dim)``."""
    batch, query_length, dim = query.shape
    key_length = key.shape[1]
    return F.add(
        F.reshape(query, (batch, query_length, 1, dim)),
        F.reshape(key, (batch, 1, key_length, dim)),
    )


@register_layer
class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention on ``[query, value]`` or ``[query, value, key]``:
    ``scores = sum(scale * tanh(query + key))`` with a ``scale`` weight of shape
    ``(dim,)`` (glorot-uniform) when ``use_scale``. Masks as in ``Attention``."""

    def __init__(self, use_scale: bool = True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.scale = None
        if self.use_scale:
            dim = input_shape[0][-1]
            self.scale = self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform")

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        terms = F.tanh(_pairwise_sum(query, key))
        if self.scale is not None:
            terms = F.multiply(self.scale, terms)
        return F.sum(terms, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
