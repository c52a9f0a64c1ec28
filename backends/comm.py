"""Communicators: collective operations on raw arrays across the processes of one job.

A ``Communicator`` knows its process's ``rank`` among ``size`` processes and
runs collectives in place on lists of raw arrays: ``allreduce`` (sum, mean,
max, min), ``broadcast`` from a root, ``barrier``. Three implementations:

- ``SingleProcessCommunicator``: one process; every collective is a no-op.
- ``MpiCommunicator``: MPI through ``mpi4py``, on NumPy buffers directly
  (the buffer protocol, never pickling); a CuPy array is staged through a
  host copy.
- ``NcclCommunicator``: NCCL through CuPy (``cupy.cuda.nccl``) on device
  arrays, bootstrapped over MPI (rank 0's unique id is broadcast as bytes),
  which also carries the host arrays (metric sums, setup checks).

``get()`` picks one from the launcher's environment: ``mpiexec``/``mpirun``
(MPICH and Intel MPI set ``PMI_RANK``/``PMI_SIZE``, Open MPI
``OMPI_COMM_WORLD_*``) or SLURM's ``srun`` mean MPI (NCCL when the arrays live
on a GPU), anything else a single process; ``get("mpi")`` names one.

Failure handling: the MPI communicators install a ``sys.excepthook`` that
aborts the whole job when a rank dies of an uncaught exception, so the other
ranks stop instead of waiting in a collective forever; collectives poll their
requests and raise ``CommunicatorTimeoutError`` after ``timeout`` seconds
(``ENGINE_COMM_TIMEOUT``, default 600; 0 waits forever).

This module knows nothing of tensors or models: it is the transport that
``engine.distribute`` builds data parallelism on.
"""

import os
import sys
import time

import numpy

