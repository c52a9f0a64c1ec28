"""Keras 3's stateful metrics: values, names in ``compile``/``fit``, state, errors.

Each expected number is Keras 3.15's (PyTorch backend, float32) on the same
inputs, written down, with the calculation shown where it is short.
"""

import numpy
import pytest

import engine
from engine import losses, metrics

# binary labels, probabilities and weights, 8 samples
Y_B = numpy.array([0, 1, 1, 0, 1, 0, 1, 1], dtype=float)
P_B = numpy.array([0.1, 0.8, 0.45, 0.6, 0.95, 0.3, 0.5, 0.7])
W_B = numpy.array([1.0, 0.5, 2.0, 1.0, 0.25, 3.0, 1.0, 0.5])
LOGIT_B = numpy.array([-2.0, 1.5, -0.2, 0.4, 3.0, -0.8, 0.0, 0.9])
# 4 samples of 3 classes: labels, one-hot, probabilities, weights
L_C = numpy.array([2, 0, 1, 1])
Y_C = numpy.eye(3)[L_C]
P_C = numpy.array([[0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]])
W_C = numpy.array([0.5, 1.0, 2.0, 1.5])
# regression: 2 samples of 3
Y_R = numpy.array([[1.0, 2.0, 0.5], [0.0, 3.0, 1.5]])
P_R = numpy.array([[1.5, 1.0, 0.5], [0.2, 2.5, 2.0]])
W_R = numpy.array([0.3, 1.7])
Y_H = numpy.array([[0, 1, 1], [1, 0, 1]], dtype=float)
P_H = numpy.array([[0.3, -0.8, 1.2], [0.6, 0.2, -0.4]])

BINARY, BINARY_W = (Y_B, P_B), (Y_B, P_B, W_B)
CLASSES, CLASSES_W = (Y_C, P_C), (Y_C, P_C, W_C)
REGRESSION, REGRESSION_W = (Y_R, P_R), (Y_R, P_R, W_R)

