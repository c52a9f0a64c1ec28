"""Keras 3's recurrent arguments: initial_state, return_state, go_backwards, dropout,
recurrent_dropout, unroll and GRU(reset_after=False), against NumPy references.

The references follow Keras 3's cells (``keras/src/layers/rnn``): dropout
masks drawn once per call and applied at every step, one input mask for all
gates, or one per gate (inputs and state) when ``recurrent_dropout`` is on;
``scripts/keras_recurrent_parity.py`` checks the same cases against Keras.
"""

import json

import numpy
import pytest

import engine
from engine import functional as F
from engine import layers
from tests.gradcheck import check_gradients, check_weight_gradients

BATCH, TIMESTEPS, FEATURES, UNITS = 2, 4, 3, 2
MASK = numpy.array([[False, True, True, False], [True, True, True, True]])

# (layer class, constructor options, number of gates, number of states)
KINDS = {
    "simple_rnn": (layers.SimpleRNN, {}, 1, 1),
    "lstm": (layers.LSTM, {}, 4, 2),
    "gru": (layers.GRU, {}, 3, 1),
    "gru_reset_before": (layers.GRU, {"reset_after": False}, 3, 1),
}


def sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def gate_matmul(v, kernel, masks):
    """``v @ kernel``, gate ``k``'s columns seeing ``v * masks[k]`` (masks None: no dropout)."""
    if masks is None:
        return v @ kernel
    width = kernel.shape[1] // len(masks)
    return numpy.concatenate(
        [(v * m) @ kernel[:, k * width : (k + 1) * width] for k, m in enumerate(masks)], axis=1
    )


def numpy_layer(
    kind, x, weights, initial=None, mask=None, go_backwards=False, dropout=(None, None)
):
    """Keras's equations step by step: ``(outputs in processing order, final states)``."""
    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else numpy.zeros(kernel.shape[1])
    units = recurrent.shape[0]
    input_masks, recurrent_masks = dropout
    n_states = KINDS[kind][3]
    states = initial or [numpy.zeros((x.shape[0], units))] * n_states

    def step(x_t, states):
        h = states[0]
        if kind == "simple_rnn":
            return [
                numpy.tanh(
                    gate_matmul(x_t, kernel, input_masks)
                    + bias
                    + gate_matmul(h, recurrent, recurrent_masks)
                )
            ]
        if kind == "lstm":
            z = gate_matmul(x_t, kernel, input_masks) + bias
            z = z + gate_matmul(h, recurrent, recurrent_masks)
            i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
            c = sigmoid(f) * states[1] + sigmoid(i) * numpy.tanh(g)
            return [sigmoid(o) * numpy.tanh(c), c]
        if kind == "gru":
            x_part = gate_matmul(x_t, kernel, input_masks) + bias[0]
            rec = gate_matmul(h, recurrent, recurrent_masks) + bias[1]
            z = sigmoid(x_part[:, :units] + rec[:, :units])
            r = sigmoid(x_part[:, units : 2 * units] + rec[:, units : 2 * units])
            hh = numpy.tanh(x_part[:, 2 * units :] + r * rec[:, 2 * units :])
            return [z * h + (1 - z) * hh]
        x_part = gate_matmul(x_t, kernel, input_masks) + bias  # reset_after=False
        h_masks = [None] * 3 if recurrent_masks is None else recurrent_masks
        gate = [h if m is None else h * m for m in h_masks]
        z = sigmoid(x_part[:, :units] + gate[0] @ recurrent[:, :units])
        r = sigmoid(x_part[:, units : 2 * units] + gate[1] @ recurrent[:, units : 2 * units])
        hh = numpy.tanh(x_part[:, 2 * units :] + (r * gate[2]) @ recurrent[:, 2 * units :])
        return [z * h + (1 - z) * hh]

    order = range(x.shape[1])[::-1] if go_backwards else range(x.shape[1])
    outputs = []
    for t in order:
        new = step(x[:, t], states)
        if mask is not None:
            new = [numpy.where(mask[:, t, None], n, s) for n, s in zip(new, states)]
        states = new
        outputs.append(states[0])
    return numpy.stack(outputs, axis=1), states


