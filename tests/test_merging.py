"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot."""

import functools
import json

import numpy
import pytest

import engine
from engine import layers
from engine.layers.base import layer_registry
from tests.gradcheck import check_gradients


def _aligned(arrays):
    """Keras's alignment: a lower-rank input gains size-1 axes after the batch axis."""
    rank = max(a.ndim for a in arrays)
    return [a.reshape(a.shape[:1] + (1,) * (rank - a.ndim) + a.shape[1:]) for a in arrays]


def _mean(*arrays):
    return functools.reduce(numpy.add, arrays) / len(arrays)


ELEMENTWISE = [
    (layers.Add, layers.add, lambda *a: functools.reduce(numpy.add, a)),
    (layers.Multiply, layers.multiply, lambda *a: functools.reduce(numpy.multiply, a)),
    (layers.Average, layers.average, _mean),
    (layers.Maximum, layers.maximum, lambda *a: functools.reduce(numpy.maximum, a)),
    (layers.Minimum, layers.minimum, lambda *a: functools.reduce(numpy.minimum, a)),
]
SHAPES = [
    [(2, 3, 4), (2, 3, 4), (2, 3, 4)],  # same shapes, three inputs
    [(2, 3, 4), (2, 1, 4)],  # a size-1 axis broadcasts
    [(2, 3, 1), (2, 1, 4)],  # both directions
    [(2, 3, 4), (2, 4)],  # different ranks: (2, 4) acts as (2, 1, 4)
    [(2, 4), (2, 3, 4), (2, 1, 1)],
    [(2, 5)],  # one input
]


@pytest.mark.parametrize("layer_class, function, reference", ELEMENTWISE)
@pytest.mark.parametrize("shapes", SHAPES)
def test_elementwise_merge(backend, float64, rng, layer_class, function, reference, shapes):
    arrays = [rng.standard_normal(shape) for shape in shapes]
    layer = layer_class()
    output = layer(arrays)
    expected = reference(*_aligned(arrays))
    numpy.testing.assert_allclose(output.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert layer.compute_output_shape(shapes) == expected.shape
    numpy.testing.assert_allclose(function(arrays).numpy(), expected, rtol=1e-12, atol=1e-12)
    check_gradients(lambda *tensors: layer_class()(list(tensors)), *arrays, backend=backend)


def test_subtract(backend, float64, rng):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4))
    layer = layers.Subtract()
    numpy.testing.assert_allclose(layer([a, b]).numpy(), a - b[:, None])
    numpy.testing.assert_allclose(layers.subtract([b, a]).numpy(), b[:, None] - a)
    assert layer.compute_output_shape([(None, 3, 4), (None, 4)]) == (None, 3, 4)
    check_gradients(lambda x, y: layers.Subtract()([x, y]), a, b, backend=backend)


def test_subtract_takes_exactly_two_inputs(backend):
    x = numpy.ones((2, 3), "float32")
    with pytest.raises(ValueError, match=r"Subtract 'subtract\w*' should be called on exactly 2"):
        layers.Subtract()([x, x, x])
    with pytest.raises(ValueError, match="exactly 2 inputs, but received 1"):
        layers.Subtract().compute_output_shape([(None, 3)])


@pytest.mark.parametrize(
    "shapes, expected",
    [
        ([(None, 3, 4), (None, 4)], (None, 3, 4)),
        ([(None, None, 4), (None, 1, 4)], (None, None, 4)),
        ([(None, 1, 4), (5, 3, 1)], (5, 3, 4)),
        ([(None, 3), (None, None)], (None, None)),  # Keras: an unknown size stays unknown
    ],
)
def test_output_shape_with_unknown_sizes(backend, shapes, expected):
    assert layers.Add().compute_output_shape(shapes) == expected


