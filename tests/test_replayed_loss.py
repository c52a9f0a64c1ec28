"""The default step replays its loss with its forward (``replay.REPLAYED_LOSSES``): the
same losses, metrics and weights as ``run_eagerly=True``, bit for bit, on every backend;
the label check still runs at every step; a change to the loss re-tapes; losses a replay
could get wrong run as they are."""

import types

import numpy
import pytest

import engine
from engine import functional as F
from engine import layers, losses
from engine.losses.base import Loss
from engine.models import replay
from engine.tensor import Tensor, taping_ops

STEPS = 4


def _dense(units: int, activation=None):
    def build():
        return engine.models.Sequential(
            [
                layers.Input(shape=(5,)),
                layers.Dense(6, activation="relu"),
                layers.Dense(units, activation=activation),
            ]
        )

    return build


def _targets(kind: str, rng, n: int):
    labels = rng.integers(0, 3, n)
    return {
        "values": rng.standard_normal((n, 1)).astype("float32"),
        "values2": rng.standard_normal((n, 2)).astype("float32"),
        "flat_ints": labels,  # (n,) integers for one float output: cast and reshaped
        "binary": (labels > 0).astype("float32").reshape(n, 1),
        "flat_binary": (labels > 0).astype("float32"),
        "one_hot": numpy.eye(3, dtype="float32")[labels],
        "labels": labels,
        "label_column": labels.astype("float32").reshape(n, 1),
    }[kind]


CASES = {
    # name: (model, loss, targets, metrics)
    "mse": (_dense(1), "mse", "values", ["mae"]),
    "mse_ints": (_dense(1), losses.MeanSquaredError(), "flat_ints", []),
    "mse_sum": (_dense(1), losses.MeanSquaredError(reduction="sum"), "values", []),
    "mse_float64": (_dense(1), losses.MeanSquaredError(dtype="float64"), "values", []),
    "mae": (_dense(2), "mae", "values2", []),
    "bce": (_dense(1, "sigmoid"), "binary_crossentropy", "binary", ["accuracy"]),
    "bce_logits": (
        _dense(1),
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        "flat_binary",
        [],
    ),
    "cce": (_dense(3, "softmax"), "categorical_crossentropy", "one_hot", ["accuracy"]),
    "cce_logits": (
        _dense(3),
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
        "one_hot",
        [],
    ),
    "cce_sigmoid": (_dense(3, "sigmoid"), "categorical_crossentropy", "one_hot", []),
    "scce": (
        _dense(3, "softmax"),
        "sparse_categorical_crossentropy",
        "labels",
        ["sparse_categorical_crossentropy", "accuracy"],
    ),
    "scce_column": (
        _dense(3, "softmax"),
        losses.SparseCategoricalCrossentropy(),
        "label_column",
        [],
    ),
    "scce_logits": (
        _dense(3),
        losses.SparseCategoricalCrossentropy(from_logits=True),
        "labels",
        ["sparse_categorical_accuracy"],
    ),
    "scce_function": (_dense(3, "softmax"), losses.sparse_categorical_crossentropy, "labels", []),
    "scce_sigmoid": (_dense(3, "sigmoid"), "sparse_categorical_crossentropy", "labels", []),
}


def _model(case: str, run_eagerly: bool):
    build, loss, _, metrics = CASES[case]
    engine.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer="adam", loss=loss, metrics=metrics, run_eagerly=run_eagerly)
    return model


def _train(case: str, run_eagerly: bool, change=None):
    """Losses and metrics of train_on_batch on fresh batches, of a fit with a smaller last
    batch and validation, of evaluate; then the weights and predictions."""
    model = _model(case, run_eagerly)
    kind = CASES[case][2]
    rng = numpy.random.default_rng(1)
    results = []
    for step in range(STEPS):
        if change is not None:
            change(model, step)
        x = rng.standard_normal((12, 5)).astype("float32")
        results.append(model.train_on_batch(x, _targets(kind, rng, 12), return_dict=True))
    x = rng.standard_normal((40, 5)).astype("float32")
    y = _targets(kind, rng, 40)
    history = model.fit(x, y, batch_size=12, epochs=2, validation_split=0.25, verbose=0)
    results.append(history.history)
    results.append(model.evaluate(x, y, batch_size=12, verbose=0, return_dict=True))
    results.append(model.test_on_batch(x[:5], y[:5], return_dict=True))
    return results, model.get_weights() + [model.predict(x, batch_size=12, verbose=0)]


