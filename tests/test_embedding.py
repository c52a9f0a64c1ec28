"""Embedding: the gather/scatter kernels, the layer, its mask and its bad input."""

import json

import numpy
import pytest

from engine import layers
from tests.gradcheck import check_weight_gradients

INDICES = numpy.array([[1, 4, 1, 0], [3, 3, 0, 0]])  # repeats exercise the scatter-add


def test_kernels_match_reference(backend, reference, rng):
    xp = backend.xp
    table = rng.standard_normal((5, 3))
    grad = rng.standard_normal((2, 4, 3))
    out = backend.embedding_forward(xp.asarray(INDICES), xp.asarray(table))
    numpy.testing.assert_array_equal(backend.to_numpy(out), table[INDICES])
    numpy.testing.assert_array_equal(
        backend.to_numpy(out), reference.embedding_forward(INDICES, table)
    )
    table_grad = backend.embedding_backward(xp.asarray(INDICES), xp.asarray(grad), 5)
    expected = numpy.zeros((5, 3))
    for index, row in zip(INDICES.reshape(-1), grad.reshape(-1, 3)):
        expected[index] += row
    numpy.testing.assert_allclose(backend.to_numpy(table_grad), expected, rtol=1e-12)
    numpy.testing.assert_allclose(
        reference.embedding_backward(INDICES, grad, 5), expected, rtol=1e-12
    )


def test_forward_picks_rows(backend):
    layer = layers.Embedding(5, 3)
    out = layer(INDICES)
    table = layer.get_weights()[0]
    assert out.shape == (2, 4, 3) and out.dtype == numpy.float32
    numpy.testing.assert_array_equal(out.numpy(), table[INDICES])
    assert layer.compute_output_shape((None, 4)) == (None, 4, 3)


def test_default_initializer_is_uniform_005(backend):
    layer = layers.Embedding(200, 50)
    layer(numpy.zeros((1, 1), dtype="int64"))
    table = layer.get_weights()[0]
    assert table.shape == (200, 50) and table.dtype == numpy.float32
    assert -0.05 <= table.min() < -0.04 and 0.04 < table.max() <= 0.05
    assert layer.count_params() == 200 * 50


def test_weight_gradient(backend, float64):
    layer = layers.Embedding(5, 3)
    layer(INDICES)
    check_weight_gradients(lambda: layer(INDICES), layer.weights)


def test_float_indices_are_accepted(backend):
    layer = layers.Embedding(5, 2)
    numpy.testing.assert_array_equal(
        layer(INDICES.astype("float32")).numpy(), layer(INDICES).numpy()
    )


def test_mask_zero(backend):
    layer = layers.Embedding(5, 2, mask_zero=True)
    inputs = numpy.asarray(INDICES)
    layer(inputs)
    mask = layer.compute_mask(layers.InputLayer(shape=(4,))(inputs))
    numpy.testing.assert_array_equal(mask.numpy(), INDICES != 0)
    assert layers.Embedding(5, 2).compute_mask(inputs) is None


def test_config_round_trip(backend):
    layer = layers.Embedding(7, 2, mask_zero=True)
    config = json.loads(json.dumps(layer.get_config()))
    clone = layers.Embedding.from_config(config)
    assert clone.get_config() == config
    assert clone(INDICES).shape == (2, 4, 2)


@pytest.mark.parametrize("bad", [5, 9, -1])
def test_out_of_range_index_is_rejected(backend, bad):
    layer = layers.Embedding(5, 2, name="words")
    indices = INDICES.copy()
    indices[1, 2] = bad
    with pytest.raises(ValueError, match=rf"'words'.*\[0, 5\).*received index {bad}"):
        layer(indices)


def test_bad_arguments(backend):
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 2)
    with pytest.raises(ValueError, match="output_dim"):
        layers.Embedding(3, -1)


def test_compute_mask_of_ids_before_the_layer_is_built(backend):
    """Keras: ``Embedding(10, 3, mask_zero=True).compute_mask(ids)`` needs no build."""
    mask = layers.Embedding(10, 3, mask_zero=True).compute_mask(numpy.array([[0, 1, 2]]))
    assert mask.backend is backend
    numpy.testing.assert_array_equal(mask.numpy(), [[False, True, True]])