# (metric, inputs, Keras 3.15's result). At 0.5 the binary data has
# tp = 3 (0.8, 0.95, 0.7), fp = 1 (0.6), fn = 2 (0.45, and 0.5: not > 0.5), tn = 2.
CASES = {
    "tp": (lambda: metrics.TruePositives(), BINARY, 3.0),
    "fp_weighted": (lambda: metrics.FalsePositives(), BINARY_W, 1.0),  # the 0.6, weight 1
    # negatives 0.1, 0.6, 0.3 at or below 0.3 / 0.5 / 0.7
    "tn_thresholds": (lambda: metrics.TrueNegatives([0.3, 0.5, 0.7]), BINARY, [2.0, 2.0, 3.0]),
    # positives at or below: none / 0.45 (w 2) + 0.5 (w 1) / those + 0.7 (w 0.5)
    "fn_thresholds_weighted": (
        lambda: metrics.FalseNegatives([0.3, 0.5, 0.7]),
        BINARY_W,
        [0.0, 3.0, 3.5],
    ),
    # evenly spaced thresholds take Keras's bucket path: 5, 3, 0 positives above 0, 0.5, 1
    "tp_even": (lambda: metrics.TruePositives([0.0, 0.5, 1.0]), BINARY, [5.0, 3.0, 0.0]),
    "precision": (lambda: metrics.Precision(), BINARY, 0.75),  # 3 / (3 + 1)
    # (0.5 + 0.25 + 0.5) / (1.25 + 1.0)
    "precision_weighted": (lambda: metrics.Precision(), BINARY_W, 0.5555555820465088),
    "recall_thresholds": (  # 5/5, 3/5, 2/5
        lambda: metrics.Recall(thresholds=[0.3, 0.5, 0.7]),
        BINARY,
        [1.0, 0.6000000238418579, 0.4000000059604645],
    ),
    # each row's top 2 hold its label and one other class: 4 / 8
    "precision_top_k": (lambda: metrics.Precision(top_k=2), CLASSES, 0.5),
    # top 1 is right for rows 0, 1, 3 (weights 0.5 + 1 + 1.5), wrong for row 2 (2)
    "recall_top_k_weighted": (lambda: metrics.Recall(top_k=1), CLASSES_W, 0.6000000238418579),
    "precision_class_id": (lambda: metrics.Precision(class_id=1), CLASSES, 0.0),  # none > 0.5
    # class 1: row 3 (0.4 > 0.35, w 1.5) found, row 2 (0.3, w 2) missed
    "recall_class_id_weighted": (
        lambda: metrics.Recall(class_id=1, thresholds=0.35),
        CLASSES_W,
        0.4285714328289032,
    ),
    # 13 of the 15 (positive, negative) pairs are ordered right
    "auc": (lambda: metrics.AUC(), BINARY, 0.8666666746139526),
    # the same with pair weights w_pos * w_neg: 18.25 / (4.25 * 5)
    "auc_weighted": (lambda: metrics.AUC(), BINARY_W, 0.8588235378265381),
    "auc_pr": (lambda: metrics.AUC(curve="PR"), BINARY, 0.9189069271087646),
    "auc_pr_weighted": (lambda: metrics.AUC(curve="PR"), BINARY_W, 0.800635814666748),
    "auc_minoring": (
        lambda: metrics.AUC(num_thresholds=5, summation_method="minoring"),
        BINARY,
        0.6666666269302368,
    ),
    "auc_majoring_pr": (
        lambda: metrics.AUC(num_thresholds=7, curve="PR", summation_method="majoring"),
        BINARY,
        0.9333333373069763,
    ),
    "auc_from_logits": (
        lambda: metrics.AUC(from_logits=True),
        (Y_B, LOGIT_B),
        0.8666666746139526,
    ),
    "auc_multi_label": (lambda: metrics.AUC(multi_label=True), CLASSES, 0.8333333134651184),
    "auc_multi_label_weights": (
        lambda: metrics.AUC(multi_label=True, label_weights=[1.0, 2.0, 0.5]),
        CLASSES_W,
        0.6462584733963013,
    ),
    "auc_flat_label_weights": (
        lambda: metrics.AUC(label_weights=[1.0, 2.0, 0.5]),
        CLASSES,
        0.7486631274223328,
    ),
    "auc_thresholds": (lambda: metrics.AUC(thresholds=[0.3, 0.6]), BINARY, 0.9333332777023315),
    "auc_prgain": (lambda: metrics.AUC(curve="PRGAIN"), BINARY, 0.5601851940155029),
    # argmax predicts 2, 0, 2, 1 for labels 2, 0, 1, 1: class 0 P=R=1; class 1 P=1, R=1/2;
    # class 2 P=1/2, R=1
    "f1": (
        lambda: metrics.F1Score(),
        CLASSES,
        [0.9999998211860657, 0.666666567325592, 0.666666567325592],
    ),
    "f1_micro": (lambda: metrics.F1Score("micro"), CLASSES, 0.7499999403953552),  # tp 3 fp 1 fn 1
    "f1_macro": (lambda: metrics.F1Score("macro"), CLASSES, 0.7777776718139648),
    # support 1, 2, 1: (1 + 2 * 2/3 + 2/3) / 4
    "f1_weighted": (lambda: metrics.F1Score("weighted"), CLASSES, 0.7499998807907104),
    "f1_threshold_weighted": (
        lambda: metrics.F1Score(threshold=0.25),
        CLASSES_W,
        [0.5714284777641296, 0.8235293030738831, 0.2222221940755844],
    ),
    "f1_micro_threshold_weighted": (
        lambda: metrics.F1Score("micro", threshold=0.25),
        CLASSES_W,
        0.6060605049133301,
    ),
    "f1_macro_threshold_weighted": (
        lambda: metrics.F1Score("macro", threshold=0.25),
        CLASSES_W,
        0.5390599966049194,
    ),
    "f1_weighted_threshold_weighted": (
        lambda: metrics.F1Score("weighted", threshold=0.25),
        CLASSES_W,
        0.7129784226417542,
    ),
    "fbeta_2_macro": (
        lambda: metrics.FBetaScore("macro", beta=2.0),
        CLASSES,
        0.7962961792945862,
    ),
    "top_2": (lambda: metrics.TopKCategoricalAccuracy(k=2), CLASSES, 1.0),
    "top_1_weighted": (lambda: metrics.TopKCategoricalAccuracy(k=1), CLASSES_W, 0.6000000238418579),
    "sparse_top_2": (lambda: metrics.SparseTopKCategoricalAccuracy(k=2), (L_C, P_C), 1.0),
    "sparse_top_1_weighted": (
        lambda: metrics.SparseTopKCategoricalAccuracy(k=1),
        (L_C, P_C, W_C),
        0.6000000238418579,
    ),
    # per sample 33.33 and 6.7e7 (the target 0 is divided by 1e-7)
    "mape": (lambda: metrics.MeanAbsolutePercentageError(), REGRESSION, 33333356.0),
    "mape_weighted": (lambda: metrics.MeanAbsolutePercentageError(), REGRESSION_W, 56666684.0),
    "msle": (lambda: metrics.MeanSquaredLogarithmicError(), REGRESSION, 0.049751315265893936),
    "msle_weighted": (
        lambda: metrics.MeanSquaredLogarithmicError(),
        REGRESSION_W,
        0.03459840267896652,
    ),
    # sqrt of the mean squared error 0.29833
    "rmse": (lambda: metrics.RootMeanSquaredError(), REGRESSION, 0.5461989641189575),
    "rmse_weighted": (lambda: metrics.RootMeanSquaredError(), REGRESSION_W, 0.4642197787761688),
    # mean of the cosines 0.87482 and 0.97590
    "cosine": (lambda: metrics.CosineSimilarity(), REGRESSION, 0.9253588914871216),
    "cosine_weighted": (lambda: metrics.CosineSimilarity(), REGRESSION_W, 0.9607377052307129),
    "logcosh": (lambda: metrics.LogCoshError(), REGRESSION, 0.1356654167175293),
    "logcosh_weighted": (lambda: metrics.LogCoshError(), REGRESSION_W, 0.10138893127441406),
    "poisson": (lambda: metrics.Poisson(), REGRESSION, 0.6420858502388),
    "poisson_weighted": (lambda: metrics.Poisson(), REGRESSION_W, 0.40528738498687744),
    "mse_weighted": (lambda: metrics.MeanSquaredError(), REGRESSION_W, 0.21549999713897705),
    "mae_weighted": (lambda: metrics.MeanAbsoluteError(), REGRESSION_W, 0.4150000214576721),
    "kld": (lambda: metrics.KLDivergence(), CLASSES, 0.8310562372207642),
    # the metric divides by the sum of the weights (5), the loss by the samples (4)
    "kld_weighted": (lambda: metrics.KLDivergence(), CLASSES_W, 0.9461854100227356),
    "bce_weighted": (
        lambda: metrics.BinaryCrossentropy(),
        (Y_B[:, None], P_B[:, None], W_B),
        0.5064401626586914,
    ),
    "bce_logits_smoothing": (
        lambda: metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        (Y_B[:, None], LOGIT_B[:, None]),
        0.4841855764389038,
    ),
    "cce_weighted": (lambda: metrics.CategoricalCrossentropy(), CLASSES_W, 0.9461883306503296),
    "scce": (lambda: metrics.SparseCategoricalCrossentropy(), (L_C, P_C), 0.8310590982437134),
    "hinge": (lambda: metrics.Hinge(), (Y_H, P_H), 1.0166666507720947),
    "squared_hinge_weighted": (
        lambda: metrics.SquaredHinge(),
        (Y_H, P_H, W_R),
        1.2551666498184204,
    ),
    "categorical_hinge": (lambda: metrics.CategoricalHinge(), CLASSES, 0.9249999523162842),
    # predicted (>= 0.5) 0 1 0 1 1 0 1 1 for labels 0 1 1 0 1 0 1 1: IoU 2/4 and 4/6
    "binary_iou": (lambda: metrics.BinaryIoU(), BINARY, 0.5833333730697632),
    # argmax 2 0 2 1 for labels 2 0 1 1: IoU 1, 1/2, 1/2
    "mean_iou": (lambda: metrics.MeanIoU(num_classes=3), (L_C, P_C.argmax(-1)), 0.6666666269302368),
    "one_hot_iou": (
        lambda: metrics.OneHotIoU(num_classes=3, target_class_ids=[0, 2]),
        CLASSES,
        0.7499999403953552,
    ),
    "one_hot_mean_iou": (
        lambda: metrics.OneHotMeanIoU(num_classes=3),
        CLASSES,
        0.6666666269302368,
    ),
    # right for weights 1 + 0.5 + 0.25 + 3 + 0.5 of 9.25
    "binary_accuracy_weighted": (lambda: metrics.BinaryAccuracy(), BINARY_W, 0.5675675868988037),
    "wrapper_weighted": (
        lambda: metrics.MeanMetricWrapper(losses.mean_squared_error),
        REGRESSION_W,
        0.21549999713897705,
    ),
    # (1 * 1 + 2 * 0.5 + 4 * 0.25) / 1.75
    "mean": (lambda: metrics.Mean(), ([1.0, 2.0, 4.0], [1.0, 0.5, 0.25]), 1.7142857313156128),
    # per-sample means 1.5 and 6: (1.5 * 1 + 6 * 3) / 4
    "mean_2d": (lambda: metrics.Mean(), ([[1.0, 2.0], [4.0, 8.0]], [1.0, 3.0]), 4.875),
    "sum": (lambda: metrics.Sum(), ([1.0, 2.0, 4.0], [1.0, 0.5, 0.25]), 3.0),
    # per-sample sums 3 and 12: 3 * 1 + 12 * 3
    "sum_2d": (lambda: metrics.Sum(), ([[1.0, 2.0], [4.0, 8.0]], [1.0, 3.0]), 39.0),
}