def make_layer(kind, rng, **options):
    layer_class, defaults, _, _ = KINDS[kind]
    layer = layer_class(UNITS, **defaults, **options)
    layer.build_from_shape((BATCH, TIMESTEPS, FEATURES))
    layer.set_weights([rng.standard_normal(w.shape) * 0.7 for w in layer.get_weights()])
    return layer


def random_states(kind, rng):
    return [rng.standard_normal((BATCH, UNITS)) for _ in range(KINDS[kind][3])]


def joined(outputs):
    if not isinstance(outputs, list):
        return outputs
    return F.concatenate([o.reshape(o.shape[0], -1) for o in outputs], axis=1)


def fixed_dropout(layer, rng, dropout=0.0, recurrent_dropout=0.0):
    """Give ``layer`` fixed dropout masks, shaped as its own draws; return them."""
    n_masks = layer.n_gates if recurrent_dropout else 1
    masks = [None, None]
    for index, (rate, size) in enumerate(((dropout, FEATURES), (recurrent_dropout, UNITS))):
        if rate:
            masks[index] = (rng.random((n_masks, BATCH, size)) >= rate) / (1 - rate)
    layer._dropout_masks = lambda inputs: tuple(
        None if m is None else inputs.backend.asarray(m.astype(inputs.dtype)) for m in masks
    )
    return tuple(masks)


@pytest.fixture
def layer_of(rng):
    """``layer_of(kind, **options)``: a built layer with random weights."""
    return lambda kind, **options: make_layer(kind, rng, **options)


# -- forward against the references -----------------------------------------

SCENARIOS = {
    "go_backwards": {"go_backwards": True},
    "initial_state": {"initial_state": True},
    "initial_state-go_backwards-mask": {"initial_state": True, "go_backwards": True, "mask": True},
    "mask": {"mask": True},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_forward_matches_numpy_reference(backend, float64, rng, layer_of, kind, scenario):
    setup = SCENARIOS[scenario]
    go_backwards = setup.get("go_backwards", False)
    layer = layer_of(kind, return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = random_states(kind, rng) if setup.get("initial_state") else None
    mask = MASK if setup.get("mask") else None
    outputs = layer(x, initial_state=initial, mask=mask)
    assert isinstance(outputs, list) and len(outputs) == 1 + KINDS[kind][3]
    assert all(isinstance(o, engine.Tensor) for o in outputs)
    sequence, states = numpy_layer(
        kind, x, layer.get_weights(), initial, mask, go_backwards=go_backwards
    )
    numpy.testing.assert_allclose(outputs[0].numpy(), sequence, rtol=1e-10, atol=1e-12)
    for ours, expected in zip(outputs[1:], states):
        numpy.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_go_backwards_is_the_reversed_sequence_in_processing_order(backend, rng, layer_of, kind):
    """As Keras: ``go_backwards`` runs x[:, ::-1] and returns its outputs unflipped."""
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES)).astype("float32")
    backwards = layer_of(kind, return_sequences=True, go_backwards=True)
    forwards = layer_of(kind, return_sequences=True)
    forwards.set_weights(backwards.get_weights())
    numpy.testing.assert_allclose(
        backwards(x).numpy(), forwards(x[:, ::-1].copy()).numpy(), rtol=1e-6, atol=1e-7
    )


def test_initial_state_is_accepted_positionally_and_as_one_tensor(backend, rng, layer_of):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES)).astype("float32")
    h = rng.standard_normal((BATCH, UNITS)).astype("float32")
    layer = layer_of("gru")
    expected = layer(x, initial_state=[h]).numpy()
    numpy.testing.assert_array_equal(layer(x, [engine.tensor(h)]).numpy(), expected)
    numpy.testing.assert_array_equal(layer(x, initial_state=h).numpy(), expected)
    assert not numpy.allclose(layer(x).numpy(), expected)  # the state mattered


def test_unroll_is_accepted_and_changes_nothing(backend, rng, layer_of):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES)).astype("float32")
    rolled, unrolled = layer_of("lstm"), layer_of("lstm", unroll=True)
    unrolled.set_weights(rolled.get_weights())
    numpy.testing.assert_array_equal(unrolled(x).numpy(), rolled(x).numpy())
    assert unrolled.get_config()["unroll"] is True


# -- GRU(reset_after=False) ---------------------------------------------------


