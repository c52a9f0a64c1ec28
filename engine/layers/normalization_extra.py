"""More normalization layers, as Keras 3: GroupNormalization, UnitNormalization and
RMSNormalization, composed from differentiable ops."""

from .. import constraints, initializers, regularizers
from .. import functional as F
from ..functional._util import normalize_axes
from .base import InputSpec, Layer, format_shape, register_layer
from .normalization import _check_axes


def _broadcast_shape(ndim: int, sizes: dict) -> tuple:
    """A shape of ones but for ``sizes`` (axis -> size): weights made to broadcast."""
    return tuple(sizes.get(axis, 1) for axis in range(ndim))


@register_layer
class GroupNormalization(Layer):
    """Normalize each sample over groups of channels (Wu & He, 2018), then scale and shift.

    The ``axis`` channels are split into ``groups`` groups (``-1``: one per
    channel, i.e. instance normalization); mean and biased variance are taken
    over each group and every other non-batch axis. Weights: gamma, beta
    ``(channels,)``.
    """

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"GroupNormalization '{self.name}'"
        valid = isinstance(groups, int) and not isinstance(groups, bool)
        if not valid or (groups <= 0 and groups != -1):
            raise ValueError(
                f"{where}: `groups` must be a positive integer (or -1 for instance "
                f"normalization), got {groups!r}."
            )
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"{where}: `axis` must be an int, got {axis!r}.")
        self.groups, self.axis = groups, axis
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        (axis,) = _check_axes(self, self.axis, input_shape)
        channels = input_shape[axis]
        groups = channels if self.groups == -1 else self.groups
        if channels < groups or channels % groups:
            raise ValueError(
                f"GroupNormalization '{self.name}': the {channels} channels of axis {self.axis} "
                f"cannot be split into {groups} groups of equal size; received input with shape "
                f"{format_shape(input_shape)}."
            )
        self._axis, self._groups = axis, groups
        self.input_spec = InputSpec(ndim=len(input_shape), axes={axis: channels})
        self.gamma = self._add("gamma", channels) if self.scale else None
        self.beta = self._add("beta", channels) if self.center else None

    def _add(self, name: str, channels: int):
        return self.add_weight(
            name=name,
            shape=(channels,),
            initializer=getattr(self, f"{name}_initializer"),
            regularizer=getattr(self, f"{name}_regularizer"),
            constraint=getattr(self, f"{name}_constraint"),
        )

    def call(self, inputs):
        shape, axis, groups = inputs.shape, self._axis, self._groups
        grouped = (*shape[:axis], groups, shape[axis] // groups, *shape[axis + 1 :])
        x = F.reshape(inputs, grouped)
        axes = tuple(a for a in range(1, len(grouped)) if a != axis)
        centered = x - F.mean(x, axes, True)
        inverse = (F.mean(centered * centered, axes, True) + self.epsilon) ** -0.5
        weights = _broadcast_shape(len(grouped), {axis: groups, axis + 1: shape[axis] // groups})
        if self.gamma is not None:
            inverse = inverse * F.reshape(self.gamma, weights)
        y = centered * inverse
        if self.beta is not None:
            y = y + F.reshape(self.beta, weights)
        return F.reshape(y, shape)

    def compute_output_shape(self, input_shape):
        _check_axes(self, self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }


def _axis_argument(layer: Layer, axis):
    """``axis`` as Keras keeps it: an int, or a list of ints."""
    if isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis):
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    raise ValueError(
        f"{type(layer).__name__} '{layer.name}': `axis` must be an int or a list of ints, got "
        f"{axis!r}."
    )


def _resolve_axes(layer: Layer, input_shape) -> tuple:
    try:
        return normalize_axes(layer.axis, len(input_shape))
    except ValueError:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': axis {layer.axis!r} is out of range for "
            f"an input with shape {format_shape(input_shape)} (rank {len(input_shape)})."
        ) from None


@register_layer
class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm over ``axis``: ``x / max(||x||, 1e-12)``, as Keras 3."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_argument(self, axis)
        self.supports_masking = True

    def call(self, inputs):
        axes = _resolve_axes(self, inputs.shape)
        squares = F.sum(inputs * inputs, axes, True)
        return inputs * F.clip(squares, 1e-24, None) ** -0.5

    def compute_output_shape(self, input_shape):
        _resolve_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register_layer
class RMSNormalization(Layer):
    """``x / sqrt(mean(x**2 over axis) + epsilon) * scale`` (Zhang & Sennrich, 2019);
    weight ``scale``, the sizes of ``axis``, initialized to ones."""

    def __init__(self, axis=-1, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_argument(self, axis)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        axes = _check_axes(self, self.axis, input_shape)
        self.scale = self.add_weight(
            name="scale", shape=tuple(input_shape[a] for a in axes), initializer="ones"
        )
        self._axes = axes
        self._scale_shape = _broadcast_shape(len(input_shape), {a: input_shape[a] for a in axes})
        self.input_spec = InputSpec(ndim=len(input_shape), axes={a: input_shape[a] for a in axes})

    def call(self, inputs):
        inverse = (F.mean(inputs * inputs, self._axes, True) + self.epsilon) ** -0.5
        return inputs * inverse * F.reshape(self.scale, self._scale_shape)

    def compute_output_shape(self, input_shape):
        _resolve_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
