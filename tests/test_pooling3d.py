"""MaxPooling3D, AveragePooling3D, their global forms and the adaptive pooling layers (1-D to
3-D): NumPy loops, gradients, shapes, configs, the Keras aliases and errors."""

import itertools
import json

import numpy
import pytest

from engine import layers
from tests.gradcheck import check_gradients
from tests.test_conv3d import same_pads


def pool_loop(x, pool_size, strides, padding, reduce):
    """Windows of the input padded with NaN, reduced ignoring NaN (padded cells never count)."""
    spatial = x.shape[1:-1]
    if padding == "same":
        pads = [same_pads(n, k, s, 1) for n, k, s in zip(spatial, pool_size, strides)]
    else:
        pads = [(0, 0)] * len(spatial)
    x = numpy.pad(x, ((0, 0), *pads, (0, 0)), constant_values=numpy.nan)
    out = [(n - k) // s + 1 for n, k, s in zip(x.shape[1:-1], pool_size, strides)]
    y = numpy.zeros((x.shape[0], *out, x.shape[-1]))
    axes = tuple(range(1, len(spatial) + 1))
    for cell in itertools.product(*map(range, out)):
        index = tuple(slice(c * s, c * s + k) for c, s, k in zip(cell, strides, pool_size))
        y[(slice(None), *cell)] = reduce(x[(slice(None), *index)], axis=axes)
    return y


def distinct(rng, shape):
    """Values with no ties (max pooling's gradient is defined) and gaps for finite differences."""
    return rng.permutation(numpy.prod(shape)).reshape(shape) / 7.0


@pytest.mark.parametrize(
    "pool_size, strides, padding",
    [((2, 2, 2), None, "valid"), ((2, 3, 2), (1, 2, 2), "same"), ((3, 2, 3), (2, 2, 2), "same")],
)
@pytest.mark.parametrize("kind", ["max", "average"])
def test_pooling3d(backend, float64, rng, pool_size, strides, padding, kind):
    cls = layers.MaxPooling3D if kind == "max" else layers.AveragePooling3D
    reduce = numpy.nanmax if kind == "max" else numpy.nanmean
    layer = cls(pool_size, strides, padding)
    x = distinct(rng, (2, 4, 5, 6, 2))
    y = layer(x)
    expected = pool_loop(x, pool_size, strides or pool_size, padding, reduce)
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    assert layer.compute_output_shape(x.shape) == expected.shape
    assert layer.compute_output_shape((None, 4, None, 6, 2)) == (
        None,
        *expected.shape[1:2],
        None,
        *expected.shape[3:],
    )
    check_gradients(layer, x, backend=backend)


def test_pooling3d_defaults_aliases_and_configs():
    assert layers.MaxPooling3D().pool_size == (2, 2, 2)
    assert layers.MaxPool3D is layers.MaxPooling3D and layers.AvgPool3D is layers.AveragePooling3D
    with pytest.raises(TypeError):
        layers.AveragePooling3D()  # pool_size has no default, as in Keras
    layer = layers.AveragePooling3D(2, strides=(1, 2, 1), padding="same")
    config = json.loads(json.dumps(layer.get_config()))
    assert layers.AveragePooling3D.from_config(config).get_config() == config


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling3d(backend, float64, rng, keepdims):
    x = distinct(rng, (2, 3, 4, 2, 3))
    for cls, reduce in [(layers.GlobalAvgPool3D, numpy.mean), (layers.GlobalMaxPool3D, numpy.max)]:
        layer = cls(keepdims=keepdims)
        expected = reduce(x, axis=(1, 2, 3), keepdims=keepdims)
        numpy.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12)
        assert layer.compute_output_shape((None, 3, 4, 2, 3)) == (None, *expected.shape[1:])
        check_gradients(layer, x, backend=backend)


def adaptive_loop(x, output_size, reduce):
    """Keras's bins: output cell i of n cells pools floor(i n / s) to ceil((i + 1) n / s)."""
    spatial = x.shape[1:-1]
    y = numpy.zeros((x.shape[0], *output_size, x.shape[-1]))
    for cell in itertools.product(*map(range, output_size)):
        index = tuple(
            slice(int(numpy.floor(i * n / s)), int(numpy.ceil((i + 1) * n / s)))
            for i, n, s in zip(cell, spatial, output_size)
        )
        y[(slice(None), *cell)] = reduce(
            x[(slice(None), *index)], axis=tuple(range(1, len(spatial) + 1))
        )
    return y


@pytest.mark.parametrize(
    "rank, input_spatial, output_size",
    [
        (1, (10,), (4,)),
        (1, (6,), (3,)),
        (1, (3,), (5,)),
        (2, (7, 9), (3, 4)),
        (3, (5, 4, 3), (2, 2, 3)),
    ],
)
@pytest.mark.parametrize("kind", ["Average", "Max"])
def test_adaptive_pooling(backend, float64, rng, rank, input_spatial, output_size, kind):
    cls = getattr(layers, f"Adaptive{kind}Pooling{rank}D")
    layer = cls(output_size[0] if rank == 1 else output_size)
    x = distinct(rng, (2, *input_spatial, 3))
    y = layer(x)
    expected = adaptive_loop(x, output_size, numpy.mean if kind == "Average" else numpy.max)
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    assert layer.compute_output_shape((None, *(None,) * rank, 3)) == (None, *output_size, 3)
    check_gradients(layer, x, backend=backend)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["output_size"] == list(output_size)
    assert cls.from_config(config).get_config() == config


def test_pooling_errors_name_the_layer():
    with pytest.raises(ValueError, match="AdaptiveMaxPooling2D 'a': `output_size` must be"):
        layers.AdaptiveMaxPooling2D((2, 2, 2), name="a")
    with pytest.raises(ValueError, match="AdaptiveAveragePooling1D '.*' expects a 3-D input"):
        layers.AdaptiveAveragePooling1D(2).compute_output_shape((1, 4, 4, 2))
    with pytest.raises(ValueError, match="MaxPooling3D '.*' expects a 5-D input"):
        layers.MaxPooling3D().compute_output_shape((1, 4, 4, 2))
    with pytest.raises(ValueError, match="AveragePooling3D '.*': the window"):
        layers.AveragePooling3D(3).compute_output_shape((1, 2, 4, 4, 1))
    with pytest.raises(ValueError, match="GlobalMaxPooling3D '.*' expects a 5-D input"):
        layers.GlobalMaxPooling3D().compute_output_shape((1, 4, 2))