def test_gru_reset_before_weights_follow_keras(backend):
    layer = layers.GRU(4, reset_after=False)
    layer(numpy.zeros((1, 2, 3), dtype="float32"))
    assert [w.shape for w in layer.get_weights()] == [(3, 12), (4, 12), (12,)]
    assert layer.count_params() == 3 * 12 + 4 * 12 + 12  # as Keras reports
    config = json.loads(json.dumps(layer.get_config()))
    assert config["reset_after"] is False
    clone = layers.GRU.from_config(config)
    clone(numpy.zeros((1, 2, 3), dtype="float32"))
    assert [w.shape for w in clone.get_weights()] == [(3, 12), (4, 12), (12,)]
    assert not layers.GRU(4, reset_after=False, use_bias=False).use_bias


def test_bidirectional_gru_reset_before(backend, float64, rng):
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer = layers.Bidirectional(layers.GRU(UNITS, reset_after=False, return_sequences=True))
    layer(x)
    weights = [rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    forward, _ = numpy_layer("gru_reset_before", x, weights[:3])
    backward, _ = numpy_layer("gru_reset_before", x, weights[3:], go_backwards=True)
    expected = numpy.concatenate([forward, backward[:, ::-1]], axis=-1)
    numpy.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-10, atol=1e-12)


# -- gradients through initial and returned states ---------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_gradients_through_initial_and_returned_states(
    backend, float64, rng, layer_of, kind, go_backwards
):
    layer = layer_of(kind, return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    states = random_states(kind, rng)
    check_gradients(lambda x, *s: joined(layer(x, initial_state=list(s), mask=MASK)), x, *states)
    # the returned states alone: their gradient reaches the initial states and the weights
    check_gradients(lambda x, *s: joined(layer(x, initial_state=list(s))[1:]), x, *states)
    tensors = [engine.tensor(s) for s in states]
    check_weight_gradients(lambda: joined(layer(x, initial_state=tensors)), layer.weights)


@pytest.mark.parametrize("kind", ["simple_rnn", "gru_reset_before"])
def test_gradients_without_bias(backend, float64, rng, layer_of, kind):
    layer = layer_of(kind, use_bias=False, return_sequences=True)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    check_gradients(lambda t: layer(t, mask=MASK), x)
    check_weight_gradients(lambda: layer(x, mask=MASK), layer.weights)


def test_initial_state_gradient_of_the_first_step(backend, float64, rng):
    """A one-step SimpleRNN: d output / d h0 = diag(1 - h**2) @ recurrent_kernel.T."""
    layer = layers.SimpleRNN(UNITS)
    x = rng.standard_normal((BATCH, 1, FEATURES))
    layer(x)
    kernel, recurrent, bias = layer.get_weights()
    h0 = engine.tensor(rng.standard_normal((BATCH, UNITS)), requires_grad=True)
    output = layer(x, initial_state=[h0])
    output.sum().backward()
    h = numpy.tanh(x[:, 0] @ kernel + h0.numpy() @ recurrent + bias)
    numpy.testing.assert_allclose(h0.grad.numpy(), (1 - h**2) @ recurrent.T, rtol=1e-10)


def test_stacked_encoder_decoder_states_train(backend, rng):
    """Keras's seq2seq pattern: an encoder's returned states start a decoder."""
    encoder = layers.LSTM(4, return_state=True)
    decoder = layers.LSTM(4, return_sequences=True)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES)).astype("float32")
    _, h, c = encoder(x)
    decoder(x, initial_state=[h, c]).sum().backward()
    assert all(w.grad is not None and numpy.any(w.grad.numpy()) for w in encoder.weights)


