"""Keras 3's ``utils``, ``saving`` and ``config`` helpers: registration and serialization
of objects through the registries, batches, dtypes and symbolic tensors, ``Config``,
``model_to_dot``, interactive logging, ``timeseries_dataset_from_array`` and images.

Expected values are Keras 3.15's (PyTorch backend) where it can run them, written down
with the call that produced them; otherwise Keras's own tests and docstrings, or the
definition worked out in the test.
"""

import logging
import sys

import numpy
import pytest

import engine
from engine import layers, losses, metrics, regularizers, utils

# -- registration and serialization -----------------------------------------------


@pytest.fixture
def clean_custom_objects():
    before = dict(utils.get_custom_objects())
    yield
    for key in list(utils.get_custom_objects()):
        if key not in before:
            del utils.get_custom_objects()[key]


def test_serialization_names_are_shared():
    for name in ("CustomObjectScope", "deserialize_keras_object", "get_custom_objects",
                 "get_registered_name", "get_registered_object", "register_keras_serializable",
                 "serialize_keras_object"):  # fmt: skip
        assert getattr(engine.saving, name) is getattr(utils, name)
    assert utils.custom_object_scope is utils.CustomObjectScope
    for name in ("enable_interactive_logging", "disable_interactive_logging",
                 "is_interactive_logging_enabled"):  # fmt: skip
        assert getattr(utils, name) is getattr(engine.config, name)


def test_serialize_keras_object_writes_keras_dicts():
    # Keras 3.15's `keras.utils.serialize_keras_object(...)` of the same objects
    assert utils.serialize_keras_object(engine.activations.relu) == {
        "module": "builtins",
        "class_name": "function",
        "config": "relu",
        "registered_name": "function",
    }
    assert utils.serialize_keras_object(losses.mean_squared_error)["config"] == (
        "mean_squared_error"
    )
    assert utils.serialize_keras_object(regularizers.L2(0.1)) == {
        "module": "keras.regularizers",
        "class_name": "L2",
        "config": {"l2": 0.1},
        "registered_name": None,
    }
    assert utils.serialize_keras_object(engine.constraints.MaxNorm(2)) == {
        "module": "keras.constraints",
        "class_name": "MaxNorm",
        "config": {"max_value": 2, "axis": 0},
        "registered_name": None,
    }
    assert utils.serialize_keras_object(numpy.array([1.0, 2.0])) == {
        "class_name": "__numpy__",
        "config": {"value": [1.0, 2.0], "dtype": "float64"},
    }
    assert utils.serialize_keras_object([1, "a", None, (2, 3)]) == [1, "a", None, (2, 3)]
    assert utils.serialize_keras_object(numpy.float32(2.5)) == 2.5
    dense = utils.serialize_keras_object(layers.Dense(2))
    assert (dense["module"], dense["class_name"], dense["registered_name"]) == (
        "keras.layers", "Dense", None)  # fmt: skip
    for obj, module in [
        (engine.optimizers.Adam(0.01), "keras.optimizers"),
        (engine.initializers.GlorotUniform(seed=1), "keras.initializers"),
        (losses.Huber(delta=2.0), "keras.losses"),
        (metrics.AUC(num_thresholds=50), "keras.metrics"),
        (engine.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9), "keras.optimizers.schedules"),
        (regularizers.OrthogonalRegularizer(0.2), "keras.regularizers"),
    ]:
        config = utils.serialize_keras_object(obj)
        assert config["module"] == module and config["class_name"] == type(obj).__name__
        again = utils.deserialize_keras_object(config)
        assert type(again) is type(obj) and again.get_config() == obj.get_config()