def _update(metric, inputs, as_tensors=True):
    if type(metric) in (metrics.Mean, metrics.Sum):  # update_state(values, sample_weight)
        metric.update_state(inputs[0], sample_weight=inputs[1])
        return
    y_true, y_pred, *weights = inputs
    if as_tensors:
        y_pred = engine.tensor(numpy.asarray(y_pred, dtype=engine.floatx()))
    metric.update_state(y_true, y_pred, *weights)


@pytest.mark.parametrize("case", sorted(CASES))
def test_results_are_keras(backend, case):
    factory, inputs, expected = CASES[case]
    metric = factory()
    _update(metric, inputs)
    numpy.testing.assert_allclose(metric.result(), expected, rtol=3e-6, atol=1e-6)


@pytest.mark.parametrize("case", ["auc", "f1_weighted", "precision_top_k", "mean_iou", "rmse"])
def test_batches_accumulate_and_reset(backend, case):
    factory, inputs, expected = CASES[case]
    metric = factory()
    half = len(inputs[0]) // 2
    for part in (slice(0, half), slice(half, None)):
        _update(metric, [numpy.asarray(a)[part] for a in inputs])
    numpy.testing.assert_allclose(metric.result(), expected, rtol=3e-6, atol=1e-6)
    metric.reset_state()
    assert all(not numpy.asarray(backend.to_numpy(v)).any() for v in metric.variables)
    _update(metric, inputs, as_tensors=False)  # plain arrays work too
    numpy.testing.assert_allclose(metric.result(), expected, rtol=3e-6, atol=1e-6)


