"""Checking and batching the arrays given to fit, evaluate and predict.

Data stays on the host as NumPy until a batch is taken; each batch is moved to
the model's backend on its own, so a large dataset never has to fit in device
memory.
"""

import itertools
import warnings

import numpy

from .. import symbolic


class StringInputError(TypeError):
    """Text given where numbers are needed (the model says which of its layers takes them)."""

    def __init__(self, message: str, argument: str):
        super().__init__(message)
        self.argument = argument


def to_host_array(data, argument: str, where: str, strings: bool = False) -> numpy.ndarray:
    """``data`` as a numeric NumPy array, or a clear error naming the argument.

    ``strings``: text (str, bytes or object arrays of them) is allowed too, and
    stays on the host for the preprocessing layer that reads it.
    """
    if type(data) is numpy.ndarray and data.dtype.kind in "biuf" and data.ndim:
        return data  # the common case, checked at every train_on_batch: nothing to convert
    if data is None:
        raise ValueError(f"{where}: `{argument}` is required.")
    if hasattr(data, "numpy") and callable(data.numpy):  # our Tensor
        data = data.numpy()
    elif hasattr(data, "get") and hasattr(data, "__cuda_array_interface__"):  # a CuPy array
        data = data.get()
    try:
        array = numpy.asarray(data)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"{where}: `{argument}` could not be read as an array of numbers ({error})."
        ) from None
    text = symbolic.is_string_array(array)
    if text and not strings:
        raise StringInputError(
            f"{where}: `{argument}` must be an array of numbers; got text (an array of dtype "
            f"{array.dtype}, first element {array.reshape(-1)[:1].tolist()}).",
            argument,
        )
    if not text and array.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: `{argument}` must be an array of numbers; got an array of dtype "
            f"{array.dtype} (first element {array.reshape(-1)[:1].tolist()})."
        )
    if array.ndim == 0:
        raise ValueError(f"{where}: `{argument}` must have a batch axis; got a scalar.")
    return array


def check_finite(array: numpy.ndarray, argument: str, where: str) -> None:
    if array.dtype.kind != "f":
        return
    # not a sum of squares through BLAS, though faster (0.5 against 1.0 us on W5's batch):
    # one of large finite values overflows, and NumPy warns of it to the user
    finite = numpy.isfinite(array)
    if not finite.all():
        position = tuple(int(i) for i in numpy.argwhere(~finite)[0])
        value = array[position]
        raise ValueError(
            f"{where}: `{argument}` contains {value} at index {position}. Remove or impute "
            f"NaN and inf values before training."
        )


def check_same_length(arrays: dict, where: str) -> int:
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    first, *others = lengths.values()
    if any(n != first for n in others):
        described = " and ".join(f"`{name}` has {n}" for name, n in lengths.items())
        raise ValueError(f"{where}: all arrays must have the same number of samples; {described}.")
    return first


class ArrayGroup:
    """The arrays of a model's several inputs, batched and indexed together.

    ``group[index]`` indexes every array; ``len(group)`` is the number of samples.
    """

    def __init__(self, arrays: list, names: list[str], structure=None):
        self.arrays, self.names = list(arrays), list(names)
        #: the list, tuple or dict the arrays came in (None: a flat list)
        self.structure = structure

    @classmethod
    def of(cls, structure) -> "ArrayGroup":
        """The arrays of a list, tuple or dict (of arrays), remembering its structure."""
        leaves = symbolic.flatten(structure)
        names = list(structure) if isinstance(structure, dict) else range(len(leaves))
        return cls(leaves, [str(name) for name in names], structure)

    def pack(self, arrays: list):
        """``arrays`` (one per array of the group) in the group's structure."""
        if self.structure is None:
            return list(arrays)
        return symbolic.pack_like(self.structure, arrays)

    def __getitem__(self, index) -> "ArrayGroup":
        arrays = [None if array is None else array[index] for array in self.arrays]
        return ArrayGroup(arrays, self.names, self.structure)

    def __len__(self) -> int:
        return len(next(array for array in self.arrays if array is not None))

    @property
    def shape(self) -> list[tuple]:
        return [None if array is None else tuple(array.shape) for array in self.arrays]

    def map(self, function) -> "ArrayGroup":
        """``function`` of each array; an absent one (the target of an output that has no
        loss) stays None."""
        arrays = [None if array is None else function(array) for array in self.arrays]
        return ArrayGroup(arrays, self.names, self.structure)


