"""SimpleRNN, LSTM, GRU and Bidirectional: kernels, Keras's equations, gradients, bad input."""

import importlib.util
import json
import pathlib

import numpy
import pytest

import engine
from engine import functional as F
from engine import layers
from tests.gradcheck import check_gradients, check_weight_gradients

BATCH, TIMESTEPS, FEATURES, UNITS = 2, 4, 3, 2
# one sequence masked at its start and end, one fully unmasked
MASK = numpy.array([[False, True, True, False], [True, True, True, True]])


def sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


# -- a plain per-step NumPy implementation of Keras's equations -----------


def numpy_rnn(step, x, states, mask=None, go_backwards=False):
    """Run ``step(x_t, states) -> states`` over time with Keras's masking; outputs are states[0]."""
    order = range(x.shape[1])[::-1] if go_backwards else range(x.shape[1])
    outputs = []
    for t in order:
        new = step(x[:, t], states)
        if mask is not None:
            keep = mask[:, t, None]
            new = [numpy.where(keep, n, s) for n, s in zip(new, states)]
        states = new
        outputs.append(states[0])
    return numpy.stack(outputs, axis=1), states


def numpy_simple_rnn(x, kernel, recurrent_kernel, bias, **kwargs):
    def step(x_t, states):
        return [numpy.tanh(x_t @ kernel + states[0] @ recurrent_kernel + bias)]

    return numpy_rnn(step, x, [numpy.zeros((x.shape[0], kernel.shape[1]))], **kwargs)


def numpy_lstm(x, kernel, recurrent_kernel, bias, **kwargs):
    units = recurrent_kernel.shape[0]

    def step(x_t, states):
        h, c = states
        z = x_t @ kernel + h @ recurrent_kernel + bias
        i = sigmoid(z[:, :units])
        f = sigmoid(z[:, units : 2 * units])
        g = numpy.tanh(z[:, 2 * units : 3 * units])
        o = sigmoid(z[:, 3 * units :])
        c = f * c + i * g
        return [o * numpy.tanh(c), c]

    zeros = numpy.zeros((x.shape[0], units))
    return numpy_rnn(step, x, [zeros, zeros], **kwargs)


def numpy_gru(x, kernel, recurrent_kernel, bias, **kwargs):
    units = recurrent_kernel.shape[0]

    def step(x_t, states):
        (h,) = states
        x_part = x_t @ kernel + bias[0]
        rec = h @ recurrent_kernel + bias[1]
        z = sigmoid(x_part[:, :units] + rec[:, :units])
        r = sigmoid(x_part[:, units : 2 * units] + rec[:, units : 2 * units])
        hh = numpy.tanh(x_part[:, 2 * units :] + r * rec[:, 2 * units :])
        return [z * h + (1 - z) * hh]

    return numpy_rnn(step, x, [numpy.zeros((x.shape[0], units))], **kwargs)


NUMPY_REFERENCES = {
    layers.SimpleRNN: numpy_simple_rnn,
    layers.LSTM: numpy_lstm,
    layers.GRU: numpy_gru,
}
LAYER_CLASSES = list(NUMPY_REFERENCES)


def random_weights(layer, rng):
    layer.set_weights([rng.standard_normal(w.shape) * 0.7 for w in layer.get_weights()])
    return layer.get_weights()


def joined(outputs):
    """A layer's output (or list of outputs) as one tensor, for gradient checks."""
    if not isinstance(outputs, list):
        return outputs
    return F.concatenate([o.reshape(o.shape[0], -1) for o in outputs], axis=1)


# -- kernels against the reference ----------------------------------------


def test_cell_kernels_match_reference(backend, reference, rng):
    xp = backend.xp
    batch, units = 3, 4

    def both(name, *arrays):
        ours = getattr(backend, name)(*[xp.asarray(a) for a in arrays])
        expected = getattr(reference, name)(*arrays)
        for a, b in zip(ours, expected):
            numpy.testing.assert_allclose(backend.to_numpy(a), b, rtol=1e-10, atol=1e-12)
        return expected

    h = rng.standard_normal((batch, units))
    c = rng.standard_normal((batch, units))
    new_h, new_c, preact, gates = both(
        "lstm_cell_forward",
        rng.standard_normal((batch, 4 * units)),
        h,
        c,
        rng.standard_normal((units, 4 * units)),
    )
    dh, dc = rng.standard_normal((2, batch, units))
    both("lstm_cell_backward", dh, dc, c, new_c, preact, gates)

    new_h, preact, gates, rec_h = both(
        "gru_cell_forward",
        rng.standard_normal((batch, 3 * units)),
        h,
        rng.standard_normal((units, 3 * units)),
        rng.standard_normal(3 * units),
    )
    both("gru_cell_backward", dh, h, preact, gates, rec_h)

    new_h, preact = both(
        "simple_rnn_cell_forward",
        rng.standard_normal((batch, units)),
        h,
        rng.standard_normal((units, units)),
    )
    numpy.testing.assert_allclose(
        backend.to_numpy(backend.simple_rnn_cell_backward(xp.asarray(dh), xp.asarray(preact),
                                                          xp.asarray(new_h))),
        reference.simple_rnn_cell_backward(dh, preact, new_h),
    )  # fmt: skip


