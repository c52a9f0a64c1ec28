"""Recurrent cells, layers.RNN, StackedRNNCells, ConvLSTM1D/2D and TimeDistributed:
Keras 3.15's numbers (tests/rnn_cases.py), the fused layers on the same weights, NumPy
references and float64 gradient checks."""

import numpy
import pytest

import engine
from engine import layers
from engine.models import Sequential, load_model
from tests.gradcheck import check_gradients, check_weight_gradients

from .rnn_cases import CASES, KERAS_RESULTS, inputs_for, weights_for


def _sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_keras(backend, name):
    build, shape, kwargs = CASES[name]
    layer = build(layers)
    x = inputs_for(shape)
    layer(x)
    layer.set_weights(weights_for([tuple(w.shape) for w in layer.weights]))
    result = layer(x, **kwargs)
    results = result if isinstance(result, list) else [result]
    assert len(results) == len(KERAS_RESULTS[name])
    for got, expected in zip(results, KERAS_RESULTS[name]):
        numpy.testing.assert_allclose(got.numpy().ravel(), expected, rtol=1e-5, atol=1e-6)


# -- the same numbers as the fused layers ----------------------------------------------

FUSED = {
    "simple_rnn": (layers.SimpleRNN, layers.SimpleRNNCell, {}),
    "lstm": (layers.LSTM, layers.LSTMCell, {}),
    "gru": (layers.GRU, layers.GRUCell, {}),
    "gru_reset_before": (layers.GRU, layers.GRUCell, {"reset_after": False}),
}
OPTIONS = {
    "plain": ({}, {}),
    "backwards_sequences": ({"go_backwards": True, "return_sequences": True}, {}),
    "masked_states": ({"return_state": True, "return_sequences": True}, {"mask": True}),
    "initial_state": ({"return_state": True}, {"initial_state": True}),
}


def _pair(kind, options, units=3):
    fused_cls, cell_cls, cell_kwargs = FUSED[kind]
    fused = fused_cls(units, **cell_kwargs, **options)
    generic = layers.RNN(cell_cls(units, **cell_kwargs), **options)
    return fused, generic


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("kind", sorted(FUSED))
def test_rnn_of_a_cell_equals_the_fused_layer(backend, float64, rng, kind, option):
    """Outputs, states and the gradients of inputs, weights and initial states."""
    layer_options, call_options = OPTIONS[option]
    fused, generic = _pair(kind, layer_options)
    x = rng.normal(size=(3, 5, 4))
    fused(x)
    generic(x)
    generic.set_weights(fused.get_weights())
    n_states = 2 if kind == "lstm" else 1
    mask = None
    if call_options.get("mask"):
        mask = numpy.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]], bool)
    initial = [rng.normal(size=(3, 3)) for _ in range(n_states)]
    results, grads = [], []
    for layer in (fused, generic):
        inputs = engine.tensor(x, requires_grad=True)
        states = [engine.tensor(s, requires_grad=True) for s in initial]
        kwargs = {"mask": mask} if mask is not None else {}
        if call_options.get("initial_state"):
            kwargs["initial_state"] = states
        out = layer(inputs, **kwargs)
        outs = out if isinstance(out, list) else [out]
        total = sum((o * float(k + 1)).sum() for k, o in enumerate(outs))
        total = total + sum((o * o).sum() for o in outs)
        total.backward()
        results.append([o.numpy() for o in outs])
        extra = [s.grad.numpy() for s in states] if "initial_state" in kwargs else []
        grads.append([inputs.grad.numpy()] + [w.grad.numpy() for w in layer.weights] + extra)
    for a, b in zip(*results, strict=True):
        numpy.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
    for a, b in zip(*grads, strict=True):
        numpy.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru", "gru_reset_before"])