def _assert_same(first, second) -> None:
    assert first[0] == second[0]
    for a, b in zip(first[1], second[1], strict=True):
        numpy.testing.assert_array_equal(a, b)


@pytest.fixture
def counts(monkeypatch):
    """Replayed loss steps, and calls of losses, layers and ``Tensor.backward``."""
    found = {"steps": 0, "losses": 0, "layers": 0, "backward": 0}

    def counting(key, original):
        def wrapper(*args, **kwargs):
            found[key] += 1
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(replay.Tape, "step", counting("steps", replay.Tape.step))
    monkeypatch.setattr(Loss, "__call__", counting("losses", Loss.__call__))
    monkeypatch.setattr(layers.Layer, "__call__", counting("layers", layers.Layer.__call__))
    monkeypatch.setattr(Tensor, "backward", counting("backward", Tensor.backward))
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_a_replayed_loss_equals_the_eager_step_bit_for_bit(backend, case, counts):
    replayed = _train(case, run_eagerly=False)
    steps = counts["steps"]
    _assert_same(replayed, _train(case, run_eagerly=True))
    # train_on_batch taped at its first step and again after its metrics were set; then
    # all but the first batch of each shape, kind and mode: fit's 12 (from train_on_batch)
    # and 6 and its validation's 10, evaluate's 12 (the last, 4, and test_on_batch's 5
    # are taped)
    assert steps == STEPS - 2 + (4 + 1 + 1) + 2


def test_a_replayed_step_runs_no_layer_loss_or_graph(backend, counts):
    model = _model("scce", run_eagerly=False)
    rng = numpy.random.default_rng(2)
    x, y = rng.standard_normal((12, 5)).astype("float32"), rng.integers(0, 3, 12)
    for _ in range(3):
        model.train_on_batch(x, y)
    model.evaluate(x, y, verbose=0)
    before = dict(counts)
    for _ in range(3):
        model.train_on_batch(x, y)
    model.evaluate(x, y, verbose=0)
    model.evaluate(x, y, verbose=0)
    after = {key: counts[key] - before[key] for key in counts}
    assert after == {"steps": 3 + 2, "losses": 0, "layers": 0, "backward": 0}


def _bad_labels_error(run_eagerly: bool, labels, where: str):
    """The error of ``where`` given ``labels``, after each kind of step was taped on good
    labels of their dtype (so that a replay meets the bad ones)."""
    model = _model("scce_function", run_eagerly)  # no metric to check the labels too
    rng = numpy.random.default_rng(3)
    x = rng.standard_normal((12, 5)).astype("float32")
    x2 = numpy.concatenate([x, x])

    def good():
        return rng.integers(0, 3, 12).astype(labels.dtype)

    for _ in range(3):
        model.train_on_batch(x, good())
    model.fit(x2, numpy.concatenate([good(), good()]), batch_size=12, verbose=0)
    model.evaluate(x2, numpy.concatenate([good(), good()]), batch_size=12, verbose=0)
    with pytest.raises(ValueError) as error:
        if where == "train_on_batch":
            model.train_on_batch(x, labels)
        elif where == "fit":
            model.fit(x2, numpy.concatenate([good(), labels]), batch_size=12, verbose=0)
        else:
            model.evaluate(x2, numpy.concatenate([good(), labels]), batch_size=12, verbose=0)
    return str(error.value)


@pytest.mark.parametrize("where", ["train_on_batch", "fit", "evaluate"])
@pytest.mark.parametrize("bad", [3, -1, 1.5])
def test_a_replayed_loss_still_checks_its_labels(backend, where, bad):
    labels = numpy.zeros(12, dtype="float32" if bad == 1.5 else "int64")
    labels[7] = bad
    message = _bad_labels_error(False, labels, where)
    assert message == _bad_labels_error(True, labels, where)
    assert "sparse_categorical_crossentropy: labels must be" in message


