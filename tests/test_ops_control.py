"""``engine.ops_control``: Keras 3's control flow (cond, loops, scan, map), ``select``,
``custom_gradient`` and the tensor queries, on every backend.

Results and structures follow Keras 3.15 (checked on JAX); gradients flow through the
ops the callables use and are checked against finite differences.
"""

import numpy
import pytest

import engine
from engine import symbolic
from engine.ops_control import (
    cond,
    custom_gradient,
    dtype,
    fori_loop,
    identity,
    is_tensor,
    map,  # noqa: A004  (Keras's name)
    scan,
    select,
    size,
    switch,
    vectorized_map,
    while_loop,
)
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(0)


def rand(*shape):
    return rng.uniform(-1.0, 1.0, shape)


def tensor(values, **kwargs):
    """A tensor as Keras makes one: Python floats become float32, ints int32."""
    return engine.ops.convert_to_tensor(values).requires_grad_(kwargs.get("requires_grad", False))


# -- branches ---------------------------------------------------------------------------


def test_cond_calls_one_branch(backend):
    x = tensor([1.0, 2.0])
    assert cond(True, lambda: x * 2, lambda: x * 3).numpy().tolist() == [2.0, 4.0]
    assert cond(tensor(False), lambda: x * 2, lambda: x * 3).numpy().tolist() == [3.0, 6.0]
    assert cond(x.sum() > 5, lambda: "big", lambda: "small") == "small"


def test_cond_gradients(backend, float64):
    check_gradients(
        lambda x: cond(x.sum() > 0, lambda: x * x, lambda: -x), rand(3), backend=backend
    )


def test_switch_clamps_the_index(backend):
    branches = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b]
    a, b = tensor(2.0), tensor(0.5)
    assert [float(switch(i, branches, a, b)) for i in (-4, 0, 1, 2, 9)] == [2.5, 2.5, 1.5, 1.0, 1.0]
    assert float(switch(tensor(1), branches, a, b)) == 1.5


def test_select_as_numpy_select(backend):
    x = numpy.arange(6)
    result = select([x < 3, x > 3], [x, x**2], 42)
    assert result.dtype == "int64" and result.backend is backend  # x's dtype, as Keras
    numpy.testing.assert_array_equal(result.numpy(), numpy.select([x < 3, x > 3], [x, x**2], 42))
    floats = rand(3, 4)
    conditions = [floats > 0.5, floats < -0.5]
    row = floats[0].astype("float32")
    result = select(conditions, [floats.astype("float32"), 2.0], default=row)
    expected = numpy.select(conditions, [floats, 2.0], default=floats[0])
    assert result.dtype == "float32"
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)


def test_select_gradients(backend, float64):
    conditions = [rand(3, 4) > 0.3, rand(3, 4) < -0.2]
    check_gradients(
        lambda a, b, d: select(conditions, [a, b], d),
        rand(3, 4),
        rand(4),
        rand(3, 1),
        backend=backend,
    )


# -- loops --------------------------------------------------------------------------------


def test_fori_loop(backend):
    assert fori_loop(0, 10, lambda i, s: s + i, 0) == 45
    total = fori_loop(tensor(1), 4, lambda i, s: s * i, tensor(1.0))
    assert float(total) == 6.0 and total.backend is backend


def test_fori_loop_gradients(backend, float64):
    check_gradients(lambda x: fori_loop(0, 3, lambda i, s: s * x + i, x), rand(4), backend=backend)


def test_while_loop_structures(backend):
    (i,) = (while_loop(lambda i: i < 10, lambda i: i + 3, 0),)
    assert is_tensor(i) and i.item() == 12
    result = while_loop(lambda x, y: x < 10, lambda x, y: (x + 1, y + 2), [0, 1])
    assert isinstance(result, tuple) and [v.item() for v in result] == [10, 21]  # a tuple, as Keras
    capped = while_loop(lambda x: x < 100, lambda x: x * 2, 1, maximum_iterations=3)
    assert capped.item() == 8


def test_while_loop_gradients(backend, float64):
    def fn(x):
        _, y = while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x + 1.0), (0, x))
        return y

    check_gradients(fn, rand(4), backend=backend)


def _cumulative(carry, x):
    carry = carry + x
    return carry, carry * 2


