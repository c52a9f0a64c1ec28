"""Attention layers (MultiHeadAttention, Attention, AdditiveAttention), Masking, and masks
flowing into attention; Layer.__call__ with several tensor arguments.

Forward results are compared with NumPy references written here, and once with
numbers from Keras 3 (see ``test_mha_gives_keras_numbers``); the comparison on
Keras's own initial weights, gradients and masks is ``scripts/compare_attention_keras.py``.
"""

import math

import numpy
import pytest

import engine
from engine import layers
from engine.layers.attention import MASKED_SCORE
from tests.gradcheck import check_gradients, check_weight_gradients

# -- NumPy references -----------------------------------------------------


def _softmax(scores, mask=None):
    """Keras 3's masked softmax: masked scores -1e9, masked weights zero after."""
    if mask is not None:
        scores = numpy.where(mask, scores, MASKED_SCORE)
    exps = numpy.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = exps / exps.sum(axis=-1, keepdims=True)
    return weights if mask is None else numpy.where(mask, weights, 0.0)


def _full_mask(batch, tq, tk, query_mask=None, value_mask=None, attention_mask=None, causal=False):
    """``(batch, Tq, Tk)``: which key each query may attend to, or None for all."""
    if all(m is None for m in (query_mask, value_mask, attention_mask)) and not causal:
        return None
    mask = numpy.ones((batch, tq, tk), bool)
    if query_mask is not None:
        mask &= numpy.asarray(query_mask, bool)[:, :, None]
    if value_mask is not None:
        mask &= numpy.asarray(value_mask, bool)[:, None, :]
    if attention_mask is not None:
        mask &= numpy.asarray(attention_mask, bool)
    if causal:
        mask &= numpy.tril(numpy.ones((tq, tk), bool))
    return mask


def reference_mha(weights, query, value, key=None, mask=None, use_bias=True, gate=False):
    """Multi-head attention as Keras 3 computes it, from its weights in Keras's order."""
    key = value if key is None else key
    weights = list(weights)

    def project(x):
        kernel = weights.pop(0)
        y = numpy.einsum("btd,dhk->bhtk", x, kernel)
        return y + weights.pop(0)[None, :, None, :] if use_bias else y

    q, k = project(query), project(key)
    g = 1 / (1 + numpy.exp(-project(query))) if gate else None
    v = project(value)
    scores = numpy.einsum("bhtk,bhsk->bhts", q / math.sqrt(q.shape[-1]), k)
    probabilities = _softmax(scores, None if mask is None else mask[:, None])
    context = numpy.einsum("bhts,bhsv->bhtv", probabilities, v)
    if gate:
        context = context * g
    output = numpy.tensordot(context.transpose(0, 2, 1, 3), weights.pop(0), axes=([2, 3], [0, 1]))
    if use_bias:
        output = output + weights.pop(0)
    return output, probabilities


def reference_attention(
    query,
    value,
    key=None,
    mode="dot",
    scale=None,
    concat_weight=None,
    query_mask=None,
    value_mask=None,
    causal=False,
):
    """Keras 3's Attention (``mode`` dot/concat) and AdditiveAttention (``mode`` additive)."""
    key = value if key is None else key
    if mode == "dot":
        scores = query @ key.transpose(0, 2, 1) * (1.0 if scale is None else scale)
    else:
        summed = query[:, :, None, :] + key[:, None, :, :]
        if mode == "concat":
            scores = concat_weight * numpy.tanh(summed * (1.0 if scale is None else scale)).sum(-1)
        else:
            scores = (numpy.tanh(summed) * (1.0 if scale is None else scale)).sum(-1)
    mask = _full_mask(len(query), query.shape[1], key.shape[1], None, value_mask, None, causal)
    weights = _softmax(scores, mask)
    output = weights @ value
    if query_mask is not None:
        output = numpy.where(numpy.asarray(query_mask, bool)[..., None], output, 0.0)
    return output, weights


def _mha(rng, q_shape, v_shape, k_shape=None, **config):
    """A built MultiHeadAttention with random weights (biases too) and its inputs."""
    layer = layers.MultiHeadAttention(**config)
    arrays = [rng.standard_normal(s) for s in (q_shape, v_shape, k_shape) if s is not None]
    layer(*arrays)
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])
    return layer, arrays


