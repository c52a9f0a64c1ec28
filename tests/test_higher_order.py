"""Higher-order gradients: ``backward(create_graph=True)``, ``engine.tensor.grad`` and the
ops' ``backward_graph``, checked against finite differences of lower-order gradients
(float64, every backend); input gradients through models; a WGAN-GP gradient penalty."""

import numpy
import pytest

import engine
from engine import functional as F
from engine.functional import conv_transpose, elementwise, reduction, shape
from engine.tensor import grad as autograd_grad
from tests.gradcheck import check_gradients

EPS = 1e-6


def rand(rng, *shape_, low=-1.0, high=1.0, away_from_zero=0.0):
    """Uniform values; ``away_from_zero`` keeps them off a kink at 0 (relu, abs)."""
    values = rng.uniform(low, high, shape_)
    return values + numpy.sign(values) * away_from_zero


def _gradients(fn, arrays, projection, directions, order, backend):
    """The gradient of the order-``order`` directional derivative of ``sum(projection * fn)``.

    Order 1 is the plain gradient; order k differentiates
    ``sum_i <gradient_i of order k-1, directions[k-2][i]>``, so it is the
    Hessian (of order k-1) applied to those directions.
    """
    tensors = [engine.tensor(a, requires_grad=True, backend=backend) for a in arrays]
    f = (fn(*tensors) * engine.tensor(projection, backend=backend)).sum()
    for k in range(order - 1):
        grads = autograd_grad(f, tensors, create_graph=True, allow_unused=True)
        terms = [
            (g * engine.tensor(v, backend=backend)).sum()
            for g, v in zip(grads, directions[k])
            if g is not None and g.requires_grad
        ]
        f = terms[0]
        for term in terms[1:]:
            f = f + term
    grads = autograd_grad(f, tensors, allow_unused=True)
    return [numpy.zeros_like(a) if g is None else g.numpy() for g, a in zip(grads, arrays)]


def check_higher_order(fn, *arrays, backend, order=2, rng=None, atol=1e-6, rtol=1e-5):
    """Gradients of order ``order`` equal central differences of those of order ``order - 1``."""
    rng = rng or numpy.random.default_rng(1)
    arrays = [numpy.asarray(a, dtype=numpy.float64) for a in arrays]
    with engine.no_grad():
        out_shape = fn(*[engine.tensor(a, backend=backend) for a in arrays]).shape
    projection = rng.standard_normal(out_shape)
    directions = [[rng.standard_normal(a.shape) for a in arrays] for _ in range(order - 1)]
    analytic = _gradients(fn, arrays, projection, directions, order, backend)
    step = directions[-1]
    plus = [a + EPS * v for a, v in zip(arrays, step)]
    minus = [a - EPS * v for a, v in zip(arrays, step)]
    upper = _gradients(fn, plus, projection, directions, order - 1, backend)
    lower = _gradients(fn, minus, projection, directions, order - 1, backend)
    for i, (got, high, low) in enumerate(zip(analytic, upper, lower)):
        numeric = (high - low) / (2 * EPS)
        numpy.testing.assert_allclose(
            got, numeric, atol=atol, rtol=rtol, err_msg=f"order {order}, input {i}"
        )


def _conv(x, k, b):
    return F.conv2d(x, k, b, strides=(2, 1), padding="same")


def _conv_transpose(x, k, b):
    return conv_transpose.conv2d_transpose(x, k, b, strides=(2, 2), padding="same")


def _gelu(x, approximate):
    return F.activation(x, "gelu", approximate=approximate)


