"""A training step on a device backend copies nothing to the host and nothing small to
the device (issue 14): the divergence warning reads the loss once per epoch there, and
the loss reduction divides by the batch size as a Python number.

A device backend is faked on the host: ``_loss_on_host`` says no, and the step's loss
refuses to become a Python number. The CUDA simulator's transfer counts check the
reduction (run with ``ENGINE_CUDA_SIM=1 NUMBA_ENABLE_CUDASIM=1``).
"""

import warnings

import numpy
import pytest

import backends
import engine
from backends import cupy_backend
from engine.models.trainer import Trainer


def _data(n=64):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) > 0).astype("float32")


def _diverging_model():
    """On the current backend (the ``backend`` fixture's)."""
    engine.utils.set_random_seed(0)
    model = engine.models.Sequential([engine.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer=engine.optimizers.SGD(learning_rate=1e36), loss="mse")
    return model


class _DeviceLoss:
    """A loss still on the device: reading it as a number would be a host round trip."""

    def __float__(self):
        raise AssertionError("the training loop read the step's loss on the host")


@pytest.fixture
def device_like(monkeypatch):
    """Trainer methods patched so that the model behaves as on a GPU backend."""
    monkeypatch.setattr(Trainer, "_loss_on_host", lambda self: False)
    run_step = Trainer._run_step

    def run_step_on_device(self, *args, **kwargs):
        run_step(self, *args, **kwargs)
        return _DeviceLoss()

    monkeypatch.setattr(Trainer, "_run_step", run_step_on_device)


def test_device_fit_reads_the_loss_once_per_epoch(backend, device_like):
    x, y = _data()
    model = _diverging_model()
    with pytest.warns(RuntimeWarning) as record:
        model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    messages = [str(w.message) for w in record]
    assert len(messages) == 1, messages
    assert "in epoch 1" in messages[0] and "TerminateOnNaN" in messages[0]
    assert model.optimizer.iterations == 12  # training went on


def test_device_fit_with_batch_logs_names_the_batch(backend, device_like):
    x, y = _data()
    model = _diverging_model()
    seen = []

    class Watch(engine.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])

    with pytest.warns(RuntimeWarning) as record:
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Watch()])
    messages = [str(w.message) for w in record]
    assert len(messages) == 1 and "batch 1 of epoch 1" in messages[0], messages
    assert len(seen) == 8


def test_device_fit_of_a_finite_loss_warns_nothing(backend, device_like):
    x, y = _data()
    engine.utils.set_random_seed(0)
    model = engine.models.Sequential([engine.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer="sgd", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert all(numpy.isfinite(history.history["loss"]))


@pytest.mark.skipif(
    not cupy_backend.simulation_enabled(),
    reason="simulation mode is off: run with ENGINE_CUDA_SIM=1 NUMBA_ENABLE_CUDASIM=1",
)
@pytest.mark.parametrize("loss", ["mse", "sparse_categorical_crossentropy"])
def test_simulated_training_step_sends_nothing_to_the_device(loss):
    cupy = backends.get("cupy")
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(numpy.float32)
    y = rng.integers(0, 2, 8) if loss != "mse" else rng.normal(size=(8, 2)).astype("float32")
    with engine.use_backend("cupy"):
        model = engine.models.Sequential(
            [engine.layers.Dense(2, activation="softmax", input_shape=(3,))]
        )
        model.compile(optimizer="adam", loss=loss)
        model.train_on_batch(x, y)  # builds the model and the optimizer's slots
        xb, yb = cupy.asarray(x), cupy.asarray(y)
        before = dict(cupy.transfers)
        model._train_step(xb, yb)
    assert cupy.transfers == before
