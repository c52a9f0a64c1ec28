"""GroupedQueryAttention (Ainslie et al., 2023) as Keras 3's ``layers.GroupQueryAttention``:
multi-head attention whose ``num_query_heads`` query heads share ``num_key_value_heads``
key and value heads, each key/value head serving a group of consecutive query heads.

Weights, in Keras's order and shapes: ``query`` kernel ``(query_features,
num_query_heads, head_dim)`` and bias ``(num_query_heads, head_dim)``; ``key``
``(key_features, num_key_value_heads, head_dim)`` and bias; ``gate`` as ``query``
(``use_gate=True``); ``value`` as ``key``; ``attention_output`` kernel
``(num_query_heads, head_dim, query_features)`` and bias ``(query_features,)``.
Masks as ``MultiHeadAttention``'s (see ``attention.py``): True may attend, all
given masks combined with AND, rows with no key attend to nothing (zeros).
"""

import math

from .. import constraints, initializers, regularizers
from .. import functional as F
from ..functional.shape import repeat
from .attention import MultiHeadAttention, _check_rate, _dropout, _masked_softmax
from .base import Layer, format_shape, layer_registry, register_layer
from .core import ActivityRegularized


def _positive_int(layer: Layer, argument: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"GroupedQueryAttention '{layer.name}': `{argument}` must be a positive integer, "
            f"got {value!r}."
        )
    return value