# name: (fn, input shapes, rand kwargs)
CASES = {
    "add_broadcast": (lambda a, b: (a + b) * a, [(3, 4), (4,)], {}),
    "sub_broadcast": (lambda a, b: (a - b) * b, [(2, 1, 4), (3, 1)], {}),
    "mul_broadcast": (lambda a, b: a * b * b, [(3, 4), (1, 4)], {}),
    "div": (lambda a, b: a / b, [(3, 4), (4,)], {"low": 0.5, "high": 2.0}),
    "neg": (lambda x: -(x * x), [(3,)], {}),
    "pow_scalar": (lambda x: x**3 + x**2 + x**1, [(5,)], {}),
    "pow_tensor": (lambda a, b: a**b, [(3, 4), (3, 4)], {"low": 0.5, "high": 2.0}),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)], {}),
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)], {}),
    "matmul_vector_left": (lambda a, b: a @ b, [(4,), (2, 4, 3)], {}),
    "matmul_vector_right": (lambda a, b: a @ b, [(3, 4), (4,)], {}),
    "matmul_inner": (lambda a, b: (a @ b) * (a @ a), [(4,), (4,)], {}),
    "dense": (lambda x, k, b: F.dense(x, k, b).tanh(), [(2, 3, 4), (4, 5), (5,)], {}),
    "dense_relu": (
        lambda x, k, b: F.dense(x, k, b, activation="relu") ** 2,
        [(2, 3, 4), (4, 5), (5,)],
        {},
    ),
    "sum": (lambda x: (x * x).sum(axis=1) ** 2, [(3, 4)], {}),
    "sum_keepdims": (lambda x: x * x.sum(axis=0, keepdims=True), [(3, 4)], {}),
    "mean": (lambda x: x.mean(axis=(0, 2)) ** 2, [(2, 3, 4)], {}),
    "max": (lambda x: x.max(axis=1) ** 2, [(3, 4)], {}),
    "min": (lambda x: x.min() * x, [(3, 4)], {}),
    "logsumexp": (lambda x: reduction.logsumexp(x, axis=1) ** 2, [(3, 4)], {}),
    "cumsum": (lambda x: reduction.cumsum(x * x, axis=1), [(3, 4)], {}),
    "reshape": (lambda x: x.reshape(4, 3) @ x, [(3, 4)], {}),
    "transpose": (lambda x: x.transpose(1, 0, 2) * x.transpose(1, 0, 2).exp(), [(2, 3, 4)], {}),
    "getitem_slice": (lambda x: x[1:, ::2] * x[:2, 1::2], [(3, 4)], {}),
    "getitem_fancy": (lambda x: x[numpy.array([0, 2, 0])] ** 2, [(3, 4)], {}),
    "concatenate": (lambda a, b: F.concatenate([a, b * b], axis=1) ** 2, [(3, 4), (3, 2)], {}),
    "stack": (lambda a, b: F.stack([a * b, b], axis=-1) ** 2, [(3, 4), (3, 4)], {}),
    "tile": (lambda x: shape.tile(x, (2, 1, 3)) ** 2, [(2, 3)], {}),
    "repeat": (lambda x: shape.repeat(x, 2, axis=1) ** 3, [(2, 3)], {}),
    "flip": (lambda x: shape.flip(x, (1,)) * x, [(2, 3)], {}),
    "broadcast_to": (lambda x: shape.broadcast_to(x, (3, 2, 4)) ** 2, [(2, 1)], {}),
    "sqrt": (lambda x: x.sqrt(), [(5,)], {"low": 0.5, "high": 2.0}),
    "square": (lambda x: elementwise.square(x) * x, [(5,)], {}),
    "exp": (lambda x: x.exp(), [(5,)], {}),
    "log": (lambda x: x.log(), [(5,)], {"low": 0.5, "high": 2.0}),
    "log1p": (lambda x: elementwise.log1p(x), [(5,)], {"low": 0.0, "high": 2.0}),
    "expm1": (lambda x: elementwise.expm1(x), [(5,)], {}),
    "sin_cos": (lambda x: elementwise.sin(x) * elementwise.cos(x * 2), [(5,)], {}),
    "erf": (lambda x: elementwise.erf(x), [(5,)], {}),
    "abs": (lambda x: x.abs() * x, [(6,)], {"away_from_zero": 0.05}),
    "clip": (lambda x: x.clip(-0.5, 0.5) * x, [(6,)], {"low": -0.8, "high": 0.8}),
    "where": (lambda a, b: F.where(a.data > 0, a * a, b * b * b), [(3, 4), (3, 4)], {}),
    "maximum": (lambda a, b: elementwise.maximum(a, b) * a, [(3, 4), (3, 4)], {}),
    "minimum": (lambda a, b: elementwise.minimum(a, b * b), [(3, 4), (4,)], {}),
    "cast": (lambda x: F.cast(x * x, "float64") * x, [(4,)], {}),
    "relu": (lambda x: x.relu() * x, [(6,)], {"away_from_zero": 0.05}),
    "leaky_relu": (
        lambda x: F.activation(x, "leaky_relu", negative_slope=0.2) ** 2,
        [(6,)],
        {"away_from_zero": 0.05},
    ),
    "tanh": (lambda x: x.tanh(), [(6,)], {"low": -2.0, "high": 2.0}),
    "sigmoid": (lambda x: x.sigmoid(), [(6,)], {"low": -3.0, "high": 3.0}),
    "elu": (lambda x: F.activation(x, "elu", alpha=1.5), [(6,)], {"away_from_zero": 0.05}),
    "selu": (lambda x: F.activation(x, "selu"), [(6,)], {"away_from_zero": 0.05}),
    "gelu": (lambda x: _gelu(x, False), [(6,)], {"low": -2.0, "high": 2.0}),
    "gelu_tanh": (lambda x: _gelu(x, True), [(6,)], {"low": -2.0, "high": 2.0}),
    "softplus": (lambda x: F.activation(x, "softplus"), [(6,)], {"low": -2.0, "high": 2.0}),
    "swish": (lambda x: F.activation(x, "swish"), [(6,)], {"low": -2.0, "high": 2.0}),
    "softmax": (lambda x: x.softmax(axis=0), [(3, 4)], {}),
    "log_softmax": (lambda x: x.log_softmax(axis=-1), [(3, 4)], {}),
    "softmax_cross_entropy": (
        lambda x: F.softmax_cross_entropy(x, numpy.eye(4)[[0, 2, 3]]),
        [(3, 4)],
        {},
    ),
    "sparse_softmax_cross_entropy": (
        lambda x: F.sparse_softmax_cross_entropy(x, numpy.array([[1, 0], [3, 3]])),
        [(2, 2, 4)],
        {},
    ),
    "sparse_softmax_cross_entropy_clipped": (  # the samples above 1.6 have no gradient
        lambda x: F.sparse_softmax_cross_entropy(x, numpy.array([[1, 0], [3, 3]]), (0.1, 1.6)),
        [(2, 2, 4)],
        {"low": -2.0, "high": 2.0},
    ),
    "sigmoid_cross_entropy": (
        lambda x: F.sigmoid_cross_entropy(x, numpy.array([0.0, 1.0, 0.3])),
        [(2, 3)],
        {"low": -2.0, "high": 2.0},
    ),
    "conv2d": (lambda x, k, b: _conv(x, k, b).tanh(), [(2, 5, 4, 2), (3, 2, 2, 3), (3,)], {}),
    "conv2d_relu": (
        lambda x, k: F.conv2d(x, k, activation="relu") ** 2,
        [(1, 4, 4, 2), (2, 2, 2, 2)],
        {},
    ),
    "conv1d_dilated": (
        lambda x, k: F.conv1d(x, k, padding="causal", dilation_rate=2).tanh(),
        [(2, 6, 2), (2, 2, 3)],
        {},
    ),
    "conv2d_transpose": (
        lambda x, k, b: _conv_transpose(x, k, b).tanh(),
        [(1, 3, 2, 2), (3, 3, 2, 2), (2,)],
        {},
    ),
    "avg_pool2d": (lambda x: F.avg_pool2d(x * x, (2, 2)), [(2, 4, 4, 2)], {}),
    "avg_pool2d_same": (
        lambda x: F.avg_pool2d(x, (3, 2), strides=(2, 1), padding="same").tanh(),
        [(1, 5, 3, 2)],
        {},
    ),
    "zero_pad2d": (
        lambda x: F.zero_pad2d(x, ((1, 0), (0, 2))) ** 2,
        [(1, 2, 3, 1)],
        {},
    ),
}

