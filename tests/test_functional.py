"""The functional API: symbolic tensors, Model(inputs, outputs), several inputs and outputs."""

import numpy
import pytest

import engine
from engine import layers, optimizers
from engine.symbolic import KerasTensor


def _data(seed=0, n=48):
    rng = numpy.random.default_rng(seed)
    image = rng.normal(size=(n, 6)).astype("float32")
    meta = rng.normal(size=(n, 3)).astype("float32")
    return image, meta, rng


def test_input_is_symbolic_and_layers_record_nodes(backend):
    inputs = layers.Input(shape=(8,), name="features")
    assert isinstance(inputs, KerasTensor)
    assert inputs.shape == (None, 8) and inputs.dtype == "float32"
    dense = layers.Dense(4)
    outputs = dense(inputs)
    assert outputs.shape == (None, 4)
    assert dense.built and dense.kernel.shape == (8, 4)
    assert outputs._keras_history[0] is dense
    assert layers.Input(batch_shape=(16, 3), dtype="int32").shape == (16, 3)


def test_symbolic_call_runs_no_kernel(backend):
    class Exploding(layers.Layer):
        def call(self, inputs):
            raise AssertionError("a symbolic call ran the layer")

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 2)

    inputs = layers.Input((5,))
    assert Exploding()(inputs).shape == (None, 2)


