"""The Embedding layer: integer indices to dense vectors."""

from .. import config, constraints, initializers, regularizers
from .. import functional as F
from ..losses.labels import check_indices
from ..tensor import Tensor, as_dtype, derive
from .base import Layer, register_layer
from .core import ActivityRegularized


@register_layer
class Embedding(ActivityRegularized, Layer):
    """Turns non-negative integer indices into rows of a ``(input_dim, output_dim)`` table.

    With ``mask_zero=True`` index 0 is padding: the layer's output mask is
    ``inputs != 0`` and recurrent layers after it skip those steps.
    """

    autocast = False  # the inputs are indices, not values

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero: bool = False,
        input_length=None,
        activity_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for argument, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Embedding '{self.name}': `{argument}` must be a positive integer, "
                    f"got {value!r}."
                )
        self.input_dim = input_dim
        self.output_dim = output_dim
        if embeddings_initializer == "uniform":  # Keras's alias for RandomUniform(-0.05, 0.05)
            embeddings_initializer = initializers.RandomUniform(-0.05, 0.05)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = mask_zero
        self.input_length = input_length  # accepted for Keras 2 programs; shapes come from data
        self.supports_masking = mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )

    def call(self, inputs):
        indices = inputs.data
        if indices.dtype.kind not in "iu":
            indices = derive(as_dtype, indices, "int64")
        # on a device, inside fit or evaluate: checked once per epoch, not per step
        check_indices(f"Embedding '{self.name}'", indices, self.input_dim, inputs.backend)
        outputs = F.embedding(indices, self.embeddings)
        if self.activity_regularizer is not None:
            self._regularize_activity(outputs)
        return outputs

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        data = inputs.data if isinstance(inputs, Tensor) else inputs
        if isinstance(inputs, Tensor):
            backend = inputs.backend
        else:  # ids given as an array, also before the layer is built (Keras allows it)
            backend = self.backend or config.get_backend()
        return Tensor._wrap(backend.xp.asarray(data) != 0, backend)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            **self._activity_config(),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }
