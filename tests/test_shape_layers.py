"""Activation layers (ReLU, LeakyReLU, Softmax, ELU, PReLU, Identity), RepeatVector, Permute,
Cropping1D/2D, UpSampling1D/2D, GaussianNoise, GaussianDropout, SpatialDropout1D/2D."""

import json
import warnings

import numpy
import pytest

import engine
from engine import layers
from engine.layers.base import layer_registry
from tests.gradcheck import check_gradients, check_weight_gradients


def _away_from(x, points, gap=1e-2):
    """``x`` with values within ``gap`` of a kink moved off it (finite differences need it)."""
    x = x.copy()
    for point in points:
        near = numpy.abs(x - point) < gap
        x[near] = point + 2 * gap
    return x


def _check_layer(layer, x, expected, backend):
    """Values, explicit output shape (also with an unknown batch) and float64 gradients."""
    output = layer(x)
    numpy.testing.assert_allclose(output.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == expected.shape
    assert layer.compute_output_shape((None, *x.shape[1:])) == (None, *expected.shape[1:])
    check_gradients(layer, x, backend=backend)


def _relu_reference(x, max_value=None, negative_slope=0.0, threshold=0.0):
    positive = numpy.where(x > threshold, x, 0.0)
    if max_value is not None:
        positive = numpy.minimum(positive, max_value)
    return positive - negative_slope * numpy.maximum(threshold - x, 0.0)


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"max_value": 6.0},
        {"negative_slope": 0.1},
        {"threshold": 0.5},
        {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3},
    ],
)
def test_relu(backend, float64, rng, arguments):
    x = 3 * rng.standard_normal((3, 4, 5))
    x = _away_from(x, [0.0, arguments.get("threshold", 0.0), arguments.get("max_value", 0.0)])
    layer = layers.ReLU(**arguments)
    _check_layer(layer, x, _relu_reference(x, **arguments), backend)


def test_relu_rejects_negative_arguments():
    for argument in ("max_value", "negative_slope", "threshold"):
        with pytest.raises(ValueError, match=f"ReLU '.*': `{argument}` must be a number >= 0"):
            layers.ReLU(**{argument: -1.0})


def test_leaky_relu(backend, float64, rng):
    x = _away_from(rng.standard_normal((4, 6)), [0.0])
    assert layers.LeakyReLU().negative_slope == 0.3  # Keras 3's default
    _check_layer(layers.LeakyReLU(), x, numpy.where(x > 0, x, 0.3 * x), backend)
    with pytest.warns(DeprecationWarning, match="alpha"):
        layer = layers.LeakyReLU(alpha=0.1)
    assert layer.get_config()["negative_slope"] == 0.1


def test_elu(backend, float64, rng):
    x = _away_from(rng.standard_normal((4, 6)), [0.0])
    expected = numpy.where(x > 0, x, 0.5 * numpy.expm1(x))
    _check_layer(layers.ELU(alpha=0.5), x, expected, backend)


def test_identity(backend, float64, rng):
    x = rng.standard_normal((2, 3))
    _check_layer(layers.Identity(), x, x, backend)


def _softmax(x, axis):
    e = numpy.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_softmax(backend, float64, rng, axis):
    x = rng.standard_normal((2, 3, 4))
    expected = _softmax(x, tuple(axis) if isinstance(axis, list) else axis)
    _check_layer(layers.Softmax(axis=axis), x, expected, backend)


def test_softmax_mask(backend, float64, rng):
    x = rng.standard_normal((2, 3, 4))
    mask = numpy.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    layer = layers.Softmax()
    output = layer(x, mask=mask).numpy()
    masked = numpy.where(mask, x, -1e9)
    expected = numpy.where(mask, _softmax(masked, -1), 0.0)
    numpy.testing.assert_allclose(output, expected, rtol=1e-12, atol=1e-15)
    numpy.testing.assert_array_equal(output[:, 1], 0.0)  # a fully masked row gives zeros
    float_mask = mask.astype("float64")  # > 0.5 keeps a position
    numpy.testing.assert_allclose(layer(x, mask=float_mask).numpy(), expected, atol=1e-15)
    check_gradients(lambda t: layers.Softmax()(t, mask=mask), x, backend=backend)
    with pytest.raises(ValueError, match=r"mask must broadcast.*\(2, 3, 4\).*\(5,\)"):
        layer(x, mask=numpy.ones(5, bool))


@pytest.mark.parametrize("shared_axes", [None, [1], [1, 2]])
def test_prelu(backend, float64, rng, shared_axes):
    x = _away_from(rng.standard_normal((2, 3, 4)), [0.0])
    layer = layers.PReLU(alpha_initializer="random_uniform", shared_axes=shared_axes)
    output = layer(x).numpy()
    (alpha,) = layer.get_weights()
    expected_shape = [3, 4]
    for axis in shared_axes or ():
        expected_shape[axis - 1] = 1
    assert alpha.shape == tuple(expected_shape)
    numpy.testing.assert_allclose(output, numpy.where(x > 0, x, alpha * x), rtol=1e-12)
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 4)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_prelu_defaults_to_zero_alpha(backend, rng):
    layer = layers.PReLU()
    x = rng.standard_normal((2, 5)).astype("float32")
    numpy.testing.assert_array_equal(layer(x).numpy(), numpy.maximum(x, 0))
    assert layer.count_params() == 5