def test_deserialize_keras_object_reads_keras_dicts():
    # dicts written by Keras 3.15's serialize_keras_object
    loss = utils.deserialize_keras_object(
        {
            "module": "keras.losses",
            "class_name": "MeanSquaredError",
            "config": {"name": "mean_squared_error", "reduction": "sum"},
            "registered_name": None,
        }
    )
    assert type(loss) is losses.MeanSquaredError and loss.reduction == "sum"
    schedule = utils.deserialize_keras_object(
        {
            "module": "keras.optimizers.schedules",
            "class_name": "ExponentialDecay",
            "config": {
                "initial_learning_rate": 0.1,
                "decay_steps": 10,
                "decay_rate": 0.9,
                "staircase": False,
                "name": "ExponentialDecay",
            },
            "registered_name": None,
        }
    )
    assert schedule.get_config()["decay_steps"] == 10
    relu = utils.deserialize_keras_object(
        {"module": "builtins", "class_name": "function", "config": "relu",
         "registered_name": "function"})  # fmt: skip
    assert relu is engine.activations.relu
    assert utils.deserialize_keras_object("relu") == "relu"  # strings stay strings, as Keras
    array = utils.deserialize_keras_object(
        {"class_name": "__numpy__", "config": {"value": [1, 2], "dtype": "int32"}}
    )
    assert array.dtype == numpy.int32 and array.tolist() == [1, 2]
    assert utils.deserialize_keras_object({"a": (1, 2), "b": None}) == {"a": [1, 2], "b": None}
    with pytest.raises(TypeError, match="Could not locate class 'Dense'"):
        utils.deserialize_keras_object({"class_name": "Dense", "config": {"units": 2}})
    with pytest.raises(ValueError, match="Unknown layer: 'Dense2'"):
        utils.deserialize_keras_object(
            {"module": "keras.layers", "class_name": "Dense2", "config": {}}
        )
    with pytest.raises(TypeError, match="Could not locate function 'nope'"):
        utils.deserialize_keras_object({"class_name": "function", "config": "nope"})


def test_built_layers_round_trip_with_their_build_config(backend):
    dense = layers.Dense(3, activation="tanh")
    dense(engine.tensor(numpy.ones((2, 4), dtype="float32")))
    config = utils.serialize_keras_object(dense)
    assert config["build_config"] == {"input_shape": [2, 4]}
    again = utils.deserialize_keras_object(config)
    assert again.built and [w.shape for w in again.weights] == [(4, 3), (3,)]


def test_register_keras_serializable_reaches_every_registry(
    backend, clean_custom_objects, tmp_path
):
    @utils.register_keras_serializable(package="tests")
    class FactorScale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    @utils.register_keras_serializable("tests")
    def scaled_tanh(x):
        return engine.ops.tanh(x) * 2.0

    @engine.saving.register_keras_serializable(package="tests", name="Halved")
    class HalfMSE(losses.Loss):
        def call(self, y_true, y_pred):
            return losses.mean_squared_error(y_true, y_pred) * 0.5

    assert utils.get_registered_name(FactorScale) == "tests>FactorScale"
    assert utils.get_registered_name(layers.Dense) == "Dense"
    assert utils.get_registered_object("tests>FactorScale") is FactorScale
    assert utils.get_custom_objects()["tests>scaled_tanh"] is scaled_tanh
    assert utils.get_custom_objects()["tests>Halved"] is HalfMSE
    assert type(losses.get("HalfMSE")) is HalfMSE and type(losses.get("tests>Halved")) is HalfMSE
    config = utils.serialize_keras_object(FactorScale(3.0))
    assert (
        config["registered_name"] == "tests>FactorScale" and config["class_name"] == "FactorScale"
    )
    assert utils.deserialize_keras_object(config).factor == 3.0
    assert utils.serialize_keras_object(scaled_tanh)["config"] == "tests>scaled_tanh"
    # a model with all three saves and loads with no custom_objects
    model = engine.Sequential(
        [layers.Input((3,)), FactorScale(0.5), layers.Dense(2, activation="scaled_tanh")]
    )
    model.compile(optimizer="sgd", loss="HalfMSE")
    x = numpy.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    model.fit(x, numpy.zeros((4, 2), "float32"), epochs=1, verbose=0)
    path = tmp_path / "custom.keras"
    model.save(path)
    loaded = engine.saving.load_model(path)
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.loss) is HalfMSE
    # unregistering takes them out again
    utils.get_custom_objects().clear()
    with pytest.raises(ValueError, match="Unknown layer: 'FactorScale'"):
        layers.deserialize({"class_name": "FactorScale", "config": {}})
    with pytest.raises(ValueError, match="Unknown activation: 'scaled_tanh'"):
        engine.activations.get("scaled_tanh")
    with pytest.raises(ValueError, match="Unknown loss: 'HalfMSE'"):
        losses.get("HalfMSE")