# -- MultiHeadAttention ---------------------------------------------------

MHA_CASES = [
    # (config, query shape, value shape, key shape)
    (dict(num_heads=2, key_dim=3), (2, 4, 5), (2, 4, 5), None),
    (dict(num_heads=3, key_dim=2, value_dim=4), (2, 3, 5), (2, 6, 7), None),
    (dict(num_heads=2, key_dim=2, output_shape=3), (2, 3, 4), (2, 5, 6), (2, 5, 3)),
    (dict(num_heads=2, key_dim=2, output_shape=(2, 3)), (1, 3, 4), (1, 2, 4), None),
    (dict(num_heads=1, key_dim=4, use_bias=False), (2, 3, 4), (2, 3, 4), None),
    (dict(num_heads=2, key_dim=2, use_gate=True), (2, 3, 4), (2, 5, 4), None),
]


@pytest.mark.parametrize("config, q_shape, v_shape, k_shape", MHA_CASES)
def test_mha_matches_reference(backend, float64, rng, config, q_shape, v_shape, k_shape):
    layer, arrays = _mha(rng, q_shape, v_shape, k_shape, **config)
    output, scores = layer(*arrays, return_attention_scores=True)
    expected, expected_scores = reference_mha(
        layer.get_weights(),
        *arrays,
        use_bias=config.get("use_bias", True),
        gate=config.get("use_gate", False),
    )
    numpy.testing.assert_allclose(output.numpy(), expected, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(scores.numpy(), expected_scores, rtol=1e-10, atol=1e-12)
    heads, tq, tv = config["num_heads"], q_shape[1], v_shape[1]
    assert scores.shape == (q_shape[0], heads, tq, tv)
    numpy.testing.assert_allclose(scores.numpy().sum(-1), 1.0, rtol=1e-12)
    numpy.testing.assert_allclose(layer(*arrays).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_mha_weight_shapes_and_order_are_keras(backend):
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5, name="m")
    layer(numpy.zeros((1, 3, 6)), numpy.zeros((1, 4, 7)), numpy.zeros((1, 4, 8)))
    # keras 3.15: [(w.path, w.shape) for w in layer.weights] of the same layer
    assert [(w.name, w.shape) for w in layer.weights] == [
        ("m/query/kernel", (6, 2, 3)),
        ("m/query/bias", (2, 3)),
        ("m/key/kernel", (8, 2, 3)),
        ("m/key/bias", (2, 3)),
        ("m/value/kernel", (7, 2, 4)),
        ("m/value/bias", (2, 4)),
        ("m/attention_output/kernel", (2, 4, 5)),
        ("m/attention_output/bias", (5,)),
    ]
    assert layer.count_params() == 6 * 6 + 6 + 8 * 6 + 6 + 7 * 8 + 8 + 8 * 5 + 5


def _keras_case():
    def deterministic(shape, phase):
        size = math.prod(shape)
        return (0.5 * numpy.sin(0.37 * numpy.arange(size) + phase)).reshape(shape)

    query, value = deterministic((1, 3, 4), 0.1), deterministic((1, 2, 4), 1.3)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2)
    layer(query, value)
    layer.set_weights([deterministic(w.shape, i) for i, w in enumerate(layer.weights)])
    return layer, query, value


def test_mha_gives_keras_numbers(backend):
    """Keras 3.15.1 on PyTorch 2.13 (float32), same deterministic weights and inputs:
    ``mha(q, v, attention_mask=mask, return_attention_scores=True)``; the last query
    row has every key masked: zero weights, output = the output bias."""
    layer, query, value = _keras_case()
    mask = numpy.array([[[1, 1], [1, 0], [0, 0]]], bool)
    output, scores = layer(query, value, attention_mask=mask, return_attention_scores=True)
    keras_output = [
        [0.13963760, 0.18850450, 0.21185820, 0.20653790],
        [0.16171759, 0.20513740, 0.22079280, 0.20656490],
        [0.32849330, 0.44257459, 0.49675560, 0.48370299],
    ]
    keras_scores = [
        [[0.47937319, 0.52062678], [1.0, 0.0], [0.0, 0.0]],
        [[0.49668309, 0.50331688], [1.0, 0.0], [0.0, 0.0]],
    ]
    numpy.testing.assert_allclose(output.numpy()[0], keras_output, atol=2e-6)
    numpy.testing.assert_allclose(scores.numpy()[0], keras_scores, atol=2e-6)
    numpy.testing.assert_allclose(output.numpy()[0, 2], layer.get_weights()[-1], atol=1e-7)