def test_dropout_draws_the_fused_layers_masks(backend, kind):
    """Seeded alike, a cell with dropout and recurrent dropout in training gives the fused
    layer's outputs: the same masks, per gate, reused at every step."""
    fused_cls, cell_cls, cell_kwargs = FUSED[kind]
    rates = {"dropout": 0.3, "recurrent_dropout": 0.4}
    fused = fused_cls(4, **cell_kwargs, **rates, return_sequences=True)
    generic = layers.RNN(cell_cls(4, **cell_kwargs, **rates), return_sequences=True)
    x = inputs_for((3, 5, 6))
    fused(x)
    generic(x)
    generic.set_weights(fused.get_weights())
    engine.utils.set_random_seed(7)
    expected = fused(x, training=True).numpy()
    engine.utils.set_random_seed(7)
    got = generic(x, training=True).numpy()
    numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert generic.cell._dropout_mask is None  # cleared after the call
    numpy.testing.assert_allclose(generic(x).numpy(), fused(x).numpy(), rtol=1e-5, atol=1e-6)


# -- cells on one step ----------------------------------------------------------------------


def test_lstm_cell_one_step_matches_numpy(backend, float64, rng):
    cell = layers.LSTMCell(3)
    x, h, c = rng.normal(size=(2, 4)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    output, (h1, c1) = cell(x, [h, c])
    kernel, recurrent_kernel, bias = cell.get_weights()
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = _sigmoid(z[:, :3]), _sigmoid(z[:, 3:6]), numpy.tanh(z[:, 6:9]), z[:, 9:]
    c_expected = f * c + i * g
    h_expected = _sigmoid(o) * numpy.tanh(c_expected)
    numpy.testing.assert_allclose(c1.numpy(), c_expected, rtol=1e-12)
    numpy.testing.assert_allclose(output.numpy(), h_expected, rtol=1e-12)
    assert h1 is output
    numpy.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # forget bias


def test_gru_and_simple_rnn_cells_take_a_state_tensor_or_a_list(backend, float64, rng):
    x, h = rng.normal(size=(2, 4)), rng.normal(size=(2, 3))
    gru = layers.GRUCell(3, bias_initializer="random_normal")
    output, state = gru(x, h)
    assert isinstance(state, engine.Tensor)
    kernel, recurrent_kernel, bias = gru.get_weights()
    matrix_x, inner = x @ kernel + bias[0], h @ recurrent_kernel + bias[1]
    z = _sigmoid(matrix_x[:, :3] + inner[:, :3])
    r = _sigmoid(matrix_x[:, 3:6] + inner[:, 3:6])
    hh = numpy.tanh(matrix_x[:, 6:] + r * inner[:, 6:])
    numpy.testing.assert_allclose(output.numpy(), z * h + (1 - z) * hh, rtol=1e-12)
    simple = layers.SimpleRNNCell(3, activation="relu")
    output, states = simple(x, [h])
    kernel, recurrent_kernel, bias = simple.get_weights()
    numpy.testing.assert_allclose(
        states[0].numpy(), numpy.maximum(x @ kernel + h @ recurrent_kernel + bias, 0)
    )


def test_cell_weights_names_and_shapes_follow_keras():
    cells = {
        "simple_rnn_cell": layers.SimpleRNNCell(2),
        "lstm_cell": layers.LSTMCell(2),
        "gru_cell": layers.GRUCell(2),
    }
    for prefix, cell in cells.items():
        assert cell.name.startswith(prefix)
        cell.build_from_shape((None, 5))
    assert [w.shape for w in cells["lstm_cell"].weights] == [(5, 8), (2, 8), (8,)]
    assert [w.shape for w in cells["gru_cell"].weights] == [(5, 6), (2, 6), (2, 6)]
    assert layers.GRUCell(2, reset_after=False).state_size == 2
    assert layers.LSTMCell(2).state_size == [2, 2]
    assert layers.RNN(layers.LSTMCell(2)).name.startswith("rnn")
    assert layers.ConvLSTM2D(2, 3).name.startswith("conv_lstm2d")
    assert layers.ConvLSTM3D(2, 3).name.startswith("conv_lstm3d")
    assert layers.TimeDistributed(layers.Dense(2)).name.startswith("time_distributed")
    with pytest.raises(ValueError, match="units"):
        layers.LSTMCell(0)
    with pytest.raises(ValueError, match="dropout"):
        layers.GRUCell(2, dropout=1.5)


# -- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.RNN(layers.SimpleRNNCell(2), return_sequences=True),
        lambda: layers.RNN(layers.LSTMCell(2), go_backwards=True),
        lambda: layers.RNN(layers.GRUCell(2, reset_after=False), return_sequences=True),
        lambda: layers.RNN([layers.GRUCell(2), layers.LSTMCell(2)], return_sequences=True),
    ],
)
def test_gradients(backend, float64, rng, make):
    layer = make()
    x = rng.normal(size=(2, 3, 3))
    layer(x)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: layers.ConvLSTM2D(2, (2, 2), padding="same", return_sequences=True), (3, 3)),
        (lambda: layers.ConvLSTM3D(1, 2, padding="same"), (2, 2, 2)),
    ],
)
def test_conv_lstm_gradients(backend, float64, rng, make, shape):
    layer = make()
    x = rng.normal(size=(1, 2, *shape, 1))
    layer(x)
    check_gradients(layer, x, backend=backend)
    check_weight_gradients(lambda: layer(x), layer.trainable_weights)