def test_custom_objects_dict_and_scope(clean_custom_objects):
    class Doubled(losses.Loss):
        def call(self, y_true, y_pred):
            return losses.mean_absolute_error(y_true, y_pred) * 2.0

    with utils.CustomObjectScope({"Doubled": Doubled}) as scope:
        assert scope.custom_objects == {"Doubled": Doubled}
        assert type(losses.get("Doubled")) is Doubled
        assert utils.get_registered_object("Doubled") is Doubled
        with engine.saving.CustomObjectScope({"Other": Doubled}):
            assert utils.get_registered_object("Doubled") is Doubled  # scopes nest
        config = {"module": "tests", "class_name": "Doubled", "config": {}}
        assert type(utils.deserialize_keras_object(config)) is Doubled
    assert utils.get_registered_object("Doubled") is None
    assert "Doubled" not in utils.get_custom_objects()  # a scope is not the global dict
    with pytest.raises(ValueError, match="Unknown loss: 'Doubled'"):
        losses.get("Doubled")
    loaded = utils.deserialize_keras_object(
        {"module": "tests", "class_name": "Doubled", "config": {}},
        custom_objects={"Doubled": Doubled},
    )
    assert type(loaded) is Doubled
    assert utils.get_registered_object("x", module_objects={"x": 1}) == 1
    utils.get_custom_objects()["Doubled"] = Doubled
    assert type(losses.get("doubled")) is Doubled
    del utils.get_custom_objects()["Doubled"]
    with pytest.raises(ValueError, match="Unknown loss: 'doubled'"):
        losses.get("doubled")


def test_registration_errors():
    with pytest.raises(TypeError, match="expected a class or a function"):
        utils.register_keras_serializable()(3)

    class NoConfig:
        pass

    with pytest.raises(ValueError, match="which has no get_config"):
        utils.register_keras_serializable()(NoConfig)
    with pytest.raises(ValueError, match="cannot serialize the function"):
        utils.serialize_keras_object(lambda x: x)


# -- data, tensors and small helpers ------------------------------------------------


def test_pack_and_unpack_are_keras():
    # Keras 3.15: pack(1) -> 1, pack([1, 2]) -> ([1, 2],), pack(1, 2) -> (1, 2)
    assert utils.pack_x_y_sample_weight(1) == 1
    assert utils.pack_x_y_sample_weight([1, 2]) == ([1, 2],)
    assert utils.pack_x_y_sample_weight(1, 2) == (1, 2)
    assert utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert utils.unpack_x_y_sample_weight((1,)) == (1, None, None)
    assert utils.unpack_x_y_sample_weight([1, 2]) == (1, 2, None)
    assert utils.unpack_x_y_sample_weight(5) == (5, None, None)
    assert utils.Sequence is utils.PyDataset


def test_dtypes_and_keras_tensors():
    # Keras 3.15 on PyTorch: [None, float, int, bool, "int", numpy.float64, "float16", "uint8"]
    given = [None, float, int, bool, "int", numpy.float64, "float16", "uint8"]
    names = [utils.standardize_dtype(d) for d in given]
    assert names == ["float32", "float32", "int32", "bool", "int32", "float64", "float16", "uint8"]
    assert utils.standardize_dtype(str) == "string"
    with pytest.raises(ValueError, match="Invalid dtype"):
        utils.standardize_dtype("floatt")
    inputs = layers.Input((2,))
    assert utils.is_keras_tensor(inputs) and not utils.is_keras_tensor(numpy.ones(2))


def test_get_source_inputs_walks_the_graph():
    a, b = layers.Input((3,), name="a"), layers.Input((3,), name="b")
    shared = layers.Dense(3)
    merged = layers.Add()([shared(a), shared(b)])
    out = layers.Dense(1)(layers.Concatenate()([merged, a]))
    # Keras's order: depth first, first inputs first, each input once
    assert [id(t) for t in utils.get_source_inputs(out)] == [id(a), id(b)]
    assert utils.get_source_inputs(a)[0] is a
    assert utils.get_source_inputs(5) == 5
    deep = a
    for _ in range(1500):  # no recursion limit
        deep = layers.Activation("linear")(deep)
    assert utils.get_source_inputs(deep)[0] is a


def test_config_is_keras():
    config = utils.Config(learning_rate=0.1, momentum=0.9)
    config.seed = 123
    config["use_ema"] = True
    assert config.learning_rate == 0.1 and config["seed"] == 123 and "use_ema" in config
    assert list(config) == ["learning_rate", "momentum", "seed", "use_ema"]  # sorted
    assert config.as_dict() == {"learning_rate": 0.1, "momentum": 0.9, "seed": 123,
                                "use_ema": True}  # fmt: skip
    assert config.to_json() == (
        '{"learning_rate": 0.1, "momentum": 0.9, "seed": 123, "use_ema": true}'
    )
    assert repr(utils.Config(a=1)) == "<Config {'a': 1}>"
    with pytest.raises(AttributeError, match="Did you mean 'momentum'"):
        config.momentun  # noqa: B018
    config.freeze()
    assert config.frozen
    with pytest.raises(ValueError, match="config is frozen"):
        config.seed = 1
    with pytest.raises(ValueError, match="config is frozen"):
        config.update(seed=2)
    config.unfreeze()
    config.update(seed=2)
    assert config.pop("seed") == 2 and len(config) == 3


