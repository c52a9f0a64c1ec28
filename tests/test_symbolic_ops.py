"""``engine.ops`` and arithmetic on symbolic tensors record graph nodes, as in Keras 3."""

import numpy
import pytest

import engine
from engine import layers, ops


def _model():
    inputs = layers.Input((4, 3), name="grid")
    x = ops.expand_dims(inputs, -1) / 4.0
    x = layers.Flatten()(x)
    x = layers.Dense(5)(x)
    summary = ops.mean(x, axis=-1, keepdims=True)
    outputs = 2 * summary - x[:, :1] + ops.concatenate([x[:, 1:2], -x[:, 2:3]], axis=-1) ** 2
    return engine.Model(inputs, outputs)


def test_ops_on_symbolic_tensors_build_a_graph(backend):
    model = _model()
    assert model.output_shape == (None, 2)
    names = [type(layer).__name__ for layer in model.layers]
    assert names.count("OpCall") >= 8
    x = numpy.random.default_rng(0).normal(size=(6, 4, 3)).astype("float32")
    dense = next(layer for layer in model.layers if isinstance(layer, layers.Dense))
    kernel, bias = dense.get_weights()
    hidden = (x[..., None] / 4.0).reshape(6, -1) @ kernel + bias
    expected = (
        2 * hidden.mean(-1, keepdims=True)
        - hidden[:, :1]
        + numpy.concatenate([hidden[:, 1:2], -hidden[:, 2:3]], -1) ** 2
    )
    numpy.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert ops.shape(model.inputs[0]) == (None, 4, 3)


def test_models_with_op_nodes_train_save_and_load(backend, tmp_path):
    model = _model()
    x = numpy.random.default_rng(1).normal(size=(16, 4, 3)).astype("float32")
    y = numpy.ones((16, 2), "float32")
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "ops.safetensors")
    loaded = engine.models.load_model(tmp_path / "ops.safetensors")
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    clone = engine.Model.from_config(model.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]


def test_op_arguments_that_cannot_be_kept_are_refused(backend):
    inputs = layers.Input((3,))
    with pytest.raises(TypeError, match="cannot be kept in a model"):
        ops.add(inputs, object())
    with pytest.raises(ValueError, match="'system' is not a function of engine.ops"):
        layers.OpCall("system")


def test_activation_functions_on_symbolic_tensors_record_nodes(backend, tmp_path):
    """``keras.activations.gelu(x)`` in a functional model, as in Keras 3: a node that
    trains, saves and loads (by the activation's name, with its arguments)."""
    inputs = layers.Input((3,))
    hidden = engine.activations.relu(layers.Dense(4)(inputs), negative_slope=0.1)
    outputs = layers.Dense(2)(engine.activations.get("gelu")(hidden, approximate=True))
    model = engine.Model(inputs, outputs)
    x = numpy.random.default_rng(2).normal(size=(8, 3)).astype("float32")
    first, second = (layer for layer in model.layers if isinstance(layer, layers.Dense))
    pre = x @ first.get_weights()[0] + first.get_weights()[1]
    leaky = numpy.where(pre > 0, pre, 0.1 * pre)
    gelu = engine.activations.gelu(leaky, approximate=True).numpy()
    expected = gelu @ second.get_weights()[0] + second.get_weights()[1]
    numpy.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.compile("adam", "mse")
    model.fit(x, numpy.ones((8, 2), "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "activations.safetensors")
    loaded = engine.models.load_model(tmp_path / "activations.safetensors")
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="Unknown activation: 'system'"):
        layers.OpCall("activations.system")