def test_mha_masks_combine(backend, float64, rng):
    layer, (q, v) = _mha(rng, (3, 4, 5), (3, 6, 5), num_heads=2, key_dim=3)
    query_mask = rng.random((3, 4)) > 0.3
    value_mask = rng.random((3, 6)) > 0.3
    value_mask[:, 0] = True
    attention_mask = rng.random((3, 4, 6)) > 0.2
    output, scores = layer(
        q,
        v,
        query_mask=query_mask,
        value_mask=value_mask,
        attention_mask=attention_mask,
        use_causal_mask=True,
        return_attention_scores=True,
    )
    mask = _full_mask(3, 4, 6, query_mask, value_mask, attention_mask, causal=True)
    expected, expected_scores = reference_mha(layer.get_weights(), q, v, mask=mask)
    numpy.testing.assert_allclose(output.numpy(), expected, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(scores.numpy(), expected_scores, rtol=1e-10, atol=1e-12)
    # a padded value is as if it were not there
    keep = [0, 1, 2]
    short = layer(q[:1], v[:1, keep])
    numpy.testing.assert_allclose(
        layer(q[:1], v[:1], value_mask=numpy.isin(numpy.arange(6), keep)[None]).numpy(),
        short.numpy(),
        rtol=1e-10,
        atol=1e-12,
    )


def test_mha_broadcast_attention_masks(backend, float64, rng):
    layer, (q, v) = _mha(rng, (2, 3, 4), (2, 5, 4), num_heads=2, key_dim=2)
    mask = rng.random((3, 5)) > 0.3
    expected = layer(q, v, attention_mask=numpy.broadcast_to(mask, (2, 3, 5))).numpy()
    numpy.testing.assert_allclose(layer(q, v, attention_mask=mask).numpy(), expected)
    numpy.testing.assert_allclose(layer(q, v, attention_mask=mask[None]).numpy(), expected)
    per_head = numpy.broadcast_to(mask, (2, 2, 3, 5))
    numpy.testing.assert_allclose(layer(q, v, attention_mask=per_head).numpy(), expected)
    as_tensor = engine.tensor(mask.astype("float64"))
    numpy.testing.assert_allclose(layer(q, v, attention_mask=as_tensor).numpy(), expected)


def test_mha_all_masked_rows_follow_keras_paths(backend, rng):
    """A sample with every key masked: with returned scores (Keras's Softmax-layer path)
    zero weights, so the output bias; on the fused path without dropout (Keras's
    dot_product_attention) uniform weights, so the mean of the projected values, with
    a gradient to the values only; never NaN."""
    layer, (q, v) = _mha(rng, (2, 3, 4), (2, 3, 4), num_heads=2, key_dim=2)
    value_mask = numpy.array([[True, True, False], [False, False, False]])
    tensors = [engine.tensor(a.astype("float32"), requires_grad=True) for a in (q, v)]
    output, scores = layer(*tensors, value_mask=value_mask, return_attention_scores=True)
    assert numpy.all(scores.numpy()[1] == 0)
    weights = layer.get_weights()
    bias = weights[-1]
    numpy.testing.assert_allclose(output.numpy()[1], numpy.broadcast_to(bias, (3, 4)), atol=1e-6)
    output.sum().backward()
    assert numpy.all(numpy.isfinite(tensors[0].grad.numpy()))
    assert numpy.all(tensors[1].grad.numpy()[1] == 0)  # nothing flows from masked keys

    fused_inputs = [engine.tensor(a.astype("float32"), requires_grad=True) for a in (q, v)]
    fused = layer(*fused_inputs, value_mask=value_mask)
    value_kernel, value_bias, output_kernel = weights[4], weights[5], weights[6]
    values = numpy.einsum("kf,fhd->khd", v[1], value_kernel) + value_bias
    expected = numpy.einsum("hd,hdo->o", values.mean(axis=0), output_kernel) + bias
    numpy.testing.assert_allclose(fused.numpy()[1], numpy.broadcast_to(expected, (3, 4)), 1e-5)
    numpy.testing.assert_allclose(fused.numpy()[0], output.numpy()[0], rtol=1e-5, atol=1e-6)
    fused[1].sum().backward()
    assert numpy.all(fused_inputs[0].grad.numpy() == 0)  # the query: no score counts
    assert numpy.all(fused_inputs[1].grad.numpy()[1] != 0)

    dropout = layers.MultiHeadAttention(num_heads=2, key_dim=2, dropout=0.5)
    dropout(q, v)
    dropout.set_weights(weights)  # inference with dropout on: Keras's Softmax-layer path
    numpy.testing.assert_allclose(
        dropout(q, v, value_mask=value_mask).numpy(), output.numpy(), rtol=1e-5, atol=1e-6
    )


def test_causal_mask_blocks_the_future(backend, float64, rng):
    layer, (x, _) = _mha(rng, (1, 5, 4), (1, 5, 4), num_heads=2, key_dim=3)
    for t in range(5):
        tensor = engine.tensor(x, requires_grad=True)
        output = layer(tensor, tensor, use_causal_mask=True)
        output[:, t].sum().backward()
        grad = numpy.abs(tensor.grad.numpy()[0]).sum(-1)
        assert numpy.all(grad[t + 1 :] == 0), f"output {t} depends on a later input: {grad}"
        assert numpy.all(grad[: t + 1] > 0)


def test_causal_mask_with_different_lengths(backend, float64, rng):
    layer, (q, v) = _mha(rng, (2, 3, 4), (2, 5, 4), num_heads=1, key_dim=2)
    _, scores = layer(q, v, use_causal_mask=True, return_attention_scores=True)
    numpy.testing.assert_array_equal(scores.numpy()[0, 0] > 0, numpy.tri(3, 5, dtype=bool))


def test_sliding_window(backend, float64, rng):
    layer, (q, v) = _mha(rng, (1, 5, 4), (1, 5, 4), num_heads=1, key_dim=2, sliding_window=2)
    _, scores = layer(q, v, use_causal_mask=True, return_attention_scores=True)
    band = numpy.tri(5, dtype=bool) & ~numpy.tri(5, k=-2, dtype=bool)  # keys i-1 and i
    numpy.testing.assert_array_equal(scores.numpy()[0, 0] > 0, band)


@pytest.mark.parametrize("config, q_shape, v_shape, k_shape", MHA_CASES[1:3] + MHA_CASES[5:])
def test_mha_gradients(backend, float64, rng, config, q_shape, v_shape, k_shape):
    layer, arrays = _mha(rng, q_shape, v_shape, k_shape, **config)
    value_mask = numpy.ones((v_shape[0], v_shape[1]), bool)
    value_mask[0, -1] = False
    kwargs = dict(value_mask=value_mask, use_causal_mask=q_shape[1] <= v_shape[1])
    check_gradients(lambda *t: layer(*t, **kwargs), *arrays, backend=backend)
    check_weight_gradients(lambda: layer(*arrays, **kwargs), layer.weights)


def test_mha_dropout(backend, rng):
    engine.utils.set_random_seed(3)
    layer, (q, v) = _mha(rng, (2, 4, 4), (2, 4, 4), num_heads=2, key_dim=2, dropout=0.5)
    q, v = q.astype("float32"), v.astype("float32")
    inference = layer(q, v).numpy()
    numpy.testing.assert_array_equal(layer(q, v, training=False).numpy(), inference)
    assert not numpy.allclose(layer(q, v, training=True).numpy(), inference)
    # the scores returned are before dropout, as in Keras
    _, scores = layer(q, v, training=True, return_attention_scores=True)
    numpy.testing.assert_allclose(scores.numpy().sum(-1), 1.0, rtol=1e-5)


def test_mha_errors_name_the_layer_and_the_shapes(backend):
    with pytest.raises(TypeError, match=r"MultiHeadAttention 'att'.*`key_dim`.*required"):
        layers.MultiHeadAttention(num_heads=2, name="att")
    with pytest.raises(ValueError, match=r"`num_heads` must be a positive integer, got 0"):
        layers.MultiHeadAttention(num_heads=0, key_dim=2)
    with pytest.raises(ValueError, match=r"attention_axes.*got attention_axes=\(1, 2\)"):
        layers.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(1, 2))
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")
    q, v = numpy.zeros((2, 3, 4)), numpy.zeros((2, 5, 4))
    with pytest.raises(
        ValueError,
        match=r"'mha': `attention_mask` must have shape \(batch, "
        r"query length, key length\) = \(2, 3, 5\).*received shape \(2, 3, 4\)",
    ):
        layer(q, v, attention_mask=numpy.ones((2, 3, 4), bool))
    with pytest.raises(
        ValueError,
        match=r"`value_mask` must have shape \(batch, value length\) = "
        r"\(2, 5\).*received shape \(2, 3\)",
    ):
        layer(q, v, value_mask=numpy.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r"`query` must have shape \(batch, sequence, features\)"):
        layers.MultiHeadAttention(num_heads=2, key_dim=2)(numpy.zeros((2, 4)), numpy.zeros((2, 4)))
    with pytest.raises(TypeError, match=r"`value` is required"):
        layer(q)


