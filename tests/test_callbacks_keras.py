"""Callbacks as Keras 3 calls them: which hooks, in which order, with which logs and params.

The expected sequences were recorded from Keras 3.15 (torch backend) with a callback that
logs every hook, on the same data layout: 8 samples, ``batch_size=4`` (2 training
batches), ``validation_data`` of 6 samples (2 validation batches), ``metrics=["accuracy"]``.
The values differ (other initial weights); the hooks, indices and keys are Keras's.
"""

import json
import os
import struct
import sys

import numpy
import pytest

import engine
from engine import callbacks, layers
from engine.models import Model, Sequential


def make_data(n=8, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    return x, y


def make_model():
    engine.utils.set_random_seed(0)
    model = Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid", name="dense")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    return model


class Recorder(callbacks.Callback):
    """Records ``(hook, index, logs)``; logs are copied, arrays kept as arrays."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _record(self, hook, *index, logs):
        self.calls.append((hook, *index, dict(logs) if isinstance(logs, dict) else logs))


def _recording_hook(hook, with_index):
    if with_index:
        return lambda self, index, logs=None: self._record(hook, index, logs=logs)
    return lambda self, logs=None: self._record(hook, logs=logs)


for _hook in ("train", "test", "predict"):
    for _end in ("begin", "end"):
        setattr(Recorder, f"on_{_hook}_{_end}", _recording_hook(f"{_hook}_{_end}", False))
        setattr(
            Recorder, f"on_{_hook}_batch_{_end}", _recording_hook(f"{_hook}_batch_{_end}", True)
        )
for _end in ("begin", "end"):
    setattr(Recorder, f"on_epoch_{_end}", _recording_hook(f"epoch_{_end}", True))


def shape_of(calls):
    """The calls with each logs dict reduced to its keys (``{}`` stays ``{}``)."""
    return [(*call[:-1], sorted(call[-1])) for call in calls]


METRICS = ["accuracy", "loss"]
VALIDATED = ["accuracy", "loss", "val_accuracy", "val_loss"]

# Keras 3.15: fit(x, y, batch_size=4, epochs=2, validation_data=(x[:6], y[:6]))
KERAS_FIT_EPOCH = [
    ("epoch_begin", "E", []),
    ("train_batch_begin", 0, []),
    ("train_batch_end", 0, METRICS),
    ("train_batch_begin", 1, []),
    ("train_batch_end", 1, METRICS),
    ("test_begin", []),
    ("test_batch_begin", 0, []),
    ("test_batch_end", 0, METRICS),
    ("test_batch_begin", 1, []),
    ("test_batch_end", 1, METRICS),
    ("test_end", METRICS),
    ("epoch_end", "E", VALIDATED),
]


def keras_fit_calls(epochs):
    calls = [("train_begin", [])]
    for epoch in range(epochs):
        calls += [
            tuple(epoch if part == "E" else part for part in call) for call in KERAS_FIT_EPOCH
        ]
    return calls + [("train_end", VALIDATED)]


def test_fit_with_validation_calls_keras_hooks_in_keras_order(backend):
    x, y = make_data()
    model, recorder = make_model(), Recorder()
    model.fit(
        x, y, batch_size=4, epochs=2, validation_data=(x[:6], y[:6]), verbose=0,
        callbacks=[recorder],
    )  # fmt: skip
    assert shape_of(recorder.calls) == keras_fit_calls(2)
    assert recorder.params == {"verbose": 0, "epochs": 2, "steps": 2}
    by_hook = {}
    for call in recorder.calls:
        by_hook.setdefault(call[0], []).append(call[-1])
    # the begin hooks get {} (never None); on_test_end gets the un-prefixed validation logs,
    # the same numbers as the val_ ones at on_epoch_end; on_train_end the last epoch's logs
    assert all(logs == {} for logs in by_hook["train_begin"] + by_hook["epoch_begin"])
    assert all(logs == {} for logs in by_hook["test_begin"] + by_hook["test_batch_begin"])
    for test_end, epoch_end in zip(by_hook["test_end"], by_hook["epoch_end"], strict=True):
        assert test_end == {"accuracy": epoch_end["val_accuracy"], "loss": epoch_end["val_loss"]}
        assert by_hook["test_batch_end"][1] == by_hook["test_end"][0]  # running over batches
    assert by_hook["train_end"] == [by_hook["epoch_end"][-1]]
    assert all(isinstance(value, float) for logs in by_hook["epoch_end"] for value in logs.values())
    assert list(by_hook["epoch_end"][0]) == VALIDATED  # sorted by name, as Keras 3's logs


def test_validation_freq_runs_the_test_hooks_only_in_validated_epochs(backend):
    x, y = make_data()
    recorder = Recorder()
    make_model().fit(
        x, y, batch_size=8, epochs=3, validation_split=0.25, validation_freq=2, verbose=0,
        callbacks=[recorder],
    )  # fmt: skip
    # Keras 3.15, the same call
    assert [call[0] for call in recorder.calls] == [
        "train_begin",
        "epoch_begin", "train_batch_begin", "train_batch_end", "epoch_end",
        "epoch_begin", "train_batch_begin", "train_batch_end",
        "test_begin", "test_batch_begin", "test_batch_end", "test_end", "epoch_end",
        "epoch_begin", "train_batch_begin", "train_batch_end", "epoch_end",
        "train_end",
    ]  # fmt: skip
    assert sorted(recorder.calls[-1][-1]) == METRICS  # the last epoch was not validated


def test_evaluate_calls_the_test_hooks(backend):
    x, y = make_data()
    model, recorder = make_model(), Recorder()
    result = model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[recorder], return_dict=True)
    assert shape_of(recorder.calls) == [
        ("test_begin", []),
        ("test_batch_begin", 0, []),
        ("test_batch_end", 0, METRICS),
        ("test_batch_begin", 1, []),
        ("test_batch_end", 1, METRICS),
        ("test_end", METRICS),
    ]
    assert recorder.params == {"verbose": 0, "epochs": 1, "steps": 2}
    assert recorder.calls[-1][-1] == result
    model.evaluate(x, y, batch_size=4, callbacks=recorder)  # one callback alone, verbose="auto"
    assert recorder.params == {"verbose": "auto", "epochs": 1, "steps": 2}


def test_evaluate_on_a_dataset_calls_the_test_hooks(backend):
    x, y = make_data()
    model, recorder = make_model(), Recorder()
    model.fit(x, y, verbose=0)
    dataset = engine.data.Dataset.from_tensor_slices((x, y)).batch(3)
    model.evaluate(dataset, verbose=0, callbacks=[recorder])
    assert [call[0] for call in recorder.calls] == (
        ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 3 + ["test_end"]
    )


def test_predict_calls_the_predict_hooks_with_the_batch_outputs(backend):
    x, _ = make_data()
    model, recorder = make_model(), Recorder()
    predictions = model.predict(x, batch_size=5, verbose=0, callbacks=[recorder])
    # Keras 3.15: predict(x, batch_size=5) on 8 samples
    assert [call[:-1] for call in recorder.calls] == [
        ("predict_begin",),
        ("predict_batch_begin", 0),
        ("predict_batch_end", 0),
        ("predict_batch_begin", 1),
        ("predict_batch_end", 1),
        ("predict_end",),
    ]
    assert recorder.params == {"verbose": 0, "epochs": 1, "steps": 2}
    assert recorder.calls[0][-1] == {} and recorder.calls[-1][-1] == {}
    first, second = recorder.calls[2][-1], recorder.calls[4][-1]
    assert list(first) == ["outputs"] and isinstance(first["outputs"], numpy.ndarray)
    numpy.testing.assert_array_equal(first["outputs"], predictions[:5])
    numpy.testing.assert_array_equal(second["outputs"], predictions[5:])


def test_predict_batch_logs_of_a_model_with_two_outputs_are_a_list(backend):
    engine.utils.set_random_seed(0)
    inputs = layers.Input((3,))
    model = Model(inputs, [layers.Dense(2)(inputs), layers.Dense(1)(inputs)])
    x, _ = make_data()
    recorder = Recorder()
    model.predict(x, batch_size=8, verbose=0, callbacks=[recorder])
    outputs = recorder.calls[2][-1]["outputs"]  # Keras 3.15: a list, one per output
    assert isinstance(outputs, list) and [o.shape for o in outputs] == [(8, 2), (8, 1)]


def test_stop_predicting_and_stop_evaluating_end_the_loop_after_the_batch(backend):
    x, y = make_data()
    model = make_model()

    class StopAtFirst(callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            self.model.stop_predicting = True

        def on_test_batch_end(self, batch, logs=None):
            self.model.stop_evaluating = True

    assert model.predict(x, batch_size=2, verbose=0, callbacks=[StopAtFirst()]).shape == (2, 1)
    stopped = model.evaluate(x, y, batch_size=2, verbose=0, callbacks=[StopAtFirst()])
    assert stopped == pytest.approx(model.evaluate(x[:2], y[:2], verbose=0))


def test_fit_params_keep_verbose_as_given_and_steps_of_a_generator_are_none(backend):
    x, y = make_data()
    model, recorder = make_model(), Recorder()
    model.fit(x, y, batch_size=4, epochs=1, verbose=2, callbacks=[recorder])
    assert recorder.params == {"verbose": 2, "epochs": 1, "steps": 2}

    def batches():
        for _ in range(2):
            yield x[:4], y[:4]

    model.fit(batches(), epochs=1, verbose=0, callbacks=[recorder])
    assert recorder.params == {"verbose": 0, "epochs": 1, "steps": None}


def test_on_batch_end_is_keras_alias_of_on_train_batch_end(backend):
    x, y = make_data()
    model = make_model()
    seen = []

    class Old(callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, sorted(logs)))

    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[Old()])
    assert seen == [("begin", 0), ("end", 0, METRICS), ("begin", 1), ("end", 1, METRICS)]
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[Old()])  # not a training batch
    assert len(seen) == 4


def test_logs_are_one_dict_per_hook_call_shared_by_the_callbacks(backend):
    """As Keras 3: a key one callback adds at on_epoch_end is seen by the ones after it
    (History records it), but on_train_end gets the epoch's logs as fit made them."""
    x, y = make_data()
    seen = {}

    class Adds(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["added"] = 1.0

    class Reads(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["epoch_end"] = dict(logs)

        def on_train_end(self, logs=None):
            seen["train_end"] = dict(logs)

    history = make_model().fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[Adds(), Reads()])
    assert sorted(seen["epoch_end"]) == ["accuracy", "added", "loss"]
    assert sorted(seen["train_end"]) == METRICS
    assert history.history["added"] == [1.0]


def test_reduce_lr_on_plateau_learning_rate_reaches_history_not_on_train_end(backend):
    x, y = make_data()
    recorder = Recorder()
    reduce = callbacks.ReduceLROnPlateau(monitor="loss")
    history = make_model().fit(
        x, y, batch_size=8, epochs=1, verbose=0, callbacks=[reduce, recorder]
    )
    # Keras 3.15: epoch_end {accuracy, learning_rate: 0.01, loss}, train_end {accuracy, loss}
    assert recorder.calls[-2][-1]["learning_rate"] == pytest.approx(0.01)
    assert sorted(recorder.calls[-1][-1]) == METRICS
    assert history.history["learning_rate"] == [pytest.approx(0.01)]


def test_on_train_end_gets_the_last_epoch_logs_when_a_callback_stops_training(backend):
    x, y = make_data()
    recorder = Recorder()

    class Stop(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    make_model().fit(
        x, y, batch_size=8, epochs=3, verbose=0, validation_data=(x, y),
        callbacks=[Stop(), recorder],
    )  # fmt: skip
    assert recorder.calls[-1][0] == "train_end"
    assert recorder.calls[-1][-1] == recorder.calls[-2][-1] and sorted(recorder.calls[-1][-1]) == (
        VALIDATED
    )


def test_a_history_or_progbar_given_in_callbacks_is_the_one_fit_uses(backend, capsys):
    x, y = make_data()
    model = make_model()
    mine = callbacks.History()
    returned = model.fit(x, y, epochs=2, verbose=1, callbacks=[mine, callbacks.ProgbarLogger()])
    assert returned is mine and model.history is mine and mine.epoch == [0, 1]
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1


def test_lambda_callback_takes_keras_arguments(backend):
    x, y = make_data()
    seen = []
    callback = callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(("train_begin", logs)),
        on_epoch_end=lambda epoch, logs: seen.append((epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: seen.append(("batch", batch)),
        on_train_end=lambda logs: seen.append(("train_end", sorted(logs))),
        on_test_end=lambda logs: seen.append(("test_end", sorted(logs))),
        note="kept",
    )
    make_model().fit(
        x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y), callbacks=[callback]
    )
    assert seen == [
        ("train_begin", {}),
        ("batch", 0),
        ("batch", 1),
        ("test_end", METRICS),
        (0, VALIDATED),
        ("train_end", VALIDATED),
    ]
    assert callback.note == "kept"  # Keras sets any other keyword as an attribute
    with pytest.raises(TypeError, match="LambdaCallback: `on_epoch_end` must be a function"):
        callbacks.LambdaCallback(on_epoch_end="print")


def test_remote_monitor_says_why_it_is_not_available():
    with pytest.raises(NotImplementedError, match="no network connections.*CSVLogger"):
        callbacks.RemoteMonitor(root="http://localhost:9000")


# -- BackupAndRestore -----------------------------------------------------------------


def make_regularized_model(seed=3):
    """Adam (slots and step count), dropout (masks) and shuffling: all must resume exactly."""
    engine.utils.set_random_seed(seed)
    model = Sequential(
        [
            layers.Input((3,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


class Crash(callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("interrupted")


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        numpy.testing.assert_allclose(wa, wb, rtol=0, atol=1e-7)


def test_backup_and_restore_resumes_to_the_uninterrupted_weights(backend, tmp_path):
    x, y = make_data(n=64)
    uninterrupted = make_regularized_model()
    expected = uninterrupted.fit(x, y, epochs=4, batch_size=16, verbose=0).history
    backup = tmp_path / "backup"

    crashed = make_regularized_model()
    with pytest.raises(RuntimeError, match="interrupted"):
        crashed.fit(
            x, y, epochs=4, batch_size=16, verbose=0,
            callbacks=[callbacks.BackupAndRestore(backup), Crash(at_epoch=2)],
        )  # fmt: skip
    assert sorted(os.listdir(backup)) == ["backup-b.safetensors", "training_metadata.json"]
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2

    # a new process: a new model (other initial weights and seeds), the same callback dir
    resumed = make_regularized_model(seed=99)
    backend.dropout_mask((7, 3), 0.5, numpy.dtype("float32"))
    history = resumed.fit(
        x, y, epochs=4, batch_size=16, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)]
    )
    assert history.epoch == [2, 3]  # Keras: only the epochs left are run
    assert history.history["loss"] == pytest.approx(expected["loss"][2:], rel=1e-6)
    assert_same_weights(uninterrupted, resumed)
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations == 16
    assert not backup.exists()  # delete_checkpoint=True: gone after a completed fit


def test_backup_and_restore_keeps_the_checkpoint_when_asked(tmp_path):
    x, y = make_data(n=32)
    model = make_regularized_model()
    model.fit(
        x, y, epochs=2, verbose=0,
        callbacks=[callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)],
    )  # fmt: skip
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == 2
    # fitting again to the same epoch count resumes at its end: nothing left to run
    history = make_regularized_model().fit(
        x, y, epochs=2, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)]
    )
    assert history.epoch == []
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_backup_and_restore_with_batch_frequency_resumes_at_the_backups_epoch(tmp_path):
    """As Keras: a backup made mid-epoch resumes at the start of that epoch."""
    x, y = make_data(n=64)
    model = make_regularized_model()

    class CrashMidEpoch(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations == 7:  # epoch 1, after its 3rd batch
                raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        model.fit(
            x, y, epochs=3, batch_size=16, verbose=0,
            callbacks=[callbacks.BackupAndRestore(tmp_path / "b", save_freq=3), CrashMidEpoch()],
        )  # fmt: skip
    record = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert (record["epoch"], record["batch"]) == (1, 1)  # saved after iterations 3 and 6
    resumed = make_regularized_model(seed=5)
    history = resumed.fit(
        x, y, epochs=3, batch_size=16, verbose=0,
        callbacks=[callbacks.BackupAndRestore(tmp_path / "b", save_freq=3)],
    )  # fmt: skip
    assert history.epoch == [1, 2]
    assert resumed.optimizer.iterations == 6 + 8


def test_backup_and_restore_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    x, y = make_data(n=32)
    backup = tmp_path / "b"
    with pytest.raises(RuntimeError):
        make_regularized_model().fit(
            x, y, epochs=4, verbose=0,
            callbacks=[callbacks.BackupAndRestore(backup, double_checkpoint=True), Crash(3)],
        )  # fmt: skip
    record = json.loads((backup / "training_metadata.json").read_text())
    assert (record["epoch"], record["previous"]["epoch"]) == (3, 2)
    latest = backup / record["model"]
    latest.write_bytes(latest.read_bytes()[:-10])  # damaged
    with pytest.warns(RuntimeWarning, match="previous one"):
        history = make_regularized_model().fit(
            x, y, epochs=4, verbose=0,
            callbacks=[callbacks.BackupAndRestore(backup, double_checkpoint=True)],
        )  # fmt: skip
    assert history.epoch == [2, 3]


def test_backup_and_restore_bad_arguments_and_damaged_records(tmp_path):
    with pytest.raises(ValueError, match="`backup_dir` must name a directory"):
        callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="`save_freq` must be 'epoch' or a positive integer"):
        callbacks.BackupAndRestore(tmp_path, save_freq=0)
    x, y = make_data()
    (tmp_path / "training_metadata.json").write_text('{"epoch": 1, "model": "../elsewhere"}')
    with pytest.raises(ValueError, match="not a backup record written by this callback"):
        make_regularized_model().fit(
            x, y, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)]
        )
    (tmp_path / "training_metadata.json").write_text(
        '{"epoch": 1, "model": "backup-a.safetensors"}'
    )
    (tmp_path / "backup-a.safetensors").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="BackupAndRestore: cannot resume from the backup"):
        make_regularized_model().fit(
            x, y, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)]
        )


