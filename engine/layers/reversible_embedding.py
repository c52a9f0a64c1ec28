"""ReversibleEmbedding: an embedding that also projects vectors back to logits over its
vocabulary, as Keras 3's (the input and output embeddings of a language model, tied or not)."""

from .. import functional as F
from ..tensor import Tensor
from .base import register_layer
from .embedding import Embedding


@register_layer
class ReversibleEmbedding(Embedding):
    """``layer(ids)`` looks ids up as ``Embedding``; ``layer(vectors, reverse=True)`` gives
    ``vectors @ embeddings.T``, logits ``(..., input_dim)`` (with ``tie_weights=False`` a
    separate ``reverse_embeddings`` of shape ``(output_dim, input_dim)``, initialized like
    the table). ``logit_soft_cap`` bounds the logits as ``cap * tanh(logits / cap)``;
    ``reverse_dtype`` is the dtype the reverse product is computed in.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        tie_weights: bool = True,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero: bool = False,
        reverse_dtype=None,
        logit_soft_cap=None,
        **kwargs,
    ):
        super().__init__(
            input_dim,
            output_dim,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            mask_zero=mask_zero,
            **kwargs,
        )
        if logit_soft_cap is not None and (
            isinstance(logit_soft_cap, bool)
            or not isinstance(logit_soft_cap, (int, float))
            or logit_soft_cap <= 0
        ):
            raise ValueError(
                f"ReversibleEmbedding '{self.name}': `logit_soft_cap` must be None or a positive "
                f"number, got {logit_soft_cap!r}."
            )
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape=None):
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                name="reverse_embeddings",
                shape=(self.output_dim, self.input_dim),
                initializer=self.embeddings_initializer,
            )

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(
                f"ReversibleEmbedding '{self.name}': with reverse=True the input must end in "
                f"output_dim={self.output_dim} features; received shape {tuple(inputs.shape)}."
            )
        kernel = F.transpose(self.embeddings) if self.tie_weights else self.reverse_embeddings
        dtype = self.reverse_dtype or self.dtype
        if inputs.dtype != dtype:
            inputs = F.cast(inputs, dtype)
        if kernel.dtype != dtype:
            kernel = F.cast(kernel, dtype)
        logits = F.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = float(self.logit_soft_cap)
            logits = F.tanh(logits * (1.0 / cap)) * cap
        return logits

    def compute_mask(self, inputs, mask=None):
        data = inputs.data if isinstance(inputs, Tensor) else inputs
        if getattr(data, "dtype", None) is not None and data.dtype.kind == "f":
            return None  # reverse=True takes vectors: logits carry no padding mask
        return super().compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*tuple(input_shape)[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "tie_weights": self.tie_weights,
            "reverse_dtype": self.reverse_dtype,
            "logit_soft_cap": self.logit_soft_cap,
        }
