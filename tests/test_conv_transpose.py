"""Conv2DTranspose and Conv1DTranspose: a scatter loop, gradients, Keras's shapes, bad input."""

import json

import numpy
import pytest

import engine
from engine import layers
from engine.functional.conv_transpose import conv2d_transpose, conv_transpose
from tests.gradcheck import check_gradients, check_weight_gradients


def keras_output_length(size, window, stride, padding, output_padding, dilation=1):
    """Keras 3's ``compute_conv_transpose_output_shape`` for one axis, written out."""
    window = (window - 1) * dilation + 1
    if padding == "valid":
        extra = max(window, stride) - window if output_padding is None else output_padding
        return (size - 1) * stride + window + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + window % 2 + output_padding


def keras_crop_before(window, stride, padding, output_padding, dilation=1):
    """How much of the full output's start Keras drops (its JAX padding rule)."""
    window = (window - 1) * dilation + 1
    if padding == "valid":
        return 0
    if output_padding is None:
        total = stride + window - 2
    else:
        total = window + window % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, window - 1)
    return window - 1 - left


def conv2d_transpose_loop(x, kernel, bias, strides, padding, output_padding, dilation=(1, 1)):
    """The definition: every input pixel scatters ``x[pixel] * kernel`` into the output."""
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    full_h = (h - 1) * strides[0] + (kh - 1) * dilation[0] + 1
    full_w = (w - 1) * strides[1] + (kw - 1) * dilation[1] + 1
    full = numpy.zeros((n, full_h + strides[0], full_w + strides[1], f))  # room for padding
    for b in range(n):
        for i in range(h):
            for j in range(w):
                for di in range(kh):
                    for dj in range(kw):
                        row = i * strides[0] + di * dilation[0]
                        col = j * strides[1] + dj * dilation[1]
                        full[b, row, col] += kernel[di, dj] @ x[b, i, j]
    ops = (None, None) if output_padding is None else output_padding
    out_h, out_w = (
        keras_output_length(size, k, s, padding, op, d)
        for size, k, s, op, d in zip((h, w), (kh, kw), strides, ops, dilation)
    )
    top, left = (
        keras_crop_before(k, s, padding, op, d)
        for k, s, op, d in zip((kh, kw), strides, ops, dilation)
    )
    y = full[:, top : top + out_h, left : left + out_w]
    assert y.shape[1:3] == (out_h, out_w)
    return y + (0 if bias is None else bias)


CONFIGS = [
    # (input hw, kernel hw, strides, padding, output_padding, dilation)
    ((3, 4), (3, 3), (1, 1), "valid", None, (1, 1)),
    ((3, 4), (3, 2), (2, 1), "valid", None, (1, 1)),
    ((3, 4), (3, 3), (1, 1), "same", None, (1, 1)),
    ((3, 4), (3, 3), (2, 2), "same", None, (1, 1)),
    ((4, 3), (4, 4), (2, 2), "same", None, (1, 1)),
    ((3, 3), (2, 3), (2, 3), "valid", (1, 2), (1, 1)),
    ((3, 3), (3, 4), (2, 2), "same", (1, 0), (1, 1)),
    ((3, 3), (1, 2), (3, 2), "valid", None, (1, 1)),  # a window smaller than the stride
    ((3, 3), (1, 1), (2, 2), "same", (0, 1), (1, 1)),
    ((3, 4), (3, 2), (1, 1), "same", None, (2, 2)),
]


@pytest.mark.parametrize("channels", [2, 9])  # both im2col paths: slice copies, strided view
@pytest.mark.parametrize("hw, window, strides, padding, output_padding, dilation", CONFIGS)
def test_conv2d_transpose_matches_scatter_loop(
    backend, float64, rng, hw, window, strides, padding, output_padding, dilation, channels
):
    x = rng.standard_normal((2, *hw, channels))
    kernel = rng.standard_normal((*window, 3, channels))
    bias = rng.standard_normal(3)
    expected = conv2d_transpose_loop(x, kernel, bias, strides, padding, output_padding, dilation)
    got = conv2d_transpose(
        engine.tensor(x),
        engine.tensor(kernel),
        engine.tensor(bias),
        strides,
        padding,
        output_padding,
        dilation,
    )
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("hw, window, strides, padding, output_padding, dilation", CONFIGS)
def test_conv2d_transpose_gradients(
    backend, float64, rng, hw, window, strides, padding, output_padding, dilation
):
    """Input, kernel and bias gradients against central differences."""

    def fn(x, kernel, bias):
        return conv2d_transpose(x, kernel, bias, strides, padding, output_padding, dilation)

    x = rng.standard_normal((2, *hw, 2))
    kernel = rng.standard_normal((*window, 3, 2))
    check_gradients(fn, x, kernel, rng.standard_normal(3), backend=backend)


