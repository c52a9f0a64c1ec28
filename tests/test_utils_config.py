"""engine.config, engine.backend and the utilities: normalize, split_dataset, PyDataset,
plot_model, get_file."""

import random
import threading
import time

import numpy
import pytest

import engine
from engine import backend as K
from engine import config, layers, utils
from engine.data import Dataset
from engine.models import Model, Sequential

# -- config and backend ------------------------------------------------------------


def test_config_settings_as_keras():
    assert config.floatx() == K.floatx() == "float32"
    assert config.epsilon() == K.epsilon() == 1e-7  # keras.config.epsilon()
    assert config.image_data_format() == K.image_data_format() == "channels_last"
    config.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="image_data_format='channels_last' only"):
        config.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="`data_format` must be 'channels_last'"):
        config.set_image_data_format("nhwc")
    for name in ("numpy", "numba"):
        with engine.use_backend(name):
            assert config.backend() == K.backend() == name
    assert config.is_traceback_filtering_enabled()
    config.disable_traceback_filtering()
    assert not config.is_traceback_filtering_enabled()
    config.enable_traceback_filtering()
    assert config.is_traceback_filtering_enabled()


def test_set_epsilon_changes_epsilon_and_warns_about_the_kernels():
    try:
        with pytest.warns(UserWarning, match="cross-entropy clipping and the norm constraints"):
            K.set_epsilon(1e-5)
        assert K.epsilon() == 1e-5
        out = layers.Normalization(mean=0.0, variance=0.0, axis=None)(numpy.ones((1, 1)))
        numpy.testing.assert_allclose(out.numpy(), [[1e5]], rtol=1e-5)
    finally:
        config.set_epsilon(1e-7)
    with pytest.raises(ValueError, match="set_epsilon: expected a positive number"):
        config.set_epsilon(0)


def test_backend_helpers():
    K.clear_session()
    assert layers.Dense(2).name == "dense"
    assert layers.Dense(2).name == "dense_1"
    K.clear_session()
    assert layers.Dense(2).name == "dense"  # names start again, as after Keras's clear_session
    assert K.is_keras_tensor(layers.Input((3,)))
    assert not K.is_keras_tensor(numpy.zeros(3)) and not K.is_keras_tensor(engine.tensor([1.0]))
    assert K.standardize_dtype(None) == "float32" and K.standardize_dtype(numpy.int32) == "int32"
    assert K.is_float_dtype("float64") and K.is_int_dtype("uint8")
    assert utils.clear_session is K.clear_session


# -- normalize --------------------------------------------------------------------------


def test_normalize_as_keras():
    # keras.utils.normalize(np.array([[3., 4.], [0., 0.]])) -> [[0.6, 0.8], [0., 0.]]
    numpy.testing.assert_allclose(
        utils.normalize(numpy.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0.0, 0.0]]
    )
    x = numpy.array([[1.0, -3.0], [2.0, 5.0]])
    numpy.testing.assert_allclose(utils.normalize(x, order=1), x / abs(x).sum(1, keepdims=True))
    # along axis 0 (Keras 3 broadcasts the norms along the wrong axis there; not copied)
    numpy.testing.assert_allclose(utils.normalize(x, axis=0), x / numpy.linalg.norm(x, axis=0))
    tensor = utils.normalize(engine.tensor(x))
    assert isinstance(tensor, engine.Tensor)
    numpy.testing.assert_allclose(tensor.numpy(), x / numpy.linalg.norm(x, axis=1, keepdims=True))
    with pytest.raises(ValueError, match="normalize: `axis` 2 is out of range"):
        utils.normalize(x, axis=2)


# -- split_dataset ------------------------------------------------------------------------


def test_split_dataset_sizes_and_keras_order():
    x, y = numpy.arange(10), numpy.arange(10) * 2
    left, right = utils.split_dataset((x, y), left_size=0.8)
    assert [int(a) for a, _ in left] == list(range(8))
    assert [(int(a), int(b)) for a, b in right] == [(8, 16), (9, 18)]
    left, right = utils.split_dataset(x, left_size=3, right_size=0.5)  # a count and a fraction
    assert [int(a) for a in left] == [0, 1, 2] and [int(a) for a in right] == [5, 6, 7, 8, 9]
    # Keras shuffles the samples with Python's random: random.seed(seed); random.shuffle
    order = list(range(10))
    random.Random(42).shuffle(order)
    left, right = utils.split_dataset((x, y), right_size=4, shuffle=True, seed=42)
    assert [int(a) for a, _ in left] == order[:6] and [int(a) for a, _ in right] == order[6:]
    batched = next(iter(left.batch(6)))
    numpy.testing.assert_array_equal(batched[1], 2 * numpy.array(order[:6]))
    from_dataset = utils.split_dataset(Dataset.from_tensor_slices((x, y)), left_size=0.5)[1]
    assert [int(a) for a, _ in from_dataset] == [5, 6, 7, 8, 9]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({}, ValueError, "give `left_size` or `right_size`"),
        ({"left_size": 1.5}, ValueError, r"a float `left_size` is a fraction in \(0, 1\)"),
        ({"left_size": 10}, ValueError, r"an int `left_size` is a number of samples in \(0, 10\)"),
        ({"left_size": 0.6, "right_size": 0.6}, ValueError, "over 1"),
        ({"left_size": 7, "right_size": 5}, ValueError, "more than the 10 samples"),
        ({"left_size": "half"}, TypeError, "`left_size` must be an int, a float or None"),
        ({"left_size": 0.01}, ValueError, "leave the left split empty"),
    ],
)
def test_split_dataset_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        utils.split_dataset(numpy.arange(10), **kwargs)


