"""``engine.data.Dataset``: a lazy pipeline of batches for data that does not fit in memory.

A small subset of ``tf.data``: ``from_tensor_slices``, ``from_generator``,
``shuffle``, ``batch``, ``map``, ``prefetch``. Each pass over a dataset
(``iter(dataset)``, or one epoch of ``fit``) runs the pipeline afresh, so a
shuffled dataset is reshuffled every epoch. Elements are tuples of NumPy
arrays (or a single array) until ``prefetch`` moves them to a backend.

``prefetch(n)`` prepares up to ``n`` upcoming elements on a background thread
and moves their arrays onto a backend: the model's when ``fit``, ``evaluate``
or ``predict`` iterates the dataset, the current backend otherwise. The
thread overlaps reading and ``map`` work (NumPy, file I/O release the GIL) with
training.
"""

import queue
import threading

import numpy

from . import config, symbolic
from . import random as random_module


def _map_arrays(element, fn):
    if isinstance(element, tuple):
        return tuple(_map_arrays(e, fn) for e in element)
    if isinstance(element, dict):
        return {key: _map_arrays(value, fn) for key, value in element.items()}
    return fn(element)


def _as_nested_tuples(structure):
    """Lists become tuples (as tf.data reads them), dicts stay dicts; leaves are arrays."""
    if isinstance(structure, (tuple, list)):
        return tuple(_as_nested_tuples(item) for item in structure)
    if isinstance(structure, dict):
        return {key: _as_nested_tuples(value) for key, value in structure.items()}
    return numpy.asarray(structure)


class Dataset:
    """Build with ``Dataset.from_tensor_slices((x, y))``, then chain the methods."""

    def __init__(self, make_iterator):
        # make_iterator(backend) -> iterator over elements; backend is for prefetch
        self._make_iterator = make_iterator

    def __iter__(self):
        return self.iterate()

    def iterate(self, backend=None):
        """One pass over the elements; ``prefetch`` stages move arrays to ``backend``."""
        return self._make_iterator(backend)

    # -- sources -----------------------------------------------------------

    @classmethod
    def from_tensor_slices(cls, tensors) -> "Dataset":
        """Elements are the rows of ``tensors``: an array, or a tuple (or list, or dict) of
        equal-length arrays, nested as a model with several inputs reads them, e.g.
        ``((images, features), labels)``."""
        structure = _as_nested_tuples(tensors)
        arrays = symbolic.flatten(structure)
        if not arrays or any(a.ndim == 0 for a in arrays):
            raise ValueError("Dataset.from_tensor_slices: every array needs a first (sample) axis.")
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            raise ValueError(
                f"Dataset.from_tensor_slices: the arrays have different lengths "
                f"{[len(a) for a in arrays]}."
            )
        count = lengths.pop()

        def make(backend):
            for i in range(count):
                yield symbolic.pack_like(structure, [a[i] for a in arrays])

        dataset = cls(make)
        dataset._slices = (arrays, structure)  # lets batch() slice instead of stacking rows
        return dataset

    @classmethod
    def from_generator(cls, generator_fn) -> "Dataset":
        """Elements from ``generator_fn()``, called once per pass."""
        if not callable(generator_fn):
            raise TypeError("Dataset.from_generator: expected a function returning an iterator.")
        return cls(lambda backend: iter(generator_fn()))

    # -- transformations ----------------------------------------------------

    def map(self, fn) -> "Dataset":
        """Apply ``fn`` to each element (tuple elements are passed as separate arguments)."""
        source = self._make_iterator

        def make(backend):
            for element in source(backend):
                yield fn(*element) if isinstance(element, tuple) else fn(element)

        return Dataset(make)

    def shuffle(self, buffer_size: int, seed=None, reshuffle_each_iteration: bool = True):
        """Sample uniformly from a buffer of ``buffer_size`` elements (as tf.data does)."""
        if not isinstance(buffer_size, int) or buffer_size <= 0:
            raise ValueError(f"Dataset.shuffle: `buffer_size` must be > 0, got {buffer_size!r}.")
        source = self._make_iterator
        if seed is None:
            seed = int(random_module.generator().integers(2**63))
        passes = [0]

        def make(backend):
            rng = numpy.random.default_rng([seed, passes[0] if reshuffle_each_iteration else 0])
            passes[0] += 1
            buffer = []
            for element in source(backend):
                if len(buffer) < buffer_size:
                    buffer.append(element)
                    continue
                i = int(rng.integers(buffer_size))
                yield buffer[i]
                buffer[i] = element
            order = rng.permutation(len(buffer))
            for i in order:
                yield buffer[i]

        return Dataset(make)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> "Dataset":
        """Stack ``batch_size`` consecutive elements into one (the last may be smaller)."""
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"Dataset.batch: `batch_size` must be > 0, got {batch_size!r}.")
        slices = getattr(self, "_slices", None)
        if slices is not None:  # straight from arrays: slice, don't stack rows
            arrays, structure = slices
            count = len(arrays[0])
            stop = count - count % batch_size if drop_remainder else count

            def make_sliced(backend):
                for start in range(0, stop, batch_size):
                    parts = [a[start : start + batch_size] for a in arrays]
                    yield symbolic.pack_like(structure, parts)

            return Dataset(make_sliced)
        source = self._make_iterator

        def stack(elements):
            first = elements[0]
            if isinstance(first, tuple):
                return tuple(stack([e[i] for e in elements]) for i in range(len(first)))
            if isinstance(first, dict):
                return {key: stack([e[key] for e in elements]) for key in first}
            return numpy.stack([numpy.asarray(e) for e in elements])

        def make(backend):
            pending = []
            for element in source(backend):
                pending.append(element)
                if len(pending) == batch_size:
                    yield stack(pending)
                    pending = []
            if pending and not drop_remainder:
                yield stack(pending)

        return Dataset(make)

    def prefetch(self, buffer_size: int = 1) -> "Dataset":
        """Prepare up to ``buffer_size`` elements ahead on a thread, already on the backend."""
        if not isinstance(buffer_size, int) or buffer_size < 0:
            buffer_size = 1  # tf.data.AUTOTUNE is -1
        buffer_size = max(buffer_size, 1)
        source = self._make_iterator

        def make(backend):
            target = backend or config.get_backend()
            items: queue.Queue = queue.Queue(maxsize=buffer_size)
            done = object()
            stop = threading.Event()

            def produce():
                try:
                    for element in source(backend):
                        item = (_map_arrays(element, target.asarray), None)
                        while not stop.is_set():
                            try:
                                items.put(item, timeout=0.1)
                                break
                            except queue.Full:
                                continue
                        if stop.is_set():
                            return
                    items.put((done, None))
                except BaseException as error:  # re-raised in the consuming thread
                    items.put((done, error))

            thread = threading.Thread(target=produce, daemon=True, name="engine-prefetch")
            thread.start()
            try:
                while True:
                    element, error = items.get()
                    if element is done:
                        if error is not None:
                            raise error
                        return
                    yield element
            finally:
                stop.set()

        return Dataset(make)
