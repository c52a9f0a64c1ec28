"""Wrapper (the base of layers that hold one layer) and TimeDistributed, as Keras 3.

Bidirectional, Keras's other wrapper, lives with the recurrent layers.
"""

from .. import functional as F
from .base import Layer, call_signature, format_shape, layer_registry, register_layer
from .normalization import BatchNormalization


class Wrapper(Layer):
    """Holds ``layer`` (its weights are the wrapper's) and saves it in its config."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = layer_registry.create(layer)
        if not isinstance(layer, Layer):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `layer` must be a Layer instance, got "
                f"{layer!r}."
            )
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            if self.layer.backend is None:
                self.layer.backend = self.backend
            self.layer.build_from_shape(input_shape)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        layer = {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}
        return {**super().get_config(), "layer": layer}


def _contains_batch_normalization(layer: Layer) -> bool:
    return isinstance(layer, BatchNormalization) or any(
        _contains_batch_normalization(sublayer) for sublayer in layer._layers
    )


@register_layer
class TimeDistributed(Wrapper):
    """Applies ``layer`` to every timestep (axis 1) of ``(batch, timesteps, ...)`` inputs,
    with the same weights.

    The timesteps go through the layer as one batch of ``batch * timesteps``
    samples, which is the same as one call per step for layers that treat samples
    independently. A layer holding a BatchNormalization is called once per step
    instead, as Keras 3 does for every layer, so that its batch statistics (and
    moving averages) are those of each step.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _child_shape(self, input_shape) -> tuple:
        if len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expects inputs of rank 3 or more, (batch, "
                f"timesteps, ...), but received input with shape "
                f"{format_shape(tuple(input_shape))}."
            )
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        super().build(self._child_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (child[0], input_shape[1], *child[1:])

    def call(self, inputs, training=False, mask=None):
        batch, timesteps = inputs.shape[0], inputs.shape[1]
        if mask is not None:
            mask_shape = tuple(mask.shape)
            if len(mask_shape) < 2 or mask_shape[:2] != (batch, timesteps):
                raise ValueError(
                    f"TimeDistributed '{self.name}': the mask's shape {mask_shape} must begin "
                    f"with the input's (batch, timesteps) = ({batch}, {timesteps})."
                )
        signature = call_signature(type(self.layer))
        kwargs = {"training": training} if signature.training else {}
        passes_mask = mask is not None and signature.mask == "mask"
        if _contains_batch_normalization(self.layer):
            outputs = []
            for t in range(timesteps):
                if passes_mask:
                    kwargs["mask"] = mask[:, t]
                outputs.append(self.layer(inputs[:, t], **kwargs))
            return F.stack(outputs, axis=1)
        if passes_mask:
            kwargs["mask"] = mask.reshape(batch * timesteps, *mask.shape[2:])
        merged = F.reshape(inputs, (batch * timesteps, *inputs.shape[2:]))
        outputs = self.layer(merged, **kwargs)
        return F.reshape(outputs, (batch, timesteps, *outputs.shape[1:]))
