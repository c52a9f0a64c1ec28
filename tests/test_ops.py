"""``engine.ops``: values against NumPy, gradients against finite differences, Keras 3's dtypes.

Every test runs on every available backend. The expected dtypes and Python
types were read from Keras 3 on PyTorch (``keras.ops``), except where float64
stays float64 (Keras computes in float32 there).
"""

import math

import numpy
import pytest

import backends
import engine
from engine import ops
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(0)
_erf = numpy.vectorize(math.erf)


def rand(*shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, shape)


def positive(*shape):
    return rand(*shape, low=0.3, high=2.0)


def _gelu_tanh(x):
    return 0.5 * x * (1 + numpy.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _softmax(x, axis):
    e = numpy.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=axis, keepdims=True))


# name: (op, NumPy reference, input)
UNARY = {
    "abs": (ops.abs, numpy.abs, rand(3, 4)),
    "negative": (ops.negative, numpy.negative, rand(3, 4)),
    "exp": (ops.exp, numpy.exp, rand(3, 4)),
    "expm1": (ops.expm1, numpy.expm1, rand(3, 4)),
    "log": (ops.log, numpy.log, positive(3, 4)),
    "log1p": (ops.log1p, numpy.log1p, positive(3, 4)),
    "log2": (ops.log2, numpy.log2, positive(3, 4)),
    "log10": (ops.log10, numpy.log10, positive(3, 4)),
    "sqrt": (ops.sqrt, numpy.sqrt, positive(3, 4)),
    "rsqrt": (ops.rsqrt, lambda x: 1 / numpy.sqrt(x), positive(3, 4)),
    "reciprocal": (ops.reciprocal, numpy.reciprocal, positive(3, 4)),
    "square": (ops.square, numpy.square, rand(3, 4)),
    "sin": (ops.sin, numpy.sin, rand(3, 4)),
    "cos": (ops.cos, numpy.cos, rand(3, 4)),
    "tan": (ops.tan, numpy.tan, rand(3, 4)),
    "tanh": (ops.tanh, numpy.tanh, rand(3, 4)),
    "erf": (ops.erf, _erf, rand(3, 4)),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + numpy.exp(-x)), rand(3, 4)),
    "relu": (ops.relu, lambda x: numpy.maximum(x, 0), rand(3, 4)),
    "softplus": (ops.softplus, lambda x: numpy.log1p(numpy.exp(x)), rand(3, 4)),
    "log_sigmoid": (ops.log_sigmoid, lambda x: -numpy.log1p(numpy.exp(-x)), rand(3, 4)),
    "silu": (ops.silu, lambda x: x / (1 + numpy.exp(-x)), rand(3, 4)),
    "gelu": (ops.gelu, _gelu_tanh, rand(3, 4)),
    "gelu_exact": (
        lambda x: ops.gelu(x, approximate=False),
        lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
        rand(3, 4),
    ),
    "leaky_relu": (ops.leaky_relu, lambda x: numpy.where(x > 0, x, 0.2 * x), rand(3, 4)),
    "elu": (ops.elu, lambda x: numpy.where(x > 0, x, numpy.expm1(x)), rand(3, 4)),
    "selu": (
        ops.selu,
        lambda x: 1.0507009873554805 * numpy.where(x > 0, x, 1.6732632423543772 * numpy.expm1(x)),
        rand(3, 4),
    ),
    "softmax": (ops.softmax, lambda x: _softmax(x, -1), rand(3, 4)),
    "softmax_axis0": (lambda x: ops.softmax(x, axis=0), lambda x: _softmax(x, 0), rand(3, 4)),
    "softmax_two_axes": (
        lambda x: ops.softmax(x, axis=(0, 2)),
        lambda x: _softmax(x, (0, 2)),
        rand(2, 3, 4),
    ),
    "log_softmax": (ops.log_softmax, lambda x: _log_softmax(x, -1), rand(3, 4)),
    "log_softmax_two_axes": (
        lambda x: ops.log_softmax(x, axis=(1, 2)),
        lambda x: _log_softmax(x, (1, 2)),
        rand(2, 3, 4),
    ),
    "clip": (lambda x: ops.clip(x, -0.5, 0.5), lambda x: numpy.clip(x, -0.5, 0.5), rand(3, 4)),
    "power_scalar": (lambda x: ops.power(x, 3), lambda x: x**3, rand(3, 4)),
    "power_float_scalar": (lambda x: ops.power(x, 1.5), lambda x: x**1.5, positive(3, 4)),
}


