"""``timeseries_dataset_from_array``: sliding windows over a series, batched, as Keras 3."""

import numpy

from ..data import Dataset


def _check_positive(name: str, value, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(
            f"timeseries_dataset_from_array: `{name}` must be a positive integer; got {value!r}."
        )
    if name != "sequence_length" and value >= limit:
        raise ValueError(
            f"timeseries_dataset_from_array: `{name}` must be lower than the length of the "
            f"data. Received: {name}={value}, for data of length {limit}."
        )


def _check_bounds(start_index, end_index, length: int) -> None:
    for name, value in (("start_index", start_index), ("end_index", end_index)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, numpy.integer))
        ):
            raise ValueError(
                f"timeseries_dataset_from_array: `{name}` must be an integer or None; got "
                f"{value!r}."
            )
    if start_index:
        if start_index < 0:
            raise ValueError(
                f"timeseries_dataset_from_array: `start_index` must be 0 or greater. "
                f"Received: start_index={start_index}"
            )
        if start_index >= length:
            raise ValueError(
                f"timeseries_dataset_from_array: `start_index` must be lower than the length "
                f"of the data. Received: start_index={start_index}, for data of length {length}."
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"timeseries_dataset_from_array: `end_index` must be higher than "
                f"`start_index`. Received: start_index={start_index}, and "
                f"end_index={end_index}"
            )
        if end_index >= length:
            raise ValueError(
                f"timeseries_dataset_from_array: `end_index` must be lower than the length of "
                f"the data. Received: end_index={end_index}, for data of length {length}."
            )
        if end_index <= 0:
            raise ValueError(
                f"timeseries_dataset_from_array: `end_index` must be higher than 0. "
                f"Received: end_index={end_index}"
            )


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed=None,
    start_index=None,
    end_index=None,
) -> Dataset:
    """Windows ``data[i], data[i + r], ..., data[i + (sequence_length - 1) * r]`` (``r`` the
    ``sampling_rate``) starting every ``sequence_stride`` steps, in batches of
    ``batch_size`` (single windows with None), as an ``engine.data.Dataset``.

    With ``targets``, each window comes with ``targets[i]``, the target of its first
    step (pass ``targets=data[n:]`` to predict ``n`` steps ahead), and the number of
    windows is capped by ``len(targets)``. ``start_index``/``end_index`` keep
    ``data[start_index:end_index]`` only (the targets are sliced alike), e.g. to hold
    out the end of a series for validation.

    ``shuffle`` orders the windows by a permutation from ``numpy.random.RandomState(seed)``
    (Keras's first shuffle, the same order for the same seed), and draws a new order each
    pass over the dataset; Keras also shuffles within a tf.data buffer, which is
    TensorFlow's generator and not reproduced. Windows are gathered batch by batch, so the
    data is never copied ``sequence_length`` times.
    """
    length = len(data)
    _check_bounds(start_index, end_index, length)
    _check_positive("sequence_length", sequence_length, length)
    _check_positive("sampling_rate", sampling_rate, length)
    _check_positive("sequence_stride", sequence_stride, length)
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
    ):
        raise ValueError(
            f"timeseries_dataset_from_array: `batch_size` must be a positive integer or None; "
            f"got {batch_size!r}."
        )
    start = start_index or 0
    stop = end_index or length
    steps = numpy.asarray(data[start:stop])
    labels = None if targets is None else numpy.asarray(targets[start:stop])
    count = stop - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    positions = numpy.arange(0, max(count, 0), sequence_stride)
    offsets = numpy.arange(sequence_length) * sampling_rate
    if shuffle:
        if seed is None:
            seed = int(numpy.random.randint(1e6))  # noqa: NPY002 (Keras's draw)
        rng = numpy.random.RandomState(seed)  # noqa: NPY002 (Keras's order for a seed)
        first = positions.copy()
        rng.shuffle(first)
        passes = [0]

    def order():
        if not shuffle:
            return positions
        passes[0] += 1
        if passes[0] == 1:
            return first
        return rng.permutation(positions)

    def windows(batch):
        inputs = steps[batch[:, None] + offsets]
        return inputs if labels is None else (inputs, labels[batch])

    def make(backend):
        chosen = order()
        if batch_size is None:
            for position in chosen:
                window = steps[position + offsets]
                yield window if labels is None else (window, labels[position])
            return
        for begin in range(0, len(chosen), batch_size):
            yield windows(chosen[begin : begin + batch_size])

    return Dataset(make)