# -- TensorBoard ------------------------------------------------------------------------


class FakeWriter:
    """Stands in for the tensorboardX writer: records what TensorBoard writes."""

    written: list = []

    def __init__(self, directory):
        self.run = os.path.basename(directory)

    def scalar(self, tag, value, step):
        FakeWriter.written.append((self.run, "scalar", tag, step, value))

    def histogram(self, tag, values, step):
        FakeWriter.written.append((self.run, "histogram", tag, step, numpy.array(values)))

    def model_config(self, config_json, step):
        FakeWriter.written.append((self.run, "model", "keras", step, json.loads(config_json)))

    def flush(self):
        pass

    def close(self):
        FakeWriter.written.append((self.run, "close"))


@pytest.fixture
def fake_writer(monkeypatch):
    FakeWriter.written = []
    monkeypatch.setattr(callbacks.TensorBoard, "writer_class", FakeWriter)
    return FakeWriter.written


def scalars(written, run, prefix=""):
    return sorted(
        (tag, step) for r, kind, tag, step, *_ in (w for w in written if len(w) > 2)
        if r == run and kind == "scalar" and tag.startswith(prefix)
    )  # fmt: skip


def test_tensorboard_writes_keras_epoch_scalars_and_histograms(backend, fake_writer, tmp_path):
    x, y = make_data()
    model = make_model()
    board = callbacks.TensorBoard(tmp_path, histogram_freq=1, write_graph=False)
    history = model.fit(
        x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y), callbacks=[board]
    )
    epoch_tags = ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    assert scalars(fake_writer, "train", "epoch_") == sorted(
        (tag, epoch) for tag in epoch_tags for epoch in (0, 1)
    )
    assert scalars(fake_writer, "validation", "epoch_") == sorted(
        (tag, epoch) for tag in ("epoch_accuracy", "epoch_loss") for epoch in (0, 1)
    )
    # after each validation, at the optimizer's step count (2 and 4), as Keras
    assert scalars(fake_writer, "validation", "evaluation_") == [
        ("evaluation_accuracy_vs_iterations", 2),
        ("evaluation_accuracy_vs_iterations", 4),
        ("evaluation_loss_vs_iterations", 2),
        ("evaluation_loss_vs_iterations", 4),
    ]
    values = {(w[0], w[2], w[3]): w[4] for w in fake_writer if len(w) > 2 and w[1] == "scalar"}
    assert values["train", "epoch_loss", 1] == pytest.approx(history.history["loss"][1])
    assert values["validation", "epoch_loss", 1] == pytest.approx(history.history["val_loss"][1])
    assert values["train", "epoch_learning_rate", 0] == pytest.approx(0.01)
    histograms = [(w[2], w[3]) for w in fake_writer if len(w) > 2 and w[1] == "histogram"]
    assert histograms == [
        (f"dense/{name}/histogram", epoch) for epoch in (0, 1) for name in ("kernel", "bias")
    ]
    assert scalars(fake_writer, "train", "batch_") == []  # update_freq="epoch"
    assert sorted(w for w in fake_writer if w[1] == "close") == [
        ("train", "close"),
        ("validation", "close"),
    ]


