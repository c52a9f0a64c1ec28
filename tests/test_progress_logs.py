"""``fit``'s progress bar reads a batch's logs only when it draws (at most every 0.05 s,
and only on a terminal): the logs of the other batches are not made, which on a device
backend spares a copy to the host per batch, and on any backend the metrics' results."""

import io
import warnings

import numpy
import pytest

import engine
from engine.models.trainer import Trainer
from engine.utils import progbar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def terminal(monkeypatch):
    """``terminal(interval)``: fit's bars draw into a terminal (where they redraw their
    running line) at most every ``interval`` seconds; returns what they wrote."""
    stream = _Terminal()
    original = progbar.Progbar.__init__

    def use(interval: float):
        def init(self, target, verbose=1, stream_=None, interval_=0.05):
            original(self, target, verbose, stream, interval=interval)

        monkeypatch.setattr(progbar.Progbar, "__init__", init)
        return stream

    return use


@pytest.fixture
def logs_made(monkeypatch):
    """How many times the training loop made its logs (``Trainer._logs``)."""
    calls = []
    original = Trainer._logs

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_logs", counted)
    return calls


def _model():
    engine.utils.set_random_seed(0)
    model = engine.models.Sequential([engine.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


def _data(n=64):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_a_bar_between_draws_reads_no_batch_logs(backend, terminal, logs_made, monkeypatch):
    """The first batch of an epoch draws; the others come within the bar's interval."""
    output = terminal(60.0)
    x, y = _data()
    history = _model().fit(x, y, epochs=2, batch_size=8, verbose=1)
    assert len(logs_made) == 2 * (1 + 1)  # per epoch: the first batch's, the epoch's
    drawn = output.getvalue()
    assert drawn.count("8/8") == 2 and "\r1/8" in drawn and "mae:" in drawn
    assert len(history.history["loss"]) == 2


def test_a_bar_that_draws_every_batch_reads_every_batchs_logs(
    backend, terminal, logs_made, monkeypatch
):
    output = terminal(0.0)
    x, y = _data()
    _model().fit(x, y, epochs=1, batch_size=8, verbose=1)
    assert len(logs_made) == 8 + 1
    assert "\r1/8" in output.getvalue() and "\r7/8" in output.getvalue()


def test_a_bar_into_a_file_reads_only_the_epochs_logs(backend, capsys, logs_made):
    """Not a terminal: the bar prints one line per epoch and never draws in between."""
    x, y = _data()
    _model().fit(x, y, epochs=2, batch_size=8, verbose=1)
    assert len(logs_made) == 2
    assert capsys.readouterr().out.count("8/8") == 2


def test_another_callback_still_gets_every_batchs_logs(backend, terminal, logs_made, monkeypatch):
    terminal(60.0)
    seen = []

    class Watch(engine.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(sorted(logs))

    x, y = _data()
    _model().fit(x, y, epochs=1, batch_size=8, verbose=1, callbacks=[Watch()])
    assert seen == [["loss", "mae"]] * 8 and len(logs_made) == 8 + 1


def test_a_diverging_device_run_between_draws_warns_once_from_the_logs(
    backend, device_like, terminal
):
    """On a device backend the loss of a batch between two draws is not read (reading it
    would be a copy to the host): the logs of the next draw, or of the epoch, catch the
    divergence (their running mean is not finite)."""
    terminal(60.0)
    x, y = _data()
    model = _model()
    model.compile(optimizer=engine.optimizers.SGD(learning_rate=1e36), loss="mse")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=2, batch_size=8, verbose=1)
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "in epoch 1" in messages[0], messages
    assert model.optimizer.iterations == 16


def test_a_progbar_subclass_with_its_own_batch_hook_gets_every_batchs_logs(backend, logs_made):
    seen = []

    class Verbose(engine.callbacks.ProgbarLogger):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])
            super().on_train_batch_end(batch, logs)

    x, y = _data()
    _model().fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[Verbose(verbose=1)])
    assert len(seen) == 8 and len(logs_made) == 8 + 1
