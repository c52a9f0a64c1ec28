"""Data-parallel training across processes and machines, named after ``keras.distribution``.

>>> import engine
>>> engine.distribute.set_distribution(engine.distribute.DataParallel())
>>> model.fit(x, y, batch_size=128)       # run as: mpiexec -n 4 python train.py

or per call: ``model.fit(x, y, distribute=engine.distribute.DataParallel())``.
The communicator (``backends.comm``: MPI through mpi4py, NCCL for CuPy arrays,
or a single process) is chosen from the launcher's environment; without a
launcher the strategy is one process and ``fit`` behaves as without it.
See ``data_parallel.py`` for what happens in ``fit``.
"""

from backends.comm import Communicator, launch_environment

from .data_parallel import DataParallel

__all__ = [
    "Communicator",
    "DataParallel",
    "distribution",
    "is_chief",
    "launch_environment",
    "resolve",
    "set_distribution",
]

_distribution: DataParallel | None = None


def set_distribution(value: DataParallel | None) -> None:
    """Make ``value`` the strategy of every later ``fit``, ``evaluate`` and optimizer step
    (None turns it off), as ``keras.distribution.set_distribution``."""
    global _distribution
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            f"set_distribution: expected an engine.distribute.DataParallel or None, got "
            f"{type(value).__name__}."
        )
    _distribution = value


def distribution() -> DataParallel | None:
    """The strategy set with ``set_distribution``, or None (Keras's ``distribution()``)."""
    return _distribution


def resolve(distribute=None) -> DataParallel | None:
    """The strategy ``fit(distribute=...)`` uses: the one given, else the global one."""
    if distribute is None:
        return _distribution
    if not isinstance(distribute, DataParallel):
        raise TypeError(
            f"fit: `distribute` must be an engine.distribute.DataParallel, got "
            f"{type(distribute).__name__}."
        )
    return distribute


def is_chief() -> bool:
    """Whether this process is the one that prints and writes files: rank 0 of the global
    strategy, or of the MPI launch when none is set (True in a single process)."""
    if _distribution is not None:
        return _distribution.is_chief
    launch = launch_environment()
    return launch is None or launch["rank"] == 0
