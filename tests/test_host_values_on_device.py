"""Host values (NumPy arrays) given to ops, variables, layers and models on a GPU backend go
to the device first: CuPy's arrays refuse to mix with host ones (``TypeError``). Here a
NumPy backend on ``simulated_cupy``'s arrays, which refuse host operands as CuPy's do, runs
without the CUDA simulator."""

import numpy
import pytest

import backends
import engine
from backends.numpy_backend import NumpyBackend
from backends.simulated_cupy import DeviceArray, namespace
from engine import functional as F
from engine import layers


class _DeviceBackend(NumpyBackend):
    name = "fake-device"
    xp = namespace

    def asarray(self, data, dtype=None):
        return self.xp.array(data, dtype=dtype, copy=True)

    def to_numpy(self, array):
        return array.get()


@pytest.fixture
def device():
    return _DeviceBackend()


def _tensor(device, values, requires_grad=False):
    return engine.Tensor(device.asarray(values), requires_grad=requires_grad, backend=device)


def test_the_fake_device_refuses_host_operands(device):
    with pytest.raises(TypeError, match="host"):
        device.asarray(numpy.ones(3)) + numpy.ones(3)


def test_assign_add_and_sub_take_host_arrays(device):
    w = _tensor(device, numpy.ones((2, 2), "float32"), requires_grad=True)
    w.assign_add(numpy.full((2, 2), 2.0))
    w.assign_sub(numpy.ones((2, 2)))
    w.assign_add(0.5)
    numpy.testing.assert_array_equal(device.to_numpy(w.data), numpy.full((2, 2), 2.5))


def test_cross_entropies_take_host_targets(device):
    logits = _tensor(device, numpy.array([[0.5, -1.0, 2.0]], "float32"), requires_grad=True)
    targets = numpy.array([[0.0, 1.0, 0.3]], "float32")
    loss = F.sigmoid_cross_entropy(logits, targets)
    host = F.sigmoid_cross_entropy(engine.tensor(logits.numpy()), targets)
    assert isinstance(loss.data, DeviceArray)
    numpy.testing.assert_allclose(device.to_numpy(loss.data), host.numpy(), rtol=1e-6)
    sparse = F.sparse_softmax_cross_entropy(logits, numpy.array([2]))
    assert isinstance(sparse.data, DeviceArray)


def test_merge_layers_take_host_masks(device):
    x = _tensor(device, numpy.zeros((2, 3, 4), "float32"))
    m1 = numpy.array([[True, False, False], [True, True, False]])
    m2 = numpy.array([[False, False, True], [True, False, False]])
    mask = layers.Add().compute_mask([x, x], [m1, m2])
    assert isinstance(mask.data, DeviceArray)
    numpy.testing.assert_array_equal(device.to_numpy(mask.data), m1 | m2)
    joined = layers.Concatenate(axis=1).compute_mask([x, x], [m1, m2])
    assert isinstance(joined.data, DeviceArray)
    numpy.testing.assert_array_equal(device.to_numpy(joined.data), numpy.hstack([m1, m2]))


@pytest.mark.parametrize("name", [n for n in backends.available() if n != "numpy"])
def test_a_model_built_on_a_backend_keeps_its_loss_mean_there_after_the_block(name):
    """A model built in ``use_backend(name)`` and trained outside it (the current backend is
    numpy again): the loss, a bare array of ``name``, is averaged on ``name``."""
    x = numpy.ones((4, 3), "float32")
    with engine.use_backend(name) as backend:
        model = engine.models.Sequential([layers.Input((3,)), layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    loss = model.train_on_batch(x, numpy.zeros((4, 1), "float32"))
    assert model._loss_tracker._backend is backend
    assert numpy.isfinite(loss)