def test_scan_as_keras(backend):
    xs = rand(4, 3)
    carry, ys = scan(_cumulative, numpy.zeros(3), xs)
    numpy.testing.assert_allclose(carry.numpy(), xs.sum(axis=0))
    numpy.testing.assert_allclose(ys.numpy(), 2 * xs.cumsum(axis=0))
    carry, ys = scan(_cumulative, numpy.zeros(3), xs, reverse=True)
    numpy.testing.assert_allclose(ys.numpy(), 2 * xs[::-1].cumsum(axis=0)[::-1])
    carry, ys = scan(lambda c, _: (c * 2, c), tensor(1), length=4)
    assert carry.item() == 16 and ys.numpy().tolist() == [1, 2, 4, 8]


def test_scan_nested_structures(backend):
    xs = {"a": rand(3, 2), "b": rand(3)}

    def step(carry, x):
        total, count = carry
        total = total + x["a"].sum() * x["b"]
        return (total, count + 1), {"total": total, "pair": (x["b"], count)}

    (total, count), ys = scan(step, (0.0, 0), xs)
    expected = numpy.cumsum(xs["a"].sum(axis=1) * xs["b"])
    numpy.testing.assert_allclose(total.numpy(), expected[-1], rtol=1e-6)
    numpy.testing.assert_allclose(ys["total"].numpy(), expected, rtol=1e-6)
    numpy.testing.assert_allclose(ys["pair"][0].numpy(), xs["b"], rtol=1e-6)
    assert count.item() == 3 and ys["pair"][1].numpy().tolist() == [0, 1, 2]


def test_scan_gradients(backend, float64):
    check_gradients(
        lambda init, xs: scan(lambda c, x: (c * x + 1.0, c * c), init, xs, reverse=True)[1],
        rand(2),
        rand(3, 2),
        backend=backend,
    )


def test_map_and_vectorized_map(backend):
    xs = rand(4, 3)
    numpy.testing.assert_allclose(map(lambda x: x.sum(), xs).numpy(), xs.sum(axis=1), rtol=1e-6)
    pair = map(lambda x: {"y1": x * 2, "y2": x[0]}, xs)
    numpy.testing.assert_allclose(pair["y1"].numpy(), 2 * xs, rtol=1e-6)
    numpy.testing.assert_allclose(pair["y2"].numpy(), xs[:, 0], rtol=1e-6)
    ys = vectorized_map(lambda e: e[0] * e[1], (xs, xs[:, :1]))
    numpy.testing.assert_allclose(ys.numpy(), xs * xs[:, :1], rtol=1e-6)
    numpy.testing.assert_allclose(vectorized_map(lambda x: x[::-1], xs).numpy(), xs[:, ::-1])


def test_map_gradients(backend, float64):
    check_gradients(lambda xs: map(lambda x: x * x.sum(), xs), rand(3, 2), backend=backend)
    check_gradients(
        lambda a, b: vectorized_map(lambda e: e[0] @ e[1], [a, b]),
        rand(2, 3, 4),
        rand(2, 4),
        backend=backend,
    )


# -- queries and creation ------------------------------------------------------------------


def test_queries(backend):
    x = tensor(numpy.zeros((2, 3), dtype="int32"))
    assert is_tensor(x) and not is_tensor(numpy.zeros(2)) and not is_tensor(1.0)
    assert dtype(x) == "int32" and dtype(tensor([1.0])) == "float32"
    assert dtype(True) == "bool" and dtype(2) == "int32" and dtype(numpy.ones(1)) == "float64"
    assert dtype(symbolic.KerasTensor((None, 2), "float16")) == "float16"
    assert size(x) == 6 and isinstance(size(x), int) and size([[1, 2]]) == 2
    assert size(symbolic.KerasTensor((4, 5))) == 20


def test_identity(backend):
    eye = identity(3)
    assert eye.dtype == "float32" and eye.backend is backend
    numpy.testing.assert_array_equal(eye.numpy(), numpy.identity(3))
    assert identity(2, dtype="int32").dtype == "int32"


# -- custom_gradient ---------------------------------------------------------------------


@custom_gradient
def _log1pexp(x):
    """Keras's documented example: a stable gradient for ``log(1 + exp(x))``."""
    e = x.exp()

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream * (1.0 - 1.0 / (e + 1.0))

    return (e + 1.0).log(), grad


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_custom_gradient_replaces_the_gradient(backend):
    x = tensor([0.0, 2.0, 100.0], requires_grad=True)
    y = _log1pexp(x)
    assert numpy.isinf(y.numpy()[2])  # the forward overflows in float32 ...
    y.sum().backward()
    expected = 1 / (1 + numpy.exp(-numpy.array([0.0, 2.0, 100.0])))
    numpy.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)  # ... its gradient not


