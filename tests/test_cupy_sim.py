"""The cupy backend's own code path, on the CPU, through Numba's CUDA simulator.

Run with ``ENGINE_CUDA_SIM=1 NUMBA_ENABLE_CUDASIM=1 pytest tests/test_cupy_sim.py``;
skipped otherwise. ``xp`` is NumPy here, so these tests check the backend's
dispatch, launch arithmetic, transfers and kernel bodies, not CuPy or real CUDA
(see ``backends/cupy_backend.py`` for what simulation leaves untested).
"""

import numpy
import pytest

import backends
import engine
from backends import cupy_backend, simulated_cupy
from backends.base import Backend
from engine import layers

pytestmark = pytest.mark.skipif(
    not cupy_backend.simulation_enabled(),
    reason="simulation mode is off: run with ENGINE_CUDA_SIM=1 NUMBA_ENABLE_CUDASIM=1",
)


@pytest.fixture
def cupy(monkeypatch):
    backend = backends.get("cupy")
    monkeypatch.setattr(backend, "fused_sequences", True)  # off by default in simulation
    return backend


@pytest.fixture(params=["simulator", "real launch"])
def launch(request, cupy):
    """Each kernel once with the simulator's small launch and once with the GPU's 256 x N."""
    saved = cupy.threads_per_block, cupy.max_blocks
    if request.param == "real launch":
        cupy.threads_per_block, cupy.max_blocks = cupy_backend.THREADS_PER_BLOCK, 2
    yield cupy
    cupy.threads_per_block, cupy.max_blocks = saved


@pytest.fixture
def reference():
    return Backend()


def _close(actual, expected, dtype):
    """``actual`` (a simulated device array, copied back) against host ``expected``."""
    tolerance = 1e-5 if dtype == numpy.float32 else 1e-12
    actual = actual.get() if isinstance(actual, simulated_cupy.DeviceArray) else actual
    numpy.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def _device(backend, *arrays):
    return [backend.asarray(a) for a in arrays]


def test_available_in_simulation():
    assert "cupy" in backends.available()
    backend = backends.get("cupy")
    assert backend.simulated and backend.xp is simulated_cupy.namespace


def test_simulated_arrays_refuse_the_host_as_cupys_do(cupy):
    """What the first run on a GPU found and simulation had let through."""
    device, host = cupy.asarray(numpy.ones(3, numpy.float32)), numpy.ones(3, numpy.float32)
    for mix in (
        lambda: device + host,
        lambda: cupy.xp.maximum(host, 0),
        lambda: cupy.xp.concatenate([device, host]),
        lambda: numpy.concatenate([device, host]),
        lambda: numpy.asarray(device),
    ):
        with pytest.raises(TypeError):
            mix()
    assert type(device + 1) is simulated_cupy.DeviceArray
    assert type(device.sum()) is simulated_cupy.DeviceArray and device.sum().ndim == 0
    assert float(device.sum()) == 3.0 and type(cupy.to_numpy(device)) is numpy.ndarray


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_softmax_cross_entropy_matches_reference(launch, reference, rng, dtype):
    logits = rng.normal(size=(9, 5)).astype(dtype)
    # rows summing to 0.5-1.5: Keras takes targets that are not distributions
    targets = (rng.dirichlet(numpy.ones(5), 9) * rng.uniform(0.5, 1.5, (9, 1))).astype(dtype)
    labels = rng.integers(0, 5, 9)
    dloss = rng.random(9).astype(dtype)
    for name, target in (
        ("softmax_cross_entropy", targets),
        ("sparse_" + "softmax_cross_entropy", labels),
    ):
        on_device = _device(launch, logits, target, dloss)
        loss, probs = getattr(launch, name + "_forward")(*on_device[:2])
        loss_ref, probs_ref = getattr(reference, name + "_forward")(logits, target)
        _close(loss, loss_ref, dtype)
        _close(probs, probs_ref, dtype)
        grad = getattr(launch, name + "_backward")(probs, *on_device[1:])
        _close(grad, getattr(reference, name + "_backward")(probs_ref, target, dloss), dtype)


def test_sparse_cross_entropy_kernel_gives_nan_for_a_label_out_of_range(launch, rng):
    """Device labels are checked once per epoch; until then the kernel must not read
    outside the row, and the bad rows' loss is NaN (the others are unchanged)."""
    logits, good_labels, bad_labels = _device(
        launch,
        rng.normal(size=(4, 3)).astype(numpy.float32),
        numpy.array([0, 1, 2, 1]),
        numpy.array([0, 3, 2, -1]),
    )
    good = launch.sparse_softmax_cross_entropy_forward(logits, good_labels)[0].get()
    loss = launch.sparse_softmax_cross_entropy_forward(logits, bad_labels)[0].get()
    assert numpy.isnan(loss[[1, 3]]).all()
    numpy.testing.assert_array_equal(loss[[0, 2]], good[[0, 2]])


