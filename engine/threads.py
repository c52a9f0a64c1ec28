"""How many threads the numba backend's parallel kernels use.

Numba reads ``NUMBA_NUM_THREADS`` at import as the size of its thread pool;
``set_num_threads(n)`` chooses how many of those the kernels use, up to that
size. Without numba these functions still work and only record the value.
"""

import os

_requested: int | None = None


def _numba():
    try:
        import numba
    except ImportError:
        return None
    return numba


def _pool_size() -> int:
    numba = _numba()
    if numba is not None:
        return numba.config.NUMBA_NUM_THREADS
    return int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in parallel kernels (1 <= n <= NUMBA_NUM_THREADS)."""
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
    """The number of threads parallel kernels use now."""
    numba = _numba()
    if numba is not None:
        return numba.get_num_threads()
    return _requested if _requested is not None else _pool_size()