def test_conv_lstm_dropout_in_training_only(backend, rng):
    layer = layers.ConvLSTM1D(2, 2, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x = rng.normal(size=(2, 3, 5, 2)).astype("float32")
    inference = layer(x).numpy()
    numpy.testing.assert_array_equal(layer(x).numpy(), inference)
    engine.utils.set_random_seed(3)
    training = layer(x, training=True).numpy()
    assert training.shape == inference.shape and not numpy.allclose(training, inference)
    assert layer.cell._dropout_mask is None and layer.cell._recurrent_dropout_mask is None


# -- custom cells, stacks, states ------------------------------------------------------------


class MinimalRNNCell(layers.Layer):
    """Keras's documentation example of a custom cell."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), name="recurrent_kernel"
        )

    def call(self, inputs, states):
        output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return output, [output]


def test_a_custom_cell_runs_and_trains(backend, rng):
    layer = layers.RNN(MinimalRNNCell(3), return_sequences=True)
    x = rng.normal(size=(4, 5, 2)).astype("float32")
    out = layer(x).numpy()
    kernel, recurrent_kernel = layer.get_weights()
    h = numpy.zeros((4, 3), "float32")
    for t in range(5):
        h = x[:, t] @ kernel + h @ recurrent_kernel
        numpy.testing.assert_allclose(out[:, t], h, rtol=1e-5, atol=1e-6)
    model = Sequential([layers.Input((5, 2)), layers.RNN([MinimalRNNCell(3), MinimalRNNCell(2)])])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, numpy.ones((4, 2), "float32"), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_stacked_cells_states_flat_or_nested(backend, rng):
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    layer = layers.RNN([layers.LSTMCell(3), layers.SimpleRNNCell(2)], return_state=True)
    output, (h1, c1), (h2,) = layer(x)  # as Keras: the default states are lists
    assert layer.state_size == [[3, 3], 2]
    assert output.shape == (2, 2) and h1.shape == c1.shape == (2, 3) and h2.shape == (2, 2)
    states = [rng.normal(size=s).astype("float32") for s in [(2, 3), (2, 3), (2, 2)]]
    nested = layer(x, initial_state=[states[:2], states[2]])
    flat = layer(x, initial_state=states)
    for a, b in zip(engine.symbolic.flatten(nested), engine.symbolic.flatten(flat)):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="expects 3 initial state"):
        layer(x, initial_state=states[:2])


def test_stateful_rnn_continues_from_the_last_states(backend, rng):
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    whole = layers.RNN(layers.GRUCell(4), return_sequences=True)
    expected = whole(x).numpy()
    stateful = layers.RNN(layers.GRUCell(4), return_sequences=True, stateful=True)
    stateful(x[:, :3])
    stateful.set_weights(whole.get_weights())
    stateful.reset_state()
    first, second = stateful(x[:, :3]).numpy(), stateful(x[:, 3:]).numpy()
    numpy.testing.assert_allclose(numpy.concatenate([first, second], 1), expected, rtol=1e-5)
    stateful.reset_state()
    numpy.testing.assert_allclose(stateful(x[:, :3]).numpy(), first, rtol=1e-6)


def test_symbolic_shapes_and_saving(backend, tmp_path, rng):
    inputs = layers.Input((4, 3))
    output, h, c = layers.RNN(layers.LSTMCell(5), return_state=True)(inputs)
    stacked = layers.RNN(
        layers.StackedRNNCells([layers.GRUCell(3), layers.SimpleRNNCell(2)]),
        return_sequences=True,
    )(inputs)
    distributed = layers.TimeDistributed(layers.Dense(2))(stacked)
    assert output.shape == h.shape == c.shape == (None, 5)
    assert distributed.shape == (None, 4, 2)
    model = engine.Model(inputs, [output, distributed])
    frames = layers.Input((2, 5, 5, 1))
    conv_model = Sequential(
        [frames, layers.ConvLSTM2D(2, 3, return_sequences=True), layers.ConvLSTM2D(1, 2)]
    )
    assert conv_model.output_shape == (None, 2, 2, 1)
    for each, shape in ((model, (2, 4, 3)), (conv_model, (2, 2, 5, 5, 1))):
        x = rng.normal(size=shape).astype("float32")
        each.save(tmp_path / "m.safetensors")
        loaded = load_model(tmp_path / "m.safetensors")
        for a, b in zip(
            engine.symbolic.flatten(each.predict(x, verbose=0)),
            engine.symbolic.flatten(loaded.predict(x, verbose=0)),
        ):
            numpy.testing.assert_allclose(a, b, rtol=1e-6)
    config = layers.ConvLSTM2D(2, 3, padding="same").get_config()
    assert "cell" not in config and config["filters"] == 2 and config["kernel_size"] == (3, 3)


# -- TimeDistributed --------------------------------------------------------------------------


def test_time_distributed_applies_the_layer_to_every_step(backend, rng):
    x = rng.normal(size=(2, 3, 6, 6, 1)).astype("float32")
    conv = layers.Conv2D(2, 3)
    layer = layers.TimeDistributed(conv)
    out = layer(x)
    assert out.shape == (2, 3, 4, 4, 2) and layer.weights == conv.weights
    for t in range(3):
        numpy.testing.assert_allclose(out.numpy()[:, t], conv(x[:, t]).numpy(), rtol=1e-5)
    assert layer.compute_output_shape((None, 7, 6, 6, 1)) == (None, 7, 4, 4, 2)
    with pytest.raises(ValueError, match="rank 3 or more"):
        layers.TimeDistributed(layers.Dense(2))(numpy.ones((2, 3), "float32"))


def test_time_distributed_batch_normalization_uses_each_steps_statistics(backend, rng):
    x = (rng.normal(size=(4, 3, 2)) * numpy.array([1.0, 5.0, 20.0])[:, None]).astype("float32")
    layer = layers.TimeDistributed(layers.BatchNormalization())
    out = layer(x, training=True).numpy()
    mean, var = x.mean(axis=0), x.var(axis=0)
    numpy.testing.assert_allclose(out, (x - mean) / numpy.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)


def test_time_distributed_passes_masks_through(backend):
    model = Sequential(
        [
            layers.Input((None,), dtype="int64"),
            layers.Embedding(5, 3, mask_zero=True),
            layers.TimeDistributed(layers.Dense(3)),
            layers.RNN(layers.SimpleRNNCell(2)),
        ]
    )
    x = numpy.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    expected = model.predict(numpy.array([[1, 2], [3, 0]]), verbose=0)
    numpy.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    assert layers.TimeDistributed(layers.Dense(2)).get_config()["layer"]["class_name"] == "Dense"
