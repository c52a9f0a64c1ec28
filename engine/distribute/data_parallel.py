"""``DataParallel``: the same model on every process, each training on its shard of each batch.

One process per core group or GPU, started by ``mpiexec -n N`` (or ``srun``),
all running the same script. Within ``fit`` (and ``evaluate``):

- at the start, the ranks check that their models and data agree, then take
  rank 0's weights, optimizer state and shuffling seed;
- every global batch of ``batch_size`` samples is split into ``N`` contiguous
  parts, one per rank (arrays are indexed for this rank's part only; a
  ``Dataset`` or generator yields the same batches on every rank and each
  keeps its part), so the per-epoch shuffle gives each rank a different shard
  every epoch; a batch smaller than ``N`` is skipped;
- after ``backward``, the optimizer hands the gradients here before clipping
  and the update: they are packed into buckets of a few MB, each rank's
  weighted by its share of the batch, and summed in one allreduce per bucket,
  so the step sees the gradient of the whole batch (reduce -> clip ->
  update); BatchNormalization's moving statistics ride in the same buckets
  and are averaged, so they stay identical;
- the logs (loss and metrics) come from the metric states summed over the
  ranks: every rank logs the same global numbers, so ``EarlyStopping`` and
  the like decide alike (and ``stop_training`` is agreed at each epoch's end);
- only rank 0 (the chief) prints progress and writes checkpoints, CSV logs
  and plots; dropout masks differ per rank.

With SGD and no dropout or BatchNormalization, N ranks compute the same
updates as one process on the whole batch, to float rounding.
"""

import itertools

import numpy

from backends import comm as comm_module

from .. import config
from .buckets import BucketCache
from .sync import broadcast_arrays, check_same_setup, summed_metric_state


