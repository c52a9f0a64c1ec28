"""The numba backend's declared elementwise overrides (``_Elementwise`` in
``numba_activations.py``) keep the reference's signature and guards."""

import inspect
import types

import numpy
import pytest

import backends
from backends.base import Backend

pytest.importorskip("numba")

from backends import numba_dispatch  # noqa: E402
from backends.numba_activations import ActivationOverrides, _Elementwise  # noqa: E402

# Each override's kernel operands (the arrays its guard checks) and its cut-off, written
# out here independently of the declarations.
OVERRIDES = {
    "relu_forward": ("x", "MIN_JIT_SIZE"),
    "relu_backward": ("dy y", "MIN_JIT_SIZE"),
    "sigmoid_forward": ("x", None),
    "sigmoid_backward": ("dy y", "MIN_JIT_SIZE"),
    "tanh_forward": ("x", "MIN_JIT_SIZE"),
    "tanh_backward": ("dy y", "MIN_JIT_SIZE"),
    "leaky_relu_forward": ("x", "MIN_JIT_SIZE"),
    "leaky_relu_backward": ("dy x", None),
    "elu_forward": ("x", None),
    "elu_backward": ("dy x y", None),
    "selu_forward": ("x", None),
    "selu_backward": ("dy x y", None),
    "softplus_forward": ("x", "SCALAR_MATH_LIMIT"),
    "softplus_backward": ("dy x", None),
    "swish_forward": ("x", None),
    "swish_backward": ("dy x", None),
    "erf": ("x", None),
}
SHAPED = sorted(name for name, (operands, _) in OVERRIDES.items() if " " in operands)
CUT = sorted(name for name, (_, cutoff) in OVERRIDES.items() if cutoff)
SCALARS = {"negative_slope": 0.3, "alpha": 0.7}


@pytest.fixture
def numba_backend(monkeypatch):
    """The numba backend with no size cut-offs in the way."""
    monkeypatch.setattr(numba_dispatch, "MIN_JIT_SIZE", 0)
    monkeypatch.setattr(numba_dispatch, "SCALAR_MATH_LIMIT", 10**9)
    return backends.get("numba")


def without_kernel(monkeypatch, backend, name):
    """``backend`` without the kernel ``name``, so that a call reaching it fails (the
    reference may call other overrides: softplus's calls sigmoid's)."""
    kernels = {k: v for k, v in vars(backend._activations).items() if k != name}
    monkeypatch.setattr(backend, "_activations", types.SimpleNamespace(**kernels))
    return backend


def arguments(name, rng, dtype="float32", shapes=None):
    """Keyword arguments for ``name``: its arrays (of ``shapes[parameter]`` or 3x4) and
    scalars other than their defaults."""
    arguments = {}
    for parameter in list(inspect.signature(getattr(Backend, name)).parameters)[1:]:
        if parameter in SCALARS:
            arguments[parameter] = SCALARS[parameter]
        else:
            shape = (shapes or {}).get(parameter, (3, 4))
            arguments[parameter] = (rng.standard_normal(shape) * 3).astype(dtype)
    return arguments


def assert_reference_result(backend, name, kwargs):
    """``backend.name(**kwargs)`` gives what the reference method gives on ``backend`` (to
    the bit: a reference may call other overrides, as softplus's calls sigmoid's)."""
    actual = getattr(backend, name)(**kwargs)
    expected = getattr(Backend, name)(backend, **kwargs)
    assert actual.dtype == expected.dtype
    numpy.testing.assert_array_equal(actual, expected)


def test_every_declared_override_is_listed_here():
    declared = {
        name
        for name, method in vars(ActivationOverrides).items()
        if inspect.isfunction(method) and method.__code__.co_filename.startswith("<")
    }
    assert declared == set(OVERRIDES)


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_declared_override_has_the_reference_signature(name):
    method = getattr(ActivationOverrides, name)
    assert inspect.signature(method) == inspect.signature(getattr(Backend, name))
    assert method.__name__ == name
    assert method.__qualname__ == f"ActivationOverrides.{name}"
    assert method.__module__ == "backends.numba_activations"
    assert f"``{name}``" in method.__doc__


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_declared_override_takes_keywords_as_the_reference_does(numba_backend, rng, name):
    kwargs = arguments(name, rng, "float64")
    expected = getattr(Backend(), name)(**kwargs)
    numpy.testing.assert_allclose(getattr(numba_backend, name)(**kwargs), expected, 1e-12, 1e-12)


