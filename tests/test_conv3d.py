"""Conv3D and Conv3DTranspose: loops by the definition, Keras 3 numbers, gradients, shapes,
configs and errors."""

import itertools
import json

import numpy
import pytest

import engine
from engine import layers
from engine.functional.conv3d import conv3d, conv3d_transpose
from tests.gradcheck import check_gradients, check_weight_gradients
from tests.test_conv_transpose import keras_crop_before, keras_output_length


def same_pads(size, window, stride, dilation):
    """TensorFlow's "same" padding of one axis: the odd cell goes after."""
    effective = (window - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv3d_loop(x, kernel, bias, strides, padding, dilation):
    """The definition: each output cell is a window of the (padded) input times the kernel."""
    window = kernel.shape[:3]
    if padding == "same":
        pads = [
            same_pads(n, k, s, d) for n, k, s, d in zip(x.shape[1:4], window, strides, dilation)
        ]
    else:
        pads = [(0, 0)] * 3
    x = numpy.pad(x, ((0, 0), *pads, (0, 0)))
    effective = [(k - 1) * d + 1 for k, d in zip(window, dilation)]
    out = [(n - e) // s + 1 for n, e, s in zip(x.shape[1:4], effective, strides)]
    y = numpy.zeros((x.shape[0], *out, kernel.shape[-1]))
    for cell in itertools.product(*map(range, out)):
        index = tuple(
            slice(c * s, c * s + e, d) for c, s, e, d in zip(cell, strides, effective, dilation)
        )
        y[(slice(None), *cell)] = numpy.einsum("nabci,abcif->nf", x[(slice(None), *index)], kernel)
    return y + (0 if bias is None else bias)


def conv3d_transpose_loop(x, kernel, strides, padding, output_padding, dilation):
    """The definition: every input cell scatters ``kernel @ x[cell]``; Keras 3's crop."""
    window = kernel.shape[:3]
    full = [
        (n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(x.shape[1:4], window, strides, dilation)
    ]
    y = numpy.zeros((x.shape[0], *(f + s for f, s in zip(full, strides)), kernel.shape[3]))
    for cell in itertools.product(*map(range, x.shape[1:4])):
        for offset in itertools.product(*map(range, window)):
            at = tuple(c * s + o * d for c, s, o, d in zip(cell, strides, offset, dilation))
            y[(slice(None), *at)] += x[(slice(None), *cell)] @ kernel[offset].T
    extras = (None,) * 3 if output_padding is None else output_padding
    axes = list(zip(x.shape[1:4], window, strides, extras, dilation))
    sizes = [keras_output_length(n, k, s, padding, e, d) for n, k, s, e, d in axes]
    starts = [keras_crop_before(k, s, padding, e, d) for _, k, s, e, d in axes]
    index = tuple(slice(b, b + n) for b, n in zip(starts, sizes))
    return y[(slice(None), *index)]


CONV_CASES = [
    ((1, 1, 1), "valid", (1, 1, 1)),
    ((2, 1, 2), "same", (1, 1, 1)),
    ((1, 2, 1), "same", (2, 1, 2)),
    ((2, 2, 2), "valid", (1, 1, 1)),
]


@pytest.mark.parametrize("strides, padding, dilation", CONV_CASES)
def test_conv3d_matches_the_definition(backend, float64, rng, strides, padding, dilation):
    x = rng.standard_normal((2, 5, 4, 6, 3))
    kernel = rng.standard_normal((3, 2, 3, 3, 2))
    bias = rng.standard_normal(2)
    got = conv3d(
        engine.tensor(x), engine.tensor(kernel), engine.tensor(bias), strides, padding, dilation
    )
    expected = conv3d_loop(x, kernel, bias, strides, padding, dilation)
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("strides, padding, dilation", CONV_CASES[1:3])
def test_conv3d_gradients(backend, float64, rng, strides, padding, dilation):
    x = rng.standard_normal((2, 4, 3, 5, 2))
    kernel = rng.standard_normal((2, 2, 3, 2, 3))
    bias = rng.standard_normal(3)
    check_gradients(
        lambda a, k, b: conv3d(a, k, b, strides, padding, dilation),
        x,
        kernel,
        bias,
        backend=backend,
    )


TRANSPOSE_CASES = [
    ((1, 1, 1), "valid", None, (1, 1, 1)),
    ((2, 1, 3), "valid", (1, 0, 2), (1, 1, 1)),
    ((2, 2, 1), "same", None, (1, 1, 1)),
    ((2, 1, 2), "same", (1, 0, 0), (1, 1, 1)),
    ((1, 1, 1), "same", None, (2, 1, 2)),
]


@pytest.mark.parametrize("strides, padding, output_padding, dilation", TRANSPOSE_CASES)
def test_conv3d_transpose_matches_the_definition(
    backend, float64, rng, strides, padding, output_padding, dilation
):
    x = rng.standard_normal((2, 3, 2, 4, 3))
    kernel = rng.standard_normal((2, 3, 3, 4, 3))
    got = conv3d_transpose(
        engine.tensor(x), engine.tensor(kernel), None, strides, padding, output_padding, dilation
    )
    expected = conv3d_transpose_loop(x, kernel, strides, padding, output_padding, dilation)
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("strides, padding, output_padding, dilation", TRANSPOSE_CASES[1:4])
def test_conv3d_transpose_gradients(
    backend, float64, rng, strides, padding, output_padding, dilation
):
    x = rng.standard_normal((2, 2, 3, 2, 2))
    kernel = rng.standard_normal((2, 2, 3, 3, 2))
    bias = rng.standard_normal(3)
    check_gradients(
        lambda a, k, b: conv3d_transpose(a, k, b, strides, padding, output_padding, dilation),
        x,
        kernel,
        bias,
        backend=backend,
    )


# Keras 3.15 on PyTorch: Conv3DTranspose(use_bias=False) with x = (arange + 1) / 4 and
# kernel = (arange - 3) / 5 (see scripts/compare_more_layers_keras.py for the general check)
KERAS_TRANSPOSE = [
    (
        (1, 2, 1, 2, 1),
        (3, 1, 2, 1, 1),
        dict(strides=(2, 1, 1), padding="same"),
        [-0.15, -0.4, -0.05, -0.1, -0.4, -0.7, -0.15, -0.2],
    ),
    (
        (1, 1, 1, 2, 1),
        (2, 1, 2, 1, 1),
        dict(strides=(2, 1, 2), output_padding=(1, 0, 1)),
        [-0.15, -0.1, -0.3, -0.2, 0.0, -0.05, 0.0, -0.1] + [0.0] * 7,
    ),
    (
        (1, 2, 2, 1, 2),
        (2, 2, 1, 1, 2),
        dict(strides=(1, 2, 1), padding="same"),
        [-0.35, -0.05, -0.85, -0.15, -1.1, 0.3, -1.3, 0.9],
    ),
]


@pytest.mark.parametrize("shape, kernel_shape, arguments, expected", KERAS_TRANSPOSE)
def test_conv3d_transpose_gives_keras_numbers(backend, shape, kernel_shape, arguments, expected):
    x = (numpy.arange(numpy.prod(shape), dtype="float32").reshape(shape) + 1) / 4
    kernel = (numpy.arange(numpy.prod(kernel_shape), dtype="float32").reshape(kernel_shape) - 3) / 5
    layer = layers.Conv3DTranspose(kernel_shape[3], kernel_shape[:3], use_bias=False, **arguments)
    layer.build_from_shape(shape)
    layer.set_weights([kernel])
    numpy.testing.assert_allclose(layer(x).numpy().reshape(-1), expected, atol=1e-6)


def test_conv3d_layer(backend, float64, rng):
    layer = layers.Conv3D(4, (2, 3, 2), strides=(1, 2, 1), padding="same", activation="tanh")
    x = rng.standard_normal((2, 4, 5, 3, 2))
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (2, 3, 2, 2, 4) and bias.shape == (4,)
    expected = numpy.tanh(conv3d_loop(x, kernel, bias, (1, 2, 1), "same", (1, 1, 1)))
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == (2, 4, 3, 3, 4)
    assert layer.compute_output_shape((None, 4, None, 3, 2)) == (None, 4, None, 3, 4)
    check_weight_gradients(lambda: layer(x), layer.weights)


def test_conv3d_transpose_layer(backend, float64, rng):
    layer = layers.Conv3DTranspose(3, 2, strides=2, padding="same", use_bias=False)
    x = rng.standard_normal((2, 2, 3, 2, 4))
    y = layer(x)
    (kernel,) = layer.get_weights()
    assert kernel.shape == (2, 2, 2, 3, 4)  # Keras's (kd, kh, kw, filters, in)
    assert y.shape == layer.compute_output_shape(x.shape) == (2, 4, 6, 4, 3)
    assert layer.compute_output_shape((None, 2, None, 2, 4)) == (None, 4, None, 4, 3)
    expected = conv3d_transpose_loop(x, kernel, (2, 2, 2), "same", None, (1, 1, 1))
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    check_gradients(layer, x, backend=backend)


def test_conv3d_in_a_model_trains_and_configs_round_trip(backend):
    engine.utils.set_random_seed(3)
    model = engine.models.Sequential(
        [
            layers.Input((4, 6, 6, 1)),
            layers.Convolution3D(4, 3, padding="same", activation="relu"),
            layers.Conv3DTranspose(2, 2, strides=(1, 2, 2), data_format="channels_last"),
            layers.GlobalAveragePooling3D(),
            layers.Dense(1),
        ]
    )
    assert model.output_shape == (None, 1)
    model.compile("adam", "mse")
    x = numpy.random.default_rng(0).standard_normal((16, 4, 6, 6, 1)).astype("float32")
    history = model.fit(x, x.mean(axis=(1, 2, 3)), epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    for layer in model.layers[:2]:
        config = json.loads(json.dumps(layer.get_config()))
        assert type(layer).from_config(config).get_config() == config
    assert "output_padding" in model.layers[1].get_config()
    assert "groups" not in model.layers[1].get_config()


def test_conv3d_errors_name_the_layer():
    with pytest.raises(ValueError, match="Conv3D 'c3': `kernel_size` must be a positive"):
        layers.Conv3D(2, (3, 3), name="c3")
    with pytest.raises(ValueError, match="Conv3D '.*' expects a 5-D input"):
        layers.Conv3D(2, 3).compute_output_shape((1, 4, 4, 1))
    with pytest.raises(ValueError, match="Conv3D '.*': the window"):
        layers.Conv3D(2, 3).compute_output_shape((1, 2, 4, 4, 1))
    with pytest.raises(ValueError, match="Conv3DTranspose '.*': `output_padding`"):
        layers.Conv3DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="groups=1"):
        layers.Conv3D(2, 3, groups=2)
