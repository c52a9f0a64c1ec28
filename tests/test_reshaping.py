"""Flatten, Reshape, ZeroPadding2D and Dropout."""

import json

import numpy
import pytest

import engine
from engine import layers
from tests.gradcheck import check_gradients


def test_flatten(backend, float64, rng):
    x = rng.standard_normal((2, 3, 2, 2))
    layer = layers.Flatten()
    numpy.testing.assert_array_equal(layer(x).numpy(), x.reshape(2, 12))
    assert layer.compute_output_shape((None, 3, 2, 2)) == (None, 12)
    assert layer.compute_output_shape((None, None, 2)) == (None, None)
    check_gradients(layer, x, backend=backend)


def test_reshape(backend, float64, rng):
    x = rng.standard_normal((2, 3, 4))
    layer = layers.Reshape((4, -1))
    numpy.testing.assert_array_equal(layer(x).numpy(), x.reshape(2, 4, 3))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 4, 3)
    assert layers.Reshape((2, 6)).compute_output_shape((None, 12)) == (None, 2, 6)
    check_gradients(layer, x, backend=backend)
    config = json.loads(json.dumps(layer.get_config()))
    assert layers.Reshape.from_config({**config, "name": "clone"}).target_shape == (4, -1)


def test_reshape_rejects_bad_shapes(backend):
    with pytest.raises(
        ValueError, match=r"Reshape '.*': cannot reshape.*\(None, 3, 4\).*12 values.*\(5, -1\)"
    ):
        layers.Reshape((5, -1)).compute_output_shape((None, 3, 4))
    with pytest.raises(ValueError, match=r"Reshape '.*': cannot reshape.*\(2, 6\)"):
        layers.Reshape((2, 6))(numpy.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))


@pytest.mark.parametrize(
    "padding, pads",
    [(1, ((1, 1), (1, 1))), ((2, 0), ((2, 2), (0, 0))), (((0, 1), (2, 3)), ((0, 1), (2, 3)))],
)
def test_zero_padding_2d(backend, float64, rng, padding, pads):
    x = rng.standard_normal((2, 3, 2, 2))
    layer = layers.ZeroPadding2D(padding)
    expected = numpy.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    numpy.testing.assert_array_equal(layer(x).numpy(), expected)
    assert layer.compute_output_shape((None, 3, 2, 2)) == (None, *expected.shape[1:])
    check_gradients(layer, x, backend=backend)


def test_zero_padding_2d_rejects_bad_arguments(backend):
    with pytest.raises(ValueError, match=r"ZeroPadding2D '.*padding.*-1"):
        layers.ZeroPadding2D(-1)
    with pytest.raises(ValueError, match=r"ZeroPadding2D '.*expects a 4-D input.*\(2, 3, 3\)"):
        layers.ZeroPadding2D()(numpy.zeros((2, 3, 3)))


def test_dropout_is_inactive_at_inference(backend, rng):
    x = rng.standard_normal((4, 5)).astype("float32")
    layer = layers.Dropout(0.5)
    numpy.testing.assert_array_equal(layer(x).numpy(), x)
    numpy.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    numpy.testing.assert_array_equal(layers.Dropout(0.0)(x, training=True).numpy(), x)


def test_dropout_in_training_scales_kept_values(backend, rng):
    engine.utils.set_random_seed(1)
    x = numpy.ones((200, 50), "float32")
    rate = 0.3
    y = layers.Dropout(rate)(x, training=True).numpy()
    kept = y != 0
    numpy.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)
    assert abs(kept.mean() - (1 - rate)) < 0.02


def test_dropout_gradient_uses_the_same_mask(backend, float64, rng):
    engine.utils.set_random_seed(2)
    x = engine.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = layers.Dropout(0.5)(x, training=True)
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), y.numpy() / x.numpy())


def test_dropout_noise_shape_shares_the_mask(backend):
    engine.utils.set_random_seed(3)
    y = layers.Dropout(0.5, noise_shape=(None, 1, 4))(numpy.ones((2, 3, 4)), training=True)
    y = y.numpy()
    numpy.testing.assert_array_equal(y, numpy.broadcast_to(y[:, :1], y.shape))


def test_dropout_arguments_and_config(backend):
    with pytest.raises(ValueError, match=r"Dropout '.*rate.*\[0, 1\).*1.5"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(-0.1)
    config = json.loads(json.dumps(layers.Dropout(0.25, seed=4).get_config()))
    assert config["rate"] == 0.25 and config["seed"] == 4
    assert layers.Dropout(0.2).compute_output_shape((None, 7)) == (None, 7)
