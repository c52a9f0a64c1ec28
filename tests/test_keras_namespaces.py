"""The smaller Keras 3 namespaces: losses (Dice, Tversky, generalized cross-entropy,
Circle), metrics (R², correlations, rates at a target rate), regularizers and random
(``tests/test_keras_utils.py`` has ``utils``, ``saving`` and ``config``'s helpers).

Expected numbers are Keras 3.15's (PyTorch backend, float32) on the same inputs,
written down (produced by the snippets quoted next to them); the others are worked
out from the definition in the test.
"""

import numpy
import pytest

import engine
from engine import layers, losses, metrics, regularizers
from engine import random as engine_random
from tests.gradcheck import check_gradients

# -- losses ----------------------------------------------------------------------

# Keras's docstring example of Dice: 2 masks of 2x2x1
Y_SEG = numpy.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
P_SEG = numpy.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])
# Keras's docstring example of CategoricalGeneralizedCrossEntropy
L_GCE = numpy.array([0, 1, 0, 1])
P_GCE = numpy.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]])
# unit embeddings (normalized rows of default_rng(3).standard_normal((6, 4)), rounded) and
# labels: label 2 has no partner, so its Circle loss is 0 and Keras masks it out of the mean
EMB = numpy.array(
    [
        [0.610006, -0.763858, 0.124965, -0.1697],
        [-0.216148, -0.102952, -0.96458, -0.110752],
        [-0.250118, 0.960619, 0.065271, -0.101939],
        [-0.210157, -0.499115, -0.788331, -0.291978],
        [0.431687, -0.213677, 0.857881, -0.178966],
        [0.014142, 0.901151, 0.317774, -0.294528],
    ]
)
L_EMB = numpy.array([0, 0, 1, 1, 2, 1])
W6 = numpy.array([1.0, 2, 3, 4, 5, 6])

# name: (loss, y_true, y_pred, sample_weight, Keras 3.15's value). Produced by e.g.
# `keras.losses.Dice(axis=(1, 2, 3), reduction=None)(Y_SEG, P_SEG)`.
LOSS_CASES = {
    "dice_axis": (lambda: losses.Dice(axis=(1, 2, 3), reduction=None), Y_SEG, P_SEG, None,
                  [0.5, 0.7575757503509521]),
    "dice_all": (lambda: losses.Dice(), Y_SEG, P_SEG, None, 0.6164383888244629),
    "dice_weighted": (lambda: losses.Dice(axis=(1, 2, 3)), Y_SEG, P_SEG, [0.3, 1.2],
                      0.5295454859733582),
    "tversky_axis": (lambda: losses.Tversky(alpha=0.3, beta=0.7, axis=(1, 2, 3), reduction=None),
                     Y_SEG, P_SEG, None, [0.5, 0.7350993156433105]),
    # alpha = beta = 0.5 is Dice
    "tversky_all": (lambda: losses.Tversky(), Y_SEG, P_SEG, None, 0.6164383888244629),
    "tversky_sum": (lambda: losses.Tversky(alpha=0.8, beta=0.2, axis=[1, 2, 3], reduction="sum"),
                    Y_SEG, P_SEG, None, 1.2849462032318115),
    "gce": (lambda: losses.CategoricalGeneralizedCrossEntropy(), L_GCE, P_GCE, None,
            0.3598597049713135),
    "gce_none": (lambda: losses.CategoricalGeneralizedCrossEntropy(q=0.7, reduction=None),
                 L_GCE, P_GCE, None,
                 [0.31563442945480347, 0.20658902823925018, 0.42947396636009216,
                  0.42947396636009216]),
    "gce_weighted": (lambda: losses.CategoricalGeneralizedCrossEntropy(q=0.3), L_GCE, P_GCE,
                     [1.0, 2.0, 0.5, 0.0], 0.2516842484474182),
    "circle_none": (lambda: losses.Circle(reduction=None), L_EMB, EMB, None,
                    [106.57275390625, 144.41836547851562, 155.07249450683594,
                     246.94851684570312, 0.0, 196.5879364013672]),
    # the mean over the 5 embeddings with a partner: sum / 5, not sum / 6
    "circle": (lambda: losses.Circle(), L_EMB, EMB, None, 169.92002868652344),
    "circle_options": (lambda: losses.Circle(gamma=10, margin=0.25), L_EMB, EMB, None,
                       23.21845054626465),
    "circle_sum": (lambda: losses.Circle(reduction="sum"), L_EMB, EMB, None, 849.60009765625),
    "circle_weighted": (lambda: losses.Circle(gamma=10), L_EMB, EMB, W6, 76.8904037475586),
    "circle_mean_with_sample_weight": (
        lambda: losses.Circle(gamma=10, reduction="mean_with_sample_weight"), L_EMB, EMB, W6,
        24.028247833251953),
}  # fmt: skip