def _optimizer_cases():
    return [
        ("sgd_update", 1, (0.1,), {}),
        ("sgd_momentum_update", 2, (0.1, 0.9, False), {}),
        ("sgd_momentum_update", 2, (0.1, 0.9, True), {}),
        ("adam_update", 3, (0.01, 0.9, 0.999, 1e-7), {}),
        ("adam_update", 3, (0.01, 0.9, 0.999, 1e-7), {"v_hat": True}),
        ("rmsprop_update", 2, (0.01, 0.9, 1e-7), {}),
        ("rmsprop_update", 2, (0.01, 0.9, 1e-7), {"momentum_buffer": True, "momentum": 0.5}),
        ("adagrad_update", 2, (0.01, 1e-7), {}),
    ]


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("case", _optimizer_cases(), ids=lambda case: case[0])
def test_optimizer_updates_match_reference(launch, reference, rng, case, dtype):
    name, n_arrays, scalars, options = case
    shape = (7, 11)
    arrays = [rng.normal(size=shape).astype(dtype) for _ in range(n_arrays)]
    arrays[-1] = numpy.abs(arrays[-1]) if name != "sgd_momentum_update" else arrays[-1]
    grad = rng.normal(size=shape).astype(dtype)
    extra = {
        key: (numpy.abs(rng.normal(size=shape)).astype(dtype) if value is True else value)
        for key, value in options.items()
    }
    ours = _device(launch, *arrays)
    ours_extra = {
        k: (launch.asarray(v) if isinstance(v, numpy.ndarray) else v) for k, v in extra.items()
    }
    getattr(launch, name)(ours[0], launch.asarray(grad), *ours[1:], *scalars, **ours_extra)
    getattr(reference, name)(arrays[0], grad, *arrays[1:], *scalars, **extra)
    for actual, expected in zip(ours, arrays):
        _close(actual, expected, dtype)
    for key, value in extra.items():
        if isinstance(value, numpy.ndarray):
            _close(ours_extra[key], value, dtype)


def test_optimizer_update_falls_back_for_non_contiguous_state(cupy, reference, rng):
    host = rng.normal(size=(6, 4)).astype(numpy.float32).T  # a transposed view
    grad = rng.normal(size=(4, 6)).astype(numpy.float32)
    param = cupy.asarray(host)  # a copy in the same (Fortran) order
    assert not param.flags.c_contiguous
    expected = host.copy()
    reference.sgd_update(expected, grad, 0.1)
    cupy.sgd_update(param, cupy.asarray(grad), 0.1)
    _close(param, expected, numpy.float32)


def test_embedding_backward_adds_repeated_indices(launch, reference, rng):
    indices = numpy.array([[1, 3, 1], [0, 1, 4]])
    grad = rng.normal(size=(2, 3, 5)).astype(numpy.float32)
    _close(
        launch.embedding_backward(*_device(launch, indices, grad), 6),
        reference.embedding_backward(indices, grad, 6),
        numpy.float32,
    )


@pytest.mark.parametrize(
    "pool_size, strides, padding",
    [((2, 2), (2, 2), "valid"), ((3, 3), (2, 2), "same"), ((2, 3), (1, 2), "same")],
)
def test_max_pool_backward_matches_reference(launch, reference, rng, pool_size, strides, padding):
    x = rng.normal(size=(2, 5, 6, 3)).astype(numpy.float32)
    y, argmax = reference.max_pool2d_forward(x, pool_size, strides, padding)
    dy = rng.normal(size=y.shape).astype(numpy.float32)
    _close(
        launch.max_pool2d_backward(
            *_device(launch, dy, argmax), x.shape, pool_size, strides, padding
        ),
        reference.max_pool2d_backward(dy, argmax, x.shape, pool_size, strides, padding),
        numpy.float32,
    )


def test_transfers_copy_both_ways(cupy):
    host = numpy.arange(4.0)
    device = cupy.asarray(host, dtype="float32")
    host[0] = 99.0
    assert device[0] == 0.0 and device.dtype == numpy.float32
    back = cupy.to_numpy(device)
    back[1] = 99.0
    assert device[1] == 1.0


