"""Value preprocessing layers: Normalization (with ``adapt``) and Rescaling.

``Normalization`` computes ``(x - mean) / max(sqrt(variance), epsilon)`` with
statistics given to it or learned by ``adapt`` from data; adapted statistics
are non-trainable weights (``mean``, ``variance``), so a saved model keeps them.
Given statistics live in the config. Keras also makes a scalar ``count`` weight
that it never updates; it is left out here, so ``get_weights`` gives two arrays
(Keras three) and ``count_params`` is one less than Keras's.
"""

import itertools
import math

import numpy

from ... import config
from ... import functional as F
from ...tensor import Tensor
from ..base import Layer, format_shape, register_layer


def _host_batch(batch, layer: "Normalization") -> numpy.ndarray:
    """A batch of ``adapt`` data as float64 NumPy: the ``x`` of an ``(x, y)`` element."""
    if isinstance(batch, tuple):  # a Dataset's or generator's (x, y[, sample_weight])
        batch = batch[0]
    if isinstance(batch, Tensor):
        batch = batch.numpy()
    elif hasattr(batch, "__cuda_array_interface__") and hasattr(batch, "get"):
        batch = batch.get()
    array = numpy.asarray(batch)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Normalization '{layer.name}'.adapt: expected numeric data, got an array of dtype "
            f"{array.dtype}."
        )
    return array.astype(numpy.float64, copy=False)