def _as_tensor(array):
    return engine.tensor(numpy.asarray(array, dtype=engine.floatx()))


@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_losses_are_keras(backend, case):
    factory, y_true, y_pred, weights, expected = LOSS_CASES[case]
    kwargs = {} if weights is None else {"sample_weight": numpy.asarray(weights)}
    value = factory()(y_true, _as_tensor(y_pred), **kwargs)
    numpy.testing.assert_allclose(value.numpy(), expected, rtol=2e-6, atol=1e-6)


def test_loss_functions_are_keras(backend):
    # `keras.losses.circle(L_EMB, EMB, remove_diagonal=False, gamma=10)`
    no_diagonal = losses.circle(L_EMB, _as_tensor(EMB), remove_diagonal=False, gamma=10)
    numpy.testing.assert_allclose(
        no_diagonal.numpy(),
        [13.709502220153809, 18.05594253540039, 19.84084129333496, 30.876590728759766,
         0.9194570183753967, 25.266950607299805],
        rtol=2e-6,
    )  # fmt: skip
    # against reference embeddings: rows 0 and 1 (label 0) have no partner among labels
    # [1, 2, 1]; row 2 meets the first reference (its own position is the removed diagonal)
    references = losses.circle(
        L_EMB[:3], _as_tensor(EMB[:3]), ref_labels=L_EMB[3:], ref_embeddings=EMB[3:], gamma=10
    )
    numpy.testing.assert_allclose(references.numpy(), [0.0, 0.0, 18.355220794677734], rtol=2e-6)
    y_pred = _as_tensor(P_SEG)
    numpy.testing.assert_allclose(
        losses.dice(Y_SEG, y_pred, axis=(1, 2, 3)).numpy(), [0.5, 0.7575757503509521], rtol=2e-6
    )
    # (1 - p**q) / q with p the true class's probability
    p_true = P_GCE[numpy.arange(4), L_GCE]
    numpy.testing.assert_allclose(
        losses.categorical_generalized_cross_entropy(L_GCE, _as_tensor(P_GCE), q=0.5).numpy(),
        (1 - p_true**0.5) / 0.5,
        rtol=1e-6,
    )


def test_generalized_cross_entropy_takes_column_labels(backend):
    """Labels of shape (batch, 1) are the same labels. (Keras 3.15 one-hot encodes them to
    (batch, 1, classes) and broadcasts against the predictions, giving 0.6149680614471436
    here instead of 0.3598597049713135; we do not copy that.)"""
    loss = losses.CategoricalGeneralizedCrossEntropy()(L_GCE[:, None], _as_tensor(P_GCE))
    numpy.testing.assert_allclose(loss.numpy(), 0.3598597049713135, rtol=2e-6)


def test_loss_gradients(backend, float64, rng):
    masks = rng.integers(0, 2, (3, 2, 2, 1)).astype(float)
    check_gradients(lambda y, p: losses.dice(y, p, axis=(1, 2, 3)), masks,
                    rng.uniform(0.1, 0.9, masks.shape), wrt=[1])  # fmt: skip
    check_gradients(lambda y, p: losses.tversky(y, p, alpha=0.3, beta=0.7), masks,
                    rng.uniform(0.1, 0.9, masks.shape), wrt=[1])  # fmt: skip
    labels = rng.integers(0, 3, 5)
    check_gradients(
        lambda y, p: losses.categorical_generalized_cross_entropy(y, p, q=0.4),
        labels,
        rng.uniform(0.1, 0.9, (5, 3)),
        wrt=[1],
    )
    embeddings = rng.standard_normal((6, 3))
    embeddings /= numpy.linalg.norm(embeddings, axis=1, keepdims=True)
    check_gradients(lambda y, p: losses.circle(y, p, gamma=4.0), L_EMB, embeddings, wrt=[1])
    check_gradients(lambda y, p: losses.Circle(gamma=4.0)(y, p), L_EMB, embeddings, wrt=[1])


