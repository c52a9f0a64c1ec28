"""``PyDataset`` (batches by index, loaded on worker threads) and ``split_dataset``, as
Keras 3's ``keras.utils``."""

import collections
import concurrent.futures
import itertools
import random
import warnings

import numpy

from .. import symbolic
from ..data import Dataset


class PyDataset(Dataset):
    """Batches by index: subclass it, define ``__len__`` (the number of batches) and
    ``__getitem__(index)`` returning ``(x, y)``, ``(x, y, sample_weight)`` or ``x``, and
    pass it to ``fit``, ``evaluate`` or ``predict``.

    ``workers > 1`` loads up to ``max_queue_size`` batches ahead on that many threads
    (NumPy and file reads release the GIL), in order. Processes are not supported:
    ``use_multiprocessing=True`` is refused. ``on_epoch_begin``/``on_epoch_end`` run
    around each pass (shuffle the order in ``on_epoch_end``).
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size=10):
        for argument, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"PyDataset: `{argument}` must be a positive integer, got {value!r}."
                )
        if use_multiprocessing:
            raise ValueError(
                "PyDataset: use_multiprocessing=True is not supported; batches load on threads. "
                "Use workers=N (N threads) with use_multiprocessing=False."
            )
        self._workers = workers
        self._use_multiprocessing = False
        self._max_queue_size = max_queue_size

    def _setting(self, name: str, default):
        if name not in self.__dict__:  # a subclass that did not call super().__init__()
            warnings.warn(
                f"{type(self).__name__} should call super().__init__(**kwargs) in its "
                f"__init__ (for workers, use_multiprocessing, max_queue_size); using the "
                f"defaults.",
                UserWarning,
                stacklevel=3,
            )
            self.__dict__.update(_workers=1, _use_multiprocessing=False, _max_queue_size=10)
        return self.__dict__.get(name, default)

    @property
    def workers(self) -> int:
        return self._setting("_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        return self._setting("_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        return self._setting("_max_queue_size", 10)

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index).")

    @property
    def num_batches(self) -> int | None:
        """The number of batches per epoch (``len(self)``); None for an endless dataset."""
        return len(self) if hasattr(self, "__len__") else None

    def on_epoch_begin(self) -> None:
        """Called before each pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after each complete pass over the batches."""

    def _make_iterator(self, backend):
        """One pass, in index order; loaded ahead on threads when ``workers > 1``."""
        self.on_epoch_begin()
        count = self.num_batches
        indices = itertools.count() if count is None else range(count)
        if self.workers <= 1:
            for index in indices:
                yield self[index]
        else:
            yield from self._threaded(indices)
        self.on_epoch_end()

    def _threaded(self, indices):
        executor = concurrent.futures.ThreadPoolExecutor(
            self.workers, thread_name_prefix="engine-pydataset"
        )
        pending: collections.deque = collections.deque()
        try:
            for index in indices:
                pending.append(executor.submit(self.__getitem__, index))
                if len(pending) >= self.max_queue_size:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)


# -- split_dataset ---------------------------------------------------------------


def _split_sizes(left_size, right_size, total: int) -> tuple[int, int]:
    """Keras's rules: a float is a fraction in (0, 1), an int a count in (0, total); None
    is the rest."""
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: give `left_size` or `right_size` (or both); got neither.")
    sizes = {}
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, (int, float)):
            raise TypeError(
                f"split_dataset: `{name}` must be an int, a float or None, got "
                f"{type(size).__name__} {size!r}."
            )
        if isinstance(size, float):
            if not 0 < size < 1:
                raise ValueError(
                    f"split_dataset: a float `{name}` is a fraction in (0, 1), got {size}."
                )
            sizes[name] = round(size * total)
        else:
            if not 0 < size < total:
                raise ValueError(
                    f"split_dataset: an int `{name}` is a number of samples in (0, {total}) "
                    f"for a dataset of {total} samples, got {size}."
                )
            sizes[name] = size
    if (
        isinstance(left_size, float)
        and isinstance(right_size, float)
        and left_size + right_size > 1
    ):
        raise ValueError(
            f"split_dataset: `left_size` + `right_size` is {left_size + right_size}, over 1."
        )
    left = sizes.get("left_size", total - sizes.get("right_size", 0))
    right = sizes.get("right_size", total - left)
    if left + right > total:
        raise ValueError(
            f"split_dataset: `left_size` + `right_size` ({left} + {right} samples) is more than "
            f"the {total} samples of the dataset."
        )
    for side, size in (("left", left), ("right", right)):
        if size == 0:
            raise ValueError(
                f"split_dataset: with {total} samples, left_size={left_size} and "
                f"right_size={right_size} leave the {side} split empty."
            )
    return left, right


def _as_samples(dataset):
    """``(arrays, structure)``: the leaves of ``dataset`` (an array, a tuple or list of
    arrays, or a Dataset of samples) as NumPy arrays of samples, and how they nest."""
    if isinstance(dataset, Dataset):
        elements = list(dataset)
        if not elements:
            raise ValueError("split_dataset: the Dataset has no elements.")
        structure = elements[0]
        leaves = [symbolic.flatten(element) for element in elements]
        arrays = [
            numpy.stack([numpy.asarray(row[i]) for row in leaves]) for i in range(len(leaves[0]))
        ]
        return arrays, structure
    if isinstance(dataset, (tuple, list)):
        arrays = [numpy.asarray(item) for item in dataset]
        structure = tuple(dataset)
    elif isinstance(dataset, numpy.ndarray) or hasattr(dataset, "__array__"):
        arrays, structure = [numpy.asarray(dataset)], None
    else:
        raise TypeError(
            f"split_dataset: `dataset` must be an array, a tuple or list of arrays of the same "
            f"length, or an engine.data.Dataset; got {type(dataset).__name__}."
        )
    if any(a.ndim == 0 for a in arrays):
        raise ValueError("split_dataset: every array needs a first (sample) axis.")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"split_dataset: the arrays of `dataset` must have the same length, got {lengths}."
        )
    return arrays, structure


def split_dataset(dataset, left_size=None, right_size=None, shuffle: bool = False, seed=None):
    """Split samples into two ``engine.data.Dataset``s (unbatched: call ``.batch(n)``).

    ``dataset`` is an array, a tuple or list of arrays (``(x, y)``), or a Dataset of
    samples. The left split takes the first ``left_size`` samples, the right the last
    ``right_size``, after a shuffle by Python's ``random`` with ``seed`` if ``shuffle``
    (Keras's order for the same seed).
    """
    arrays, structure = _as_samples(dataset)
    total = len(arrays[0])
    left, right = _split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    order = numpy.asarray(order)

    def part(index):
        leaves = [array[index] for array in arrays]
        if structure is None:
            return Dataset.from_tensor_slices(leaves[0])
        return Dataset.from_tensor_slices(symbolic.pack_like(structure, leaves))

    return part(order[:left]), part(order[total - right :])