#: launcher variables: (rank, size, local rank) as each launcher names them
_LAUNCHERS = (
    ("Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("MPICH/Intel MPI (PMI)", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
    ("PMIx", "PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK"),
    ("SLURM srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
)
INSTALL_HINT = (
    'install the MPI extra: pip install "engine-dl[distributed]" (mpi4py and the mpich wheel), '
    "then launch with `mpiexec -n N python script.py`"
)
OPS = ("sum", "mean", "max", "min")
ABORT_GRACE_SECONDS = 1.0  # how long a dying rank leaves mpiexec to forward its output


class CommunicatorTimeoutError(RuntimeError):
    """A collective did not complete in time: another rank failed or took another path."""


def launch_environment() -> dict | None:
    """``{"launcher", "rank", "size", "local_rank"}`` read from the launcher's environment
    variables, or None when this process was not started by an MPI launcher or ``srun``."""
    for launcher, rank, size, local_rank in _LAUNCHERS:
        if rank not in os.environ or size not in os.environ:
            continue
        if launcher == "SLURM srun" and "SLURM_STEP_ID" not in os.environ:
            continue  # the batch script itself, not a task started by srun
        return {
            "launcher": launcher,
            "rank": int(os.environ[rank]),
            "size": int(os.environ[size]),
            "local_rank": int(os.environ.get(local_rank, os.environ[rank])),
        }
    return None


def _timeout_from_environment() -> float | None:
    seconds = float(os.environ.get("ENGINE_COMM_TIMEOUT", "600"))
    return seconds if seconds > 0 else None


def _is_device_array(array) -> bool:
    return hasattr(array, "__cuda_array_interface__") and not isinstance(array, numpy.ndarray)


def _check_op(op: str) -> None:
    if op not in OPS:
        raise ValueError(f"allreduce: `op` must be one of {', '.join(OPS)}; got {op!r}.")


class Communicator:
    """The interface: ``rank``, ``size``, in-place collectives on lists of raw arrays.

    Every rank must call the same collectives in the same order with arrays of
    the same shapes and dtypes, as in MPI. ``stats`` counts the calls, the
    bytes each rank contributed and the seconds spent waiting in them.
    """

    name = "base"

    def __init__(self, rank: int = 0, size: int = 1, local_rank: int = 0):
        self.rank, self.size, self.local_rank = rank, size, local_rank
        self.stats = {"calls": 0, "bytes": 0, "seconds": 0.0}

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def allreduce(self, arrays: list, op: str = "sum") -> None:
        """Reduce each array elementwise over the ranks, in place on every rank."""
        raise NotImplementedError

    def broadcast(self, arrays: list, root: int = 0) -> None:
        """Overwrite each array with ``root``'s, in place."""
        raise NotImplementedError

    def barrier(self) -> None:
        raise NotImplementedError

    def abort(self, code: int = 1) -> None:
        """End every rank of the job (after an error on this one)."""
        os._exit(code)

    def _count(self, arrays: list, started: float) -> None:
        self.stats["calls"] += 1
        self.stats["bytes"] += sum(int(a.nbytes) for a in arrays)
        self.stats["seconds"] += time.perf_counter() - started

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcessCommunicator(Communicator):
    """One process: the reductions of one value are that value."""

    name = "single"

    def allreduce(self, arrays: list, op: str = "sum") -> None:
        _check_op(op)

    def broadcast(self, arrays: list, root: int = 0) -> None:
        if root != 0:
            raise ValueError(f"broadcast: root {root} does not exist in a single process.")

    def barrier(self) -> None:
        pass


class MpiCommunicator(Communicator):
    """MPI through mpi4py: NumPy buffers passed by the buffer protocol (no pickling)."""

    name = "mpi"

    def __init__(self, comm=None, timeout: float | None | str = "env", abort_on_error=True):
        """``comm``: an mpi4py communicator (``COMM_WORLD``); ``timeout``: the seconds a
        collective may wait (None: forever; "env": ``ENGINE_COMM_TIMEOUT``, else 600);
        ``abort_on_error``: end the job when this rank dies of an uncaught exception."""
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise RuntimeError(
                f"MPI communicator: mpi4py does not import ({error}); {INSTALL_HINT}."
            ) from None
        self._mpi = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        super().__init__(self.comm.Get_rank(), self.comm.Get_size(), local.Get_rank())
        self.local_size = local.Get_size()
        local.Free()
        self.timeout = _timeout_from_environment() if timeout == "env" else timeout
        self._ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        if abort_on_error and self.size > 1:
            _abort_on_uncaught_exception(self)

    def allreduce(self, arrays: list, op: str = "sum") -> None:
        _check_op(op)
        started = time.perf_counter()
        buffers, restore = self._host_buffers(arrays)
        requests = [
            self.comm.Iallreduce(self._mpi.IN_PLACE, buffer, op=self._ops[op]) for buffer in buffers
        ]
        self._wait(requests, "allreduce")
        for buffer in buffers:
            if op == "mean":
                buffer /= self.size
        restore()
        self._count(arrays, started)

    def broadcast(self, arrays: list, root: int = 0) -> None:
        started = time.perf_counter()
        buffers, restore = self._host_buffers(arrays)
        self._wait([self.comm.Ibcast(buffer, root=root) for buffer in buffers], "broadcast")
        restore()
        self._count(arrays, started)

    def barrier(self) -> None:
        self._wait([self.comm.Ibarrier()], "barrier")

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)

    def _host_buffers(self, arrays: list):
        """Contiguous NumPy buffers for ``arrays``, and a function copying results back into
        those that are not themselves such buffers (device or non-contiguous arrays)."""
        buffers, copies = [], []
        for array in arrays:
            if isinstance(array, numpy.ndarray) and array.flags.c_contiguous:
                buffers.append(array)
                continue
            host = array.get() if _is_device_array(array) else numpy.ascontiguousarray(array)
            buffers.append(host)
            copies.append((array, host))

        def restore():
            for array, host in copies:
                if _is_device_array(array):
                    array.set(host)
                else:
                    array[...] = host

        return buffers, restore

    def _wait(self, requests: list, what: str) -> None:
        """Wait for ``requests``, giving up after ``timeout`` seconds. Each poll makes MPI's
        progress (a large allreduce is several rounds of messages), so the first 0.1 s polls
        without sleeping, yielding the core to a rank that shares it; a longer wait (a peer
        busy writing a checkpoint) sleeps 1 ms between polls."""
        if self.timeout is None:
            self._mpi.Request.Waitall(requests)
            return
        started = time.monotonic()
        deadline = started + self.timeout
        while not self._mpi.Request.Testall(requests):
            now = time.monotonic()
            if now > deadline:
                raise CommunicatorTimeoutError(
                    f"rank {self.rank}: {what} did not complete within {self.timeout:g} s; "
                    f"another rank failed, is still running something else, or called "
                    f"different collectives (ENGINE_COMM_TIMEOUT sets the limit)."
                )
            time.sleep(0 if now - started < 0.1 else 1e-3)


class NcclCommunicator(Communicator):
    """NCCL on device arrays (CuPy's ``cupy.cuda.nccl``), host arrays through MPI.

    ``nccl`` (the module) and ``stream`` (a function returning the stream's
    handle) default to CuPy's; tests pass stand-ins.
    """

    name = "nccl"

    _DTYPES = {
        "float16": "NCCL_FLOAT16",
        "float32": "NCCL_FLOAT32",
        "float64": "NCCL_FLOAT64",
        "int8": "NCCL_INT8",
        "uint8": "NCCL_UINT8",
        "int32": "NCCL_INT32",
        "int64": "NCCL_INT64",
    }
    _OPS = {"sum": "NCCL_SUM", "mean": "NCCL_SUM", "max": "NCCL_MAX", "min": "NCCL_MIN"}

    def __init__(self, host: Communicator | None = None, nccl=None, stream=None):
        host = host if host is not None else MpiCommunicator()
        super().__init__(host.rank, host.size, host.local_rank)
        self.host = host
        if nccl is None:
            try:
                from cupy.cuda import nccl
            except ImportError as error:
                raise RuntimeError(
                    f"NCCL communicator: cupy.cuda.nccl does not import ({error}); install "
                    f"NCCL (pip install nvidia-nccl-cu12) or use the MPI communicator."
                ) from None
        if stream is None:
            import cupy

            def stream():
                return cupy.cuda.get_current_stream().ptr

        self._nccl, self._stream = nccl, stream
        # rank 0's unique id, as bytes through the host communicator
        unique_id = numpy.zeros(128, dtype=numpy.int64)
        if self.rank == 0:
            given = numpy.asarray(nccl.get_unique_id(), dtype=numpy.int64)
            unique_id[: len(given)] = given
        host.broadcast([unique_id], root=0)
        self.comm = nccl.NcclCommunicator(self.size, tuple(int(i) for i in unique_id), self.rank)

    def allreduce(self, arrays: list, op: str = "sum") -> None:
        _check_op(op)
        device = self._device_part(arrays, lambda host: self.host.allreduce(host, op))
        nccl_op = getattr(self._nccl, self._OPS[op])
        self._grouped(
            device,
            lambda pointer, count, dtype: self.comm.allReduce(
                pointer, pointer, count, dtype, nccl_op, self._stream()
            ),
        )
        if op == "mean":
            for array in device:
                array /= self.size

    def broadcast(self, arrays: list, root: int = 0) -> None:
        device = self._device_part(arrays, lambda host: self.host.broadcast(host, root))
        self._grouped(
            device,
            lambda pointer, count, dtype: self.comm.bcast(
                pointer, count, dtype, root, self._stream()
            ),
        )

    def _device_part(self, arrays: list, host_collective) -> list:
        """The device arrays among ``arrays``; the host ones go through the host
        communicator (``host_collective``) first."""
        host = [a for a in arrays if not _is_device_array(a)]
        if host:
            host_collective(host)
        return [a for a in arrays if _is_device_array(a)]

    def _grouped(self, arrays: list, call) -> None:
        """``call(pointer, count, nccl_dtype)`` for each array, in one NCCL group (one launch)."""
        if not arrays:
            return
        started = time.perf_counter()
        self._nccl.groupStart()
        for array in arrays:
            call(*self._buffer(array))
        self._nccl.groupEnd()
        self._count(arrays, started)

    def barrier(self) -> None:
        self.host.barrier()

    def abort(self, code: int = 1) -> None:
        try:
            self.comm.abort()
        finally:
            self.host.abort(code)

    def _buffer(self, array):
        interface = array.__cuda_array_interface__
        if interface.get("strides") not in (None, _contiguous_strides(array)):
            raise ValueError("NCCL communicator: arrays must be C-contiguous.")
        name = numpy.dtype(interface["typestr"]).name
        if name not in self._DTYPES:
            raise TypeError(f"NCCL communicator: dtype {name} is not supported.")
        return interface["data"][0], int(array.size), getattr(self._nccl, self._DTYPES[name])


def _contiguous_strides(array) -> tuple:
    strides, step = [], array.dtype.itemsize
    for extent in reversed(array.shape):
        strides.append(step)
        step *= extent
    return tuple(reversed(strides))


def _abort_on_uncaught_exception(communicator: Communicator) -> None:
    """Make an uncaught exception on this rank end the whole job (as ``python -m mpi4py``
    does): the traceback is printed, then the communicator aborts every rank."""
    previous = sys.excepthook

    def hook(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stderr.write(
            f"rank {communicator.rank}: uncaught {kind.__name__}; aborting all "
            f"{communicator.size} ranks.\n"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        # The launcher kills every rank as soon as it hears of the abort, and may not have
        # forwarded this rank's output by then (seen on a loaded 2-core machine: the
        # traceback was lost): give it a moment to drain the pipes first.
        time.sleep(ABORT_GRACE_SECONDS)
        communicator.abort(1)

    sys.excepthook = hook


def nccl_available() -> bool:
    try:
        from cupy.cuda import nccl  # noqa: F401
    except Exception:
        return False
    return True


def get(name: str | None = None, device_arrays: bool = False) -> Communicator:
    """A communicator by name (``"single"``, ``"mpi"``, ``"nccl"``), or chosen from the
    launcher's environment: a single process when not launched by ``mpiexec``/``srun`` (or
    launched as one process), else NCCL for device arrays where it imports, else MPI."""
    if name is None:
        launch = launch_environment()
        if launch is None or launch["size"] == 1:
            return SingleProcessCommunicator()
        try:
            import mpi4py  # noqa: F401
        except ImportError:
            raise RuntimeError(
                f"This process was started by {launch['launcher']} as rank {launch['rank']} of "
                f"{launch['size']}, but mpi4py is not installed; {INSTALL_HINT}."
            ) from None
        name = "nccl" if device_arrays and nccl_available() else "mpi"
    if name == "single":
        return SingleProcessCommunicator()
    if name == "mpi":
        return MpiCommunicator()
    if name == "nccl":
        return NcclCommunicator()
    raise ValueError(f"Unknown communicator {name!r}; expected 'single', 'mpi' or 'nccl'.")