def test_circle_without_partners_is_zero_without_nan(backend):
    embeddings = _as_tensor(EMB[:3])
    embeddings.requires_grad = True
    loss = losses.Circle()(numpy.array([0, 1, 2]), embeddings)
    loss.backward()
    assert float(loss.numpy()) == 0.0
    assert numpy.isfinite(embeddings.grad.numpy()).all()


def test_loss_names_and_configs():
    # Keras 3.15's get_config(), plus this library's "dtype"
    assert losses.Dice().get_config() == {
        "name": "dice",
        "reduction": "sum_over_batch_size",
        "dtype": None,
        "axis": None,
    }
    assert losses.Tversky().get_config() == {
        "name": "tversky",
        "reduction": "sum_over_batch_size",
        "dtype": None,
        "alpha": 0.5,
        "beta": 0.5,
        "axis": None,
    }
    assert losses.CategoricalGeneralizedCrossEntropy().get_config() == {
        "name": "categorical_generalized_cross_entropy",
        "reduction": "sum_over_batch_size",
        "dtype": None,
        "q": 0.5,
    }
    assert losses.Circle().get_config() == {
        "name": "circle", "reduction": "sum_over_batch_size", "dtype": None, "gamma": 80.0,
        "margin": 0.4, "remove_diagonal": True}  # fmt: skip
    for name, cls in [("dice", losses.Dice), ("Tversky", losses.Tversky),
                      ("circle", losses.Circle),
                      ("categorical_generalized_cross_entropy",
                       losses.CategoricalGeneralizedCrossEntropy)]:  # fmt: skip
        assert type(losses.get(name)) is cls
        loss = cls()
        again = losses.deserialize(losses.serialize(loss))
        assert type(again) is cls and again.get_config() == loss.get_config()


