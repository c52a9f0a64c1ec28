"""What ranks agree on: the setup check, the broadcast of weights, and global metric sums.

Each function is a collective: every rank calls it at the same point with the
same structure of arguments.
"""

import contextlib
import sys

import numpy

from ..metrics import Metric
from .buckets import Buckets

#: per weight: its rank and up to this many dimensions (padded with -1)
_MAX_DIMS = 8


def check_same_setup(communicator, weights: list, counts: dict) -> None:
    """Raise the same clear error on every rank when the ranks' weights (by shape) or the
    ``counts`` (samples, steps: -1 when unknown) differ, before any collective could pair a
    rank's message with another of a different size and hang."""
    names = list(counts)
    header = numpy.array([len(weights)] + [int(counts[name]) for name in names], numpy.int64)
    bounds = numpy.concatenate([header, -header])
    communicator.allreduce([bounds], "max")
    highest, lowest = bounds[: len(header)], -bounds[len(header) :]
    rank = communicator.rank
    if highest[0] != lowest[0]:
        raise ValueError(
            f"DataParallel: the ranks' models differ: between {lowest[0]} and {highest[0]} "
            f"weights (here, on rank {rank}: {len(weights)}). Every rank must build the same model."
        )
    for i, name in enumerate(names, start=1):
        if highest[i] != lowest[i]:
            raise ValueError(
                f"DataParallel: the ranks were given different data: {name} ranges from "
                f"{lowest[i]} to {highest[i]} across ranks (here, on rank {rank}: "
                f"{header[i]}). Give every rank the same data: each trains on its own shard "
                f"of every batch."
            )
    records = numpy.full((len(weights), 1 + _MAX_DIMS), -1, numpy.int64)
    for row, weight in zip(records, weights):
        shape = tuple(weight.shape)[:_MAX_DIMS]
        row[0] = len(weight.shape)
        row[1 : 1 + len(shape)] = shape
    local = records.copy()
    communicator.broadcast([records], root=0)
    differing = numpy.flatnonzero((records != local).any(axis=1))
    first = numpy.array([differing[0] if len(differing) else len(weights)], numpy.int64)
    communicator.allreduce([first], "min")
    index = int(first[0])
    if index < len(weights):
        weight = weights[index]
        shape0 = tuple(int(d) for d in records[index, 1 : 1 + records[index, 0]])
        raise ValueError(
            f"DataParallel: the ranks' models differ at weight '{weight.name}': shape {shape0} "
            f"on rank 0, {tuple(weight.shape)} here on rank {rank}. Every rank must build the "
            f"same model."
        )


def broadcast_arrays(communicator, arrays: list, bucket_bytes: int) -> None:
    """Overwrite ``arrays`` (in place, on one array module) with rank 0's, in few messages."""
    groups: dict = {}
    for array in arrays:
        groups.setdefault(type(array), []).append(array)
    for group in groups.values():
        xp = _array_module(group[0])
        buckets = Buckets(xp, [a.shape for a in group], [a.dtype for a in group], bucket_bytes)
        buckets.pack(group)
        communicator.broadcast(buckets.buffers, root=0)
        buckets.unpack_into(group)


def _array_module(array):
    if isinstance(array, numpy.ndarray):
        return numpy
    namespace = getattr(array, "__array_namespace__", None)  # the array API's way
    if namespace is not None:
        return namespace()
    return sys.modules[type(array).__module__.split(".")[0]]  # cupy (14 has no namespace)


# -- metric state ----------------------------------------------------------


class _Attribute:
    """A state value kept as an attribute and replaced on update (``self.total = ...``)."""

    def __init__(self, holder, name: str):
        self.holder, self.name = holder, name
        self.saved = getattr(holder, name)

    def write(self, summed: numpy.ndarray) -> None:
        setattr(self.holder, self.name, _like(self.saved, summed))

    def restore(self) -> None:
        setattr(self.holder, self.name, self.saved)


class _InPlace:
    """A state array updated in place (``metric.variables``): written with ``[...] =``."""

    def __init__(self, array):
        self.array = array.data if hasattr(array, "backend") else array  # a Tensor's array
        self.saved = self.array.copy()

    def write(self, summed: numpy.ndarray) -> None:
        self.array[...] = _like(self.array, summed)

    def restore(self) -> None:
        self.array[...] = self.saved


def _state_of(metrics: list) -> list:
    """A handle on each state value of ``metrics`` and of the metrics they wrap: their
    ``variables`` (arrays updated in place) when they list them, else the ``total`` and
    ``count`` attributes."""
    handles: list = []
    seen: set = set()

    def visit(metric) -> None:
        if id(metric) in seen:
            return
        seen.add(id(metric))
        variables = getattr(metric, "variables", None)
        if isinstance(variables, (list, tuple)) and variables:  # nested metrics' included
            for variable in variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    handles.append(_InPlace(variable))
            return
        handles.extend(_Attribute(metric, n) for n in ("total", "count") if hasattr(metric, n))
        for value in vars(metric).values():
            if isinstance(value, Metric):
                visit(value)

    for metric in metrics:
        visit(metric)
    return handles


def _to_host(value) -> numpy.ndarray:
    if hasattr(value, "get") and hasattr(value, "__cuda_array_interface__"):
        value = value.get()
    return numpy.asarray(value, dtype=numpy.float64)


def _like(original, summed: numpy.ndarray):
    """``summed`` as the kind of value ``original`` is (a number, NumPy or device array)."""
    if isinstance(original, (int, float)):
        return float(summed)
    if isinstance(original, (numpy.ndarray, numpy.generic)):
        return numpy.asarray(summed, dtype=original.dtype).reshape(numpy.shape(original))
    return _array_module(original).asarray(summed.astype(original.dtype).reshape(original.shape))


@contextlib.contextmanager
def summed_metric_state(communicator, metrics: list):
    """Within the block, ``metrics`` hold their state summed over every rank (so ``result()``
    is the global value); each rank's own state is put back after it."""
    handles = _state_of(metrics)
    host = [_to_host(handle.saved) for handle in handles]
    flat = numpy.concatenate([h.reshape(-1) for h in host]) if host else numpy.zeros(0)
    communicator.allreduce([flat], "sum")
    offset = 0
    try:
        for handle, local in zip(handles, host):
            handle.write(flat[offset : offset + local.size].reshape(local.shape))
            offset += local.size
        yield
    finally:
        for handle in handles:
            handle.restore()
