"""CTC: ``engine.ops_ctc.ctc_loss`` / ``ctc_decode`` and the ``CTC`` loss, on every backend.

The loss is checked against a brute-force sum over every alignment of tiny problems, its
gradient against finite differences; the greedy decoder against a hand-worked example.
"""

import itertools

import numpy
import pytest

import engine
from engine import layers, losses, models
from engine.losses.labels import on_device
from engine.ops_ctc import ctc_decode, ctc_loss
from tests.gradcheck import check_gradients


def brute_force_loss(labels, logits, steps, blank=0):
    """``-log`` of the summed probability of every path of ``steps`` steps that collapses
    (merge repeats, drop blanks) to ``labels``; inf when none does."""
    logits = logits[:steps]
    log_probs = logits - numpy.log(numpy.exp(logits).sum(-1, keepdims=True))
    total = 0.0
    for path in itertools.product(range(logits.shape[-1]), repeat=steps):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
        if collapsed == list(labels):
            total += numpy.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
    return -numpy.log(total) if total > 0 else numpy.inf


# labels (padded), label lengths, output lengths: repeats, an empty label, short outputs
TARGETS = numpy.array([[1, 2, 0], [1, 1, 0], [2, 0, 0], [0, 0, 0], [2, 2, 1], [1, 2, 1]])
TARGET_LENGTHS = numpy.array([2, 2, 1, 0, 3, 3])
OUTPUT_LENGTHS = numpy.array([4, 3, 4, 2, 4, 3])


def test_loss_sums_every_alignment(backend, float64, rng):
    logits = rng.standard_normal((6, 4, 3)) * 2
    got = ctc_loss(TARGETS, engine.tensor(logits), TARGET_LENGTHS, OUTPUT_LENGTHS).numpy()
    expected = [
        brute_force_loss(TARGETS[b, : TARGET_LENGTHS[b]], logits[b], OUTPUT_LENGTHS[b])
        for b in range(6)
    ]
    assert got.shape == (6,)
    numpy.testing.assert_allclose(got, expected, rtol=1e-10)


def test_loss_with_another_blank_and_float32(backend, rng):
    logits = rng.standard_normal((2, 4, 3)).astype("float32")
    targets = numpy.array([[0, 1], [1, 1]])
    got = ctc_loss(targets, engine.tensor(logits), [2, 2], [4, 3], mask_index=2)
    assert got.dtype == numpy.float32
    expected = [
        brute_force_loss([0, 1], logits[0].astype(float), 4, blank=2),
        brute_force_loss([1, 1], logits[1].astype(float), 3, blank=2),
    ]
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


def test_loss_without_any_alignment_is_large_and_finite(backend, float64, rng):
    # three equal labels need five steps; four are given
    logits = engine.tensor(rng.standard_normal((1, 4, 3)), requires_grad=True)
    loss = ctc_loss([[1, 1, 1]], logits, [3], [4])
    assert 1e4 < loss.item() < 1e6
    loss.sum().backward()
    assert numpy.isfinite(logits.grad.numpy()).all()


def test_loss_gradient(backend, float64, rng):
    logits = rng.standard_normal((6, 4, 3)) * 2
    check_gradients(
        lambda x: ctc_loss(TARGETS, x, TARGET_LENGTHS, OUTPUT_LENGTHS), logits, backend=backend
    )


def test_loss_gradient_is_softmax_minus_occupation(backend, float64, rng):
    # one label, one step: the only alignment emits it, so the gradient is softmax - one_hot
    logits = rng.standard_normal((1, 1, 3))
    x = engine.tensor(logits, requires_grad=True)
    ctc_loss([[2]], x, [1], [1]).sum().backward()
    softmax = numpy.exp(logits) / numpy.exp(logits).sum(-1, keepdims=True)
    numpy.testing.assert_allclose(x.grad.numpy(), softmax - numpy.eye(3)[2], atol=1e-12)
    # steps past the output length get no gradient
    x = engine.tensor(rng.standard_normal((1, 3, 3)), requires_grad=True)
    ctc_loss([[1]], x, [1], [2]).sum().backward()
    assert not x.grad.numpy()[0, 2].any()