def test_lstm_cell_backward_matches_finite_differences(reference, rng):
    """The cell kernels alone, before any layer plumbing."""
    batch, units = 2, 3
    x_proj = rng.standard_normal((batch, 4 * units))
    h = rng.standard_normal((batch, units))
    c = rng.standard_normal((batch, units))
    recurrent = rng.standard_normal((units, 4 * units))
    dh, dc = rng.standard_normal((2, batch, units))

    def loss(x_values, c_values):
        new_h, new_c, _, _ = reference.lstm_cell_forward(x_values, h, c_values, recurrent)
        return float((new_h * dh).sum() + (new_c * dc).sum())

    def numeric_gradient(f, point):
        numeric = numpy.zeros_like(point)
        for index in numpy.ndindex(point.shape):
            step = numpy.zeros_like(point)
            step[index] = 1e-6
            numeric[index] = (f(point + step) - f(point - step)) / 2e-6
        return numeric

    _, new_c, preact, gates = reference.lstm_cell_forward(x_proj, h, c, recurrent)
    dpreact, dc_prev = reference.lstm_cell_backward(dh, dc, c, new_c, preact, gates)
    expected = numeric_gradient(lambda v: loss(v, c), x_proj)
    numpy.testing.assert_allclose(dpreact, expected, rtol=1e-5, atol=1e-7)
    expected = numeric_gradient(lambda v: loss(x_proj, v), c)
    numpy.testing.assert_allclose(dc_prev, expected, rtol=1e-5, atol=1e-7)


# -- forward against Keras's equations ------------------------------------


@pytest.mark.parametrize("layer_class", LAYER_CLASSES)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_forward_matches_numpy_equations(backend, float64, rng, layer_class, masked, go_backwards):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer = layer_class(UNITS, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer(x)
    weights = random_weights(layer, rng)
    mask = MASK if masked else None
    sequence, states = NUMPY_REFERENCES[layer_class](
        x, *weights, mask=mask, go_backwards=go_backwards
    )
    outputs = layer(x, mask=mask)
    numpy.testing.assert_allclose(outputs[0].numpy(), sequence, rtol=1e-10, atol=1e-12)
    for ours, expected in zip(outputs[1:], states):
        numpy.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10, atol=1e-12)
    last = layer_class(UNITS, go_backwards=go_backwards)
    last(x)
    last.set_weights(weights)
    numpy.testing.assert_allclose(last(x, mask=mask).numpy(), states[0], rtol=1e-10)


def test_lstm_default_weights_follow_keras(backend):
    layer = layers.LSTM(3)
    layer(numpy.zeros((1, 2, 5), dtype="float32"))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (5, 12) and recurrent.shape == (3, 12) and bias.shape == (12,)
    assert all(w.dtype == numpy.float32 for w in (kernel, recurrent, bias))
    numpy.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    # orthogonal recurrent kernel: its 3 rows are orthonormal
    numpy.testing.assert_allclose(recurrent @ recurrent.T, numpy.eye(3), atol=1e-5)
    assert layer.count_params() == 5 * 12 + 3 * 12 + 12


@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_weights_are_c_ordered_and_updated_by_the_backend_kernels(backend, layer_class):
    """The orthogonal recurrent kernel (a transposed Q) is stored C-ordered like the other
    weights, so the fused optimizer kernels update it in place and nothing falls back."""
    model = engine.Sequential([layers.Input((4, 3)), layer_class(5), layers.Dense(1)])
    model.compile(engine.optimizers.Adam(), "mse")
    assert all(w.data.flags.c_contiguous for w in model.weights)
    from backends.kernels.optimizers import OptimizerKernels

    fallback = OptimizerKernels.adam_update  # the reference, under every backend's override
    calls = []

    def count_fallback(self, *args, **kwargs):
        calls.append(args[0].shape)
        return fallback(self, *args, **kwargs)

    x, y = numpy.ones((2, 4, 3), "float32"), numpy.ones((2, 1), "float32")
    if type(backend).adam_update is fallback:  # no fused kernel to miss on this backend
        model.train_on_batch(x, y)
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OptimizerKernels, "adam_update", count_fallback)
        model.train_on_batch(x, y)
    assert calls == []