@pytest.mark.parametrize("dtype", ["float16", "int64"])
@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_declared_override_falls_back_for_other_dtypes(
    numba_backend, monkeypatch, rng, name, dtype
):
    backend = without_kernel(monkeypatch, numba_backend, name)
    kwargs = arguments(name, rng, dtype)
    with numpy.errstate(all="ignore"):
        assert_reference_result(backend, name, kwargs)


@pytest.mark.parametrize("name", SHAPED)
def test_declared_override_falls_back_for_mixed_dtypes(numba_backend, monkeypatch, rng, name):
    backend = without_kernel(monkeypatch, numba_backend, name)
    kwargs = arguments(name, rng, "float32")
    last = OVERRIDES[name][0].split()[-1]
    kwargs[last] = kwargs[last].astype(numpy.float64)
    assert_reference_result(backend, name, kwargs)


@pytest.mark.parametrize("name", SHAPED)
def test_declared_override_falls_back_for_mismatched_shapes(numba_backend, monkeypatch, rng, name):
    """Any operand of another (broadcastable) shape goes to the reference."""
    backend = without_kernel(monkeypatch, numba_backend, name)
    for operand in OVERRIDES[name][0].split():
        kwargs = arguments(name, rng, shapes={operand: (1, 4)})
        assert_reference_result(backend, name, kwargs)


@pytest.mark.parametrize("name", CUT)
def test_declared_override_reads_its_cutoff_at_each_call(numba_backend, monkeypatch, rng, name):
    """12 elements reach the kernel with the cut-off at 12, and the reference past it."""
    kernel, calls = getattr(numba_backend._activations, name), []

    def spy(*args):
        calls.append(name)
        kernel(*args)

    monkeypatch.setattr(numba_backend, "_activations", types.SimpleNamespace(**{name: spy}))
    cutoff = OVERRIDES[name][1]
    kwargs = arguments(name, rng)
    monkeypatch.setattr(numba_dispatch, cutoff, 12)
    getattr(numba_backend, name)(**kwargs)
    assert calls == [name]
    monkeypatch.setattr(numba_dispatch, cutoff, 13 if cutoff == "MIN_JIT_SIZE" else 11)
    assert_reference_result(numba_backend, name, kwargs)
    assert calls == [name]


def test_a_declaration_names_real_operands_and_cutoffs():
    with pytest.raises(ValueError, match="operands"):
        _Elementwise("dy, x, y, alpha=1.0", operands="dy, alpha")
    with pytest.raises(ValueError, match="cut-off"):
        _Elementwise("x", min_size="MIN_SIZE")


def test_a_backend_class_calls_the_next_reference_in_its_mro_directly():
    """A class listing the mixin gets copies bound to the next class's function (no
    ``super()`` at each call); a method it defines itself stays its own."""
    from backends.numpy_backend import NumpyBackend

    class Reference(NumpyBackend):
        def relu_forward(self, x):
            return ("reference", x.shape)

    class Mixed(ActivationOverrides, Reference):
        def tanh_forward(self, x):
            return "own"

    backend, small = Mixed(), numpy.ones((2, 3), numpy.float32)
    assert backend.relu_forward(small) == ("reference", (2, 3))
    assert backend.tanh_forward(small) == "own"
    assert Mixed.relu_forward.__qualname__ == f"{Mixed.__qualname__}.relu_forward"
    assert inspect.signature(Mixed.relu_forward) == inspect.signature(Backend.relu_forward)
    numba_class = type(backends.get("numba"))
    for name in OVERRIDES:
        method = vars(numba_class)[name]
        assert method.__qualname__ == f"{numba_class.__name__}.{name}"
        assert method.__code__.co_freevars == ("_reference",)  # no super() cell
