"""Pooling layers (channels-last): windowed max and average, and their global forms."""

from .. import functional as F
from ..functional._util import native
from ..functional.pooling3d import avg_pool3d, max_pool3d
from .base import Layer, register_layer
from .conv import (
    check_data_format,
    check_padding,
    check_rank,
    normalize_tuple,
    spatial_output_shape,
)


class _Pooling(Layer):
    """Shared body of the windowed pooling layers; ``strides`` defaults to ``pool_size``."""

    rank = 2
    layout = "(batch, height, width, channels)"
    pool = None  # the functional op, set by subclasses

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        check_data_format(data_format, where)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", where)
        self.strides = (
            self.pool_size
            if strides is None
            else normalize_tuple(strides, self.rank, "strides", where)
        )
        self.padding = check_padding(padding, ("valid", "same"), where)

    def _output_spatial(self, input_shape) -> tuple:
        check_rank(self, input_shape, self.rank + 2, self.layout)
        ones = (1,) * self.rank
        return spatial_output_shape(
            self, input_shape, self.pool_size, self.strides, self.padding, ones
        )

    def build(self, input_shape):
        self._output_spatial(input_shape)

    def compute_output_shape(self, input_shape):
        spatial = self._output_spatial(tuple(input_shape))
        return (input_shape[0], *spatial, input_shape[-1])

    def call(self, inputs):
        self._output_spatial(inputs.shape)
        pool_size = self.pool_size[0] if self.rank == 1 else self.pool_size
        strides = self.strides[0] if self.rank == 1 else self.strides
        return self.pool(inputs, pool_size, strides, self.padding)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": "channels_last",
        }


@register_layer
class MaxPooling2D(_Pooling):
    """Maximum over ``pool_size`` windows of ``(batch, height, width, channels)`` inputs."""

    pool = staticmethod(F.max_pool2d)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


@register_layer
class AveragePooling2D(_Pooling):
    """Mean over ``pool_size`` windows; with ``padding="same"`` padded cells are not counted."""

    pool = staticmethod(F.avg_pool2d)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


@register_layer
class MaxPooling1D(_Pooling):
    """Maximum over windows of ``pool_size`` steps of ``(batch, steps, channels)`` inputs."""

    rank = 1
    layout = "(batch, steps, channels)"
    pool = staticmethod(F.max_pool1d)

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


@register_layer
class AveragePooling1D(_Pooling):
    """Mean over windows of ``pool_size`` steps of ``(batch, steps, channels)`` inputs."""

    rank = 1
    layout = "(batch, steps, channels)"
    pool = staticmethod(F.avg_pool1d)

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


@register_layer
class MaxPooling3D(_Pooling):
    """Maximum over ``pool_size`` windows of ``(batch, depth, height, width, channels)``."""

    rank = 3
    layout = "(batch, depth, height, width, channels)"
    pool = staticmethod(max_pool3d)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


@register_layer
class AveragePooling3D(_Pooling):
    """Mean over ``pool_size`` windows of ``(batch, depth, height, width, channels)``
    (``pool_size`` has no default, as in Keras); padded cells are not counted."""

    rank = 3
    layout = "(batch, depth, height, width, channels)"
    pool = staticmethod(avg_pool3d)

    def __init__(self, pool_size, strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)


class _GlobalPooling(Layer):
    rank = 2
    layout = "(batch, height, width, channels)"
    reduce = "mean"

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        check_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.keepdims = bool(keepdims)
        self.supports_masking = False

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank + 2, self.layout)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, self.rank + 2, self.layout)
        if self.keepdims:
            return (input_shape[0], *(1,) * self.rank, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def call(self, inputs):
        check_rank(self, inputs.shape, self.rank + 2, self.layout)
        axes = tuple(range(1, self.rank + 1))
        return getattr(F, self.reduce)(inputs, axes, self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


@register_layer
class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: ``(batch, h, w, c)`` to ``(batch, c)``."""


@register_layer
class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width: ``(batch, h, w, c)`` to ``(batch, c)``."""

    reduce = "max"


@register_layer
class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over steps: ``(batch, steps, c)`` to ``(batch, c)``; with a mask (an Embedding's
    ``mask_zero``, a ``Masking`` layer), the mean of the unmasked steps, as Keras 3's."""

    rank = 1
    layout = "(batch, steps, channels)"

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        check_rank(self, inputs.shape, 3, self.layout)
        if tuple(mask.shape) != tuple(inputs.shape[:2]):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the mask must have the inputs' "
                f"(batch, steps) shape {tuple(inputs.shape[:2])}; got {tuple(mask.shape)}."
            )
        steps = native(mask, inputs.backend).astype(bool)[:, :, None]
        total = F.sum(F.where(steps, inputs, 0.0), 1, self.keepdims)
        count = steps.astype(inputs.dtype).sum(axis=1, keepdims=self.keepdims)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None


@register_layer
class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over steps: ``(batch, steps, c)`` to ``(batch, c)``."""

    rank = 1
    layout = "(batch, steps, channels)"
    reduce = "max"


@register_layer
class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over depth, height and width: ``(batch, d, h, w, c)`` to ``(batch, c)``."""

    rank = 3
    layout = "(batch, depth, height, width, channels)"


@register_layer
class GlobalMaxPooling3D(_GlobalPooling):
    """Maximum over depth, height and width: ``(batch, d, h, w, c)`` to ``(batch, c)``."""

    rank = 3
    layout = "(batch, depth, height, width, channels)"
    reduce = "max"