def test_incompatible_shapes_name_both_shapes_and_the_layer(backend):
    layer = layers.Add(name="my_add")
    with pytest.raises(ValueError, match=r"Add 'my_add'.*\(3, 4\) and \(5,\)"):
        layer.compute_output_shape([(None, 3, 4), (None, 5)])
    with pytest.raises(ValueError, match=r"'my_add'.*\(2, 3, 4\), \(2, 5\)"):
        layers.Add(name="my_add")([numpy.zeros((2, 3, 4)), numpy.zeros((2, 5))])
    with pytest.raises(ValueError, match=r"different batch sizes.*\(2, 3\), \(4, 3\)"):
        layers.Multiply()([numpy.zeros((2, 3)), numpy.zeros((4, 3))])
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Add().compute_output_shape((None, 3))


def test_merge_mask_is_the_or_of_the_input_masks(backend):
    x = engine.tensor(numpy.zeros((2, 3, 4), "float32"))
    m1 = numpy.array([[True, False, False], [True, True, False]])
    m2 = numpy.array([[False, False, True], [True, False, False]])
    mask = layers.Add().compute_mask([x, x], [m1, m2])
    numpy.testing.assert_array_equal(mask.numpy(), m1 | m2)
    assert layers.Add().compute_mask([x, x], [m1, None]) is None
    assert layers.Add().compute_mask([x, x], None) is None


@pytest.mark.parametrize(
    "shapes, axis",
    [
        ([(2, 3, 4), (2, 3, 2)], -1),
        ([(2, 3, 4), (2, 1, 4), (2, 2, 4)], 1),
        ([(2, 3), (3, 3)], 0),
    ],
)
def test_concatenate(backend, float64, rng, shapes, axis):
    arrays = [rng.standard_normal(shape) for shape in shapes]
    layer = layers.Concatenate(axis=axis)
    expected = numpy.concatenate(arrays, axis=axis)
    numpy.testing.assert_array_equal(layer(arrays).numpy(), expected)
    numpy.testing.assert_array_equal(layers.concatenate(arrays, axis=axis).numpy(), expected)
    assert layer.compute_output_shape(shapes) == expected.shape
    check_gradients(
        lambda *tensors: layers.Concatenate(axis=axis)(list(tensors)), *arrays, backend=backend
    )


def test_concatenate_output_shape_with_unknown_sizes(backend):
    layer = layers.Concatenate()
    assert layer.compute_output_shape([(None, 3, 4), (None, 3, 2)]) == (None, 3, 6)
    assert layer.compute_output_shape([(None, None, 4), (None, 3, None)]) == (None, 3, None)


def test_concatenate_rejects_mismatched_shapes(backend):
    layer = layers.Concatenate(name="cat")
    with pytest.raises(
        ValueError, match=r"Concatenate 'cat'.*axis 1 has sizes \[3, 5\].*\(None, 3, 4\), \(None, 5"
    ):
        layer.compute_output_shape([(None, 3, 4), (None, 5, 2)])
    with pytest.raises(ValueError, match=r"different ranks.*\(2, 3, 4\), \(2, 4\)"):
        layers.Concatenate()([numpy.zeros((2, 3, 4)), numpy.zeros((2, 4))])
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        layers.Concatenate(axis=3).compute_output_shape([(None, 3, 4), (None, 3, 4)])


def test_concatenate_mask(backend):
    a = engine.tensor(numpy.zeros((2, 3, 4), "float32"))
    b = engine.tensor(numpy.zeros((2, 3, 2), "float32"))
    m = numpy.array([[True, False, False], [True, True, False]])
    layer = layers.Concatenate()
    assert layer.compute_mask([a, b], None) is None
    assert layer.compute_mask([a, b], [None, None]) is None
    # along the last axis an unmasked input makes every step kept
    numpy.testing.assert_array_equal(layer.compute_mask([a, b], [m, None]).numpy(), True)
    numpy.testing.assert_array_equal(layer.compute_mask([a, b], [m, m]).numpy(), m)
    # along the time axis the masks are concatenated
    mask = layers.Concatenate(axis=1).compute_mask([a, a], [m, None]).numpy()
    numpy.testing.assert_array_equal(mask, numpy.concatenate([m, numpy.ones_like(m)], axis=1))


