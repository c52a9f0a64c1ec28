"""SpectralNormalization (Miyato et al., 2018) as Keras 3: a wrapper dividing its layer's
kernel by the kernel's largest singular value, estimated by power iteration."""

from .. import config, initializers
from .base import InputSpec, register_layer
from .wrappers import Wrapper


def _normalize(xp, x):
    """``x / max(||x||, epsilon)`` over all entries (Keras's ``ops.normalize(x, axis=None)``)."""
    return x * min(1.0 / float(xp.sqrt((x * x).sum())), 1.0 / config.epsilon())


@register_layer
class SpectralNormalization(Wrapper):
    """Wraps a layer with a ``kernel`` (or ``embeddings``) weight. When called with
    ``training=True`` (in ``fit``), it first replaces the kernel, in place, by ``kernel /
    sigma``: ``sigma`` is the spectral norm of the kernel as a ``(-1, units)`` matrix, from
    ``power_iterations`` steps that start at the non-trainable ``vector_u`` ``(1, units)``
    and update it. At inference the layer runs on the kernel as it is.

    Weights in Keras's order: the kernel, ``vector_u``, then the layer's other weights.
    """

    def __init__(self, layer, power_iterations: int = 1, **kwargs):
        super().__init__(layer, **kwargs)
        if (
            isinstance(power_iterations, bool)
            or not isinstance(power_iterations, int)
            or power_iterations <= 0
        ):
            raise ValueError(
                f"SpectralNormalization '{self.name}': `power_iterations` must be a positive "
                f"integer, got {power_iterations!r}."
            )
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(
                f"SpectralNormalization '{self.name}': the wrapped layer "
                f"{type(self.layer).__name__} '{self.layer.name}' has no `kernel` or "
                f"`embeddings` weight to normalize."
            )
        self.kernel = kernel
        self.vector_u = self.add_weight(
            name="vector_u",
            shape=(1, kernel.shape[-1]),
            initializer=initializers.TruncatedNormal(stddev=0.02),
            trainable=False,
            dtype=kernel.dtype,
        )

    @property
    def weights(self):
        if not self.built:
            return super().weights
        rest = [w for w in self.layer.weights if w is not self.kernel]
        return [self.kernel, *self._weights, *rest]

    def normalize_kernel(self) -> None:
        """One power-iteration update of ``vector_u`` and the kernel divided by its estimated
        spectral norm (nothing when the kernel is all zeros, as Keras)."""
        xp = self.kernel.backend.xp
        matrix = self.kernel.data.reshape(-1, self.kernel.shape[-1])
        if not bool(xp.any(matrix != 0)):
            return
        vector_u = self.vector_u.data
        for _ in range(self.power_iterations):
            vector_v = _normalize(xp, vector_u @ matrix.T)
            vector_u = _normalize(xp, vector_v @ matrix)
        sigma = (vector_v @ matrix) @ vector_u.T
        self.vector_u.data = vector_u.astype(self.vector_u.dtype)
        self.kernel.data = (self.kernel.data / sigma.reshape(())).astype(self.kernel.dtype)

    def call(self, inputs, training=False):
        if training:
            self.normalize_kernel()
        outputs = self.layer(inputs)
        return outputs if outputs.dtype == inputs.dtype else outputs.astype(inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