# name: (op, NumPy reference, shape of x1, shape of x2)
BINARY = {
    "add": (ops.add, numpy.add, (3, 4), (4,)),
    "subtract": (ops.subtract, numpy.subtract, (3, 1), (1, 4)),
    "multiply": (ops.multiply, numpy.multiply, (2, 3, 4), (3, 1)),
    "divide": (ops.divide, numpy.divide, (3, 4), (3, 4)),
    "true_divide": (ops.true_divide, numpy.divide, (4,), (3, 4)),
    "power": (ops.power, numpy.power, (3, 4), (4,)),
    "maximum": (ops.maximum, numpy.maximum, (3, 4), (4,)),
    "minimum": (ops.minimum, numpy.minimum, (3, 1), (3, 4)),
    "matmul": (ops.matmul, numpy.matmul, (3, 4), (4, 2)),
    "matmul_batch": (ops.matmul, numpy.matmul, (2, 3, 4), (2, 4, 5)),
    "matmul_broadcast": (ops.matmul, numpy.matmul, (2, 1, 3, 4), (3, 4, 2)),
    "matmul_vector_matrix": (ops.matmul, numpy.matmul, (4,), (2, 4, 3)),
    "matmul_matrix_vector": (ops.matmul, numpy.matmul, (3, 4), (4,)),
    "matmul_vectors": (ops.matmul, numpy.matmul, (4,), (4,)),
    "dot_vectors": (ops.dot, numpy.dot, (4,), (4,)),
    "dot_matrices": (ops.dot, numpy.dot, (3, 4), (4, 2)),
    "dot_nd": (ops.dot, numpy.dot, (2, 3, 4), (5, 4, 2)),
    "dot_scalar": (ops.dot, numpy.dot, (), (3, 2)),
    "tensordot_2": (ops.tensordot, numpy.tensordot, (2, 3, 4), (3, 4, 5)),
    "tensordot_lists": (
        lambda a, b: ops.tensordot(a, b, axes=([0, 2], [2, 0])),
        lambda a, b: numpy.tensordot(a, b, axes=([0, 2], [2, 0])),
        (2, 3, 4),
        (4, 5, 2),
    ),
    "outer": (ops.outer, numpy.outer, (3,), (2, 2)),
    "where": (
        lambda a, b: ops.where(ops.greater(a, 0), a, b),
        lambda a, b: numpy.where(a > 0, a, b),
        (3, 4),
        (4,),
    ),
    "concatenate": (
        lambda a, b: ops.concatenate([a, b], axis=1),
        lambda a, b: numpy.concatenate([a, b], axis=1),
        (3, 4),
        (3, 2),
    ),
    "stack": (
        lambda a, b: ops.stack([a, b], axis=-1),
        lambda a, b: numpy.stack([a, b], axis=-1),
        (3, 4),
        (3, 4),
    ),
    "clip_tensor_bounds": (
        lambda a, b: ops.clip(a, b, 0.8),
        lambda a, b: numpy.minimum(numpy.maximum(a, b), 0.8),
        (3, 4),
        (4,),
    ),
}


