"""DepthwiseConv1D/2D and SeparableConv1D/2D: a loop by the definition, gradients, Keras's
weight layouts, shapes, configs and errors."""

import json

import numpy
import pytest

import engine
from engine import layers
from engine.functional.depthwise import depthwise_conv2d
from tests.gradcheck import check_gradients, check_weight_gradients
from tests.test_conv3d import same_pads


def depthwise_loop(x, kernel, strides, padding, dilation):
    """Output channel ``c * m + j``: input channel ``c`` correlated with ``kernel[..., c, j]``."""
    kh, kw, c, m = kernel.shape
    if padding == "same":
        pads = [
            same_pads(n, k, s, d) for n, k, s, d in zip(x.shape[1:3], (kh, kw), strides, dilation)
        ]
    else:
        pads = [(0, 0), (0, 0)]
    x = numpy.pad(x, ((0, 0), *pads, (0, 0)))
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    out_h = (x.shape[1] - eh) // strides[0] + 1
    out_w = (x.shape[2] - ew) // strides[1] + 1
    y = numpy.zeros((x.shape[0], out_h, out_w, c, m))
    for i in range(out_h):
        for j in range(out_w):
            rows = slice(i * strides[0], i * strides[0] + eh, dilation[0])
            cols = slice(j * strides[1], j * strides[1] + ew, dilation[1])
            y[:, i, j] = numpy.einsum("nabc,abcm->ncm", x[:, rows, cols], kernel)
    return y.reshape(x.shape[0], out_h, out_w, c * m)


CASES = [
    ((1, 1), "valid", (1, 1), 1),
    ((2, 1), "same", (1, 1), 2),
    ((1, 1), "same", (2, 2), 3),
    ((2, 3), "valid", (1, 1), 1),
]


@pytest.mark.parametrize("strides, padding, dilation, multiplier", CASES)
def test_depthwise_conv2d_matches_the_definition(
    backend, float64, rng, strides, padding, dilation, multiplier
):
    x = rng.standard_normal((2, 7, 6, 3))
    kernel = rng.standard_normal((3, 2, 3, multiplier))
    got = depthwise_conv2d(engine.tensor(x), engine.tensor(kernel), strides, padding, dilation)
    expected = depthwise_loop(x, kernel, strides, padding, dilation)
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    check_gradients(
        lambda a, k: depthwise_conv2d(a, k, strides, padding, dilation), x, kernel, backend=backend
    )


def test_depthwise_conv2d_layer(backend, float64, rng):
    layer = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="tanh")
    x = rng.standard_normal((2, 5, 4, 3))
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 3, 2) and bias.shape == (6,)  # Keras's (kh, kw, in, multiplier)
    expected = numpy.tanh(depthwise_loop(x, kernel, (1, 1), "same", (1, 1)) + bias)
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == (2, 5, 4, 6)
    assert layer.compute_output_shape((None, None, 4, 3)) == (None, None, 4, 6)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.weights)


def test_depthwise_conv1d_layer(backend, float64, rng):
    layer = layers.DepthwiseConv1D(3, strides=2, depth_multiplier=2, use_bias=False)
    x = rng.standard_normal((2, 9, 3))
    y = layer(x)
    (kernel,) = layer.get_weights()
    assert kernel.shape == (3, 3, 2)
    expected = depthwise_loop(x[:, None], kernel[None], (1, 2), "valid", (1, 1))[:, 0]
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None, 9, 3)) == (None, 4, 6)
    check_gradients(layer, x, backend=backend)


def test_separable_conv2d_layer(backend, float64, rng):
    layer = layers.SeparableConv2D(4, (2, 3), strides=(2, 1), padding="same", depth_multiplier=2)
    x = rng.standard_normal((2, 5, 4, 3))
    y = layer(x)
    depthwise, pointwise, bias = layer.get_weights()
    assert [w.name.split("/")[-1] for w in layer.weights] == [
        "depthwise_kernel",
        "pointwise_kernel",
        "bias",
    ]
    assert depthwise.shape == (2, 3, 3, 2) and pointwise.shape == (1, 1, 6, 4)
    middle = depthwise_loop(x, depthwise, (2, 1), "same", (1, 1))
    expected = middle @ pointwise[0, 0] + bias
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None, 5, 4, 3)) == (None, 3, 4, 4)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.weights)


def test_separable_conv1d_layer(backend, float64, rng):
    layer = layers.SeparableConvolution1D(2, 3, dilation_rate=2, padding="same")
    x = rng.standard_normal((2, 7, 3))
    y = layer(x)
    depthwise, pointwise, bias = layer.get_weights()
    assert depthwise.shape == (3, 3, 1) and pointwise.shape == (1, 3, 2)
    middle = depthwise_loop(x[:, None], depthwise[None], (1, 1), "same", (1, 2))[:, 0]
    numpy.testing.assert_allclose(y.numpy(), middle @ pointwise[0] + bias, rtol=1e-10, atol=1e-12)
    assert y.shape == layer.compute_output_shape(x.shape)
    check_gradients(layer, x, backend=backend)


@pytest.mark.parametrize(
    "cls, arguments",
    [
        (layers.DepthwiseConv2D, dict(kernel_size=3, depth_multiplier=2, strides=2)),
        (layers.DepthwiseConv1D, dict(kernel_size=2, padding="same")),
        (layers.SeparableConv2D, dict(filters=3, kernel_size=3, depthwise_regularizer="l2")),
        (layers.SeparableConv1D, dict(filters=3, kernel_size=2, pointwise_constraint="non_neg")),
    ],
)
def test_configs_round_trip(cls, arguments):
    layer = cls(**arguments)
    config = json.loads(json.dumps(layer.get_config()))
    assert cls.from_config(config).get_config() == config
    assert config["data_format"] == "channels_last"


def test_separable_model_trains(backend):
    engine.utils.set_random_seed(4)
    model = engine.models.Sequential(
        [
            layers.Input((8, 8, 2)),
            layers.SeparableConv2D(4, 3, activation="relu"),
            layers.DepthwiseConv2D(3, depth_multiplier=2),
            layers.GlobalAvgPool2D(),
            layers.Dense(1),
        ]
    )
    assert model.output_shape == (None, 1)
    model.compile("adam", "mse")
    x = numpy.random.default_rng(1).standard_normal((32, 8, 8, 2)).astype("float32")
    history = model.fit(x, x.std(axis=(1, 2, 3)), epochs=4, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="DepthwiseConv2D 'dw': `depth_multiplier` must be"):
        layers.DepthwiseConv2D(3, depth_multiplier=0, name="dw")
    with pytest.raises(ValueError, match="SeparableConv2D 'sep': `filters` must be"):
        layers.SeparableConv2D(0, 3, name="sep")
    with pytest.raises(ValueError, match="DepthwiseConv1D '.*': `padding` must be one of"):
        layers.DepthwiseConv1D(3, padding="causal")
    with pytest.raises(ValueError, match="DepthwiseConv2D '.*' expects a 4-D input"):
        layers.DepthwiseConv2D(3).compute_output_shape((2, 5, 3))
    with pytest.raises(ValueError, match="SeparableConv1D '.*': the window"):
        layers.SeparableConv1D(2, 5).compute_output_shape((2, 3, 3))
    with pytest.raises(ValueError, match="channels_last"):
        layers.DepthwiseConv2D(3, data_format="channels_first")