def test_conv2d_transpose_gradients_with_many_channels_and_relu(backend, float64, rng):
    """Eight or more channels take the strided-view im2col path; relu is fused in the op."""

    def fn(x, kernel, bias):
        return conv2d_transpose(x, kernel, bias, 2, "same", activation="relu")

    x = rng.standard_normal((2, 3, 3, 8))
    kernel = rng.standard_normal((4, 4, 9, 8))
    bias = rng.standard_normal(9)
    y = fn(*map(engine.tensor, (x, kernel, bias))).numpy()
    expected = numpy.maximum(conv2d_transpose_loop(x, kernel, bias, (2, 2), "same", None), 0)
    numpy.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    assert (y == 0).any() and (y > 0).any()
    check_gradients(fn, x, kernel, bias, backend=backend)


def test_conv2d_transpose_is_the_adjoint_of_conv2d(backend, float64, rng):
    """<conv2d(y, k), x> == <conv2d_transpose(x, k), y> with the same padding."""
    x = rng.standard_normal((2, 4, 5, 3))
    kernel = rng.standard_normal((3, 3, 2, 3))
    for padding in ("valid", "same"):
        up = conv2d_transpose(engine.tensor(x), engine.tensor(kernel), None, 2, padding)
        y = rng.standard_normal(up.shape)
        down = engine.functional.conv2d(engine.tensor(y), engine.tensor(kernel), None, 2, padding)
        assert down.shape == x.shape
        numpy.testing.assert_allclose((down.numpy() * x).sum(), (up.numpy() * y).sum(), rtol=1e-10)


@pytest.mark.parametrize(
    "kernel_size, strides, padding, output_padding, dilation",
    [(3, 1, "valid", None, 1), (4, 2, "same", None, 1), (3, 2, "same", 1, 1), (2, 1, "same", 0, 2)],
)
def test_conv1d_transpose_matches_loop_and_gradients(
    backend, float64, rng, kernel_size, strides, padding, output_padding, dilation
):
    layer = layers.Conv1DTranspose(
        3,
        kernel_size,
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        dilation_rate=dilation,
        bias_initializer="random_normal",
    )
    x = rng.standard_normal((2, 5, 2))
    y = layer(x).numpy()
    kernel, bias = layer.get_weights()
    assert kernel.shape == (kernel_size, 3, 2) and bias.shape == (3,)
    expected = conv2d_transpose_loop(
        x[:, None],
        kernel[None],
        bias,
        (1, strides),
        padding,
        None if output_padding is None else (0, output_padding),
        (1, dilation),
    )[:, 0]
    numpy.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    assert layer.compute_output_shape((None, 5, 2)) == (None, *y.shape[1:])
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)
    direct = conv_transpose(
        engine.tensor(x), engine.tensor(kernel), None, strides, padding, output_padding, dilation
    )
    numpy.testing.assert_allclose(direct.numpy() + bias, y, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_transpose_layer_gradients(backend, float64, rng, strides, padding):
    layer = layers.Conv2DTranspose(
        3,
        (3, 2),
        strides=strides,
        padding=padding,
        output_padding=strides - 1,
        activation="tanh",
        bias_initializer="random_normal",
    )
    x = rng.standard_normal((2, 3, 4, 2))
    layer(x)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_conv2d_transpose_float32_keeps_dtype(backend, rng):
    layer = layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")
    x = engine.tensor(rng.standard_normal((2, 5, 5, 3)).astype("float32"), requires_grad=True)
    y = layer(x)
    assert y.numpy().dtype == numpy.float32 and y.shape == (2, 10, 10, 4)
    y.sum().backward()
    assert x.grad.numpy().dtype == numpy.float32
    assert all(w.grad.numpy().dtype == numpy.float32 for w in layer.trainable_weights)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("output_padding", [None, 0, "max"])
def test_conv2d_transpose_output_shapes_follow_keras(
    backend, kernel_size, strides, padding, output_padding
):
    if output_padding == "max":
        output_padding = strides - 1
    layer = layers.Conv2DTranspose(
        2, kernel_size, strides=strides, padding=padding, output_padding=output_padding
    )
    expected = tuple(
        keras_output_length(size, kernel_size, strides, padding, output_padding) for size in (4, 5)
    )
    assert layer.compute_output_shape((None, 4, 5, 3)) == (None, *expected, 2)
    assert layer.compute_output_shape((None, None, 5, 3)) == (None, None, expected[1], 2)
    assert layer(numpy.zeros((1, 4, 5, 3), "float32")).shape == (1, *expected, 2)


def test_conv2d_transpose_weights_params_config_and_model(backend, rng, tmp_path):
    layer = layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu")
    layer.build_from_shape((None, 7, 7, 64))
    kernel, bias = layer.get_weights()
    # Keras's layout for transposed convolutions: (kh, kw, filters, in_channels)
    assert kernel.shape == (4, 4, 32, 64) and bias.shape == (32,)
    assert kernel.dtype == numpy.float32 and not bias.any()
    assert numpy.abs(kernel).max() <= numpy.sqrt(6 / (16 * 32 + 16 * 64))
    assert layer.count_params() == 4 * 4 * 32 * 64 + 32
    config = json.loads(json.dumps(layer.get_config()))
    assert config["output_padding"] is None and config["strides"] == [2, 2]
    clone = layers.Conv2DTranspose.from_config({**config, "name": "clone", "output_padding": 1})
    # Keras's rule: with output_padding, "same" gives (size - 1) * stride + kernel % 2 + it
    assert clone.compute_output_shape((None, 7, 7, 64)) == (None, 13, 13, 32)

    model = engine.models.Sequential(
        [layers.Input((7, 7, 64)), layers.Conv2DTranspose(32, 4, strides=2, padding="same")]
    )
    model.layers[-1].set_weights([kernel, rng.standard_normal(32).astype("float32")])
    assert model.output_shape == (None, 14, 14, 32)
    x = rng.standard_normal((3, 7, 7, 64)).astype("float32")
    y = model.predict(x, verbose=0)
    assert y.shape == (3, 14, 14, 32)
    model.save(tmp_path / "model.safetensors")
    loaded = engine.models.load_model(tmp_path / "model.safetensors")
    numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), y)


