"""A training step on a device backend copies nothing to the host and nothing small to
the device (issue 14): the divergence warning reads the loss once per epoch there, the
loss reduction divides by the batch size as a Python number, and the class labels of
``sparse_categorical_crossentropy`` are checked on the host targets (once per fit) or,
on the device, once per epoch.

A device backend is faked on the host: ``_loss_on_host`` says no, the step's loss
refuses to become a Python number, and so do the batches and every array computed from
them (``_DeviceArray``). The CUDA simulator's transfer counts check the reduction and a
whole fit (run with ``ENGINE_CUDA_SIM=1 NUMBA_ENABLE_CUDASIM=1``).
"""

import warnings

import numpy
import pytest

import backends
import engine
from backends import cupy_backend
from engine.losses import labels as labels_module
from engine.models.trainer import Trainer

simulation_only = pytest.mark.skipif(
    not cupy_backend.simulation_enabled(),
    reason="simulation mode is off: run with ENGINE_CUDA_SIM=1 NUMBA_ENABLE_CUDASIM=1",
)


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


def _labels(n=64):
    return numpy.random.default_rng(1).integers(0, 3, n)


def _classifier():
    """Keras's usual classifier: sparse cross-entropy, accuracy, Adam."""
    engine.utils.set_random_seed(0)
    model = engine.models.Sequential(
        [engine.layers.Dense(3, activation="softmax", input_shape=(4,))]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class _DeviceArray(numpy.ndarray):
    """A batch on the faked device, and what is computed from it: reading one as a Python
    number (``int(labels.max())``, ``bool(mask.any())``) would be a host round trip."""

    def _read(self, *args):
        raise AssertionError("the training step read a device array as a Python number")

    __float__ = __int__ = __index__ = __bool__ = item = tolist = _read


class _HostReads:
    """The arrays copied to the host by ``backend.to_numpy`` (the metrics' results)."""

    def __init__(self):
        self.count = 0


@pytest.fixture
def device_arrays(backend, monkeypatch):
    """Batches come to the model as ``_DeviceArray``, labels are checked as on a device, and
    the copies to the host are counted."""
    to_backend, to_numpy = Trainer._to_backend, backend.to_numpy
    reads = _HostReads()

    def to_device(self, array):
        array = to_backend(self, array)
        return array.view(_DeviceArray) if isinstance(array, numpy.ndarray) else array

    def counted_to_numpy(array):
        reads.count += 1
        return to_numpy(array)

    monkeypatch.setattr(Trainer, "_to_backend", to_device)
    monkeypatch.setattr(labels_module, "on_device", lambda backend: True)
    monkeypatch.setattr(backend, "to_numpy", counted_to_numpy)
    return reads


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


@simulation_only
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


@pytest.mark.parametrize("source", ["arrays", "dataset"])
def test_device_fit_of_a_classifier_reads_nothing_per_step(
    backend, device_like, device_arrays, source
):
    """Sparse labels checked on the host targets (arrays) or on the device once per epoch
    (a Dataset's batches), accuracy summed on the device: the reads do not grow with the
    number of steps."""
    x, _ = _data()
    y = _labels()
    reads = []
    for batch_size in (32, 8):
        model = _classifier()
        data = engine.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        device_arrays.count = 0
        if source == "arrays":
            history = model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0)
        else:
            history = model.fit(data, epochs=2, verbose=0)
        reads.append(device_arrays.count)
        assert model.optimizer.iterations == 2 * 64 // batch_size
        assert 0 <= history.history["accuracy"][-1] <= 1
    assert reads[0] == reads[1], reads


def test_device_labels_of_a_dataset_are_checked_at_the_epoch_end(
    backend, device_like, device_arrays
):
    x, _ = _data()
    y = _labels()
    y[40] = -1  # (a label of 3 would make the host kernels' indexing raise first)
    model = _classifier()
    data = engine.data.Dataset.from_tensor_slices((x, y)).batch(16)
    expected = (
        r"sparse_categorical_crossentropy: labels must be integers in \[0, 3\) for a model "
        r"with 3 outputs; got a label of -1 \(device labels are checked once per epoch\)"
    )
    with pytest.raises(ValueError, match=expected):
        model.fit(data, epochs=2, verbose=0)
    assert model.optimizer.iterations == 4  # the first epoch ran; no step read its labels