def _prepare_x(x, where: str, dtype: str, strings: bool = False):
    if isinstance(x, ArrayGroup):
        group = x.map(lambda array: _prepare_x(array, where, dtype, strings))
        check_same_length(dict(zip((f"x[{n!r}]" for n in x.names), group.arrays)), where)
        return group
    x = to_host_array(x, "x", where, strings)
    if len(x) == 0:
        raise ValueError(f"{where}: `x` has no samples (shape {x.shape}); give at least one.")
    check_finite(x, "x", where)
    if x.dtype.kind == "f" and x.dtype != dtype:
        x = x.astype(dtype)
    return x


def _prepare_y(y, where: str, dtype: str):
    if isinstance(y, ArrayGroup):
        group = y.map(lambda array: _prepare_y(array, where, dtype))
        check_same_length(dict(zip((f"y[{n!r}]" for n in y.names), group.arrays)), where)
        return group
    y = to_host_array(y, "y", where)
    check_finite(y, "y", where)
    if y.dtype.kind == "f" and y.dtype != dtype:
        y = y.astype(dtype)
    return y


def _prepare_weights(weights, where: str, dtype: str):
    if isinstance(weights, ArrayGroup):
        return weights.map(lambda array: _prepare_weights(array, where, dtype))
    weights = to_host_array(weights, "sample_weight", where).astype(dtype)
    check_finite(weights, "sample_weight", where)
    return weights


def _ready(array, dtype: str) -> bool:
    """Whether ``array`` needs no conversion: a non-empty NumPy array of numbers with a
    batch axis, of ``dtype`` if of floats."""
    if type(array) is not numpy.ndarray or not array.ndim or not len(array):
        return False
    kind = array.dtype.kind
    return kind in "biu" or (kind == "f" and array.dtype == dtype)


def prepare(x, y, sample_weight, where: str, dtype: str, need_y: bool = True, strings=False):
    """Validate and convert inputs; floats become the model's dtype once, up front.

    ``x`` is one array, or an ``ArrayGroup`` for a model with several inputs;
    ``y`` and ``sample_weight`` are cast to ``dtype``, the model's float dtype.
    ``strings``: ``x`` may hold text (the model's first layer reads it).
    """
    if sample_weight is None and _ready(x, dtype) and _ready(y, dtype) and len(x) == len(y):
        # the common case, at every train_on_batch: arrays to check, nothing to convert
        check_finite(x, "x", where)
        check_finite(y, "y", where)
        return x, y, None
    x = _prepare_x(x, where, dtype, strings)
    if y is None:
        if need_y:
            raise ValueError(f"{where}: `y` (the targets) is required.")
    else:
        y = _prepare_y(y, where, dtype)
    if sample_weight is not None:
        sample_weight = _prepare_weights(sample_weight, where, dtype)
    check_same_length({"x": x, "y": y, "sample_weight": sample_weight}, where)
    return x, y, sample_weight


def check_one_weighting(sample_weight, class_weight, where: str) -> None:
    """Keras 3 refuses ``class_weight`` together with sample weights: they would multiply."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError(
            f"{where}: give `class_weight` or `sample_weight` (or per-batch sample weights), "
            f"not both; fold the class weights into sample_weight instead."
        )


def class_weights_to_sample_weights(y: numpy.ndarray, class_weight: dict, dtype) -> numpy.ndarray:
    """Per-sample weights from ``{class_index: weight}`` (labels sparse or one-hot)."""
    check_class_weight(class_weight)
    if isinstance(y, ArrayGroup):
        raise ValueError(
            "fit: `class_weight` is not supported for a model with several outputs (as in "
            "Keras 3); give `sample_weight` per output instead, e.g. {'output_name': weights}."
        )
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = labels.astype(numpy.int64)
    weights = {int(label): float(weight) for label, weight in class_weight.items()}
    present = numpy.unique(labels).tolist()
    missing = sorted(set(present) - set(weights))
    if missing:
        raise ValueError(f"fit: `class_weight` has no weight for classes {missing}.")
    table = numpy.zeros(max(present) + 1 if present else 1, dtype=dtype)
    for label in present:
        table[label] = weights[label]
    return table[labels]


def check_class_weight(class_weight) -> None:
    """``{class_index: weight}`` with integer keys and finite, non-negative number weights."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"fit: `class_weight` must be a dict {{class_index: weight}}, got "
            f"{type(class_weight).__name__}."
        )
    for label, weight in class_weight.items():
        if isinstance(label, bool) or not isinstance(label, (int, numpy.integer)) or label < 0:
            raise ValueError(
                f"fit: `class_weight` keys must be class indices (non-negative integers), got "
                f"{label!r}."
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float, numpy.number)):
            raise TypeError(
                f"fit: `class_weight[{label}]` must be a number, got {type(weight).__name__} "
                f"{weight!r}."
            )
        if not numpy.isfinite(weight) or weight < 0:
            raise ValueError(
                f"fit: `class_weight[{label}]` must be a finite, non-negative number, got "
                f"{weight!r}."
            )