def test_tensorboard_batch_scalars_with_update_freq(backend, fake_writer, tmp_path):
    x, y = make_data()
    callback = callbacks.TensorBoard(tmp_path, update_freq="batch", write_graph=False)
    make_model().fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[callback])
    # Keras numbers the batches from 1 across epochs
    assert scalars(fake_writer, "train", "batch_loss") == [("batch_loss", s) for s in range(1, 9)]
    FakeWriter.written.clear()
    callback = callbacks.TensorBoard(tmp_path, update_freq=3, write_graph=False)
    make_model().fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[callback])
    assert scalars(fake_writer, "train", "batch_accuracy") == [
        ("batch_accuracy", 3),
        ("batch_accuracy", 6),
    ]


def test_tensorboard_graph_is_the_keras_model_config(backend, fake_writer, tmp_path):
    engine.utils.set_random_seed(0)
    inputs = layers.Input((3,), name="features")
    left, right = layers.Dense(2, name="left")(inputs), layers.Dense(2, name="right")(inputs)
    outputs = layers.Dense(1, name="out")(layers.Concatenate(name="join")([left, right]))
    model = Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x, y = make_data()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(tmp_path)])
    (run, _, tag, step, config), *_ = [w for w in fake_writer if w[1] == "model"]
    assert (run, tag, step, config["class_name"]) == ("train", "keras", 0, "Functional")
    inbound = {
        layer["name"]: [
            arg["config"]["keras_history"][0] for node in layer["inbound_nodes"] for arg in (
                node["args"] if isinstance(node["args"][0], dict) else node["args"][0]
            )
        ]
        for layer in config["config"]["layers"]
    }  # fmt: skip
    assert inbound == {
        "features": [],
        "left": ["features"],
        "right": ["features"],
        "join": ["left", "right"],
        "out": ["join"],
    }