def test_device_fractional_labels_are_refused_at_the_epoch_end(backend, device_like, device_arrays):
    x, _ = _data()
    y = _labels().astype("float32")
    y[5] = 0.5
    data = engine.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(ValueError, match="labels must be whole numbers"):
        _classifier().fit(data, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "bad, message",
    [(3, r"in \[0, 3\).*got a label of 3\."), (-1, "got a label of -1"), (0.5, "whole numbers")],
)
def test_bad_labels_still_raise_the_clear_error(backend, bad, message):
    """On every backend (the simulated cupy one too), before the first update: the host
    targets are checked whole."""
    x, _ = _data()
    y = _labels().astype("float32" if bad == 0.5 else "int64")
    y[40] = bad
    model = _classifier()
    message = "sparse_categorical_crossentropy: labels must .*" + message
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert model.optimizer.iterations == 0
    with pytest.raises(ValueError, match=message):
        model.train_on_batch(x, y)
    with pytest.raises(ValueError, match=message):
        model.evaluate(x, y, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.fit(x[:8], y[:8], epochs=1, validation_data=(x, y), verbose=0)
    with pytest.raises(ValueError, match=message):
        model.loss(y, model(x))  # outside the loops: checked at once


@simulation_only
def test_simulated_fit_of_a_classifier_copies_only_the_batches():
    """In the simulator: per step, the batch's x and y go to the device and nothing comes
    back (the labels checked on the host, the accuracy summed on the device)."""
    cupy = backends.get("cupy")
    x, _ = _data()
    y = _labels()
    counts = []
    with engine.use_backend("cupy"):
        for batch_size in (32, 8):
            model = _classifier()
            model.fit(x, y, epochs=1, batch_size=64, verbose=0)  # builds everything
            before = dict(cupy.transfers)
            model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0)
            counts.append({key: cupy.transfers[key] - before[key] for key in before})
    assert counts[0]["to_host"] == counts[1]["to_host"] == 2, counts  # the epochs' logs
    assert counts[1]["to_device"] - counts[0]["to_device"] == 2 * (16 - 4), counts


@simulation_only
def test_simulated_logs_of_a_loss_and_an_accuracy_are_one_copy():
    """Batch logs (a progress bar's) and train_on_batch's results: the loss's and the
    accuracy's sums and counts come to the host together."""
    cupy = backends.get("cupy")
    x, _ = _data()
    y = _labels()
    seen = []

    class Watch(engine.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(dict(cupy.transfers))

    with engine.use_backend("cupy"):
        model = _classifier()
        history = model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[Watch()])
        before = dict(cupy.transfers)
        loss, accuracy = model.train_on_batch(x, y)
        assert cupy.transfers["to_host"] - before["to_host"] == 1
    assert [b["to_host"] - a["to_host"] for a, b in zip(seen, seen[1:])] == [1, 1, 1]
    assert 0 <= accuracy <= 1 and history.history["loss"][0] > 0