def test_loss_arguments_are_checked():
    with pytest.raises(ValueError, match="`q` must be a number in the interval"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(ValueError, match="circle: labels must be integers of shape"):
        losses.circle(numpy.zeros((6, 2)), _as_tensor(EMB))
    with pytest.raises(ValueError, match="generalized_cross_entropy: expected integer labels"):
        losses.categorical_generalized_cross_entropy(numpy.zeros(3), _as_tensor(P_GCE), q=0.5)


def test_fit_with_dice_and_circle(backend):
    engine.utils.set_random_seed(0)  # initial weights and shuffles independent of test order
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype("float32")
    masks = (x[:, :2] > 0).astype("float32")
    model = engine.Sequential([layers.Input((4,)), layers.Dense(2, activation="sigmoid")])
    model.compile(optimizer="adam", loss="dice")
    history = model.fit(x, masks, epochs=2, batch_size=8, verbose=0)
    assert numpy.isfinite(history.history["loss"]).all()
    embedder = engine.Sequential([layers.Input((4,)), layers.Dense(3), layers.UnitNormalization()])
    embedder.compile(optimizer="sgd", loss=losses.Circle(gamma=8.0))
    labels = (x[:, 0] > 0).astype("int64")
    history = embedder.fit(x, labels, epochs=2, batch_size=16, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


# -- metrics ---------------------------------------------------------------------

Y_R = numpy.array([[1.0, 2.0, 0.5], [0.0, 3.0, 1.5], [2.0, 2.5, 1.0], [1.5, 0.5, 0.0]])
P_R = numpy.array([[1.5, 1.0, 0.5], [0.2, 2.5, 2.0], [1.8, 2.0, 1.2], [1.0, 1.0, 0.3]])
W_R = numpy.array([0.3, 1.7, 1.0, 0.5])
Y_B = numpy.array([0, 1, 1, 0, 1, 0, 1, 1], dtype=float)
P_B = numpy.array([0.1, 0.8, 0.45, 0.6, 0.95, 0.3, 0.5, 0.7])
W_B = numpy.array([1.0, 0.5, 2.0, 1.0, 0.25, 3.0, 1.0, 0.5])
Y_C = numpy.eye(3)[[2, 0, 1, 1]]
P_C = numpy.array([[0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]])

REGRESSION, REGRESSION_W = (Y_R, P_R), (Y_R, P_R, W_R)
BINARY, BINARY_W = (Y_B, P_B), (Y_B, P_B, W_B)

# name: (metric, inputs, Keras 3.15's result), from e.g.
# `m = keras.metrics.R2Score(); m.update_state(Y_R, P_R); m.result()`
METRIC_CASES = {
    "r2": (lambda: metrics.R2Score(), REGRESSION, 0.6436190009117126),
    "r2_weighted": (lambda: metrics.R2Score(), REGRESSION_W, 0.6427416205406189),
    "r2_per_column": (lambda: metrics.R2Score(class_aggregation=None), REGRESSION,
                      [0.7348570823669434, 0.5, 0.6959999799728394]),
    "r2_variance_weighted": (
        lambda: metrics.R2Score(class_aggregation="variance_weighted_average"), REGRESSION_W,
        0.6921347975730896),
    # adjusted with n = 12 values (Keras counts samples times columns) and 2 regressors
    "r2_adjusted": (lambda: metrics.R2Score(num_regressors=2), REGRESSION, 0.5644232034683228),
    "pearson": (lambda: metrics.PearsonCorrelation(), REGRESSION, 0.7574471235275269),
    "pearson_weighted": (lambda: metrics.PearsonCorrelation(), REGRESSION_W, 0.8823310732841492),
    "pearson_axis_0": (lambda: metrics.PearsonCorrelation(axis=0), REGRESSION, 0.884387195110321),
    "concordance": (lambda: metrics.ConcordanceCorrelation(), REGRESSION, 0.6547859907150269),
    "concordance_weighted": (lambda: metrics.ConcordanceCorrelation(), REGRESSION_W,
                             0.789140522480011),
    "precision_at_recall": (lambda: metrics.PrecisionAtRecall(0.8), BINARY, 0.8333333134651184),
    "precision_at_recall_weighted": (lambda: metrics.PrecisionAtRecall(0.8), BINARY_W,
                                     0.8095238208770752),
    "precision_at_recall_5": (lambda: metrics.PrecisionAtRecall(0.8, num_thresholds=5), BINARY,
                              0.7142857313156128),
    "precision_at_recall_1": (lambda: metrics.PrecisionAtRecall(0.8, num_thresholds=1),
                              BINARY_W, 0.0),
    "recall_at_precision": (lambda: metrics.RecallAtPrecision(0.8), BINARY, 1.0),
    "recall_at_precision_5": (lambda: metrics.RecallAtPrecision(0.8, num_thresholds=5), BINARY,
                              0.4000000059604645),
    # Keras's docstring example
    "recall_at_precision_doc": (lambda: metrics.RecallAtPrecision(0.8),
                                ([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]), 0.5),
    "sensitivity_at_specificity": (lambda: metrics.SensitivityAtSpecificity(0.5), BINARY_W,
                                   1.0),
    "sensitivity_at_specificity_5": (
        lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=5), BINARY,
        0.6000000238418579),
    "sensitivity_at_specificity_1": (
        lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=1), BINARY_W,
        0.29411765933036804),
    "sensitivity_at_specificity_class": (
        lambda: metrics.SensitivityAtSpecificity(0.6, class_id=1), (Y_C, P_C), 0.0),
    "specificity_at_sensitivity_weighted": (
        lambda: metrics.SpecificityAtSensitivity(0.5), BINARY_W, 0.800000011920929),
    "specificity_at_sensitivity_5": (
        lambda: metrics.SpecificityAtSensitivity(0.5, num_thresholds=5), BINARY,
        0.6666666865348816),
    "precision_at_recall_class": (lambda: metrics.PrecisionAtRecall(0.5, class_id=2),
                                  (Y_C, P_C), 1.0),
}  # fmt: skip


