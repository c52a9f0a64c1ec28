"""Sequential models: building, training, inference and their errors."""

import numpy
import pytest
from sklearn.datasets import load_digits

import engine
from engine import layers, models, optimizers


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    order = numpy.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def mlp(seed=0, optimizer="adam"):
    engine.utils.set_random_seed(seed)
    model = models.Sequential(
        [
            layers.Input((64,)),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.slow
def test_digits_mlp_reaches_95_percent(backend, digits):
    x, y, x_test, y_test = digits
    model = mlp()
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95, f"held-out accuracy {accuracy:.3f}"
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert set(history.history) == {"loss", "accuracy"}
    assert history.epoch == list(range(30))


def test_predict_and_evaluate_agree_with_a_manual_forward_pass(backend, digits):
    x, y, _, _ = digits
    model = mlp()
    model.fit(x[:200], y[:200], epochs=1, verbose=0)
    (k1, b1), (k2, b2) = model.layers[0].get_weights(), model.layers[1].get_weights()
    hidden = numpy.maximum(x @ k1 + b1, 0)
    logits = hidden @ k2 + b2
    probs = numpy.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    predicted = model.predict(x, batch_size=50, verbose=0)
    assert isinstance(predicted, numpy.ndarray) and predicted.shape == (len(x), 10)
    numpy.testing.assert_allclose(predicted, probs, rtol=1e-4, atol=1e-6)
    clipped = numpy.clip(probs, 1e-7, 1 - 1e-7)
    manual_loss = -numpy.log(clipped[numpy.arange(len(y)), y]).mean()
    manual_accuracy = (probs.argmax(1) == y).mean()
    loss, accuracy = model.evaluate(x, y, batch_size=64, verbose=0)
    assert loss == pytest.approx(manual_loss, rel=1e-4)
    assert accuracy == pytest.approx(manual_accuracy)


def test_same_seed_gives_identical_weights(backend, digits):
    x, y, _, _ = digits
    runs = []
    for _ in range(2):
        model = mlp(seed=42, optimizer=optimizers.SGD(learning_rate=0.01, momentum=0.9))
        model.fit(x[:300], y[:300], epochs=2, batch_size=32, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        numpy.testing.assert_array_equal(a, b)
    other = mlp(seed=43)
    assert not numpy.array_equal(other.get_weights()[0], runs[0][0])


def test_train_on_batch_reports_the_loss_before_the_update(backend, digits):
    x, y, _, _ = digits
    model = mlp()
    before = model.test_on_batch(x[:64], y[:64])[0]
    reported = model.train_on_batch(x[:64], y[:64])[0]
    after = model.test_on_batch(x[:64], y[:64])[0]
    assert reported == pytest.approx(before, rel=1e-6)
    assert after < before
    assert model.predict_on_batch(x[:5]).shape == (5, 10)


def test_summary_and_param_counts_match_keras(backend, capsys):
    model = models.Sequential(name="mlp")
    model.add(layers.Dense(64, activation="relu", input_shape=(64,)))
    model.add(layers.Dense(10, activation="softmax"))
    assert model.count_params() == 64 * 64 + 64 + 64 * 10 + 10
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "mlp"' in text
    assert "(None, 64)" in text and "4,160" in text and "650" in text
    assert "Total params: 4,810 (18.79 KB)" in text
    assert "Trainable params: 4,810" in text and "Non-trainable params: 0" in text


def test_unbuilt_summary_explains_how_to_build():
    model = models.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="not been built.*input_shape"):
        model.summary()


def test_validation_split_and_history_keys(backend, digits):
    x, y, _, _ = digits
    model = mlp()
    history = model.fit(x[:200], y[:200], epochs=2, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    val_loss, _ = model.evaluate(x[150:200], y[150:200], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    history = model.fit(
        x[:100], y[:100], epochs=1, validation_data=(x[100:150], y[100:150]), verbose=0
    )
    assert "val_accuracy" in history.history


def test_binary_classification_with_one_dimensional_targets(backend):
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((200, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")
    engine.utils.set_random_seed(1)
    model = models.Sequential([layers.Dense(1, activation="sigmoid", input_dim=2)])
    model.compile(optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=20, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.95


def test_fit_verbose_prints_progress(backend, digits, capsys):
    x, y, _, _ = digits
    model = mlp()
    model.fit(x[:256], y[:256], epochs=2, batch_size=128, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "2/2" in out and "loss:" in out and "accuracy:" in out


# -- bad input: each error names the argument or layer, what it expected and got --


def test_x_and_y_of_different_lengths(backend):
    model = mlp()
    with pytest.raises(ValueError, match="`x` has 10 and `y` has 9"):
        model.fit(numpy.zeros((10, 64)), numpy.zeros(9, dtype=int), verbose=0)


def test_input_with_the_wrong_feature_size(backend):
    model = mlp()
    with pytest.raises(ValueError, match=r"expects input of shape \(None, 64\).*\(10, 32\)"):
        model.fit(numpy.zeros((10, 32)), numpy.zeros(10, dtype=int), verbose=0)
    free = models.Sequential([layers.Dense(4), layers.Dense(2)])
    free.compile("sgd", "mse")
    free.fit(numpy.zeros((4, 3)), numpy.zeros((4, 2)), verbose=0)
    with pytest.raises(ValueError, match="(expects input|incompatible).*\\(4, 5\\)"):
        free.predict(numpy.zeros((4, 5)))


def test_unknown_names_list_the_valid_ones():
    model = models.Sequential([layers.Dense(2, input_dim=3)])
    with pytest.raises(ValueError, match="Unknown optimizer: 'adamw2'.*adam"):
        model.compile(optimizer="adamw2", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss: 'mean_square'.*mean_squared_error"):
        model.compile(optimizer="adam", loss="mean_square")
    with pytest.raises(ValueError, match="Unknown metric: 'acuracy'.*accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
        model.fit(numpy.zeros((2, 3)), numpy.zeros((2, 2)), verbose=0)


def test_sparse_labels_outside_the_classes(backend):
    model = mlp()
    with pytest.raises(ValueError, match=r"\[0, 10\).*label of 10"):
        model.fit(numpy.zeros((4, 64)), numpy.array([0, 1, 2, 10]), verbose=0)


def test_fit_or_evaluate_before_compile(backend):
    model = models.Sequential([layers.Dense(2, input_dim=3)])
    for method in (model.fit, model.evaluate, model.train_on_batch):
        with pytest.raises(RuntimeError, match="must be compiled first"):
            method(numpy.zeros((2, 3)), numpy.zeros((2, 2)))


@pytest.mark.parametrize("bad", [numpy.nan, numpy.inf])
def test_nan_or_inf_in_the_data(backend, bad):
    model = mlp()
    x = numpy.zeros((4, 64))
    x[2, 5] = bad
    with pytest.raises(ValueError, match=r"`x` contains (nan|inf) at index \(2, 5\)"):
        model.fit(x, numpy.zeros(4, dtype=int), verbose=0)
    with pytest.raises(ValueError, match="`x` contains"):
        model.predict(x)
    with pytest.raises(ValueError, match="`y` contains"):
        model.evaluate(numpy.zeros((2, 64)), numpy.array([0.0, numpy.nan]))


def test_predict_on_input_of_the_wrong_rank(backend):
    model = mlp()
    with pytest.raises(
        ValueError,
        match=r"predict: model .* expects input of shape \(None, 64\) "
        r"\(rank 2\), but got an array of shape \(64,\)",
    ):
        model.predict(numpy.zeros(64))


def test_non_numeric_array(backend):
    model = mlp()
    with pytest.raises(TypeError, match="`x` must be an array of numbers.*<U"):
        model.fit(numpy.array([["a"] * 64] * 2), numpy.zeros(2, dtype=int), verbose=0)
    with pytest.raises(TypeError, match="`x`.*numbers"):
        model.predict([[1, "two"]])


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="expected a Layer instance, got str"):
        models.Sequential(["dense"])


def test_build_with_an_input_shape_makes_the_model_usable(backend, capsys, tmp_path):
    model = models.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)], name="built")
    model.build((None, 3))
    assert model.built
    assert model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    model.summary()
    assert "Total params: 26" in capsys.readouterr().out
    model.save(tmp_path / "built.safetensors")
    loaded = models.load_model(tmp_path / "built.safetensors")
    assert loaded.built and loaded.count_params() == 26


def test_keras_names_at_the_top_level_and_for_regularizers():
    assert engine.Sequential is models.Sequential and engine.Model is models.Model
    l2 = engine.regularizers.l2(1e-4)
    assert isinstance(l2, engine.regularizers.L2) and l2.l2 == 1e-4
    assert engine.regularizers.l1(0.1).l1 == 0.1
    both = engine.regularizers.l1_l2(l1=0.1, l2=0.2)
    assert (both.l1, both.l2) == (0.1, 0.2)
    layer = layers.Dense(2, kernel_regularizer=engine.regularizers.l2(0.01))
    assert layer.get_config()["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}


def test_sequential_get_layer_pop_and_output_shape(backend):
    model = models.Sequential(
        [layers.Input((4,)), layers.Dense(3, name="hidden"), layers.Dense(2, name="out")]
    )
    assert model.get_layer("hidden") is model.layers[0]
    assert model.get_layer(index=1).name == "out" and model.get_layer(index=-1).name == "out"
    assert model.output_shape == (None, 2)
    with pytest.raises(ValueError, match="no layer named 'nope'.*'hidden', 'out'"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="index 5.*has 2 layers"):
        model.get_layer(index=5)
    with pytest.raises(ValueError, match="not both"):
        model.get_layer("hidden", 0)
    with pytest.raises(ValueError, match="give a layer `name` or an `index`"):
        model.get_layer()
    popped = model.pop()
    assert popped.name == "out" and [la.name for la in model.layers] == ["hidden"]
    assert model.output_shape == (None, 3)
    assert model.count_params() == 15 and model.predict(numpy.ones((2, 4)), verbose=0).shape == (
        2,
        3,
    )
    model.add(layers.Dense(5))
    assert model.output_shape == (None, 5)
    model.pop()
    model.pop()
    with pytest.raises(ValueError, match="no layers to remove"):
        model.pop()
    with pytest.raises(AttributeError, match="not been built"):
        _ = models.Sequential([layers.Dense(2)]).output_shape
