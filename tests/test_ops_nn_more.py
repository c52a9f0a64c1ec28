"""``engine.ops_nn``'s Keras 3 activations, cross-entropies, ``multi_hot`` and
``dot_product_attention``: values against NumPy formulas, gradients against finite
differences, dtypes and errors.

The NumPy formulas were checked against Keras 3.15 on JAX (``keras.ops``) on the same
inputs: float32 results agree to 1e-6.
"""

import math

import numpy
import pytest

import engine
from engine.ops_nn import (
    binary_crossentropy,
    categorical_crossentropy,
    celu,
    dot_product_attention,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    multi_hot,
    normalize,
    relu6,
    soft_shrink,
    softsign,
    sparse_categorical_crossentropy,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
    tanh_shrink,
    threshold,
)
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(0)
EPSILON = 1e-7  # Keras's epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]

#: values on and around the kinks (0, +-0.5, +-1, +-3, 6) for the value tests
EDGES = numpy.array([[-7.0, -3.0, -2.0, -1.0], [-0.5, -0.2, 0.0, 0.3], [0.5, 1.0, 3.0, 6.0]])
#: values away from every kink, for the gradient checks
SMOOTH = numpy.array([[-4.3, -2.7, -1.6, -0.8], [-0.3, 0.2, 0.7, 1.4], [2.6, 4.1, 6.8, -5.2]])


def _sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def _hard_sigmoid(x):
    return numpy.clip(x / 6 + 0.5, 0, 1)


def _celu(x, alpha=1.0):
    return numpy.maximum(x, 0) + alpha * numpy.expm1(numpy.minimum(x, 0) / alpha)


def _soft_shrink(x, t=0.5):
    return numpy.where(x > t, x - t, numpy.where(x < -t, x + t, 0.0))


def _sparse_plus(x):
    return numpy.where(x <= -1, 0.0, numpy.where(x < 1, (x + 1) ** 2 / 4, x))