def _small_model():
    model = engine.models.Sequential(
        [
            engine.layers.Dense(4, activation="relu", input_shape=(3,)),
            engine.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_fit_and_predict_take_and_return_numpy(cupy, rng):
    x = rng.normal(size=(8, 3)).astype(numpy.float32)
    y = rng.integers(0, 2, 8)
    with engine.use_backend("cupy"):
        model = _small_model()
        before = dict(cupy.transfers)
        history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        prediction = model.predict(x, batch_size=4, verbose=0)
    assert type(prediction) is numpy.ndarray and prediction.shape == (8, 2)
    assert len(history.history["loss"]) == 2
    # the batches went through the backend's transfers, not around them
    assert cupy.transfers["to_device"] > before["to_device"]
    assert cupy.transfers["to_host"] > before["to_host"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
def test_training_on_cupy_matches_numpy(cupy, rng, optimizer):
    x = rng.normal(size=(12, 3)).astype(numpy.float32)
    y = rng.integers(0, 2, 12)
    models, initial = {}, None
    for name in ("numpy", "cupy"):
        with engine.use_backend(name):
            model = _small_model()
            model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
            model.build((None, 3))
            if initial is None:
                initial = model.get_weights()
            model.set_weights(initial)
            model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
            models[name] = model
    for ours, expected in zip(models["cupy"].get_weights(), models["numpy"].get_weights()):
        numpy.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_model_to_moves_weights_and_optimizer_state(cupy, rng):
    x = rng.normal(size=(8, 3)).astype(numpy.float32)
    y = rng.integers(0, 2, 8)
    with engine.use_backend("numpy"):
        model = _small_model()
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    expected = model.predict(x, verbose=0)
    model.to("cupy")
    assert model.backend is cupy
    assert all(w.backend is cupy for w in model.weights)
    assert all(w.backend is cupy for w in model.optimizer._params)
    numpy.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # the state trains on cupy
    trained = model.predict(x, verbose=0)
    model.to("numpy")
    assert all(w.backend is backends.get("numpy") for w in model.weights)
    numpy.testing.assert_allclose(model.predict(x, verbose=0), trained, rtol=1e-6)


def test_mixing_cupy_and_numpy_tensors_names_both_and_the_fix():
    a = engine.tensor([1.0, 2.0], backend="cupy")
    b = engine.tensor([1.0, 2.0], backend="numpy")
    with pytest.raises(backends.BackendMismatchError) as error:
        a + b
    message = str(error.value)
    assert "'cupy'" in message and "'numpy'" in message and ".to(" in message


def test_out_of_memory_errors_are_exception_classes(cupy):
    errors = cupy.out_of_memory_errors
    assert errors and all(issubclass(e, BaseException) for e in errors)


def _sequence_case(rng, dtype, cell, masked, batch=5, units=3, timesteps=4):
    """Inputs of a ``{cell}_sequence_forward`` call and the gradients for its backward."""

    def normal(*shape):
        return rng.normal(size=shape).astype(dtype)

    gates = {"lstm": 4, "gru": 3}[cell]
    mask = rng.random((timesteps, batch)) > 0.3 if masked else None
    inputs = {
        "x_proj": normal(timesteps, batch, gates * units),
        "recurrent_kernel": normal(units, gates * units),
        "states": [normal(batch, units) for _ in range({"lstm": 2, "gru": 1}[cell])],
        "mask": mask,
    }
    grads = [normal(timesteps, batch, units)] + [normal(batch, units) for _ in inputs["states"]]
    return inputs, grads


def _run_sequence(backend, cell, inputs, grads, bias=None, on_device=True):
    """Forward and backward of a whole sequence: ``(forward outputs, backward outputs)``.

    The arrays are copied in first: the kernels consume ``x_proj`` and the cache."""
    put = backend.asarray if on_device else numpy.array
    x_proj, kernel = put(inputs["x_proj"]), put(inputs["recurrent_kernel"])
    states = [put(s) for s in inputs["states"]]
    mask = None if inputs["mask"] is None else put(inputs["mask"])
    if cell == "lstm":
        *forward, cache = backend.lstm_sequence_forward(x_proj, kernel, *states, mask)
    else:
        bias = None if bias is None else put(bias)
        *forward, cache = backend.gru_sequence_forward(x_proj, kernel, bias, *states, mask)
    forward = [numpy.array(f.get() if on_device else f) for f in forward]  # before the backward
    backward = getattr(backend, cell + "_sequence_backward")(
        *[put(g) for g in grads], kernel, cache, mask
    )
    return forward, [b.get() if on_device else b for b in backward]


def _check_sequence(backend, reference, rng, dtype, masked, cell, with_bias=True):
    inputs, grads = _sequence_case(rng, dtype, cell, masked)
    bias = rng.normal(size=3 * 3).astype(dtype) if cell == "gru" and with_bias else None
    ours = _run_sequence(backend, cell, inputs, grads, bias)
    expected = _run_sequence(reference, cell, inputs, grads, bias, on_device=False)
    for actual, wanted in zip(ours[0] + ours[1], expected[0] + expected[1]):
        _close(actual, wanted, dtype)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_sequence_matches_reference(cupy, reference, rng, dtype, masked, cell):
    """The whole time loop in one launch: outputs, final states and every gradient."""
    _check_sequence(cupy, reference, rng, dtype, masked, cell)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_sequence_with_the_real_launch(cupy, reference, rng, monkeypatch, cell):
    """256 threads a block (most idle at these widths), fewer blocks than rows."""
    monkeypatch.setattr(cupy, "threads_per_block", cupy_backend.THREADS_PER_BLOCK)
    monkeypatch.setattr(cupy, "max_blocks", 2)
    _check_sequence(cupy, reference, rng, numpy.float32, True, cell)


@pytest.mark.parametrize("layer_class", [layers.LSTM, layers.GRU])
def test_recurrent_layer_on_the_fused_path_matches_numpy(cupy, rng, layer_class):
    """The layer around the kernels (a padding mask, ``go_backwards``, given and returned
    states) gives the numpy backend's outputs and gradients, same weights and data."""
    x = rng.standard_normal((3, 4, 2))
    mask = numpy.array([[True, True, False, False], [True, True, True, True], [False] * 4])
    n_states = 2 if layer_class is layers.LSTM else 1
    states = [rng.standard_normal((3, 3)) for _ in range(n_states)]
    results, weights = [], None
    for name in ("numpy", "cupy"):
        with engine.use_backend(name):
            layer = layer_class(3, return_sequences=True, return_state=True, go_backwards=True)
            inputs = [engine.tensor(a, requires_grad=True) for a in (x, *states)]
            layer(inputs[0])
            weights = weights or [rng.standard_normal(w.shape) for w in layer.get_weights()]
            layer.set_weights(weights)
            outputs = layer(inputs[0], mask=engine.tensor(mask), initial_state=inputs[1:])
            total = sum((o * (k + 1.0)).sum() for k, o in enumerate(outputs))
            total.backward()
            arrays = [o.numpy() for o in outputs] + [t.grad.numpy() for t in inputs]
            results.append(arrays + [w.grad.numpy() for w in layer.weights])
    assert len(results[0]) == len(results[1])
    for actual, wanted in zip(results[1], results[0]):
        _close(actual, wanted, numpy.float32)  # the layers' default dtype


def test_gru_sequence_without_recurrent_bias(cupy, reference, rng):
    _check_sequence(cupy, reference, rng, numpy.float64, True, "gru", with_bias=False)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_sequence_runs_one_launch_each_way(cupy, rng, monkeypatch, cell):
    """No per-step launches or products: one kernel forward, one backward, and the
    recurrent kernel's gradient as one GEMM over all steps."""
    inputs, grads = _sequence_case(rng, numpy.float32, cell, masked=True)
    launches, products = [], []
    launch_grid, matmul = cupy._launch_grid, cupy.xp.matmul

    def counted_launch(kernel, *rest):
        launches.append(kernel)
        launch_grid(kernel, *rest)

    def counted_matmul(*args, **kwargs):
        products.append(args)
        return matmul(*args, **kwargs)

    monkeypatch.setattr(cupy, "_launch_grid", counted_launch)
    monkeypatch.setattr(cupy.xp, "matmul", counted_matmul)
    _run_sequence(cupy, cell, inputs, grads)
    recurrent = cupy._recurrent
    assert launches == [
        getattr(recurrent, f"{cell}_sequence_forward"),
        getattr(recurrent, f"{cell}_sequence_backward"),
    ]
    assert len(products) == 1


@pytest.mark.parametrize(
    "activations, dropout", [(("relu", "sigmoid"), False), (("tanh", "sigmoid"), True)]
)
def test_recurrent_sequence_outside_the_kernels_falls_back(
    cupy, reference, rng, activations, dropout
):
    """Other activations and recurrent dropout take the generic per-step path."""
    inputs, grads = _sequence_case(rng, numpy.float64, "lstm", masked=False)
    recurrent_mask = (rng.random((4, 5, 3)) > 0.5) * 2.0 if dropout else None
    results = []
    for backend, put in ((cupy, cupy.asarray), (reference, numpy.array)):
        x_proj, kernel = put(inputs["x_proj"]), put(inputs["recurrent_kernel"])
        states = [put(s) for s in inputs["states"]]
        rec_mask = None if recurrent_mask is None else put(recurrent_mask)
        *forward, cache = backend.lstm_sequence_forward(
            x_proj, kernel, *states, None, *activations, rec_mask
        )
        assert cache[2] is not None  # the generic path's pre-activations
        results.append([backend.to_numpy(f) for f in forward])
    for actual, wanted in zip(*results):
        _close(actual, wanted, numpy.float64)


def _no_host_round_trip(backend, monkeypatch):
    """Make any copy to the host fail the test, and return the transfer counts before."""

    def to_numpy(array):
        raise AssertionError("the device path copied an array to the host")

    monkeypatch.setattr(backend, "to_numpy", to_numpy)
    return dict(backend.transfers)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_erf_runs_on_the_device_and_matches_reference(launch, reference, rng, monkeypatch, dtype):
    x = (3 * rng.normal(size=(7, 5))).astype(dtype)
    x[0, :4] = [0.0, -0.0, 6.0, -30.0]
    # contiguous, a transposed view, 1-D, 0-D, empty
    for case in (x, x.T, x[0], x[1, 1, ...], x[:0]):
        expected = reference.erf(case)
        on_device = launch.asarray(case)
        before = _no_host_round_trip(launch, monkeypatch)
        actual = launch.erf(on_device)
        assert launch.transfers == before
        assert actual.dtype == dtype and actual.shape == case.shape
        _close(actual, expected, dtype)
        monkeypatch.undo()


def test_gelu_stays_on_the_device(cupy, reference, rng, monkeypatch):
    x = rng.normal(size=(4, 6)).astype(numpy.float32)
    dy = rng.normal(size=x.shape).astype(numpy.float32)
    expected = reference.gelu_forward(x), reference.gelu_backward(dy, x, None)
    x, dy = _device(cupy, x, dy)
    before = _no_host_round_trip(cupy, monkeypatch)
    actual = cupy.gelu_forward(x), cupy.gelu_backward(dy, x, None)
    assert cupy.transfers == before
    for ours, wanted in zip(actual, expected):
        _close(ours, wanted, numpy.float32)


def test_erf_of_other_dtypes_falls_back(cupy, reference):
    x = numpy.arange(-2, 3, dtype=numpy.float16)
    _close(cupy.erf(cupy.asarray(x)), reference.erf(x), numpy.float32)
    assert cupy.erf(cupy.asarray(x)).dtype == numpy.float16


def test_without_a_kernel_compiler_every_override_takes_the_generic_path(
    cupy, reference, monkeypatch, rng
):
    """``custom_kernels`` off (numba.cuda failed its probe on a GPU): no launch, the
    reference's results."""

    def no_launch(*args):
        raise AssertionError("a custom kernel was launched")

    monkeypatch.setattr(cupy, "custom_kernels", False)
    monkeypatch.setattr(cupy, "_launch", no_launch)
    logits, labels = rng.normal(size=(6, 4)).astype(numpy.float32), rng.integers(0, 4, 6)
    loss, probs = cupy.sparse_softmax_cross_entropy_forward(*_device(cupy, logits, labels))
    numpy.testing.assert_array_equal(
        loss.get(), reference.sparse_softmax_cross_entropy_forward(logits, labels)[0]
    )
    host, grad = rng.normal(size=(2, 5, 3)).astype(numpy.float32)
    param, grad_on_device, *states = _device(cupy, host, grad, *[numpy.zeros_like(host)] * 2)
    expected = host.copy()
    zeros = [numpy.zeros_like(host) for _ in range(2)]
    reference.adam_update(expected, grad, *zeros, 0.01, 0.9, 0.999, 1e-7)
    cupy.adam_update(param, grad_on_device, *states, 0.01, 0.9, 0.999, 1e-7)
    numpy.testing.assert_array_equal(param.get(), expected)
    numpy.testing.assert_array_equal(cupy.erf(cupy.asarray(logits)).get(), reference.erf(logits))
    q = rng.normal(size=(1, 2, 3, 4)).astype(numpy.float32)
    d = cupy.asarray(q)
    numpy.testing.assert_array_equal(
        cupy.attention_forward(d, d, d)[0].get(), reference.attention_forward(q, q, q)[0]
    )
