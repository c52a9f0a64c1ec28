"""The losses Keras 3 has beyond the everyday ones: values, reductions, names, gradients.

Each expected number is Keras 3.15's (PyTorch backend, float32) on the same
inputs, written down; next to it a NumPy formula of the same loss, checked
against the number too, shows the calculation.
"""

import numpy
import pytest

import engine
from engine import losses
from tests.gradcheck import check_gradients

EPS = 1e-7

# binary targets and probabilities, 8 samples of one output
Y_B = numpy.array([[0], [1], [1], [0], [1], [0], [1], [1]], dtype=float)
P_B = numpy.array([[0.1], [0.8], [0.45], [0.6], [0.95], [0.3], [0.5], [0.7]])
W_B = numpy.array([1.0, 0.5, 2.0, 1.0, 0.25, 3.0, 1.0, 0.5])
LOGIT_B = numpy.array([[-2.0], [1.5], [-0.2], [0.4], [3.0], [-0.8], [0.0], [0.9]])
# one-hot targets and probabilities, 4 samples of 3 classes
Y_C = numpy.eye(3)[[2, 0, 1, 1]]
P_C = numpy.array([[0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]])
W_C = numpy.array([0.5, 1.0, 2.0, 1.5])
# regression targets (one of them 0) and predictions, 2 samples of 3
Y_R = numpy.array([[1.0, 2.0, 0.5], [0.0, 3.0, 1.5]])
P_R = numpy.array([[1.5, 1.0, 0.5], [0.2, 2.5, 2.0]])
W_R = numpy.array([0.3, 1.7])
# 0/1 labels (taken as -1/1) and scores for the hinge losses
Y_H = numpy.array([[0, 1, 1], [1, 0, 1]], dtype=float)
P_H = numpy.array([[0.3, -0.8, 1.2], [0.6, 0.2, -0.4]])


def _unit(x):
    return x / numpy.sqrt(numpy.maximum((x * x).sum(-1, keepdims=True), EPS**2))


def _bce(y, p):
    p = numpy.clip(p, EPS, 1 - EPS)
    return -(y * numpy.log(p) + (1 - y) * numpy.log(1 - p))


def _focal_binary(y, p, gamma=2.0):
    p_t = y * p + (1 - y) * (1 - p)
    return ((1 - p_t) ** gamma * _bce(y, p)).mean(-1)


def _focal_categorical(y, p, alpha=0.25, gamma=2.0):
    p = numpy.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return (alpha * (1 - p) ** gamma * -y * numpy.log(p)).sum(-1)


# name: (y_true, y_pred, weights, NumPy formula, Keras 3.15's per-sample losses,
#        Keras's `Loss()(y_true, y_pred, sample_weight=weights)`)
CASES = {
    "kl_divergence": (
        Y_C,
        P_C,
        W_C,
        lambda y, p: (
            numpy.clip(y, EPS, 1) * numpy.log(numpy.clip(y, EPS, 1) / numpy.clip(p, EPS, 1))
        ).sum(-1),
        [0.5108227729797363, 0.6931442618370056, 1.2039698362350464, 0.9162877798080444],
        1.1827317476272583,
    ),
    "poisson": (
        Y_R,
        P_R,
        W_R,
        lambda y, p: (p - y * numpy.log(p + EPS)).mean(-1),
        [0.9803693890571594, 0.3038023114204407],
        0.40528738498687744,  # (0.98037 * 0.3 + 0.30380 * 1.7) / 2 samples
    ),
    "log_cosh": (
        Y_R,
        P_R,
        W_R,
        lambda y, p: numpy.log(numpy.cosh(p - y)).mean(-1),
        [0.184631809592247, 0.08669900894165039],
        0.10138893127441406,
    ),
    "hinge": (
        Y_H,
        P_H,
        W_R,
        lambda y, p: numpy.maximum(1 - (2 * y - 1) * p, 0).mean(-1),
        [1.0333333015441895, 1.0],
        1.0049999952316284,
    ),
    "squared_hinge": (
        Y_H,
        P_H,
        W_R,
        lambda y, p: (numpy.maximum(1 - (2 * y - 1) * p, 0) ** 2).mean(-1),
        [1.643333077430725, 1.1866666078567505],
        1.2551666498184204,
    ),
    "categorical_hinge": (
        Y_C,
        P_C,
        W_C,
        lambda y, p: numpy.maximum(((1 - y) * p).max(-1) - (y * p).sum(-1) + 1, 0),
        [0.699999988079071, 0.8999999761581421, 1.2000000476837158, 0.8999999761581421],
        1.25,
    ),
    "cosine_similarity": (
        Y_R,
        P_R,
        W_R,
        lambda y, p: -(_unit(y) * _unit(p)).sum(-1),
        [-0.8748176693916321, -0.9759000539779663],
        -0.9607377052307129,
    ),
    "mean_squared_logarithmic_error": (
        Y_R,
        P_R,
        W_R,
        lambda y, p: (
            (numpy.log(numpy.maximum(p, EPS) + 1) - numpy.log(numpy.maximum(y, EPS) + 1)) ** 2
        ).mean(-1),
        [0.07139834016561508, 0.02810429222881794],
        0.03459840267896652,
    ),
    "mean_absolute_percentage_error": (
        Y_R,
        P_R,
        W_R,
        # the target 0 is divided by 1e-7: |0 - 0.2| / 1e-7 / 3 * 100 = 6.7e7
        lambda y, p: 100 * (numpy.abs(y - p) / numpy.maximum(numpy.abs(y), EPS)).mean(-1),
        [33.333335876464844, 66666680.0],
        56666684.0,
    ),
    "binary_focal_crossentropy": (
        Y_B,
        P_B,
        W_B,
        _focal_binary,
        [
            0.0010536055779084563,
            0.008925740607082844,
            0.2415485978126526,
            0.3298646807670593,
            0.0001282333250856027,
            0.032100748270750046,
            0.1732867956161499,
            0.032100748270750046,
        ],
        0.13801872730255127,
    ),
    "categorical_focal_crossentropy": (
        Y_C,
        P_C,
        W_C,
        _focal_categorical,
        [0.02043301984667778, 0.043321698904037476, 0.14748665690422058, 0.08246616274118423],
        0.11805269122123718,
    ),
}

CLASSES = {
    "kl_divergence": losses.KLDivergence,
    "poisson": losses.Poisson,
    "log_cosh": losses.LogCosh,
    "hinge": losses.Hinge,
    "squared_hinge": losses.SquaredHinge,
    "categorical_hinge": losses.CategoricalHinge,
    "cosine_similarity": losses.CosineSimilarity,
    "mean_squared_logarithmic_error": losses.MeanSquaredLogarithmicError,
    "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
    "binary_focal_crossentropy": losses.BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": losses.CategoricalFocalCrossentropy,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_per_sample_losses_are_keras(backend, name):
    y, p, _, formula, keras_values, _ = CASES[name]
    numpy.testing.assert_allclose(formula(y, p), keras_values, rtol=2e-6)
    got = getattr(losses, name)(y, engine.tensor(p)).numpy()
    numpy.testing.assert_allclose(got, keras_values, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_weighted_loss_divides_by_the_number_of_samples(backend, name):
    """Keras's ``sum_over_batch_size``: sum(loss * weight) / samples, not / sum(weights)."""
    y, p, weights, formula, _, keras_value = CASES[name]
    assert (formula(y, p) * weights).sum() / len(y) == pytest.approx(keras_value, rel=2e-6)
    loss = CLASSES[name]()
    assert loss.name == name or name == "log_cosh"  # LogCosh's name is "log_cosh"
    got = loss(y, engine.tensor(p), sample_weight=weights).item()
    assert got == pytest.approx(keras_value, rel=2e-6)


def test_focal_options_are_keras(backend):
    # Keras 3.15: BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3, gamma=1.5,
    # from_logits=True, label_smoothing=0.1)(Y_B, LOGIT_B, sample_weight=W_B)
    y = Y_B * 0.9 + 0.05
    p = 1 / (1 + numpy.exp(-LOGIT_B))
    balance = y * 0.3 + (1 - y) * 0.7
    expected = (balance[:, 0] * _focal_binary(y, p, 1.5) * W_B).sum() / 8
    assert expected == pytest.approx(0.0923825204372406, rel=2e-6)
    loss = losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=0.3, gamma=1.5, from_logits=True, label_smoothing=0.1
    )
    got = loss(Y_B, engine.tensor(LOGIT_B), sample_weight=W_B).item()
    assert got == pytest.approx(0.0923825204372406, rel=2e-6)
    # CategoricalFocalCrossentropy(alpha=0.4, gamma=3.0, from_logits=True,
    # label_smoothing=0.2)(Y_C, log(P_C), sample_weight=W_C): softmax(log p) = p
    expected = (_focal_categorical(Y_C * 0.8 + 0.2 / 3, P_C, 0.4, 3.0) * W_C).sum() / 4
    assert expected == pytest.approx(0.1461188644170761, rel=2e-6)
    loss = losses.CategoricalFocalCrossentropy(
        alpha=0.4, gamma=3.0, from_logits=True, label_smoothing=0.2
    )
    got = loss(Y_C, engine.tensor(numpy.log(P_C)), sample_weight=W_C).item()
    assert got == pytest.approx(0.1461188644170761, rel=2e-6)


def test_reductions_are_keras(backend):
    per_sample = ((Y_C - P_C) ** 2).mean(-1)  # [0.08667, 0.14, 0.26, 0.18]
    weighted = per_sample * W_C  # the weights sum to 5, over 4 samples
    p = engine.tensor(P_C)
    # Keras 3.15: MeanSquaredError(reduction=...)(Y_C, P_C, sample_weight=W_C)
    cases = {
        "sum_over_batch_size": (weighted.sum() / 4, 0.2433333396911621),
        "mean": (weighted.sum() / 4, 0.2433333396911621),
        "sum": (weighted.sum(), 0.9733333587646484),
        "mean_with_sample_weight": (weighted.sum() / W_C.sum(), 0.19466666877269745),
    }
    for reduction, (formula, keras_value) in cases.items():
        assert formula == pytest.approx(keras_value, rel=2e-6)
        got = losses.MeanSquaredError(reduction=reduction)(Y_C, p, sample_weight=W_C).item()
        assert got == pytest.approx(keras_value, rel=2e-6), reduction
    for reduction in ("none", None):
        got = losses.MeanSquaredError(reduction=reduction)(Y_C, p, sample_weight=W_C)
        numpy.testing.assert_allclose(got.numpy(), weighted, rtol=1e-6)
    zero = numpy.zeros(4)
    loss = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    assert loss(Y_C, p, sample_weight=zero).item() == 0.0  # Keras's divide_no_nan


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients(backend, float64, name, rng):
    fn = getattr(losses, name)
    y = CASES[name][0]
    if name in ("hinge", "squared_hinge", "categorical_hinge", "cosine_similarity", "log_cosh"):
        p = rng.standard_normal(y.shape) * 0.7
    elif name == "mean_absolute_percentage_error":
        y, p = y + 0.5, rng.standard_normal(y.shape)
    else:
        p = rng.uniform(0.1, 0.9, y.shape)
    check_gradients(lambda y_, p_: fn(y_, p_), y, p, wrt=[1])


def test_focal_gradients_from_logits(backend, float64, rng):
    logits = rng.standard_normal((5, 3))
    targets = rng.integers(0, 2, (5, 3)).astype(float)
    check_gradients(
        lambda y, p: losses.binary_focal_crossentropy(
            y, p, apply_class_balancing=True, gamma=1.5, from_logits=True, label_smoothing=0.1
        ),
        targets,
        logits,
        wrt=[1],
    )
    one_hot = numpy.eye(3)[rng.integers(0, 3, 5)]
    check_gradients(
        lambda y, p: losses.categorical_focal_crossentropy(y, p, from_logits=True),
        one_hot,
        logits,
        wrt=[1],
    )


def test_keras_names_and_aliases():
    # Keras 3.15's losses.get accepts these names (its ALL_OBJECTS_DICT)
    expected = {
        "kld": losses.KLDivergence,
        "KLD": losses.KLDivergence,
        "kl_divergence": losses.KLDivergence,
        "KLDivergence": losses.KLDivergence,
        "poisson": losses.Poisson,
        "log_cosh": losses.LogCosh,
        "LogCosh": losses.LogCosh,
        "hinge": losses.Hinge,
        "squared_hinge": losses.SquaredHinge,
        "categorical_hinge": losses.CategoricalHinge,
        "cosine_similarity": losses.CosineSimilarity,
        "msle": losses.MeanSquaredLogarithmicError,
        "MSLE": losses.MeanSquaredLogarithmicError,
        "mean_squared_logarithmic_error": losses.MeanSquaredLogarithmicError,
        "mape": losses.MeanAbsolutePercentageError,
        "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
        "bce": losses.BinaryCrossentropy,
        "binary_focal_crossentropy": losses.BinaryFocalCrossentropy,
        "categorical_focal_crossentropy": losses.CategoricalFocalCrossentropy,
        "huber": losses.Huber,
    }
    for name, cls in expected.items():
        assert type(losses.get(name)) is cls, name
    # the instance names Keras gives
    assert losses.LogCosh().name == "log_cosh"
    assert losses.Huber().name == "huber_loss"
    assert losses.BinaryFocalCrossentropy().name == "binary_focal_crossentropy"


def test_configs_round_trip():
    for loss in (
        losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3, gamma=1.5),
        losses.CategoricalFocalCrossentropy(alpha=0.4, from_logits=True),
        losses.CosineSimilarity(reduction="sum"),
        losses.KLDivergence(name="kl"),
        losses.Huber(delta=2.0),
    ):
        config = losses.serialize(loss)
        again = losses.get(config)
        assert type(again) is type(loss) and losses.serialize(again) == config
    config = losses.serialize(losses.BinaryFocalCrossentropy(gamma=3.0))["config"]
    assert config["gamma"] == 3.0 and config["reduction"] == "sum_over_batch_size"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="invalid `reduction` 'average'"):
        losses.KLDivergence(reduction="average")
    with pytest.raises(ValueError, match="only `axis=-1`.*got axis=1"):
        losses.BinaryFocalCrossentropy(axis=1)
    with pytest.raises(ValueError, match=r"poisson: y_true and y_pred must have the same shape"):
        losses.poisson(numpy.zeros((2, 3)), engine.tensor(numpy.ones((2, 2))))
    with pytest.raises(ValueError, match=r"`sample_weight` of shape \(3,\)"):
        losses.Hinge()(Y_H, engine.tensor(P_H), sample_weight=numpy.ones(3))


def test_fit_with_the_new_losses(backend):
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype("float32")
    y = numpy.abs(rng.standard_normal((32, 1))).astype("float32") + 0.1
    for loss, activation in (("poisson", "softplus"), ("msle", "relu"), ("log_cosh", None)):
        model = engine.Sequential(
            [engine.Input((4,)), engine.layers.Dense(1, activation=activation)]
        )
        model.compile("adam", loss)
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert numpy.isfinite(history.history["loss"]).all(), loss
