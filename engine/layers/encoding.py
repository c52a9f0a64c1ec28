"""Numeric preprocessing layers, as Keras 3: CategoryEncoding and Discretization.

Both read integer ids (or values to bin) on the layer's backend and return
tensors that carry no gradient: ``"one_hot"`` encodes each id on a new last
axis (a last axis of size 1 is replaced), ``"multi_hot"`` and ``"count"``
encode each sample (axis 1, or the whole of a 1-D input) as one vector.
``Discretization.adapt`` finds quantile boundaries with Keras's summaries, so
it learns the same bins from the same data.
"""

import numpy

from ..losses.labels import check_indices
from ..tensor import Tensor
from .base import Layer, format_shape, register_layer

_MODES = ("int", "one_hot", "multi_hot", "count")


def _check_mode(layer: Layer, output_mode, allowed: tuple) -> str:
    if output_mode == "binary":  # Keras's old name
        output_mode = "multi_hot"
    if output_mode not in allowed:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `output_mode` must be one of "
            f"{', '.join(map(repr, allowed))}; got {output_mode!r}."
        )
    return output_mode


def _refuse_sparse(layer: Layer, sparse) -> None:
    if sparse:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': sparse outputs are not supported "
            f"(sparse=True); the output is dense."
        )


def encode(xp, ids, output_mode: str, depth: int, dtype, count_weights=None):
    """Keras's ``encode_categorical_inputs`` on ``xp`` arrays of integer ``ids``."""
    if ids.ndim == 0:
        ids = ids.reshape(1)
    if output_mode == "one_hot" and ids.ndim > 1 and ids.shape[-1] == 1:
        ids = ids.reshape(ids.shape[:-1])
    one_hot = (ids[..., None] == xp.arange(depth)).astype(dtype)
    if output_mode == "one_hot":
        return one_hot
    axis = 1 if ids.ndim > 1 else 0
    if output_mode == "multi_hot":
        return one_hot.max(axis=axis)
    if count_weights is not None:
        one_hot *= count_weights.astype(dtype)[..., None]
    return one_hot.sum(axis=axis)


def _encoded_shape(input_shape, output_mode: str, depth) -> tuple:
    """The output shape of ``encode`` for inputs of ``input_shape``."""
    if output_mode == "int":
        return input_shape
    if len(input_shape) == 0:
        return (depth,)
    if output_mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return (*input_shape[:-1], depth)
        return (*input_shape, depth)
    if len(input_shape) == 1:
        return (depth,)
    return (input_shape[0], *input_shape[2:], depth)


@register_layer
class CategoryEncoding(Layer):
    """Encode integer ids in ``[0, num_tokens)`` as one-hot, multi-hot or count vectors.

    Inputs of rank 0 to 2 (one-hot: any rank); ``count_weights`` (the inputs'
    shape) weights each id in ``"count"`` mode.
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        where = f"CategoryEncoding '{self.name}'"
        self.output_mode = _check_mode(self, output_mode, _MODES[1:])
        if num_tokens is None:
            raise ValueError(
                f"{where}: `num_tokens` must be set to use this layer. If the number of tokens "
                f"is not known beforehand, use the IntegerLookup layer instead."
            )
        if not isinstance(num_tokens, int) or isinstance(num_tokens, bool) or num_tokens < 1:
            raise ValueError(f"{where}: `num_tokens` must be an int >= 1, got {num_tokens!r}.")
        _refuse_sparse(self, sparse)
        self.num_tokens = num_tokens

    def _check_rank(self, shape) -> None:
        if self.output_mode != "one_hot" and len(shape) > 2:
            raise ValueError(
                f"CategoryEncoding '{self.name}': in output_mode={self.output_mode!r} the input "
                f"may have rank 2 at most (samples of ids); received input with shape "
                f"{format_shape(shape)}."
            )

    def call(self, inputs, count_weights=None):
        self._check_rank(inputs.shape)
        backend = inputs.backend
        xp = backend.xp
        ids = inputs.data.astype(xp.int64)
        # on a device inside fit/evaluate: checked at the epoch's end, not read every step
        check_indices(f"CategoryEncoding '{self.name}'", ids, self.num_tokens, backend, "tokens")
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(
                    f"CategoryEncoding '{self.name}': `count_weights` is only used when "
                    f"output_mode='count' (output_mode={self.output_mode!r})."
                )
            if isinstance(count_weights, Tensor):
                count_weights = count_weights.data
            count_weights = backend.asarray(count_weights)
        outputs = encode(xp, ids, self.output_mode, self.num_tokens, self.dtype, count_weights)
        return Tensor(outputs, backend=backend)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_rank(input_shape)
        return _encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
        }


# -- Discretization's quantile summaries (Keras 3's algorithm, on NumPy) ----------------------


def summarize(values, epsilon: float) -> numpy.ndarray:
    """``[values, weights]``: every ``epsilon * len``-th sorted value, weighted by that step."""
    values = numpy.sort(numpy.reshape(values, -1))
    step = max(values.size / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1) :: int(step)]
    return numpy.stack([boundaries, numpy.ones_like(boundaries) * step])


def compress_summary(summary: numpy.ndarray, epsilon: float) -> numpy.ndarray:
    """The summary interpolated at cumulative-weight fractions ``epsilon, 2 * epsilon, ...``."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + numpy.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    fractions = cumulative / cumulative[-1]
    bins = numpy.interp(percents, fractions, summary[0])
    cumulative = numpy.interp(percents, fractions, cumulative)
    weights = cumulative - numpy.concatenate(([0], cumulative[:-1]))
    return numpy.stack((bins, weights)).astype("float32")


