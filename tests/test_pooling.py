"""Pooling: kernels against a loop implementation, gradients, layers, bad input."""

import json

import numpy
import pytest

import engine
from engine import layers
from tests.gradcheck import check_gradients
from tests.test_conv import same_pads


def pool2d_loop(x, pool_size, strides, padding, kind):
    """One window at a time; padded cells are skipped (never a max, not counted in a mean)."""
    n, h, w, c = x.shape
    ph, pw = pool_size
    if padding == "same":
        (top, _), (left, _) = same_pads(h, ph, strides[0], 1), same_pads(w, pw, strides[1], 1)
        out_h, out_w = -(-h // strides[0]), -(-w // strides[1])
    else:
        top = left = 0
        out_h, out_w = (h - ph) // strides[0] + 1, (w - pw) // strides[1] + 1
    y = numpy.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * strides[0] - top, j * strides[1] - left
            window = x[:, max(r0, 0) : r0 + ph, max(c0, 0) : c0 + pw, :]
            reduce = numpy.max if kind == "max" else numpy.mean
            y[:, i, j, :] = reduce(window, axis=(1, 2))
    return y


CONFIGS = [
    # (input hw, pool_size, strides, padding)
    ((4, 6), (2, 2), (2, 2), "valid"),
    ((5, 5), (2, 2), (2, 2), "valid"),
    ((5, 6), (3, 2), (1, 2), "valid"),
    ((5, 5), (2, 2), (2, 2), "same"),
    ((5, 7), (3, 3), (2, 2), "same"),
    ((4, 5), (3, 2), (1, 1), "same"),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("hw, pool_size, strides, padding", CONFIGS)
def test_pool2d_kernels_match_loop_and_reference(
    backend, reference, rng, kind, hw, pool_size, strides, padding
):
    x = rng.standard_normal((2, *hw, 3))
    expected = pool2d_loop(x, pool_size, strides, padding, kind)
    forward = getattr(backend, f"{kind}_pool2d_forward")
    result = forward(backend.asarray(x), pool_size, strides, padding)
    y = result[0] if kind == "max" else result
    numpy.testing.assert_allclose(backend.to_numpy(y), expected, rtol=1e-12)

    dy = rng.standard_normal(expected.shape)
    if kind == "max":
        want_y, argmax = reference.max_pool2d_forward(x, pool_size, strides, padding)
        want = reference.max_pool2d_backward(dy, argmax, x.shape, pool_size, strides, padding)
        have = backend.max_pool2d_backward(
            backend.asarray(dy), result[1], x.shape, pool_size, strides, padding
        )
    else:
        want = reference.avg_pool2d_backward(dy, x.shape, pool_size, strides, padding)
        have = backend.avg_pool2d_backward(
            backend.asarray(dy), x.shape, pool_size, strides, padding
        )
    numpy.testing.assert_allclose(backend.to_numpy(have), want, rtol=1e-12, atol=1e-12)


def test_max_pool_gradient_goes_to_the_first_maximum(reference):
    x = numpy.array([[1.0, 3.0], [3.0, 0.0]]).reshape(1, 2, 2, 1)
    y, argmax = reference.max_pool2d_forward(x, (2, 2), (2, 2))
    dx = reference.max_pool2d_backward(numpy.ones_like(y), argmax, x.shape, (2, 2), (2, 2))
    numpy.testing.assert_array_equal(dx.reshape(2, 2), [[0.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("layer_class", [layers.MaxPooling2D, layers.AveragePooling2D])
@pytest.mark.parametrize("hw, pool_size, strides, padding", CONFIGS)
def test_pool2d_layer_gradients(
    backend, float64, rng, layer_class, hw, pool_size, strides, padding
):
    layer = layer_class(pool_size, strides, padding)
    x = rng.standard_normal((2, *hw, 2))
    y = layer(x)
    assert layer.compute_output_shape((None, *hw, 2)) == (None, *y.shape[1:])
    check_gradients(layer, x, backend=backend)


@pytest.mark.parametrize(
    "layer_class, kind", [(layers.MaxPooling1D, "max"), (layers.AveragePooling1D, "avg")]
)
@pytest.mark.parametrize(
    "pool_size, strides, padding", [(2, None, "valid"), (3, 2, "same"), (2, 1, "valid")]
)
def test_pool1d_layers(backend, float64, rng, layer_class, kind, pool_size, strides, padding):
    layer = layer_class(pool_size, strides, padding)
    x = rng.standard_normal((2, 7, 3))
    y = layer(x).numpy()
    expected = pool2d_loop(x[:, None], (1, pool_size), (1, strides or pool_size), padding, kind)
    numpy.testing.assert_allclose(y, expected[:, 0], rtol=1e-12)
    assert layer.compute_output_shape((None, 7, 3)) == (None, *y.shape[1:])
    check_gradients(layer, x, backend=backend)


@pytest.mark.parametrize(
    "layer_class, reduce",
    [
        (layers.GlobalAveragePooling2D, numpy.mean),
        (layers.GlobalMaxPooling2D, numpy.max),
    ],
)
def test_global_pooling_2d(backend, float64, rng, layer_class, reduce):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = layer_class()
    numpy.testing.assert_allclose(layer(x).numpy(), reduce(x, axis=(1, 2)), rtol=1e-12)
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 5)
    check_gradients(layer, x, backend=backend)
    kept = layer_class(keepdims=True)
    assert kept(x).shape == (2, 1, 1, 5)
    assert kept.compute_output_shape((None, 3, 4, 5)) == (None, 1, 1, 5)
    with pytest.raises(ValueError, match=r"Global.*expects a 4-D input.*\(2, 3\)"):
        layer_class()(numpy.zeros((2, 3)))


@pytest.mark.parametrize(
    "layer_class, reduce",
    [(layers.GlobalAveragePooling1D, numpy.mean), (layers.GlobalMaxPooling1D, numpy.max)],
)
def test_global_pooling_1d(backend, float64, rng, layer_class, reduce):
    x = rng.standard_normal((2, 6, 3))
    layer = layer_class()
    numpy.testing.assert_allclose(layer(x).numpy(), reduce(x, axis=1), rtol=1e-12)
    check_gradients(layer, x, backend=backend)


def test_global_average_pooling_1d_averages_the_unmasked_steps(backend, float64, rng):
    """Keras 3: with a mask (an Embedding's mask_zero) the mean of the kept steps; masked
    steps give no gradient, even where they hold NaN; no mask goes on."""
    x = rng.standard_normal((3, 5, 4))
    mask = numpy.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0]], bool)
    x[~mask] = numpy.nan
    layer = layers.GlobalAveragePooling1D()
    inputs = engine.tensor(x, requires_grad=True)
    pooled = layer(inputs, mask=backend.asarray(mask))
    expected = numpy.stack([x[i][mask[i]].mean(axis=0) for i in range(3)])
    numpy.testing.assert_allclose(pooled.numpy(), expected, rtol=1e-12)
    pooled.sum().backward()
    numpy.testing.assert_allclose(
        inputs.grad.numpy(),
        numpy.where(mask, 1.0 / mask.sum(axis=1, keepdims=True), 0.0)[..., None].repeat(4, axis=2),
        rtol=1e-12,
    )
    assert layer.compute_mask(inputs, mask) is None
    kept = layers.GlobalAveragePooling1D(keepdims=True)(engine.tensor(x), mask=mask)
    assert kept.shape == (3, 1, 4)
    with pytest.raises(ValueError, match=r"GlobalAveragePooling1D .*\(3, 5\); got \(3, 4\)"):
        layer(engine.tensor(x), mask=mask[:, :4])


def test_global_average_pooling_1d_after_mask_zero_embedding(backend):
    tokens = layers.Input((4,), dtype="int32")
    table = layers.Embedding(6, 2, mask_zero=True)
    model = engine.Model(tokens, layers.GlobalAveragePooling1D()(table(tokens)))
    ids = numpy.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    weights = table.get_weights()[0]
    expected = numpy.stack([weights[[1, 2]].mean(axis=0), weights[3]])
    numpy.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-6)