# -- dropout -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "rates", [(0.4, 0.0), (0.0, 0.4), (0.3, 0.4)], ids=["dropout", "recurrent", "both"]
)
def test_dropout_matches_reference_with_the_same_masks(
    backend, float64, rng, layer_of, kind, rates
):
    layer = layer_of(
        kind,
        dropout=rates[0],
        recurrent_dropout=rates[1],
        return_state=True,
        return_sequences=True,
        go_backwards=True,
    )
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = random_states(kind, rng)
    masks = fixed_dropout(layer, rng, *rates)
    outputs = layer(x, initial_state=initial, mask=MASK, training=True)
    sequence, states = numpy_layer(kind, x, layer.get_weights(), initial, MASK, True, masks)
    numpy.testing.assert_allclose(outputs[0].numpy(), sequence, rtol=1e-10, atol=1e-12)
    for ours, expected in zip(outputs[1:], states):
        numpy.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10, atol=1e-12)
    check_gradients(
        lambda x, *s: joined(layer(x, initial_state=list(s), mask=MASK, training=True)),
        x,
        *initial,
    )
    check_weight_gradients(
        lambda: joined(layer(x, initial_state=initial, training=True)), layer.weights
    )


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_masks_are_drawn_per_call_with_keras_shapes(backend, rng, layer_of, kind):
    layer = layer_of(kind, dropout=0.5, recurrent_dropout=0.5)
    x = engine.tensor(rng.standard_normal((BATCH, TIMESTEPS, FEATURES)).astype("float32"))
    input_mask, recurrent_mask = layer._dropout_masks(x)
    n_gates = KINDS[kind][2]
    assert input_mask.shape == (n_gates, BATCH, FEATURES)
    assert recurrent_mask.shape == (n_gates, BATCH, UNITS)
    assert set(numpy.unique(backend.to_numpy(input_mask))) <= {0.0, 2.0}
    only_inputs = layer_of(kind, dropout=0.5)._dropout_masks(x)
    assert only_inputs[0].shape == (1, BATCH, FEATURES) and only_inputs[1] is None


def test_input_dropout_mask_is_constant_over_time(backend, rng):
    """A SimpleRNN that only sees its inputs: equal inputs at every step give equal outputs."""
    layer = layers.SimpleRNN(
        8, activation="linear", recurrent_initializer="zeros", dropout=0.5, return_sequences=True
    )
    step = rng.standard_normal((16, 1, 6)).astype("float32")
    x = numpy.repeat(step, TIMESTEPS, axis=1)
    outputs = layer(x, training=True).numpy()
    for t in range(1, TIMESTEPS):
        numpy.testing.assert_allclose(outputs[:, t], outputs[:, 0], rtol=1e-6)
    inference = layer(x).numpy()
    assert not numpy.allclose(outputs, inference)  # dropout applied in training only
    kernel = layer.get_weights()[0]
    numpy.testing.assert_allclose(inference[:, 0], step[:, 0] @ kernel, rtol=1e-5, atol=1e-6)


def test_recurrent_dropout_mask_is_constant_over_time(backend, rng):
    """Identity recurrent kernel, no input: h_t = (h_{t-1} * m) ... = h0 * m**t, elementwise."""
    layer = layers.SimpleRNN(8, activation="linear", recurrent_dropout=0.5, return_sequences=True)
    x = numpy.zeros((16, TIMESTEPS, 3), dtype="float32")
    layer(x)
    layer.set_weights([numpy.zeros((3, 8)), numpy.eye(8), numpy.zeros(8)])
    h0 = rng.uniform(1, 2, size=(16, 8)).astype("float32")
    outputs = layer(x, initial_state=[h0], training=True).numpy()
    mask = outputs[:, 0] / h0  # 0 or 2
    assert set(numpy.unique(numpy.round(mask, 5))) == {0.0, 2.0}
    for t in range(TIMESTEPS):
        numpy.testing.assert_allclose(outputs[:, t], h0 * mask ** (t + 1), rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_only_in_training(backend, rng, layer_of, kind):
    layer = layer_of(kind, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    plain = layer_of(kind, return_sequences=True)
    plain.set_weights(layer.get_weights())
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES)).astype("float32")
    expected = plain(x).numpy()
    numpy.testing.assert_array_equal(layer(x).numpy(), expected)
    numpy.testing.assert_array_equal(layer(x, training=False).numpy(), expected)
    first, second = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert not numpy.allclose(first, expected)
    assert not numpy.allclose(first, second)  # fresh masks every call