def test_gru_bias_shape_and_param_count(backend):
    layer = layers.GRU(4)
    layer(numpy.zeros((1, 2, 3), dtype="float32"))
    assert [w.shape for w in layer.get_weights()] == [(3, 12), (4, 12), (2, 12)]
    assert layer.count_params() == 3 * 12 + 4 * 12 + 2 * 12  # as Keras reports


def test_right_padding_with_mask_gives_the_unpadded_result(backend, float64, rng):
    """Masking = the padded sequence behaves as the shorter one, as in Keras."""
    x = rng.standard_normal((1, 3, FEATURES))
    padded = numpy.concatenate([x, numpy.zeros((1, 2, FEATURES))], axis=1)
    mask = numpy.array([[True, True, True, False, False]])
    layer = layers.LSTM(UNITS)
    expected = layer(x).numpy()
    numpy.testing.assert_allclose(layer(padded, mask=mask).numpy(), expected, rtol=1e-12)


def test_embedding_mask_reaches_the_lstm_in_sequential(backend, float64):
    indices = numpy.array([[3, 1, 2, 0, 0]])
    embedding, lstm = layers.Embedding(5, 3, mask_zero=True), layers.LSTM(UNITS)
    model = engine.models.Sequential([embedding, lstm])
    padded = model.predict(indices, verbose=0)
    unpadded = lstm(embedding(indices[:, :3])).numpy()
    numpy.testing.assert_allclose(padded, unpadded, rtol=1e-10)
    # called eagerly, the mask rides on the embedding's output (Keras 3's _keras_mask)
    numpy.testing.assert_allclose(lstm(embedding(indices)).numpy(), unpadded, rtol=1e-10)
    unmasked = embedding(indices)
    unmasked._keras_mask = None
    assert not numpy.allclose(lstm(unmasked).numpy(), unpadded)  # the mask mattered


# -- gradients -------------------------------------------------------------

OPTIONS = [
    {},
    {"return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "return_state": True, "go_backwards": True},
    {"go_backwards": True},
]


def _check_layer(layer, x, mask=None):
    layer(x)
    check_gradients(lambda t: joined(layer(t, mask=mask)), x)
    check_weight_gradients(lambda: joined(layer(x, mask=mask)), layer.weights)


@pytest.mark.parametrize("layer_class", LAYER_CLASSES)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o) or "default")
def test_gradients(backend, float64, rng, layer_class, options):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer = layer_class(UNITS, **options)
    layer(x)
    random_weights(layer, rng)
    _check_layer(layer, x)


@pytest.mark.parametrize("layer_class", LAYER_CLASSES)
@pytest.mark.parametrize("options", OPTIONS[1:4], ids=lambda o: "-".join(o))
def test_gradients_with_mask(backend, float64, rng, layer_class, options):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer = layer_class(UNITS, zero_output_for_mask=True, **options)
    layer(x)
    random_weights(layer, rng)
    _check_layer(layer, x, MASK)


def test_gradients_without_bias_and_with_relu(backend, float64, rng):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    _check_layer(layers.SimpleRNN(UNITS, activation="relu", use_bias=False), x)
    _check_layer(layers.GRU(UNITS, use_bias=False, return_sequences=True), x)


@pytest.mark.parametrize("layer_class", LAYER_CLASSES)
@pytest.mark.parametrize("masked", [False, True])
def test_bidirectional_gradients(backend, float64, rng, layer_class, masked):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer = layers.Bidirectional(layer_class(UNITS, return_sequences=True))
    _check_layer(layer, x, MASK if masked else None)


@pytest.mark.parametrize("merge_mode", ["sum", "mul", "ave", None])
def test_bidirectional_merge_modes_and_states(backend, float64, rng, merge_mode):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer = layers.Bidirectional(layers.LSTM(UNITS, return_state=True), merge_mode=merge_mode)
    outputs = layer(x)
    n_outputs = 2 if merge_mode is None else 1
    assert len(outputs) == n_outputs + 4
    expected = layer.compute_output_shape((None, TIMESTEPS, FEATURES))
    assert [o.shape[1:] for o in outputs] == [s[1:] for s in expected]
    _check_layer(layer, x)