def test_pooling_defaults_and_config(backend):
    layer = layers.MaxPooling2D()
    assert layer.pool_size == (2, 2) and layer.strides == (2, 2) and layer.padding == "valid"
    assert layer.compute_output_shape((None, 7, 6, 3)) == (None, 3, 3, 3)
    assert layers.AveragePooling2D(3).strides == (3, 3)
    config = json.loads(json.dumps(layers.MaxPooling2D((3, 2), strides=1).get_config()))
    clone = layers.MaxPooling2D.from_config({**config, "name": "clone"})
    assert clone.pool_size == (3, 2) and clone.strides == (1, 1)
    assert layers.MaxPooling1D().pool_size == (2,)


@pytest.mark.parametrize(
    "layer_class, kwargs, match",
    [
        (layers.MaxPooling2D, {"pool_size": 0}, "pool_size.*got 0"),
        (layers.MaxPooling2D, {"pool_size": (2, -1)}, r"pool_size.*\(2, -1\)"),
        (layers.AveragePooling2D, {"strides": 0}, "strides.*got 0"),
        (layers.AveragePooling2D, {"strides": (-2, 2)}, r"strides.*\(-2, 2\)"),
        (layers.MaxPooling1D, {"pool_size": -3}, "pool_size.*got -3"),
        (layers.MaxPooling1D, {"strides": 0}, "strides.*got 0"),
        (layers.MaxPooling2D, {"padding": "causal"}, "padding.*'causal'"),
    ],
)
def test_pooling_rejects_bad_arguments_at_construction(backend, layer_class, kwargs, match):
    with pytest.raises(ValueError, match=f"{layer_class.__name__} '.*{match}"):
        layer_class(**kwargs)


def test_pooling_rejects_bad_input(backend):
    with pytest.raises(ValueError, match=r"MaxPooling2D '.*' expects a 4-D input.*\(2, 4, 4\)"):
        layers.MaxPooling2D()(numpy.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"AveragePooling2D '.*window \(3, 3\).*larger"):
        layers.AveragePooling2D(3)(numpy.zeros((1, 2, 2, 1)))
