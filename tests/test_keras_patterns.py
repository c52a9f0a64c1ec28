"""Patterns of published Keras 3 programs that used to fail here: a causal mask built with
``ops`` from a tensor of multiples, a model with an output left out of the loss
(``loss=[loss_fn, None]`` and targets for the other output only), and one-element tensors
used as Python numbers."""

import warnings

import numpy
import pytest

import engine
from engine import layers, ops


def _causal_mask(batch_size, length):
    """keras.io's miniature GPT builds its mask this way: ``tile`` by a tensor."""
    rows = ops.arange(length)[:, None]
    mask = ops.cast(rows >= ops.arange(length), "bool")
    mask = ops.reshape(mask, [1, length, length])
    multiples = ops.concatenate([ops.expand_dims(batch_size, -1), ops.convert_to_tensor([1, 1])], 0)
    return ops.tile(mask, multiples)


class CausalBlock(layers.Layer):
    def __init__(self, dim):
        super().__init__()
        self.attention = layers.MultiHeadAttention(2, dim)
        self.norm = layers.LayerNormalization()

    def call(self, inputs):
        shape = ops.shape(inputs)
        mask = _causal_mask(shape[0], shape[1])
        return self.norm(inputs + self.attention(inputs, inputs, attention_mask=mask))


def test_gpt_style_model_with_an_output_left_out_of_the_loss(backend):
    engine.utils.set_random_seed(1)
    tokens = layers.Input((6,), dtype="int32")
    hidden = CausalBlock(8)(layers.Embedding(20, 8)(tokens))
    logits = layers.Dense(20)(hidden)
    model = engine.Model(tokens, [logits, hidden])
    loss = engine.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("adam", loss=[loss, None])
    data = numpy.random.default_rng(0).integers(1, 20, (32, 7))
    history = model.fit(data[:, :-1], data[:, 1:], epochs=3, batch_size=8, verbose=0)
    assert list(history.history) == ["loss"]  # as Keras: no per-output loss for one
    assert history.history["loss"][-1] < history.history["loss"][0]
    # the mask is causal: position 0's output does not depend on later tokens
    changed = data[:1, :-1].copy()
    changed[0, 3:] = (changed[0, 3:] % 19) + 1
    first, _ = model.predict(data[:1, :-1], verbose=0)
    second, _ = model.predict(changed, verbose=0)
    numpy.testing.assert_allclose(first[0, :3], second[0, :3], rtol=1e-5, atol=1e-6)
    values, indices = ops.top_k(first[0, -1], k=5)  # keras.io's sampling step
    assert indices.dtype == "int32" and (numpy.diff(values.numpy()) <= 0).all()


def test_targets_for_the_outputs_with_a_loss_only(backend):
    inputs = layers.Input((4,))
    first = layers.Dense(3, name="first")(inputs)
    second = layers.Dense(2, name="second")(inputs)
    model = engine.Model(inputs, [first, second])
    x, y = numpy.ones((8, 4), "float32"), numpy.zeros((8, 2), "float32")
    model.compile("sgd", loss=[None, "mse"])
    assert list(model.fit(x, y, verbose=0).history) == ["loss"]
    model.compile("sgd", loss={"second": "mse"})
    assert list(model.fit(x, {"second": y}, verbose=0).history) == ["loss"]
    model.compile("sgd", loss=["mse", "mse"])
    logs = model.fit(x, [numpy.zeros((8, 3)), y], verbose=0).history
    assert sorted(logs) == ["first_loss", "loss", "second_loss"]
    with pytest.raises(ValueError, match="`loss` gives no loss for any of the outputs"):
        model.compile("sgd", loss=[None, None])
    model.compile("sgd", loss=[None, "mse"], metrics=[["mae"], []])
    with pytest.raises(ValueError, match="metrics are given for output 'first', which has no"):
        model.fit(x, y, verbose=0)


def test_one_element_tensors_act_as_python_numbers(backend):
    count = ops.convert_to_tensor(3)
    assert list(range(count)) == [0, 1, 2] and int(count) == 3
    assert bool(ops.all(ops.convert_to_tensor([1.0, 2.0]) > 0))
    assert ops.zeros(ops.convert_to_tensor([2, 3])).shape == (2, 3)
    assert ops.reshape(ops.ones(6), ops.convert_to_tensor([3, 2])).shape == (3, 2)
    assert ops.broadcast_to(ops.ones(2), ops.convert_to_tensor([4, 2])).shape == (4, 2)
    with pytest.raises(ValueError, match=r"truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(ops.convert_to_tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="Only an integer scalar tensor"):
        range(ops.convert_to_tensor(2.0))
    rows = numpy.arange(6).reshape(3, 2)
    assert rows[ops.convert_to_tensor(1)].shape == (2,)  # a scalar index
    assert rows[ops.convert_to_tensor([1])].shape == (1, 2)  # an array index, as NumPy


def test_operators_with_python_numbers_keep_keras_dtypes(backend):
    """A Python number is weakly typed, as in Keras 3: ``int32 + 1`` stays int32, a float
    makes floatx, integers divide to floatx (NumPy would give int64 and float64)."""
    ints = ops.convert_to_tensor(numpy.array([1, 2], "int32"))
    flags = ops.convert_to_tensor(numpy.array([True, False]))
    cases = {
        "int32 + 1": (ints + 1, "int32"),
        "2 * int32": (2 * ints, "int32"),
        "int32 + 1.5": (ints + 1.5, "float32"),
        "int32 / 2": (ints / 2, "float32"),
        "int32 / int32": (ints / ints, "float32"),
        "bool + 1": (flags + 1, "int32"),
        "float64 + 1": (ops.convert_to_tensor(numpy.ones(2)) + 1, "float64"),
    }
    for name, (result, dtype) in cases.items():
        assert result.dtype == dtype, f"{name}: {result.dtype}"
    numpy.testing.assert_allclose((ints / 2).numpy(), [0.5, 1.0])


@pytest.fixture
def restored_caps():
    yield
    engine.config.set_max_epochs(None)
    engine.config.set_max_steps_per_epoch(None)


def test_debugging_caps_on_epochs_and_steps(backend, restored_caps):
    """keras.config.set_max_epochs / set_max_steps_per_epoch: fit, evaluate and predict stop
    early with Keras's warnings; None removes the caps."""
    model = engine.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = numpy.ones((40, 3), "float32"), numpy.ones((40, 1), "float32")
    seen = []

    class Count(engine.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    engine.config.set_max_epochs(2)
    engine.config.set_max_steps_per_epoch(3)
    assert engine.config.max_epochs() == 2 and engine.config.max_steps_per_epoch() == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[Count()])
    messages = [str(w.message) for w in caught]
    assert "Limiting epochs to 2" in messages and "Limiting steps_per_epoch to 3" in messages
    assert len(history.history["loss"]) == 2 and seen == [0, 1, 2, 0, 1, 2]
    with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 3"):
        assert model.predict(x, batch_size=4, verbose=0).shape == (12, 1)
    evaluated = []

    class CountTests(engine.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            evaluated.append(batch)

    with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 3"):
        model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[CountTests()])
    assert evaluated == [0, 1, 2]
    engine.config.set_max_epochs(None)
    engine.config.set_max_steps_per_epoch(None)
    assert model.predict(x, batch_size=4, verbose=0).shape == (40, 1)
    assert engine.config.is_flash_attention_enabled() is None
    engine.config.disable_flash_attention()
    assert engine.config.is_flash_attention_enabled() is False
    engine.config.enable_flash_attention()
    assert not engine.config.is_nnx_enabled()
