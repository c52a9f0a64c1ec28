"""Shared fixtures: every layer and kernel test runs on every available backend."""

import numpy
import pytest

import backends
import engine
from backends.base import Backend


@pytest.fixture(params=backends.available())
def backend(request):
    """Each available backend in turn, made current for the duration of the test."""
    with engine.use_backend(request.param) as instance:
        yield instance


@pytest.fixture
def reference():
    """The generic reference kernels (``backends.base.Backend`` on NumPy)."""
    return Backend()


@pytest.fixture
def float64():
    """Make float64 the default dtype of weights and inputs (for gradient checks)."""
    previous = engine.floatx()
    engine.set_floatx("float64")
    yield
    engine.set_floatx(previous)


@pytest.fixture
def rng():
    return numpy.random.default_rng(0)
