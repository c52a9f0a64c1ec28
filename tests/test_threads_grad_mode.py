"""Gradient recording is switched per thread, as in PyTorch."""

import sys
import threading

import numpy
import pytest

import engine
from engine import layers, models


@pytest.fixture
def frequent_thread_switches():
    """Make the interpreter switch threads often, so races show up in a short test."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def small_model(seed):
    engine.utils.set_random_seed(seed)
    model = models.Sequential(
        [layers.Input((8,)), layers.Dense(16, activation="tanh"), layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def train(model, x, y):
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    return model.get_weights()


def test_predicting_in_another_thread_does_not_change_training(backend, frequent_thread_switches):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    alone = train(small_model(0), x, y)

    trained, predictor = small_model(0), small_model(1)
    stop = threading.Event()
    predictions = []

    def predict_until_stopped():
        while not stop.is_set():
            predictions.append(predictor.predict(x, batch_size=1, verbose=0))

    thread = threading.Thread(target=predict_until_stopped)
    thread.start()
    try:
        concurrent = train(trained, x, y)
    finally:
        stop.set()
        thread.join()

    assert predictions, "the predicting thread never ran"
    assert engine.is_grad_enabled()
    for expected, actual in zip(alone, concurrent, strict=True):
        numpy.testing.assert_array_equal(actual, expected)


def test_interleaved_no_grad_blocks_leave_recording_on():
    # Thread A enters no_grad, then B; A leaves before B. With one process-wide
    # switch B would restore the False it saw on entry, leaving recording off.
    a_entered, b_entered = threading.Event(), threading.Event()
    main_checked, a_left = threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with engine.no_grad():
            seen["a"] = engine.is_grad_enabled()
            a_entered.set()
            main_checked.wait()
        a_left.set()

    def thread_b():
        a_entered.wait()
        with engine.no_grad():
            seen["b"] = engine.is_grad_enabled()
            b_entered.set()
            a_left.wait()
        seen["b_after"] = engine.is_grad_enabled()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for thread in threads:
        thread.start()
    b_entered.wait()
    main_during = engine.is_grad_enabled()
    main_checked.set()
    for thread in threads:
        thread.join()

    assert main_during is True
    assert seen == {"a": False, "b": False, "b_after": True}
    assert engine.is_grad_enabled()
    a = engine.tensor(numpy.ones(3), requires_grad=True)
    (a * a).sum().backward()
    numpy.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0, 2.0])


def test_new_threads_start_with_recording_on_even_under_no_grad():
    seen = []
    with engine.no_grad():
        thread = threading.Thread(target=lambda: seen.append(engine.is_grad_enabled()))
        thread.start()
        thread.join()
        assert not engine.is_grad_enabled()
    assert seen == [True]


def test_a_no_grad_decorator_shared_by_two_threads_restores_each_threads_mode():
    a_inside, b_done = threading.Event(), threading.Event()
    seen = {}

    @engine.no_grad()
    def inference(signal=None, wait=None):
        if signal is not None:
            signal.set()
        if wait is not None:
            wait.wait()

    def thread_a():
        inference(signal=a_inside, wait=b_done)
        seen["a"] = engine.is_grad_enabled()

    def thread_b():
        a_inside.wait()
        with engine.no_grad():
            inference()
            seen["b"] = engine.is_grad_enabled()
        b_done.set()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": True, "b": False}