def test_bidirectional_matches_two_numpy_passes(backend, float64, rng):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer = layers.Bidirectional(layers.GRU(UNITS, return_sequences=True, name="enc"))
    layer(x)
    weights = random_weights(layer, rng)
    assert [w.shape for w in weights] == [(3, 6), (2, 6), (2, 6)] * 2
    forward, _ = numpy_gru(x, *weights[:3], mask=MASK)
    backward, _ = numpy_gru(x, *weights[3:], mask=MASK, go_backwards=True)
    forward *= MASK[:, :, None]  # masked steps output zeros when returning sequences
    backward = backward[:, ::-1] * MASK[:, :, None]
    expected = numpy.concatenate([forward, backward], axis=-1)
    numpy.testing.assert_allclose(layer(x, mask=MASK).numpy(), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None, TIMESTEPS, FEATURES)) == (None, TIMESTEPS, 4)
    assert [w.name.split("/")[0] for w in layer.weights[::3]] == ["forward_enc", "backward_enc"]


# -- configs and shapes ----------------------------------------------------


@pytest.mark.parametrize("layer_class", LAYER_CLASSES)
def test_config_round_trip(backend, layer_class):
    layer = layer_class(3, return_sequences=True, go_backwards=True)
    config = json.loads(json.dumps(layer.get_config()))
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    x = numpy.zeros((2, 5, 4), dtype="float32")
    assert clone(x).shape == clone.compute_output_shape((2, 5, 4)) == (2, 5, 3)


def test_bidirectional_config_round_trip(backend):
    layer = layers.Bidirectional(layers.LSTM(3), merge_mode="sum")
    config = json.loads(json.dumps(layer.get_config()))
    clone = layers.Bidirectional.from_config(config)
    assert clone.get_config() == config
    assert clone.backward_layer.go_backwards and not clone.forward_layer.go_backwards
    assert clone(numpy.zeros((2, 5, 4), dtype="float32")).shape == (2, 3)


# -- bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    "layer", [layers.SimpleRNN(2), layers.LSTM(2), layers.GRU(2)], ids=lambda layer: layer.name
)
def test_two_dimensional_input_is_rejected(backend, layer):
    with pytest.raises(ValueError, match=rf"'{layer.name}' expects a 3-D input.*\(4, 3\)"):
        layer(numpy.zeros((4, 3), dtype="float32"))
    with pytest.raises(ValueError, match="3-D input"):
        layer.compute_output_shape((None, 3))


def test_bidirectional_rejects_two_dimensional_input(backend):
    layer = layers.Bidirectional(layers.LSTM(2))
    with pytest.raises(ValueError, match="3-D input"):
        layer(numpy.zeros((4, 3), dtype="float32"))


def test_lstm_set_weights_checks_count_and_shapes(backend):
    layer = layers.LSTM(2, name="my_lstm")
    layer(numpy.zeros((1, 3, 4), dtype="float32"))
    kernel, recurrent, bias = layer.get_weights()
    with pytest.raises(ValueError, match=r"'my_lstm' expects 3 weight arrays.*received 2"):
        layer.set_weights([kernel, recurrent])
    with pytest.raises(ValueError, match=r"'my_lstm'.*recurrent_kernel.*\(2, 8\).*\(8, 2\)"):
        layer.set_weights([kernel, recurrent.T, bias])
    with pytest.raises(ValueError, match=r"'my_lstm'.*bias.*\(8,\).*\(6,\)"):
        layer.set_weights([kernel, recurrent, bias[:6]])


def test_bad_arguments(backend):
    with pytest.raises(ValueError, match="units"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer"):
        layers.Bidirectional(layers.Dense(2))
    with pytest.raises(ValueError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    with pytest.raises(ValueError, match="Unknown activation"):
        layers.GRU(2, activation="nope")
    x = numpy.ones((2, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"LSTM 'lstm.*'.*\(2, 5\) of the inputs; got \(2, 3\)"):
        layers.LSTM(2)(x, mask=numpy.ones((2, 3), bool))


# -- end to end -------------------------------------------------------------

EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "text_lstm.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("text_lstm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_text_lstm_example_reaches_90_percent(backend):
    text_lstm = _load_example()
    model, _, accuracy = text_lstm.train(epochs=8, seed=0, verbose=0)
    assert accuracy >= 0.90, f"held-out accuracy {accuracy:.3f}"
    assert [type(layer).__name__ for layer in model.layers] == ["Embedding", "LSTM", "Dense"]


def test_bidirectional_gru_trains_in_sequential_with_a_mask(backend):
    text_lstm = _load_example()
    (x, y), _ = text_lstm.load_data(seed=1, train_size=128)
    model = engine.models.Sequential(
        [
            layers.Embedding(text_lstm.VOCABULARY, 4, mask_zero=True),
            layers.Bidirectional(layers.GRU(4, return_sequences=True)),
            layers.SimpleRNN(3),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.count_params() == 12 * 4 + 2 * (4 * 12 + 4 * 12 + 2 * 12) + (8 * 3 + 9 + 3) + 4