@pytest.mark.parametrize(
    "case",
    [
        "fn_thresholds_weighted",
        "auc_weighted",
        "auc_multi_label",
        "f1_weighted_threshold_weighted",
        "recall_top_k_weighted",
        "mean_iou",
        "mape_weighted",
        "top_1_weighted",
        "mean_2d",
    ],
)
def test_state_sums_across_processes(backend, case):
    """Two 'processes' see half the data each; summing their variables gives the whole."""
    factory, inputs, expected = CASES[case]
    parts = [factory(), factory()]
    half = len(inputs[0]) // 2
    for metric, part in zip(parts, (slice(0, half), slice(half, None))):
        _update(metric, [numpy.asarray(a)[part] for a in inputs])
    merged = factory()
    _update(merged, [numpy.asarray(a)[:1] for a in inputs])  # builds the state on the backend
    assert [v.shape for v in merged.variables] == [v.shape for v in parts[0].variables]
    for target, first, second in zip(merged.variables, parts[0].variables, parts[1].variables):
        target[...] = first + second
    numpy.testing.assert_allclose(merged.result(), expected, rtol=3e-6, atol=1e-6)


@pytest.mark.parametrize(
    "case",
    [
        "fn_thresholds_weighted",
        "auc_weighted",
        "auc_flat_label_weights",
        "auc_from_logits",
        "f1_macro",
        "precision_top_k",
        "binary_iou",
        "one_hot_iou",
        "mape_weighted",
        "top_2",
        "hinge",
        "rmse_weighted",
    ],
)
def test_updates_stay_on_the_backend(backend, case, monkeypatch):
    """After the first batch, an update neither reads the device nor sends arrays to it
    (the ops' Python-number constants, such as the 1 of ``1 - y * p``, aside)."""
    factory, inputs, expected = CASES[case]
    metric = factory()
    arrays = [backend.asarray(numpy.asarray(a, dtype=engine.floatx())) for a in inputs]
    y_true, y_pred, *weights = arrays
    metric.update_state(y_true, engine.Tensor(y_pred, backend=backend), *weights)

    send = backend.asarray

    def refuse(*args, **kwargs):
        raise AssertionError("host transfer during update_state")

    def send_numbers_only(data, *args, **kwargs):
        if not isinstance(data, (int, float)):
            refuse()
        return send(data, *args, **kwargs)

    monkeypatch.setattr(backend, "to_numpy", refuse)
    monkeypatch.setattr(backend, "asarray", send_numbers_only)
    metric.update_state(y_true, engine.Tensor._wrap(y_pred, backend), *weights)
    monkeypatch.undo()
    result = numpy.asarray(metric.result())
    assert numpy.isfinite(result).all()


