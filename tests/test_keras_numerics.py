"""Numbers users compare with Keras 3: target dtypes, accuracy resolution, saturated losses.

Each case once gave a different number without any error; the expected values
are computed here with NumPy from Keras 3's documented formulas (checked against
Keras 3 on PyTorch with the same weights: see the notes of issue 13).
"""

import numpy
import pytest

import engine
from engine import layers, optimizers

EPSILON = 1e-7


def _embedding_model():
    model = engine.Sequential(
        [
            layers.Input((5,), dtype="int32"),
            layers.Embedding(10, 4),
            layers.Flatten(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizers.SGD(learning_rate=0.1), "binary_crossentropy")
    return model


def test_integer_inputs_leave_targets_and_weights_float(backend):
    rng = numpy.random.default_rng(0)
    x = rng.integers(0, 10, (64, 5))
    y = rng.integers(0, 2, (64, 1)).astype("float32")
    model = _embedding_model()
    assert model.dtype == "float32"
    plain = model.evaluate(x, y, verbose=0)
    weighted = model.evaluate(x, y, sample_weight=numpy.full(64, 0.5), verbose=0)
    assert plain > 0.5
    assert weighted == pytest.approx(plain / 2, rel=1e-5)
    weighted_batch = model.test_on_batch(x, y, sample_weight=numpy.full(64, 0.5))
    assert weighted_batch == pytest.approx(weighted, rel=1e-5)


def test_integer_inputs_regression_targets_not_truncated(backend):
    rng = numpy.random.default_rng(1)
    x = rng.integers(0, 10, (32, 5))
    model = engine.Sequential(
        [
            layers.Input((5,), dtype="int32"),
            layers.Embedding(10, 2),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(optimizers.SGD(learning_rate=0.0), "mse")
    y = numpy.full((32, 1), 0.75, dtype="float32")
    predictions = model.predict(x, verbose=0)
    expected = float(numpy.mean((predictions - 0.75) ** 2))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)
    assert model.train_on_batch(x, y) == pytest.approx(expected, rel=1e-5)
    # class weights of 0.5 keep their value too
    labels = numpy.zeros((32, 1), dtype="float32")
    history = model.fit(x, labels, class_weight={0: 0.5}, epochs=1, batch_size=32, verbose=0)
    expected = 0.5 * float(numpy.mean(predictions**2))
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_accuracy_is_resolved_from_shapes_like_keras(backend):
    """Three sigmoid outputs with binary cross-entropy: Keras 3 reports categorical accuracy."""
    rng = numpy.random.default_rng(2)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.integers(0, 2, (8, 3)).astype("float32")
    model = engine.Sequential([layers.Input((4,)), layers.Dense(3, activation="sigmoid")])
    model.set_weights([rng.normal(size=(4, 3)).astype("float32"), numpy.zeros(3, "float32")])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    probabilities = model.predict(x, verbose=0)
    categorical = numpy.mean(probabilities.argmax(-1) == y.argmax(-1))
    binary = numpy.mean((probabilities > 0.5) == (y > 0.5))
    assert categorical != binary  # the data tells the two apart
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(categorical)


def _saturated_model(units, activation, loss):
    rng = numpy.random.default_rng(3)
    model = engine.Sequential([layers.Input((4,)), layers.Dense(units, activation=activation)])
    kernel = (rng.normal(size=(4, units)) * 100).astype("float32")
    model.set_weights([kernel, numpy.zeros(units, dtype="float32")])
    model.compile(optimizers.SGD(learning_rate=0.0), loss)
    return model, rng.normal(size=(16, 4)).astype("float32")


def _clipped(p):
    return numpy.clip(p, EPSILON, 1 - EPSILON)


@pytest.mark.parametrize(
    "loss", ["sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"]
)
def test_saturated_loss_is_the_same_recorded_or_not(backend, loss):
    """``train_on_batch`` (graph recorded) and ``evaluate`` (no_grad) give Keras 3's number."""
    units, activation = (2, "sigmoid") if loss == "binary_crossentropy" else (3, "softmax")
    model, x = _saturated_model(units, activation, loss)
    rng = numpy.random.default_rng(4)
    p = model.predict(x, verbose=0).astype("float64")
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, 16)
        expected = -numpy.log(_clipped(p[numpy.arange(16), y])).mean()
    elif loss == "categorical_crossentropy":
        y = (numpy.eye(3)[rng.integers(0, 3, 16)] * 0.8 + 0.2 / 3).astype("float32")
        expected = -(numpy.log(_clipped(p)) * y).sum(-1).mean()
    else:
        y = rng.uniform(size=(16, 2)).astype("float32")
        q = _clipped(p.astype("float32"))  # 1 - q rounded in float32, as Keras does
        expected = -(y * numpy.log(q) + (1 - y) * numpy.log(1 - q)).mean()
    assert expected > 5  # saturated: unclipped logits would give far more
    recorded = model.train_on_batch(x, y)
    unrecorded = model.evaluate(x, y, verbose=0)
    assert recorded == pytest.approx(unrecorded, rel=1e-4)
    assert recorded == pytest.approx(expected, rel=1e-3)


def test_saturated_softmax_gradient_is_zero_where_clipped(backend):
    """Keras's clip stops the gradient of a sample whose probability is below 1e-7."""
    model = engine.Sequential([layers.Input((2,)), layers.Dense(2, activation="softmax")])
    model.set_weights(
        [numpy.array([[50.0, -50.0], [0.0, 0.0]], "float32"), numpy.zeros(2, "float32")]
    )
    model.compile(optimizers.SGD(learning_rate=1.0), "sparse_categorical_crossentropy")
    before = model.get_weights()
    loss = model.train_on_batch(numpy.array([[1.0, 0.0]], "float32"), numpy.array([1]))
    assert loss == pytest.approx(-numpy.log(EPSILON), rel=1e-5)
    for old, new in zip(before, model.get_weights()):
        numpy.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    "class_weight, message",
    [
        ({0: 1.0, 1: float("nan")}, r"class_weight\[1\]` must be a finite"),
        ({0: 1.0, 1: float("inf")}, r"class_weight\[1\]` must be a finite"),
        ({0: 1.0, 1: -2.0}, "non-negative"),
        ({0: 1.0, 10**12: 1.0, 1: 1.0}, None),  # a large unused key is fine, no MemoryError
        ({0: 1.0, "cat": 1.0}, "keys must be class indices"),
        ({0: 1.0, 1: "heavy"}, r"class_weight\[1\]` must be a number"),
        ([1.0, 2.0], "must be a dict"),
    ],
)
def test_class_weight_is_checked(backend, class_weight, message):
    model = engine.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = numpy.ones((4, 3), dtype="float32")
    y = numpy.array([0, 1, 0, 1])
    if message is None:
        model.fit(x, y, class_weight=class_weight, epochs=1, verbose=0)
        assert all(numpy.isfinite(w).all() for w in model.get_weights())
        return
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(x, y, class_weight=class_weight, epochs=1, verbose=0)


def test_train_on_batch_with_class_weight(backend):
    model = engine.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    x = numpy.ones((4, 3), dtype="float32")
    y = numpy.array([0, 1, 0, 1])
    plain = model.test_on_batch(x, y)
    weighted = model.train_on_batch(x, y, class_weight={0: 0.5, 1: 0.5})
    assert weighted == pytest.approx(plain / 2, rel=1e-5)