def test_repeat_vector(backend, float64, rng):
    x = rng.standard_normal((2, 3))
    _check_layer(layers.RepeatVector(4), x, numpy.repeat(x[:, None, :], 4, axis=1), backend)
    with pytest.raises(ValueError, match="expected ndim=2"):
        layers.RepeatVector(2)(numpy.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="`n` must be an int >= 1"):
        layers.RepeatVector(0)


def test_permute(backend, float64, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    _check_layer(layers.Permute((3, 1, 2)), x, x.transpose(0, 3, 1, 2), backend)
    with pytest.raises(ValueError, match=r"permutation of 1..2.*\(0, 1\)"):
        layers.Permute((0, 1))


@pytest.mark.parametrize("cropping, pads", [((1, 1), (1, 1)), (2, (2, 2)), ((0, 3), (0, 3))])
def test_cropping_1d(backend, float64, rng, cropping, pads):
    x = rng.standard_normal((2, 6, 3))
    expected = x[:, pads[0] : x.shape[1] - pads[1]]
    _check_layer(layers.Cropping1D(cropping), x, expected, backend)


@pytest.mark.parametrize(
    "cropping, pads",
    [
        (((0, 0), (0, 0)), ((0, 0), (0, 0))),
        (1, ((1, 1), (1, 1))),
        ((2, 0), ((2, 2), (0, 0))),
        (((0, 1), (2, 1)), ((0, 1), (2, 1))),
        (((1, 2), 1), ((1, 2), (1, 1))),
    ],
)
def test_cropping_2d(backend, float64, rng, cropping, pads):
    x = rng.standard_normal((2, 5, 6, 2))
    (top, bottom), (left, right) = pads
    expected = x[:, top : x.shape[1] - bottom, left : x.shape[2] - right]
    _check_layer(layers.Cropping2D(cropping), x, expected, backend)


def test_cropping_rejects_too_much(backend):
    with pytest.raises(
        ValueError, match=r"Cropping1D '.*': cropping 2 \+ 2.*size 4.*\(None, 4, 3\)"
    ):
        layers.Cropping1D(2).compute_output_shape((None, 4, 3))
    with pytest.raises(ValueError, match=r"Cropping2D '.*': cropping 3 \+ 3.*size 5"):
        layers.Cropping2D(3)(numpy.zeros((1, 5, 8, 1)))
    with pytest.raises(ValueError, match="`cropping`"):
        layers.Cropping2D((1, 2, 3))
    with pytest.raises(ValueError, match="channels_last"):
        layers.Cropping2D(data_format="channels_first")


@pytest.mark.parametrize("size", [1, 3])
def test_up_sampling_1d(backend, float64, rng, size):
    x = rng.standard_normal((2, 4, 3))
    _check_layer(layers.UpSampling1D(size), x, numpy.repeat(x, size, axis=1), backend)


@pytest.mark.parametrize("size", [(2, 2), (1, 3), 2])
def test_up_sampling_2d_nearest(backend, float64, rng, size):
    x = rng.standard_normal((2, 3, 4, 2))
    rows, cols = (size, size) if isinstance(size, int) else size
    expected = numpy.repeat(numpy.repeat(x, rows, axis=1), cols, axis=2)
    _check_layer(layers.UpSampling2D(size), x, expected, backend)


def _bilinear_reference(x, rows, cols):
    """Half-pixel-centre bilinear resize, point by point."""
    n, height, width, c = x.shape
    out = numpy.zeros((n, height * rows, width * cols, c))

    def taps(position, factor, size):
        source = max((position + 0.5) / factor - 0.5, 0.0)
        low = min(int(numpy.floor(source)), size - 1)
        return low, min(low + 1, size - 1), source - low

    for i in range(height * rows):
        i0, i1, wi = taps(i, rows, height)
        for j in range(width * cols):
            j0, j1, wj = taps(j, cols, width)
            out[:, i, j] = (
                (1 - wi) * (1 - wj) * x[:, i0, j0]
                + (1 - wi) * wj * x[:, i0, j1]
                + wi * (1 - wj) * x[:, i1, j0]
                + wi * wj * x[:, i1, j1]
            )
    return out


@pytest.mark.parametrize("size", [(2, 2), (3, 2)])
def test_up_sampling_2d_bilinear(backend, float64, rng, size):
    x = rng.standard_normal((2, 3, 4, 2))
    layer = layers.UpSampling2D(size, interpolation="bilinear")
    _check_layer(layer, x, _bilinear_reference(x, *size), backend)


def test_up_sampling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`interpolation` must be one of.*'bicubic'"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match="`size` must be an int >= 1"):
        layers.UpSampling1D(0)
    with pytest.raises(ValueError, match="`size` must be an int >= 1"):
        layers.UpSampling2D((2, 0))


def test_gaussian_noise(backend, rng):
    x = rng.standard_normal((200, 50)).astype("float32")
    layer = layers.GaussianNoise(0.5)
    numpy.testing.assert_array_equal(layer(x).numpy(), x)  # inference: unchanged
    engine.utils.set_random_seed(3)
    noise = layer(x, training=True).numpy() - x
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 0.5) < 0.02
    engine.utils.set_random_seed(3)
    numpy.testing.assert_array_equal(layer(x, training=True).numpy() - x, noise)
    assert layer.compute_output_shape((None, 50)) == (None, 50)
    with pytest.raises(ValueError, match="`stddev` must be a number in"):
        layers.GaussianNoise(-1)