def test_conv2d_transpose_without_bias_and_with_regularizer(backend, rng):
    layer = layers.Conv2DTranspose(2, 2, use_bias=False, kernel_regularizer="l2")
    y = layer(rng.standard_normal((1, 3, 3, 1)))
    assert y.shape == (1, 4, 4, 2)
    (kernel,) = layer.get_weights()
    numpy.testing.assert_allclose(layer.losses[0].item(), 0.01 * (kernel**2).sum(), rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"output_padding": 2, "strides": 2}, "output_padding"),
        ({"output_padding": 1}, "output_padding"),
        ({"output_padding": -1, "strides": 2}, "output_padding"),
        ({"strides": 2, "dilation_rate": 2}, "dilation_rate"),
        ({"padding": "causal"}, "padding"),
        ({"data_format": "channels_first"}, "channels_last"),
        ({"kernel_size": 0}, "kernel_size"),
    ],
)
def test_conv2d_transpose_rejects_bad_arguments(backend, kwargs, match):
    kwargs = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=f"Conv2DTranspose 'conv2d_transpose.*{match}"):
        layers.Conv2DTranspose(**kwargs)


def test_conv2d_transpose_rejects_wrong_rank_and_channels(backend, rng):
    layer = layers.Conv2DTranspose(4, 3)
    with pytest.raises(ValueError, match=r"expects a 4-D input.*\(2, 8, 8\)"):
        layer(numpy.zeros((2, 8, 8)))
    x = engine.tensor(rng.standard_normal((1, 3, 3, 2)))
    with pytest.raises(ValueError, match="kernel"):
        conv2d_transpose(x, engine.tensor(rng.standard_normal((2, 2, 3, 5))))
    with pytest.raises(ValueError, match="output_padding"):
        conv2d_transpose(x, engine.tensor(rng.standard_normal((2, 2, 3, 2))), output_padding=1)


def test_conv2d_transpose_takes_conv2d_constraints_and_activity_regularizer(backend, rng):
    """The arguments shared with Conv2D apply to the transposed kernel's layout."""
    layer = layers.Conv2DTranspose(
        3, 2, kernel_constraint="non_neg", activity_regularizer="l2", bias_constraint="non_neg"
    )
    x = rng.standard_normal((2, 4, 4, 5)).astype("float32")
    y = layer(x)
    assert layer.kernel.shape == (2, 2, 3, 5)
    assert layer.kernel.constraint is not None and layer.bias.constraint is not None
    (penalty,) = layer.losses
    numpy.testing.assert_allclose(penalty.item(), 0.01 * (y.numpy() ** 2).sum() / 2, rtol=1e-5)
    config = layer.get_config()
    assert "groups" not in config and config["kernel_constraint"] is not None