def test_ctc_loss_class_and_function(backend, float64, rng):
    y_true = numpy.array([[1, 2, 0], [2, 2, 1], [1, 0, 0]])
    y_pred = rng.standard_normal((3, 5, 3))
    per_sample = losses.ctc(y_true, engine.tensor(y_pred)).numpy()
    expected = [brute_force_loss(y_true[b][y_true[b] != 0], y_pred[b], 5) for b in range(3)]
    numpy.testing.assert_allclose(per_sample, expected, rtol=1e-10)
    numpy.testing.assert_allclose(
        losses.CTC()(y_true, engine.tensor(y_pred)).item(), numpy.mean(expected), rtol=1e-10
    )
    assert isinstance(losses.get("ctc"), losses.CTC)
    assert losses.CTC().get_config() == {
        "name": "ctc",
        "reduction": "sum_over_batch_size",
        "dtype": None,
    }
    assert isinstance(losses.deserialize(losses.serialize(losses.CTC())), losses.CTC)


@pytest.mark.parametrize("loss", ["ctc", "instance"])
def test_model_trains_on_ctc(backend, loss):
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((8, 6, 4)).astype("float32")
    y = rng.integers(1, 4, (8, 3))
    y[::2, 2] = 0  # shorter labels, padded with the blank
    model = models.Sequential([layers.Dense(8, activation="tanh"), layers.Dense(4)])
    model.compile(
        optimizer=engine.optimizers.Adam(0.05), loss=losses.CTC() if loss == "instance" else loss
    )
    before = model.evaluate(x, y, verbose=0)
    for _ in range(10):
        model.train_on_batch(x, y)
    after = model.evaluate(x, y, verbose=0)
    assert numpy.isfinite(before) and after < before


def test_greedy_decode_hand_worked(backend):
    # argmax per step, sample 0: 1 1 0 1 2 2 -> merge repeats: 1 0 1 2 -> drop blanks: 1 1 2
    # sample 1 reads 3 steps: 2 2 0 -> 2
    best = numpy.array([[1, 1, 0, 1, 2, 2], [2, 2, 0, 1, 1, 1]])
    logits = numpy.full((2, 6, 3), -1.0, dtype="float32")
    for b in range(2):
        for t in range(6):
            logits[b, t, best[b, t]] = 0.5 * (t + 1)
    decoded, scores = ctc_decode(engine.tensor(logits), [6, 3])
    assert decoded.shape == (1, 2, 6) and decoded.dtype == numpy.int32
    numpy.testing.assert_array_equal(
        decoded.numpy(), [[[1, 1, 2, -1, -1, -1], [2, -1, -1, -1, -1, -1]]]
    )
    assert scores.shape == (2, 1)
    numpy.testing.assert_allclose(scores.numpy(), [[-10.5], [-3.0]])
    decoded, _ = ctc_decode(logits, [6, 3], merge_repeated=False)
    numpy.testing.assert_array_equal(
        decoded.numpy(), [[[1, 1, 1, 2, 2, -1], [2, 2, -1, -1, -1, -1]]]
    )


def test_beam_search_decode_finds_the_most_probable_labelling(backend, float64):
    # per-step probabilities where the best path (0 0 0 -> "") loses to the labelling "1",
    # which many paths spell
    probs = numpy.array([[[0.4, 0.35, 0.25], [0.4, 0.35, 0.25], [0.4, 0.35, 0.25]]])
    logits = numpy.log(probs)
    greedy, _ = ctc_decode(logits, [3])
    assert (greedy.numpy() == -1).all()
    decoded, scores = ctc_decode(logits, [3], strategy="beam_search", beam_width=10, top_paths=2)
    assert decoded.shape == (2, 1, 3) and scores.shape == (1, 2)
    numpy.testing.assert_array_equal(decoded.numpy()[0, 0], [1, -1, -1])
    numpy.testing.assert_allclose(
        scores.numpy()[0, 0], -brute_force_loss([1], logits[0], 3), rtol=1e-10
    )
    assert scores.numpy()[0, 0] > scores.numpy()[0, 1]


def test_wrong_calls(backend):
    logits = numpy.zeros((2, 4, 3), dtype="float32")
    with pytest.raises(ValueError, match=r"ctc_loss: output must be logits of shape"):
        ctc_loss([[1], [1]], numpy.zeros((2, 4)), [1, 1], [4, 4])
    if not on_device(backend):  # read on the host only: no round trip from a device
        with pytest.raises(ValueError, match=r"ctc_loss: labels must be integers in \[0, 3\)"):
            ctc_loss([[5], [1]], logits, [1, 1], [4, 4])
    with pytest.raises(ValueError, match=r"ctc_decode: invalid strategy 'best'"):
        ctc_decode(logits, [4, 4], strategy="best")
    with pytest.raises(ValueError, match=r"ctc_decode: sequence_lengths must have shape \(2,\)"):
        ctc_decode(logits, [4, 4, 4])
    with pytest.raises(ValueError, match=r"ctc: targets `y_true` must be integer labels"):
        losses.CTC()(numpy.array([1, 2]), engine.tensor(logits))
