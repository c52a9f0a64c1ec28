"""How many threads the numba backend's kernels use.

The numba backend splits its big matrix products, sequence kernels and
attention between the threads of one pool (``backends/thread_pool.py``), with
BLAS on one thread inside each block. ``set_num_threads(n)`` sets that pool's
width for the whole process, up to ``NUMBA_NUM_THREADS`` (read by Numba at
import; by default the number of CPUs). Numba's own thread count follows it.
"""

import os

_requested: int | None = None


def _numba():
    try:
        import numba
    except ImportError:
        return None
    return numba


_pool_size_cache: int | None = None


def _pool_size() -> int:
    """``NUMBA_NUM_THREADS`` as Numba read it at import (fixed for the process)."""
    global _pool_size_cache
    if _pool_size_cache is None:
        numba = _numba()
        if numba is not None:
            _pool_size_cache = numba.config.NUMBA_NUM_THREADS
        else:
            _pool_size_cache = int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))
    return _pool_size_cache


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the numba backend's kernels (1 <= n <= NUMBA_NUM_THREADS)."""
    global _requested
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads needs a positive integer, got {n!r}.")
    limit = _pool_size()
    if n > limit:
        raise ValueError(
            f"set_num_threads({n}): at most {limit} threads are available "
            f"(set NUMBA_NUM_THREADS before starting Python to allow more)."
        )
    numba = _numba()
    if numba is not None:
        numba.set_num_threads(n)
    _requested = n


def get_num_threads() -> int:
    """The number of threads the numba backend's kernels use now (in every Python thread)."""
    return _requested if _requested is not None else _pool_size()