def test_model_to_dot(backend):
    model = engine.Sequential([layers.Input((4,)), layers.Dense(3, name="hidden"),
                               layers.Dense(1, name="out")])  # fmt: skip
    graph = utils.model_to_dot(model)  # Keras's default: no shapes
    assert graph.startswith("digraph") and '"hidden" -> "out";' in graph
    assert "output:" not in graph
    assert "output: (None, 3)" in utils.model_to_dot(model, show_shapes=True, rankdir="LR")
    with pytest.raises(ValueError, match="`rankdir` must be 'TB' or 'LR'"):
        utils.model_to_dot(model, rankdir="BT")


def test_interactive_logging_goes_to_the_logger(caplog, capsys):
    assert utils.is_interactive_logging_enabled()
    engine.config.disable_interactive_logging()
    try:
        assert not engine.config.is_interactive_logging_enabled()
        with caplog.at_level(logging.INFO, logger="engine"):
            bar = utils.Progbar(4, verbose=1)
            bar.update(2, {"loss": 0.5})
            bar.update(4, {"loss": 0.25}, finalize=True)
            engine.utils.progbar.print_msg("a message")
        assert capsys.readouterr().out == ""
        messages = [record.getMessage() for record in caplog.records]
        assert len(messages) == 2 and messages[0].startswith("4/4") and "loss: 0.2500" in (
            messages[0]) and messages[1] == "a message"  # fmt: skip
    finally:
        engine.config.enable_interactive_logging()
    engine.utils.progbar.print_msg("to stdout")
    assert capsys.readouterr().out == "to stdout\n"


# -- timeseries_dataset_from_array ---------------------------------------------------


def test_timeseries_windows_are_keras():
    # Keras 3's docstring: sequence_length=10, sampling_rate=2, sequence_stride=3
    data = numpy.arange(100)
    (batch,) = list(
        utils.timeseries_dataset_from_array(
            data, None, sequence_length=10, sampling_rate=2, sequence_stride=3
        )
    )
    assert batch.shape == (28, 10)
    numpy.testing.assert_array_equal(batch[0], numpy.arange(0, 20, 2))
    numpy.testing.assert_array_equal(batch[1], numpy.arange(3, 23, 2))
    numpy.testing.assert_array_equal(batch[2], numpy.arange(6, 26, 2))
    # the docstring says the last starts at 78, but Keras's code starts windows at
    # arange(0, 100 - (10 - 1) * 2, 3), whose last is 81 (ending at 99, within the data)
    numpy.testing.assert_array_equal(batch[-1], numpy.arange(81, 101, 2))
    # Keras's test_basics: 19 batches of 5 (the last of 2), targets of the first steps
    batches = list(
        utils.timeseries_dataset_from_array(data, data * 2, sequence_length=9, batch_size=5)
    )
    assert len(batches) == 19 and batches[-1][0].shape == (2, 9)
    for i, (inputs, targets) in enumerate(batches):
        numpy.testing.assert_array_equal(targets, inputs[:, 0] * 2)
        numpy.testing.assert_array_equal(inputs[0], numpy.arange(i * 5, i * 5 + 9))
    # test_timeseries_regression: 7 windows predict 3 steps ahead
    data = numpy.arange(10)
    pairs = list(utils.timeseries_dataset_from_array(data, data[3:], 3, batch_size=1))
    assert len(pairs) == 7
    for i, (inputs, targets) in enumerate(pairs):
        assert targets[0] == data[3 + i] and inputs[0].tolist() == data[i : i + 3].tolist()
    # test_no_targets: 9 batches, the last (1, 10); test_sampling_rate: 17, the last (4, 9)
    no_targets = list(utils.timeseries_dataset_from_array(numpy.arange(50), None, 10,
                                                          batch_size=5))  # fmt: skip
    assert len(no_targets) == 9 and no_targets[-1].shape == (1, 10)
    sampled = list(utils.timeseries_dataset_from_array(numpy.arange(100), numpy.arange(100), 9,
                                                       sampling_rate=2, batch_size=5))  # fmt: skip
    assert len(sampled) == 17 and sampled[-1][0].shape == (4, 9)
    numpy.testing.assert_array_equal(sampled[3][0][1], numpy.arange(16, 34, 2))