def merge_summaries(first: numpy.ndarray, second: numpy.ndarray, epsilon: float):
    merged = numpy.concatenate((first, second), axis=1)
    merged = numpy.take(merged, numpy.argsort(merged[0]), axis=1)
    return compress_summary(merged, epsilon)


@register_layer
class Discretization(Layer):
    """Bucket values by ``bin_boundaries`` (bin ``i`` holds ``b[i-1] <= x < b[i]``).

    Give ``bin_boundaries``, or ``num_bins`` and call ``adapt(data)`` to learn
    quantile boundaries. ``output_mode``: ``"int"`` (int32 bin ids of the
    input's shape), ``"one_hot"``, ``"multi_hot"`` or ``"count"`` (floats).
    """

    def __init__(
        self,
        bin_boundaries=None,
        num_bins=None,
        epsilon: float = 0.01,
        output_mode: str = "int",
        sparse: bool = False,
        dtype=None,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype, **kwargs)
        where = f"Discretization '{self.name}'"
        self.output_mode = _check_mode(self, output_mode, _MODES)
        _refuse_sparse(self, sparse)
        if num_bins is not None and (not isinstance(num_bins, int) or num_bins < 0):
            raise ValueError(f"{where}: `num_bins` must be an int >= 0, got {num_bins!r}.")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(
                f"{where}: give either `num_bins` or `bin_boundaries`, not both; got "
                f"num_bins={num_bins} and bin_boundaries={bin_boundaries}."
            )
        if num_bins is None and bin_boundaries is None:
            raise ValueError(f"{where}: you need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries = None if bin_boundaries is None else self._boundaries(bin_boundaries)
        self.num_bins = num_bins
        self.epsilon = float(epsilon)
        self.summary = numpy.array([[], []], dtype="float32")

    def _boundaries(self, values) -> list:
        values = [float(v) for v in values]
        if any(b < a for a, b in zip(values, values[1:])):
            raise ValueError(
                f"Discretization '{self.name}': `bin_boundaries` must be sorted in increasing "
                f"order, got {values}."
            )
        return values

    def adapt(self, data, steps=None) -> None:
        """Learn ``num_bins - 1`` quantile boundaries from an array, or from the batches of a
        list, an ``engine.data.Dataset`` or another iterable (at most ``steps`` of them)."""
        from ..data import Dataset

        if self.num_bins is None:
            raise ValueError(
                f"Discretization '{self.name}': cannot adapt a layer made with "
                f"`bin_boundaries`; make it with `num_bins` instead."
            )
        if isinstance(data, Tensor):
            data = data.numpy()
        elif hasattr(data, "__cuda_array_interface__") and hasattr(data, "get"):
            data = data.get()
        batches = [data] if isinstance(data, numpy.ndarray) else data
        if not (isinstance(batches, Dataset) or hasattr(batches, "__iter__")):
            raise TypeError(
                f"Discretization '{self.name}'.adapt: expected an array, a Dataset or an "
                f"iterable of batches; got {type(data).__name__}."
            )
        self.summary = numpy.array([[], []], dtype="float32")
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):  # a Dataset's (x, y) element
                batch = batch[0]
            if isinstance(batch, Tensor):
                batch = batch.numpy()
            values = numpy.asarray(batch).astype("float32")
            self.summary = merge_summaries(
                summarize(values, self.epsilon), self.summary, self.epsilon
            )
        if self.summary.shape[1] == 0:
            raise ValueError(f"Discretization '{self.name}'.adapt: the data has no values.")
        self.bin_boundaries = compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def _depth(self):
        if self.bin_boundaries is not None:
            return len(self.bin_boundaries) + 1
        return self.num_bins

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(
                f"Discretization '{self.name}': pass `bin_boundaries` when making the layer, "
                f"or call `adapt(data)`, before calling it."
            )
        backend = inputs.backend
        xp = backend.xp
        boundaries = backend.asarray(numpy.asarray(self.bin_boundaries, dtype=inputs.dtype))
        ids = xp.searchsorted(boundaries, inputs.data, side="right")
        if self.output_mode == "int":
            return Tensor(ids.astype(xp.int32), backend=backend)
        return Tensor(encode(xp, ids, self.output_mode, self._depth(), self.dtype), backend=backend)

    def compute_output_shape(self, input_shape):
        return _encoded_shape(tuple(input_shape), self.output_mode, self._depth())

    def get_config(self):
        return {
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": False,
            "name": self.name,
            "dtype": self.dtype,
        }

    @classmethod
    def from_config(cls, config_dict: dict) -> "Discretization":
        config_dict = dict(config_dict)
        boundaries = None
        if config_dict.get("num_bins") is not None:  # adapted: both are set, as in Keras
            boundaries = config_dict.pop("bin_boundaries", None)
        layer = cls(**config_dict)
        if boundaries is not None:
            layer.bin_boundaries = layer._boundaries(boundaries)
        return layer
