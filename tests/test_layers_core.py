"""Input, Dense and Activation layers; initializers; activations by name."""

import numpy
import pytest

import engine
from engine import activations, initializers, layers
from engine import functional as F
from engine.functional import nn
from engine.models import Sequential
from tests.gradcheck import check_gradients, check_weight_gradients

ACTIVATION_NAMES = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "softplus",
    "swish",
]


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_dense_gradients_with_every_activation(backend, float64, activation, rng):
    layer = layers.Dense(3, activation=activation, bias_initializer="random_normal")
    x = rng.standard_normal((4, 5))
    layer(x)  # build
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_dense_forward_matches_numpy(backend, rng):
    layer = layers.Dense(4, activation="relu")
    x = rng.standard_normal((3, 2)).astype("float32")
    out = layer(x).numpy()
    kernel, bias = layer.get_weights()
    numpy.testing.assert_allclose(out, numpy.maximum(x @ kernel + bias, 0), rtol=1e-6)


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_relu_is_one_op_with_the_values_and_gradients_of_two(backend, float64, rng, use_bias):
    """``Dense(activation="relu")`` adds the bias and applies the relu in its own op; it
    gives what a linear Dense followed by a relu gives, forward and backward."""
    fused = layers.Dense(5, activation="relu", use_bias=use_bias)
    plain = layers.Dense(5, use_bias=use_bias)
    x = rng.standard_normal((4, 3, 6))
    fused(x), plain(x)
    weights = [rng.standard_normal(w.shape) for w in fused.get_weights()]
    fused.set_weights(weights)
    plain.set_weights(weights)
    outputs = []
    for layer, activate in ((fused, lambda t: t), (plain, engine.activations.relu)):
        inputs = engine.tensor(x, requires_grad=True)
        y = activate(layer(inputs))
        if layer is fused:  # one op: the dense one, applying the relu itself
            assert type(y.creator) is nn.Dense and y.creator.activation == "relu"
        (y * y).sum().backward()
        outputs.append([y.numpy(), inputs.grad.numpy()] + [w.grad.numpy() for w in layer.weights])
    for got, expected in zip(*outputs, strict=True):
        numpy.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert (outputs[0][0] == 0).any() and (outputs[0][0] > 0).any()  # both sides of the kink
    check_gradients(fused, x, backend=backend)
    with pytest.raises(ValueError, match="`activation` must be None or one of"):
        F.dense(engine.tensor(x), fused.kernel, activation="tanh")


def test_dense_on_three_dimensional_input(backend, float64, rng):
    layer = layers.Dense(2)
    x = rng.standard_normal((2, 3, 4))
    assert layer(x).shape == (2, 3, 2)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_dense_weights_have_keras_shapes_and_defaults(backend):
    layer = layers.Dense(5, input_dim=3)
    layer.build_from_shape((None, 3))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 5) and bias.shape == (5,)
    assert kernel.dtype == numpy.float32
    assert not bias.any()
    limit = numpy.sqrt(6 / (3 + 5))
    assert numpy.abs(kernel).max() <= limit
    assert layer.count_params() == 20
    assert [w.name for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]


def test_layer_auto_names_follow_keras():
    engine.utils.clear_session()
    names = [layers.Dense(1).name, layers.Dense(1).name, layers.Activation("relu").name]
    assert names == ["dense", "dense_1", "activation"]


def test_dense_without_bias(backend):
    layer = layers.Dense(2, use_bias=False)
    layer(numpy.ones((1, 3)))
    assert len(layer.weights) == 1


def test_kernel_regularizer_adds_a_loss(backend):
    layer = layers.Dense(2, kernel_regularizer=engine.regularizers.L2(0.5))
    layer(numpy.ones((1, 3)))
    kernel = layer.get_weights()[0]
    (penalty,) = layer.losses
    numpy.testing.assert_allclose(penalty.item(), 0.5 * (kernel**2).sum(), rtol=1e-5)
    l1 = layers.Dense(2, kernel_regularizer="l1")
    l1(numpy.ones((1, 3)))
    numpy.testing.assert_allclose(
        l1.losses[0].item(), 0.01 * numpy.abs(l1.get_weights()[0]).sum(), rtol=1e-5
    )


def test_activation_layer(backend):
    out = layers.Activation("relu")(numpy.array([[-1.0, 2.0]]))
    numpy.testing.assert_allclose(out.numpy(), [[0.0, 2.0]])