def test_mha_config_round_trip():
    layer = layers.MultiHeadAttention(
        num_heads=3,
        key_dim=4,
        value_dim=5,
        dropout=0.1,
        use_bias=False,
        output_shape=7,
        attention_axes=1,
        kernel_initializer="he_normal",
        kernel_regularizer="l2",
        seed=2,
        name="att",
    )
    config = layer.get_config()
    assert config["output_shape"] == [7] and config["attention_axes"] == [1]
    clone = layers.MultiHeadAttention.from_config(config)
    assert clone.get_config() == config


def _transformer_block():
    """Token ids -> Embedding(mask_zero) -> self-attention + residual -> pooled Dense."""
    tokens = layers.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(12, 8, mask_zero=True, name="embed")(tokens)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    pooled = layers.GlobalAveragePooling1D()(x)
    return engine.Model(tokens, layers.Dense(3, activation="softmax")(pooled))


TOKENS = numpy.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6], [7, 0, 0, 0, 0, 0]], "int32")


def test_embedding_masks_flow_into_attention(backend):
    engine.utils.set_random_seed(1)
    tokens = layers.Input((6,), dtype="int32")
    memory = layers.Input((4,), dtype="int32")
    embedding = layers.Embedding(12, 8, mask_zero=True)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    output = mha(embedding(tokens), embedding(memory))
    model = engine.Model([tokens, memory], output)
    memory_ids = numpy.array([[1, 2, 0, 0], [4, 5, 6, 7], [2, 0, 0, 0]], "int32")
    got = model.predict([TOKENS, memory_ids], verbose=0)
    x, m = embedding(TOKENS), embedding(memory_ids)
    expected = mha(x, m, query_mask=TOKENS != 0, value_mask=memory_ids != 0).numpy()
    numpy.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert not numpy.allclose(got, mha(x, m).numpy(), atol=1e-4)  # the masks did something
    # the query's mask goes on: an LSTM after the attention skips the padded steps
    lstm_model = engine.Model([tokens, memory], layers.LSTM(3)(output))
    one = lstm_model.predict([TOKENS[:1], memory_ids[:1]], verbose=0)
    trimmed = TOKENS[:1].copy()
    trimmed[0, 3:] = 0
    numpy.testing.assert_allclose(one, lstm_model.predict([trimmed, memory_ids[:1]], verbose=0))


