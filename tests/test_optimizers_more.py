"""Adamax, Nadam, Adadelta, Ftrl, Lion, Lamb, Adafactor, ScheduleFreeAdamW, and the
schedules beyond ExponentialDecay/CosineDecay: Keras 3.15's numbers
(tests/optimizer_cases.py, from scripts/compare_optimizers_keras.py) and float64 NumPy
references of Keras's formulas."""

import math

import numpy
import pytest

import engine
from engine import layers, optimizers
from engine.models import Sequential, load_model
from engine.optimizers import schedules

from .optimizer_cases import CASES, GRADS, KERAS_RESULTS, START

NEW_OPTIMIZERS = ("adadelta", "adafactor", "adamax", "ftrl", "lamb", "lion", "nadam")
KERAS_NAMES = {"schedulefreeadamw": "schedule_free_adam_w"}


def run(optimizer, start, grads, dtype="float32"):
    weights = [engine.tensor(w.astype(dtype), requires_grad=True) for w in start]
    for step in grads:
        optimizer.apply([g.astype(dtype) for g in step], weights)
    return [w.numpy() for w in weights]


@pytest.mark.parametrize("case", sorted(KERAS_RESULTS))
def test_three_steps_match_keras(backend, case):
    optimizer = getattr(optimizers, case.split("_")[0])(**CASES[case])
    result = run(optimizer, START, GRADS)
    for got, expected in zip(result, KERAS_RESULTS[case], strict=True):
        numpy.testing.assert_allclose(got, expected, rtol=1e-6, atol=3e-7, err_msg=case)


# -- float64 references, written from Keras 3's update_step ---------------------------


def reference_step(name, kw, w, g, state, t):
    """One update of ``w`` (a NumPy array) by optimizer ``name`` at step ``t`` (from 1)."""
    lr = kw.get("learning_rate", 0.001)
    b1, b2, eps = kw.get("beta_1", 0.9), kw.get("beta_2", 0.999), kw.get("epsilon", 1e-7)
    s = state
    if name == "Adamax":
        s["m"] = s.get("m", 0 * w) + (g - s.get("m", 0 * w)) * (1 - b1)
        s["u"] = numpy.maximum(b2 * s.get("u", 0 * w), numpy.abs(g))
        return w - lr * s["m"] / ((1 - b1**t) * (s["u"] + eps))
    if name == "Nadam":
        u = [b1 * (1 - 0.5 * 0.96**k) for k in range(1, t + 2)]
        u_t, u_next, product = u[t - 1], u[t], math.prod(u[:t])
        s["m"] = s.get("m", 0 * w) + (g - s.get("m", 0 * w)) * (1 - b1)
        s["v"] = s.get("v", 0 * w) + (g * g - s.get("v", 0 * w)) * (1 - b2)
        m_hat = u_next * s["m"] / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        return w - m_hat * lr / (numpy.sqrt(s["v"] / (1 - b2**t)) + eps)
    if name == "Adadelta":
        rho = kw.get("rho", 0.95)
        s["g"] = rho * s.get("g", 0 * w) + (1 - rho) * g * g
        delta = -numpy.sqrt(s.get("d", 0 * w) + eps) * g / numpy.sqrt(s["g"] + eps)
        s["d"] = rho * s.get("d", 0 * w) + (1 - rho) * delta * delta
        return w + lr * delta
    if name == "Ftrl":
        power, l1 = kw.get("learning_rate_power", -0.5), kw.get("l1_regularization_strength", 0)
        l2 = kw.get("l2_regularization_strength", 0) + kw.get("beta", 0) / (2 * lr)
        shrink = kw.get("l2_shrinkage_regularization_strength", 0)
        acc = s.get("acc", numpy.full_like(w, kw.get("initial_accumulator_value", 0.1)))
        new_acc = acc + g * g
        s["lin"] = s.get("lin", 0 * w) + g + 2 * shrink * w
        s["lin"] -= (new_acc**-power - acc**-power) / lr * w
        s["acc"] = new_acc
        quadratic = new_acc**-power / lr + 2 * l2
        return (numpy.clip(s["lin"], -l1, l1) - s["lin"]) / quadratic
    if name == "Lion":
        b2 = kw.get("beta_2", 0.99)
        m = s.get("m", 0 * w)
        s["m"] = m * b2 + g * (1 - b2)
        return w - lr * numpy.sign(m * b1 + g * (1 - b1))
    if name == "Lamb":
        s["m"] = s.get("m", 0 * w) + (g - s.get("m", 0 * w)) * (1 - b1)
        s["v"] = s.get("v", 0 * w) + (g * g - s.get("v", 0 * w)) * (1 - b2)
        update = s["m"] / (1 - b1**t) / (numpy.sqrt(s["v"] / (1 - b2**t)) + eps)
        w_norm, u_norm = numpy.linalg.norm(w), numpy.linalg.norm(update)
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
        return w - ratio * lr * update
    if name == "Adafactor":
        beta = 1 - t ** kw.get("beta_2_decay", -0.8)
        rho_t = min(lr, 1 / math.sqrt(t))
        alpha = max(kw.get("epsilon_2", 1e-3), numpy.sqrt(numpy.mean(w * w))) * rho_t
        squared = g * g + kw.get("epsilon_1", 1e-30)
        if w.ndim >= 2:
            s["r"] = beta * s.get("r", 0) + (1 - beta) * squared.mean(axis=-1)
            s["c"] = beta * s.get("c", 0) + (1 - beta) * squared.mean(axis=-2)
            row = s["r"] / s["r"].mean(axis=-1, keepdims=True)
            v = row[..., None] * s["c"][..., None, :]
        else:
            v = s["v"] = beta * s.get("v", 0) + (1 - beta) * squared
        u = g / numpy.sqrt(v)
        u = u / max(1.0, numpy.sqrt(numpy.mean(u * u)) / kw.get("clip_threshold", 1.0))
        return w - alpha * u
    if name == "ScheduleFreeAdamW":
        warmup = kw.get("warmup_steps", 0)
        lr = kw.get("learning_rate", 0.0025) * (min(t / warmup, 1.0) if warmup else 1.0)
        eps = kw.get("epsilon", 1e-8)
        z_old = s.get("z", w.copy())
        s["v"] = s.get("v", 0 * w) + (g * g - s.get("v", 0 * w)) * (1 - b2)
        s["z"] = z_old - lr * g / (numpy.sqrt(s["v"] / (1 - b2**t)) + eps)
        x_old = (w - (1 - b1) * z_old) / b1
        x_new = (1 - 1 / t) * x_old + s["z"] / t
        return (1 - b1) * s["z"] + b1 * x_new
    raise AssertionError(name)


RNG = numpy.random.default_rng(5)
# a rank-3 weight (Adafactor factors its last two axes), a matrix, a vector, zeros (Lamb's
# trust ratio falls back to one)
START64 = [RNG.normal(size=(2, 3, 4)), RNG.normal(size=(3, 5)), RNG.normal(size=4), numpy.zeros(3)]
GRADS64 = [[RNG.normal(size=w.shape) for w in START64] for _ in range(5)]


@pytest.mark.parametrize(
    "name, kw",
    [
        ("Adamax", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-3)),
        ("Nadam", dict(learning_rate=0.02, beta_1=0.85)),
        ("Adadelta", dict(learning_rate=0.5, rho=0.9, epsilon=1e-4)),
        ("Ftrl", dict(learning_rate=0.05, learning_rate_power=-0.7)),
        (
            "Ftrl",
            dict(
                learning_rate=0.2,
                initial_accumulator_value=0.3,
                l1_regularization_strength=0.05,
                l2_regularization_strength=0.1,
                l2_shrinkage_regularization_strength=0.02,
                beta=0.5,
            ),
        ),
        ("Lion", dict(learning_rate=0.02, beta_1=0.7, beta_2=0.9)),
        ("Lamb", dict(learning_rate=0.02)),
        ("Adafactor", dict(learning_rate=0.3, beta_2_decay=-0.6, clip_threshold=0.5)),
        ("Adafactor", dict(learning_rate=0.01, epsilon_2=0.5)),
        ("ScheduleFreeAdamW", dict(learning_rate=0.05)),
        ("ScheduleFreeAdamW", dict(learning_rate=0.05, beta_1=0.8, warmup_steps=3)),
    ],
)
def test_five_steps_match_the_float64_reference(backend, float64, name, kw):
    expected = [w.copy() for w in START64]
    states = [{} for _ in START64]
    for t, grads in enumerate(GRADS64, start=1):
        for i, g in enumerate(grads):
            expected[i] = reference_step(name, kw, expected[i], g, states[i], t)
    result = run(getattr(optimizers, name)(**kw), START64, GRADS64, dtype="float64")
    for got, want in zip(result, expected, strict=True):
        numpy.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_adafactor_keeps_factored_second_moments(backend):
    optimizer = optimizers.Adafactor()
    weight = engine.tensor(numpy.ones((2, 3, 4), "float32"), requires_grad=True)
    optimizer.apply([numpy.ones((2, 3, 4), "float32")], [weight])
    shapes = {name: tuple(array.shape) for name, array in optimizer.slots(weight).items()}
    assert shapes == {"r": (2, 3), "c": (2, 4), "v": (2, 3, 4)}


def test_nadam_momentum_product_follows_iterations():
    """Nadam's running product of its momentum schedule is kept between steps and
    recomputed when ``iterations`` moves back (a loaded model sets it)."""
    nadam = optimizers.Nadam(beta_1=0.8)
    schedule = [0.8 * (1 - 0.5 * 0.96**k) for k in range(1, 8)]
    assert nadam._u_product_at(5) == pytest.approx(math.prod(schedule[:5]), rel=1e-15)
    assert nadam._u_product_at(2) == pytest.approx(math.prod(schedule[:2]), rel=1e-15)
    assert nadam._u_product_at(7) == pytest.approx(math.prod(schedule), rel=1e-15)


# -- schedules ---------------------------------------------------------------------

SCHEDULE_STEPS = [0, 1, 3, 4, 5, 10, 11, 17, 25, 40, 100]
# Keras 3.15 (torch backend, float32) at SCHEDULE_STEPS
KERAS_SCHEDULES = [
    (
        schedules.PiecewiseConstantDecay([3, 10], [0.1, 0.05, 0.01]),
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01],
    ),
    (
        schedules.PolynomialDecay(0.1, 20, end_learning_rate=0.01, power=0.5),
        [0.1, 0.097721152, 0.0929759, 0.090498447, 0.087942287, 0.073639609, 0.070373833]
        + [0.044856846, 0.01, 0.01, 0.01],
    ),
    (
        schedules.PolynomialDecay(0.1, 20, end_learning_rate=0.01, power=2.0, cycle=True),
        [0.1, 0.091224998, 0.075025, 0.067600004, 0.060625002, 0.032499999, 0.028224999]
        + [0.012025, 0.022656251, 0.01, 0.01],
    ),
    (
        schedules.InverseTimeDecay(0.1, 4, 0.5),
        [0.1, 0.088888891, 0.07272727, 0.06666667, 0.061538462, 0.044444446, 0.042105265]
        + [0.032000002, 0.024242425, 0.016666668, 0.007407408],
    ),
    (
        schedules.InverseTimeDecay(0.1, 4, 0.5, staircase=True),
        [0.1, 0.1, 0.1, 0.06666667, 0.06666667, 0.05, 0.05, 0.033333335, 0.025, 0.016666668]
        + [0.007407408],
    ),
    (
        schedules.CosineDecayRestarts(0.1, 5, t_mul=2.0, m_mul=0.5, alpha=0.1),
        [0.1, 0.091405764, 0.041094225, 0.018594235, 0.055000003, 0.0325, 0.025547115]
        + [0.031949386, 0.02125, 0.020821823, 0.014375041],
    ),
    (
        schedules.CosineDecayRestarts(0.1, 5, t_mul=1.0, m_mul=0.9),
        [0.1, 0.090450846, 0.034549143, 0.00954915, 0.089999996, 0.080999993, 0.073265187]
        + [0.047713649, 0.059048992, 0.043046713, 0.012157659],
    ),
]


@pytest.mark.parametrize("schedule, expected", KERAS_SCHEDULES, ids=lambda s: type(s).__name__)
def test_schedules_match_keras(schedule, expected):
    values = [schedule(step) for step in SCHEDULE_STEPS]
    numpy.testing.assert_allclose(values, expected, rtol=2e-6, atol=1e-9)
    restored = schedules.deserialize(schedules.serialize(schedule))
    assert type(restored) is type(schedule) and restored.get_config() == schedule.get_config()
    assert [restored(step) for step in SCHEDULE_STEPS] == values


def test_schedule_defaults_and_checks_follow_keras():
    assert schedules.CosineDecayRestarts(0.1, 5).get_config()["name"] == "SGDRDecay"
    assert schedules.PiecewiseConstantDecay([1], [0.1, 0.2]).name == "PiecewiseConstant"
    assert schedules.PolynomialDecay(0.1, 5).end_learning_rate == 0.0001
    with pytest.raises(ValueError, match="one element fewer"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    for build in (
        lambda: schedules.PolynomialDecay(0.1, 0),
        lambda: schedules.InverseTimeDecay(0.1, 0, 0.5),
        lambda: schedules.CosineDecayRestarts(0.1, 0),
    ):
        with pytest.raises(ValueError, match="must be > 0"):
            build()


def test_optimizer_steps_with_a_schedule(backend):
    schedule = schedules.PiecewiseConstantDecay([1], [0.5, 0.1])
    w = engine.tensor(numpy.array([1.0, 1.0], "float32"), requires_grad=True)
    optimizer = optimizers.Lion(schedule)
    for _ in range(3):
        optimizer.apply([numpy.array([1.0, -1.0], "float32")], [w])
    numpy.testing.assert_allclose(w.numpy(), [1 - 0.5 - 0.5 - 0.1, 1 + 0.5 + 0.5 + 0.1])


# -- names, configs, validation -------------------------------------------------------


@pytest.mark.parametrize("name", [*NEW_OPTIMIZERS, "schedulefreeadamw"])
def test_names_and_config_round_trip(name):
    optimizer = optimizers.get(name)
    keras_name = KERAS_NAMES.get(name, name)
    assert optimizer.name == keras_name and optimizers.get(name.title()).name == keras_name
    config = optimizers.serialize(optimizer)
    assert config["class_name"] == type(optimizer).__name__
    restored = optimizers.deserialize(config)
    assert type(restored) is type(optimizer)
    assert restored.get_config() == optimizer.get_config()


def test_deserialize_with_a_schedule_and_custom_objects():
    optimizer = optimizers.Adamax(schedules.InverseTimeDecay(0.1, 4, 0.5), clipnorm=1.0)
    restored = optimizers.deserialize(optimizers.serialize(optimizer))
    assert isinstance(restored._learning_rate, schedules.InverseTimeDecay)
    assert restored.clipnorm == 1.0

    class Custom(optimizers.SGD):
        pass

    config = {"class_name": "Custom", "config": {"learning_rate": 0.5}}
    assert type(optimizers.deserialize(config, custom_objects={"Custom": Custom})) is Custom
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.deserialize(config)


def test_keras_defaults():
    assert optimizers.Lion().beta_2 == 0.99 and optimizers.Lion().learning_rate == 0.001
    assert optimizers.Adadelta().rho == 0.95
    schedule_free = optimizers.ScheduleFreeAdamW().get_config()
    assert (schedule_free["learning_rate"], schedule_free["epsilon"]) == (0.0025, 1e-8)
    assert schedule_free["name"] == "schedule_free_adam_w"
    ftrl = optimizers.Ftrl().get_config()
    assert ftrl["learning_rate_power"] == -0.5 and ftrl["initial_accumulator_value"] == 0.1
    adafactor = optimizers.Adafactor().get_config()
    assert (adafactor["beta_2_decay"], adafactor["epsilon_1"], adafactor["epsilon_2"]) == (
        -0.8,
        1e-30,
        1e-3,
    )


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        optimizers.Ftrl(l1_regularization_strength=-1.0)
    with pytest.raises(ValueError, match="learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)


# -- in training ----------------------------------------------------------------------


def make_model(optimizer, seed=2):
    engine.utils.set_random_seed(seed)
    model = Sequential([layers.Input((6,)), layers.Dense(5, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


@pytest.mark.parametrize("name", [*NEW_OPTIMIZERS, "schedulefreeadamw"])
def test_training_reduces_the_loss_and_resumes_exactly(backend, tmp_path, name):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x @ rng.normal(size=(6, 1))).astype("float32")
    learning_rate = {"adadelta": 1.0, "ftrl": 0.5}.get(name, 0.02)
    optimizer = {"class_name": name, "config": {"learning_rate": learning_rate}}
    uninterrupted = make_model(optimizer)
    history = uninterrupted.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    first = make_model(optimizer)
    first.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    first.save(tmp_path / "half.safetensors")
    resumed = load_model(tmp_path / "half.safetensors")
    assert type(resumed.optimizer).__name__.lower() == name
    resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(uninterrupted.get_weights(), resumed.get_weights(), strict=True):
        numpy.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
