"""The cupy backend on a real GPU: kernels against the reference, and a training run.

Marked ``gpu`` and skipped, with the reason, where CuPy cannot run on a GPU.
On such a machine ``backends.available()`` includes "cupy", so the whole
backend-parametrized layer and training suite also runs on real CuPy:
``pytest -m "gpu or not gpu"`` (the default) covers both.
"""

import numpy
import pytest

import backends
import engine
from backends import cupy_backend
from backends.base import Backend

_reason = (
    "simulation mode is on (ENGINE_CUDA_SIM=1)"
    if cupy_backend.simulation_enabled()
    else cupy_backend.CupyBackend.unavailable_reason()
)
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(_reason is not None, reason=f"needs a real GPU: {_reason}"),
]


@pytest.fixture
def cupy_backend_instance():
    return backends.get("cupy")


def _close(actual, expected):
    numpy.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_kernels_match_reference_on_device(cupy_backend_instance, rng):
    gpu, reference = cupy_backend_instance, Backend()
    logits = rng.normal(size=(300, 10)).astype(numpy.float32)
    labels = rng.integers(0, 10, 300)
    dloss = rng.random(300).astype(numpy.float32)
    loss, probs = gpu.sparse_softmax_cross_entropy_forward(gpu.asarray(logits), gpu.asarray(labels))
    loss_ref, probs_ref = reference.sparse_softmax_cross_entropy_forward(logits, labels)
    _close(gpu.to_numpy(loss), loss_ref)
    grad = gpu.sparse_softmax_cross_entropy_backward(probs, gpu.asarray(labels), gpu.asarray(dloss))
    _close(
        gpu.to_numpy(grad),
        reference.sparse_softmax_cross_entropy_backward(probs_ref, labels, dloss),
    )

    param, grad_w = (rng.normal(size=(1000, 33)).astype(numpy.float32) for _ in range(2))
    m, v = numpy.zeros_like(param), numpy.zeros_like(param)
    device = [gpu.asarray(a) for a in (param, grad_w, m, v)]
    gpu.adam_update(*device, 0.01, 0.9, 0.999, 1e-7)
    reference.adam_update(param, grad_w, m, v, 0.01, 0.9, 0.999, 1e-7)
    _close(gpu.to_numpy(device[0]), param)

    indices = rng.integers(0, 50, (64, 7))
    rows = rng.normal(size=(64, 7, 16)).astype(numpy.float32)
    table = gpu.embedding_backward(gpu.asarray(indices), gpu.asarray(rows), 50)
    _close(gpu.to_numpy(table), reference.embedding_backward(indices, rows, 50))


def test_training_on_gpu_matches_numpy(rng):
    x = rng.normal(size=(64, 8)).astype(numpy.float32)
    y = rng.integers(0, 3, 64)
    weights, results = None, {}
    for name in ("numpy", "cupy"):
        with engine.use_backend(name):
            model = engine.models.Sequential(
                [
                    engine.layers.Dense(16, activation="relu", input_shape=(8,)),
                    engine.layers.Dense(3, activation="softmax"),
                ]
            )
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.build((None, 8))
            weights = weights or model.get_weights()
            model.set_weights(weights)
            model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
            results[name] = model.predict(x, verbose=0)
    assert type(results["cupy"]) is numpy.ndarray
    numpy.testing.assert_allclose(results["cupy"], results["numpy"], rtol=1e-4, atol=1e-5)
