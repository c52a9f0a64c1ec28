"""Running out of device memory names the layer and the batch size, and suggests a fix."""

import numpy
import pytest

import engine
from engine import layers, models
from engine.tensor import Tensor


def _model_and_data():
    model = models.Sequential(
        [layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(3)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = numpy.random.default_rng(0).random((32, 6)).astype("float32")
    y = numpy.zeros((32, 3), dtype="float32")
    return model, x, y


def _raise_backend_oom(backend):
    error = backend.out_of_memory_errors[0]

    def call(*args, **kwargs):
        try:
            raised = error("out of memory allocating 1.2 GiB")
        except TypeError:  # CuPy's OutOfMemoryError(size, total)
            raised = error(1_288_490_189, 1 << 30)
        raise raised

    return call


def test_layer_out_of_memory_names_layer_and_batch_size(backend, monkeypatch):
    model, x, y = _model_and_data()
    failing = model.layers[-1]
    monkeypatch.setattr(failing, "call", _raise_backend_oom(backend))
    with pytest.raises(engine.DeviceOutOfMemoryError) as caught:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    message = str(caught.value)
    assert f"Layer '{failing.name}'" in message
    assert "batch size 16" in message and "smaller batch_size" in message
    assert backend.name in message
    assert isinstance(caught.value.__cause__, backend.out_of_memory_errors)

    with pytest.raises(engine.DeviceOutOfMemoryError, match="batch size 8"):
        model.predict(x, batch_size=8, verbose=0)


def test_backward_out_of_memory_names_the_batch_size(backend, monkeypatch):
    model, x, y = _model_and_data()
    monkeypatch.setattr(Tensor, "backward", _raise_backend_oom(backend))
    with pytest.raises(engine.DeviceOutOfMemoryError, match="backward pass of a batch of 16"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