def test_float_sample_weights_count_as_given(backend):
    """Keras 3.15 keeps the IoU matrix in integers and truncates these weights to 0, giving
    0.0 for both; its documentation's values are these."""
    binary = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    binary.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[0.2, 0.3, 0.4, 0.1])
    # matrix [[0.2, 0.4], [0.3, 0.1]]: IoU 0.2 / 0.9 and 0.1 / 0.8
    assert binary.result() == pytest.approx((0.2 / 0.9 + 0.1 / 0.8) / 2, rel=1e-6)
    assert binary.result() == pytest.approx(0.17361112, rel=1e-6)  # Keras's docstring
    mean = metrics.MeanIoU(num_classes=2)
    mean.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    # matrix [[0.3, 0.3], [0.3, 0.1]]: IoU 0.3 / 0.9 and 0.1 / 0.7
    assert mean.result() == pytest.approx((0.3 / 0.9 + 0.1 / 0.7) / 2, rel=1e-6)
    # integer weights give Keras 3.15's own number: BinaryIoU as above with 2, 3, 4, 1
    binary.reset_state()
    binary.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[2, 3, 4, 1])
    assert binary.result() == pytest.approx(0.1736111044883728, rel=1e-6)


def test_per_sample_weights_spread_over_segmentation_maps(backend):
    labels = numpy.array([[[0, 1], [1, 1]], [[0, 0], [1, 0]]])
    predicted = numpy.array([[[0, 1], [0, 1]], [[0, 1], [1, 0]]])
    weights = numpy.array([1.0, 0.5])
    metric = metrics.MeanIoU(num_classes=2)
    metric.update_state(labels, predicted, sample_weight=weights)
    reference = metrics.MeanIoU(num_classes=2)
    per_pixel = numpy.ones((2, 2, 2)) * weights[:, None, None]
    reference.update_state(labels, predicted, sample_weight=per_pixel)
    assert metric.result() == pytest.approx(reference.result())


def test_fit_logs_use_keras_names(backend):
    engine.utils.clear_session()
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype("float32")
    y = (rng.random((32, 1)) > 0.5).astype("float32")
    model = engine.Sequential([engine.Input((4,)), engine.layers.Dense(1, activation="sigmoid")])
    model.compile(
        "sgd",
        "binary_crossentropy",
        metrics=[
            "precision",
            metrics.Precision(),
            "auc",
            metrics.AUC(),
            metrics.Recall(thresholds=[0.3, 0.6]),
            metrics.TruePositives(),
            "mape",
            "msle",
            metrics.RootMeanSquaredError(),
            "kl_divergence",
            metrics.LogCoshError(),
            metrics.F1Score(),
            metrics.BinaryIoU(),
            metrics.MeanIoU(2),
            "accuracy",
            metrics.MeanMetricWrapper(losses.mean_squared_error),
        ],
    )
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    # Keras 3.15's history keys for the same compile, in a fresh session
    assert sorted(history.history) == [
        "accuracy", "auc", "auc_1", "binary_io_u", "f1_score", "kl_divergence", "logcosh",
        "loss", "mape", "mean_io_u", "mean_metric_wrapper", "msle", "precision", "precision_1",
        "recall", "root_mean_squared_error", "true_positives",
    ]  # fmt: skip
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["precision"] == pytest.approx(logs["precision_1"])
    assert len(logs["recall"]) == 2 and numpy.shape(logs["f1_score"]) == (1,)
    weighted = engine.Sequential([engine.Input((4,)), engine.layers.Dense(1)])
    weighted.compile("sgd", "mse", metrics=["precision"], weighted_metrics=["precision"])
    history = weighted.fit(x, y, verbose=0)
    assert list(history.history) == ["loss", "precision", "weighted_precision"]


def test_auto_names_are_unique_as_in_keras():
    engine.utils.clear_session()
    names = [metrics.Precision().name for _ in range(3)]
    assert names == ["precision", "precision_1", "precision_2"]
    assert metrics.BinaryIoU().name == "binary_io_u"
    assert metrics.IoU(2, [0]).name == "io_u"
    # classes with a default name in their signature keep it
    assert metrics.FBetaScore().name == "fbeta_score" == metrics.FBetaScore().name
    assert metrics.LogCoshError().name == "logcosh"
    assert metrics.get("mape").name == "mape"  # a string names the metric as written
    engine.utils.clear_session()
    assert metrics.Precision().name == "precision"


def test_keras_strings():
    # each string Keras 3.15's metrics.get accepts, and what it makes
    expected = {
        "precision": metrics.Precision,
        "recall": metrics.Recall,
        "auc": metrics.AUC,
        "AUC": metrics.AUC,
        "true_positives": metrics.TruePositives,
        "false_negatives": metrics.FalseNegatives,
        "top_k_categorical_accuracy": metrics.TopKCategoricalAccuracy,
        "sparse_top_k_categorical_accuracy": metrics.SparseTopKCategoricalAccuracy,
        "mape": metrics.MeanAbsolutePercentageError,
        "MAPE": metrics.MeanAbsolutePercentageError,
        "msle": metrics.MeanSquaredLogarithmicError,
        "root_mean_squared_error": metrics.RootMeanSquaredError,
        "cosine_similarity": metrics.CosineSimilarity,
        "log_cosh_error": metrics.LogCoshError,
        "kl_divergence": metrics.KLDivergence,
        "poisson": metrics.Poisson,
        "f1_score": metrics.F1Score,
        "f_beta_score": metrics.FBetaScore,
        "binary_io_u": metrics.BinaryIoU,
        "hinge": metrics.Hinge,
        "bce": metrics.BinaryCrossentropy,
        "mean": metrics.Mean,
        "sum": metrics.Sum,
    }
    for name, cls in expected.items():
        metric = metrics.get(name)
        assert type(metric) is cls and metric.name == name, name
    for name in ("rmse", "log_cosh", "kld", "huber"):  # Keras refuses these as metrics
        with pytest.raises(ValueError, match=f"Unknown metric: '{name}'"):
            metrics.get(name)


def test_configs_round_trip():
    for metric in (
        metrics.AUC(thresholds=[0.2, 0.7], curve="PR", multi_label=True, num_labels=3),
        metrics.Precision(top_k=2, class_id=1),
        metrics.Recall(thresholds=[0.2, 0.4]),
        metrics.FalseNegatives(0.3),
        metrics.FBetaScore("weighted", 2.0, 0.4),
        metrics.F1Score("macro"),
        metrics.BinaryIoU([1], threshold=0.3),
        metrics.MeanIoU(3, ignore_class=0),
        metrics.OneHotIoU(3, [0, 2]),
        metrics.SparseTopKCategoricalAccuracy(2, from_sorted_ids=True),
        metrics.CosineSimilarity(axis=-1),
        metrics.MeanMetricWrapper(metrics.binary_accuracy, threshold=0.3),
    ):
        config = metrics.serialize(metric)
        again = metrics.get(config)
        assert type(again) is type(metric) and metrics.serialize(again) == config
    with pytest.raises(ValueError, match="cannot save its function"):
        metrics.serialize(metrics.MeanMetricWrapper(lambda y, p: p))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"Precision: `thresholds` must be numbers in \[0, 1\]"):
        metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="`curve` must be.*got 'XY'"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="`summation_method` must be"):
        metrics.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match="`num_thresholds` must be an integer > 1; got 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="`average` must be one of.*got 'mean'"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="`beta` must be a Python float > 0; got 2"):
        metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match=r"`target_class_ids` must be class ids in \[0, 2\)"):
        metrics.BinaryIoU(target_class_ids=[2])
    with pytest.raises(ValueError, match="F1Score: expects inputs of shape"):
        metrics.F1Score().update_state(Y_B, P_B)
    with pytest.raises(ValueError, match="with `class_id`, y_pred must have shape"):
        metrics.Precision(class_id=1).update_state(Y_B, P_B)
    with pytest.raises(ValueError, match="Recall: y_true and y_pred must have the same shape"):
        metrics.Recall().update_state(Y_C, P_B)
    with pytest.raises(ValueError, match="metric 'poisson': cannot compare targets"):
        metrics.Poisson().update_state(Y_R, P_C)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_a_mean_of_batch_losses_rounds_as_in_place_sums(backend, dtype):
    """The loss tracker's update (one loss, weighed by the batch size) adds on the host as
    scalars: the same sums, to the last bit, as the in-place array additions."""
    rng = numpy.random.default_rng(3)
    tracker = metrics.Mean(dtype=dtype)
    total = numpy.zeros((), dtype)
    count = numpy.zeros((), dtype)
    for step in range(50):
        loss = numpy.asarray(rng.standard_normal() * 10.0 ** rng.integers(-3, 3), dtype)[()]
        weight = int(rng.integers(1, 300)) if step % 3 else float(rng.uniform(0.5, 50))
        tracker.update_state(backend.asarray(numpy.asarray(loss)) if step % 2 else loss, weight)
        total += loss * weight
        count += weight
    numpy.testing.assert_array_equal(backend.to_numpy(tracker.total), total)
    numpy.testing.assert_array_equal(backend.to_numpy(tracker.count), count)
    assert tracker.result() == float(total) / float(count)


def test_get_metrics_result_gives_the_metrics_by_name(backend):
    """Keras's ``model.get_metrics_result()``: the loss, then the compiled metrics."""
    rng = numpy.random.default_rng(4)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = engine.Sequential([engine.layers.Input((3,)), engine.layers.Dense(1, "sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy", "mae"])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    result = model.get_metrics_result()
    assert list(result) == ["loss", "accuracy", "mae"]
    for name, value in result.items():
        assert value == pytest.approx(history.history[name][-1], rel=1e-6)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert model.get_metrics_result() == pytest.approx(logs)