def test_device_logs_equal_the_host_ones(backend, monkeypatch):
    """The logs read in one copy (as on a device) equal those read state by state."""
    x, _ = _data()
    y = _labels()
    model = _classifier()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    per_state = model._logs()
    monkeypatch.setattr(labels_module, "on_device", lambda backend: True)
    assert model._logs() == per_state


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: engine.optimizers.Adam(clipnorm=0.01),
        lambda: engine.optimizers.SGD(0.1, global_clipnorm=0.01),
    ],
    ids=["clipnorm", "global_clipnorm"],
)
def test_device_gradient_clipping_reads_nothing(backend, device_like, device_arrays, optimizer):
    """The norms stay on the device: the clipped update is computed there, so no step
    reads a gradient's norm as a Python number (``_DeviceArray`` would raise)."""
    x, y = _data()
    engine.utils.set_random_seed(0)
    model = engine.models.Sequential(
        [engine.layers.Dense(2, input_shape=(4,)), engine.layers.Dense(1)]
    )
    model.compile(optimizer=optimizer(), loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    moved = [float(numpy.abs(w - b).max()) for w, b in zip(model.get_weights(), before)]
    assert all(0 < m for m in moved), moved


def test_device_attention_mask_is_not_read(backend):
    """The unfused softmax of the attention layers (scores returned, or dropout on them)
    applies a device mask without asking whether every row has a key (a read of the
    device, which ``_DeviceArray`` refuses), and gives what a host mask gives."""
    from engine.layers.attention import _masked_softmax

    rng = numpy.random.default_rng(0)
    scores = engine.Tensor(backend.asarray(rng.normal(size=(2, 1, 3, 4)).astype("float32")))
    mask = rng.random((2, 1, 3, 4)) > 0.3
    mask[0, 0, 1] = False  # a query row with no key: zero weights
    host = backend.to_numpy(_masked_softmax(scores, backend.asarray(mask)).data)
    device_mask = backend.asarray(mask)
    if backend.xp is numpy:  # a host backend's array faking one that refuses reads
        device_mask = device_mask.view(_DeviceArray)
    device = _masked_softmax(scores, device_mask)
    numpy.testing.assert_array_equal(backend.to_numpy(device.data), host)
    assert not host[0, 0, 1].any() and numpy.allclose(host[1].sum(axis=-1), 1)


def _integer_input_model(layer: str):
    """An Embedding, or a CategoryEncoding, reading integer ids in [0, 10)."""
    engine.utils.set_random_seed(0)
    reader = (
        [engine.layers.Embedding(10, 3), engine.layers.GlobalAveragePooling1D()]
        if layer == "embedding"
        else [engine.layers.CategoryEncoding(10, output_mode="count")]
    )
    model = engine.models.Sequential(
        [engine.layers.Input((5,), dtype="int64"), *reader, engine.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


#: each layer's error for the id -1, read at the epoch's end
_OUT_OF_RANGE = {
    "embedding": r"Embedding 'embedding(_\d+)?': expected indices in \[0, 10\) \(input_dim=10\), "
    r"but received index -1 \(device indices are checked once per epoch\)",
    "category_encoding": r"CategoryEncoding 'category_encoding(_\d+)?': input values must be in "
    r"the range 0 <= values < num_tokens with num_tokens=10; got values from -1 to 9 "
    r"\(device tokens are checked once per epoch\)",
}


@pytest.mark.parametrize("layer", sorted(_OUT_OF_RANGE))
def test_device_integer_inputs_are_read_once_per_epoch(backend, device_like, device_arrays, layer):
    """An Embedding's and a CategoryEncoding's range checks fold device ids into the
    running check (read with the epoch's logs): the reads do not grow with the steps."""
    rng = numpy.random.default_rng(0)
    x = rng.integers(0, 10, (32, 5))
    y = rng.normal(size=(32, 1)).astype("float32")
    reads = []
    for batch_size in (16, 4):
        device_arrays.count = 0
        _integer_input_model(layer).fit(x, y, epochs=2, batch_size=batch_size, verbose=0)
        reads.append(device_arrays.count)
    assert reads[0] == reads[1], reads


@pytest.mark.parametrize("layer", sorted(_OUT_OF_RANGE))
def test_device_id_out_of_range_raises_at_the_epoch_end(backend, device_like, device_arrays, layer):
    rng = numpy.random.default_rng(0)
    x = rng.integers(0, 10, (32, 5))
    x[20, 2] = -1  # (an id of 10 would make the host kernels' indexing raise first)
    x[3, 1] = 9
    y = rng.normal(size=(32, 1)).astype("float32")
    model = _integer_input_model(layer)
    with pytest.raises(ValueError, match=_OUT_OF_RANGE[layer]):
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.optimizer.iterations == 4  # the first epoch ran; no step read an id
