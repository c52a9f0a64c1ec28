"""Callbacks: Keras's names, arguments and semantics."""

import csv
import warnings

import numpy
import pytest

import engine
from engine import callbacks, layers
from engine.models import Sequential, load_model


def make_data(n=64, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    return x, y


def make_model(learning_rate=0.01, optimizer=None):
    engine.utils.set_random_seed(0)
    model = Sequential([layers.Dense(1, activation="sigmoid", input_shape=(4,))])
    model.compile(
        optimizer=optimizer or engine.optimizers.SGD(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


class Scripted(callbacks.Callback):
    """Replaces the epoch's logged values by a script, to drive monitors exactly."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_early_stopping_patience_and_restore_best_weights(backend):
    x, y = make_data()
    model = make_model()
    weights_at = {}

    class Record(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights_at[epoch] = model.get_weights()

    losses = [1.0, 0.5, 0.6, 0.7, 0.4, 0.3]
    stop = callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=6, verbose=0, callbacks=[Scripted("loss", losses), Record(), stop]
    )
    assert history.epoch == [0, 1, 2, 3]
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1
    for a, b in zip(model.get_weights(), weights_at[1]):
        numpy.testing.assert_array_equal(a, b)


def test_early_stopping_restores_best_weights_without_stopping_early(backend):
    x, y = make_data()
    model = make_model()
    weights_at = {}

    class Record(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights_at[epoch] = model.get_weights()

    stop = callbacks.EarlyStopping(monitor="loss", patience=5, restore_best_weights=True)
    losses = [1.0, 0.5, 0.6, 0.7]
    history = model.fit(
        x, y, epochs=4, verbose=0, callbacks=[Scripted("loss", losses), Record(), stop]
    )
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 0 and stop.best_epoch == 1
    for a, b in zip(model.get_weights(), weights_at[1], strict=True):
        numpy.testing.assert_array_equal(a, b)


def test_early_stopping_mode_min_delta_baseline_and_start():
    x, y = make_data()
    model = make_model()
    accuracy = [0.5, 0.6, 0.605, 0.61, 0.9]
    stop = callbacks.EarlyStopping(monitor="accuracy", patience=1, min_delta=0.05)
    assert stop.mode == "max"
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[Scripted("accuracy", accuracy), stop])
    assert history.epoch == [0, 1, 2]

    stop = callbacks.EarlyStopping(monitor="loss", patience=2, baseline=0.1)
    history = model.fit(
        x, y, epochs=5, verbose=0, callbacks=[Scripted("loss", [1, 0.9, 0.95, 0.95, 0.95]), stop]
    )
    assert history.epoch == [0, 1, 2]  # improvements that miss the baseline keep counting
    stop = callbacks.EarlyStopping(monitor="loss", patience=2)
    history = model.fit(
        x, y, epochs=5, verbose=0, callbacks=[Scripted("loss", [1, 0.9, 0.95, 0.95, 0.95]), stop]
    )
    assert history.epoch == [0, 1, 2, 3]

    stop = callbacks.EarlyStopping(monitor="loss", patience=0, start_from_epoch=3)
    history = model.fit(
        x, y, epochs=5, verbose=0, callbacks=[Scripted("loss", [1, 2, 3, 4, 5]), stop]
    )
    assert history.epoch == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="mode"):
        callbacks.EarlyStopping(mode="largest")


def test_early_stopping_warns_on_missing_metric():
    x, y = make_data()
    with pytest.warns(RuntimeWarning, match="val_loss.*not available"):
        make_model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.EarlyStopping()])


def test_model_checkpoint_every_epoch_and_best_only(tmp_path, backend):
    x, y = make_data()
    model = make_model()
    every = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{loss:.2f}.safetensors"))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[every])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[0].startswith("e01-") and names[1].startswith("e02-")
    assert load_model(tmp_path / names[1]).optimizer.iterations == model.optimizer.iterations

    best = callbacks.ModelCheckpoint(tmp_path / "best.safetensors", save_best_only=True)
    saved_at = []
    original = model.save
    model.save = lambda path: (saved_at.append(len(saved_at)), original(path))
    model.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        validation_data=(x, y),
        callbacks=[Scripted("val_loss", [0.5, 0.6, 0.4, 0.45]), best],
    )
    assert len(saved_at) == 2 and best.best == 0.4

    weights_only = callbacks.ModelCheckpoint(
        tmp_path / "w.safetensors", save_weights_only=True, monitor="loss"
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[weights_only])
    fresh = make_model()
    fresh.load_weights(tmp_path / "w.safetensors")
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        numpy.testing.assert_array_equal(a, b)

    bad = callbacks.ModelCheckpoint(tmp_path / "{val_acc}.safetensors")
    with pytest.raises(KeyError, match="val_acc"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[bad])


def test_model_checkpoint_creates_its_directory(tmp_path):
    x, y = make_data()
    model = make_model()
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "runs" / "a" / "m{epoch}.keras")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert (tmp_path / "runs" / "a" / "m1.keras").exists()


def test_model_checkpoint_every_n_batches(tmp_path):
    x, y = make_data()  # 64 samples: 4 batches of 16 per epoch
    model = make_model()
    checkpoint = callbacks.ModelCheckpoint(
        tmp_path / "e{epoch}-b{batch}.keras", save_freq=3, monitor="loss"
    )
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1-b3.keras", "e2-b2.keras"]
    assert load_model(tmp_path / "e2-b2.keras").optimizer.iterations == 6
    for bad in (0, -1, 2.5, "batch"):
        with pytest.raises(ValueError, match="`save_freq` must be 'epoch' or a positive integer"):
            callbacks.ModelCheckpoint(tmp_path / "m.keras", save_freq=bad)


@pytest.mark.parametrize(
    "callback",
    [
        callbacks.LearningRateScheduler(lambda epoch, lr: lr),
        callbacks.ReduceLROnPlateau(monitor="loss"),
    ],
    ids=["LearningRateScheduler", "ReduceLROnPlateau"],
)
def test_learning_rate_callbacks_refuse_a_schedule(callback):
    x, y = make_data()
    schedule = engine.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    model = make_model(optimizer=engine.optimizers.SGD(learning_rate=schedule))
    name = type(callback).__name__
    with pytest.raises(
        TypeError, match=f"{name}: the optimizer's `learning_rate` is a schedule \\(Expo"
    ):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    assert model.optimizer._learning_rate is schedule
    with pytest.raises(TypeError, match="created with a LearningRateSchedule"):
        model.optimizer.learning_rate = 0.01


def test_reduce_lr_on_plateau_patience_cooldown_min_lr():
    x, y = make_data()
    model = make_model(learning_rate=0.1)
    losses = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    reduce = callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.02
    )
    history = model.fit(x, y, epochs=8, verbose=0, callbacks=[Scripted("loss", losses), reduce])
    # logs carry the rate the epoch ran with (as in Keras); epoch 0 sets the best, the rate
    # halves after epochs 2 and 4 (cooldown 1 epoch), then stops at min_lr after epoch 6
    assert history.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02]
    )
    model.fit(x, y, epochs=4, verbose=0, callbacks=[Scripted("loss", losses), reduce])
    assert model.optimizer.learning_rate == pytest.approx(0.02)


def test_learning_rate_scheduler():
    x, y = make_data()
    model = make_model(learning_rate=0.1)
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return lr * 0.5 if epoch else lr

    history = model.fit(
        x, y, epochs=3, verbose=0, callbacks=[callbacks.LearningRateScheduler(schedule)]
    )
    assert seen == pytest.approx([0.1, 0.1, 0.05])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda e: 0.3)])
    assert model.optimizer.learning_rate == pytest.approx(0.3)
    with pytest.raises(ValueError, match="must return a float"):
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[callbacks.LearningRateScheduler(lambda e, lr: "x")],
        )


def test_csv_logger(tmp_path):
    x, y = make_data()
    path = tmp_path / "log.csv"
    model = make_model()
    model.fit(
        x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)]
    )
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    model.fit(
        x,
        y,
        epochs=4,
        initial_epoch=2,
        verbose=0,
        validation_split=0.25,
        callbacks=[callbacks.CSVLogger(path, separator=";", append=True)],
    )
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and lines[3].startswith("2;")


def make_diverging_model():
    """A linear regression whose first update overflows the weights."""
    engine.utils.set_random_seed(0)
    model = Sequential([layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer=engine.optimizers.SGD(learning_rate=1e36), loss="mse")
    return model


def test_terminate_on_nan_stops_at_first_nan_batch(backend, capsys):
    x, y = make_data()
    model = make_diverging_model()
    terminate = callbacks.TerminateOnNaN()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TerminateOnNaN reports it; no warning on top
        history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[terminate])
    assert history.epoch == [0]
    assert (terminate.stopped_epoch, terminate.stopped_batch) == (0, 1)
    assert "Batch 1 of epoch 1: invalid loss inf" in capsys.readouterr().out
    assert model.optimizer.iterations == 2


def test_without_terminate_on_nan_fit_warns_once_at_first_nan_batch(backend):
    x, y = make_data()
    model = make_diverging_model()
    with pytest.warns(RuntimeWarning) as record:
        model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    messages = [str(w.message) for w in record]
    assert len(messages) == 1, messages  # and no NumPy overflow warnings alongside
    # a GPU backend reads the loss once per epoch (no host round trip a batch)
    where = "batch 1 of epoch 1" if backend.xp is numpy else "in epoch 1"
    assert where in messages[0] and "TerminateOnNaN" in messages[0]
    assert model.optimizer.iterations == 12  # training went on


def test_model_stop_training_from_a_batch_hook():
    x, y = make_data()
    model = make_model()

    class StopAfterThree(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[StopAfterThree()])
    assert model.optimizer.iterations == 3


def test_csv_logger_keeps_validation_columns_as_keras_does(tmp_path):
    """Keras 3 adds a ``val_`` column of each log when the first epoch has none: with
    ``validation_freq=2`` the later validations are kept; with no validation they read NA."""
    x, y = make_data()
    every_other = tmp_path / "every_other.csv"
    make_model().fit(
        x,
        y,
        epochs=2,
        verbose=0,
        validation_split=0.25,
        validation_freq=2,
        callbacks=[callbacks.CSVLogger(every_other)],
    )
    header, first, second = list(csv.reader(every_other.open()))
    assert header == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert first[3:] == ["NA", "NA"] and all(value != "NA" for value in second)
    plain = tmp_path / "plain.csv"
    make_model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(plain)])
    header, row = list(csv.reader(plain.open()))
    assert header == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert row[3:] == ["NA", "NA"]


def test_csv_logger_writes_a_per_class_metric_as_keras_does(tmp_path):
    x, y = make_data()
    path = tmp_path / "f1.csv"
    engine.utils.set_random_seed(0)
    model = Sequential([layers.Dense(2, activation="softmax", input_shape=(4,))])
    model.compile("adam", "categorical_crossentropy", metrics=[engine.metrics.F1Score()])
    one_hot = numpy.eye(2, dtype="float32")[y[:, 0].astype(int)]
    model.fit(x, one_hot, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    header, row = list(csv.reader(path.open()))
    scores = row[header.index("f1_score")]  # Keras's quoted "[a, b]", one field
    assert scores.startswith('"[') and scores.endswith(']"') and scores.count(", ") == 1
