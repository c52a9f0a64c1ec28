"""model.save / load_model / save_weights / load_weights: format, atomicity, safety, resuming."""

import json
import os
import struct

import numpy
import pytest

import backends
import engine
from engine import layers, saving
from engine.models import Sequential, load_model


def make_data(n=96, features=8, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = (x[:, :2].sum(axis=1) > 0).astype("int64")
    return x, y


def make_model(optimizer="adam", seed=0):
    engine.utils.set_random_seed(seed)
    model = Sequential(
        [
            layers.Dense(16, activation="relu", input_shape=(8,)),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def assert_same_weights(a, b, atol=0.0):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        numpy.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


def test_round_trip_restores_everything(backend, tmp_path):
    x, y = make_data()
    model = make_model(engine.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is Sequential and loaded.name == model.name
    assert [type(la) for la in loaded.layers] == [type(la) for la in model.layers]
    assert_same_weights(model, loaded)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 12
    for (name_a, a), (name_b, b) in zip(
        model.optimizer.variables(), loaded.optimizer.variables(), strict=True
    ):
        assert name_a == name_b
        numpy.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_loaded_model_continues_exactly(backend, tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    for _ in range(3):
        model.train_on_batch(x[:16], y[:16])
        loaded.train_on_batch(x[:16], y[:16])
    assert_same_weights(model, loaded)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_resume_with_initial_epoch_matches_uninterrupted_run(backend, tmp_path, optimizer):
    x, y = make_data()
    uninterrupted = make_model(optimizer, seed=3)
    uninterrupted.fit(x, y, epochs=4, batch_size=16, verbose=0)

    first_half = make_model(optimizer, seed=3)
    first_half.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first_half.save(tmp_path / "half.safetensors")
    engine.utils.set_random_seed(999)  # a different global state must not matter
    resumed = load_model(tmp_path / "half.safetensors")
    history = resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert history.epoch == [2, 3]
    assert_same_weights(uninterrupted, resumed, atol=1e-7)


def make_regularized_model(seed):
    engine.utils.set_random_seed(seed)
    model = Sequential(
        [
            layers.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.5),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_resume_with_dropout_and_batch_normalization_matches_uninterrupted_run(backend, tmp_path):
    x, y = make_data()
    uninterrupted = make_regularized_model(seed=3)
    uninterrupted.fit(x, y, epochs=4, batch_size=16, verbose=0)

    first_half = make_regularized_model(seed=3)
    first_half.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first_half.save(tmp_path / "half.keras")
    # a fresh process: other global seeds, and other draws from the dropout generator
    engine.utils.set_random_seed(999)
    backend.dropout_mask((7, 3), 0.5, numpy.dtype("float32"))
    resumed = load_model(tmp_path / "half.keras")
    history = resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert history.epoch == [2, 3]
    assert_same_weights(uninterrupted, resumed, atol=1e-7)


def test_saving_into_a_missing_directory_names_the_target(tmp_path):
    model = make_model()
    target = tmp_path / "missing" / "m.keras"
    message = r"Cannot write '.*missing/m\.keras'.*does not exist"
    with pytest.raises(FileNotFoundError, match=message):
        model.save(target)
    with pytest.raises(FileNotFoundError, match="missing/w.safetensors"):
        model.save_weights(tmp_path / "missing" / "w.safetensors")
    assert not (tmp_path / "missing").exists()


def test_keras_extension_is_accepted_and_others_refused(tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    assert_same_weights(model, load_model(tmp_path / "model.keras"))
    with pytest.raises(ValueError, match="HDF5"):
        model.save(tmp_path / "model.h5")
    with pytest.raises(ValueError, match="must end in"):
        model.save(tmp_path / "model.bin")
    with pytest.raises(ValueError, match="must end in '.safetensors'"):
        model.save_weights(tmp_path / "model.keras")


def test_save_weights_and_load_weights(backend, tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.weights.safetensors"
    model.save_weights(path)
    other = make_model(seed=1)
    other.load_weights(path)
    assert_same_weights(model, other)
    with pytest.raises(ValueError, match="weights only"):
        load_model(path)
    small = Sequential([layers.Dense(3, input_shape=(8,))])
    with pytest.raises(ValueError, match="model.weights.safetensors"):
        small.load_weights(path)


def test_uncompiled_and_unbuilt_models(tmp_path):
    model = Sequential([layers.Dense(4, input_shape=(3,))])
    model.save(tmp_path / "plain.safetensors")
    loaded = load_model(tmp_path / "plain.safetensors")
    assert not loaded.compiled
    assert_same_weights(model, loaded)
    with pytest.raises(ValueError, match="not been built"):
        Sequential([layers.Dense(4)]).save(tmp_path / "x.safetensors")


def test_overwrite_false(tmp_path):
    model = Sequential([layers.Dense(4, input_shape=(3,))])
    model.save(tmp_path / "a.safetensors")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "a.safetensors", overwrite=False)


def test_tensors_are_contiguous_host_copies(tmp_path):
    model = Sequential([layers.Dense(5, input_shape=(3,))])
    kernel = model.layers[0].weights[0]
    kernel.data = kernel.backend.xp.asfortranarray(kernel.data)  # not C-contiguous
    expected = model.get_weights()
    model.save(tmp_path / "f.safetensors")
    assert_same_weights_arrays(expected, load_model(tmp_path / "f.safetensors").get_weights())


def assert_same_weights_arrays(a, b):
    for wa, wb in zip(a, b, strict=True):
        numpy.testing.assert_array_equal(wa, wb)


# -- atomic writes -------------------------------------------------------------


def test_interrupted_save_keeps_previous_file(tmp_path, monkeypatch):
    x, y = make_data()
    model = make_model()
    path = tmp_path / "model.safetensors"
    model.fit(x, y, epochs=1, verbose=0)
    model.save(path)
    before = path.read_bytes()
    saved_weights = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)

    def write_half_then_fail(handle, data):
        handle.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(saving, "_write_bytes", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert_same_weights_arrays(saved_weights, load_model(path).get_weights())
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temporary file left behind


def test_failed_rename_keeps_previous_file(tmp_path, monkeypatch):
    model = Sequential([layers.Dense(4, input_shape=(3,))])
    path = tmp_path / "model.safetensors"
    model.save(path)
    before = path.read_bytes()

    def fail(*args):
        raise OSError("rename failed")

    monkeypatch.setattr(saving.os, "replace", fail)
    with pytest.raises(OSError, match="rename failed"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


# -- bad files -----------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "good.safetensors"
    model.save(path)
    return path


@pytest.mark.parametrize("keep", [0, 5, 100, -10])
def test_truncated_file_gives_clear_error(saved, tmp_path, keep):
    data = saved.read_bytes()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(ValueError, match="truncated.safetensors"):
        load_model(path)


def test_corrupted_header_gives_clear_error(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[10:30] = b"\xff" * 20
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt.safetensors.*corrupted"):
        load_model(path)


def test_not_a_model_file(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("hello, this is not a model\n" * 10)
    with pytest.raises(ValueError, match="notes.safetensors"):
        load_model(text)
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"a": numpy.zeros(3, dtype="float32")}, str(other))
    with pytest.raises(ValueError, match="other.safetensors.*not a model saved by this library"):
        load_model(other)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_model(tmp_path / "missing.safetensors")


def rewrite_metadata(path, out, edit):
    """Copy ``path`` to ``out`` with its metadata changed by ``edit(metadata)``, and without its
    checksum, as a forger would (files written before checksums load without one)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    del header["__metadata__"]["checksum"]
    edit(header["__metadata__"])
    new_header = json.dumps(header).encode()
    new_header += b" " * (-len(new_header) % 8)
    out.write_bytes(struct.pack("<Q", len(new_header)) + new_header + data[8 + size :])


@pytest.mark.parametrize("class_name", ["os.system", "builtins.eval", "subprocess.Popen", "Evil"])
def test_loading_never_resolves_unregistered_names(saved, tmp_path, monkeypatch, class_name):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))

    def edit(metadata):
        config = json.loads(metadata["model_config"])
        config["config"]["layers"][0]["class_name"] = class_name
        config["config"]["layers"][0]["config"] = {"command": "touch pwned"}
        metadata["model_config"] = json.dumps(config)

    path = tmp_path / "evil.safetensors"
    rewrite_metadata(saved, path, edit)
    with pytest.raises(ValueError, match=f"evil.safetensors.*Unknown layer: '{class_name}'"):
        load_model(path)
    assert calls == []
    assert not (tmp_path / "pwned").exists()


def test_model_class_and_compile_names_go_through_registries(saved, tmp_path):
    def edit_model(metadata):
        config = json.loads(metadata["model_config"])
        config["class_name"] = "Dense"
        metadata["model_config"] = json.dumps(config)

    rewrite_metadata(saved, tmp_path / "a.safetensors", edit_model)
    with pytest.raises(ValueError, match="a.safetensors.*not a model class"):
        load_model(tmp_path / "a.safetensors")

    def edit_compile(metadata):
        config = json.loads(metadata["compile_config"])
        config["optimizer"] = {"class_name": "os.system", "config": {}}
        metadata["compile_config"] = json.dumps(config)

    rewrite_metadata(saved, tmp_path / "b.safetensors", edit_compile)
    with pytest.raises(ValueError, match="b.safetensors.*Unknown optimizer: 'os.system'"):
        load_model(tmp_path / "b.safetensors")


def test_custom_layer_loads_after_registration(tmp_path):
    @engine.layers.register_layer
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.offset = self.add_weight(
                shape=(input_shape[-1],), initializer="ones", name="offset"
            )

        def call(self, inputs):
            return inputs * self.factor + self.offset

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = Sequential([layers.Dense(3, input_shape=(4,)), Scale(3.0)])
    model.save(tmp_path / "custom.safetensors")
    loaded = load_model(tmp_path / "custom.safetensors")
    assert loaded.layers[1].factor == 3.0
    x = numpy.ones((2, 4), dtype="float32")
    numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_unregistered_custom_layer_needs_custom_objects(tmp_path):
    class Shift(layers.Layer):  # not registered
        def call(self, inputs):
            return inputs + 1.0

    model = Sequential([layers.Input((4,)), layers.Dense(3), Shift()])
    model.save(tmp_path / "shift.keras")
    with pytest.raises(ValueError, match=r"Unknown layer: 'Shift'.*register_layer.*custom_objects"):
        load_model(tmp_path / "shift.keras")
    loaded = load_model(tmp_path / "shift.keras", custom_objects={"Shift": Shift})
    x = numpy.ones((2, 4), dtype="float32")
    numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="Unknown layer: 'Shift'"):  # for that load only
        load_model(tmp_path / "shift.keras")


@pytest.mark.skipif("numba" not in backends.available(), reason="numba backend not available")
@pytest.mark.parametrize("source,target", [("numpy", "numba"), ("numba", "numpy")])
def test_file_saved_on_one_backend_loads_on_another(tmp_path, source, target):
    x, y = make_data()
    with engine.use_backend(source):
        model = make_model(engine.optimizers.SGD(momentum=0.9))
        model.fit(x, y, epochs=1, verbose=0)
        model.save(tmp_path / "m.safetensors")
        expected = model.predict(x, verbose=0)
    with engine.use_backend(target):
        loaded = load_model(tmp_path / "m.safetensors")
        assert loaded.backend.name == target
        numpy.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
        loaded.fit(x, y, epochs=1, verbose=0)


def test_conv_and_lstm_models_round_trip(tmp_path):
    rng = numpy.random.default_rng(0)
    conv = Sequential(
        [
            layers.Conv2D(4, 3, activation="relu", input_shape=(6, 6, 1)),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    recurrent = Sequential([layers.LSTM(5, input_shape=(4, 3)), layers.Dense(2)])
    for model, x in (
        (conv, rng.normal(size=(2, 6, 6, 1))),
        (recurrent, rng.normal(size=(2, 4, 3))),
    ):
        model.save(tmp_path / "m.safetensors")
        loaded = load_model(tmp_path / "m.safetensors")
        numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def slots_by_weight(model):
    """``{weight name: {slot: host array}}`` of the model's optimizer."""
    optimizer = model.optimizer
    return {
        param.name: {k: param.backend.to_numpy(v) for k, v in slots.items()}
        for param, slots in zip(optimizer._params, optimizer._slots)
    }


def test_layer_frozen_after_training_saves_and_loads(backend, tmp_path):
    x, y = make_data(features=4)
    engine.utils.set_random_seed(0)
    model = Sequential(
        [
            layers.Input((4,)),
            layers.Dense(8, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(8, activation="relu"),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.layers[0].trainable = False
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "frozen.keras")
    loaded = load_model(tmp_path / "frozen.keras")
    assert not loaded.layers[0].trainable
    expected, restored = slots_by_weight(model), slots_by_weight(loaded)
    assert sorted(expected) == sorted(restored)
    for name, slots in expected.items():
        for slot, array in slots.items():
            numpy.testing.assert_array_equal(restored[name][slot], array, err_msg=name)
    for _ in range(2):
        model.train_on_batch(x[:32], y[:32])
        loaded.train_on_batch(x[:32], y[:32])
    assert_same_weights(model, loaded)
    loaded.layers[0].trainable = True  # unfreezing continues from the saved state too
    model.layers[0].trainable = True
    model.train_on_batch(x[:32], y[:32])
    loaded.train_on_batch(x[:32], y[:32])
    assert_same_weights(model, loaded)


def test_version_1_files_key_optimizer_state_by_optimizer_order(tmp_path):
    from safetensors.numpy import load_file, save_file

    x, y = make_data(features=4)
    engine.utils.set_random_seed(0)
    model = Sequential([layers.Input((4,)), layers.BatchNormalization(), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, numpy.eye(2)[y], epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "v2.safetensors")
    with open(tmp_path / "v2.safetensors", "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        metadata = json.loads(handle.read(size))["__metadata__"]
    tensors = {k: v for k, v in load_file(tmp_path / "v2.safetensors").items()}
    assert metadata["format_version"] == "3"
    # v1 wrote the optimizer's order: BN gamma, beta, Dense kernel, bias (moving stats skipped)
    order = {0: 0, 1: 1, 4: 2, 5: 3}
    v1 = {}
    for key, array in tensors.items():
        parts = key.split("/")
        if parts[0] == "optimizer" and len(parts) == 3:
            key = f"optimizer/{order[int(parts[1])]:06d}/{parts[2]}"
        v1[key] = array
    del metadata["checksum"]  # version 1 files had none
    save_file(v1, tmp_path / "v1.safetensors", metadata={**metadata, "format_version": "1"})
    loaded = load_model(tmp_path / "v1.safetensors")
    expected, restored = slots_by_weight(model), slots_by_weight(loaded)
    for name, slots in expected.items():
        for slot, array in slots.items():
            numpy.testing.assert_array_equal(restored[name][slot], array, err_msg=name)


def test_version_2_file_still_loads(tmp_path):
    """Version 3 added functional models; a Sequential file marked version 2 loads as before."""
    from safetensors.numpy import load_file, save_file

    x, y = make_data(features=4)
    model = Sequential([layers.Input((4,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "v3.safetensors")
    with open(tmp_path / "v3.safetensors", "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        metadata = json.loads(handle.read(size))["__metadata__"]
    del metadata["checksum"]
    tensors = load_file(tmp_path / "v3.safetensors")
    save_file(tensors, tmp_path / "v2.safetensors", metadata={**metadata, "format_version": "2"})
    loaded = load_model(tmp_path / "v2.safetensors")
    numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


class _Scaled(layers.Layer):
    """A user layer with an argument, unregistered: loading it needs ``custom_objects``."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_to_json_and_model_from_json_rebuild_the_architecture(backend):
    """Keras's ``model.to_json()`` / ``keras.models.model_from_json``: the architecture
    again, with new weights."""
    inputs = layers.Input((4,), name="features")
    hidden = layers.Dense(3, activation="relu", name="hidden")(inputs)
    outputs = layers.Dense(2, name="scores")(_Scaled(0.5, name="scaled")(hidden))
    model = engine.Model(inputs, outputs)
    text = model.to_json(indent=2)
    assert json.loads(text)["class_name"] == "Functional" and "\n" in text
    with pytest.raises(ValueError, match="_Scaled"):
        engine.models.model_from_json(text)
    rebuilt = engine.models.model_from_json(text, custom_objects={"_Scaled": _Scaled})
    assert [type(layer).__name__ for layer in rebuilt.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    assert [w.shape for w in rebuilt.get_weights()] == [w.shape for w in model.get_weights()]
    assert rebuilt.layers[2].factor == 0.5
    x = numpy.ones((3, 4), "float32")
    rebuilt.set_weights(model.get_weights())
    numpy.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    sequential = Sequential([layers.Input((2,)), layers.Dense(1)])
    again = engine.models.model_from_json(sequential.to_json())
    assert isinstance(again, Sequential) and again.built and again.output_shape == (None, 1)


def test_model_from_json_refuses_what_is_not_a_model():
    with pytest.raises(ValueError, match="expected the JSON text of model.to_json"):
        engine.models.model_from_json("{not json")
    with pytest.raises(ValueError, match="'Dense' is not a model class"):
        engine.models.model_from_json('{"class_name": "Dense", "config": {}}')
    with pytest.raises(ValueError, match="it has no model architecture"):
        engine.models.model_from_json("[1, 2]")


def test_models_save_model_is_model_save(tmp_path):
    model = Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile("adam", "mse")
    engine.models.save_model(model, tmp_path / "saved.safetensors")
    loaded = load_model(tmp_path / "saved.safetensors")
    for saved, kept in zip(model.get_weights(), loaded.get_weights()):
        numpy.testing.assert_array_equal(saved, kept)
    with pytest.raises(FileExistsError):
        engine.models.save_model(model, tmp_path / "saved.safetensors", overwrite=False)