# name: (op, NumPy formula)
ACTIVATIONS = {
    "relu6": (relu6, lambda x: numpy.clip(x, 0, 6)),
    "hard_sigmoid": (hard_sigmoid, _hard_sigmoid),
    "hard_silu": (hard_silu, lambda x: x * _hard_sigmoid(x)),
    "hard_swish": (hard_swish, lambda x: x * _hard_sigmoid(x)),
    "softsign": (softsign, lambda x: x / (1 + numpy.abs(x))),
    "celu": (celu, _celu),
    "celu_alpha": (lambda x: celu(x, alpha=0.5), lambda x: _celu(x, 0.5)),
    "glu": (glu, lambda x: x[:, :2] * _sigmoid(x[:, 2:])),
    "glu_axis0": (
        lambda x: glu(x[:2], axis=0),
        lambda x: x[:1] * _sigmoid(x[1:2]),
    ),
    "hard_tanh": (hard_tanh, lambda x: numpy.clip(x, -1, 1)),
    "hard_shrink": (hard_shrink, lambda x: numpy.where(numpy.abs(x) > 0.5, x, 0.0)),
    "hard_shrink_2": (
        lambda x: hard_shrink(x, threshold=2.0),
        lambda x: numpy.where(numpy.abs(x) > 2.0, x, 0.0),
    ),
    "soft_shrink": (soft_shrink, _soft_shrink),
    "soft_shrink_1.5": (lambda x: soft_shrink(x, 1.5), lambda x: _soft_shrink(x, 1.5)),
    "tanh_shrink": (tanh_shrink, lambda x: x - numpy.tanh(x)),
    "squareplus": (squareplus, lambda x: (x + numpy.sqrt(x * x + 4)) / 2),
    "squareplus_b1": (lambda x: squareplus(x, b=1), lambda x: (x + numpy.sqrt(x * x + 1)) / 2),
    "sparse_plus": (sparse_plus, _sparse_plus),
    "sparse_sigmoid": (sparse_sigmoid, lambda x: numpy.clip((x + 1) / 2, 0, 1)),
    "threshold": (
        lambda x: threshold(x, 0.25, -2.0),
        lambda x: numpy.where(x > 0.25, x, -2.0),
    ),
    "normalize": (normalize, lambda x: x / numpy.linalg.norm(x, axis=-1, keepdims=True)),
    "normalize_axis0_order1": (
        lambda x: normalize(x, axis=0, order=1),
        lambda x: x / numpy.abs(x).sum(axis=0, keepdims=True),
    ),
    "normalize_order3": (
        lambda x: normalize(x, order=3),
        lambda x: x / (numpy.abs(x) ** 3).sum(axis=-1, keepdims=True) ** (1 / 3),
    ),
    "normalize_two_axes": (
        lambda x: normalize(x, axis=(0, 1)),
        lambda x: x / numpy.sqrt((x * x).sum()),
    ),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values(backend, name):
    op, formula = ACTIVATIONS[name]
    result = op(EDGES.astype("float32"))
    assert result.dtype == "float32" and result.backend is backend
    numpy.testing.assert_allclose(result.numpy(), formula(EDGES), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(backend, float64, name):
    op, formula = ACTIVATIONS[name]
    numpy.testing.assert_allclose(op(SMOOTH).numpy(), formula(SMOOTH), rtol=1e-12, atol=1e-12)
    check_gradients(op, SMOOTH, backend=backend)


@pytest.mark.parametrize(
    "op, x, expected",
    [
        (relu6, [0.0, 6.0], [0.0, 0.0]),
        (hard_sigmoid, [-3.0, 3.0], [0.0, 0.0]),
        (hard_silu, [-3.0, 3.0], [0.0, 1.0]),
        (celu, [0.0], [1.0]),
        (sparse_sigmoid, [-1.0, 1.0], [0.25, 0.25]),
        (hard_tanh, [-1.0, 1.0], [1.0, 1.0]),
    ],
    ids=["relu6", "hard_sigmoid", "hard_silu", "celu", "sparse_sigmoid", "hard_tanh"],
)
def test_gradients_at_the_kinks_are_keras_jax_ones(backend, op, x, expected):
    x = engine.tensor(x, requires_grad=True)
    op(x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), expected)


def test_integer_inputs_take_keras_jax_dtypes(backend):
    x = numpy.array([-3, -1, 0, 2, 7], dtype="int32")
    assert relu6(x).dtype == "float32" and sparse_plus(x).dtype == "float32"
    clipped = hard_tanh(x)
    assert clipped.dtype == "int32"
    numpy.testing.assert_array_equal(clipped.numpy(), numpy.clip(x, -1, 1))
    assert threshold(x, 1, 0).dtype == "int32"
    numpy.testing.assert_array_equal(threshold(x, 1, 0.5).numpy(), numpy.where(x > 1, x, 0.5))
    assert threshold(x, 1, 0.5).dtype == "float32"


def test_normalize_keeps_zero_rows_finite_and_lifts_a_scalar(backend):
    x = numpy.array([[0.0, 0.0], [3.0, 4.0]], dtype="float32")
    numpy.testing.assert_allclose(normalize(x).numpy(), [[0, 0], [0.6, 0.8]], rtol=1e-6)
    numpy.testing.assert_allclose(normalize(x, order=1).numpy(), [[0, 0], [3 / 7, 4 / 7]])
    assert normalize(2.0).shape == (1,)


# -- cross-entropies ------------------------------------------------------------------


def _log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=axis, keepdims=True))


def _bce(t, p):
    p = numpy.clip(p, EPSILON, 1 - EPSILON)
    return -(t * numpy.log(p) + (1 - t) * numpy.log(1 - p))


def _bce_logits(t, z):
    return -(t * numpy.log(_sigmoid(z)) + (1 - t) * numpy.log(_sigmoid(-z)))


def _cce(t, p, axis=-1):
    p = numpy.clip(p / p.sum(axis=axis, keepdims=True), EPSILON, 1 - EPSILON)
    return -(t * numpy.log(p)).sum(axis=axis)


def _pick(values, labels):
    return numpy.take_along_axis(values, labels[:, None], axis=-1)[:, 0]


