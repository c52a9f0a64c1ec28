"""BatchNormalization and LayerNormalization: kernels, Keras semantics, gradients."""

import json

import numpy
import pytest

import engine
from engine import layers
from tests.gradcheck import check_gradients, check_weight_gradients


@pytest.mark.parametrize("kind, axis", [("batch_norm", 0), ("layer_norm", 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_normalization_kernels_match_numpy_and_reference(
    backend, reference, rng, kind, axis, affine
):
    x = rng.standard_normal((6, 4)) * 3 + 1
    size = x.shape[1]  # channels (batch norm) or features (layer norm)
    gamma = rng.standard_normal(size) if affine else None
    beta = rng.standard_normal(size) if affine else None
    eps = 1e-3
    mean = x.mean(axis=axis, keepdims=True)
    variance = x.var(axis=axis, keepdims=True)  # biased, as Keras
    expected = (x - mean) / numpy.sqrt(variance + eps)
    if affine:
        expected = expected * gamma + beta

    def native(a):
        return None if a is None else backend.asarray(a)

    y, got_mean, got_variance = getattr(backend, f"{kind}_forward")(
        native(x), native(gamma), native(beta), eps
    )
    numpy.testing.assert_allclose(backend.to_numpy(y), expected, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(backend.to_numpy(got_mean).reshape(-1), mean.reshape(-1))
    numpy.testing.assert_allclose(
        backend.to_numpy(got_variance).reshape(-1), variance.reshape(-1), rtol=1e-10
    )
    dy = rng.standard_normal(x.shape)
    _, ref_mean, ref_variance = getattr(reference, f"{kind}_forward")(x, gamma, beta, eps)
    want = getattr(reference, f"{kind}_backward")(dy, x, ref_mean, ref_variance, gamma, eps)
    have = getattr(backend, f"{kind}_backward")(
        native(dy), native(x), got_mean, got_variance, native(gamma), eps
    )
    x_hat = (x - mean) / numpy.sqrt(variance + eps)
    numpy.testing.assert_allclose(want[1], (dy * x_hat).sum(axis=0), rtol=1e-10)
    numpy.testing.assert_allclose(want[2], dy.sum(axis=0), rtol=1e-10)
    for name, a, b in zip(("dx", "dgamma", "dbeta"), have, want):
        numpy.testing.assert_allclose(backend.to_numpy(a), b, rtol=1e-10, atol=1e-12, err_msg=name)


def _training(layer):
    return lambda x: layer(x, training=True)


@pytest.mark.parametrize(
    "shape, axis, center, scale",
    [
        ((5, 3), -1, True, True),
        ((2, 3, 3, 2), -1, True, True),
        ((3, 2, 4), 1, False, True),
        ((4, 3), -1, True, False),
    ],
)
def test_batch_norm_training_gradients(backend, float64, rng, shape, axis, center, scale):
    layer = layers.BatchNormalization(
        axis=axis,
        center=center,
        scale=scale,
        gamma_initializer="random_normal",
        beta_initializer="random_normal",
    )
    x = rng.standard_normal(shape)
    layer(x)
    assert len(layer.trainable_weights) == center + scale
    check_gradients(_training(layer), x, backend=backend, atol=1e-5)
    check_weight_gradients(lambda: layer(x, training=True), layer.trainable_weights, atol=1e-5)


def test_batch_norm_inference_gradients(backend, float64, rng):
    layer = layers.BatchNormalization(axis=1)
    x = rng.standard_normal((3, 2, 4))
    layer(x)
    statistics = [rng.standard_normal(2), rng.standard_normal(2), [0.3, -0.2], [0.5, 2.0]]
    layer.set_weights(statistics)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_batch_norm_follows_keras(backend, rng):
    layer = layers.BatchNormalization()
    x = (rng.standard_normal((16, 3)) * [1.0, 2.0, 3.0] + [0.5, -1.0, 2.0]).astype("float32")
    layer.build_from_shape((None, 3))
    assert [w.name.split("/")[-1] for w in layer.weights] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    assert [w.name.split("/")[-1] for w in layer.non_trainable_weights] == [
        "moving_mean",
        "moving_variance",
    ]
    assert layer.count_params() == 12
    gamma = numpy.array([1.5, 0.5, 2.0], "float32")
    beta = numpy.array([0.1, 0.2, -0.3], "float32")
    layer.set_weights([gamma, beta, numpy.zeros(3), numpy.ones(3)])

    # training: batch mean and biased batch variance; moving stats move by 1 - momentum
    y = layer(x, training=True).numpy()
    mean, variance = x.mean(axis=0), x.var(axis=0)
    numpy.testing.assert_allclose(
        y, (x - mean) / numpy.sqrt(variance + 1e-3) * gamma + beta, rtol=1e-5, atol=1e-5
    )
    moving_mean, moving_variance = layer.get_weights()[2:]
    numpy.testing.assert_allclose(moving_mean, 0.01 * mean, rtol=1e-5)
    numpy.testing.assert_allclose(moving_variance, 0.99 + 0.01 * variance, rtol=1e-5)
    layer(x, training=True)
    numpy.testing.assert_allclose(
        layer.get_weights()[2], 0.99 * 0.01 * mean + 0.01 * mean, rtol=1e-5
    )

    # inference: the moving statistics, which it leaves alone
    moving_mean, moving_variance = layer.get_weights()[2:]
    for _ in range(2):
        y = layer(x, training=False).numpy()
    expected = (x - moving_mean) / numpy.sqrt(moving_variance + 1e-3) * gamma + beta
    numpy.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    numpy.testing.assert_array_equal(layer.get_weights()[2], moving_mean)


def test_frozen_batch_norm_runs_in_inference_mode(backend, rng):
    layer = layers.BatchNormalization(momentum=0.5)
    x = rng.standard_normal((8, 2)).astype("float32")
    layer(x)
    layer.trainable = False
    y = layer(x, training=True).numpy()
    numpy.testing.assert_allclose(y, x / numpy.sqrt(1 + 1e-3), rtol=1e-5)
    numpy.testing.assert_array_equal(layer.get_weights()[2], numpy.zeros(2))


def test_batch_norm_in_a_model_uses_training_flag(backend, rng):
    engine.utils.set_random_seed(0)
    model = engine.models.Sequential(
        [layers.Input(shape=(3,)), layers.BatchNormalization(momentum=0.0), layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = (rng.standard_normal((32, 3)) * 2 + 5).astype("float32")
    y = rng.standard_normal((32, 1)).astype("float32")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    moving_mean = model.layers[0].get_weights()[2]
    numpy.testing.assert_allclose(moving_mean, x.mean(axis=0), rtol=1e-5)
    model.predict(x, verbose=0)
    numpy.testing.assert_allclose(model.layers[0].get_weights()[2], moving_mean)


def test_batch_norm_config_round_trip(backend):
    layer = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=False)
    config = json.loads(json.dumps(layer.get_config()))
    clone = layers.BatchNormalization.from_config({**config, "name": "clone"})
    assert (clone.momentum, clone.epsilon, clone.center, clone.scale) == (0.9, 1e-5, False, True)
    with pytest.raises(ValueError, match=r"BatchNormalization '.*axis 3.*\(None, 4\)"):
        layers.BatchNormalization(axis=3).build_from_shape((None, 4))


@pytest.mark.parametrize(
    "shape, axis, center, scale",
    [
        ((4, 5), -1, True, True),
        ((2, 3, 4), -1, False, True),
        ((2, 3, 4), [1, 2], True, True),
        ((2, 3, 4), 1, True, False),
    ],
)
def test_layer_norm_matches_numpy_and_gradients(backend, float64, rng, shape, axis, center, scale):
    layer = layers.LayerNormalization(
        axis=axis,
        center=center,
        scale=scale,
        gamma_initializer="random_normal",
        beta_initializer="random_normal",
    )
    x = rng.standard_normal(shape) * 2 + 1
    y = layer(x).numpy()
    axes = tuple(a % len(shape) for a in (axis if isinstance(axis, list) else [axis]))
    expected = (x - x.mean(axis=axes, keepdims=True)) / numpy.sqrt(
        x.var(axis=axes, keepdims=True) + 1e-3
    )
    weights = {w.name.split("/")[-1]: w.numpy() for w in layer.weights}
    param_shape = [shape[a] if a in axes else 1 for a in range(len(shape))]
    if scale:
        expected = expected * weights["gamma"].reshape(param_shape)
    if center:
        expected = expected + weights["beta"].reshape(param_shape)
    numpy.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    check_gradients(layer, x, backend=backend, atol=1e-5)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights, atol=1e-5)


def test_layer_norm_weights_and_config(backend):
    layer = layers.LayerNormalization()
    layer.build_from_shape((None, 3, 6))
    assert [w.shape for w in layer.weights] == [(6,), (6,)]
    assert [w.name.split("/")[-1] for w in layer.weights] == ["gamma", "beta"]
    config = json.loads(json.dumps(layer.get_config()))
    assert config["epsilon"] == 1e-3 and config["axis"] == -1