@register_layer
class Normalization(Layer):
    """Shift and scale inputs to zero mean and unit variance along ``axis`` (the axes
    that keep their own statistics; ``None``: one mean and variance for all).

    Give ``mean`` and ``variance``, or call ``adapt(data)`` before use. With
    ``invert=True`` the layer maps normalized values back: ``mean + x * std``.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert: bool = False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int) and not isinstance(axis, bool):
            axis = (axis,)
        elif isinstance(axis, (list, tuple)) and all(
            isinstance(a, int) and not isinstance(a, bool) for a in axis
        ):
            axis = tuple(axis)
        else:
            raise ValueError(
                f"Normalization '{self.name}': `axis` must be an integer, a tuple of integers or "
                f"None, got {axis!r}."
            )
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Normalization '{self.name}': give both `mean` and `variance`, or neither (and "
                f"call adapt()); got mean={mean!r} and variance={variance!r}."
            )
        if mean is not None:
            if numpy.shape(mean) != numpy.shape(variance):
                raise ValueError(
                    f"Normalization '{self.name}': `mean` and `variance` must have the same "
                    f"shape; got {numpy.shape(mean)} and {numpy.shape(variance)}."
                )
            if numpy.ndim(mean) > len(self.axis):
                raise ValueError(
                    f"Normalization '{self.name}': `mean` has rank {numpy.ndim(mean)}, more than "
                    f"the {len(self.axis)} axes in `axis`={self.axis}."
                )
            if numpy.any(numpy.asarray(variance) < 0):
                raise ValueError(f"Normalization '{self.name}': `variance` must be >= 0.")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._cache: dict = {}

    # -- building ----------------------------------------------------------

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                f"Normalization '{self.name}': every `axis` must be in [-{ndim}, {ndim}) for "
                f"inputs of shape {format_shape(input_shape)}; got axis={self.axis}."
            )
        keep = tuple(sorted(a % ndim for a in self.axis))
        for a in keep:
            if input_shape[a] is None:
                raise ValueError(
                    f"Normalization '{self.name}': axis {a} of the input must have a known size "
                    f"(it keeps its own statistics); got inputs of shape "
                    f"{format_shape(input_shape)}."
                )
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        self._statistics_shape = tuple(input_shape[d] for d in keep)
        self._input_shape = tuple(input_shape)
        if self.input_mean is None:
            shape = self._statistics_shape
            self.adapt_mean = self.add_weight(
                shape=shape, initializer="zeros", trainable=False, name="mean"
            )
            self.adapt_variance = self.add_weight(
                shape=shape, initializer="ones", trainable=False, name="variance"
            )
        else:
            self._given = (self._broadcast(self.input_mean), self._broadcast(self.input_variance))

    def _broadcast(self, values) -> numpy.ndarray:
        """Given statistics (a scalar, or sizes of the last kept axes) in broadcast shape."""
        values = numpy.asarray(values, dtype=numpy.float64)
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, values.ndim + 1):
            expanded[self._keep_axis[-i]] = values.shape[-i]
        try:
            return numpy.broadcast_to(values.reshape(expanded), self._broadcast_shape)
        except ValueError:
            raise ValueError(
                f"Normalization '{self.name}': `mean`/`variance` of shape {values.shape} do not "
                f"fit the sizes {self._statistics_shape} of axis={self.axis}."
            ) from None

    # -- statistics ----------------------------------------------------------

    def _statistics(self, backend, dtype):
        """``(mean, standard deviation)`` as backend arrays in broadcast shape."""
        epsilon = config.epsilon()
        if self.input_mean is not None:
            key = (backend.name, numpy.dtype(dtype).name, epsilon)
            if key not in self._cache:
                mean, variance = self._given
                std = numpy.maximum(numpy.sqrt(variance), epsilon)
                self._cache = {
                    key: (backend.asarray(mean.astype(dtype)), backend.asarray(std.astype(dtype)))
                }
            return self._cache[key]
        xp = backend.xp
        mean = self.adapt_mean.data.reshape(self._broadcast_shape).astype(dtype)
        variance = self.adapt_variance.data.reshape(self._broadcast_shape).astype(dtype)
        return mean, xp.maximum(xp.sqrt(variance), xp.asarray(epsilon, dtype=dtype))

    @property
    def mean(self) -> Tensor | None:
        """The mean in the inputs' broadcast shape (None until built)."""
        if not self.built:
            return None
        return Tensor._wrap(self._statistics(self.backend, self.dtype)[0], self.backend)

    @property
    def variance(self) -> Tensor | None:
        """The variance in the inputs' broadcast shape (None until built)."""
        if not self.built:
            return None
        if self.input_mean is not None:
            values = self.backend.asarray(self._given[1].astype(self.dtype))
        else:
            values = self.adapt_variance.data.reshape(self._broadcast_shape)
        return Tensor._wrap(values, self.backend)

    def adapt(self, data) -> None:
        """Learn the mean and variance of ``data``: an array (or Tensor), an
        ``engine.data.Dataset``, a ``utils.PyDataset`` or an iterable of batches (the
        ``x`` of ``(x, y)`` elements is used)."""
        if self.input_mean is not None:
            raise ValueError(
                f"Normalization '{self.name}': adapt() learns the mean and variance, but they "
                f"were given to the constructor; make the layer without them to adapt it."
            )
        batches = self._adapt_batches(data)
        first = next(batches, None)
        if first is None:
            raise ValueError(
                f"Normalization '{self.name}'.adapt: the data has no batches; give at least one."
            )
        if first.ndim == 0:
            raise ValueError(
                f"Normalization '{self.name}'.adapt: expected batches of samples, got a scalar."
            )
        if not self.built:
            keeps_batch_axis = any(a % first.ndim == 0 for a in self.axis)
            self.build_from_shape(first.shape if keeps_batch_axis else (None, *first.shape[1:]))
        total_mean = numpy.zeros(self._statistics_shape)
        total_variance = numpy.zeros(self._statistics_shape)
        total_count = 0
        for batch in itertools.chain([first], batches):
            self._check_adapt_shape(batch.shape)
            count = math.prod(batch.shape[d] for d in self._reduce_axis)
            if count == 0:
                continue
            batch_mean = batch.mean(axis=self._reduce_axis)
            batch_variance = batch.var(axis=self._reduce_axis)
            # Chan et al.'s pairwise update, as Keras combines batches
            total_count += count
            weight = count / total_count
            new_mean = total_mean * (1 - weight) + batch_mean * weight
            total_variance = (total_variance + (total_mean - new_mean) ** 2) * (1 - weight) + (
                batch_variance + (batch_mean - new_mean) ** 2
            ) * weight
            total_mean = new_mean
        if total_count == 0:
            raise ValueError(f"Normalization '{self.name}'.adapt: the data has no samples.")
        self.adapt_mean.assign(total_mean.astype(self.adapt_mean.dtype))
        self.adapt_variance.assign(total_variance.astype(self.adapt_variance.dtype))

    def _adapt_batches(self, data):
        from ...data import Dataset

        if isinstance(data, Dataset):
            return (_host_batch(element, self) for element in data)
        if isinstance(data, (list, tuple)):  # nested lists of numbers: one array
            data = numpy.asarray(data)
        if isinstance(data, (numpy.ndarray, Tensor)) or hasattr(data, "__cuda_array_interface__"):
            return iter([_host_batch(data, self)])
        if hasattr(data, "__iter__"):
            return (_host_batch(batch, self) for batch in data)
        raise TypeError(
            f"Normalization '{self.name}'.adapt: expected an array, a Tensor, an "
            f"engine.data.Dataset, a PyDataset or an iterable of batches; got "
            f"{type(data).__name__}."
        )

    def _check_adapt_shape(self, shape) -> None:
        if len(shape) != len(self._input_shape) or any(
            shape[d] != self._input_shape[d] for d in self._keep_axis
        ):
            raise ValueError(
                f"Normalization '{self.name}': the layer is built for inputs of shape "
                f"{format_shape(self._input_shape)}, but adapt() got data of shape "
                f"{format_shape(shape)}."
            )

    # -- calling ---------------------------------------------------------

    def call(self, inputs):
        mean, std = self._statistics(inputs.backend, inputs.dtype)
        if self.invert:
            return F.add(F.multiply(inputs, std), mean)
        return F.divide(F.subtract(inputs, mean), std)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(values):
            return None if values is None else numpy.asarray(values, dtype=float).tolist()

        return {
            **super().get_config(),
            "axis": list(self.axis),
            "invert": self.invert,
            "mean": plain(self.input_mean),
            "variance": plain(self.input_variance),
        }


@register_layer
class Rescaling(Layer):
    """``inputs * scale + offset`` (e.g. ``scale=1/255`` maps ``[0, 255]`` to ``[0, 1]``);
    ``scale`` and ``offset`` may be numbers or per-channel sequences."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = self._check(scale, "scale")
        self.offset = self._check(offset, "offset")
        self.supports_masking = True

    def _check(self, value, argument: str):
        array = numpy.asarray(value) if not isinstance(value, Tensor) else value.numpy()
        if array.dtype.kind not in "biuf" or not numpy.all(numpy.isfinite(array)):
            raise ValueError(
                f"Rescaling '{self.name}': `{argument}` must be a finite number or a sequence of "
                f"them (one per channel), got {value!r}."
            )
        return float(array) if array.ndim == 0 else array.astype(float).tolist()

    def call(self, inputs):
        backend, dtype = inputs.backend, inputs.dtype
        scale, offset = (
            value if isinstance(value, float) else backend.asarray(numpy.asarray(value, dtype))
            for value in (self.scale, self.offset)
        )
        return F.add(F.multiply(inputs, scale), offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