LABELS = numpy.array([0, 4, 2])
TARGETS = rng.uniform(0, 1, (3, 5))
# name: (op, NumPy formula, target, output)
CROSSENTROPIES = {
    "binary": (binary_crossentropy, _bce, TARGETS, None),
    "binary_logits": (
        lambda t, z: binary_crossentropy(t, z, from_logits=True),
        _bce_logits,
        TARGETS,
        rng.normal(0, 3, (3, 5)),
    ),
    "categorical": (categorical_crossentropy, _cce, TARGETS, None),
    "categorical_logits": (
        lambda t, z: categorical_crossentropy(t, z, from_logits=True),
        lambda t, z: -(t * _log_softmax(z)).sum(axis=-1),
        TARGETS,
        rng.normal(0, 3, (3, 5)),
    ),
    "categorical_axis0": (
        lambda t, p: categorical_crossentropy(t, p, axis=0),
        lambda t, p: _cce(t, p, axis=0),
        TARGETS,
        None,
    ),
    "sparse": (
        sparse_categorical_crossentropy,
        lambda t, p: -numpy.log(_pick(p / p.sum(axis=-1, keepdims=True), t)),
        LABELS,
        None,
    ),
    "sparse_logits": (
        lambda t, z: sparse_categorical_crossentropy(t[:, None], z, from_logits=True),
        lambda t, z: -_pick(_log_softmax(z), t),
        LABELS,
        rng.normal(0, 3, (3, 5)),
    ),
}


def _crossentropy_inputs(name):
    op, formula, target, output = CROSSENTROPIES[name]
    if output is None:  # probabilities away from the clipping bounds
        output = rng.uniform(0.05, 0.95, target.shape if target.ndim == 2 else (3, 5))
    return op, formula, target, output


@pytest.mark.parametrize("name", sorted(CROSSENTROPIES))
def test_crossentropy_values(backend, name):
    op, formula, target, output = _crossentropy_inputs(name)
    result = op(target, output.astype("float32"))
    assert result.dtype == "float32" and result.backend is backend
    numpy.testing.assert_allclose(result.numpy(), formula(target, output), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(CROSSENTROPIES))
def test_crossentropy_gradients(backend, float64, name):
    op, formula, target, output = _crossentropy_inputs(name)
    numpy.testing.assert_allclose(op(target, output).numpy(), formula(target, output), rtol=1e-12)
    check_gradients(op, target, output, backend=backend)  # both, where the target is float
    if target.dtype.kind == "f":  # the fused ops of a constant target
        check_gradients(op, target, output, backend=backend, wrt=[1])


def test_crossentropies_clip_probabilities_as_keras(backend):
    target = numpy.array([[1.0, 0.0], [0.0, 1.0]], dtype="float32")
    output = numpy.array([[0.0, 1.0], [1.0, 0.0]], dtype="float32")
    worst = -math.log(EPSILON)
    # Keras's float32 numbers: 1 - (1 - 1e-7) rounds to 1.19e-7 in float32
    numpy.testing.assert_allclose(
        binary_crossentropy(target, output).numpy(), _bce(target, output), rtol=1e-6
    )
    assert binary_crossentropy(target, output).numpy().max() == pytest.approx(worst)
    numpy.testing.assert_allclose(categorical_crossentropy(target, output).numpy(), [worst] * 2)
    numpy.testing.assert_allclose(
        sparse_categorical_crossentropy([0, 1], output).numpy(), [worst] * 2
    )


# -- multi_hot ------------------------------------------------------------------------------


def _multi_hot(labels, num_classes, axis=-1):
    """Keras 3's encoding: one-hot along ``axis``, the maximum over axis 1 (0 for 1-D)."""
    hot = (labels[..., None] == numpy.arange(num_classes)).astype("float32")
    hot = numpy.moveaxis(hot, -1, axis)
    return hot.max(axis=1 if labels.ndim > 1 else 0)


