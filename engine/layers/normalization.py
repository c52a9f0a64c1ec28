"""Normalization layers: BatchNormalization and LayerNormalization (Keras 3 semantics)."""

from .. import functional as F
from .. import initializers, regularizers
from ..functional._util import normalize_axes
from ..tensor import no_grad, note_call
from .base import InputSpec, Layer, format_shape, register_layer


def _check_axes(layer, axes, input_shape) -> tuple:
    try:
        resolved = normalize_axes(axes, len(input_shape))
    except ValueError:
        resolved = None
    if resolved is None or 0 in resolved:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': axis {axes!r} is not a feature axis of an "
            f"input with shape {format_shape(input_shape)} (rank {len(input_shape)})."
        )
    for axis in resolved:
        if input_shape[axis] is None:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': axis {axis} of the input must be "
                f"known, but received input with shape {format_shape(input_shape)}."
            )
    return resolved


@register_layer
class BatchNormalization(Layer):
    """Normalize each channel by batch statistics in training, moving statistics otherwise.

    In training the batch mean and biased variance are used and the moving
    statistics follow ``moving = momentum * moving + (1 - momentum) * batch``.
    A layer with ``trainable=False`` always runs in inference mode, as in Keras.
    Weights, in Keras's order: gamma, beta, moving_mean, moving_variance.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(
                f"BatchNormalization '{self.name}': `axis` must be an int, got {axis!r}."
            )
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        (axis,) = _check_axes(self, self.axis, input_shape)
        shape = (input_shape[axis],)
        self.gamma = (
            self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
            )
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
            )
            if self.center
            else None
        )
        self.moving_mean = self.add_weight(
            name="moving_mean",
            shape=shape,
            initializer=self.moving_mean_initializer,
            trainable=False,
        )
        self.moving_variance = self.add_weight(
            name="moving_variance",
            shape=shape,
            initializer=self.moving_variance_initializer,
            trainable=False,
        )
        self.input_spec = InputSpec(ndim=len(input_shape), axes={axis: input_shape[axis]})
        self._channel_axis = axis

    def _broadcast(self, tensor, ndim):
        """A ``(channels,)`` tensor shaped to broadcast against the input."""
        if self._channel_axis == ndim - 1:
            return tensor
        shape = [1] * ndim
        shape[self._channel_axis] = tensor.shape[0]
        return tensor.reshape(shape)

    def call(self, inputs, training=False):
        if training and self.trainable:
            y, mean, variance = F.batch_norm(
                inputs, self.gamma, self.beta, self._channel_axis, self.epsilon
            )
            # a replayed training step repeats this on its batch's statistics
            note_call(self._update_moving_statistics, mean, variance)
            self._update_moving_statistics(mean, variance)
            return y
        ndim = inputs.ndim
        scale = (self.moving_variance + self.epsilon) ** -0.5
        if self.gamma is not None:
            scale = scale * self.gamma
        y = (inputs - self._broadcast(self.moving_mean, ndim)) * self._broadcast(scale, ndim)
        if self.beta is not None:
            y = y + self._broadcast(self.beta, ndim)
        return y

    def _update_moving_statistics(self, mean, variance) -> None:
        momentum = self.momentum
        with no_grad():
            for weight, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                weight.data = weight.data * momentum + batch.astype(weight.dtype) * (1 - momentum)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }


@register_layer
class LayerNormalization(Layer):
    """Normalize each sample over ``axis`` (an int or a list), then scale and shift."""

    def __init__(
        self,
        axis=-1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        axes = _check_axes(self, self.axis, input_shape)
        shape = tuple(input_shape[a] for a in axes)
        self.gamma = (
            self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
            )
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
            )
            if self.center
            else None
        )
        self._axes = axes
        self.input_spec = InputSpec(ndim=len(input_shape), axes={a: input_shape[a] for a in axes})

    def call(self, inputs):
        return F.layer_norm(inputs, self.gamma, self.beta, self._axes, self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }
