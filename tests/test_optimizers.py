"""Optimizers follow Keras 3's formulas, checked against hand-written updates."""

import math
import warnings

import numpy
import pytest

import engine
from engine import optimizers
from engine.optimizers import schedules

GRADS = [numpy.array([0.5, -1.0, 2.0]), numpy.array([-0.25, 0.75, 1.0])]
START = numpy.array([1.0, -2.0, 0.5])


def run(optimizer, grads=GRADS, start=START):
    w = engine.tensor(start.copy(), requires_grad=True)
    for g in grads:
        w.grad = engine.tensor(g)
        optimizer.step([w])
        assert w.grad is None
    return w.numpy()


def test_sgd(backend):
    expected = START - 0.1 * GRADS[0] - 0.1 * GRADS[1]
    numpy.testing.assert_allclose(run(optimizers.SGD(0.1)), expected)


def test_sgd_momentum(backend):
    w, v = START.copy(), numpy.zeros(3)
    for g in GRADS:
        v = 0.9 * v - 0.1 * g
        w = w + v
    numpy.testing.assert_allclose(run(optimizers.SGD(0.1, momentum=0.9)), w)


def test_sgd_nesterov(backend):
    w, v = START.copy(), numpy.zeros(3)
    for g in GRADS:
        v = 0.9 * v - 0.1 * g
        w = w + 0.9 * v - 0.1 * g
    numpy.testing.assert_allclose(run(optimizers.SGD(0.1, momentum=0.9, nesterov=True)), w)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(backend, amsgrad):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    w, m, v, v_hat = START.copy(), numpy.zeros(3), numpy.zeros(3), numpy.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        v_hat = numpy.maximum(v_hat, v)
        w = w - alpha * m / (numpy.sqrt(v_hat if amsgrad else v) + eps)
    numpy.testing.assert_allclose(run(optimizers.Adam(lr, amsgrad=amsgrad)), w, rtol=1e-12)


def test_adamw_decays_weights_before_the_adam_step(backend):
    lr, wd = 0.01, 0.1
    w, m, v = START.copy(), numpy.zeros(3), numpy.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        w = w - w * wd * lr
        alpha = lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        m = m + (g - m) * 0.1
        v = v + (g * g - v) * 0.001
        w = w - alpha * m / (numpy.sqrt(v) + 1e-7)
    numpy.testing.assert_allclose(run(optimizers.AdamW(lr, weight_decay=wd)), w, rtol=1e-12)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop(backend, centered, momentum):
    lr, rho, eps = 0.01, 0.9, 1e-7
    w, vel, mom, avg = START.copy(), numpy.zeros(3), numpy.zeros(3), numpy.zeros(3)
    for g in GRADS:
        vel = rho * vel + (1 - rho) * g * g
        denominator = vel + eps
        if centered:
            avg = rho * avg + (1 - rho) * g
            denominator = vel - avg * avg + eps
        increment = lr * g / numpy.sqrt(denominator)
        if momentum:
            mom = momentum * mom + increment
            w = w - mom
        else:
            w = w - increment
    optimizer = optimizers.RMSprop(lr, momentum=momentum, centered=centered)
    numpy.testing.assert_allclose(run(optimizer), w, rtol=1e-12)


def test_adagrad(backend):
    lr, eps = 0.1, 1e-7
    w, acc = START.copy(), numpy.full(3, 0.1)
    for g in GRADS:
        acc = acc + g * g
        w = w - lr * g / numpy.sqrt(acc + eps)
    numpy.testing.assert_allclose(run(optimizers.Adagrad(lr)), w, rtol=1e-12)


def test_clipvalue_and_clipnorm(backend):
    g = numpy.array([3.0, -4.0, 0.0])
    clipped_value = run(optimizers.SGD(1.0, clipvalue=1.0), grads=[g])
    numpy.testing.assert_allclose(clipped_value, START - numpy.clip(g, -1, 1))
    clipped_norm = run(optimizers.SGD(1.0, clipnorm=1.0), grads=[g])
    numpy.testing.assert_allclose(clipped_norm, START - g / 5.0)
    unclipped = run(optimizers.SGD(1.0, clipnorm=10.0), grads=[g])
    numpy.testing.assert_allclose(unclipped, START - g)


def test_global_clipnorm_scales_all_gradients_together(backend):
    a = engine.tensor(numpy.zeros(2), requires_grad=True)
    b = engine.tensor(numpy.zeros(1), requires_grad=True)
    a.grad, b.grad = engine.tensor([3.0, 0.0]), engine.tensor([4.0])
    optimizers.SGD(1.0, global_clipnorm=1.0).step([a, b])
    numpy.testing.assert_allclose(a.numpy(), [-0.6, 0.0])
    numpy.testing.assert_allclose(b.numpy(), [-0.8])


def test_schedules_follow_keras():
    decay = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert decay(0) == pytest.approx(0.1) and decay(10) == pytest.approx(0.05)
    assert decay(5) == pytest.approx(0.1 * 0.5**0.5)
    stairs = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert stairs(9) == pytest.approx(0.1)
    cosine = schedules.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert cosine(0) == pytest.approx(1.0)
    assert cosine(50) == pytest.approx(0.1 + 0.9 * 0.5)
    assert cosine(1000) == pytest.approx(0.1)


def test_optimizer_uses_the_schedule_at_each_step(backend):
    schedule = schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    w = run(optimizers.SGD(schedule), grads=[numpy.ones(3), numpy.ones(3)])
    numpy.testing.assert_allclose(w, START - 1.0 - 0.5)


def test_lr_alias_warns():
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        optimizer = optimizers.SGD(lr=0.5)
    assert optimizer.learning_rate == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.SGD(learning_rate=0.5)


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown optimizer: 'adamm'.*adam.*sgd"):
        optimizers.get("adamm")


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate=-1)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=2)
    with pytest.raises(TypeError, match="unexpected keyword"):
        optimizers.Adam(beta1=0.9)