def _binary_inputs(name, shape_a, shape_b):
    a, b = rand(*shape_a), rand(*shape_b)
    if name in ("divide", "true_divide"):
        b = positive(*shape_b)
    if name == "power":
        a = positive(*shape_a)
    return a, b


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_against_numpy(backend, name):
    op, reference, shape_a, shape_b = BINARY[name]
    a, b = _binary_inputs(name, shape_a, shape_b)
    result = op(a.astype("float32"), b.astype("float32"))
    assert result.dtype == "float32" and result.backend is backend
    numpy.testing.assert_allclose(result.numpy(), reference(a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients(backend, float64, name):
    op, reference, shape_a, shape_b = BINARY[name]
    a, b = _binary_inputs(name, shape_a, shape_b)
    numpy.testing.assert_allclose(op(a, b).numpy(), reference(a, b), rtol=1e-12, atol=1e-12)
    check_gradients(op, a, b, backend=backend)


def test_maximum_splits_the_gradient_of_a_tie(backend):
    a = ops.convert_to_tensor([1.0, 2.0, 3.0])
    b = ops.convert_to_tensor([1.0, 1.0, 4.0])
    a.requires_grad = b.requires_grad = True
    ops.sum(ops.maximum(a, b)).backward()
    numpy.testing.assert_allclose(a.grad.numpy(), [0.5, 1.0, 0.0])
    numpy.testing.assert_allclose(b.grad.numpy(), [0.5, 0.0, 1.0])


def _moments_variance(x):
    return ops.moments(x, axes=[0, 2])[1]


# name: (op, NumPy reference, input)
REDUCTIONS = {
    "sum": (ops.sum, numpy.sum, rand(3, 4)),
    "sum_axis_keepdims": (
        lambda x: ops.sum(x, axis=1, keepdims=True),
        lambda x: x.sum(axis=1, keepdims=True),
        rand(3, 4),
    ),
    "mean_axes": (lambda x: ops.mean(x, axis=(0, 2)), lambda x: x.mean(axis=(0, 2)), rand(2, 3, 4)),
    "max": (lambda x: ops.max(x, axis=0), lambda x: x.max(axis=0), rand(3, 4)),
    "min_keepdims": (
        lambda x: ops.min(x, axis=-1, keepdims=True),
        lambda x: x.min(axis=-1, keepdims=True),
        rand(3, 4),
    ),
    "max_initial": (
        lambda x: ops.max(x, axis=1, initial=0.2),
        lambda x: numpy.max(x, axis=1, initial=0.2),
        rand(3, 4),
    ),
    "prod": (lambda x: ops.prod(x, axis=1), lambda x: x.prod(axis=1), rand(3, 4)),
    "prod_all": (ops.prod, numpy.prod, rand(2, 3)),
    "var": (lambda x: ops.var(x, axis=0), lambda x: x.var(axis=0), rand(3, 4)),
    "std": (ops.std, numpy.std, rand(3, 4)),
    "moments_mean": (
        lambda x: ops.moments(x, axes=[0, 2])[0],
        lambda x: x.mean(axis=(0, 2)),
        rand(2, 3, 4),
    ),
    "moments_variance": (_moments_variance, lambda x: x.var(axis=(0, 2)), rand(2, 3, 4)),
    "logsumexp": (
        lambda x: ops.logsumexp(x, axis=1),
        lambda x: numpy.log(numpy.exp(x).sum(axis=1)),
        rand(3, 4),
    ),
    "logsumexp_all_keepdims": (
        lambda x: ops.logsumexp(x, keepdims=True),
        lambda x: numpy.log(numpy.exp(x).sum(keepdims=True)),
        rand(3, 4),
    ),
    "cumsum": (lambda x: ops.cumsum(x, axis=1), lambda x: x.cumsum(axis=1), rand(3, 4)),
    "cumsum_flat": (ops.cumsum, numpy.cumsum, rand(3, 4)),
    "norm": (ops.norm, numpy.linalg.norm, rand(3, 4)),
    "norm_vector_axis": (
        lambda x: ops.norm(x, axis=1, keepdims=True),
        lambda x: numpy.linalg.norm(x, axis=1, keepdims=True),
        rand(3, 4),
    ),
    "norm_rank3": (ops.norm, lambda x: numpy.sqrt((x**2).sum()), rand(2, 3, 4)),
}
for _ord in (1, 3, math.inf, -math.inf):
    REDUCTIONS[f"norm_vector_ord_{_ord}"] = (
        lambda x, o=_ord: ops.norm(x, ord=o, axis=-1),
        lambda x, o=_ord: numpy.linalg.norm(x, ord=o, axis=-1),
        rand(3, 4),
    )
for _ord in ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf):
    REDUCTIONS[f"norm_matrix_ord_{_ord}"] = (
        lambda x, o=_ord: ops.norm(x, ord=o, axis=(2, 0)),
        lambda x, o=_ord: numpy.linalg.norm(x, ord=o, axis=(2, 0)),
        rand(3, 2, 4),
    )


def test_prod_gradient_with_a_zero_factor(backend, float64):
    x = rand(3, 4)
    x[1, 2] = 0.0
    check_gradients(lambda t: ops.prod(t, axis=1), x, backend=backend)


def test_norm_keepdims_over_all_axes(backend):
    x = rand(2, 3, 4)
    assert ops.norm(x, keepdims=True).shape == (1, 1, 1)
    assert ops.norm(x[0], ord="nuc", keepdims=True).shape == (1, 1)


# name: (op, NumPy reference, input)
SHAPES = {
    "reshape": (lambda x: ops.reshape(x, (4, -1)), lambda x: x.reshape(4, -1), rand(2, 3, 2)),
    "transpose": (ops.transpose, numpy.transpose, rand(2, 3, 4)),
    "transpose_axes": (
        lambda x: ops.transpose(x, (1, 2, 0)),
        lambda x: x.transpose(1, 2, 0),
        rand(2, 3, 4),
    ),
    "swapaxes": (
        lambda x: ops.swapaxes(x, 0, -1),
        lambda x: numpy.swapaxes(x, 0, -1),
        rand(2, 3, 4),
    ),
    "moveaxis": (
        lambda x: ops.moveaxis(x, [0, 1], [-1, 0]),
        lambda x: numpy.moveaxis(x, [0, 1], [-1, 0]),
        rand(2, 3, 4),
    ),
    "expand_dims": (
        lambda x: ops.expand_dims(x, (0, -1)),
        lambda x: numpy.expand_dims(x, (0, -1)),
        rand(2, 3),
    ),
    "squeeze": (ops.squeeze, numpy.squeeze, rand(1, 3, 1, 2)),
    "squeeze_axis": (
        lambda x: ops.squeeze(x, axis=2),
        lambda x: numpy.squeeze(x, axis=2),
        rand(1, 3, 1, 2),
    ),
    "split_first": (
        lambda x: ops.split(x, 3, axis=1)[1],
        lambda x: numpy.split(x, 3, axis=1)[1],
        rand(2, 6),
    ),
    "split_indices": (
        lambda x: ops.split(x, [1, 3])[2] * 2 + ops.split(x, [1, 3])[0].sum(),
        lambda x: numpy.split(x, [1, 3])[2] * 2 + numpy.split(x, [1, 3])[0].sum(),
        rand(5, 2),
    ),
    "tile": (lambda x: ops.tile(x, (2, 1, 3)), lambda x: numpy.tile(x, (2, 1, 3)), rand(2, 3)),
    "tile_short": (lambda x: ops.tile(x, 2), lambda x: numpy.tile(x, 2), rand(2, 3)),
    "repeat": (
        lambda x: ops.repeat(x, 2, axis=1),
        lambda x: numpy.repeat(x, 2, axis=1),
        rand(2, 3),
    ),
    "repeat_flat": (lambda x: ops.repeat(x, 3), lambda x: numpy.repeat(x, 3), rand(2, 3)),
    "repeat_uneven": (
        lambda x: ops.repeat(x, [2, 0, 3], axis=1),
        lambda x: numpy.repeat(x, [2, 0, 3], axis=1),
        rand(2, 3),
    ),
    "flip": (ops.flip, numpy.flip, rand(2, 3)),
    "flip_axis": (lambda x: ops.flip(x, axis=1), lambda x: numpy.flip(x, axis=1), rand(2, 3)),
    "broadcast_to": (
        lambda x: ops.broadcast_to(x, (2, 4, 3)),
        lambda x: numpy.broadcast_to(x, (2, 4, 3)),
        rand(4, 1),
    ),
    "take": (
        lambda x: ops.take(x, [[0, 2], [2, -1]], axis=1),
        lambda x: numpy.take(x, [[0, 2], [2, -1]], axis=1),
        rand(2, 4),
    ),
    "take_flat": (lambda x: ops.take(x, [5, 0, 5]), lambda x: numpy.take(x, [5, 0, 5]), rand(2, 3)),
    "take_scalar_index": (
        lambda x: ops.take(x, -1, axis=0),
        lambda x: numpy.take(x, -1, axis=0),
        rand(2, 3),
    ),
    "take_along_axis": (
        lambda x: ops.take_along_axis(x, numpy.array([[0, 0], [2, 1]]), axis=1),
        lambda x: numpy.take_along_axis(x, numpy.array([[0, 0], [2, 1]]), axis=1),
        rand(2, 3),
    ),
    "getitem_of_where_indices": (
        lambda x: ops.convert_to_tensor(x)[ops.where(ops.greater(MASK, 0))],
        lambda x: x[numpy.nonzero(MASK)],
        rand(2, 3),
    ),
}
MASK = numpy.array([[1, 0, 1], [0, 0, 1]])
ONE_INPUT = {**UNARY, **REDUCTIONS, **SHAPES}


@pytest.mark.parametrize("name", sorted(ONE_INPUT))
def test_one_input_ops_against_numpy(backend, name):
    op, reference, x = ONE_INPUT[name]
    result = op(x.astype("float32"))
    assert isinstance(result, engine.Tensor) and result.backend is backend
    assert result.dtype == "float32"
    numpy.testing.assert_allclose(result.numpy(), reference(x), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(ONE_INPUT))
def test_one_input_op_gradients(backend, float64, name):
    op, reference, x = ONE_INPUT[name]
    numpy.testing.assert_allclose(op(x).numpy(), reference(x), rtol=1e-10, atol=1e-12)
    check_gradients(op, x, backend=backend, rtol=1e-4 if "moments" in name else 1e-5)


EINSUM = {
    "matrix_product": ("ij,jk->ik", (3, 4), (4, 2)),
    "batch_matmul": ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    "ellipsis_matmul": ("...ij,...jk->...ik", (2, 3, 4), (4, 5)),
    "ellipsis_broadcast": ("...ij,...jk", (2, 1, 3, 4), (3, 4, 2)),
    "attention_scores": ("bqhd,bkhd->bhqk", (2, 3, 2, 4), (2, 5, 2, 4)),
    "implicit_matmul": ("ij,jk", (3, 4), (4, 2)),
    "outer": ("i,j->ij", (3,), (4,)),
    "inner": ("i,i->", (5,), (5,)),
    "transpose": ("ij->ji", (3, 4)),
    "permute": ("abc->cab", (2, 3, 4)),
    "trace": ("ii->", (4, 4)),
    "diagonal": ("ii->i", (4, 4)),
    "sum_all": ("ij->", (3, 4)),
    "sum_rows": ("ij->i", (3, 4)),
    "bilinear": ("bi,ij,bj->b", (2, 3), (3, 4), (2, 4)),
    "weighted_sum_unshared_axis": ("ij,k->i", (3, 4), (2,)),
    "batch_diagonal_times": ("bii,bi->bi", (2, 3, 3), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(EINSUM))
def test_einsum_against_numpy_and_gradients(backend, float64, name):
    subscripts, *shapes = EINSUM[name]
    arrays = [rand(*s) for s in shapes]
    result = ops.einsum(subscripts, *[a.astype("float32") for a in arrays])
    assert result.dtype == "float32"
    expected = numpy.einsum(subscripts, *arrays)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-5)
    check_gradients(lambda *ts: ops.einsum(subscripts, *ts), *arrays, backend=backend)


def test_einsum_bad_subscripts_name_the_problem(backend):
    with pytest.raises(ValueError, match="einsum: subscripts 'ij,jk->ik' name 2.*3"):
        ops.einsum("ij,jk->ik", rand(2, 3), rand(3, 2), rand(2))
    with pytest.raises(ValueError, match="einsum: subscript 'j' has size 3 .* 4"):
        ops.einsum("ij,jk->ik", rand(2, 3), rand(4, 2))
    with pytest.raises(ValueError, match="einsum: operand 0 has shape \\(2, 3\\)"):
        ops.einsum("ijk->i", rand(2, 3))


# -- ops outside the graph ----------------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore:invalid value:RuntimeWarning", "ignore:divide by zero:RuntimeWarning"
)
def test_integer_and_boolean_results_against_numpy(backend):
    x = rand(3, 4).astype("float32")
    t = ops.convert_to_tensor(x)
    cases = {
        "argmax": (ops.argmax(t, axis=1), x.argmax(axis=1)),
        "argmax_flat": (ops.argmax(t), x.argmax()),
        "argmin_keepdims": (ops.argmin(t, axis=0, keepdims=True), x.argmin(axis=0, keepdims=True)),
        "equal": (ops.equal(t, t[0]), x == x[0]),
        "not_equal": (ops.not_equal(t, 0.5), x != 0.5),
        "greater": (ops.greater(t, 0), x > 0),
        "greater_equal": (ops.greater_equal(t, x[:, :1]), x >= x[:, :1]),
        "less": (ops.less(t, 0), x < 0),
        "less_equal": (ops.less_equal(t, 0.1), x <= 0.1),
        "logical_and": (ops.logical_and(t > 0, t < 0.5), (x > 0) & (x < 0.5)),
        "logical_or": (ops.logical_or(t > 0.5, t < -0.5), (x > 0.5) | (x < -0.5)),
        "logical_xor": (ops.logical_xor(t > 0, t > 0.5), (x > 0) ^ (x > 0.5)),
        "logical_not": (ops.logical_not(t > 0), ~(x > 0)),
        "any": (ops.any(t > 0.5, axis=1), (x > 0.5).any(axis=1)),
        "all": (ops.all(t > -2), True),
        "sign": (ops.sign(t), numpy.sign(x)),
        "floor": (ops.floor(t * 3), numpy.floor(x * 3)),
        "ceil": (ops.ceil(t * 3), numpy.ceil(x * 3)),
        "round": (ops.round(t * 3), numpy.round(x * 3)),
        "round_decimals": (ops.round(t, 1), numpy.round(x, 1)),
        "floor_divide": (ops.floor_divide(t, 0.3), x // numpy.float32(0.3)),
        "mod": (ops.mod(t, 0.3), x % numpy.float32(0.3)),
        "isnan": (ops.isnan(ops.log(t)), numpy.isnan(numpy.log(numpy.where(x > 0, x, -1)))),
        "isfinite": (ops.isfinite(ops.divide(1.0, t > 0)), x > 0),
        "isinf": (ops.isinf(ops.divide(1.0, t > 0)), x <= 0),
    }
    for name, (result, expected) in cases.items():
        assert isinstance(result, engine.Tensor) and result.backend is backend, name
        numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-6, err_msg=name)


