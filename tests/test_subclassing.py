"""Subclassing Model and Layer as Keras 3 users do: tracking, add_weight, add_loss, saving."""

import numpy
import pytest

import engine
from engine import layers, optimizers


def _data(n=48, features=5, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) > 0).astype("float32")


class Blocks(engine.Model):
    """Layers in a list, called in a loop: the issue's example."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [layers.Dense(8, activation="tanh"), layers.Dense(1, activation="sigmoid")]

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return x


def test_subclassed_model_equals_sequential(backend):
    engine.utils.set_random_seed(3)
    subclassed = Blocks()
    sequential = engine.Sequential(
        [layers.Input((5,)), layers.Dense(8, activation="tanh"), layers.Dense(1, "sigmoid")]
    )
    x, y = _data()
    subclassed(x[:1])
    assert len(subclassed.weights) == 4 and subclassed.count_params() == 5 * 8 + 8 + 9
    subclassed.set_weights(sequential.get_weights())
    histories = []
    for model in (subclassed, sequential):
        model.compile(optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
        histories.append(model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0))
    for key in ("loss", "accuracy"):
        assert histories[0].history[key] == pytest.approx(histories[1].history[key], rel=1e-6)
    for a, b in zip(subclassed.get_weights(), sequential.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_fit_builds_an_unbuilt_subclassed_model(backend):
    model = Blocks()
    model.compile("adam", "binary_crossentropy")
    x, y = _data()
    before = None
    history = model.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.built and len(model.trainable_weights) == 4
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, verbose=0)
    assert all(not numpy.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    lines = []
    model.summary(print_fn=lines.append)
    assert "dense" in "\n".join(lines) and f"Trainable params: {model.count_params()}" in "\n".join(
        lines
    )


class Branches(engine.Model):
    """Layers in a dict (insertion order) and a tuple; dict inputs."""

    def __init__(self):
        super().__init__()
        self.encoders = {"b": layers.Dense(3), "a": layers.Dense(3)}
        self.head = (layers.Dense(1),)

    def call(self, inputs, training=None):
        merged = self.encoders["a"](inputs["a"]) + self.encoders["b"](inputs["b"])
        return self.head[0](merged)


def test_layers_in_dicts_and_tuples_are_tracked_and_trained(backend):
    model = Branches()
    x, y = _data()
    inputs = {"a": x, "b": x[:, :2]}
    model.compile("adam", "mse")
    model.fit(inputs, y, epochs=1, verbose=0)
    assert [layer.name for layer in model.layers] == [
        model.encoders["b"].name,
        model.encoders["a"].name,
        model.head[0].name,
    ]
    before = [w.copy() for w in model.get_weights()]
    model.fit(inputs, y, epochs=2, verbose=0)
    assert all(not numpy.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_appended_layers_are_tracked(backend):
    class Growing(engine.Model):
        def __init__(self):
            super().__init__()
            self.stack = []
            for units in (4, 1):
                self.stack.append(layers.Dense(units))

        def call(self, x):
            for layer in self.stack:
                x = layer(x)
            return x

    model = Growing()
    model(numpy.ones((2, 3), "float32"))
    assert len(model.layers) == 2 and len(model.trainable_weights) == 4


def test_frozen_sub_model_does_not_train(backend):
    x, y = _data()
    inner = Blocks()
    inner(x[:1])
    inner.trainable = False

    class Wrapper(engine.Model):
        def __init__(self):
            super().__init__()
            self.inner = inner
            self.scale = layers.Dense(1)

        def call(self, x):
            return self.scale(self.inner(x))

    model = Wrapper()
    model.compile("adam", "mse")
    frozen = [w.copy() for w in inner.get_weights()]
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(frozen, inner.get_weights()):
        numpy.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 2


class Scaled(layers.Layer):
    """A custom layer: ``build`` with ``add_weight`` by Keras 3's keywords, and ``add_loss``."""

    def __init__(self, penalty=0.0, **kwargs):
        super().__init__(**kwargs)
        self.penalty = penalty

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def call(self, inputs):
        if self.penalty:
            self.add_loss(self.penalty * (self.scale * self.scale).sum())
        return inputs * self.scale