@pytest.mark.parametrize(
    "change",
    [
        lambda loss: loss.fn_kwargs.update(label_smoothing=0.3),
        lambda loss: setattr(loss, "reduction", "sum"),
        lambda loss: setattr(loss, "fn", losses.categorical_focal_crossentropy),
    ],
    ids=["argument", "reduction", "function"],
)
def test_a_changed_loss_is_taped_again(backend, change):
    def changing(model, step):
        if step == 2:
            change(model.loss)

    replayed = _train("cce", run_eagerly=False, change=changing)
    _assert_same(replayed, _train("cce", run_eagerly=True, change=changing))
    assert replayed[0] != _train("cce", run_eagerly=False)[0]


def _mse_of_doubled_targets(y_true, y_pred):
    """A loss changing its targets outside the ops, without ``derive``."""
    targets = losses.base._targets("doubled", y_true, y_pred) * 2
    return engine.functional.nn.mean_squared_error(y_pred, targets)


@pytest.mark.parametrize(
    "compile_loss, weighting",
    [
        (_mse_of_doubled_targets, None),  # patched in as replayable: refused by the tape
        (losses.Huber(), None),
        ("mse", "sample_weight"),
        ("mse", "class_weight"),
    ],
    ids=["array-outside-the-ops", "huber", "sample-weight", "class-weight"],
)
def test_losses_a_replay_could_get_wrong_run_as_they_are(
    backend, compile_loss, weighting, counts, monkeypatch
):
    monkeypatch.setattr(
        replay, "REPLAYED_LOSSES", replay.REPLAYED_LOSSES | {_mse_of_doubled_targets}
    )
    taped = []
    original = replay._taped
    monkeypatch.setattr(replay, "_taped", lambda *args: taped.append(1) or original(*args))

    def run(run_eagerly):
        engine.utils.set_random_seed(0)
        model = _dense(1)()
        model.compile(optimizer="adam", loss=compile_loss, run_eagerly=run_eagerly)
        rng = numpy.random.default_rng(4)
        x, y = rng.standard_normal((12, 5)).astype("float32"), rng.integers(0, 2, (12, 1))
        weights = {}
        if weighting == "sample_weight":
            weights["sample_weight"] = rng.uniform(size=12)
        elif weighting == "class_weight":
            weights["class_weight"] = {0: 0.3, 1: 2.0}
        return [model.train_on_batch(x, y, **weights) for _ in range(6)], model.get_weights()

    replayed = run(False)
    assert counts["steps"] == 0
    # the forward alone is taped, once per kind of step; a refused loss tape is not retried
    assert 0 < len(taped) <= 3
    eager = run(True)
    assert replayed[0] == eager[0]
    for a, b in zip(replayed[1], eager[1], strict=True):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "body, replayable",
    [
        (lambda x, w: F.matmul(x, w) * 2.0, True),  # a number of the code: a constant
        (lambda x, w: (lambda h: h * h)(F.matmul(x, w)), True),  # two reads: one sum
        (lambda x, w: (lambda h: h * h + h)(F.matmul(x, w)), False),  # three: an order
        (lambda x, w: F.matmul(x, w) + F.matmul(x, w), False),  # onto a weight's .grad
        (lambda x, w: F.matmul(x, w) * Tensor(numpy.float32(2.0)), False),  # made outside
    ],
    ids=["constant", "read-twice", "read-three-times", "weight-read-twice", "outside-array"],
)
def test_what_a_tape_may_read(backend, body, replayable):
    """Gradients summed at an op's output have one order when two add; a weight's gradient
    may add to one already there; an array made outside the ops may hold batch values."""
    weight = Tensor(numpy.ones((3, 2), dtype="float32"), requires_grad=True)
    x = backend.asarray(numpy.ones((4, 3), dtype="float32"))
    model = types.SimpleNamespace(weights=[weight], layers=[])
    with taping_ops() as taping:
        body(Tensor._wrap(x, backend), weight)
    assert replay._Recorded(model, x, None, taping).ok is replayable