def test_mha_functional_summary_save_and_load(backend, tmp_path):
    engine.utils.set_random_seed(2)
    model = _transformer_block()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "mha" in text and "(MultiHeadAttention)" in text and text.count("embed[0][0]") == 3
    expected = model.predict(TOKENS, verbose=0)
    path = tmp_path / "block.safetensors"
    model.save(path)
    loaded = engine.models.load_model(path)
    numpy.testing.assert_allclose(loaded.predict(TOKENS, verbose=0), expected, rtol=1e-6)
    assert loaded.get_layer("mha").get_config() == model.get_layer("mha").get_config()
    clone = engine.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    numpy.testing.assert_allclose(clone.predict(TOKENS, verbose=0), expected, rtol=1e-6)


def test_mha_symbolic_scores_and_cross_attention(backend):
    query = layers.Input((3, 6))
    value = layers.Input((5, 7))
    output, scores = layers.MultiHeadAttention(num_heads=2, key_dim=3)(
        query, value, return_attention_scores=True
    )
    assert output.shape == (None, 3, 6) and scores.shape == (None, 2, 3, 5)
    model = engine.Model([query, value], [output, scores])
    q, v = numpy.ones((2, 3, 6), "float32"), numpy.ones((2, 5, 7), "float32")
    got_output, got_scores = model.predict([q, v], verbose=0)
    assert got_output.shape == (2, 3, 6) and got_scores.shape == (2, 2, 3, 5)
    outer = engine.Model([query, value], model([query, value]))  # nested: shapes from the graph
    assert [t.shape for t in outer.outputs] == [(None, 3, 6), (None, 2, 3, 5)]