def test_dropout_trains_in_sequential_and_bidirectional(backend, rng):
    engine.utils.set_random_seed(0)  # dropout noise: a fixed draw, not the test order's
    x = rng.standard_normal((32, TIMESTEPS, FEATURES)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")[:, None]
    model = engine.models.Sequential(
        [
            layers.Input((TIMESTEPS, FEATURES)),
            layers.Bidirectional(
                layers.GRU(4, dropout=0.2, recurrent_dropout=0.2, return_sequences=True)
            ),
            layers.LSTM(4, dropout=0.2, recurrent_dropout=0.2),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    predictions = model.predict(x, verbose=0)
    numpy.testing.assert_array_equal(model.predict(x, verbose=0), predictions)  # no dropout


# -- Bidirectional --------------------------------------------------------------


def test_bidirectional_initial_state_and_return_state(backend, float64, rng):
    layer = layers.Bidirectional(layers.LSTM(UNITS, return_state=True, return_sequences=True))
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    layer(x)
    weights = layer.get_weights()
    states = [rng.standard_normal((BATCH, UNITS)) for _ in range(4)]
    outputs = layer(x, initial_state=states)
    assert len(outputs) == 5
    forward, forward_states = numpy_layer("lstm", x, weights[:3], states[:2])
    backward, backward_states = numpy_layer("lstm", x, weights[3:], states[2:], go_backwards=True)
    expected = numpy.concatenate([forward, backward[:, ::-1]], axis=-1)
    numpy.testing.assert_allclose(outputs[0].numpy(), expected, rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(outputs[1:], forward_states + backward_states):
        numpy.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-10, atol=1e-12)
    check_gradients(lambda x, *s: joined(layer(x, initial_state=list(s))), x, *states)
    with pytest.raises(ValueError, match=r"Bidirectional '.*'.*even.*received 3"):
        layer(x, initial_state=states[:3])


# -- shapes, configs and errors ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_compute_output_shape_lists_the_states(backend, layer_of, kind):
    layer = layer_of(kind, return_state=True, return_sequences=True)
    shapes = layer.compute_output_shape((None, TIMESTEPS, FEATURES))
    assert isinstance(shapes, list)
    assert shapes == [(None, TIMESTEPS, UNITS)] + [(None, UNITS)] * KINDS[kind][3]


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip_keeps_the_new_arguments(backend, layer_of, kind):
    layer = layer_of(
        kind, dropout=0.25, recurrent_dropout=0.5, seed=3, unroll=True, go_backwards=True
    )
    config = json.loads(json.dumps(layer.get_config()))
    for key, value in (
        ("dropout", 0.25),
        ("recurrent_dropout", 0.5),
        ("seed", 3),
        ("unroll", True),
        ("go_backwards", True),
    ):
        assert config[key] == value
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize(
    "kind, states, message",
    [
        ("lstm", [(BATCH, UNITS)], r"'{name}' expects 2 initial state tensor\(s\) \[h, c\], "
                                   r"but received 1"),
        ("gru", [(BATCH, UNITS), (BATCH, UNITS)], r"'{name}' expects 1 .*received 2"),
        ("lstm", [(BATCH, UNITS), (BATCH, UNITS + 1)],
         r"'{name}': initial state `c` must have shape \(2, 2\) \(batch, units\), but "
         r"received shape \(2, 3\)"),
        ("simple_rnn", [(BATCH + 1, UNITS)],
         r"'{name}': initial state `h` must have shape \(2, 2\).*received shape \(3, 2\)"),
        ("gru_reset_before", [(UNITS,)], r"'{name}': initial state `h`.*received shape \(2,\)"),
    ],
)  # fmt: skip
def test_wrong_initial_states_are_rejected(backend, layer_of, kind, states, message):
    layer = layer_of(kind)
    x = numpy.zeros((BATCH, TIMESTEPS, FEATURES), dtype="float32")
    initial = [numpy.zeros(shape, dtype="float32") for shape in states]
    with pytest.raises(ValueError, match=message.format(name=layer.name)):
        layer(x, initial_state=initial)


def test_bad_dropout_rates_are_rejected(backend):
    with pytest.raises(ValueError, match=r"LSTM '.*': `dropout` must be a number in \[0, 1\)"):
        layers.LSTM(2, dropout=1.0)
    with pytest.raises(ValueError, match="`recurrent_dropout`"):
        layers.GRU(2, recurrent_dropout=-0.1)
    with pytest.raises(TypeError, match=r"initial state `h` must be a tensor or an array"):
        layers.SimpleRNN(2)(numpy.zeros((1, 2, 3), "float32"), initial_state=["nope"])
