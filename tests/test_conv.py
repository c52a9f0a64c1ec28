"""Conv2D and Conv1D: kernels against a loop implementation, gradients, Keras shapes, bad input."""

import json

import numpy
import pytest

import engine
from engine import functional as F
from engine import layers
from tests.gradcheck import check_gradients, check_weight_gradients


def same_pads(size, window, stride, dilation):
    """TensorFlow's 'same' rule, written out independently of the library."""
    effective = (window - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv2d_loop(x, kernel, bias, strides, padding, dilation):
    """The obviously-correct definition: one output value at a time."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    if padding == "same":
        pads = (
            same_pads(h, kh, strides[0], dilation[0]),
            same_pads(w, kw, strides[1], dilation[1]),
        )
    else:
        pads = ((0, 0), (0, 0))
    x = numpy.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    out_h = (x.shape[1] - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    out_w = (x.shape[2] - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    y = numpy.zeros((n, out_h, out_w, f))
    for b in range(n):
        for i in range(out_h):
            for j in range(out_w):
                for o in range(f):
                    total = 0.0
                    for di in range(kh):
                        for dj in range(kw):
                            for ch in range(c):
                                row = i * strides[0] + di * dilation[0]
                                col = j * strides[1] + dj * dilation[1]
                                total += x[b, row, col, ch] * kernel[di, dj, ch, o]
                    y[b, i, j, o] = total + (bias[o] if bias is not None else 0.0)
    return y


CONFIGS = [
    # (input hw, kernel hw, strides, padding, dilation)
    ((5, 6), (3, 3), (1, 1), "valid", (1, 1)),
    ((5, 6), (3, 2), (2, 1), "valid", (1, 1)),
    ((5, 6), (3, 3), (1, 1), "same", (1, 1)),
    ((6, 5), (2, 3), (2, 2), "same", (1, 1)),
    ((7, 6), (3, 2), (1, 1), "valid", (2, 2)),
    ((6, 6), (3, 3), (1, 2), "same", (2, 1)),
    ((7, 7), (2, 2), (3, 2), "same", (1, 1)),
]


@pytest.mark.parametrize("channels", [2, 9])  # both im2col paths: slice copies, strided view
@pytest.mark.parametrize("hw, window, strides, padding, dilation", CONFIGS)
def test_conv2d_kernels_match_loop_and_reference(
    backend, reference, rng, hw, window, strides, padding, dilation, channels
):
    x = rng.standard_normal((2, *hw, channels))
    kernel = rng.standard_normal((*window, channels, 3))
    bias = rng.standard_normal(3)
    expected = conv2d_loop(x, kernel, bias, strides, padding, dilation)
    geometry = (strides, padding, dilation)
    got = backend.conv2d_forward(
        backend.asarray(x), backend.asarray(kernel), backend.asarray(bias), *geometry
    )
    numpy.testing.assert_allclose(backend.to_numpy(got), expected, rtol=1e-10, atol=1e-10)

    dy = rng.standard_normal(expected.shape)
    for name, args in (
        ("conv2d_backward_input", (dy, kernel, x.shape)),
        ("conv2d_backward_weight", (dy, x, kernel.shape)),
    ):
        want = getattr(reference, name)(*args, *geometry)
        native = [backend.asarray(a) if isinstance(a, numpy.ndarray) else a for a in args]
        have = backend.to_numpy(getattr(backend, name)(*native, *geometry))
        numpy.testing.assert_allclose(have, want, rtol=1e-10, atol=1e-10, err_msg=name)


def test_conv2d_backward_bias(backend, reference, rng):
    dy = rng.standard_normal((2, 3, 4, 5))
    got = backend.to_numpy(backend.conv2d_backward_bias(backend.asarray(dy)))
    numpy.testing.assert_allclose(got, dy.sum(axis=(0, 1, 2)), rtol=1e-12)
    numpy.testing.assert_allclose(reference.conv2d_backward_bias(dy), got, rtol=1e-12)


def test_conv2d_float32_keeps_dtype(backend, rng):
    x = rng.standard_normal((2, 4, 4, 1)).astype("float32")
    kernel = rng.standard_normal((3, 3, 1, 2)).astype("float32")
    y = backend.conv2d_forward(backend.asarray(x), backend.asarray(kernel))
    assert y.dtype == numpy.float32
    numpy.testing.assert_allclose(
        backend.to_numpy(y), conv2d_loop(x, kernel, None, (1, 1), "valid", (1, 1)), rtol=1e-5
    )


@pytest.mark.parametrize("hw, window, strides, padding, dilation", CONFIGS)
def test_conv2d_layer_gradients(backend, float64, rng, hw, window, strides, padding, dilation):
    layer = layers.Conv2D(
        3,
        window,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        activation="tanh",
        bias_initializer="random_normal",
    )
    x = rng.standard_normal((2, *hw, 2))
    layer(x)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_conv2d_layer_gradients_with_many_channels(backend, float64, rng):
    """Eight or more channels take the strided-view im2col path."""
    layer = layers.Conv2D(2, 2, strides=(1, 2), padding="same", bias_initializer="random_normal")
    x = rng.standard_normal((1, 4, 4, 8))
    layer(x)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_conv_with_fused_relu_matches_and_has_gradients(backend, float64, rng):
    """Conv2D/Conv1D(activation="relu") apply the bias and relu inside the convolution op."""
    layer = layers.Conv2D(
        3, (2, 3), padding="same", activation="relu", bias_initializer="random_normal"
    )
    x = rng.standard_normal((2, 5, 4, 2))
    y = layer(x).numpy()
    kernel, bias = layer.get_weights()
    expected = numpy.maximum(conv2d_loop(x, kernel, bias, (1, 1), "same", (1, 1)), 0)
    numpy.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    assert (y == 0).any() and (y > 0).any()
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)

    layer = layers.Conv1D(2, 3, padding="causal", activation="relu")
    x = rng.standard_normal((2, 6, 3))
    layer(x)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_conv2d_rejects_activation_it_cannot_fuse(backend, rng):
    x = engine.tensor(rng.standard_normal((1, 3, 3, 1)))
    kernel = engine.tensor(rng.standard_normal((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="activation"):
        F.conv2d(x, kernel, activation="tanh")


@pytest.mark.parametrize(
    "kernel_size, strides, padding, dilation",
    [(3, 1, "valid", 1), (2, 2, "same", 1), (3, 1, "causal", 2), (2, 1, "same", 2)],
)
def test_conv1d_matches_conv2d_loop_and_gradients(
    backend, float64, rng, kernel_size, strides, padding, dilation
):
    layer = layers.Conv1D(3, kernel_size, strides=strides, padding=padding, dilation_rate=dilation)
    x = rng.standard_normal((2, 7, 2))
    y = layer(x).numpy()
    kernel, bias = layer.get_weights()
    assert kernel.shape == (kernel_size, 2, 3) and bias.shape == (3,)
    if padding == "causal":
        x_loop = numpy.pad(x, ((0, 0), ((kernel_size - 1) * dilation, 0), (0, 0)))
        loop_padding = "valid"
    else:
        x_loop, loop_padding = x, padding
    expected = conv2d_loop(
        x_loop[:, None], kernel[None], bias, (1, strides), loop_padding, (1, dilation)
    )[:, 0]
    numpy.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    assert layer.compute_output_shape((None, 7, 2)) == (None, *y.shape[1:])
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_causal_conv1d_does_not_see_the_future(backend, rng):
    layer = layers.Conv1D(2, 3, padding="causal")
    x = rng.standard_normal((1, 6, 1)).astype("float32")
    before = layer(x).numpy()
    x[0, 4:] += 10
    after = layer(x).numpy()
    numpy.testing.assert_array_equal(before[0, :4], after[0, :4])


def test_conv2d_weights_shapes_params_and_config(backend):
    layer = layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))
    layer.build_from_shape((None, 28, 28, 1))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 1, 32) and bias.shape == (32,)
    assert kernel.dtype == numpy.float32 and not bias.any()
    limit = numpy.sqrt(6 / (9 * 1 + 9 * 32))  # glorot_uniform with Keras's conv fans
    assert numpy.abs(kernel).max() <= limit
    assert layer.count_params() == 320
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, 26, 26, 32)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["kernel_size"] == [3, 3] and config["padding"] == "valid"
    clone = layers.Conv2D.from_config({**config, "name": "clone"})
    assert clone.compute_output_shape((None, 9, 9, 1)) == (None, 7, 7, 32)
    assert clone.activation is layer.activation


@pytest.mark.parametrize(
    "kwargs, hw, expected",
    [
        ({"strides": 2, "padding": "same"}, (7, 8), (4, 4)),
        ({"strides": 2}, (7, 8), (3, 3)),
        ({"dilation_rate": 2}, (7, 8), (3, 4)),
        ({"padding": "same"}, (None, 5), (None, 5)),
    ],
)
def test_conv2d_output_shapes(backend, kwargs, hw, expected):
    layer = layers.Conv2D(4, 3, **kwargs)
    assert layer.compute_output_shape((None, *hw, 2)) == (None, *expected, 4)
    if None not in hw:
        assert layer(numpy.zeros((1, *hw, 2))).shape == (1, *expected, 4)


def test_conv2d_without_bias_and_with_regularizer(backend, rng):
    layer = layers.Conv2D(2, 2, use_bias=False, kernel_regularizer="l2")
    layer(rng.standard_normal((1, 3, 3, 1)))
    (kernel,) = layer.get_weights()
    numpy.testing.assert_allclose(layer.losses[0].item(), 0.01 * (kernel**2).sum(), rtol=1e-5)


def test_conv2d_rejects_rank_three_input(backend):
    layer = layers.Conv2D(4, 3)
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d.*' expects a 4-D input.*\(2, 8, 8\)"):
        layer(numpy.zeros((2, 8, 8)))
    layer(numpy.zeros((2, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"'conv2d.*expected ndim=4, found ndim=3"):
        layer(numpy.zeros((2, 8, 8)))


def test_conv2d_rejects_kernel_larger_than_input(backend):
    layer = layers.Conv2D(4, (5, 5))
    with pytest.raises(
        ValueError, match=r"Conv2D 'conv2d.*window \(5, 5\).*larger than.*\(3, 3\).*\(2, 3, 3, 1\)"
    ):
        layer(numpy.zeros((2, 3, 3, 1)))
    dilated = layers.Conv2D(4, 3, dilation_rate=3)
    with pytest.raises(ValueError, match=r"covering \(7, 7\)"):
        dilated.compute_output_shape((None, 6, 9, 1))
    # 'same' padding makes it fit, as in Keras
    assert layers.Conv2D(4, (5, 5), padding="same")(numpy.zeros((2, 3, 3, 1))).shape == (2, 3, 3, 4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kernel_size": 0}, "kernel_size.*positive.*0"),
        ({"kernel_size": (3, -1)}, r"kernel_size.*\(3, -1\)"),
        ({"strides": 0}, "strides.*got 0"),
        ({"dilation_rate": (1, 0)}, "dilation_rate"),
        ({"padding": "full"}, "padding.*'full'"),
        ({"filters": 0}, "filters.*positive.*0"),
        ({"data_format": "channels_first"}, "channels_last"),
    ],
)
def test_conv2d_rejects_bad_arguments(backend, kwargs, match):
    arguments = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=f"Conv2D 'conv2d.*{match}"):
        layers.Conv2D(**arguments)


def test_conv2d_set_weights_checks_count_and_shapes(backend):
    layer = layers.Conv2D(2, (2, 2))
    layer(numpy.ones((1, 3, 3, 1)))
    with pytest.raises(ValueError, match="'conv2d.*' expects 2 weight arrays.*received 1"):
        layer.set_weights([numpy.zeros((2, 2, 1, 2))])
    with pytest.raises(ValueError, match=r"kernel' has shape \(2, 2, 1, 2\).*\(2, 2, 2, 1\)"):
        layer.set_weights([numpy.zeros((2, 2, 2, 1)), numpy.zeros(2)])
    layer.set_weights([numpy.ones((2, 2, 1, 2)), numpy.array([0.0, 1.0])])
    numpy.testing.assert_allclose(layer(numpy.ones((1, 3, 3, 1))).numpy()[0, 0, 0], [4.0, 5.0])