def test_split_dataset_bad_data():
    with pytest.raises(ValueError, match="the same length, got \\[10, 9\\]"):
        utils.split_dataset((numpy.arange(10), numpy.arange(9)), left_size=0.5)
    with pytest.raises(TypeError, match="`dataset` must be an array"):
        utils.split_dataset({1, 2, 3}, left_size=0.5)


# -- PyDataset ---------------------------------------------------------------------------


class Batches(utils.PyDataset):
    def __init__(self, x, y, batch_size, delay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.delay = x, y, batch_size, delay
        self.epochs_ended = 0
        self.threads = set()

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay * (index % 3))  # finish out of order
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


def model_and_data(rng):
    x = rng.normal(size=(20, 3)).astype("float32")
    y = x @ numpy.array([[1.0], [-2.0], [0.5]], "float32")
    engine.utils.set_random_seed(0)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model, x, y


def test_pydataset_in_fit_evaluate_predict(rng):
    model, x, y = model_and_data(rng)
    weights = model.get_weights()
    data = Batches(x, y, batch_size=6)
    history = model.fit(data, epochs=3, verbose=0)
    assert data.epochs_ended >= 3  # on_epoch_end after each pass
    reference, _, _ = model_and_data(rng)
    reference.set_weights(weights)
    expected = reference.fit(x, y, batch_size=6, epochs=3, shuffle=False, verbose=0)
    numpy.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-5)
    numpy.testing.assert_allclose(model.evaluate(data, verbose=0), reference.evaluate(x, y, 6, 0))
    # batches of 6 against one of 20: BLAS may tile the rows differently (a float32 ulp apart
    # on AVX-512 OpenBLAS kernels)
    numpy.testing.assert_allclose(
        model.predict(data, verbose=0), reference.predict(x, verbose=0), rtol=1e-6
    )


def test_pydataset_workers_keep_the_order(rng):
    model, x, y = model_and_data(rng)
    threaded = Batches(x, y, batch_size=2, delay=0.01, workers=3, max_queue_size=4)
    serial = Batches(x, y, batch_size=2)
    numpy.testing.assert_allclose(
        model.predict(threaded, verbose=0), model.predict(serial, verbose=0)
    )
    assert len({n for n in threaded.threads if n.startswith("engine-pydataset")}) > 1
    assert [b[0].tolist() for b in threaded] == [b[0].tolist() for b in serial]
    normalization = layers.Normalization()
    normalization.adapt(threaded)  # adapt reads a PyDataset's x batches
    numpy.testing.assert_allclose(normalization.get_weights()[0], x.mean(0), rtol=1e-5)


def test_pydataset_settings():
    with pytest.raises(ValueError, match="use_multiprocessing=True is not supported"):
        Batches(numpy.zeros(4), numpy.zeros(4), 2, use_multiprocessing=True)
    with pytest.raises(ValueError, match="`workers` must be a positive integer, got 0"):
        Batches(numpy.zeros(4), numpy.zeros(4), 2, workers=0)

    class NoSuper(utils.PyDataset):
        def __init__(self):  # no super().__init__(): Keras warns and uses the defaults
            pass

        def __getitem__(self, index):
            return numpy.ones((2, 1)), numpy.ones((2, 1))

    endless = NoSuper()
    with pytest.warns(UserWarning, match="should call super"):
        assert endless.workers == 1
    assert endless.num_batches is None  # no __len__: endless, steps_per_epoch decides
    model = Sequential([layers.Input((1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(endless, epochs=2, steps_per_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 2


# -- plot_model and get_file -------------------------------------------------------------


def test_plot_model_writes_a_dot_graph(tmp_path):
    inputs = layers.Input((4,), name="features")
    hidden = layers.Dense(3, name="hidden")(inputs)
    skip = layers.Dense(3, name="skip")(inputs)
    model = Model(inputs, layers.Add(name="sum")([hidden, skip]))
    graph = utils.plot_model(model, to_file=tmp_path / "model.dot", show_shapes=True)
    assert (tmp_path / "model.dot").read_text() == graph
    assert graph.startswith("digraph") and '"features" -> "hidden";' in graph
    assert '"hidden" -> "sum";' in graph and '"skip" -> "sum";' in graph
    assert "output: (None, 3)" in graph and "params: 15" in graph
    chain = Sequential([layers.Input((2,)), layers.Dense(2, name="a"), layers.Dense(1, name="b")])
    assert '"a" -> "b";' in utils.plot_model(chain, to_file=tmp_path / "chain.dot")


def test_plot_model_names_graphviz_and_pydot_when_missing(tmp_path, monkeypatch):
    model = Sequential([layers.Input((2,)), layers.Dense(1)])
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ImportError, match="Graphviz program `dot`.*pydot"):
        utils.plot_model(model, to_file=tmp_path / "model.png")
    with pytest.raises(ValueError, match="cannot tell what to write .*model.bmpx"):
        utils.plot_model(model, to_file=tmp_path / "model.bmpx")


def test_get_file_is_refused():
    with pytest.raises(RuntimeError, match="does not download files.*'mnist.npz'"):
        utils.get_file("mnist.npz", origin="https://example.com/mnist.npz")