def test_tensorboard_refuses_what_it_does_not_support(fake_writer):
    for argument in ({"write_images": True}, {"profile_batch": 2}, {"embeddings_freq": 1}):
        with pytest.raises(ValueError, match=f"`{next(iter(argument))}` is not supported"):
            callbacks.TensorBoard(**argument)
    with pytest.raises(ValueError, match="`update_freq` must be 'epoch', 'batch' or a positive"):
        callbacks.TensorBoard(update_freq="step")
    with pytest.raises(ValueError, match="`histogram_freq` must be a non-negative integer"):
        callbacks.TensorBoard(histogram_freq=-1)


def test_tensorboard_without_tensorboardx_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ImportError, match=r"tensorboardX.*engine-dl\[tensorboard\]"):
        callbacks.TensorBoard("logs")


def read_events(directory):
    """Every event of the event files in ``directory``, read as TensorBoard reads them:
    TFRecord frames (length, its CRC, the Event protobuf, its CRC)."""
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for name in sorted(os.listdir(directory)):
        assert name.startswith("events.out.tfevents."), name
        data = (directory / name).read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = Event()
            event.ParseFromString(data[offset + 12 : offset + 12 + length])
            events.append(event)
            offset += 12 + length + 4
    return events


def test_tensorboard_event_files_hold_the_scalars(backend, tmp_path):
    pytest.importorskip("tensorboardX", reason="the TensorBoard callback's optional writer")
    x, y = make_data()
    model = make_model()
    history = model.fit(
        x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y),
        callbacks=[callbacks.TensorBoard(tmp_path, histogram_freq=1)],
    )  # fmt: skip
    train = read_events(tmp_path / "train")
    values = {(v.tag, e.step): v for e in train for v in e.summary.value}
    assert values["epoch_loss", 1].simple_value == pytest.approx(history.history["loss"][1])
    assert values["dense/kernel/histogram", 1].histo.num == 3
    keras = values["keras", 0]
    assert keras.metadata.plugin_data.plugin_name == "graph_keras_model"
    assert json.loads(keras.tensor.string_val[0])["class_name"] == "Sequential"
    validation = read_events(tmp_path / "validation")
    tags = {(v.tag, e.step) for e in validation for v in e.summary.value}
    assert {("epoch_loss", 0), ("epoch_accuracy", 1), ("evaluation_loss_vs_iterations", 4)} <= tags