def test_add_weight_keywords_and_errors(backend):
    layer = Scaled()
    layer(numpy.ones((2, 3), "float32"))
    assert [w.shape for w in layer.weights] == [(3,), ()]
    assert len(layer.trainable_weights) == 1 and len(layer.non_trainable_weights) == 1
    assert layer.scale.name.endswith("/scale")
    with pytest.raises(ValueError, match="`name` must be passed as a keyword"):
        layer.add_weight("offset", (3,))
    with pytest.raises(ValueError, match="`shape` must be a tuple of ints.*None"):
        layer.add_weight(shape=(None, 3))


def test_add_loss_is_in_the_training_loss_and_reset_each_call(backend):
    x, y = _data(16, 3)
    model = engine.Sequential([layers.Input((3,)), Scaled(penalty=0.5), layers.Dense(1)])
    model.compile(optimizers.SGD(learning_rate=0.0), "mse")
    predictions = model.predict(x, verbose=0)
    mse = float(numpy.mean((predictions - y) ** 2))
    penalty = 0.5 * 3.0  # scale starts at ones
    assert model.evaluate(x, y, verbose=0) == pytest.approx(mse + penalty, rel=1e-5)
    assert model.train_on_batch(x, y) == pytest.approx(mse + penalty, rel=1e-5)
    model(x)
    model(x)
    assert len(model.losses) == 1  # reset at each outermost call, as in Keras


def test_saving_registered_and_unregistered_subclasses(backend, tmp_path):
    x, y = _data()

    @engine.saving.register_keras_serializable()
    class Registered(engine.Model):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = layers.Dense(units, activation="relu")
            self.out = layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = Registered(units=3)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "registered.safetensors")
    loaded = engine.models.load_model(tmp_path / "registered.safetensors")
    assert isinstance(loaded, Registered) and loaded.units == 3
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    resumed = loaded.fit(x, y, epochs=1, verbose=0).history["loss"]
    assert resumed == pytest.approx(model.fit(x, y, epochs=1, verbose=0).history["loss"])

    unregistered = Blocks()  # saves; loads with the class registered or in custom_objects
    unregistered.compile("adam", "mse")
    unregistered.fit(x, y, epochs=1, verbose=0)
    unregistered.save(tmp_path / "blocks.safetensors")
    with pytest.raises(ValueError, match="Unknown layer: 'Blocks'.*custom_objects"):
        engine.models.load_model(tmp_path / "blocks.safetensors")
    loaded = engine.models.load_model(
        tmp_path / "blocks.safetensors", custom_objects={"Blocks": Blocks}
    )
    numpy.testing.assert_array_equal(
        loaded.predict(x, verbose=0), unregistered.predict(x, verbose=0)
    )
    unregistered.save_weights(tmp_path / "blocks.weights.safetensors")
    clone = Blocks()
    clone(x[:1])
    clone.load_weights(tmp_path / "blocks.weights.safetensors")
    numpy.testing.assert_array_equal(
        clone.predict(x, verbose=0), unregistered.predict(x, verbose=0)
    )

    @engine.saving.register_keras_serializable()
    class NoConfig(engine.Model):
        def __init__(self, units):
            super().__init__()
            self.dense = layers.Dense(units)

        def call(self, inputs):
            return self.dense(inputs)

    no_config = NoConfig(2)
    no_config(x[:1])
    with pytest.raises(ValueError, match="NoConfig.__init__ takes units.*get_config"):
        no_config.save(tmp_path / "no_config.safetensors")


def test_custom_layer_in_a_functional_model(backend):
    inputs = layers.Input((3,))
    outputs = layers.Dense(1)(Scaled()(inputs))  # no compute_output_shape: traced once
    model = engine.Model(inputs, outputs)
    assert model.output_shape == (None, 1)
    model.compile("sgd", "mse")
    x, y = _data(8, 3)
    model.fit(x, y, epochs=1, verbose=0)