THIRD_ORDER = [
    "div",
    "pow_tensor",
    "dense",
    "tanh",
    "sigmoid",
    "softmax",
    "conv2d",
    "conv2d_transpose",
    "avg_pool2d_same",
    "sin_cos",
]


@pytest.mark.parametrize("case", sorted(CASES))
def test_second_derivatives(backend, float64, case):
    fn, shapes, kwargs = CASES[case]
    rng = numpy.random.default_rng(abs(hash(case)) % 1000)
    arrays = [rand(rng, *s, **kwargs) for s in shapes]
    check_higher_order(fn, *arrays, backend=backend, order=2)


@pytest.mark.parametrize("case", THIRD_ORDER)
def test_third_derivatives(backend, float64, case):
    fn, shapes, kwargs = CASES[case]
    rng = numpy.random.default_rng(3)
    arrays = [rand(rng, *s, **kwargs) for s in shapes]
    check_higher_order(fn, *arrays, backend=backend, order=3, atol=1e-5, rtol=1e-4)


def test_second_derivative_of_a_cube(backend, float64):
    x = engine.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (g,) = autograd_grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad
    numpy.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    (h,) = autograd_grad(g.sum(), x, create_graph=True)
    numpy.testing.assert_allclose(h.numpy(), 6 * x.numpy())
    (third,) = autograd_grad(h.sum(), x)
    numpy.testing.assert_allclose(third.numpy(), [6.0, 6.0, 6.0])
    assert x.grad is None