def _update(metric, inputs, as_tensors=True):
    y_true, y_pred, *weights = inputs
    if as_tensors:
        y_pred = _as_tensor(y_pred)
    metric.update_state(y_true, y_pred, *weights)


@pytest.mark.parametrize("case", sorted(METRIC_CASES))
def test_metrics_are_keras(backend, case):
    factory, inputs, expected = METRIC_CASES[case]
    metric = factory()
    _update(metric, inputs)
    numpy.testing.assert_allclose(metric.result(), expected, rtol=3e-6, atol=1e-6)


def test_r2_accumulates_batches_as_keras(backend):
    """`update_state(Y_R[:2], P_R[:2]); update_state(Y_R[2:], P_R[2:], W_R[2:])` in Keras."""
    metric = metrics.R2Score()
    _update(metric, (Y_R[:2], P_R[:2]))
    _update(metric, (Y_R[2:], P_R[2:], W_R[2:]))
    numpy.testing.assert_allclose(metric.result(), 0.5631425976753235, rtol=3e-6)
    metric.reset_state()
    assert all(not numpy.asarray(backend.to_numpy(v)).any() for v in metric.variables)
    _update(metric, ([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]]), as_tensors=False)
    numpy.testing.assert_allclose(metric.result(), 0.5714285373687744, rtol=3e-6)  # Keras's doc


@pytest.mark.parametrize(
    "case",
    ["r2_weighted", "r2_adjusted", "pearson_weighted", "precision_at_recall_weighted",
     "sensitivity_at_specificity_1", "specificity_at_sensitivity_weighted"],
)  # fmt: skip
def test_metric_state_sums_across_processes(backend, case):
    """Two 'processes' see half the data each; summing their variables gives the whole."""
    factory, inputs, expected = METRIC_CASES[case]
    parts = [factory(), factory()]
    half = len(inputs[0]) // 2
    for metric, part in zip(parts, (slice(0, half), slice(half, None))):
        _update(metric, [numpy.asarray(a)[part] for a in inputs])
    merged = factory()
    _update(merged, [numpy.asarray(a)[:1] for a in inputs])
    assert [v.shape for v in merged.variables] == [v.shape for v in parts[0].variables]
    for target, first, second in zip(merged.variables, parts[0].variables, parts[1].variables):
        target[...] = first + second
    numpy.testing.assert_allclose(merged.result(), expected, rtol=3e-6, atol=1e-6)


def test_metric_state_is_keras():
    # Keras 3.15's variables: num_samples, squared_sum, sum, residual, count
    metric = metrics.R2Score()
    metric.update_state(Y_R, P_R)
    assert [tuple(v.shape) for v in metric.variables] == [(), (3,), (3,), (3,), (3,)]
    rates = metrics.SensitivityAtSpecificity(0.5)
    assert [tuple(v.shape) for v in rates.variables] == [(200,)] * 4


def test_correlation_functions_are_keras(backend):
    # `keras.metrics.pearson_correlation(Y_R, P_R)`: one coefficient per sample
    numpy.testing.assert_allclose(
        metrics.pearson_correlation(Y_R, _as_tensor(P_R)).numpy(),
        [0.32732680439949036, 0.9506621360778809, 0.9958705902099609, 0.7559289932250977],
        rtol=3e-6,
    )
    numpy.testing.assert_allclose(
        metrics.concordance_correlation(Y_R, _as_tensor(P_R)).numpy(),
        [0.2857142388820648, 0.9274192452430725, 0.7933192253112793, 0.612691342830658],
        rtol=3e-6,
    )
    # Lin's formula in NumPy, population variances
    t, p = Y_R, P_R
    covariance = ((t - t.mean(1, keepdims=True)) * (p - p.mean(1, keepdims=True))).mean(1)
    lin = 2 * covariance / (t.var(1) + p.var(1) + (t.mean(1) - p.mean(1)) ** 2 + 1e-7)
    numpy.testing.assert_allclose(
        metrics.concordance_correlation(t, _as_tensor(p)).numpy(), lin, rtol=2e-6
    )


def test_correlation_gradients(backend, float64, rng):
    check_gradients(metrics.pearson_correlation, Y_R, rng.standard_normal(Y_R.shape), wrt=[1])
    check_gradients(metrics.concordance_correlation, Y_R, rng.standard_normal(Y_R.shape), wrt=[1])