def test_mha_trains(backend):
    engine.utils.set_random_seed(0)
    model = _transformer_block()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    labels = numpy.array([0, 1, 2])
    first = model.fit(TOKENS, labels, epochs=1, verbose=0).history["loss"][0]
    last = model.fit(TOKENS, labels, epochs=30, verbose=0).history["loss"][-1]
    assert last < first


# -- Attention and AdditiveAttention ----------------------------------------

LUONG_CASES = [
    ("dot", lambda: layers.Attention()),
    ("dot", lambda: layers.Attention(use_scale=True)),
    ("concat", lambda: layers.Attention(score_mode="concat")),
    ("concat", lambda: layers.Attention(score_mode="concat", use_scale=True)),
    ("additive", lambda: layers.AdditiveAttention()),
    ("additive", lambda: layers.AdditiveAttention(use_scale=False)),
]


@pytest.mark.parametrize("mode, make", LUONG_CASES)
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_matches_reference(backend, float64, rng, mode, make, with_key):
    q, v, k = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 4)))
    layer = make()
    inputs = [q, v, k] if with_key else [q, v]
    layer(inputs)
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    weights = layer.get_weights()
    scale = weights[0] if layer.use_scale else None
    concat_weight = weights[-1] if mode == "concat" else None
    query_mask = numpy.array([[True, True, False], [True, True, True]])
    value_mask = numpy.array([[True, True, True, False, False], [True] * 5])
    for causal in (False, True):
        output, scores = layer(
            inputs,
            mask=[query_mask, value_mask],
            return_attention_scores=True,
            use_causal_mask=causal,
        )
        expected, expected_scores = reference_attention(
            q,
            v,
            k if with_key else None,
            mode,
            scale,
            concat_weight,
            query_mask,
            value_mask,
            causal,
        )
        numpy.testing.assert_allclose(output.numpy(), expected, rtol=1e-10, atol=1e-12)
        numpy.testing.assert_allclose(scores.numpy(), expected_scores, rtol=1e-10, atol=1e-12)
    check_gradients(lambda *t: layer(list(t), mask=[None, value_mask]), *inputs, backend=backend)
    if layer.weights:
        check_weight_gradients(lambda: layer(inputs, use_causal_mask=True), layer.weights)


def test_attention_weights_are_keras(backend):
    """Keras 3.15: names, shapes and initial values of the same layers' weights."""
    q = numpy.zeros((1, 2, 6))
    concat = layers.Attention(use_scale=True, score_mode="concat", name="a")
    additive = layers.AdditiveAttention(name="b")
    for layer in (concat, additive):
        layer([q, q])
    assert [(w.name, w.shape) for w in concat.weights] == [
        ("a/scale", ()),
        ("a/concat_score_weight", ()),
    ]
    assert [w.tolist() for w in concat.get_weights()] == [1.0, 1.0]
    assert [(w.name, w.shape) for w in additive.weights] == [("b/scale", (6,))]
    assert numpy.abs(additive.get_weights()[0]).max() <= math.sqrt(6 / 12)  # glorot, fans 6, 6
    plain = layers.Attention()
    plain([q, q])
    assert plain.weights == []


