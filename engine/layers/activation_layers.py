"""Activation layers with arguments: ReLU, LeakyReLU, Softmax, ELU, PReLU, and Identity."""

import warnings

from .. import functional as F
from .. import initializers, regularizers
from ..tensor import Tensor
from .base import InputSpec, Layer, format_shape, register_layer

#: what masked positions become before a masked softmax (Keras's value for float32/64)
LARGE_NEGATIVE = -1e9


def _check_non_negative(layer: Layer, argument: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{argument}` must be a number >= 0, "
            f"got {value!r}."
        )


class _Elementwise(Layer):
    """An activation applied elementwise: same output shape, masks pass through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@register_layer
class ReLU(_Elementwise):
    """``x`` above ``threshold`` (capped at ``max_value``), else ``negative_slope * (x -
    threshold)``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        _check_non_negative(self, "max_value", max_value, allow_none=True)
        _check_non_negative(self, "negative_slope", negative_slope)
        _check_non_negative(self, "threshold", threshold)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        slope, threshold, max_value = self.negative_slope, self.threshold, self.max_value
        if slope != 0 and max_value is None and threshold == 0:
            return F.activation(inputs, "leaky_relu", negative_slope=slope)
        # Keras's composition: the thresholded, capped positive part minus the slope term
        if threshold != 0:
            output = F.where(inputs.data > threshold, inputs, 0.0)
        else:
            output = F.relu(inputs)
        if max_value is not None:
            output = F.clip(output, 0.0, max_value)
        if slope != 0:
            below = F.relu(F.subtract(threshold, inputs))
            output = F.subtract(output, F.multiply(below, slope))
        return output

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


@register_layer
class LeakyReLU(_Elementwise):
    """``x`` for ``x > 0``, else ``negative_slope * x`` (Keras 3's default slope 0.3).

    ``alpha`` is accepted as the deprecated name of ``negative_slope``, as in Keras.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn(
                "LeakyReLU: argument `alpha` is deprecated; use `negative_slope` instead.",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(**kwargs)
        _check_non_negative(self, "negative_slope", negative_slope)
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return F.activation(inputs, "leaky_relu", negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register_layer
class ELU(_Elementwise):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return F.activation(inputs, "elu", alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register_layer
class Identity(_Elementwise):
    """Passes its input through unchanged."""

    def call(self, inputs):
        return inputs


@register_layer
class Softmax(_Elementwise):
    """Softmax over ``axis`` (an int or a list of ints).

    ``mask`` (broadcastable to the input; True or > 0.5 keeps a position) sets
    masked positions to a large negative number before the softmax and to 0
    after it, as in Keras, so a fully masked row gives zeros.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else (axis,)
        if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ValueError(
                f"Softmax '{self.name}': `axis` must be an int or a list of ints, got {axis!r}."
            )
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis

    def _keep(self, inputs: Tensor, mask):
        """The mask as a boolean array on the input's backend, checked to broadcast."""
        data = mask.data if isinstance(mask, Tensor) else inputs.backend.asarray(mask)
        shape = tuple(data.shape)
        if len(shape) > inputs.ndim or any(
            m != 1 and m != i for m, i in zip(shape[::-1], inputs.shape[::-1])
        ):
            raise ValueError(
                f"Softmax '{self.name}': the mask must broadcast to the input (each mask axis "
                f"1 or the input's size, and no more axes); received inputs of shape "
                f"{format_shape(inputs.shape)} and a mask of shape {format_shape(shape)}."
            )
        return data if data.dtype == bool else data > 0.5

    def call(self, inputs, mask=None):
        keep = None
        if mask is not None:
            keep = self._keep(inputs, mask)
            inputs = F.where(keep, inputs, LARGE_NEGATIVE)
        if isinstance(self.axis, int) or len(self.axis) == 1:
            axis = self.axis if isinstance(self.axis, int) else self.axis[0]
            outputs = F.softmax(inputs, axis)
        else:
            # the shift only guards exp against overflow; it carries no gradient
            shift = inputs.data.max(axis=tuple(self.axis), keepdims=True)
            exponentials = F.exp(F.subtract(inputs, shift))
            total = F.sum(exponentials, axis=tuple(self.axis), keepdims=True)
            outputs = F.divide(exponentials, total)
        if keep is not None:
            outputs = F.where(keep, outputs, 0.0)
        return outputs

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register_layer
class PReLU(Layer):
    """``x`` for ``x > 0``, else ``alpha * x`` with a learned ``alpha`` per input position.

    ``shared_axes`` (1-based, batch excluded) share one ``alpha`` along those axes,
    e.g. ``[1, 2]`` for one value per channel of an image.
    """

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise ValueError(
                f"PReLU '{self.name}': weight constraints are not supported; got "
                f"alpha_constraint={alpha_constraint!r}."
            )
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = (
                list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            )
        self.supports_masking = True

    def build(self, input_shape):
        parameter_shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis < len(input_shape):
                raise ValueError(
                    f"PReLU '{self.name}': shared axis {axis} is out of range for inputs of "
                    f"shape {format_shape(input_shape)} (axes are counted from 1, after the "
                    f"batch axis)."
                )
            parameter_shape[axis - 1] = 1
        if None in parameter_shape:
            raise ValueError(
                f"PReLU '{self.name}': every unshared axis needs a known size to create alpha; "
                f"received input shape {format_shape(input_shape)}."
            )
        self.alpha = self.add_weight(
            name="alpha",
            shape=parameter_shape,
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
        )
        axes = {
            i: input_shape[i]
            for i in range(1, len(input_shape))
            if i not in (self.shared_axes or ())
        }
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)

    def call(self, inputs):
        negative = F.multiply(self.alpha, F.relu(F.negative(inputs)))
        return F.subtract(F.relu(inputs), negative)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": None,
            "shared_axes": self.shared_axes,
        }