def test_metric_names_configs_and_strings(backend):
    # Keras 3.15's get_config()
    assert metrics.R2Score().get_config() == {
        "name": "r2_score",
        "dtype": "float32",
        "class_aggregation": "uniform_average",
        "num_regressors": 0,
    }
    assert metrics.PearsonCorrelation().get_config() == {
        "name": "pearson_correlation",
        "dtype": "float32",
        "axis": -1,
    }
    config = metrics.PrecisionAtRecall(0.5, name="par").get_config()
    assert config == {"name": "par", "dtype": "float32", "class_id": None,
                      "num_thresholds": 200, "recall": 0.5}  # fmt: skip
    assert metrics.SensitivityAtSpecificity(0.3).specificity == 0.3
    assert metrics.SensitivityAtSpecificity(0.3).name.startswith("sensitivity_at_specificity")
    for cls in (metrics.R2Score, metrics.PearsonCorrelation, metrics.ConcordanceCorrelation):
        assert type(metrics.get(cls().name)) is cls
        again = metrics.deserialize(metrics.serialize(cls()))
        assert again.get_config() == cls().get_config()
    again = metrics.deserialize(metrics.serialize(metrics.RecallAtPrecision(0.7, 50)))
    assert type(again) is metrics.RecallAtPrecision and again.get_config()["precision"] == 0.7
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((24, 3)).astype("float32")
    y = x @ numpy.array([[1.0], [-2.0], [0.5]], dtype="float32")
    model = engine.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse",
                  metrics=["r2_score", metrics.PearsonCorrelation(axis=0)])  # fmt: skip
    logs = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    assert {"r2_score", "pearson_correlation", "loss"} <= set(logs)


def test_metric_arguments_are_checked():
    with pytest.raises(ValueError, match="`recall` must be in the range"):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match="`num_thresholds` must be an integer > 0"):
        metrics.SpecificityAtSensitivity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match="`class_aggregation` must be one of"):
        metrics.R2Score(class_aggregation="mean")
    with pytest.raises(ValueError, match="`num_regressors` must be an integer >= 0"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match="R2Score expects 2-D inputs"):
        metrics.R2Score().update_state(numpy.ones(3), numpy.ones(3))
    metric = metrics.R2Score(num_regressors=20)
    metric.update_state(Y_R, P_R)
    with pytest.warns(UserWarning, match="adjusted R² is undefined"):
        numpy.testing.assert_allclose(metric.result(), 0.6436190009117126, rtol=3e-6)


# -- regularizers ------------------------------------------------------------------

KERNEL = numpy.array([[0.5, -1.0, 0.25], [1.5, 0.5, -0.5], [0.0, 2.0, 1.0], [-0.75, 0.3, 0.8]])


def test_orthogonal_regularizer_is_keras(backend):
    # `keras.regularizers.OrthogonalRegularizer(0.1)(keras.ops.convert_to_tensor(KERNEL))`
    weight = _as_tensor(KERNEL)
    numpy.testing.assert_allclose(
        regularizers.OrthogonalRegularizer(0.1)(weight).numpy(), 0.04214167222380638, rtol=2e-6
    )
    numpy.testing.assert_allclose(
        regularizers.OrthogonalRegularizer(factor=0.3, mode="columns")(weight).numpy(),
        0.10460102558135986,
        rtol=2e-6,
    )
    numpy.testing.assert_allclose(
        regularizers.orthogonal_regularizer()(weight).numpy(), 0.004214166663587093, rtol=2e-6
    )
    # the definition: factor * mean |cos| over the pairs of rows (Keras halves the sum over
    # the off-diagonal, which counts each pair twice)
    unit = KERNEL / numpy.linalg.norm(KERNEL, axis=1, keepdims=True)
    cosines = numpy.abs(unit @ unit.T)[numpy.triu_indices(4, 1)]
    numpy.testing.assert_allclose(0.1 * cosines.mean(), 0.04214167222380638, rtol=1e-6)