@register_layer
class GroupedQueryAttention(ActivityRegularized, Layer):
    """Grouped-query attention, called as ``gqa(query, value, key=None, query_mask=None,
    value_mask=None, key_mask=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`` on ``(batch, length, features)`` inputs; the
    output has the query's shape. ``sliding_window`` limits each query to keys fewer than
    that many positions away. Without dropout or returned scores it runs on the fused
    attention kernel (memory linear in the lengths), as Keras's ``dot_product_attention``.
    """

    def __init__(
        self,
        head_dim: int,
        num_query_heads: int,
        num_key_value_heads: int,
        dropout: float = 0.0,
        use_bias: bool = True,
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
        self.head_dim = _positive_int(self, "head_dim", head_dim)
        self.num_query_heads = _positive_int(self, "num_query_heads", num_query_heads)
        self.num_key_value_heads = _positive_int(self, "num_key_value_heads", num_key_value_heads)
        if num_query_heads % num_key_value_heads:
            raise ValueError(
                f"GroupedQueryAttention '{self.name}': `num_query_heads` ({num_query_heads}) "
                f"must be divisible by `num_key_value_heads` ({num_key_value_heads})."
            )
        self.num_repeats = num_query_heads // num_key_value_heads
        if sliding_window is not None:
            _positive_int(self, "sliding_window", sliding_window)
        self.sliding_window = sliding_window
        self.dropout = _check_rate(self, dropout)
        self.use_bias = use_bias
        self.use_gate = use_gate
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

    # Keras builds both layers from the same EinsumDense projections and masks
    _projection = MultiHeadAttention._projection
    _project = MultiHeadAttention._project
    _attention_mask = MultiHeadAttention._attention_mask

    @property
    def num_heads(self) -> int:
        """The number of query heads (what a 4-D ``attention_mask`` has on its second axis)."""
        return self.num_query_heads

    def _check_shapes(self, query_shape, value_shape, key_shape) -> tuple:
        if value_shape is None:
            raise TypeError(
                f"GroupedQueryAttention '{self.name}': `value` is required, a tensor of shape "
                f"(batch, sequence, features): call gqa(query, value)."
            )
        value_shape = tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for argument, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"GroupedQueryAttention '{self.name}': `{argument}` must have shape (batch, "
                    f"sequence, features); received shape {format_shape(tuple(shape))}."
                )
        if None not in (value_shape[1], key_shape[1]) and value_shape[1] != key_shape[1]:
            raise ValueError(
                f"GroupedQueryAttention '{self.name}': `value` and `key` must have the same "
                f"length; received value shape {format_shape(value_shape)} and key shape "
                f"{format_shape(key_shape)}."
            )
        return value_shape, key_shape

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape, key_shape = self._check_shapes(query_shape, value_shape, key_shape)
        features, size = query_shape[-1], self.head_dim
        query_heads, shared_heads = self.num_query_heads, self.num_key_value_heads
        self.query_kernel, self.query_bias = self._projection(
            "query", (features, query_heads, size), 1
        )
        self.key_kernel, self.key_bias = self._projection(
            "key", (key_shape[-1], shared_heads, size), 1
        )
        if self.use_gate:
            self.gate_kernel, self.gate_bias = self._projection(
                "gate", (features, query_heads, size), 1
            )
        self.value_kernel, self.value_bias = self._projection(
            "value", (value_shape[-1], shared_heads, size), 1
        )
        self.output_kernel, self.output_bias = self._projection(
            "attention_output", (query_heads, size, features), 2
        )

    # -- calling ----------------------------------------------------------

    def _shared_heads(self, x, kernel, bias):
        """Key or value heads ``(batch, num_query_heads, length, head_dim)``: each projected
        head repeated for its group of query heads."""
        heads = self._project(x, kernel, bias)
        return heads if self.num_repeats == 1 else repeat(heads, self.num_repeats, axis=1)

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
        self._check_shapes(query.shape, None if value is None else value.shape, None)
        key = value if key is None else key
        mask = self._attention_mask(
            query, key, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        q = self._project(query, self.query_kernel, self.query_bias)
        k = self._shared_heads(key, self.key_kernel, self.key_bias)
        v = self._shared_heads(value, self.value_kernel, self.value_bias)
        scale = 1.0 / math.sqrt(float(self.head_dim))
        scores = None
        if return_attention_scores or (training and self.dropout):
            logits = F.matmul(F.multiply(q, scale), F.transpose(k, (0, 1, 3, 2)))
            scores = _masked_softmax(logits, mask)
            context = F.matmul(_dropout(self, scores, training), v)
        else:
            # Keras's fused path (no dropout): a query left no key attends to all of them
            empty_rows = "zeros" if self.dropout else "uniform"
            context = F.scaled_dot_product_attention(
                q, k, v, mask=mask, scale=scale, empty_rows=empty_rows
            )
        context = F.transpose(context, (0, 2, 1, 3))  # (batch, Tq, heads, head_dim)
        if self.use_gate:
            gate = F.sigmoid(self._project(query, self.gate_kernel, self.gate_bias, False))
            context = F.multiply(context, gate)
        batch, length, heads, size = context.shape
        features = self.output_kernel.shape[-1]
        output = F.dense(
            F.reshape(context, (batch, length, heads * size)),
            F.reshape(self.output_kernel, (heads * size, features)),
            self.output_bias,
        )
        if self.activity_regularizer is not None:
            self._regularize_activity(output)
        return (output, scores) if return_attention_scores else output

    def _check_mask(self, argument: str, shape: tuple, expected: tuple) -> None:
        """``shape`` must broadcast to ``expected`` (sizes equal or 1), rank for rank."""
        fits = len(shape) == len(expected) and all(
            size in (1, wanted) for size, wanted in zip(shape, expected)
        )
        if fits:
            return
        if argument == "attention_mask":
            described = (
                "(query length, key length), (batch, query length, key length) or (batch, "
                f"num_query_heads, query length, key length), here {format_shape(expected)}"
            )
        else:
            length = "query length" if argument == "query_mask" else "key length"
            described = f"(batch, {length}) = {format_shape(expected)}"
        raise ValueError(
            f"GroupedQueryAttention '{self.name}': `{argument}` must have shape {described} "
            f"(sizes of 1 broadcast); received shape {format_shape(tuple(shape))}."
        )

    def compute_output_shape(
        self, query_shape, value_shape=None, key_shape=None, return_attention_scores=False
    ):
        query_shape = tuple(query_shape)
        if not return_attention_scores:
            return query_shape
        key_length = None if value_shape is None else tuple(value_shape)[1]
        return [query_shape, (query_shape[0], self.num_query_heads, query_shape[1], key_length)]

    def get_config(self):
        return {
            **super().get_config(),
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "sliding_window": self.sliding_window,
            "dropout": self.dropout,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            **self._activity_config(),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        }


#: Keras exports the class as ``layers.GroupQueryAttention`` and saves it under that name
GroupQueryAttention = GroupedQueryAttention
layer_registry.register(GroupedQueryAttention, "GroupQueryAttention")