def test_attention_all_masked_rows_and_output_mask(backend, rng):
    q, v = rng.standard_normal((1, 3, 4)), rng.standard_normal((1, 3, 4))
    layer = layers.Attention()
    value_mask = numpy.array([[False, True, True]])
    output, scores = layer(
        [q, v], mask=[None, value_mask], use_causal_mask=True, return_attention_scores=True
    )
    # row 0 is left no value: Keras's softmax(scores - 1e9), uniform here (checked
    # against Keras 3.15), so the mean of the values
    numpy.testing.assert_allclose(scores.numpy()[0, 0], 1 / 3, rtol=1e-6)
    numpy.testing.assert_allclose(output.numpy()[0, 0], v[0].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert numpy.all(numpy.isfinite(output.numpy()))
    query_mask = numpy.array([[True, False, True]])
    mask = layer.compute_mask([q, v], [query_mask, value_mask])
    numpy.testing.assert_array_equal(mask.numpy(), query_mask)
    assert layer.compute_mask([q, v], None) is None


def test_attention_in_functional_model_with_masks(backend):
    engine.utils.set_random_seed(4)
    tokens = layers.Input((6,), dtype="int32")
    x = layers.Embedding(12, 4, mask_zero=True)(tokens)
    attention = layers.AdditiveAttention()
    output, scores = attention([x, x], return_attention_scores=True)
    model = engine.Model(tokens, [layers.GlobalAveragePooling1D()(output), scores])
    pooled, got_scores = model.predict(TOKENS, verbose=0)
    assert got_scores.shape == (3, 6, 6) and pooled.shape == (3, 4)
    numpy.testing.assert_array_equal(got_scores[0][:, 3:], 0)  # padded values get no weight
    numpy.testing.assert_allclose(got_scores.sum(-1)[:2], 1.0, rtol=1e-5)
    path_model = engine.Model.from_config(model.get_config())
    path_model.set_weights(model.get_weights())
    numpy.testing.assert_allclose(path_model.predict(TOKENS, verbose=0)[0], pooled, rtol=1e-6)


def test_attention_errors(backend):
    layer = layers.Attention(name="luong")
    q = numpy.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"'luong' must be called on a list \[query, value\]"):
        layer([q])
    with pytest.raises(
        ValueError,
        match=r"'luong': `value_mask` must have shape \(2, 5\).*"
        r"received shape \(2, 3\)",
    ):
        layer([q, numpy.zeros((2, 5, 4))], mask=[None, numpy.ones((2, 3), bool)])
    with pytest.raises(ValueError, match=r"score_mode.*'dot' or 'concat', got 'sum'"):
        layers.Attention(score_mode="sum")
    config = layers.AdditiveAttention(use_scale=False, dropout=0.2, name="b").get_config()
    assert "score_mode" not in config
    assert layers.AdditiveAttention.from_config(config).get_config() == config


# -- Masking ------------------------------------------------------------------


def test_masking(backend, float64, rng):
    x = rng.standard_normal((2, 4, 3))
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    x[1, 0, 0] = 0.0  # one zero feature does not mask a step
    layer = layers.Masking()
    numpy.testing.assert_array_equal(
        layer.compute_mask(engine.tensor(x)).numpy(), [[1, 0, 1, 1], [1, 1, 1, 0]]
    )
    numpy.testing.assert_array_equal(layer(x).numpy(), x)
    y = numpy.full((1, 2, 2), 7.0)
    y[0, 0] = [1.0, 7.0]
    custom = layers.Masking(mask_value=7.0)
    numpy.testing.assert_array_equal(custom(y).numpy(), [[[1.0, 7.0], [0.0, 0.0]]])
    numpy.testing.assert_array_equal(custom.compute_mask(engine.tensor(y)).numpy(), [[1, 0]])
    assert layers.Masking.from_config(custom.get_config()).mask_value == 7.0
    # (away from masked steps: a finite difference there would unmask the step)
    check_gradients(lambda t: layer(t), rng.standard_normal((2, 3, 2)), backend=backend)