def test_functional_equals_sequential(backend):
    engine.utils.set_random_seed(1)
    sequential = engine.Sequential(
        [
            layers.Input((6,)),
            layers.Dense(8, activation="tanh"),
            layers.Dense(3, activation="softmax"),
        ]
    )
    inputs = layers.Input((6,))
    hidden = layers.Dense(8, activation="tanh")(inputs)
    functional = engine.Model(inputs, layers.Dense(3, activation="softmax")(hidden))
    functional.set_weights(sequential.get_weights())
    x, _, rng = _data()
    y = rng.integers(0, 3, len(x))
    numpy.testing.assert_allclose(
        functional.predict(x, verbose=0), sequential.predict(x, verbose=0)
    )
    histories = []
    for model in (sequential, functional):
        model.compile(
            optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        histories.append(model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history)
    for key in ("loss", "accuracy"):
        assert histories[0][key] == pytest.approx(histories[1][key], rel=1e-6)
    for a, b in zip(sequential.get_weights(), functional.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _two_by_two():
    image = layers.Input((6,), name="image")
    meta = layers.Input((3,), name="meta")
    features = layers.Dense(8, activation="relu", name="features")(image)
    merged = layers.Concatenate(name="merged")([features, layers.Dense(4, name="meta_dense")(meta)])
    score = layers.Dense(1, name="score")(merged)
    kind = layers.Dense(3, activation="softmax", name="kind")(features)
    return engine.Model(inputs=[image, meta], outputs=[score, kind], name="two_by_two")


def test_two_inputs_two_outputs_train_with_lists_and_dicts(backend):
    engine.utils.set_random_seed(2)
    model = _two_by_two()
    image, meta, rng = _data()
    score = image.sum(1, keepdims=True)
    kind = rng.integers(0, 3, len(image))
    model.compile(
        "adam",
        loss={"score": "mse", "kind": "sparse_categorical_crossentropy"},
        loss_weights={"score": 1.0, "kind": 0.5},
        metrics={"score": ["mae"], "kind": ["accuracy"]},
    )
    history = model.fit(
        {"image": image, "meta": meta},
        {"score": score, "kind": kind},
        epochs=3,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
    ).history
    expected_keys = {"loss", "score_loss", "kind_loss", "score_mae", "kind_accuracy"}
    assert set(history) == expected_keys | {"val_" + key for key in expected_keys}
    for total, a, b in zip(history["loss"], history["score_loss"], history["kind_loss"]):
        assert total == pytest.approx(a + 0.5 * b, rel=1e-5)
    assert history["loss"][-1] < history["loss"][0]
    logs = model.evaluate([image, meta], [score, kind], verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["score_loss"] + 0.5 * logs["kind_loss"], rel=1e-5)
    predictions = model.predict([image, meta], batch_size=20, verbose=0)
    assert [p.shape for p in predictions] == [(48, 1), (48, 3)]


def test_shared_layer_shares_weights_and_sums_gradients(backend):
    shared = layers.Dense(2, use_bias=False)
    left, right = layers.Input((3,)), layers.Input((3,))
    model = engine.Model([left, right], layers.Add()([shared(left), shared(right)]))
    assert len(model.weights) == 1
    single = layers.Input((3,))
    reference = engine.Model(single, layers.Dense(2, use_bias=False)(single))
    reference.set_weights(model.get_weights())
    a, b, _ = _data(3, 32)
    a, b = a[:, :3], b
    for m in (model, reference):
        m.compile(optimizers.SGD(0.1), "mse")
    target = numpy.ones((32, 2), "float32")
    model.fit([a, b], target, epochs=2, batch_size=8, shuffle=False, verbose=0)
    reference.fit(a + b, target, epochs=2, batch_size=8, shuffle=False, verbose=0)  # linear
    numpy.testing.assert_allclose(
        model.get_weights()[0], reference.get_weights()[0], rtol=1e-4, atol=1e-6
    )


def test_nested_model_and_layers_reused_across_models(backend):
    inner_input = layers.Input((4,))
    encoder = engine.Model(inner_input, layers.Dense(2, name="code")(inner_input), name="encoder")
    outer_input = layers.Input((4,))
    code = encoder(outer_input)
    assert code.shape == (None, 2)
    decoded = layers.Dense(4)(code)
    autoencoder = engine.Model(outer_input, decoded)
    assert autoencoder.layers[1] is encoder
    x, _, _ = _data(4)
    x = x[:, :4]
    numpy.testing.assert_allclose(
        autoencoder.predict(x, verbose=0),
        autoencoder.layers[2](encoder.predict(x, verbose=0)).numpy(),
        rtol=1e-5,
    )
    before = encoder.get_weights()[0].copy()
    autoencoder.compile("adam", "mse")
    autoencoder.fit(x, x, epochs=2, verbose=0)
    assert not numpy.allclose(encoder.get_weights()[0], before)  # the weights are shared


def test_summary_has_connected_to(backend):
    model = _two_by_two()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text
    assert "image (InputLayer)" in text and "features[0][0]," in text
    assert "meta_dense[0][0]" in text and "(None, 12)" in text
    assert f"Total params: {model.count_params():,}" in text


def test_save_and_load_functional_model(backend, tmp_path):
    engine.utils.set_random_seed(5)
    model = _two_by_two()
    image, meta, _ = _data(5)
    path = tmp_path / "two.safetensors"
    model.save(path)
    loaded = engine.models.load_model(path)
    assert type(loaded) is type(model)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    for a, b in zip(
        model.predict([image, meta], verbose=0), loaded.predict([image, meta], verbose=0)
    ):
        numpy.testing.assert_allclose(a, b, rtol=1e-6)
    weights_path = tmp_path / "weights.safetensors"
    model.save_weights(weights_path)
    clone = engine.Model.from_config(model.get_config())
    clone.load_weights(weights_path)
    for a, b in zip(model.get_weights(), clone.get_weights()):
        numpy.testing.assert_array_equal(a, b)


def test_errors_name_the_layer_and_the_shapes(backend):
    a, b = layers.Input((3,)), layers.Input((4,))
    with pytest.raises(ValueError, match=r"\(None, 3\).*\(None, 4\)|\(None, 4\).*\(None, 3\)"):
        layers.Add()([a, b])
    with pytest.raises(ValueError, match="Layer 'lonely' \\(Dense\\) takes one input tensor"):
        layers.Dense(2, name="lonely")([a, b])
    with pytest.raises(ValueError, match="takes one input tensor"):
        layers.Dense(2)([numpy.ones((2, 3)), numpy.ones((2, 3))])
    hidden = layers.Dense(2)(b)
    with pytest.raises(ValueError, match="graph disconnected"):
        engine.Model(a, hidden)
    unused = layers.Input((5,))
    model = engine.Model([b, unused], hidden)  # an unused input is allowed, as in Keras
    assert model.predict([numpy.ones((2, 4)), numpy.ones((2, 5))], verbose=0).shape == (2, 2)
    image = layers.Input((3,), name="image")
    meta = layers.Input((2,), name="meta")
    two = engine.Model({"image": image, "meta": meta}, layers.Concatenate()([image, meta]))
    with pytest.raises(ValueError, match="no key 'meta'"):
        two.predict({"image": numpy.ones((2, 3))}, verbose=0)
    double = _two_by_two()
    double.compile("sgd", "mse")
    with pytest.raises(ValueError, match="2 outputs"):
        double.fit([numpy.ones((4, 6)), numpy.ones((4, 3))], numpy.ones((4, 1)), verbose=0)
    with pytest.raises(TypeError, match="symbolic tensors"):
        engine.Model(a, numpy.ones(3))


def test_dataset_of_structures(backend):
    model = _two_by_two()
    model.compile("adam", ["mse", "sparse_categorical_crossentropy"])
    image, meta, rng = _data(6)
    targets = (image[:, :1], rng.integers(0, 3, len(image)))
    dataset = engine.data.Dataset.from_tensor_slices(((image, meta), targets)).batch(16)
    history = model.fit(dataset, epochs=2, verbose=0).history
    assert len(history["loss"]) == 2 and numpy.isfinite(history["loss"]).all()


def test_saved_two_output_model_keeps_compile_and_continues_training(backend, tmp_path):
    engine.utils.set_random_seed(7)
    model = _two_by_two()
    model.compile(
        "adam",
        ["mse", "sparse_categorical_crossentropy"],
        loss_weights=[2.0, 0.5],
        metrics=[["mae"], ["accuracy"]],
    )
    image, meta, rng = _data(7)
    targets = [image[:, :1], rng.integers(0, 3, len(image))]
    model.fit([image, meta], targets, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "compiled.safetensors"
    model.save(path)
    loaded = engine.models.load_model(path)
    assert loaded.compiled
    expected = model.fit([image, meta], targets, epochs=1, batch_size=16, verbose=0).history
    resumed = loaded.fit([image, meta], targets, epochs=1, batch_size=16, verbose=0).history
    assert set(resumed) == {"loss", "score_loss", "kind_loss", "score_mae", "kind_accuracy"}
    for key in expected:
        assert resumed[key] == pytest.approx(expected[key], rel=1e-5)


def test_sample_weight_per_output_and_class_weight_refused(backend):
    model = _two_by_two()
    model.compile(optimizers.SGD(learning_rate=0.0), ["mse", "sparse_categorical_crossentropy"])
    image, meta, rng = _data(8, 16)
    targets = [image[:, :1], rng.integers(0, 3, 16)]
    plain = model.evaluate([image, meta], targets, verbose=0, return_dict=True)
    weights = {"score": numpy.full(16, 0.5), "kind": numpy.ones(16)}
    weighted = model.evaluate(
        [image, meta], targets, sample_weight=weights, verbose=0, return_dict=True
    )
    assert weighted["score_loss"] == pytest.approx(plain["score_loss"] / 2, rel=1e-5)
    assert weighted["kind_loss"] == pytest.approx(plain["kind_loss"], rel=1e-5)
    with pytest.raises(ValueError, match="class_weight` is not supported"):
        model.fit([image, meta], targets, class_weight={0: 1.0}, verbose=0)


def test_every_built_in_layer_computes_its_output_shape():
    """Calling a built-in layer on symbolic tensors never runs it on zeros."""
    from engine.layers.base import Layer, layer_registry

    for name in layer_registry.names():
        cls = layer_registry.lookup(name)
        if cls.__module__.startswith("engine."):  # not classes other tests registered
            assert cls.compute_output_shape is not Layer.compute_output_shape, name


def _encoder_decoder(units=3):
    encoder_inputs = layers.Input((4, 2), name="source")
    _, state_h, state_c = layers.LSTM(units, return_state=True, name="encoder")(encoder_inputs)
    decoder_inputs = layers.Input((3, 2), name="target_in")
    decoded = layers.LSTM(units, return_sequences=True, name="decoder")(
        decoder_inputs, initial_state=[state_h, state_c]
    )
    outputs = layers.Dense(2, name="next")(decoded)
    return engine.Model([encoder_inputs, decoder_inputs], outputs)


def test_encoder_decoder_states_flow_through_the_graph(backend, float64):
    from tests.gradcheck import check_gradients

    model = _encoder_decoder()
    rng = numpy.random.default_rng(9)
    source = rng.normal(size=(2, 4, 2))
    target_in = rng.normal(size=(2, 3, 2))
    text = []
    model.summary(print_fn=text.append)
    assert "encoder[0][1]," in "\n".join(text) and "encoder[0][2]" in "\n".join(text)
    # the source reaches the output only through the encoder's states
    check_gradients(lambda s, t: model([s, t]), source, target_in, backend=backend)
    config = model.get_config()
    clone = engine.Model.from_config(config)
    clone.set_weights(model.get_weights())
    numpy.testing.assert_allclose(
        clone.predict([source, target_in], verbose=0), model.predict([source, target_in], verbose=0)
    )


def test_encoder_decoder_trains(backend):
    engine.utils.set_random_seed(10)
    model = _encoder_decoder(units=8)
    rng = numpy.random.default_rng(10)
    source = rng.normal(size=(64, 4, 2)).astype("float32")
    target_in = rng.normal(size=(64, 3, 2)).astype("float32")
    target = numpy.repeat(source[:, :1, :], 3, axis=1)  # needs the encoder's states
    model.compile(optimizers.Adam(0.02), "mse")
    history = model.fit([source, target_in], target, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


def test_training_none_reaches_each_layer_default(backend):
    """Keras 3: ``model(x)`` lets each layer apply its own default: augmentation layers
    augment, Dropout does not."""
    inputs = layers.Input((4, 4, 1))
    flipped = layers.RandomFlip("horizontal", seed=3)(inputs)
    outputs = layers.Dropout(0.9)(layers.Flatten()(flipped))
    model = engine.Model(inputs, outputs)
    x = numpy.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    flips = {tuple(model(x).numpy().ravel()) for _ in range(12)}
    assert len(flips) == 2  # flipped or not, never dropped
    assert {tuple(model(x, training=False).numpy().ravel())} == {tuple(x.ravel())}
    numpy.testing.assert_array_equal(model.predict(x, verbose=0), x.reshape(1, -1))
