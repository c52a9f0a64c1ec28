"""Convolutional models end to end: the digits example, summaries, the training flag."""

import importlib.util
import json
import pathlib

import numpy
import pytest

import engine
from engine import layers, models

EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "cnn_digits.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("cnn_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_cnn_digits_example_reaches_97_percent(backend, seed):
    cnn_digits = _load_example()
    model, _, accuracy = cnn_digits.train(epochs=40, seed=seed, verbose=0)
    assert accuracy >= 0.97, f"held-out accuracy {accuracy:.3f}"
    assert [type(layer).__name__ for layer in model.layers] == ["Conv2D", "Flatten", "Dense"]


def test_cnn_digits_upscaled_images(backend):
    cnn_digits = _load_example()
    images = numpy.random.default_rng(0).random((3, 8, 8))
    big = cnn_digits.upscale(images)
    assert big.shape == (3, 28, 28)
    numpy.testing.assert_allclose(big[:, [0, -1]][:, :, [0, -1]], images[:, [0, -1]][:, :, [0, -1]])
    (x_train, _), (x_test, _) = cnn_digits.load_data(0, upscaled=True)
    assert x_train.shape[1:] == (28, 28, 1) and x_train.dtype == numpy.float32
    assert len(x_train) + len(x_test) == 1797


def classic_cnn():
    return models.Sequential(
        [
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ],
        name="cnn",
    )


def test_cnn_summary_and_param_counts_match_keras(backend, capsys):
    model = classic_cnn()
    assert model.count_params() == 34954
    model.summary()
    text = capsys.readouterr().out
    for row in [
        "(None, 26, 26, 32)",
        "(None, 13, 13, 32)",
        "(None, 11, 11, 64)",
        "(None, 5, 5, 64)",
        "(None, 1600)",
        "18,496",
        "16,010",
    ]:
        assert row in text, row
    assert "Total params: 34,954" in text
    assert "Trainable params: 34,890" in text and "Non-trainable params: 64" in text


def test_cnn_trains_with_dropout_and_predicts_deterministically(backend, rng):
    engine.utils.set_random_seed(0)
    model = models.Sequential(
        [
            layers.Input(shape=(6, 6, 2)),
            layers.ZeroPadding2D(1),
            layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.AveragePooling2D(2, padding="same"),
            layers.GlobalMaxPooling2D(),
            layers.Dropout(0.3),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.standard_normal((16, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, 16)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 3
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    numpy.testing.assert_array_equal(first, second)
    assert first.shape == (16, 3)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: layers.Conv2D(4, (3, 2), strides=2, padding="same", activation="relu"),
        lambda: layers.Conv1D(4, 3, padding="causal", dilation_rate=2, use_bias=False),
        lambda: layers.MaxPooling2D((3, 2), strides=1, padding="same"),
        lambda: layers.AveragePooling2D(2),
        lambda: layers.MaxPooling1D(3),
        lambda: layers.AveragePooling1D(2, strides=1),
        lambda: layers.GlobalAveragePooling2D(keepdims=True),
        lambda: layers.GlobalMaxPooling2D(),
        lambda: layers.GlobalAveragePooling1D(),
        lambda: layers.GlobalMaxPooling1D(),
        lambda: layers.Flatten(),
        lambda: layers.Reshape((2, -1)),
        lambda: layers.ZeroPadding2D(((0, 1), (2, 3))),
        lambda: layers.Dropout(0.25, noise_shape=(None, 1)),
        lambda: layers.BatchNormalization(momentum=0.9, scale=False),
        lambda: layers.LayerNormalization(axis=[1, 2], epsilon=1e-5),
    ],
)
def test_layer_configs_round_trip_through_json(backend, layer):
    original = layer()
    config = json.loads(json.dumps(original.get_config()))
    clone = type(original).from_config(config)
    assert clone.get_config() == config