def test_orthogonal_regularizer_gradients_and_layers(backend, float64, rng):
    for mode in ("rows", "columns"):
        regularizer = regularizers.OrthogonalRegularizer(0.2, mode)
        check_gradients(regularizer, rng.standard_normal((4, 3)))
    dense = layers.Dense(3, kernel_regularizer="orthogonal_regularizer")
    dense(_as_tensor(rng.standard_normal((2, 5))))
    assert len(dense.losses) == 1
    assert dense.get_config()["kernel_regularizer"] == {
        "class_name": "OrthogonalRegularizer",
        "config": {"factor": 0.01, "mode": "rows"},
    }
    one_row = regularizers.OrthogonalRegularizer(0.1)(_as_tensor(rng.standard_normal((1, 3))))
    assert float(one_row.numpy()) == 0.0  # no pairs (Keras divides 0 by 0)


def test_regularizer_deserialize_and_get():
    config = {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.2, "mode": "columns"}}
    regularizer = regularizers.deserialize(config)
    assert regularizer.get_config() == {"factor": 0.2, "mode": "columns"}
    assert type(regularizers.deserialize("l2")) is regularizers.L2
    assert type(regularizers.get("OrthogonalRegularizer")) is regularizers.OrthogonalRegularizer
    assert type(regularizers.get(regularizers.L1)) is regularizers.L1

    def penalty(w):
        return engine.ops.sum(w) * 0.0

    assert regularizers.get(penalty) is penalty
    with pytest.raises(ValueError, match="`mode` must be 'rows' or 'columns'"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="`factor` must be a non-negative number"):
        regularizers.OrthogonalRegularizer(-1)
    with pytest.raises(ValueError, match="Unknown regularizer: 'l3'"):
        regularizers.deserialize("l3")


# -- random ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draw",
    [
        lambda seed: engine_random.gamma((2000,), alpha=2.5, seed=seed),
        lambda seed: engine_random.beta((2000,), alpha=2.0, beta=5.0, seed=seed),
        lambda seed: engine_random.binomial((2000,), counts=10, probabilities=0.3, seed=seed),
    ],
    ids=["gamma", "beta", "binomial"],
)
def test_new_distributions_follow_the_seed_semantics(backend, draw):
    first = draw(7)
    assert first.backend is backend and first.dtype == numpy.float32
    numpy.testing.assert_array_equal(first.numpy(), draw(7).numpy())  # an int seed repeats
    generator = engine_random.SeedGenerator(3)
    a, b = draw(generator).numpy(), draw(generator).numpy()
    assert not numpy.array_equal(a, b)  # a generator advances
    replay = engine_random.SeedGenerator(3)
    numpy.testing.assert_array_equal(draw(replay).numpy(), a)
    engine.utils.set_random_seed(11)
    unseeded = draw(None).numpy()
    engine.utils.set_random_seed(11)
    numpy.testing.assert_array_equal(draw(None).numpy(), unseeded)


def test_new_distributions_have_their_moments(backend):
    gamma = engine_random.gamma((20000,), 2.5, dtype="float64", seed=1).numpy()
    assert abs(gamma.mean() - 2.5) < 0.05 and abs(gamma.var() - 2.5) < 0.15
    beta = engine_random.beta((20000,), 2.0, 5.0, seed=1).numpy()
    assert abs(beta.mean() - 2 / 7) < 0.01 and beta.min() >= 0 and beta.max() <= 1
    counts = engine_random.binomial((20000,), 10, 0.3, seed=1).numpy()
    assert abs(counts.mean() - 3.0) < 0.05 and (counts == numpy.round(counts)).all()
    # parameters broadcast against the shape, as NumPy's generators take them
    rows = engine_random.binomial((2, 3), counts=[[0], [5]], probabilities=1.0, seed=0).numpy()
    numpy.testing.assert_array_equal(rows, [[0, 0, 0], [5, 5, 5]])
    with pytest.raises(ValueError, match="gamma: `alpha` must be positive"):
        engine_random.gamma((2,), 0.0)
    with pytest.raises(ValueError, match="binomial: `probabilities` must be in"):
        engine_random.binomial((2,), 3, 1.5)
    with pytest.raises(ValueError, match="beta: dtype must be a float dtype"):
        engine_random.beta((2,), 1.0, 1.0, dtype="int32")