def test_custom_gradient_call_styles_and_several_outputs(backend):
    @custom_gradient
    def torch_style(x, scale):
        def grad(*args, upstream):
            return upstream * 3.0, None

        return x * scale, grad

    x = tensor([1.0, 2.0], requires_grad=True)
    torch_style(x, 2.0).sum().backward()
    assert x.grad.numpy().tolist() == [3.0, 3.0]

    @custom_gradient
    def both(a, b):
        def grad(upstream):
            product, total = upstream
            return product * 10.0 + total, product * 0.0 + total * 100.0

        return (a * b, a + b), grad

    a, b = tensor([1.0, 2.0], requires_grad=True), tensor([3.0, 4.0], requires_grad=True)
    product, total = both(a, b)
    numpy.testing.assert_array_equal(product.numpy(), [3.0, 8.0])
    (product.sum() + 2 * total.sum()).backward()
    assert a.grad.numpy().tolist() == [12.0, 12.0] and b.grad.numpy().tolist() == [200.0] * 2


def test_custom_gradient_with_the_true_gradient_passes_gradcheck(backend, float64):
    @custom_gradient
    def cube(x):
        return x * x * x, lambda upstream: upstream * 3.0 * x * x

    check_gradients(cube, rand(3, 2), backend=backend)


# -- errors ---------------------------------------------------------------------------------


ERRORS = {
    "cond": (lambda: cond(True, 1, lambda: 2), TypeError, "cond: true_fn must be a callable"),
    "cond_pred": (
        lambda: cond(tensor([True, False]), lambda: 1, lambda: 2),
        ValueError,
        r"cond: pred must be a single boolean; got a tensor of shape \(2,\)",
    ),
    "switch": (lambda: switch(0, []), ValueError, "switch: branches must be a non-empty"),
    "select": (
        lambda: select([numpy.ones(2, bool)], [1, 2]),
        ValueError,
        "select: condlist and choicelist must have the same length",
    ),
    "fori_loop": (
        lambda: fori_loop(0.5, 3, lambda i, v: v, 0),
        TypeError,
        "fori_loop: lower must be an integer",
    ),
    "while_loop": (
        lambda: while_loop(lambda i: i < 3, "body", 0),
        TypeError,
        "while_loop: body must be a callable",
    ),
    "scan": (lambda: scan(_cumulative, 0.0), ValueError, "scan: give xs to scan over, or length"),
    "scan_unroll": (
        lambda: scan(_cumulative, 0.0, length=2, unroll=0),
        ValueError,
        "scan: unroll must be a positive integer",
    ),
    "map": (
        lambda: map(lambda x: x, [numpy.ones(2), numpy.ones(3)]),
        ValueError,
        r"map: every tensor of xs must have the same size of axis 0; got \[2, 3\]",
    ),
    "vectorized_map": (
        lambda: vectorized_map(lambda x: x, 3.0),
        ValueError,
        "vectorized_map: elements must have a leading axis",
    ),
    "size": (
        lambda: size(symbolic.KerasTensor((None, 3))),
        ValueError,
        "size: the shape .* has an unknown size",
    ),
    "dtype": (lambda: dtype(["a"]), TypeError, "dtype: x must hold numbers"),
    "identity": (lambda: identity(-1), ValueError, "identity: n must not be negative"),
    "custom_gradient": (
        lambda: custom_gradient(lambda x: x)(tensor(1.0)),
        ValueError,
        r"custom_gradient: the decorated function must return a pair \(output, grad_fn\)",
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_name_the_function_and_the_argument(backend, name):
    call, error, message = ERRORS[name]
    with pytest.raises(error, match=message):
        call()


def test_custom_gradient_counts_the_gradients(backend):
    @custom_gradient
    def f(x, y):
        return x * y, lambda upstream: upstream  # one gradient for two arguments

    x = tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="custom_gradient: the gradient function returned 1"):
        f(x, tensor([2.0])).sum().backward()


def test_custom_gradient_refuses_a_gradient_of_another_shape(backend):
    @custom_gradient
    def scaled(x):
        return x * 2.0, lambda upstream: ops_sum_like(upstream)

    def ops_sum_like(upstream):
        return upstream.sum()  # a scalar for a (2, 3) argument: never broadcast silently

    x = tensor(numpy.ones((2, 3)))
    x.requires_grad = True
    with pytest.raises(
        ValueError, match=r"returned a gradient of shape \(\) for tensor argument 0"
    ):
        scaled(x).sum().backward()
