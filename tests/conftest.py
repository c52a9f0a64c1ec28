"""Shared fixtures: every layer and kernel test runs on every available backend.

``ENGINE_TEST_BACKENDS=cupy`` (a comma-separated list) narrows the ``backend``
parameter to those backends, e.g. to run the suite through the cupy backend's
simulation mode alone (see ``.ci/run``).
"""

import os

# The kernel pool drops to one thread while other processes hold the cores
# (backends/core_contention.py); tests running side by side (pytest -n) would then take
# their split paths only some of the time. tests/test_core_contention.py tests it.
os.environ.setdefault("ENGINE_ADAPTIVE_THREADS", "0")

import numpy  # noqa: E402
import pytest  # noqa: E402

import backends  # noqa: E402
import engine  # noqa: E402
from backends.base import Backend  # noqa: E402
from engine.models.trainer import Trainer  # noqa: E402


def _test_backends() -> list[str]:
    available = backends.available()
    wanted = os.environ.get("ENGINE_TEST_BACKENDS")
    if not wanted:
        return available
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    missing = [name for name in names if name not in available]
    if missing:
        raise pytest.UsageError(
            f"ENGINE_TEST_BACKENDS names {missing}, which cannot run here; available: {available}"
        )
    return names


@pytest.fixture(params=_test_backends())
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


class _DeviceLoss:
    """A loss still on the device: reading it as a number would be a host round trip."""

    def __float__(self):
        raise AssertionError("the training loop read the step's loss on the host")


@pytest.fixture
def device_like(monkeypatch):
    """Trainer methods patched so that the model behaves as on a GPU backend."""
    monkeypatch.setattr(Trainer, "_loss_on_host", lambda self: False)
    run_step = Trainer._run_step

    def run_step_on_device(self, *args, **kwargs):
        run_step(self, *args, **kwargs)
        return _DeviceLoss()

    monkeypatch.setattr(Trainer, "_run_step", run_step_on_device)
