"""A model keeps its list of trainable weights (and the optimizer's slots for it) between
training steps while no layer changed (``Trainer._begin_training``): each way a layer can
change that list makes the next step read it again."""

import numpy
import pytest

import engine
from engine import layers


def _data(features=3, samples=8):
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((samples, features)).astype("float32")
    return x, rng.standard_normal((samples, 1)).astype("float32")


class Growing(layers.Layer):
    """A dense layer that can gain an extra scale after it is built, kept in a plain list
    (no attribute write shows it)."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 1), initializer="ones")
        self._scales = []

    def grow(self):
        self._scales.append(self.add_weight(shape=(1,), initializer="ones", name="scale"))

    def call(self, x):
        y = engine.ops.matmul(x, self.kernel)
        for scale in self._scales:
            y = y * scale
        return y


def test_a_weight_added_between_steps_is_trained(backend):
    x, y = _data()
    layer = Growing()
    model = engine.Sequential([layers.Input((3,)), layer])
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(x, y)
    layer.grow()
    scale = layer._scales[0]
    model.train_on_batch(x, y)
    assert scale.numpy()[0] != 1.0  # the new weight was stepped
    assert any(weight is scale for weight in model.trainable_weights)


def test_a_frozen_layer_stops_training_at_the_next_step(backend):
    x, y = _data()
    first, second = layers.Dense(4), layers.Dense(1)
    model = engine.Sequential([layers.Input((3,)), first, second])
    model.compile(optimizer="adam", loss="mse")
    model.train_on_batch(x, y)
    first.trainable = False
    frozen = [w.copy() for w in first.get_weights()]
    before = [w.copy() for w in second.get_weights()]
    model.train_on_batch(x, y)
    for kept, now in zip(frozen, first.get_weights()):
        numpy.testing.assert_array_equal(kept, now)
    assert not numpy.array_equal(before[0], second.get_weights()[0])


def test_a_layer_added_to_a_sequential_between_steps_is_trained(backend):
    x, y = _data()
    model = engine.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(x, y)
    added = layers.Dense(1, kernel_initializer="ones")
    model.add(added)
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(x, y)
    assert not numpy.array_equal(added.get_weights()[0], numpy.ones((1, 1), "float32"))


SELECTED = {"first only": False}


class FirstLayerOnly(engine.Sequential):
    """A user's override: the trainable weights may change with no layer changing."""

    @property
    def trainable_weights(self):
        weights = super().trainable_weights
        return weights[:2] if SELECTED["first only"] else weights


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_an_overridden_trainable_weights_is_read_at_every_step(backend, run_eagerly):
    x, y = _data()
    model = FirstLayerOnly([layers.Input((3,)), layers.Dense(4), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=run_eagerly)
    try:
        model.train_on_batch(x, y)
        SELECTED["first only"] = True
        last = [w.copy() for w in model.layers[-1].get_weights()]
        first = [w.copy() for w in model.layers[0].get_weights()]
        model.train_on_batch(x, y)
    finally:
        SELECTED["first only"] = False
    for kept, now in zip(last, model.layers[-1].get_weights()):
        numpy.testing.assert_array_equal(kept, now)
    assert not numpy.array_equal(first[0], model.layers[0].get_weights()[0])
