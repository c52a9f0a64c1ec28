"""Keras's symbolic accessors: ``layer.input``/``layer.output``, a Sequential's
``inputs``/``outputs``, ``model.inputs`` reused in a new model (feature extractors,
Grad-CAM), and the ``variables`` names."""

import numpy
import pytest

import engine
from engine import layers


def _functional():
    inputs = layers.Input((4,), name="features")
    hidden = layers.Dense(3, activation="relu", name="hidden")(inputs)
    return engine.Model(inputs, layers.Dense(2, name="scores")(hidden))


def test_a_feature_extractor_from_a_layer_output(backend):
    model = _functional()
    x = numpy.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    hidden = model.get_layer("hidden")
    assert hidden.input is model.inputs[0]
    extractor = engine.Model(model.inputs, hidden.output)
    kernel, bias = hidden.get_weights()
    expected = numpy.maximum(x @ kernel + bias, 0)
    numpy.testing.assert_allclose(extractor.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # Grad-CAM's pattern: an inner layer's output and the model's, from the same inputs
    both = engine.Model(model.inputs, [hidden.output, model.output])
    inner, scores = both.predict(x, verbose=0)
    numpy.testing.assert_allclose(inner, expected, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(scores, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    again = engine.Model(model.inputs, model.outputs)
    numpy.testing.assert_allclose(
        again.predict(x, verbose=0)[0], model.predict(x, verbose=0), rtol=1e-6
    )


def test_a_layer_called_twice_answers_its_first_call_and_a_new_one_refuses():
    shared = layers.Dense(2)
    first, second = layers.Input((3,)), layers.Input((3,))
    out_first = shared(first)
    shared(second)
    assert shared.input is first and shared.output is out_first
    with pytest.raises(AttributeError, match="has never been called on a symbolic tensor"):
        _ = layers.Dense(2).output
    assert layers.Input((3,))._keras_history[0].input == []  # an InputLayer takes none


def test_a_sequential_has_inputs_and_outputs_once_built(backend):
    model = engine.Sequential([layers.Input((4,)), layers.Dense(3, name="first"), layers.Dense(1)])
    assert model.inputs[0] is model.input and model.outputs[0] is model.output
    assert tuple(model.output.shape) == (None, 1)
    extractor = engine.Model(model.inputs, model.get_layer("first").output)
    assert extractor.predict(numpy.ones((2, 4), "float32"), verbose=0).shape == (2, 3)
    with pytest.raises(AttributeError, match="has not been built"):
        _ = engine.Sequential([layers.Dense(2)]).inputs


def test_variables_are_keras_names_for_the_weights(backend):
    model = engine.Sequential(
        [layers.Input((4,)), layers.Dense(3), layers.BatchNormalization(), layers.Dense(1)]
    )
    assert model.variables == model.weights and len(model.variables) == 8
    assert model.trainable_variables == model.trainable_weights
    assert len(model.trainable_variables) == 6
    assert model.non_trainable_variables == model.non_trainable_weights
    assert len(model.non_trainable_variables) == 2
