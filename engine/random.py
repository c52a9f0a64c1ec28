"""The library's random state: one host generator for weights and shuffling."""

import random as _python_random

import numpy

import backends

_generator = numpy.random.default_rng()


def generator() -> numpy.random.Generator:
    """The host generator used by initializers and ``fit``'s shuffling."""
    return _generator


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, this library's generator and every backend's."""
    global _generator
    if not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: expected a non-negative integer, got {seed!r}.")
    seed = int(seed)
    _python_random.seed(seed)
    numpy.random.seed(seed % 2**32)  # noqa: NPY002 (user code may rely on the global state)
    _generator = numpy.random.default_rng(seed)
    backends.seed_all(seed % 2**32)
