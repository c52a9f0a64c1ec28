"""The host side of training and inference: checking, grouping and batching the data.

``BatchData`` is mixed into ``Model`` (through ``Trainer``): it turns what users give
``fit``, ``evaluate`` and ``predict`` (arrays, lists or dicts of them, text, Datasets,
generators) into host batches, names the layer that refuses text, builds the model
from the data's shape, and moves each batch to the model's backend. The loops that
consume the batches are in ``trainer.py`` (fit) and ``inference.py``.
"""

import itertools

import numpy

from .. import config, symbolic
from ..layers.core import InputLayer
from ..tensor import no_grad
from . import data as data_utils


class BatchData:
    """Mixed into ``Model`` (through ``Trainer``): data in, host batches out."""

    def _to_backend(self, array):
        if type(array) is numpy.ndarray and array.dtype.kind in "biuf":
            return self.backend.asarray(array)  # the common case, at every batch
        if array is None:
            return None
        if isinstance(array, data_utils.ArrayGroup):
            return array.pack([self._to_backend(a) for a in array.arrays])
        if symbolic.is_string_array(array):
            return array  # text stays on the host for the preprocessing layer that reads it
        return self.backend.asarray(array)

    @property
    def takes_strings(self) -> bool:
        """Whether ``x`` may be text: a layer reading the inputs takes strings (an
        ``Input(dtype="string")``, a ``TextVectorization`` or ``StringLookup`` first)."""
        return any(getattr(layer, "accepts_strings", False) for layer in self._entry_layers())

    def _entry_layers(self) -> list:
        """The layers reading the model's inputs: its InputLayers, else its first layer."""
        layers = self.layers
        return [layer for layer in layers if isinstance(layer, InputLayer)] or layers[:1]

    def _naming_text_refusal(self, where: str) -> "_TextRefusal":
        """Text given to a model that takes numbers: say which layer takes them."""
        return _TextRefusal(self)

    def _text_refusal(self, error) -> TypeError:
        first = self._entry_layers()[:1]
        reader = "".join(f" its first layer '{x.name}' ({type(x).__name__})," for x in first)
        return TypeError(
            f"{error} Model '{self.name}' reads it with{reader} a layer "
            f"taking numbers: start the model with a TextVectorization or StringLookup layer "
            f"(after layers.Input(shape=(), dtype='string')), or turn the text into numbers "
            f"first."
        )

    def _text_rank(self, x):
        """As Keras 3: a 1-D array of text feeds an input of shape ``(None, 1)``, and a
        ``(n, 1)`` one an input of shape ``(None,)``."""
        if type(x) is numpy.ndarray and x.dtype.kind in "biuf":
            return x  # numbers, at every train_on_batch: nothing to reshape
        expected = self._build_input_shape if self.built else None
        if not symbolic.is_string_array(x) or not symbolic.is_shape(expected):
            return x
        if x.ndim == len(expected) - 1 and expected[-1] == 1:
            return x[..., None]
        if x.ndim == len(expected) + 1 and x.shape[-1] == 1:
            return x[..., 0]
        return x

    def group_inputs(self, x, where: str):
        """``x`` as the model reads it: one array, or (a list, tuple or dict of arrays, which
        a subclassed model may take) an ``ArrayGroup`` that keeps their structure."""
        if isinstance(x, data_utils.ArrayGroup) or not isinstance(x, (list, tuple, dict)):
            return x
        if not any(hasattr(leaf, "shape") for leaf in symbolic.flatten(x)):
            return x  # nested lists of numbers: one array
        return data_utils.ArrayGroup.of(x)

    def group_targets(self, y, where: str):
        """``y`` as the loss reads it: one array here; models with several outputs group them."""
        return y

    def _prepare(self, x, y, sample_weight, where: str, need_y: bool = True):
        """Check and convert host data; ``y`` may be left out for a custom step or when the
        model was compiled without a loss (``add_loss`` only)."""
        training = where in ("fit", "train_on_batch")
        if need_y and (self.loss is None or self._custom_step(training)):
            need_y = False
        x = self.group_inputs(x, where)
        if y is not None:
            y = self.group_targets(y, where)
        if isinstance(sample_weight, (list, tuple, dict)):  # one array per output
            sample_weight = self.group_targets(sample_weight, f"{where} (sample_weight)")
        if type(x) is numpy.ndarray and x.dtype.kind in "biuf":  # numbers: no text to name
            return data_utils.prepare(x, y, sample_weight, where, self.dtype, need_y=need_y)
        with self._naming_text_refusal(where):
            x, y, sample_weight = data_utils.prepare(
                x, y, sample_weight, where, self.dtype, need_y=need_y, strings=self.takes_strings
            )
        return self._text_rank(x), y, sample_weight

    def _unpack_batch(self, batch, where: str, need_y: bool = True):
        with self._naming_text_refusal(where):
            x, y, weights = data_utils.unpack_batch(
                batch,
                where,
                self.dtype,
                need_y=need_y,
                group_inputs=self.group_inputs,
                group_targets=self.group_targets,
                strings=self.takes_strings,
            )
        return self._text_rank(x), y, weights

    def _ensure_built(self, x) -> None:
        """Build for host data ``x``: from its shape; a subclassed model is also called
        once on one sample, which creates the weights of the layers its ``call`` uses."""
        if self.built:
            if self.backend is None:  # a model that set ``self.built = True`` itself
                weights = self.weights
                self.backend = weights[0].backend if weights else config.get_backend()
            return
        if isinstance(x, data_utils.ArrayGroup):
            self._build_input_dtype = [str(array.dtype) for array in x.arrays]
        else:
            self._build_input_dtype = str(x.dtype)
        self.build_from_shape(symbolic.map_shapes(lambda s: (None, *s[1:]), x.shape))
        if not self.builds_from_shape:
            with no_grad():
                self(self._to_backend(x[:1]), training=False)

    def _array_batches(self, x, y, sample_weight, batch_size: int, shuffle: bool):
        """``epoch -> (x, y, sample_weight) host batches``, shuffled by ``(seed, epoch)``."""

        # when one batch holds every sample, shuffling would only reorder it, which changes
        # nothing but rounding; making the generator costs more than a small model's step
        shuffle = shuffle and len(x) > batch_size

        def epoch_batches(epoch: int):
            generator = numpy.random.default_rng([self.shuffle_seed, epoch]) if shuffle else None
            for index in data_utils.batch_indices(len(x), batch_size, shuffle, generator):
                if self._distribution is not None:  # this rank's part of the global batch
                    index = self._distribution.shard_index(index, len(x))
                    if index is None:
                        continue
                yield (
                    x[index],
                    y[index] if y is not None else None,
                    sample_weight[index] if sample_weight is not None else None,
                )

        return epoch_batches

    def _source_batches(self, source, steps, class_weight, where: str = "fit"):
        """``(epoch -> iterator of batches, shape of the first x)`` for a Dataset or generator."""
        from ..data import Dataset

        backend = self.backend or config.get_backend()
        first = next(iter(data_utils.iterate_source(source, backend, 1, where)), None)
        if first is None:
            raise ValueError(f"{where}: the Dataset or generator given as `x` yielded no batches.")
        x_sample = self._unpack_batch(first, where)[0]
        if not isinstance(source, Dataset):  # the peeked batch is the first one trained on
            source = itertools.chain([first], source)

        def epoch_batches(epoch: int):
            for batch in data_utils.iterate_source(source, self.backend, steps, where):
                x, y, weights = self._unpack_batch(batch, where)
                if class_weight is not None:
                    data_utils.check_one_weighting(weights, class_weight, where)
                    y_host = self.backend.to_numpy(y)
                    weights = data_utils.class_weights_to_sample_weights(
                        y_host, class_weight, self.dtype
                    )
                yield x, y, weights

        return epoch_batches, x_sample

    def _prepare_validation(self, validation_data):
        if data_utils.is_batch_source(validation_data):
            return validation_data
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "fit: `validation_data` must be a tuple (x_val, y_val) or "
                "(x_val, y_val, val_sample_weight), a Dataset or a generator."
            )
        x_val, y_val, *rest = validation_data
        weights = rest[0] if rest else None
        where = "fit (validation_data)"
        x_val, y_val, weights = self._prepare(x_val, y_val, weights, where)
        self._check_input_shape(x_val.shape, where)
        return x_val, y_val, weights

    def _test_batches(self, data, batch_size, steps, where: str):
        """``(x, y, sample_weight)`` backend batches of arrays or of a Dataset/generator."""
        if data_utils.is_batch_source(data):
            batches = data_utils.iterate_source(data, self.backend, steps, where)
            if self._distribution is not None:
                batches = self._distribution.shard_source(batches)
            for batch in batches:
                x, y, weights = self._unpack_batch(batch, where)
                self._check_input(x, where)
                yield self._to_backend(x), self._to_backend(y), self._to_backend(weights)
            return
        x, y, sample_weight = data
        if self._distribution is not None:  # this rank's share; the logs sum every rank's
            x, y, sample_weight = self._distribution.shard_arrays(x, y, sample_weight)
        for index in data_utils.batch_indices(len(x), batch_size or 32, False, None):
            yield (
                self._to_backend(x[index]),
                self._to_backend(y[index]) if y is not None else None,
                self._to_backend(sample_weight[index]) if sample_weight is not None else None,
            )

    def _predict_batches(self, x, batch_size, steps):
        """Backend input batches of host arrays ``x`` or of a Dataset/generator."""
        if not data_utils.is_batch_source(x):
            for index in data_utils.batch_indices(len(x), batch_size, False, None):
                yield self._to_backend(x[index])
            return
        for batch in data_utils.iterate_source(x, self.backend, steps, "predict"):
            xb, _, _ = self._unpack_batch(batch, "predict", need_y=False)
            self._check_input(xb, "predict")
            yield self._to_backend(xb)


class _TextRefusal:
    """``Trainer._naming_text_refusal``'s context: a class, as it runs at every
    ``train_on_batch`` (a generator-based context manager costs several times more)."""

    __slots__ = ("model",)

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None and issubclass(kind, data_utils.StringInputError):
            if error.argument == "x":
                raise self.model._text_refusal(error) from None
        return False


def unpack_x_y_sample_weight(data):
    """Keras's ``keras.utils.unpack_x_y_sample_weight``: ``(x, y, sample_weight)`` of a batch."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        f"A batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(data)}."
    )


def pack_data(x, y, sample_weight):
    """A batch as Keras hands it to ``train_step``: ``x``, ``(x, y)`` or ``(x, y, weights)``."""
    if y is None and sample_weight is None:
        return x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def count_samples(value) -> int:
    """The number of samples of a batch (of its first array, for several)."""
    return len(value[0]) if isinstance(value, (list, tuple)) else len(value)
