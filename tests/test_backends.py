"""The backend registry and the array boundary."""

import numpy
import pytest

import backends
import engine
from backends.base import Backend


def test_numpy_is_always_available():
    assert "numpy" in backends.available()
    assert backends.get("numpy") is backends.get("numpy")


def test_unknown_backend_lists_the_registered_ones():
    with pytest.raises(ValueError, match="Unknown backend 'tpu'.*numpy"):
        backends.get("tpu")


def test_unavailable_backend_says_why_and_how_to_fix():
    class Broken(Backend):
        name = "broken"

        @classmethod
        def unavailable_reason(cls):
            return "no such device"

        @classmethod
        def install_hint(cls):
            return "buy one"

    backends.register("broken", Broken)
    try:
        assert "broken" not in backends.available()
        with pytest.raises(backends.BackendUnavailableError) as info:
            engine.set_backend("broken")
        assert "no such device" in str(info.value) and "buy one" in str(info.value)
        assert engine.get_backend().name != "broken"
    finally:
        backends._registry.pop("broken")


def test_a_backend_whose_module_fails_to_import_says_what_to_install(monkeypatch):
    monkeypatch.setitem(backends._registry, "numba", "backends.no_such_module:NumbaBackend")
    monkeypatch.delitem(backends._instances, "numba", raising=False)
    with pytest.raises(backends.BackendUnavailableError) as info:
        backends.get("numba")
    message = str(info.value)
    assert "importing backends.no_such_module failed" in message
    fix = "Fix: pip install numba scipy (dependencies of this package: reinstall it)"
    assert message.endswith(fix)


def test_use_backend_is_scoped(backend):
    outer = engine.get_backend()
    with engine.use_backend("numpy") as inner:
        assert engine.get_backend() is inner
        assert engine.tensor([1.0]).backend is inner
    assert engine.get_backend() is outer


def test_arrays_round_trip_through_the_boundary(backend):
    host = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
    device = backend.asarray(host)
    assert backend.is_native(device)
    back = backend.to_numpy(device)
    assert isinstance(back, numpy.ndarray)
    numpy.testing.assert_array_equal(back, host)


def test_tensor_to_moves_between_backends(backend):
    t = engine.tensor([1.0, 2.0], backend="numpy")
    moved = t.to(backend.name)
    assert moved.backend is backend
    numpy.testing.assert_array_equal(moved.numpy(), [1.0, 2.0])