@pytest.mark.parametrize(
    "labels, axis",
    [([[0, 3, 3, -1], [2, 2, 1, 0]], -1), ([1, 4, 1], -1), ([[0, 3], [2, 2]], 0)],
    ids=["batch", "one_sample", "axis0"],
)
def test_multi_hot(backend, labels, axis):
    labels = numpy.array(labels, dtype="int32")
    result = multi_hot(labels, 5, axis=axis)
    assert result.dtype == "float32" and result.backend is backend
    numpy.testing.assert_array_equal(result.numpy(), _multi_hot(labels, 5, axis))
    assert multi_hot(labels, num_tokens=5, dtype="int32").dtype == "int32"


# -- dot_product_attention ------------------------------------------------------------------


def _attention(q, k, v, bias=None, mask=None, scale=None, causal=False, cap=None):
    """Keras 3's dot_product_attention in NumPy: (batch, length, heads, dim) inputs."""
    groups = q.shape[2] // k.shape[2]
    k, v = numpy.repeat(k, groups, axis=2), numpy.repeat(v, groups, axis=2)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = numpy.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        scores = scores + bias
    if cap is not None:
        scores = cap * numpy.tanh(scores / cap)
    allowed = numpy.ones(scores.shape, bool)
    if mask is not None:
        allowed = allowed & mask
    if causal:
        allowed = allowed & numpy.tri(scores.shape[2], scores.shape[3], dtype=bool)
    scores = numpy.where(allowed, scores, -0.7 * numpy.finfo(scores.dtype).max)
    weights = numpy.exp(_log_softmax(scores))
    return numpy.einsum("bnts,bsnh->btnh", weights, v)


def _attention_inputs():
    q = rng.normal(size=(2, 3, 4, 5))
    k, v = rng.normal(size=(2, 4, 2, 5)), rng.normal(size=(2, 4, 2, 5))  # 2 groups of heads
    mask = rng.uniform(size=(2, 1, 3, 4)) > 0.4
    mask[0, 0, 1] = False  # a query left no key: uniform weights, as Keras
    bias = rng.normal(size=(1, 4, 3, 4))
    return q, k, v, mask, bias


Q, K, V, MASK, BIAS = _attention_inputs()
# name: keyword arguments of dot_product_attention and _attention (bias: BIAS as an input)
ATTENTION = {
    "plain": {},
    "mask": {"mask": MASK},
    "causal_scale": {"is_causal": True, "scale": 0.3},
    "mask_causal": {"mask": MASK, "is_causal": True},
    "bias": {"bias": True},
    "bias_mask": {"bias": True, "mask": MASK},
    "soft_cap_causal": {"attn_logits_soft_cap": 2.0, "is_causal": True},
}