def test_masking_before_attention_and_lstm(backend, rng):
    engine.utils.set_random_seed(6)
    x = rng.standard_normal((2, 5, 4)).astype("float32")
    x[0, 3:] = 0.0
    inputs = layers.Input((5, 4))
    masked = layers.Masking()(inputs)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")(masked, masked)
    model = engine.Model(inputs, layers.LSTM(3)(attended))
    trimmed = model.predict(x, verbose=0)
    mha = model.get_layer("mha")
    expected_attended = mha(x[:1, :3], x[:1, :3]).numpy()
    numpy.testing.assert_allclose(
        engine.Model(inputs, attended).predict(x[:1], verbose=0)[0, :3],
        expected_attended[0],
        rtol=1e-5,
        atol=1e-6,
    )
    numpy.testing.assert_allclose(trimmed[0], model.predict(x[:1], verbose=0)[0], rtol=1e-6)


# -- Layer.__call__ with several tensor arguments ------------------------------


@layers.register_layer
class _ScaledSum(layers.Layer):
    """A custom layer taking two tensors: ``x * weight + y``, built from both shapes."""

    def build(self, x_shape, y_shape=None):
        self.shapes_seen = (tuple(x_shape), tuple(y_shape))
        self.weight = self.add_weight(shape=(x_shape[-1],), initializer="ones", name="weight")

    def call(self, x, y, training=False, y_mask=None):
        return x * self.weight + y

    def compute_output_shape(self, x_shape, y_shape=None):
        return tuple(x_shape)


def test_layer_call_binds_positional_tensors(backend):
    layer = _ScaledSum()
    x, y = numpy.ones((2, 3)), numpy.full((2, 3), 2.0)  # float64 data: cast to the layer dtype
    output = layer(x, y)
    assert output.dtype == numpy.float32 and layer.shapes_seen == ((2, 3), (2, 3))
    numpy.testing.assert_array_equal(output.numpy(), 3.0)
    numpy.testing.assert_array_equal(layer(x, y=y).numpy(), 3.0)
    a, b = layers.Input((3,)), layers.Input((3,))
    model = engine.Model([a, b], _ScaledSum()(a, b))
    numpy.testing.assert_array_equal(model.predict([x, y], verbose=0), 3.0)
    assert model.layers[-1].shapes_seen == ((None, 3), (None, 3))
    with pytest.raises(
        TypeError,
        match=r"call\(\) takes 4 positional argument\(s\) \(inputs, y, "
        r"training, y_mask\), but 5 were given",
    ):
        layer(x, y, False, None, 1)
    with pytest.raises(TypeError, match=r"got two values for argument 'y'"):
        layer(x, y, y=y)
    dropout = layers.Dropout(0.5)
    numpy.testing.assert_array_equal(dropout(x, False).numpy(), x)  # Keras: call(x, training)


def test_fused_and_composed_attention_paths_agree(backend):
    """Without scores or dropout MultiHeadAttention runs the fused kernel; with
    ``return_attention_scores`` it composes matmul and softmax: the same numbers."""
    rng = numpy.random.default_rng(11)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    query = rng.normal(size=(3, 5, 6)).astype("float32")
    value = rng.normal(size=(3, 7, 6)).astype("float32")
    mask = rng.random((3, 5, 7)) > 0.3
    mask[0, 0] = False  # a row with every key masked
    fused = layer(query, value, attention_mask=mask).numpy()
    composed, _ = layer(query, value, attention_mask=mask, return_attention_scores=True)
    others = numpy.ones((3, 5), bool)
    others[0, 0] = False  # the empty row: uniform on the fused path, zero weights composed
    numpy.testing.assert_allclose(fused[others], composed.numpy()[others], rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(composed.numpy()[0, 0], layer.get_weights()[-1], atol=1e-6)
    causal = layer(query, query, use_causal_mask=True).numpy()
    causal_composed, _ = layer(query, query, use_causal_mask=True, return_attention_scores=True)
    numpy.testing.assert_allclose(causal, causal_composed.numpy(), rtol=1e-5, atol=1e-6)
