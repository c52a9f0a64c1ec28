"""``engine.models.clone_model``: Keras's ``keras.models.clone_model``."""

import numpy
import pytest

import engine
from engine import layers


def _data():
    rng = numpy.random.default_rng(0)
    return rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")


def _functional():
    inputs = layers.Input((4,), name="features")
    hidden = layers.Dense(3, activation="relu", name="hidden")(inputs)
    merged = layers.Concatenate(name="merged")([hidden, inputs])
    return engine.Model(inputs, layers.Dense(2, name="scores")(merged))


def _same_weights(first, second) -> bool:
    return all(numpy.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights()))


@pytest.mark.parametrize("with_input", [True, False])
def test_a_sequential_clone_has_the_layers_and_new_weights(backend, with_input):
    x, y = _data()
    stack = [layers.Dense(3, activation="relu"), layers.Dense(2)]
    model = engine.Sequential(([layers.Input((4,))] if with_input else []) + stack)
    model.build((None, 4))
    clone = engine.models.clone_model(model)
    assert isinstance(clone, engine.Sequential) and clone.built
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not _same_weights(clone, model)
    before = [w.copy() for w in model.get_weights()]
    clone.compile("adam", "mse")  # a clone is not compiled, as in Keras
    clone.fit(x, y, epochs=1, verbose=0)
    assert all(numpy.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_functional_clone_rebuilds_the_graph(backend):
    x, _ = _data()
    model = _functional()
    clone = engine.models.clone_model(model)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    numpy.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_function_chooses_each_layer(backend):
    x, _ = _data()
    model = _functional()

    def share_hidden_rename_others(layer):
        if layer.name == "hidden":
            return layer  # shared with the original
        return type(layer).from_config({**layer.get_config(), "name": layer.name + "_copy"})

    clone = engine.models.clone_model(model, clone_function=share_hidden_rename_others)
    assert clone.get_layer("hidden") is model.get_layer("hidden")
    assert [layer.name for layer in clone.layers][1:] == ["hidden", "merged_copy", "scores_copy"]
    assert clone.predict(x, verbose=0).shape == (16, 2)


@engine.saving.register_keras_serializable(package="tests")
class _TwoLayers(engine.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.first, self.second = layers.Dense(units), layers.Dense(2)

    def call(self, x):
        return self.second(self.first(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_subclassed_model_is_cloned_from_its_config(backend):
    x, _ = _data()
    model = _TwoLayers(units=5)
    model(x)
    clone = engine.models.clone_model(model)
    assert isinstance(clone, _TwoLayers) and clone.units == 5
    assert clone(x).shape == (16, 2)
    with pytest.raises(ValueError, match="subclassed _TwoLayers"):
        engine.models.clone_model(model, clone_function=lambda layer: layer)


def test_unsupported_arguments_are_refused_not_ignored():
    model = _functional()
    with pytest.raises(NotImplementedError, match="input_tensors"):
        engine.models.clone_model(model, input_tensors=[layers.Input((4,))])
    with pytest.raises(NotImplementedError, match="call_function"):
        engine.models.clone_model(model, call_function=lambda layer, *a, **k: layer(*a, **k))
    with pytest.raises(NotImplementedError, match="recursive"):
        engine.models.clone_model(model, recursive=True)