def _attention_call(name):
    kwargs = dict(ATTENTION[name])
    reference = {
        "mask": kwargs.get("mask"),
        "scale": kwargs.get("scale"),
        "causal": kwargs.get("is_causal", False),
        "cap": kwargs.get("attn_logits_soft_cap"),
    }
    if kwargs.pop("bias", False):
        return (
            lambda q, k, v, b: dot_product_attention(q, k, v, bias=b, **kwargs),
            lambda q, k, v, b: _attention(q, k, v, bias=b, **reference),
            (Q, K, V, BIAS),
        )
    return (
        lambda q, k, v: dot_product_attention(q, k, v, **kwargs),
        lambda q, k, v: _attention(q, k, v, **reference),
        (Q, K, V),
    )


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_dot_product_attention_values(backend, name):
    op, reference, inputs = _attention_call(name)
    result = op(*[a.astype("float32") for a in inputs])
    assert result.shape == Q.shape and result.dtype == "float32" and result.backend is backend
    numpy.testing.assert_allclose(result.numpy(), reference(*inputs), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_dot_product_attention_gradients(backend, float64, name):
    op, reference, inputs = _attention_call(name)
    numpy.testing.assert_allclose(op(*inputs).numpy(), reference(*inputs), rtol=1e-10, atol=1e-12)
    check_gradients(op, *inputs, backend=backend)


def test_dot_product_attention_promotes_dtypes(backend):
    out = dot_product_attention(Q.astype("float32"), K, V.astype("float32"))
    assert out.dtype == "float64"


# -- errors ---------------------------------------------------------------------------


ERRORS = {
    "relu6": (lambda: relu6(["a"]), TypeError, "relu6: x must hold numbers"),
    "hard_sigmoid": (lambda: hard_sigmoid(None), TypeError, "hard_sigmoid: x"),
    "hard_silu": (lambda: hard_silu(["a"]), TypeError, "hard_silu: x"),
    "softsign": (lambda: softsign(["a"]), TypeError, "softsign: x"),
    "celu": (lambda: celu([1.0], alpha=0), ValueError, "celu: alpha"),
    "glu": (lambda: glu(numpy.ones((2, 3))), ValueError, "glu: the size of axis 1"),
    "glu_axis": (lambda: glu(numpy.ones((2, 4)), axis=2), ValueError, "glu: axis=.*out of range"),
    "hard_tanh": (lambda: hard_tanh(["a"]), TypeError, "hard_tanh: x"),
    "hard_shrink": (lambda: hard_shrink([1.0], "big"), TypeError, "hard_shrink: threshold"),
    "soft_shrink": (lambda: soft_shrink([1.0], None), TypeError, "soft_shrink: threshold"),
    "tanh_shrink": (lambda: tanh_shrink(["a"]), TypeError, "tanh_shrink: x"),
    "squareplus": (lambda: squareplus([1.0], b=-1), ValueError, "squareplus: b must be >= 0"),
    "sparse_plus": (lambda: sparse_plus(["a"]), TypeError, "sparse_plus: x"),
    "sparse_sigmoid": (lambda: sparse_sigmoid(["a"]), TypeError, "sparse_sigmoid: x"),
    "threshold": (lambda: threshold(["a"], 0, 0), TypeError, "threshold: x"),
    "normalize": (lambda: normalize([1.0], order=0), ValueError, "normalize: order"),
    "binary_crossentropy": (
        lambda: binary_crossentropy(numpy.ones((2, 3)), numpy.ones((2, 1)) / 2),
        ValueError,
        r"binary_crossentropy: target and output must have the same shape",
    ),
    "categorical_crossentropy": (
        lambda: categorical_crossentropy(numpy.ones((2, 3)), numpy.ones((3, 3))),
        ValueError,
        r"categorical_crossentropy: target and output",
    ),
    "sparse_categorical_crossentropy": (
        lambda: sparse_categorical_crossentropy([0, 5], numpy.ones((2, 3))),
        ValueError,
        r"sparse_categorical_crossentropy: labels must be integers in \[0, 3\)",
    ),
    "sparse_shape": (
        lambda: sparse_categorical_crossentropy([0, 1, 2], numpy.ones((2, 3))),
        ValueError,
        r"sparse_categorical_crossentropy: target must have output's shape",
    ),
    "multi_hot": (lambda: multi_hot([1, 2]), ValueError, "multi_hot: num_classes"),
    "dot_product_attention": (
        lambda: dot_product_attention(Q, K[:, :, :1, :3], V),
        ValueError,
        "dot_product_attention: query, key and value need",
    ),
    "attention_rank": (
        lambda: dot_product_attention(Q[0], K[0], V[0]),
        ValueError,
        "dot_product_attention: query, key and value must be 4-D",
    ),
    "attention_heads": (
        lambda: dot_product_attention(Q[:, :, :3], K, V),
        ValueError,
        "dot_product_attention: the number of query heads",
    ),
    "attention_mask": (
        lambda: dot_product_attention(Q, K, V, mask=numpy.ones((3, 3), bool)),
        ValueError,
        r"dot_product_attention: mask of shape \(3, 3\)",
    ),
    "attention_bias": (
        lambda: dot_product_attention(Q, K, V, bias=numpy.ones((2, 2, 3, 4))),
        ValueError,
        r"dot_product_attention: bias of shape \(2, 2, 3, 4\)",
    ),
    "flash_attention": (
        lambda: dot_product_attention(Q, K, V, flash_attention=True),
        ValueError,
        "dot_product_attention: flash_attention=True is not supported",
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_name_the_function_and_the_argument(backend, name):
    call, error, message = ERRORS[name]
    with pytest.raises(error, match=message):
        call()
