"""layers.Lambda: calls, shapes, structures, models, and saving without code."""

import numpy
import pytest

from engine import layers, ops
from engine.models import Model, Sequential, load_model
from tests.gradcheck import check_gradients


def double(x):
    return x * 2.0


def scaled(x, factor=1.0, training=None):
    return x * factor if training else x


def test_lambda_calls_its_function_with_arguments(backend, float64, rng):
    x = rng.normal(size=(3, 4))
    out = layers.Lambda(double)(x)
    assert out.backend is backend
    numpy.testing.assert_allclose(out.numpy(), 2 * x)
    layer = layers.Lambda(scaled, arguments={"factor": 3.0})
    numpy.testing.assert_allclose(layer(x, training=True).numpy(), 3 * x)
    numpy.testing.assert_allclose(layer(x).numpy(), x)  # `training` reaches the function
    check_gradients(layers.Lambda(lambda t: ops.sum(t * t, axis=-1)), x, backend=backend)


def test_lambda_output_shapes_and_several_inputs(backend):
    a, b = layers.Input((4,)), layers.Input((4,))
    summed = layers.Lambda(lambda xs: xs[0] + xs[1])([a, b])  # Keras's Lambda takes lists
    pooled = layers.Lambda(lambda t: ops.mean(t, axis=-1, keepdims=True))(summed)
    declared = layers.Lambda(lambda t: t[:, :2], output_shape=(2,))(summed)
    from_function = layers.Lambda(double, output_shape=lambda shape: shape)(summed)
    assert pooled.shape == (None, 1) and declared.shape == (None, 2)
    assert from_function.shape == (None, 4)
    model = Model([a, b], [pooled, declared])
    x, y = numpy.ones((2, 4), "float32"), numpy.arange(8, dtype="float32").reshape(2, 4)
    mean, first_two = model.predict([x, y], verbose=0)
    numpy.testing.assert_allclose(mean, (x + y).mean(-1, keepdims=True))
    numpy.testing.assert_allclose(first_two, (x + y)[:, :2])


def test_lambda_with_a_named_function_saves_and_loads(tmp_path, rng):
    model = Sequential([layers.Input((3,)), layers.Dense(2), layers.Lambda(double, name="twice")])
    path = tmp_path / "lambda.safetensors"
    model.save(path)
    x = rng.normal(size=(4, 3)).astype("float32")
    loaded = load_model(path, custom_objects={"double": double})
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_layer("twice").function is double
    with pytest.raises(ValueError, match="'twice'.*the function 'double'.*custom_objects"):
        load_model(path)


def test_saving_a_python_lambda_is_refused_clearly(tmp_path):
    model = Sequential([layers.Input((3,)), layers.Lambda(lambda t: t + 1, name="plus_one")])
    with pytest.raises(ValueError, match="Lambda 'plus_one': cannot save its `function`, a Python"):
        model.save(tmp_path / "m.safetensors")

    def nested(t):
        return t

    model = Sequential([layers.Input((3,)), layers.Lambda(nested)])
    with pytest.raises(ValueError, match="nested function .*nested"):
        model.save(tmp_path / "m.safetensors")


def test_lambda_bad_arguments():
    with pytest.raises(TypeError, match="Lambda .*`function` must be callable, got int"):
        layers.Lambda(3)
    with pytest.raises(TypeError, match="`arguments` must be a dict"):
        layers.Lambda(double, arguments=[1])
