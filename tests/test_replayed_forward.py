"""The default training step replays a taped forward (``engine/models/replay.py``): the
same losses and weights as running the layers, bit for bit, on every backend; the
layers' ``call`` runs only when something changed; models a replay could get wrong
run their layers at every step."""

import numpy
import pytest

import engine
from engine import activations, layers
from engine import functional as F
from engine.layers.base import Layer
from engine.models import replay

STEPS = 5


def _mlp():
    return engine.models.Sequential(
        [
            layers.Input(shape=(6,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _regression():
    inputs = layers.Input(shape=(6,))
    hidden = layers.Dense(5, activation="tanh", kernel_regularizer="l2")(inputs)
    outputs = layers.Dense(1, bias_constraint=engine.constraints.NonNeg())(hidden)
    return engine.Model(inputs=inputs, outputs=outputs)


def _cnn():
    return engine.models.Sequential(
        [
            layers.Input(shape=(8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(4, 3, activation="relu"),
            layers.AveragePooling2D(),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _sequence():
    return engine.models.Sequential(
        [
            layers.Input(shape=(12, 2)),
            layers.Conv1D(4, 3, activation="relu"),
            layers.MaxPooling1D(),
            layers.Reshape((10, 2)),
            layers.ReLU(),
            layers.LeakyReLU(),
            layers.Activation("gelu"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


MODELS = {
    # name: (model, loss, input shape, targets)
    "mlp": (_mlp, "sparse_categorical_crossentropy", (6,), "labels"),
    "regression": (_regression, "mse", (6,), "values"),
    "cnn": (_cnn, "categorical_crossentropy", (8, 8, 1), "one_hot"),
    "sequence": (_sequence, "binary_crossentropy", (12, 2), "binary"),
}


def _batch(rng, input_shape, targets: str, n: int, dtype="float32"):
    x = rng.standard_normal((n, *input_shape)).astype(dtype)
    labels = rng.integers(0, 3, n)
    y = {
        "labels": labels,
        "values": rng.standard_normal((n, 1)).astype("float32"),
        "one_hot": numpy.eye(3, dtype="float32")[labels],
        "binary": (labels > 0).astype("float32").reshape(n, 1),
    }[targets]
    return x, y


def _train(name: str, run_eagerly: bool, dtype="float32", change=None):
    """Losses and weights after train_on_batch on fresh batches, then a fit whose last
    batch is smaller and its validation losses, evaluate's and test_on_batch's losses and
    metrics, and predictions; ``change(model, step)`` runs before each training step."""
    build, loss, input_shape, targets = MODELS[name]
    engine.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"], run_eagerly=run_eagerly)
    rng = numpy.random.default_rng(1)
    losses = []
    for step in range(STEPS):
        if change is not None:
            change(model, step)
        losses.append(model.train_on_batch(*_batch(rng, input_shape, targets, 16, dtype)))
    x, y = _batch(rng, input_shape, targets, 56, dtype)
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0)
    losses += history.history["loss"] + history.history["val_loss"]
    losses += model.evaluate(x, y, batch_size=16, verbose=0)
    losses += [model.test_on_batch(x[:5], y[:5])[0]]
    predictions = [model.predict(x, batch_size=16, verbose=0), model.predict_on_batch(x[:3])]
    return losses, model.get_weights() + predictions


@pytest.fixture
def forwards_run(monkeypatch):
    """Counts of taped forwards replayed, and of layer calls (besides models')."""
    counts = {"replays": 0, "layer_calls": 0}
    replayed, called = replay.Tape.run, Layer.__call__

    def counting_replay(self, *args):
        counts["replays"] += 1
        return replayed(self, *args)

    def counting_call(self, *args, **kwargs):
        if not isinstance(self, engine.Model):
            counts["layer_calls"] += 1
        return called(self, *args, **kwargs)

    monkeypatch.setattr(replay.Tape, "run", counting_replay)
    monkeypatch.setattr(Layer, "__call__", counting_call)
    return counts


def _assert_same(first, second):
    losses, weights = first
    eager_losses, eager_weights = second
    assert losses == eager_losses
    assert len(weights) == len(eager_weights)
    for weight, eager in zip(weights, eager_weights):
        numpy.testing.assert_array_equal(weight, eager)


@pytest.mark.parametrize("name", list(MODELS))
def test_replayed_steps_equal_the_layers_bit_for_bit(backend, name, forwards_run):
    replayed = _train(name, run_eagerly=False)
    counts = dict(forwards_run)
    eager = _train(name, run_eagerly=True)
    _assert_same(replayed, eager)
    # 5 + 6 steps: taped at the first step, again after the first step's metrics were
    # set on the model, and at each new batch shape of the fit (16 and 8 samples)
    assert counts["replays"] >= STEPS + 6 - 4
    assert forwards_run["replays"] == counts["replays"]  # none with run_eagerly


def test_layers_run_only_when_taping(backend, forwards_run):
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _batch(numpy.random.default_rng(0), (6,), "labels", 16)
    for _ in range(3):
        model.train_on_batch(x, y)
    calls = forwards_run["layer_calls"]
    for _ in range(4):
        model.train_on_batch(x, y)
    assert forwards_run["layer_calls"] == calls
    assert forwards_run["replays"] >= 4


def test_inference_runs_the_layers_only_when_taping(backend, forwards_run):
    model = _cnn()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    x, y = _batch(numpy.random.default_rng(0), (8, 8, 1), "one_hot", 10)
    first = model.predict_on_batch(x)
    logs = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    predicted = model.predict(x, batch_size=5, verbose=0)
    calls, replays = forwards_run["layer_calls"], forwards_run["replays"]
    # evaluate tapes its forward with its loss, predict its forward alone: once each
    numpy.testing.assert_array_equal(model.predict_on_batch(x), first)
    numpy.testing.assert_array_equal(model.predict(x, batch_size=5, verbose=0), predicted)
    assert model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True) == logs
    assert forwards_run["layer_calls"] == calls
    assert forwards_run["replays"] == replays + 1 + 2 + 2


def test_inputs_of_another_dtype_are_cast_as_the_layers_cast_them(backend):
    _assert_same(
        _train("regression", run_eagerly=False, dtype="float64"),
        _train("regression", run_eagerly=True, dtype="float64"),
    )


def test_batches_of_other_shapes_get_their_own_tapes(backend):
    def train(run_eagerly):
        engine.utils.set_random_seed(0)
        model = _mlp()
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=run_eagerly
        )
        rng = numpy.random.default_rng(4)
        losses = []
        for step in range(12):  # 6 batch sizes, each twice, a float64 batch among them
            dtype = ("float32", "float64")[step % 2]
            losses.append(model.train_on_batch(*_batch(rng, (6,), "labels", 3 + step % 6, dtype)))
        forwards = model.__dict__.get("_taped_forwards")
        assert run_eagerly or 0 < len(forwards.tapes) <= replay.TAPES_KEPT
        return losses, model.get_weights()

    _assert_same(train(run_eagerly=False), train(run_eagerly=True))


def _set_activation(model, step):
    if step == 3:
        model.layers[0].activation = activations.get("elu")


def _freeze_first(model, step):
    if step == 2:
        model.layers[0].trainable = False


def _new_weights(model, step):
    if step == 3:
        model.set_weights([w * 0.5 for w in model.get_weights()])


def _dropout_rate(model, step):
    if step == 2:
        model.layers[1].rate = 0.6


CHANGES = [_set_activation, _freeze_first, _new_weights, _dropout_rate]


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__)
def test_changes_between_steps_take_effect(backend, change):
    replayed = _train("mlp", run_eagerly=False, change=change)
    _assert_same(replayed, _train("mlp", run_eagerly=True, change=change))
    _assert_same(replayed, _train("mlp", run_eagerly=False, change=change))  # reproducible
    assert replayed != _train("mlp", run_eagerly=False)  # the change did something


class _Doubling(Layer):
    def call(self, x):
        return x * 2.0


class _Subclassed(engine.Model):
    def __init__(self):
        super().__init__()
        self.hidden, self.out = layers.Dense(4), layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


def _shared():
    inputs = layers.Input(shape=(4,))
    dense = layers.Dense(4)
    return engine.Model(inputs=inputs, outputs=layers.Dense(1)(dense(dense(inputs))))


def _merged(merge):
    inputs = layers.Input(shape=(4,))
    merged = merge([layers.Dense(3)(inputs), layers.Dense(3)(inputs)])
    return engine.Model(inputs=inputs, outputs=layers.Dense(1)(merged))


class _OwnLoss(engine.Sequential):
    """A compute_loss of the user's: it may differentiate through the layers' graph."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, y, y_pred, sample_weight, training) * 0.5


UNREPLAYED = {
    "own compute_loss": lambda: _OwnLoss([layers.Input(shape=(4,)), layers.Dense(1)]),
    "maximum": lambda: _merged(layers.Maximum()),  # compares its inputs on the host
    "minimum": lambda: _merged(layers.Minimum()),
    "activity regularizer": lambda: engine.models.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(3, activity_regularizer="l2"), layers.Dense(1)]
    ),
    "user layer": lambda: engine.models.Sequential(
        [layers.Input(shape=(4,)), _Doubling(), layers.Dense(1)]
    ),
    "user activation": lambda: engine.models.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(1, activation=lambda x: x * 0.5)]
    ),
    "noise": lambda: engine.models.Sequential(
        [layers.Input(shape=(4,)), layers.GaussianNoise(0.1), layers.Dense(1)]
    ),
    "subclassed": _Subclassed,
    "shared layer": _shared,
    # the dropout masks are drawn outside the op: a replay would keep the first step's
    "recurrent dropout": lambda: engine.models.Sequential(
        [
            layers.Input(shape=(4,)),
            layers.Reshape((2, 2)),
            layers.LSTM(3, dropout=0.3, recurrent_dropout=0.2),
            layers.Dense(1),
        ]
    ),
}


def _train_small(build, run_eagerly: bool, change=None):
    engine.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer="adam", loss="mse", run_eagerly=run_eagerly)
    rng = numpy.random.default_rng(2)
    losses = []
    for step in range(5):
        if change is not None:
            change(model, step)
        x = rng.standard_normal((8, 4)).astype("float32")
        losses.append(model.train_on_batch(x, rng.standard_normal((8, 1)).astype("float32")))
    return losses, model.get_weights()


@pytest.mark.parametrize("name", list(UNREPLAYED))
def test_models_a_replay_could_get_wrong_run_their_layers(backend, name, forwards_run):
    first = _train_small(UNREPLAYED[name], run_eagerly=False)
    assert forwards_run["replays"] == 0
    _assert_same(first, _train_small(UNREPLAYED[name], run_eagerly=True))


def test_a_value_computed_outside_the_ops_is_not_replayed(backend, forwards_run, monkeypatch):
    """A layer adding a tensor made from the batch's values on the host: a replay would
    keep the first batch's."""
    dense_call = layers.Dense.call

    def call(self, x):
        shift = engine.Tensor(numpy.tanh(x.numpy()).mean(axis=0))
        return dense_call(self, x + shift) if self.units == 3 else dense_call(self, x)

    monkeypatch.setattr(layers.Dense, "call", call)
    build = lambda: engine.models.Sequential(  # noqa: E731
        [layers.Input(shape=(4,)), layers.Dense(3), layers.Dense(1)]
    )
    first = _train_small(build, run_eagerly=False)
    assert forwards_run["replays"] == 0
    _assert_same(first, _train_small(build, run_eagerly=True))


def test_a_user_activation_is_called_at_every_step(backend, forwards_run):
    """Its Python may depend on anything (here a flag switched between steps)."""
    relu = {"on": True}

    def switching(x):
        return activations.relu(x) if relu["on"] else activations.tanh(x)

    def change(model, step):
        relu["on"] = step < 2

    build = lambda: engine.models.Sequential(  # noqa: E731
        [layers.Input(shape=(4,)), layers.Dense(3, activation=switching), layers.Dense(1)]
    )
    first = _train_small(build, run_eagerly=False, change=change)
    assert forwards_run["replays"] == 0
    _assert_same(first, _train_small(build, run_eagerly=True, change=change))


def test_a_weight_frozen_and_unfrozen_on_its_own_is_trained_as_the_layers_train_it(backend):
    def change(model, step):
        if step in (1, 3):  # off, then on again: the taped ops kept no kernel gradient
            model.layers[0].kernel.requires_grad = step == 3

    build = lambda: engine.models.Sequential(  # noqa: E731
        [layers.Input(shape=(4,)), layers.Dense(3), layers.Dense(1)]
    )
    replayed = _train_small(build, run_eagerly=False, change=change)
    _assert_same(replayed, _train_small(build, run_eagerly=True, change=change))
    assert replayed != _train_small(build, run_eagerly=False)


def test_run_eagerly_set_after_compile_runs_the_layers(backend, forwards_run):
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.run_eagerly = True
    x, y = _batch(numpy.random.default_rng(0), (6,), "labels", 16)
    for _ in range(4):
        model.train_on_batch(x, y)
    assert forwards_run["replays"] == 0


def test_a_layer_changed_between_steps_is_taped_again(backend, forwards_run):
    changes = lambda model, step: setattr(model.layers[0], "note", step)  # noqa: E731
    replayed = _train("mlp", run_eagerly=False, change=changes)
    counts = dict(forwards_run)
    _assert_same(replayed, _train("mlp", run_eagerly=True, change=changes))
    assert counts["replays"] >= 6  # the fit, its validation, evaluate and predict


class _Counting(layers.Dense):
    """A layer noting each call in an attribute: its forward is never current."""

    def call(self, x):
        self.calls = getattr(self, "calls", 0) + 1
        return super().call(x)


def test_a_layer_setting_attributes_in_its_call_stops_the_taping(backend, monkeypatch):
    taped = []
    original = replay._taped
    monkeypatch.setattr(replay, "_taped", lambda *args: taped.append(1) or original(*args))
    monkeypatch.setattr(replay, "REPLAYED_LAYERS", replay.REPLAYED_LAYERS | {_Counting})
    build = lambda: engine.models.Sequential(  # noqa: E731
        [layers.Input(shape=(4,)), _Counting(3), layers.Dense(1)]
    )
    replayed = _train_small(build, run_eagerly=False)
    _assert_same(replayed, _train_small(build, run_eagerly=True))
    forwards = replay.TapedForwards()
    model = build()
    x = backend.asarray(numpy.ones((2, 4), "float32"))
    for _ in range(5):
        forwards.forward(model, x, True)
    assert forwards.writing == replay.WRITING_LIMIT and not forwards.tapes and not taped


def test_dropout_op_multiplies_by_its_mask_forward_and_back(backend):
    engine.utils.set_random_seed(3)
    x = engine.Tensor(numpy.linspace(1.0, 2.0, 24).reshape(4, 6), requires_grad=True)
    y = F.dropout(x, 0.5, (4, 1))
    mask = y.numpy() / x.numpy()
    assert set(numpy.unique(mask)) <= {0.0, 2.0}
    assert (mask == mask[:, :1]).all()  # one value a row: the (4, 1) noise shape
    (gradient,) = engine.grad(engine.ops.sum(y * y), [x], create_graph=True)
    numpy.testing.assert_allclose(gradient.numpy(), 2 * x.numpy() * mask**2, rtol=1e-6)
    (second,) = engine.grad(engine.ops.sum(gradient), [x])
    numpy.testing.assert_allclose(second.numpy(), 2 * mask**2, rtol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "regression"])
def test_a_step_without_a_graph_fails_as_the_layers_fail(backend, name):
    build, loss, input_shape, targets = MODELS[name]

    def step(run_eagerly):
        model = build()
        model.compile(optimizer="sgd", loss=loss, run_eagerly=run_eagerly)
        x, y = _batch(numpy.random.default_rng(0), input_shape, targets, 16)
        for _ in range(3):
            model.train_on_batch(x, y)
        with engine.no_grad(), pytest.raises(Exception) as error:
            model.train_on_batch(x, y)
        return type(error.value), str(error.value)

    assert step(run_eagerly=False) == step(run_eagerly=True)