def test_gaussian_dropout(backend, rng):
    x = numpy.ones((200, 50), "float32")
    layer = layers.GaussianDropout(0.2)
    numpy.testing.assert_array_equal(layer(x).numpy(), x)
    engine.utils.set_random_seed(4)
    y = layer(x, training=True).numpy()
    assert abs(y.mean() - 1) < 0.02 and abs(y.std() - numpy.sqrt(0.2 / 0.8)) < 0.02


def test_noise_layers_pass_gradients(backend, float64, rng):
    x = rng.standard_normal((3, 4))
    for layer in (layers.GaussianNoise(0.3), layers.GaussianDropout(0.3)):
        tensor = engine.tensor(x, requires_grad=True)
        engine.utils.set_random_seed(5)
        output = layer(tensor, training=True)
        output.sum().backward()
        engine.utils.set_random_seed(5)
        noisy = layer(x, training=True).numpy()
        # additive noise has gradient 1; multiplicative noise has gradient = the noise
        expected = numpy.ones_like(x) if isinstance(layer, layers.GaussianNoise) else noisy / x
        numpy.testing.assert_allclose(tensor.grad.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "layer_class, shape",
    [(layers.SpatialDropout1D, (8, 20, 30)), (layers.SpatialDropout2D, (8, 5, 6, 30))],
)
def test_spatial_dropout_drops_whole_channels(backend, float64, layer_class, shape):
    x = numpy.ones(shape)
    layer = layer_class(0.4)
    numpy.testing.assert_array_equal(layer(x).numpy(), x)
    engine.utils.set_random_seed(2)
    y = layer(x, training=True).numpy()
    per_channel = y.reshape(shape[0], -1, shape[-1])
    # every position of one sample's channel shares the mask value
    assert (per_channel == per_channel[:, :1]).all()
    assert set(numpy.unique(y)) <= {0.0, 1 / 0.6}
    assert 0.2 < (per_channel[:, 0] == 0).mean() < 0.6
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *shape[1:])
    engine.utils.set_random_seed(2)
    check_gradients(lambda t: _seeded(layer, t), numpy.linspace(1, 2, x.size).reshape(shape))
    with pytest.raises(ValueError, match=f"expected ndim={len(shape)}"):
        layer(numpy.ones((2, 3)), training=True)


def _seeded(layer, tensor):
    """The layer in training with the same mask on every call (for finite differences)."""
    engine.utils.set_random_seed(2)
    return layer(tensor, training=True)


SHAPE_LAYERS = [
    layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
    layers.LeakyReLU(negative_slope=0.2),
    layers.Softmax(axis=[1, 2]),
    layers.ELU(alpha=0.7),
    layers.PReLU(shared_axes=[1, 2]),
    layers.Identity(),
    layers.RepeatVector(3),
    layers.Permute((2, 1)),
    layers.Cropping1D((1, 2)),
    layers.Cropping2D(((1, 2), (3, 4))),
    layers.UpSampling1D(3),
    layers.UpSampling2D((2, 3), interpolation="bilinear"),
    layers.GaussianNoise(0.1, seed=7),
    layers.GaussianDropout(0.3),
    layers.SpatialDropout1D(0.2, seed=1),
    layers.SpatialDropout2D(0.3),
]


@pytest.mark.parametrize("layer", SHAPE_LAYERS, ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    cls = layer_registry.lookup(type(layer).__name__)
    assert cls is type(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clone = cls.from_config(config)
    assert clone.get_config() == layer.get_config()


def test_keras_argument_names():
    assert layers.UpSampling2D().get_config()["interpolation"] == "nearest"
    assert layers.Cropping2D().get_config()["cropping"] == [[0, 0], [0, 0]]
    assert layers.Cropping1D().get_config()["cropping"] == [1, 1]
    assert layers.ReLU().get_config()["max_value"] is None
    assert "noise_shape" not in layers.SpatialDropout1D(0.1).get_config()