def test_integer_ops_stay_integer(backend):
    x = numpy.array([[3, -1, 4], [1, 5, -9]], dtype="int32")
    checks = {
        "sum": (ops.sum(x, axis=0), x.sum(axis=0)),
        "prod": (ops.prod(x), x.prod()),
        "cumsum": (ops.cumsum(x, axis=1), x.cumsum(axis=1)),
        "max": (ops.max(x), x.max()),
        "abs": (ops.abs(x), numpy.abs(x)),
        "square": (ops.square(x), x * x),
        "relu": (ops.relu(x), numpy.maximum(x, 0)),
        "add": (ops.add(x, 2), x + 2),
        "multiply": (ops.multiply(x, x), x * x),
        "power": (ops.power(x, 2), x**2),
        "floor_divide": (ops.floor_divide(x, 2), x // 2),
        "mod": (ops.mod(x, 4), x % 4),
        "maximum": (ops.maximum(x, 0), numpy.maximum(x, 0)),
        "clip": (ops.clip(x, -2, 2), numpy.clip(x, -2, 2)),
        "sign": (ops.sign(x), numpy.sign(x)),
        "round": (ops.round(x), x),
        "matmul": (ops.matmul(x, x.T), x @ x.T),
        "einsum": (ops.einsum("ij,ij->i", x, x), (x * x).sum(axis=1)),
        "take": (ops.take(x, [2, 0], axis=1), x[:, [2, 0]]),
        "flip": (ops.flip(x), numpy.flip(x)),
    }
    for name, (result, expected) in checks.items():
        assert result.dtype == "int32", (name, result.dtype)
        numpy.testing.assert_array_equal(result.numpy(), expected, err_msg=name)


# -- dtypes and Python types, as Keras 3 gives them --------------------------------------

I32 = numpy.array([1, 2, 3], dtype="int32")
I64 = numpy.array([1, 2, 3], dtype="int64")
F32 = numpy.array([1.0, 2.0, 3.0], dtype="float32")
F64 = numpy.array([1.0, 2.0, 3.0], dtype="float64")
B = numpy.array([True, False, True])

# (call, expected dtype) as read from keras.ops on Keras 3.15 (PyTorch backend),
# except float64 inputs, which Keras computes in float32 and we keep in float64
DTYPES = [
    (lambda: ops.convert_to_tensor([1, 2]), "int32"),
    (lambda: ops.convert_to_tensor([1.0, 2.0]), "float32"),
    (lambda: ops.convert_to_tensor([1, 2.5]), "float32"),
    (lambda: ops.convert_to_tensor(I64), "int64"),
    (lambda: ops.convert_to_tensor(F64), "float64"),
    (lambda: ops.convert_to_tensor(1.5), "float32"),
    (lambda: ops.convert_to_tensor(3), "int32"),
    (lambda: ops.convert_to_tensor(True), "bool"),
    (lambda: ops.convert_to_tensor(numpy.float64(1.0)), "float32"),
    (lambda: ops.convert_to_tensor([1, 2], dtype="float32"), "float32"),
    (lambda: ops.add(I32, 1.5), "float32"),
    (lambda: ops.add(I32, 2), "int32"),
    (lambda: ops.add(F32, 2), "float32"),
    (lambda: ops.add(I32, F32), "float32"),
    (lambda: ops.add(I64, F32), "float32"),
    (lambda: ops.add(F64, F32), "float64"),
    (lambda: ops.add(I32, I64), "int64"),
    (lambda: ops.add(B, B), "bool"),
    (lambda: ops.add(B, 1), "int32"),
    (lambda: ops.add(B, I32), "int32"),
    (lambda: ops.add(B, 1.5), "float32"),
    (lambda: ops.add(I32, numpy.float32(2)), "float32"),
    (lambda: ops.add(F32, numpy.float64(2)), "float32"),
    (lambda: ops.multiply(F64, 2.0), "float64"),
    (lambda: ops.divide(I32, I32), "float32"),
    (lambda: ops.divide(I32, 2), "float32"),
    (lambda: ops.divide(F64, 2), "float64"),
    (lambda: ops.floor_divide(I32, 2), "int32"),
    (lambda: ops.power(I32, 2), "int32"),
    (lambda: ops.power(I32, 1.5), "float32"),
    (lambda: ops.maximum(I32, 1.5), "float32"),
    (lambda: ops.minimum(I32, 2), "int32"),
    (lambda: ops.exp(I32), "float32"),
    (lambda: ops.exp(F64), "float64"),
    (lambda: ops.sqrt(I64), "float32"),
    (lambda: ops.sigmoid(B), "float32"),
    (lambda: ops.erf(I32), "float32"),
    (lambda: ops.square(I32), "int32"),
    (lambda: ops.square(B), "int32"),
    (lambda: ops.abs(I64), "int64"),
    (lambda: ops.relu(I32), "int32"),
    (lambda: ops.floor(I32), "float32"),
    (lambda: ops.ceil(I32), "float32"),
    (lambda: ops.round(I32), "int32"),
    (lambda: ops.sign(I32), "int32"),
    (lambda: ops.sum(I32), "int32"),
    (lambda: ops.sum(I64), "int64"),
    (lambda: ops.sum(B), "int32"),
    (lambda: ops.sum(F64), "float64"),
    (lambda: ops.mean(I32), "float32"),
    (lambda: ops.mean(B), "float32"),
    (lambda: ops.mean(F64), "float64"),
    (lambda: ops.max(I32), "int32"),
    (lambda: ops.max(B), "bool"),
    (lambda: ops.argmax(F32), "int32"),
    (lambda: ops.argmax(I64), "int32"),
    (lambda: ops.argmin(F64), "int32"),
    (lambda: ops.prod(I32), "int32"),
    (lambda: ops.prod(B), "int32"),
    (lambda: ops.std(I32), "float32"),
    (lambda: ops.var(F64), "float64"),
    (lambda: ops.cumsum(I32), "int32"),
    (lambda: ops.cumsum(B), "int32"),
    (lambda: ops.any(I32), "bool"),
    (lambda: ops.logsumexp(I32), "float32"),
    (lambda: ops.norm(I32), "float32"),
    (lambda: ops.norm(F64), "float64"),
    (lambda: ops.full((2,), 1.5), "float32"),
    (lambda: ops.full((2,), 1), "float32"),
    (lambda: ops.full((2,), True), "float32"),
    (lambda: ops.full((2,), 7, dtype="int32"), "int32"),
    (lambda: ops.zeros((2,)), "float32"),
    (lambda: ops.ones((2,)), "float32"),
    (lambda: ops.zeros_like(I32), "int32"),
    (lambda: ops.ones_like(B), "bool"),
    (lambda: ops.full_like(I32, 1.5), "int32"),
    (lambda: ops.zeros_like(F32, dtype="float64"), "float64"),
    (lambda: ops.arange(5), "int32"),
    (lambda: ops.arange(0.0, 5), "float32"),
    (lambda: ops.arange(0, 5, 0.5), "float32"),
    (lambda: ops.eye(3), "float32"),
    (lambda: ops.one_hot(I32, 4), "float32"),
    (lambda: ops.one_hot(I32, 4, dtype="int32"), "int32"),
    (lambda: ops.clip(I32, 0, 1), "int32"),
    (lambda: ops.clip(I32, 0.5, 1.5), "float32"),
    (lambda: ops.clip(F64, 0, 1), "float64"),
    (lambda: ops.where(B, I32, 1.5), "float32"),
    (lambda: ops.where(B, 1, 2), "int32"),
    (lambda: ops.where(B, 1.0, 2.0), "float32"),
    (lambda: ops.matmul(I32, I32), "int32"),
    (lambda: ops.matmul(I32, F32), "float32"),
    (lambda: ops.dot(I32, I32), "int32"),
    (lambda: ops.concatenate([I32, F32]), "float32"),
    (lambda: ops.stack([I32, F64]), "float64"),
    (lambda: ops.equal(F32, 1), "bool"),
    (lambda: ops.logical_and(I32, I32), "bool"),
    (lambda: ops.isnan(I32), "bool"),
    (lambda: ops.cast(F32, "int32"), "int32"),
    (lambda: ops.take(F32, [0, 1]), "float32"),
    (lambda: ops.repeat(I32, 2), "int32"),
    (lambda: ops.tile(I32, 2), "int32"),
    (lambda: ops.stop_gradient(F32), "float32"),
    (lambda: ops.moments(I32, axes=[0])[1], "float32"),
]


@pytest.mark.parametrize("index", range(len(DTYPES)))
def test_result_dtypes_follow_keras(backend, index):
    call, expected = DTYPES[index]
    result = call()
    assert isinstance(result, engine.Tensor) and result.backend is backend
    assert result.dtype == expected


def test_python_types_follow_keras(backend):
    x = ops.ones((4, 2))
    assert ops.shape(x) == (4, 2) and type(ops.shape(x)) is tuple
    assert all(type(s) is int for s in ops.shape(x))
    assert ops.shape(numpy.zeros((2, 3))) == (2, 3)
    assert ops.ndim(x) == 2 and type(ops.ndim(x)) is int
    pieces = ops.split(x, 2)
    assert type(pieces) is list and [p.shape for p in pieces] == [(2, 2), (2, 2)]
    assert [p.shape for p in ops.split(numpy.ones(5), [1, 3])] == [(1,), (2,), (2,)]
    mean, variance = ops.moments(x, axes=[0])
    assert mean.shape == variance.shape == (2,)
    indices = ops.where(ops.convert_to_tensor([[True, False], [True, True]]))
    assert type(indices) is tuple and [i.dtype for i in indices] == ["int32", "int32"]
    numpy.testing.assert_array_equal(indices[1].numpy(), [0, 0, 1])
    assert isinstance(ops.convert_to_numpy(x), numpy.ndarray)
    assert isinstance(ops.convert_to_numpy([1, 2]), numpy.ndarray)
    assert ops.argmax(numpy.array([[1, 5], [7, 2]])).item() == 2
    assert ops.argmax(numpy.array([[1, 5], [7, 2]]), keepdims=True).shape == (1, 1)


def test_creation_values(backend):
    assert ops.zeros(3).numpy().tolist() == [0, 0, 0]
    assert ops.ones((2, 1)).shape == (2, 1)
    numpy.testing.assert_array_equal(ops.full((2, 2), 1.5).numpy(), numpy.full((2, 2), 1.5))
    numpy.testing.assert_array_equal(ops.full((2, 3), [1, 2, 3]).numpy()[1], [1, 2, 3])
    numpy.testing.assert_array_equal(ops.arange(2, 5).numpy(), [2, 3, 4])
    numpy.testing.assert_allclose(ops.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    numpy.testing.assert_array_equal(ops.eye(2, 3, k=1).numpy(), numpy.eye(2, 3, k=1))
    numpy.testing.assert_array_equal(
        ops.one_hot([-1, 0, 2], 3).numpy(), [[0, 0, 0], [1, 0, 0], [0, 0, 1]]
    )
    assert ops.one_hot([[1, 2]], 3, axis=0).shape == (3, 1, 2)
    numpy.testing.assert_array_equal(ops.one_hot([[1, 2]], 3, axis=0).numpy()[:, 0, 1], [0, 0, 1])
    for made in (ops.zeros(2), ops.arange(3), ops.eye(2), ops.full((1,), 2.0)):
        assert made.backend is backend


# -- inputs, autograd and the graph ------------------------------------------------------


def test_inputs_may_be_arrays_lists_and_scalars(backend):
    result = ops.add([1.0, 2.0], numpy.array([3.0, 4.0], dtype="float32"))
    assert result.backend is backend and result.numpy().tolist() == [4.0, 6.0]
    assert ops.multiply(2, 3).item() == 6 and ops.multiply(2, 3).dtype == "int32"
    assert ops.mean([[1, 2], [3, 4]], axis=0).numpy().tolist() == [2.0, 3.0]
    assert ops.concatenate([[1.0], numpy.array([2.0], dtype="float32")]).shape == (2,)


def test_convert_to_tensor_then_requires_grad_and_backward(backend):
    t = ops.convert_to_tensor(numpy.array([1.0, 2.0, 3.0], dtype="float32"))
    t.requires_grad = True
    w = ops.convert_to_tensor([[0.5], [-1.0], [2.0]])
    loss = ops.mean(ops.square(ops.matmul(ops.expand_dims(t, 0), w)))
    loss.backward()
    assert t.grad is not None and t.grad.dtype == "float32"
    # d/dt (t.w)^2 = 2 (t.w) w
    numpy.testing.assert_allclose(t.grad.numpy(), 2 * 4.5 * numpy.array([0.5, -1.0, 2.0]))
    assert ops.convert_to_tensor(t) is t


def test_stop_gradient_blocks_the_gradient(backend):
    t = ops.convert_to_tensor([1.0, 2.0])
    t.requires_grad = True
    loss = ops.sum(ops.multiply(t, ops.stop_gradient(t)))
    loss.backward()
    numpy.testing.assert_allclose(t.grad.numpy(), [1.0, 2.0])


def test_cast_between_floats_keeps_the_gradient_and_its_dtype(backend):
    t = ops.convert_to_tensor([1.0, 2.0])
    t.requires_grad = True
    ops.sum(ops.square(ops.cast(t, "float64"))).backward()
    assert t.grad.dtype == "float32"
    numpy.testing.assert_allclose(t.grad.numpy(), [2.0, 4.0])
    assert not ops.cast(t, "int32").requires_grad


def test_gradient_flows_into_a_float64_tensor_mixed_with_float32(backend):
    t = ops.convert_to_tensor(numpy.array([1.0, 2.0]))
    t.requires_grad = True
    y = ops.multiply(t, ops.ones((2,)))
    assert y.dtype == "float64"
    ops.sum(y).backward()
    numpy.testing.assert_allclose(t.grad.numpy(), [1.0, 1.0])


def test_split_pieces_carry_gradients(backend, float64):
    check_gradients(lambda x: ops.concatenate(ops.split(x, 2, axis=1)[::-1], axis=1), rand(2, 4))


# -- errors name the function and the argument ---------------------------------------------


def test_errors_name_the_function_and_the_argument(backend):
    x = ops.ones((2, 3))
    with pytest.raises(
        ValueError, match="split: cannot split axis 0 of size 5 .*indices_or_sections=2 equal"
    ):
        ops.split(ops.ones(5), 2)
    with pytest.raises(
        ValueError, match=r"reshape: cannot reshape .* \(2, 3\) \(6 elements\).*\(4,\)"
    ):
        ops.reshape(x, (4,))
    with pytest.raises(ValueError, match="reshape: .*newshape \\(-1, -1\\)"):
        ops.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="squeeze: axis 0 .* has size 2"):
        ops.squeeze(x, 0)
    with pytest.raises(ValueError, match="matmul: .*last axis of x1 \\(3\\).*x2 \\(2\\)"):
        ops.matmul(x, x)
    with pytest.raises(ValueError, match="add: x1 of shape \\(2, 3\\) and x2 of shape \\(2,\\)"):
        ops.add(x, [1.0, 2.0])
    with pytest.raises(ValueError, match="sum: axis=2 is out of range .* rank 2"):
        ops.sum(x, axis=2)
    with pytest.raises(ValueError, match="transpose: axes=\\(0, 0\\)"):
        ops.transpose(x, (0, 0))
    with pytest.raises(ValueError, match="concatenate: xs\\[1\\] has shape \\(2, 2\\).*\\(2, 3\\)"):
        ops.concatenate([x, ops.ones((2, 2))], axis=0)
    with pytest.raises(ValueError, match="stack: xs\\[1\\] has shape"):
        ops.stack([x, ops.ones((3, 2))])
    with pytest.raises(ValueError, match="where: give both x1 and x2"):
        ops.where(x > 0, x)
    with pytest.raises(
        ValueError, match="broadcast_to: .*\\(2, 3\\) cannot broadcast to \\(3, 3\\)"
    ):
        ops.broadcast_to(x, (3, 3))
    with pytest.raises(ValueError, match="max: cannot reduce an empty axis"):
        ops.max(ops.zeros((0,)))
    with pytest.raises(TypeError, match="take: indices must be integers"):
        ops.take(x, [0.5])
    with pytest.raises(ValueError, match="norm: ord='nuc' is not a vector norm"):
        ops.norm(ops.ones(3), ord="nuc")
    with pytest.raises(ValueError, match="Unknown dtype 'float7'"):
        ops.cast(x, "float7")


def test_max_with_initial_on_an_empty_tensor(backend):
    assert ops.max(ops.zeros((0,)), initial=2.0).item() == 2.0


@pytest.mark.skipif(len(backends.available()) < 2, reason="needs two backends")
def test_ops_on_tensors_of_two_backends_name_both():
    first, second = backends.available()[:2]
    a = engine.tensor([1.0, 2.0], backend=first)
    b = engine.tensor([1.0, 2.0], backend=second)
    pattern = (
        f"add: x1 is on backend '{first}' but x2 is on backend '{second}'.*x2.to\\('{first}'\\)"
    )
    with pytest.raises(backends.BackendMismatchError, match=pattern):
        ops.add(a, b)
    with pytest.raises(backends.BackendMismatchError, match="concatenate: xs\\[0\\].*xs\\[1\\]"):
        ops.concatenate([a, b])
    with pytest.raises(backends.BackendMismatchError, match="einsum: operands\\[0\\]"):
        ops.einsum("i,i->", a, b)
    with pytest.raises(backends.BackendMismatchError, match="where: condition .* x1"):
        ops.where(a > 0, b, 0.0)
    with pytest.raises(backends.BackendMismatchError, match="take: x .* indices"):
        ops.take(a, engine.tensor([0], backend=second))