def split_validation(arrays: list, fraction: float):
    """Keras's ``validation_split``: the last ``fraction`` of the samples, before shuffling."""
    if not 0 < fraction < 1:
        raise ValueError(f"fit: `validation_split` must be in (0, 1), got {fraction}.")
    n = len(arrays[0])
    split_at = int(n * (1 - fraction))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"fit: validation_split={fraction} leaves no samples for training or validation "
            f"out of {n}."
        )
    train = [a[:split_at] if a is not None else None for a in arrays]
    validation = [a[split_at:] if a is not None else None for a in arrays]
    return train, validation


def batch_indices(n: int, batch_size: int, shuffle: bool, rng):
    """Slices (in order) or index arrays (shuffled) covering ``range(n)`` in batches."""
    if shuffle:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]
    else:
        for start in range(0, n, batch_size):
            yield slice(start, start + batch_size)


def check_batch_size(batch_size, where: str) -> int:
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, numpy.integer)) or batch_size <= 0:
        raise ValueError(f"{where}: `batch_size` must be a positive integer, got {batch_size!r}.")
    return int(batch_size)


def check_verbose(verbose, where: str) -> int:
    """Keras's ``verbose``: "auto" (1), 0 (silent), 1 (progress bar) or 2 (one line per epoch)."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, (int, numpy.integer)) and 0 <= verbose <= 2:
        return int(verbose)
    raise ValueError(f"{where}: `verbose` must be 'auto', 0, 1 or 2, got {verbose!r}.")


def is_batch_source(data) -> bool:
    """A Dataset or an iterator of batches (rather than arrays of samples)."""
    if type(data) is numpy.ndarray:
        return False  # the common case, asked several times per fit
    from ..data import Dataset

    return isinstance(data, Dataset) or (hasattr(data, "__next__") and hasattr(data, "__iter__"))


def iterate_source(source, backend, steps, where: str):
    """One epoch of batches from a Dataset (a fresh pass) or a generator (where it left off)."""
    from ..data import Dataset

    iterator = source.iterate(backend) if isinstance(source, Dataset) else source
    if steps is not None:
        if not isinstance(steps, (int, numpy.integer)) or steps <= 0:
            raise ValueError(f"{where}: `steps` must be a positive integer, got {steps!r}.")
        iterator = itertools.islice(iterator, int(steps))
    return iterator


def unpack_batch(
    batch,
    where: str,
    dtype: str,
    need_y: bool = True,
    group_inputs=None,
    group_targets=None,
    strings: bool = False,
):
    """``(x, y, sample_weight)`` from a batch given as ``(x, y)`` or ``(x, y, sample_weight)``."""
    if isinstance(batch, (tuple, list)) and len(batch) in (1, 2, 3):
        x, y, weights = (*batch, None, None)[:3]
    elif not need_y:
        x, y, weights = batch, None, None
    else:
        raise ValueError(
            f"{where}: each batch must be a tuple (x, y) or (x, y, sample_weight); got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            + "."
        )
    if not need_y:
        y, weights = None, None
    if group_inputs is not None:
        x = group_inputs(x, where)
    if group_targets is not None and y is not None:
        y = group_targets(y, where)
    first_x = x.arrays[0] if isinstance(x, ArrayGroup) else x
    first_y = y.arrays[0] if isinstance(y, ArrayGroup) else y
    for name, array in (("x", first_x), ("y", first_y)):
        if array is not None and getattr(array, "ndim", numpy.ndim(array)) == 0:
            raise ValueError(
                f"{where}: a batch's `{name}` is a single value, so the data is not batched. "
                f"Call .batch(n) on the Dataset (Dataset.from_tensor_slices((x, y)).batch(32)), "
                f"or make the generator yield batches."
            )
    if isinstance(x, (numpy.ndarray, ArrayGroup)) or not hasattr(x, "__cuda_array_interface__"):
        return prepare(x, y, weights, where, dtype, need_y=need_y, strings=strings)
    return x, y, weights  # already on a device (a prefetched batch): checked when made


def capped_steps(steps):
    """The batches an epoch may take under ``config.max_steps_per_epoch`` (a debugging cap,
    as Keras's ``set_max_steps_per_epoch``), with Keras's warning; None without a cut."""
    from .. import config

    most = config.max_steps_per_epoch()
    if not most or (steps and steps <= most):
        return None
    warnings.warn(f"Limiting steps_per_epoch to {most}", stacklevel=3)
    return most


def first_batches(epoch_batches, count: int):
    """``epoch -> batches`` cut to the first ``count`` batches of each epoch."""

    def batches(epoch):
        return itertools.islice(epoch_batches(epoch), count)

    return batches