class DataParallel:
    """Data-parallel training over a communicator (``backends.comm``).

    ``communicator``: a ``backends.comm.Communicator``, a name (``"mpi"``,
    ``"nccl"``, ``"single"``), or None to choose from the launcher's
    environment. ``bucket_size_mb``: the size of the flat buffers gradients
    are reduced in. On the cupy backend each rank uses GPU
    ``local_rank % device_count``.
    """

    def __init__(self, communicator=None, bucket_size_mb: float = 4.0):
        if not isinstance(communicator, comm_module.Communicator):
            communicator = comm_module.get(communicator, device_arrays=_on_gpu())
        self.communicator = communicator
        if not bucket_size_mb > 0:
            raise ValueError(f"DataParallel: `bucket_size_mb` must be > 0, got {bucket_size_mb!r}.")
        self.bucket_bytes = int(bucket_size_mb * 2**20)
        self._buckets = BucketCache(self.bucket_bytes)
        #: this rank's share of the current global batch (None: an equal share)
        self._batch_scale: float | None = None
        #: ids of the weights known to hold rank 0's values
        self._synced: set[int] = set()
        #: the non-trainable float weights a model updates itself (moving statistics)
        self._state: list = []
        self.device_id = _bind_device(communicator.local_rank)

    @property
    def rank(self) -> int:
        return self.communicator.rank

    @property
    def size(self) -> int:
        return self.communicator.size

    @property
    def is_chief(self) -> bool:
        """Whether this process is rank 0, the one that prints and writes files."""
        return self.communicator.rank == 0

    def __repr__(self) -> str:
        return f"DataParallel({self.communicator!r})"

    # -- the start and end of fit -------------------------------------------

    def begin_fit(self, model, samples: int | None = None, steps: int | None = None) -> None:
        """Check that the ranks agree, then give every rank rank 0's weights, optimizer
        state and shuffling seed, and route the optimizer's gradients through here."""
        counts = {"the number of samples": samples, "the number of steps per epoch": steps}
        counts = {name: -1 if value is None else value for name, value in counts.items()}
        check_same_setup(self.communicator, model.weights, counts)
        self.broadcast_model(model)
        self._state = _self_updated_weights(model)
        model.optimizer.distribution = self

    def end_fit(self, model) -> None:
        model.optimizer.distribution = None
        self._state = []
        self._batch_scale = None

    def broadcast_model(self, model) -> None:
        """Overwrite every rank's weights, optimizer state, optimizer step count and
        shuffling seed with rank 0's."""
        optimizer = model.optimizer
        arrays = [weight.data for weight in model.weights]
        if optimizer is not None:
            arrays += [array for _, array in optimizer.variables() if array is not None]
        seed = getattr(model, "shuffle_seed", None)
        numbers = numpy.array(
            [optimizer.iterations if optimizer is not None else 0, -1 if seed is None else seed],
            dtype=numpy.int64,
        )
        broadcast_arrays(self.communicator, arrays + [numbers], self.bucket_bytes)
        if optimizer is not None:
            optimizer.iterations = int(numbers[0])
        if hasattr(model, "shuffle_seed"):
            model.shuffle_seed = None if numbers[1] < 0 else int(numbers[1])
        self._synced.update(id(weight) for weight in model.weights)

    # -- gradients ----------------------------------------------------------

    def reduce_gradients(self, params: list, grads: list) -> list:
        """The gradients of the whole global batch, from each rank's gradients of its part
        (called by the optimizer before clipping); also averages the moving statistics.

        Weights seen here for the first time (a custom loop that never called ``fit``)
        first take rank 0's values."""
        unseen = [param for param in params if id(param) not in self._synced]
        if unseen:
            broadcast_arrays(self.communicator, [p.data for p in unseen], self.bucket_bytes)
            self._synced.update(id(param) for param in unseen)
        if self.size == 1 or not grads:
            return grads
        state = [weight.data for weight in self._state]
        arrays = list(grads) + state
        buckets = self._buckets.get(params[0].backend.xp, arrays)
        scale = self._batch_scale if self._batch_scale is not None else 1.0 / self.size
        buckets.pack(arrays, scale)
        self.communicator.allreduce(buckets.buffers, "sum")
        views = buckets.views()
        for array, averaged in zip(state, views[len(grads) :]):
            array[...] = averaged
        return views[: len(grads)]

    # -- data ---------------------------------------------------------------

    def _part(self, total: int) -> tuple[int, int] | None:
        """This rank's ``[start, stop)`` of a global batch of ``total`` samples (the parts
        differ by one sample at most), recording its share for the gradient weighting."""
        if total < self.size:
            return None
        start, stop = self.rank * total // self.size, (self.rank + 1) * total // self.size
        self._batch_scale = (stop - start) / total
        return start, stop

    def shard_index(self, index, n: int):
        """This rank's part of a global batch given as a slice or an index array into ``n``
        samples, or None when the batch has fewer samples than there are ranks."""
        if isinstance(index, slice):
            first, last, _ = index.indices(n)
            part = self._part(last - first)
            return None if part is None else slice(first + part[0], first + part[1])
        part = self._part(len(index))
        return None if part is None else index[part[0] : part[1]]

    def shard_batches(self, epoch_batches):
        """``epoch -> batches`` of this rank's parts of the ``(x, y, sample_weight)``
        batches ``epoch_batches(epoch)`` yields (the same on every rank)."""

        def sharded(epoch: int):
            return self._parts(epoch_batches(epoch))

        return sharded

    def _parts(self, batches):
        for batch in batches:
            part = self._part(_count(batch))
            if part is not None:
                yield _slice(batch, *part)

    def distribute_dataset(self, dataset):
        """Keras's ``distribution.distribute_dataset``: a Dataset yielding this rank's part
        of each batch of ``dataset``, for a custom training loop."""
        from ..data import Dataset

        return Dataset(lambda backend: self._parts(dataset.iterate(backend)))

    def shard_arrays(self, *arrays):
        """This rank's contiguous share of arrays of samples (for evaluation)."""
        n = _count(next(a for a in arrays if a is not None))
        start, stop = self.rank * n // self.size, (self.rank + 1) * n // self.size
        return tuple(None if a is None else _slice(a, start, stop) for a in arrays)

    def shard_source(self, batches):
        """Every ``size``-th batch of an iterator, starting at this rank's (for evaluation)."""
        return itertools.islice(batches, self.rank, None, self.size)

    # -- logs and decisions -------------------------------------------------

    def global_logs(self, compute_logs, prefix: str, metrics: list | None) -> dict:
        """``compute_logs(prefix)`` over every rank's data: computed from the ``metrics``'
        states summed over the ranks; without ``metrics`` (a custom step's logs) the
        ranks' values are averaged."""
        if self.size == 1:
            return compute_logs(prefix)
        if metrics is None:
            logs = compute_logs(prefix)
            values = numpy.array([float(v) for v in logs.values()], dtype=numpy.float64)
            self.communicator.allreduce([values], "mean")
            return dict(zip(logs, (float(v) for v in values)))
        with summed_metric_state(self.communicator, metrics):
            return compute_logs(prefix)

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (every rank gets the same answer)."""
        if self.size == 1:
            return bool(flag)
        value = numpy.array([1 if flag else 0], dtype=numpy.int64)
        self.communicator.allreduce([value], "max")
        return bool(value[0])

    def barrier(self) -> None:
        self.communicator.barrier()


def _count(value) -> int:
    if isinstance(value, (list, tuple)):
        return _count(value[0])
    if isinstance(value, dict):
        return _count(next(iter(value.values())))
    return len(value)


def _slice(value, start: int, stop: int):
    """Samples ``[start, stop)`` of an array, an ArrayGroup, or a structure of them."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return type(value)(_slice(item, start, stop) for item in value)
    if isinstance(value, dict):
        return {key: _slice(item, start, stop) for key, item in value.items()}
    return value[start:stop]


def _self_updated_weights(model) -> list:
    """The float weights a trainable layer updates itself in training (BatchNormalization's
    moving statistics): non-trainable weights, less those of frozen layers."""
    frozen: set[int] = set()
    pending = [model]
    while pending:
        layer = pending.pop()
        if not getattr(layer, "trainable", True):
            frozen.update(id(weight) for weight in layer.weights)
        pending.extend(getattr(layer, "_layers", ()))
    return [
        weight
        for weight in model.non_trainable_weights
        if id(weight) not in frozen and str(weight.dtype).startswith("float")
    ]


def _current_backend_name() -> str:
    """The current backend's name, read without creating the backend (which would touch
    GPU 0 before this rank chose its own)."""
    return config._current_backend.get()


def _on_gpu() -> bool:
    """Whether the current backend keeps arrays on a GPU (cupy, not its CPU simulation)."""
    if _current_backend_name() != "cupy":
        return False
    from backends import cupy_backend

    return not cupy_backend.simulation_enabled()


def _bind_device(local_rank: int) -> int | None:
    """On the cupy backend (a real GPU), make this process use GPU ``local_rank`` (modulo
    the GPUs present); returns the device id, or None off the GPU."""
    if not _on_gpu():
        return None
    import cupy

    import backends

    device = local_rank % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(device).use()  # before the backend's first kernel: nothing lands on GPU 0
    backends.get("cupy").use_device(device)
    return device