# -- engine.grad against backward() ------------------------------------------


def _mlp(rng, sizes=(3, 5, 4, 1)):
    weights = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        weights.append(engine.tensor(rng.standard_normal((a, b)) * 0.7, requires_grad=True))
        weights.append(engine.tensor(rng.standard_normal(b) * 0.1, requires_grad=True))
    return weights


def _run_mlp(x, weights, activations=("tanh", "sigmoid")):
    hidden = [x]
    for i in range(0, len(weights), 2):
        x = F.dense(x, weights[i], weights[i + 1])
        if i // 2 < len(activations):
            x = F.activation(x, activations[i // 2])
            hidden.append(x)
    return x, hidden


def test_grad_matches_backward_and_leaves_grad_alone(backend, float64, rng):
    weights = _mlp(rng)
    x = engine.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    out, _ = _run_mlp(x, weights)
    loss = (out * out).mean()
    grads = autograd_grad(loss, [x, *weights], retain_graph=True)
    assert all(t.grad is None for t in [x, *weights])
    loss.backward()
    for got, t in zip(grads, [x, *weights]):
        assert not got.requires_grad
        numpy.testing.assert_allclose(got.numpy(), t.grad.numpy(), rtol=1e-12)


def test_create_graph_backward_gives_graph_gradients_of_the_same_value(backend, float64, rng):
    weights = _mlp(rng)
    x = engine.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    out, _ = _run_mlp(x, weights)
    (out**2).sum().backward()
    expected = [t.grad.numpy() for t in [x, *weights]]
    for t in [x, *weights]:
        t.grad = None
    out, _ = _run_mlp(x, weights)
    (out**2).sum().backward(create_graph=True)
    for t, value in zip([x, *weights], expected):
        assert t.grad.requires_grad
        numpy.testing.assert_allclose(t.grad.numpy(), value, rtol=1e-12)
    # x.grad is differentiable: d/dx of sum(x.grad ** 2), against finite differences
    check_gradients(lambda t: _squared_input_gradient(t, weights), x.numpy(), backend=backend)


def _squared_input_gradient(x, weights):
    """``sum(g * g)`` for ``g = x.grad`` from ``backward(create_graph=True)``."""
    if not x.requires_grad:  # finite differences want the value only
        x = engine.tensor(x.data, requires_grad=True)
    with engine.enable_grad():  # ... and evaluate under no_grad
        out, _ = _run_mlp(x, weights)
        (out**2).sum().backward(create_graph=True)
    g, x.grad = x.grad, None
    return (g * g).sum()


def test_grad_with_respect_to_intermediate_tensors(backend, float64, rng):
    weights = _mlp(rng)
    x = engine.tensor(rng.standard_normal((5, 3)))
    out, hidden = _run_mlp(x, weights)
    loss = (out**2).sum()
    g_first, g_second = autograd_grad(loss, [hidden[1], hidden[2]])
    assert all(w.grad is None for w in weights)
    assert g_second.shape == hidden[2].shape
    # the same gradient with the hidden layer as a leaf
    leaf = engine.tensor(hidden[1].numpy(), requires_grad=True)
    rest = F.activation(F.dense(leaf, weights[2], weights[3]), "sigmoid")
    (F.dense(rest, weights[4], weights[5]) ** 2).sum().backward()
    numpy.testing.assert_allclose(g_first.numpy(), leaf.grad.numpy(), rtol=1e-12)


def test_grad_of_several_outputs_with_grad_outputs(backend, float64, rng):
    x = engine.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    y = x.tanh()
    z = (x * x).sum(axis=1)
    seed_y, seed_z = rng.standard_normal((3, 2)), rng.standard_normal(3)
    (g,) = autograd_grad([y, z], [x], grad_outputs=[seed_y, engine.tensor(seed_z)])
    t = numpy.tanh(x.numpy())
    expected = seed_y * (1 - t * t) + 2 * x.numpy() * seed_z[:, None]
    numpy.testing.assert_allclose(g.numpy(), expected, rtol=1e-12)


def test_grad_errors_and_unused_inputs(backend, float64):
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    unused = engine.tensor([3.0], requires_grad=True)
    constant = engine.tensor([1.0, 1.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="input 1 .* was not used"):
        autograd_grad(y, [x, unused], retain_graph=True)
    g, none = autograd_grad(y, [x, unused], allow_unused=True, retain_graph=True)
    numpy.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert none is None
    with pytest.raises(RuntimeError, match="input 0 .* does not require a gradient"):
        autograd_grad(y, constant)
    with pytest.raises(RuntimeError, match="scalar output"):
        autograd_grad(x * x, x)
    with pytest.raises(RuntimeError, match="graph a second time"):
        autograd_grad(y, x)
        autograd_grad(y, x)
    (same,) = autograd_grad(x, x, grad_outputs=numpy.array([0.5, 2.0]))
    numpy.testing.assert_allclose(same.numpy(), [0.5, 2.0])


# -- input gradients through layers and models -------------------------------


def _critic_layers(conv: bool):
    layers = engine.layers
    if conv:
        return [
            layers.Conv2D(3, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(2, 2, activation="tanh"),
            layers.Flatten(),
            layers.Dense(1),
        ]
    return [
        layers.Dense(6, activation="leaky_relu"),
        layers.Dense(5, activation="tanh"),
        layers.Dense(4, activation="sigmoid"),
        layers.Dense(3, activation="relu"),
        layers.Dense(1),
    ]


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_input_gradients_through_a_sequential_model(backend, float64, rng, conv):
    engine.utils.set_random_seed(0)
    shape_ = (2, 6, 6, 2) if conv else (4, 3)
    model = engine.models.Sequential([engine.Input(shape_[1:]), *_critic_layers(conv)])
    x = rng.standard_normal(shape_)
    check_gradients(lambda t: model(t), x, backend=backend, atol=1e-6, rtol=1e-5)
    # model(x) then backward(): x.grad is filled
    t = engine.tensor(x)
    t.requires_grad = True
    model(t).sum().backward()
    assert t.grad is not None and t.grad.shape == t.shape


# -- a WGAN-GP gradient penalty ----------------------------------------------


def _penalty(critic, real, fake, alpha, create_graph=True):
    """Gulrajani et al.'s penalty: ``mean((||d critic / d x_hat|| - 1) ** 2)``."""
    x_hat = engine.tensor(alpha * real + (1 - alpha) * fake, requires_grad=True)
    scores = critic(x_hat)
    (g,) = autograd_grad(scores.sum(), x_hat, create_graph=create_graph)
    norms = (g * g).reshape(g.shape[0], -1).sum(axis=1).sqrt()
    return ((norms - 1.0) ** 2).mean(), scores


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_wgan_gp_penalty_gradient_matches_finite_differences(backend, float64, rng, conv):
    engine.utils.set_random_seed(1)
    shape_ = (3, 5, 5, 2) if conv else (5, 3)
    critic = engine.models.Sequential([engine.Input(shape_[1:]), *_critic_layers(conv)])
    real, fake = rng.standard_normal(shape_), rng.standard_normal(shape_)
    alpha = rng.uniform(size=(shape_[0],) + (1,) * (len(shape_) - 1))
    penalty, scores = _penalty(critic, real, fake, alpha)
    loss = scores.mean() + 10.0 * penalty  # the critic's WGAN-GP loss, fake term aside
    assert loss.requires_grad
    loss.backward()
    weights = critic.trainable_weights
    assert all(w.grad is not None for w in weights)

    def loss_value():
        value, scores = _penalty(critic, real, fake, alpha, create_graph=False)
        return float(scores.mean().numpy()) + 10.0 * float(value.numpy())

    directions = numpy.random.default_rng(7)
    for w in weights:
        analytic = w.grad.numpy()
        original = w.data.copy()
        for _ in range(2):
            v = directions.standard_normal(w.shape)
            step = w.backend.asarray(EPS * v)  # on the weight's backend, as original is
            w.data = original + step
            high = loss_value()
            w.data = original - step
            low = loss_value()
            w.data = original
            numeric = (high - low) / (2 * EPS)
            numpy.testing.assert_allclose(numpy.sum(analytic * v), numeric, rtol=1e-5, atol=1e-7)


def test_training_on_the_penalty_drives_gradient_norms_to_one(backend, float64, rng):
    engine.utils.set_random_seed(2)
    critic = engine.models.Sequential([engine.Input((3,)), *_critic_layers(False)])
    optimizer = engine.optimizers.Adam(learning_rate=0.01)
    real, fake = rng.standard_normal((8, 3)) + 2.0, rng.standard_normal((8, 3))
    alpha = rng.uniform(size=(8, 1))
    penalties = []
    for _ in range(60):
        penalty, _ = _penalty(critic, real, fake, alpha)
        for w in critic.trainable_weights:
            w.grad = None
        penalty.backward()
        optimizer.apply([w.grad for w in critic.trainable_weights], critic.trainable_weights)
        penalties.append(float(penalty.numpy()))
    assert penalties[-1] < 0.1 * penalties[0]


# -- ops without a backward_graph --------------------------------------------


NO_DOUBLE_BACKWARD = {
    "MaxPool2D": lambda x: F.max_pool2d(x * x, (2, 2)),
    "LayerNorm": lambda x: F.layer_norm(x * x, None, None, axis=(1, 2, 3)),
}


@pytest.mark.parametrize("op", sorted(NO_DOUBLE_BACKWARD))
def test_double_backward_error_names_the_op(backend, float64, rng, op):
    fn = NO_DOUBLE_BACKWARD[op]
    x = engine.tensor(rng.standard_normal((2, 4, 4, 1)), requires_grad=True)
    projection = engine.tensor(rng.standard_normal((2, 2, 2, 1) if op == "MaxPool2D" else x.shape))
    (g,) = autograd_grad((fn(x) * projection).sum(), x, create_graph=True)
    # the first derivative itself is exact
    (expected,) = autograd_grad((fn(x) * projection).sum(), x)
    numpy.testing.assert_allclose(g.numpy(), expected.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=f"double backward is not implemented for {op}"):
        (g * g).sum().backward()