def test_set_weights_checks_count_and_shapes(backend):
    layer = layers.Dense(2)
    layer(numpy.ones((1, 3)))
    with pytest.raises(ValueError, match="'dense.*' expects 2 weight arrays.*received 1"):
        layer.set_weights([numpy.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"kernel' has shape \(3, 2\).*\(2, 3\)"):
        layer.set_weights([numpy.zeros((2, 3)), numpy.zeros(2)])
    layer.set_weights([numpy.ones((3, 2)), numpy.zeros(2)])
    numpy.testing.assert_allclose(layer(numpy.ones((1, 3))).numpy(), [[3.0, 3.0]])


def test_input_of_the_wrong_feature_size_is_named(backend):
    layer = layers.Dense(2)
    layer(numpy.ones((1, 3)))
    with pytest.raises(ValueError, match="layer 'dense.*expected axis -1.*value 3.*\\(1, 4\\)"):
        layer(numpy.ones((1, 4)))


def test_bad_names_list_valid_ones():
    with pytest.raises(ValueError, match="Unknown activation: 'rellu'.*relu.*sigmoid"):
        layers.Dense(2, activation="rellu")
    with pytest.raises(ValueError, match="Unknown initializer: 'glorot'.*glorot_uniform"):
        layers.Dense(2, kernel_initializer="glorot")
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(TypeError, match="unexpected keyword.*unit"):
        layers.Dense(2, unit=3)


@pytest.mark.parametrize(
    "name, mean, std",
    [
        ("glorot_uniform", 0.0, numpy.sqrt(2 / (200 + 300))),
        ("glorot_normal", 0.0, numpy.sqrt(2 / (200 + 300))),
        ("he_uniform", 0.0, numpy.sqrt(2 / 200)),
        ("he_normal", 0.0, numpy.sqrt(2 / 200)),
        ("random_normal", 0.0, 0.05),
        ("random_uniform", 0.0, 0.1 / numpy.sqrt(12)),
        ("zeros", 0.0, 0.0),
        ("ones", 1.0, 0.0),
    ],
)
def test_initializer_statistics(name, mean, std):
    values = initializers.get(name)((200, 300))
    assert values.shape == (200, 300) and values.dtype == numpy.float32
    assert abs(values.mean() - mean) < 0.01
    assert abs(values.std() - std) < 0.1 * std + 1e-6


def test_seeded_initializers_repeat_and_global_seed_reproduces():
    a = initializers.GlorotUniform(seed=3)((4, 4))
    b = initializers.GlorotUniform(seed=3)((4, 4))
    numpy.testing.assert_array_equal(a, b)
    engine.utils.set_random_seed(7)
    c = initializers.get("he_normal")((4, 4))
    engine.utils.set_random_seed(7)
    numpy.testing.assert_array_equal(c, initializers.get("he_normal")((4, 4)))


def test_orthogonal_initializer_is_orthogonal():
    q = initializers.Orthogonal(seed=0)((6, 6)).astype(numpy.float64)
    numpy.testing.assert_allclose(q @ q.T, numpy.eye(6), atol=1e-6)


def test_activation_lookup():
    assert activations.get(None) is activations.linear
    assert activations.get("silu") is activations.swish
    assert activations.get(activations.relu) is activations.relu


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_integer_and_bool_inputs_are_cast_to_the_layer_dtype(backend, dtype):
    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    x = numpy.ones((3, 4)).astype(dtype)
    assert model.predict(x, verbose=0).dtype == numpy.float32
    assert model(x).dtype == numpy.float32
    assert layers.Dense(2)(backend.asarray(x)).dtype == numpy.float32
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, numpy.zeros((3, 2)), verbose=0)
    assert all(w.dtype == numpy.float32 for w in model.get_weights())


def test_embedding_after_input_still_gets_integer_indices(backend, monkeypatch):
    seen = []
    original = layers.Embedding.call

    def spy(self, inputs):
        seen.append(inputs.dtype)
        return original(self, inputs)

    monkeypatch.setattr(layers.Embedding, "call", spy)
    model = Sequential([layers.Input((3,)), layers.Embedding(10, 2)])
    assert model.predict(numpy.array([[1, 2, 9]]), verbose=0).dtype == numpy.float32
    assert seen[-1].kind == "i"