def _batch_dot(x, y, axes, normalize=False):
    """NumPy reference: contract x's axes[0] with y's axes[1], sample by sample."""
    if normalize:
        x = x / numpy.maximum(numpy.linalg.norm(x, axis=axes[0], keepdims=True), 1e-7)
        y = y / numpy.maximum(numpy.linalg.norm(y, axis=axes[1], keepdims=True), 1e-7)
    out = numpy.stack(
        [numpy.tensordot(xi, yi, axes=(axes[0] - 1, axes[1] - 1)) for xi, yi in zip(x, y)]
    )
    return out.reshape(len(x), 1) if out.ndim == 1 else out


@pytest.mark.parametrize(
    "shape1, shape2, axes, resolved",
    [
        ((2, 5), (2, 5), -1, (1, 1)),
        ((2, 5), (2, 5), 1, (1, 1)),
        ((2, 3, 5), (2, 10, 3), (1, 2), (1, 2)),
        ((2, 4), (2, 3, 4), (1, 2), (1, 2)),
        ((2, 3, 4), (2, 4), [-1, 1], (2, 1)),
        ((2, 3, 2, 4), (2, 4, 5, 2), (3, 1), (3, 1)),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot(backend, float64, rng, shape1, shape2, axes, resolved, normalize):
    x, y = rng.standard_normal(shape1), rng.standard_normal(shape2)
    layer = layers.Dot(axes=axes, normalize=normalize)
    expected = _batch_dot(x, y, resolved, normalize)
    numpy.testing.assert_allclose(layer([x, y]).numpy(), expected, rtol=1e-10, atol=1e-12)
    functional = layers.dot([x, y], axes=axes, normalize=normalize).numpy()
    numpy.testing.assert_allclose(functional, expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape([shape1, shape2]) == expected.shape
    none_batch = ((None, *shape1[1:]), (None, *shape2[1:]))
    assert layer.compute_output_shape(none_batch) == (None, *expected.shape[1:])
    check_gradients(
        lambda a, b: layers.Dot(axes=axes, normalize=normalize)([a, b]), x, y, backend=backend
    )


def test_dot_rejects_bad_inputs(backend):
    with pytest.raises(ValueError, match=r"Dot 'd'.*\(None, 3\) and \(None, 4\).*size 3.*size 4"):
        layers.Dot(axes=1, name="d").compute_output_shape([(None, 3), (None, 4)])
    with pytest.raises(ValueError, match="batch axis"):
        layers.Dot(axes=(0, 1)).compute_output_shape([(None, 3), (None, 3)])
    with pytest.raises(ValueError, match="list of 2 inputs"):
        layers.Dot(axes=1).compute_output_shape([(None, 3)] * 3)
    with pytest.raises(ValueError, match="pair of ints"):
        layers.Dot(axes=(1, 2, 3))
    with pytest.raises(TypeError, match="pair of ints"):
        layers.Dot(axes="last")


MERGE_LAYERS = [
    layers.Add(name="a"),
    layers.Subtract(name="s"),
    layers.Multiply(name="m", dtype="float64"),
    layers.Average(name="av"),
    layers.Maximum(name="mx"),
    layers.Minimum(name="mn"),
    layers.Concatenate(axis=1, name="c"),
    layers.Dot(axes=(1, 2), normalize=True, name="d"),
    layers.Dot(axes=-1, name="d1"),
]


@pytest.mark.parametrize("layer", MERGE_LAYERS, ids=lambda layer: layer.name)
def test_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    cls = layer_registry.lookup(type(layer).__name__)
    assert cls is type(layer)
    clone = cls.from_config(config)
    assert clone.get_config() == layer.get_config()
    assert clone.multiple_inputs


def test_merge_layers_follow_keras_config_names():
    assert layers.Concatenate().get_config()["axis"] == -1
    config = layers.Dot(axes=(1, 2)).get_config()
    assert config["axes"] == [1, 2] and config["normalize"] is False
