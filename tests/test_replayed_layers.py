"""Layers whose replay repeats host calls (``tensor.note_call``): batch normalization's
moving statistics, an embedding's id check; merge, reshaping, pooling, normalization and
recurrent layers. Each model trains, evaluates and predicts the same as ``run_eagerly=True``, bit
for bit, on every backend, and runs no layer once taped."""

import numpy
import pytest

import engine
from engine import layers
from engine.losses.labels import on_device
from engine.models import replay


def _conv_batch_norm():
    return engine.models.Sequential(
        [
            layers.Input(shape=(6, 6, 2)),
            layers.Conv2D(3, 3, padding="same"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(4),
            layers.BatchNormalization(momentum=0.5),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _text():
    return engine.models.Sequential(
        [
            layers.Input(shape=(7,), dtype="int32"),
            layers.Embedding(20, 4, name="ids"),
            layers.Conv1D(4, 3, activation="relu"),
            layers.AveragePooling1D(),
            layers.GlobalMaxPooling1D(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _float_ids():
    """An Embedding fed float ids, cast to integers in its call (``derive``)."""
    return engine.models.Sequential(
        [
            layers.Input(shape=(7,)),
            layers.Embedding(20, 4, name="ids"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _merges():
    inputs = layers.Input(shape=(6,))
    first = layers.Dense(4, activation="relu")(inputs)
    second = layers.Dense(4)(first)  # first: read by second and by Add
    added = layers.Add()([first, second])
    other = layers.Dense(4)(inputs)
    # each read by two layers at most (a third read would sum gradients in some order)
    branches = [layers.Dense(4)(added), layers.Dense(4)(added)]
    branches += [layers.Dense(4)(other), layers.Dense(4)(other)]
    merged = layers.Concatenate()(
        [
            layers.Subtract()([branches[0], branches[1]]),
            layers.Multiply()([branches[2], branches[3]]),
            layers.Average()([layers.Dense(2)(inputs), layers.Dense(2)(inputs)]),
        ]
    )
    normalized = layers.LayerNormalization()(merged)
    return engine.Model(inputs=inputs, outputs=layers.Dense(3, activation="softmax")(normalized))


def _reshaping():
    return engine.models.Sequential(
        [
            layers.Input(shape=(4, 6, 2)),
            layers.ZeroPadding2D(1),
            layers.Cropping2D(((1, 0), (0, 2))),
            layers.UpSampling2D(2),
            layers.Conv2D(2, 3),
            layers.Permute((2, 1, 3)),
            layers.Reshape((-1, 2)),
            layers.Cropping1D((1, 2)),
            layers.UpSampling1D(2),
            layers.GlobalAveragePooling1D(),
            layers.RepeatVector(3),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _bilinear():
    return engine.models.Sequential(
        [
            layers.Input(shape=(3, 4, 2)),
            layers.UpSampling2D((2, 3), interpolation="bilinear"),
            layers.Conv2D(2, 3),
            layers.GlobalMaxPooling2D(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _recurrent():
    return engine.models.Sequential(
        [
            layers.Input(shape=(7,), dtype="int32"),
            layers.Embedding(20, 4),
            layers.LSTM(5, return_sequences=True),
            layers.GRU(4, go_backwards=True, return_sequences=True),
            layers.GRU(4, reset_after=False, return_sequences=True),
            layers.SimpleRNN(3),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _encoder_decoder():
    """The encoder's final states start the decoder (``initial_state``): op outputs."""
    inputs = layers.Input(shape=(7,), dtype="int32")
    embedded = layers.Embedding(20, 4)(inputs)
    _, h, c = layers.LSTM(5, return_state=True)(embedded)
    decoded = layers.LSTM(5)(embedded, initial_state=[h, c])
    return engine.Model(inputs=inputs, outputs=layers.Dense(3, activation="softmax")(decoded))


def _masked_recurrent():
    """Ids of 0 are padding: the LSTM skips their steps."""
    return engine.models.Sequential(
        [
            layers.Input(shape=(7,), dtype="int32"),
            layers.Embedding(20, 4, mask_zero=True),
            layers.LSTM(5),
            layers.Dense(3, activation="softmax"),
        ]
    )


MODELS = {
    # name: (model, per-sample input shape, kind of inputs)
    "batch normalization": (_conv_batch_norm, (6, 6, 2), "normal"),
    "embedding": (_text, (7,), "ids"),
    "embedding of float ids": (_float_ids, (7,), "float ids"),
    "merges": (_merges, (6,), "normal"),
    "reshaping": (_reshaping, (4, 6, 2), "normal"),
    "bilinear upsampling": (_bilinear, (3, 4, 2), "normal"),
    "recurrent": (_recurrent, (7,), "ids"),
}


def _inputs(kind: str, rng, shape):
    if kind == "normal":
        return rng.standard_normal(shape).astype("float32")
    ids = rng.integers(0, 20, shape)
    return ids.astype("float32") if kind == "float ids" else ids


def _train(spec: tuple, run_eagerly: bool):
    """Losses of train_on_batch on fresh batches and of a fit with validation, evaluate's
    logs; then every weight (moving statistics too) and the predictions, of the model of
    ``spec`` (a ``MODELS`` value)."""
    build, shape, kind = spec
    engine.utils.set_random_seed(0)
    model = build()
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        run_eagerly=run_eagerly,
    )
    rng = numpy.random.default_rng(1)
    results = []
    for _ in range(4):
        x = _inputs(kind, rng, (10, *shape))
        results.append(model.train_on_batch(x, rng.integers(0, 3, 10), return_dict=True))
    x, y = _inputs(kind, rng, (36, *shape)), rng.integers(0, 3, 36)
    results.append(model.fit(x, y, batch_size=10, epochs=2, validation_split=0.25, verbose=0))
    results[-1] = results[-1].history
    results.append(model.evaluate(x, y, batch_size=10, verbose=0, return_dict=True))
    return results, model.get_weights() + [model.predict(x, batch_size=10, verbose=0)]


@pytest.fixture
def counts(monkeypatch):
    found = {"replays": 0, "layers": 0}
    replayed, called = replay.Tape.run, layers.Layer.__call__

    def counting_replay(*args):
        found["replays"] += 1
        return replayed(*args)

    def counting_call(*args, **kwargs):
        found["layers"] += 1
        return called(*args, **kwargs)

    monkeypatch.setattr(replay.Tape, "run", counting_replay)
    monkeypatch.setattr(layers.Layer, "__call__", counting_call)
    return found


@pytest.mark.parametrize("name", list(MODELS))
def test_replayed_layers_equal_the_eager_step_bit_for_bit(backend, name, counts):
    replayed = _train(MODELS[name], run_eagerly=False)
    replays = counts["replays"]
    eager = _train(MODELS[name], run_eagerly=True)
    assert replayed[0] == eager[0]
    for a, b in zip(replayed[1], eager[1], strict=True):
        numpy.testing.assert_array_equal(a, b)
    # fit's second epoch alone replays 4 steps (10, 10, 7 and the validation's 9)
    assert replays >= 2 + 4 + 2


@pytest.mark.parametrize("name", list(MODELS))
def test_a_taped_model_runs_no_layer(backend, name, counts):
    build, shape, kind = MODELS[name]
    model = build()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = numpy.random.default_rng(2)
    x, y = _inputs(kind, rng, (10, *shape)), rng.integers(0, 3, 10)
    for _ in range(3):
        model.train_on_batch(x, y)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    before = dict(counts)
    model.train_on_batch(x, y)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert counts["layers"] == before["layers"]
    assert counts["replays"] == before["replays"] + 3


def test_moving_statistics_move_at_every_replayed_step(backend):
    model = _conv_batch_norm()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = numpy.random.default_rng(3)
    norm = model.layers[1]
    seen = []
    for _ in range(4):
        model.train_on_batch(rng.standard_normal((10, 6, 6, 2)), rng.integers(0, 3, 10))
        seen.append(numpy.array(norm.moving_mean.numpy()))
    assert all(not numpy.array_equal(a, b) for a, b in zip(seen, seen[1:]))


@pytest.mark.parametrize("kind", ["ids", "float ids"])
@pytest.mark.parametrize("bad", [20, -1])
def test_a_replayed_embedding_still_checks_its_ids(backend, kind, bad):
    def error(run_eagerly):
        model = (_text if kind == "ids" else _float_ids)()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.run_eagerly = run_eagerly
        rng = numpy.random.default_rng(4)
        for _ in range(3):  # taped, then replayed
            model.train_on_batch(_inputs(kind, rng, (10, 7)), rng.integers(0, 3, 10))
        x = _inputs(kind, rng, (10, 7))
        x[4, 2] = bad
        with pytest.raises(Exception) as raised:
            model.train_on_batch(x, rng.integers(0, 3, 10))
        return type(raised.value), str(raised.value)

    found = error(False)
    assert found == error(True)
    if not on_device(backend):  # a device's ids are checked after the step, whose gather
        assert found == (ValueError, found[1])  # may fail first (CUDA simulation)
        assert "expected indices in [0, 20)" in found[1]


def _masked_text():
    return engine.models.Sequential(
        [
            layers.Input(shape=(7,), dtype="int32"),
            layers.Embedding(20, 4, mask_zero=True),
            layers.GlobalAveragePooling1D(),  # averages the unmasked steps: a host mask
            layers.Dense(3, activation="softmax"),
        ]
    )


def test_an_encoder_decoder_trains_as_its_layers(backend):
    """The decoder's initial states are the encoder's (the one recurrent op's output, read
    three times: the tape refuses that today); taped or not, the step is the layers'."""
    replayed = _train((_encoder_decoder, (7,), "ids"), run_eagerly=False)
    eager = _train((_encoder_decoder, (7,), "ids"), run_eagerly=True)
    assert replayed[0] == eager[0]
    for a, b in zip(replayed[1], eager[1], strict=True):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("build", [_masked_text, _masked_recurrent])
def test_a_masked_embedding_is_not_replayed(backend, build, counts):
    """The mask is made from the ids outside the ops: a replay would keep the first
    batch's."""
    replayed = _train((build, (7,), "ids"), run_eagerly=False)
    assert counts["replays"] == 0
    eager = _train((build, (7,), "ids"), run_eagerly=True)
    assert replayed[0] == eager[0]
    for a, b in zip(replayed[1], eager[1], strict=True):
        numpy.testing.assert_array_equal(a, b)


def _normalized_softmax():
    """Batch normalization's update runs just before the softmax."""
    return engine.models.Sequential(
        [
            layers.Input(shape=(6, 6, 2)),
            layers.Flatten(),
            layers.Dense(3),
            layers.BatchNormalization(),
            layers.Softmax(),
        ]
    )


@pytest.mark.parametrize("build", [_conv_batch_norm, _normalized_softmax])
def test_a_forward_with_host_calls_keeps_its_softmax_for_the_loss(backend, build, counts):
    """Sample weights keep the loss out of the tape: the replayed forward's final softmax
    must still run through ``apply``, so that the cross-entropy reads its logits (from
    the probabilities, its last bits would differ)."""

    def run(run_eagerly):
        engine.utils.set_random_seed(0)
        model = build()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.run_eagerly = run_eagerly
        rng = numpy.random.default_rng(5)
        losses = []
        for _ in range(6):
            x = 3 * rng.standard_normal((10, 6, 6, 2)).astype("float32")
            y, weights = rng.integers(0, 3, 10), rng.uniform(size=10)
            losses.append(model.train_on_batch(x, y, sample_weight=weights))
        return losses, model.get_weights()

    replayed = run(False)
    assert counts["replays"] >= 4
    eager = run(True)
    assert replayed[0] == eager[0]
    for a, b in zip(replayed[1], eager[1], strict=True):
        numpy.testing.assert_array_equal(a, b)