def test_timeseries_bounds_shuffle_and_fit(backend):
    data = numpy.arange(100)
    bounded = list(utils.timeseries_dataset_from_array(
        data, None, 9, sequence_stride=3, sampling_rate=2, batch_size=5, start_index=10,
        end_index=90))  # fmt: skip
    values = numpy.concatenate(bounded)
    assert values.min() == 10 and values.max() < 90
    # shuffled: the windows in the order of numpy.random.RandomState(seed).shuffle (Keras's
    # first shuffle), a new order every pass, each window still with its own target
    dataset = utils.timeseries_dataset_from_array(
        numpy.arange(10), numpy.arange(10) * 2, 5, batch_size=None, shuffle=True, seed=123
    )
    first = [int(x[0]) for x, _ in dataset]
    expected = numpy.arange(6)
    numpy.random.RandomState(123).shuffle(expected)  # noqa: NPY002
    assert first == expected.tolist()
    second = [int(x[0]) for x, _ in dataset]
    assert sorted(second) == list(range(6)) and second != first
    assert all((y == x[0] * 2) for x, y in dataset)
    # a window dataset trains a recurrent model
    series = numpy.sin(numpy.arange(60) / 4).astype("float32")[:, None]
    windows = utils.timeseries_dataset_from_array(series[:-5], series[5:], 5, batch_size=8)
    model = engine.Sequential([layers.Input((5, 1)), layers.SimpleRNN(4), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    assert numpy.isfinite(model.fit(windows, epochs=1, verbose=0).history["loss"]).all()


def test_timeseries_errors_name_the_argument():
    data = numpy.arange(10)
    for kwargs, name in [({"start_index": -1}, "start_index"), ({"start_index": 11}, "start_index"),
                         ({"end_index": -1}, "end_index"), ({"end_index": 11}, "end_index"),
                         ({"sampling_rate": 0}, "sampling_rate"),
                         ({"sequence_stride": 0}, "sequence_stride"),
                         ({"batch_size": 0}, "batch_size")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"`{name}` must be"):
            utils.timeseries_dataset_from_array(data, None, 3, **kwargs)


# -- images -------------------------------------------------------------------------


def test_images_round_trip(tmp_path):
    pytest.importorskip("PIL")
    pixels = numpy.arange(4 * 6 * 3, dtype="float32").reshape(4, 6, 3)
    image = utils.array_to_img(pixels)  # scaled: min to 0, max to 255
    assert image.mode == "RGB" and image.size == (6, 4)
    expected = (pixels - pixels.min()) / (pixels.max() - pixels.min()) * 255
    numpy.testing.assert_array_equal(utils.img_to_array(image), expected.astype("uint8"))
    path = tmp_path / "picture.png"
    utils.save_img(path, pixels, scale=False)
    loaded = utils.load_img(path)
    numpy.testing.assert_array_equal(utils.img_to_array(loaded), pixels.astype("uint8"))
    assert utils.img_to_array(loaded).dtype == numpy.float32
    gray = utils.load_img(path, color_mode="grayscale", target_size=(2, 3))
    assert gray.mode == "L" and utils.img_to_array(gray).shape == (2, 3, 1)
    # keep_aspect_ratio crops the centre 4x4 of the 4x6 image before resizing to 2x2
    square = utils.load_img(path, target_size=(2, 2), keep_aspect_ratio=True)
    cropped = utils.load_img(path).crop((1, 0, 5, 4)).resize((2, 2), 0)
    numpy.testing.assert_array_equal(utils.img_to_array(square), utils.img_to_array(cropped))
    first = utils.img_to_array(loaded, data_format="channels_first")
    assert first.shape == (3, 4, 6)
    numpy.testing.assert_array_equal(
        utils.img_to_array(utils.array_to_img(first, data_format="channels_first", scale=False)),
        pixels.astype("uint8"),
    )
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        utils.save_img(tmp_path / "alpha.jpg", numpy.ones((2, 2, 4)))
    assert utils.load_img(tmp_path / "alpha.jpg").mode == "RGB"
    with pytest.raises(ValueError, match="unsupported number of channels: 2"):
        utils.array_to_img(numpy.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="`color_mode` must be"):
        utils.load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match="invalid `interpolation`"):
        utils.load_img(path, target_size=(2, 2), interpolation="cubic")


def test_images_need_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="needs Pillow.*pip install pillow"):
        utils.array_to_img(numpy.ones((2, 2, 3)))
    with pytest.raises(ImportError, match="load_img needs Pillow"):
        utils.load_img("anything.png")
