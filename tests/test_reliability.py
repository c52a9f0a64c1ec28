"""Reliability: constant memory, clear errors through fit/evaluate/predict, seeing training."""

import gc
import re
import tracemalloc

import numpy
import pytest
from sklearn.datasets import load_digits

import engine
from engine import callbacks, layers
from engine.models import Sequential


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y


def mlp(seed=0):
    engine.utils.clear_session()
    engine.utils.set_random_seed(seed)
    model = Sequential(
        [
            layers.Input((64,)),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="digits_mlp",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.slow
def test_thousand_training_steps_run_in_constant_memory(backend, digits):
    x, y = digits
    model = mlp()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # warm up: optimizer state, caches
    gc.collect()
    tracemalloc.start()
    try:
        model.fit(x, y, batch_size=64, epochs=18, verbose=0)  # 29 steps/epoch: 522 steps
        gc.collect()
        after_half, _ = tracemalloc.get_traced_memory()
        model.fit(x, y, batch_size=64, epochs=18, verbose=0)  # and 522 more
        gc.collect()
        after_all, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.optimizer.iterations == 29 * 37
    # a leaked graph or batch would grow by >= 64 KB per step; allow 256 KB over 500 steps
    assert after_all - after_half < 256 * 1024


def test_same_model_trains_the_same_whatever_else_uses_the_generator(digits):
    x, y = digits
    first, second = mlp(), mlp()
    first.fit(x[:256], y[:256], epochs=2, verbose=0)
    engine.random.generator().random(100)  # other draws between model creation and fit
    second.shuffle_seed = first.shuffle_seed
    second.fit(x[:256], y[:256], epochs=2, verbose=0)
    for a, b in zip(first.get_weights(), second.get_weights()):
        numpy.testing.assert_array_equal(a, b)


# -- bad inputs keep their errors through every entry point ---------------------


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_bad_inputs_have_clear_errors_everywhere(backend, method, digits):
    x, y = digits
    model = mlp()
    run = getattr(model, method)

    def call(x_arg, y_arg=None, **kwargs):
        if method == "predict":
            return run(x_arg, verbose=0, **kwargs)
        return run(x_arg, y_arg, verbose=0, **kwargs)

    with pytest.raises(ValueError, match=r"expects input of shape \(None, 64\)"):
        call(x[:, :10], y)
    with pytest.raises(ValueError, match="expects input of shape"):
        call(x.reshape(-1, 8, 8), y)
    bad = x[:20].copy()
    bad[2, 5] = numpy.inf
    with pytest.raises(ValueError, match=re.escape("`x` contains inf at index (2, 5)")):
        call(bad, y[:20])
    with pytest.raises(TypeError, match="`x` must be an array of numbers"):
        call(numpy.array([["a"] * 64] * 4), y[:4])
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        call(x, y, batch_size=0)
    with pytest.raises(
        ValueError, match=re.escape(f"{method}: `x` has no samples (shape (0, 64))")
    ):
        call(x[:0], y[:0])
    with pytest.raises(
        ValueError, match=f"{method}: `verbose` must be 'auto', 0, 1 or 2, got 'yes'"
    ):
        run(x, y, verbose="yes") if method != "predict" else run(x, verbose="yes")
    if method == "predict":
        with pytest.raises(ValueError, match="It looks like one sample without its batch axis"):
            call(x[0])
    else:
        with pytest.raises(ValueError, match="same number of samples"):
            call(x[:10], y[:9])
        with pytest.raises(ValueError, match="`y` \\(the targets\\) is required"):
            call(x[:10], None)
        with pytest.raises(ValueError, match=r"`sample_weight` of shape \(10, 2\) does not fit"):
            call(x[:10], y[:10], sample_weight=numpy.ones((10, 2)))


def test_more_bad_inputs_name_the_argument(backend, digits):
    x, y = digits
    with pytest.raises(ValueError, match="MaxPooling2D.*`pool_size` must be a positive integer"):
        layers.MaxPooling2D(2.5)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["mae"])
    with pytest.raises(ValueError, match=r"metric 'mae'.*\(32,\).*\(32, 10\).*sparse metric"):
        model.fit(x[:32], y[:32], verbose=0)
    model = mlp()
    with pytest.raises(ValueError, match=r"fit \(validation_data\): .*expects input of shape"):
        model.fit(x, y, validation_data=(x[:, :10], y), verbose=0)
    with pytest.raises(TypeError, match=r"fit: `callbacks\[0\]` must be a Callback instance"):
        model.fit(x, y, callbacks=[callbacks.History], verbose=0)
    with pytest.raises(TypeError, match="fit: `callbacks` must be a list of Callback"):
        model.fit(x, y, callbacks="History", verbose=0)
    history = callbacks.History()  # one callback alone is accepted, as in Keras 3
    model.fit(x[:64], y[:64], callbacks=history, verbose=0)
    assert history.epoch == [0]
    unbatched = engine.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(ValueError, match=r"fit: .*not batched. Call \.batch\(n\)"):
        model.fit(unbatched, verbose=0)
    dense = layers.Dense(2)
    with pytest.raises(ValueError, match="Layer 'dense.*' has not been built yet"):
        dense.set_weights([numpy.ones((4, 2)), numpy.ones(2)])
    dense.build_from_shape((None, 4))
    with pytest.raises(
        TypeError, match=f"Layer '{dense.name}': weight .*kernel.* array of numbers"
    ):
        dense.set_weights([numpy.full((4, 2), "a"), numpy.ones(2)])


def test_registry_errors_list_keras_names():
    model = Sequential([layers.Dense(2, input_dim=3)])
    with pytest.raises(
        ValueError, match="Unknown optimizer: 'adamaxx'. Valid optimizers are: "
    ) as error:
        model.compile(optimizer="adamaxx", loss="mse")
    listed = str(error.value).split("Valid optimizers are: ")[1].rstrip(".").split(", ")
    assert listed == sorted(listed)  # every valid name, Keras's spelling, in order
    assert {
        "adadelta",
        "adagrad",
        "adam",
        "adamax",
        "adamw",
        "ftrl",
        "nadam",
        "rmsprop",
        "sgd",
    } <= set(listed)
    with pytest.raises(ValueError, match="Unknown loss: 'msee'. Valid losses are: "):
        model.compile(optimizer="adam", loss="msee")


def test_errors_before_compile_and_for_labels(digits):
    x, y = digits
    model = Sequential([layers.Dense(10, activation="softmax", input_shape=(64,))])
    with pytest.raises(RuntimeError, match="must be compiled first"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="12"):
        model.fit(x[:4], numpy.array([0, 1, 2, 12]), verbose=0)


# -- seeing training ------------------------------------------------------------


def test_verbose_1_prints_a_progress_bar_per_epoch(digits, capsys):
    x, y = digits
    mlp().fit(x[:200], y[:200], epochs=2, batch_size=50, verbose=1, validation_split=0.2)
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    final = re.findall(r"4/4 ━{20} \d+s \d+[mu]?s/step - accuracy: [\d.]+ - loss: [\d.]+", out)
    assert len(final) == 2
    assert "val_accuracy:" in out and "val_loss:" in out


def test_verbose_2_prints_one_line_per_epoch_and_0_nothing(digits, capsys):
    x, y = digits
    mlp().fit(x[:200], y[:200], epochs=3, batch_size=50, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert [line for line in lines if line.startswith("Epoch")] == [
        "Epoch 1/3",
        "Epoch 2/3",
        "Epoch 3/3",
    ]
    epoch_lines = [line for line in lines if "loss:" in line]
    assert len(epoch_lines) == 3
    assert all(
        re.fullmatch(r"4/4 - \d+s - \d+[mu]?s/step - accuracy: [\d.]+ - loss: [\d.]+", line)
        for line in epoch_lines
    ), epoch_lines
    mlp().fit(x[:200], y[:200], epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_summary_matches_keras_layout(capsys):
    model = mlp()
    model.fit(numpy.zeros((8, 64), "float32"), numpy.zeros(8, "int64"), verbose=0)
    model.summary()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Model: "digits_mlp"'
    assert lines[1].startswith("┏") and "Layer (type)" in lines[2] and "Output Shape" in lines[2]
    assert "Param #" in lines[2]
    rows = [line for line in lines if "(Dense)" in line]
    assert len(rows) == 2 and "(None, 64)" in rows[0] and "4,160" in rows[0]
    # Keras 3 counts the optimizer's variables in the total once it has taken a step:
    # Adam's two slots per weight, its iteration counter (int64) and its learning rate
    assert " Total params: 14,432 (56.38 KB)" in lines
    assert " Trainable params: 4,810 (18.79 KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines
    assert " Optimizer params: 9,622 (37.59 KB)" in lines


def test_summary_counts_optimizer_variables_as_keras_does(capsys):
    # keras/src/utils/summary_utils_test.py: Dense(3) on (2,) inputs, Adam
    model = Sequential([layers.Input((2,)), layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse", metrics=["mse"])
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 9 " in text and "Optimizer params" not in text
    model.fit(numpy.zeros((4, 2)), numpy.zeros((4, 3)), verbose=0)
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 29 " in text and "Trainable params: 9 " in text
    assert "Non-trainable params: 0 " in text and "Optimizer params: 20 " in text


def test_summary_wraps_long_layer_names(capsys):
    model = Sequential(
        [
            layers.Input((4,)),
            layers.Dense(4, name="a_rather_long_dense_layer_name_for_the_table"),
            layers.BatchNormalization(name="batch_normalization_1"),
        ]
    )
    model.summary()
    lines = capsys.readouterr().out.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│├└"]
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    text = "\n".join(table)
    assert "batch_normalization_1" in text and "(BatchNormalization)" in text
    assert "a_rather_long_dense_layer_name_for" in text and "(Dense)" in text


def test_plot_model_text_diagram(capsys, tmp_path):
    model = mlp()
    text = engine.utils.plot_model(model, to_file=tmp_path / "model.txt")
    assert capsys.readouterr().out.strip() == text
    assert "dense (Dense)" in text and "(None, 64) -> (None, 10)" in text
    assert "params: 650" in text and (tmp_path / "model.txt").read_text().strip() == text
    with pytest.raises(ValueError, match="not been built"):
        engine.utils.plot_model(Sequential([layers.Dense(2)]))


def test_plot_history_writes_a_png(digits, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib import pyplot

    x, y = digits
    history = mlp().fit(x[:200], y[:200], epochs=2, verbose=0, validation_split=0.2)
    path = engine.utils.plot_history(history, tmp_path / "history.png")
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    image = pyplot.imread(path)  # decodes: a real image, two panels wide
    assert image.ndim == 3 and image.shape[1] > image.shape[0] > 100


def test_plot_history_puts_validation_points_at_the_validated_epochs(digits, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    x, y = digits
    history = mlp().fit(
        x[:200], y[:200], epochs=5, verbose=0, validation_split=0.2, validation_freq=2
    )
    assert history.epochs_by_key["val_loss"] == [1, 3] and len(history.history["loss"]) == 5
    plotted = {}
    original = Axes.plot

    def record(self, xs, ys, **kwargs):
        plotted.setdefault(kwargs["label"], []).append(list(xs))
        return original(self, xs, ys, **kwargs)

    monkeypatch.setattr(Axes, "plot", record)
    path = engine.utils.plot_history(history, tmp_path / "history.png")
    assert plotted["training"] == [[1, 2, 3, 4, 5]] * 2  # loss and accuracy
    assert plotted["validation"] == [[2, 4]] * 2
    assert (tmp_path / "history.png").stat().st_size > 1000 and path.endswith(".png")
    with pytest.raises(ValueError, match="pass the History object"):
        engine.utils.plot_history(history.history, tmp_path / "dict.png")


def test_validation_freq_counts_epochs_from_one_as_keras_does(digits):
    x, y = digits
    model = mlp()
    history = model.fit(
        x[:64],
        y[:64],
        epochs=4,
        verbose=0,
        validation_data=(x[:32], y[:32]),
        validation_freq=[1, 4],
    )
    assert history.epochs_by_key["val_loss"] == [0, 3]
    history = model.fit(
        x[:64],
        y[:64],
        epochs=6,
        initial_epoch=3,
        verbose=0,
        validation_data=(x[:32], y[:32]),
        validation_freq=2,
    )
    assert history.epochs_by_key["val_loss"] == [3, 5]  # epochs 4 and 6, 1-based
    with pytest.raises(ValueError, match="`validation_freq` must be a positive integer"):
        model.fit(x[:64], y[:64], verbose=0, validation_freq=0)


def test_plot_history_without_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    history = callbacks.History()
    history.history = {"loss": [1.0, 0.5]}
    with pytest.raises(ImportError, match="pip install matplotlib"):
        engine.utils.plot_history(history, tmp_path / "h.png")
