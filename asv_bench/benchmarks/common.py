"""What every benchmark module shares: the backend parameter and how to skip."""

import backends

try:
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:  # outside asv (compare.py, a plain import)
    SkipNotImplemented = NotImplementedError

#: every registered backend; those that cannot run here are skipped in setup
BACKENDS = backends.names()


def backend_or_skip(name: str) -> backends.Backend:
    """The backend ``name``, or a skip (not a failure) when it cannot run here."""
    try:
        return backends.get(name)
    except backends.BackendUnavailableError as error:
        raise SkipNotImplemented(str(error)) from None


def host_random(shape, seed: int = 0, dtype="float32"):
    """Standard-normal NumPy values of ``shape``, the same on every backend."""
    import numpy

    return numpy.random.default_rng(seed).standard_normal(shape).astype(dtype)
