"""Autograd: every op's gradient against finite differences, and the graph walk."""

import gc
import weakref

import numpy
import pytest

import backends
import engine
from engine import functional as F
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(0)


def rand(*shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, shape)


BINARY_CASES = {
    "add": (lambda a, b: a + b, (3, 4), (3, 4)),
    "add_broadcast_row": (lambda a, b: a + b, (3, 4), (4,)),
    "add_broadcast_column": (lambda a, b: a + b, (3, 4), (3, 1)),
    "sub_broadcast": (lambda a, b: a - b, (2, 1, 4), (3, 1)),
    "mul_broadcast": (lambda a, b: a * b, (3, 4), (1, 4)),
    "div_broadcast": (lambda a, b: a / (b * b + 1.0), (3, 4), (4,)),
    "pow_tensor": (lambda a, b: (a * a + 0.5) ** b, (3, 4), (3, 4)),
    "matmul": (lambda a, b: a @ b, (3, 4), (4, 2)),
    "matmul_batched": (lambda a, b: a @ b, (2, 3, 4), (4, 5)),
    "matmul_vector": (lambda a, b: a @ b, (3, 4), (4,)),
    "where": (lambda a, b: F.where(a.data > 0, a, b), (3, 4), (3, 4)),
    "concatenate": (lambda a, b: F.concatenate([a, b], axis=1), (3, 4), (3, 2)),
    "stack": (lambda a, b: F.stack([a, b], axis=1), (3, 4), (3, 4)),
}


@pytest.mark.parametrize("case", sorted(BINARY_CASES))
def test_binary_op_gradients(backend, case):
    fn, shape_a, shape_b = BINARY_CASES[case]
    check_gradients(fn, rand(*shape_a), rand(*shape_b), backend=backend)


UNARY_CASES = {
    "neg": (lambda x: -x, {}),
    "pow_scalar": (lambda x: x**3, {}),
    "rsub_scalar": (lambda x: 2.0 - x, {}),
    "rdiv_scalar": (lambda x: 1.0 / x, {"low": 0.5, "high": 2.0}),
    "exp": (lambda x: x.exp(), {}),
    "log": (lambda x: x.log(), {"low": 0.2, "high": 2.0}),
    "sqrt": (lambda x: x.sqrt(), {"low": 0.2, "high": 2.0}),
    "abs": (lambda x: x.abs(), {}),
    "clip": (lambda x: x.clip(-0.5, 0.5), {}),
    "relu": (lambda x: x.relu(), {}),
    "sigmoid": (lambda x: x.sigmoid(), {}),
    "tanh": (lambda x: x.tanh(), {}),
    "softmax": (lambda x: x.softmax(axis=-1), {}),
    "softmax_axis0": (lambda x: x.softmax(axis=0), {}),
    "log_softmax": (lambda x: x.log_softmax(), {}),
    "sum_all": (lambda x: x.sum(), {}),
    "sum_axis": (lambda x: x.sum(axis=1), {}),
    "sum_keepdims": (lambda x: x.sum(axis=0, keepdims=True), {}),
    "mean_axes": (lambda x: x.mean(axis=(0, 2)), {}),
    "max_axis": (lambda x: x.max(axis=1), {}),
    "min_keepdims": (lambda x: x.min(axis=-1, keepdims=True), {}),
    "max_all": (lambda x: x.max(), {}),
    "reshape": (lambda x: x.reshape(4, -1), {}),
    "transpose": (lambda x: x.transpose(2, 0, 1), {}),
    "T": (lambda x: x.T, {}),
    "slice": (lambda x: x[1:, ::2], {}),
    "int_index": (lambda x: x[0], {}),
    "fancy_repeated": (lambda x: x[numpy.array([0, 1, 1, 0])], {}),
    "chain": (lambda x: ((x * 2).exp() + x.sigmoid()).sum(axis=0) / 3, {}),
}


@pytest.mark.parametrize("case", sorted(UNARY_CASES))
def test_unary_op_gradients(backend, case):
    fn, bounds = UNARY_CASES[case]
    check_gradients(fn, rand(2, 3, 4, **bounds), backend=backend)


def test_gradients_accumulate_across_backward_calls(backend):
    x = engine.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_shared_input_gradients_sum(backend):
    x = engine.tensor(numpy.array([2.0]), requires_grad=True)
    y = x * x + x  # x used three times
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [2 * 2 + 1])


def test_no_grad_records_nothing(backend):
    x = engine.tensor(numpy.ones(3), requires_grad=True)
    with engine.no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad and y.creator is None
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        y.backward()


def test_detach_cuts_the_graph(backend):
    x = engine.tensor(numpy.ones(3), requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad
    z = (x * y).sum()
    z.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])


def test_second_backward_without_retain_graph_raises(backend):
    x = engine.tensor(numpy.ones(3), requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward(backend):
    x = engine.tensor(numpy.ones(3), requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 4 * numpy.e * numpy.ones(3))


def test_saved_arrays_are_freed_after_backward(backend):
    x = engine.tensor(numpy.ones((4, 4)), requires_grad=True)
    hidden = x.exp()
    saved = weakref.ref(hidden.creator.y)  # the array Exp saved for backward
    loss = (hidden * 2).sum()
    del hidden
    loss.backward()
    gc.collect()
    assert saved() is None


def test_deep_graph_needs_no_recursion(backend):
    x = engine.tensor(numpy.ones(2), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 1.0001**5000 * numpy.ones(2), rtol=1e-6)


def test_only_needed_gradients_are_computed(backend):
    x = engine.tensor(numpy.ones((2, 3)), requires_grad=True)
    constant = engine.tensor(numpy.ones((3, 2)))
    (x @ constant).sum().backward()
    assert constant.grad is None
    assert x.grad.shape == (2, 3)


def test_non_scalar_backward_needs_grad(backend):
    x = engine.tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(numpy.array([1.0, 2.0, 3.0]))
    numpy.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])


def test_numpy_and_scalars_combine_with_tensors(backend):
    x = engine.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    y = numpy.array([3.0, 4.0]) * x + 1
    assert isinstance(y, engine.Tensor)
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [3, 4])


def test_tensor_defaults_and_conversion(backend):
    t = engine.tensor([1.5, 2.5])
    assert t.dtype == numpy.float32 and t.backend is backend
    assert isinstance(t.numpy(), numpy.ndarray)
    assert engine.tensor(numpy.arange(3)).dtype.kind == "i"
    with pytest.raises(TypeError, match="dtype"):
        engine.tensor(numpy.array(["a", "b"]))
    with pytest.raises(TypeError, match="floating-point"):
        engine.tensor(numpy.arange(3), requires_grad=True)


def test_mixing_backends_names_both():
    backends.register(
        "numpy_twin",
        type("TwinBackend", (backends.get("numpy").__class__,), {"name": "numpy_twin"}),
    )
    try:
        a = engine.tensor([1.0], backend="numpy")
        b = engine.tensor([1.0], backend="numpy_twin")
        with pytest.raises(backends.BackendMismatchError, match="numpy.*numpy_twin.*to\\("):
            a + b
    finally:
        backends._registry.pop("numpy_twin")
        backends._instances.pop("numpy_twin", None)
