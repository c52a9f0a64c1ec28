"""ReversibleEmbedding, SpectralNormalization and GroupQueryAttention (Keras 3's
``keras.layers`` names): Keras's numbers, NumPy references, gradients, configs, saving.

``KERAS`` holds Keras 3.15's outputs on its torch backend, rounded to 4 decimals, made by
``scripts/compare_augmentation_keras.py --print`` (``layer_cases``) on the inputs below,
with weights ``weights_for(shapes, seed)`` set in both libraries:

- ``ReversibleEmbedding(5, 3, tie_weights=..., logit_soft_cap=2.0)(VECTORS, reverse=True)``
  (seed 3);
- ``SpectralNormalization(Dense(3), power_iterations=2)(X, training=True)`` (seed 4): the
  output, then the weights kernel and ``vector_u`` after the call;
- ``GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2,
  use_gate=...)`` (seed 6) on ``QUERY, VALUE``: plain, with ``attention_mask=MASK`` and
  ``(QUERY, QUERY, use_causal_mask=True)``; first sample of the batch.
"""

import math

import numpy
import pytest

import engine
from engine import layers
from engine.models import Model, Sequential, load_model
from tests.gradcheck import check_gradients, check_weight_gradients

VECTORS = numpy.random.default_rng(1).normal(size=(2, 3)).astype("float32")
X = numpy.random.default_rng(2).normal(size=(2, 4)).astype("float32")
_rng = numpy.random.default_rng(5)
QUERY = _rng.normal(size=(2, 3, 4)).astype("float32")
VALUE = _rng.normal(size=(2, 5, 4)).astype("float32")
MASK = numpy.repeat(numpy.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)[:, None], 3, axis=1)

KERAS = {
    "ReversibleEmbedding reverse tie=True": [
        [-0.6083, -0.317, -0.571, 0.5906, -0.4874],
        [-1.6653, 0.1168, 0.9384, -1.5796, -0.351],
    ],
    "ReversibleEmbedding reverse tie=False": [
        [0.0317, 0.9539, 0.1379, -0.0823, 0.056],
        [0.3815, 0.7749, 0.3387, -0.8496, 0.2695],
    ],
    "SpectralNormalization output": [[0.8406, -0.8904, -0.4718], [1.1161, -1.6926, 2.2395]],
    "SpectralNormalization weight 0": [
        [-0.2326, -0.0624, 0.5938],
        [0.2353, -0.5859, -0.0019],
        [-0.2225, 0.0531, -0.574],
        [0.0863, 0.084, 0.5624],
    ],
    "SpectralNormalization weight 1": [[-0.0596, 0.0655, -0.9961]],
    "GroupQueryAttention gate=False": [
        [-0.3793, -0.0177, -0.0721, -1.4242],
        [-0.24, 0.1515, -0.343, -0.0253],
        [-0.0681, 0.2097, -0.387, 0.6009],
    ],
    "GQA masked gate=False": [
        [0.0829, 0.4647, -0.6464, -0.858],
        [-0.2123, 0.4459, -0.7333, -0.652],
        [-0.2346, 0.4682, -0.7972, -0.6014],
    ],
    "GQA causal gate=False": [
        [0.261, -0.4145, 0.5322, -0.3653],
        [-1.3469, -0.4196, 0.0809, -0.6653],
        [0.3564, 0.8651, -0.1903, -0.0964],
    ],
    "GroupQueryAttention gate=True": [
        [0.9674, 0.6677, 0.6483, 0.3898],
        [1.3913, 0.0924, 1.2347, 0.9018],
        [1.8256, 0.0391, 1.1909, 0.931],
    ],
    "GQA masked gate=True": [
        [1.1593, 0.3296, 0.6744, 0.5469],
        [1.1896, 0.7241, 1.1557, 0.7257],
        [1.2108, 0.6309, 1.0176, 0.6386],
    ],
}


def weights_for(shapes, seed):
    """The weights both libraries get: normal draws times 0.5, in Keras's weight order."""
    rng = numpy.random.default_rng(seed)
    return [(0.5 * rng.normal(size=shape)).astype("float32") for shape in shapes]


def with_weights(layer, seed, *inputs, **kwargs):
    layer(*inputs, **kwargs)  # builds
    layer.set_weights(weights_for([w.shape for w in layer.weights], seed))
    return layer


# -- ReversibleEmbedding ---------------------------------------------------------------


@pytest.mark.parametrize("tie", [True, False])
def test_reversible_embedding_matches_keras(backend, tie):
    layer = layers.ReversibleEmbedding(5, 3, tie_weights=tie, logit_soft_cap=2.0)
    with_weights(layer, 3, numpy.array([[0, 1]]))
    names = [w.name.split("/")[-1] for w in layer.weights]
    assert names == ["embeddings"] + ([] if tie else ["reverse_embeddings"])
    assert [w.shape for w in layer.weights] == [(5, 3)] + ([] if tie else [(3, 5)])
    logits = layer(VECTORS, reverse=True)
    assert logits.shape == (2, 5)
    numpy.testing.assert_allclose(
        logits.numpy(), KERAS[f"ReversibleEmbedding reverse tie={tie}"], atol=1e-4
    )
    table = layer.get_weights()[0]
    kernel = table.T if tie else layer.get_weights()[1]
    numpy.testing.assert_allclose(
        logits.numpy(), 2.0 * numpy.tanh(VECTORS @ kernel / 2.0), atol=1e-6
    )
    ids = numpy.array([[1, 4, 0], [3, 3, 2]])
    numpy.testing.assert_array_equal(layer(ids).numpy(), table[ids])  # forward: a lookup


def test_reversible_embedding_shapes_masks_and_gradients(backend, float64, rng):
    layer = layers.ReversibleEmbedding(6, 4, tie_weights=False, mask_zero=True)
    ids = numpy.array([[2, 0, 5]])
    out = layer(ids)
    assert out.shape == (1, 3, 4) and layer.compute_mask(engine.tensor(ids)).numpy().tolist() == [
        [True, False, True]
    ]
    assert layer.compute_mask(out) is None  # reverse inputs are vectors: no padding mask
    assert layer.compute_output_shape((None, 3)) == (None, 3, 4)
    assert layer.compute_output_shape((None, 3, 4), reverse=True) == (None, 3, 6)
    vectors = rng.normal(size=(2, 3, 4))
    check_gradients(lambda v: layer(v, reverse=True), vectors, backend=backend)
    tied = layers.ReversibleEmbedding(6, 4, logit_soft_cap=1.5)
    tied(ids)
    check_weight_gradients(lambda: tied(engine.tensor(vectors), reverse=True), tied.weights)
    inputs = layers.Input((3,), dtype="int64")
    hidden = tied(inputs)
    logits = tied(layers.Dense(4)(hidden), reverse=True)
    assert logits.shape == (None, 3, 6)


def test_reversible_embedding_language_model_trains_and_saves(backend, tmp_path, rng):
    embedding = layers.ReversibleEmbedding(7, 4)
    inputs = layers.Input((5,), dtype="int64")
    logits = embedding(layers.Dense(4, activation="tanh")(embedding(inputs)), reverse=True)
    model = Model(inputs, layers.Softmax()(logits))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = rng.integers(0, 7, (8, 5))
    history = model.fit(ids, ids, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(model.weights) == 3  # one table, used both ways, and the Dense layer
    model.save(tmp_path / "lm.safetensors")
    loaded = load_model(tmp_path / "lm.safetensors")
    numpy.testing.assert_allclose(
        loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-5
    )
    config = layers.ReversibleEmbedding(7, 4, tie_weights=False, logit_soft_cap=3.0).get_config()
    assert layers.ReversibleEmbedding.from_config(config).get_config() == config
    assert config["tie_weights"] is False and config["reverse_dtype"] is None


def test_reversible_embedding_errors_name_the_layer(backend):
    layer = layers.ReversibleEmbedding(5, 3, name="tokens")
    layer(numpy.array([[1]]))
    with pytest.raises(ValueError, match="ReversibleEmbedding 'tokens'.*output_dim=3"):
        layer(numpy.zeros((2, 4), "float32"), reverse=True)
    with pytest.raises(ValueError, match="ReversibleEmbedding 'cap'.*logit_soft_cap"):
        layers.ReversibleEmbedding(5, 3, logit_soft_cap=-1, name="cap")


# -- SpectralNormalization ---------------------------------------------------------------


def test_spectral_normalization_matches_keras(backend):
    layer = layers.SpectralNormalization(layers.Dense(3), power_iterations=2)
    layer.build_from_shape((None, 4))
    assert [w.shape for w in layer.weights] == [(4, 3), (1, 3), (3,)]  # Keras's order
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "vector_u", "bias"]
    assert [w.shape for w in layer.trainable_weights] == [(4, 3), (3,)]
    layer.set_weights(weights_for([(4, 3), (1, 3), (3,)], 4))
    out = layer(X, training=True)
    numpy.testing.assert_allclose(out.numpy(), KERAS["SpectralNormalization output"], atol=1e-4)
    kernel, vector_u, _ = layer.get_weights()
    numpy.testing.assert_allclose(kernel, KERAS["SpectralNormalization weight 0"], atol=1e-4)
    numpy.testing.assert_allclose(vector_u, KERAS["SpectralNormalization weight 1"], atol=1e-4)


def spectral_step(kernel, vector_u, iterations):
    """Keras's update: power iteration from ``vector_u``, the kernel over its estimated norm."""
    matrix = kernel.reshape(-1, kernel.shape[-1]).astype("float64")
    for _ in range(iterations):
        vector_v = vector_u @ matrix.T
        vector_v /= numpy.linalg.norm(vector_v)
        vector_u = vector_v @ matrix
        vector_u /= numpy.linalg.norm(vector_u)
    return kernel / (vector_v @ matrix @ vector_u.T).item(), vector_u


def test_spectral_normalization_converges_and_leaves_inference_alone(backend, rng):
    dense = layers.Dense(3, kernel_initializer="ones")
    layer = layers.SpectralNormalization(dense, power_iterations=1)
    x = rng.normal(size=(3, 6)).astype("float32")
    before = layer(x).numpy()  # training=False: the kernel as it is
    numpy.testing.assert_allclose(dense.get_weights()[0], numpy.ones((6, 3)))
    numpy.testing.assert_allclose(before, x.sum(axis=1, keepdims=True).repeat(3, 1), rtol=1e-5)
    left, _ = numpy.linalg.qr(rng.normal(size=(6, 3)))
    right, _ = numpy.linalg.qr(rng.normal(size=(3, 3)))
    kernel = (left * [3.0, 1.0, 0.5]) @ right.T  # singular values 3, 1, 0.5
    layer.set_weights([kernel, numpy.ones((1, 3)), numpy.zeros(3)])
    for _ in range(5):
        layer(x, training=True)
    assert numpy.linalg.norm(dense.get_weights()[0], 2) == pytest.approx(1.0, rel=1e-4)
    conv = layers.SpectralNormalization(layers.Conv2D(4, 3), power_iterations=3)
    image = rng.normal(size=(1, 5, 5, 2)).astype("float32")
    conv(image)
    kernel, vector_u, _ = conv.get_weights()
    expected_kernel, expected_u = spectral_step(kernel, vector_u, 3)
    conv(image, training=True)
    numpy.testing.assert_allclose(conv.get_weights()[0], expected_kernel, rtol=1e-4, atol=1e-6)
    numpy.testing.assert_allclose(conv.get_weights()[1], expected_u, rtol=1e-4, atol=1e-6)
    zero = layers.SpectralNormalization(layers.Dense(2, kernel_initializer="zeros"))
    zero(x, training=True)  # an all-zero kernel is left as it is (Keras)
    assert not numpy.isnan(zero.get_weights()[0]).any()
    embedded = layers.SpectralNormalization(layers.Embedding(10, 3))
    assert embedded(numpy.array([[1, 2]]), training=True).shape == (1, 2, 3)


def test_spectral_normalization_in_fit_gradients_and_saving(backend, float64, tmp_path, rng):
    x = rng.normal(size=(16, 4))
    y = x @ rng.normal(size=(4, 1))
    model = Sequential(
        [layers.Input((4,)), layers.SpectralNormalization(layers.Dense(8)), layers.Dense(1)]
    )
    check_gradients(lambda t: model(t), x[:2], backend=backend)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    wrapper = model.layers[0]
    assert wrapper.compute_output_shape((None, 4)) == (None, 8)
    model.save(tmp_path / "sn.safetensors")
    loaded = load_model(tmp_path / "sn.safetensors")
    assert loaded.layers[0].get_config() == wrapper.get_config()
    assert loaded.layers[0].get_config()["power_iterations"] == 1
    for original, copy in zip(model.get_weights(), loaded.get_weights()):
        numpy.testing.assert_array_equal(original, copy)


def test_spectral_normalization_errors_name_the_layer(backend):
    with pytest.raises(ValueError, match="SpectralNormalization 'sn'.*power_iterations"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0, name="sn")
    wrapper = layers.SpectralNormalization(layers.Flatten(name="flat"), name="sn")
    with pytest.raises(ValueError, match="SpectralNormalization 'sn'.*Flatten 'flat'.*kernel"):
        wrapper(numpy.zeros((2, 3), "float32"))


# -- GroupQueryAttention ---------------------------------------------------------------


def reference_gqa(layer, query, value, key=None, mask=None):
    """Grouped-query attention from the layer's weights in Keras's order (NumPy, float64)."""
    key = value if key is None else key
    weights = [w.astype("float64") for w in layer.get_weights()]
    use_bias, use_gate = layer.use_bias, layer.use_gate

    def project(x):
        y = numpy.einsum("btf,fhd->bthd", x, weights.pop(0))
        return y + weights.pop(0) if use_bias else y

    q, k = project(query), project(key)
    gate = 1 / (1 + numpy.exp(-project(query))) if use_gate else None
    v = project(value)
    k, v = (numpy.repeat(t, layer.num_repeats, axis=2) for t in (k, v))
    scores = numpy.einsum("bqhd,bkhd->bhqk", q / math.sqrt(layer.head_dim), k)
    if mask is not None:
        scores = numpy.where(mask[:, None], scores, -1e9)
    scores = numpy.exp(scores - scores.max(axis=-1, keepdims=True))
    scores /= scores.sum(axis=-1, keepdims=True)
    if mask is not None:
        scores = numpy.where(mask[:, None], scores, 0.0)
    context = numpy.einsum("bhqk,bkhd->bqhd", scores, v)
    if use_gate:
        context = context * gate
    out = numpy.einsum("bqhd,hdf->bqf", context, weights.pop(0))
    return (out + weights.pop(0) if use_bias else out), scores


@pytest.mark.parametrize("use_gate", [False, True])
def test_group_query_attention_matches_keras(backend, use_gate):
    layer = layers.GroupQueryAttention(
        head_dim=2, num_query_heads=4, num_key_value_heads=2, use_gate=use_gate
    )
    with_weights(layer, 6, QUERY, VALUE)
    names = ["query", "key"] + (["gate"] if use_gate else []) + ["value", "attention_output"]
    expected_names = [f"{name}/{part}" for name in names for part in ("kernel", "bias")]
    assert [w.name.split("/", 1)[1] for w in layer.weights] == expected_names
    assert layer.weights[0].shape == (4, 4, 2) and layer.weights[2].shape == (4, 2, 2)
    assert layer.weights[-2].shape == (4, 2, 4) and layer.weights[-1].shape == (4,)
    numpy.testing.assert_allclose(
        layer(QUERY, VALUE).numpy()[0], KERAS[f"GroupQueryAttention gate={use_gate}"], atol=1e-4
    )
    masked, scores = layer(QUERY, VALUE, attention_mask=MASK, return_attention_scores=True)
    numpy.testing.assert_allclose(
        masked.numpy()[0], KERAS[f"GQA masked gate={use_gate}"], atol=1e-4
    )
    assert scores.shape == (2, 4, 3, 5) and numpy.all(scores.numpy()[0, ..., 3:] == 0)
    if not use_gate:
        causal = layer(QUERY, QUERY, use_causal_mask=True).numpy()[0]
        numpy.testing.assert_allclose(causal, KERAS["GQA causal gate=False"], atol=1e-4)


@pytest.mark.parametrize(
    "heads,shared,kwargs",
    [
        (4, 1, {}),
        (4, 4, {"use_bias": False}),
        (6, 3, {"sliding_window": 2}),
        (2, 1, {"use_gate": True}),
    ],
)
def test_group_query_attention_matches_the_reference(backend, rng, heads, shared, kwargs):
    layer = layers.GroupQueryAttention(3, heads, shared, **kwargs)
    query, value = rng.normal(size=(2, 4, 5)), rng.normal(size=(2, 6, 7))
    key = rng.normal(size=(2, 6, 3))
    layer(query, value, key)
    mask = numpy.ones((2, 4, 6), bool)
    if "sliding_window" in kwargs:
        distance = numpy.arange(4)[:, None] - numpy.arange(6)[None]
        mask &= numpy.abs(distance) < kwargs["sliding_window"]
    value_mask = numpy.array([[1, 1, 1, 1, 0, 0], [1] * 6], bool)
    expected, expected_scores = reference_gqa(layer, query, value, key, mask & value_mask[:, None])
    fused = layer(query, value, key, value_mask=value_mask)
    explicit, scores = layer(query, value, key, value_mask=value_mask, return_attention_scores=True)
    numpy.testing.assert_allclose(fused.numpy(), expected, atol=1e-5)
    numpy.testing.assert_allclose(explicit.numpy(), expected, atol=1e-5)
    numpy.testing.assert_allclose(scores.numpy(), expected_scores, atol=1e-6)
    assert fused.shape == (2, 4, 5)


def test_group_query_attention_gradients(backend, float64, rng):
    layer = layers.GroupQueryAttention(2, 4, 2, use_gate=True)
    query, value = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 3))
    causal_free = numpy.tril(numpy.ones((3, 5), bool))
    check_gradients(
        lambda q, v: layer(q, v, attention_mask=causal_free), query, value, backend=backend
    )
    check_weight_gradients(
        lambda: layer(engine.tensor(query), engine.tensor(value), use_causal_mask=True),
        layer.weights,
    )


def test_group_query_attention_masks_dropout_and_shapes(backend, rng):
    layer = layers.GroupQueryAttention(2, 2, 1, dropout=0.5)
    query, value = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    inference = layer(query, value).numpy()
    numpy.testing.assert_array_equal(layer(query, value, training=False).numpy(), inference)
    assert not numpy.allclose(layer(query, value, training=True).numpy(), inference)
    query_mask = numpy.array([[1, 1, 0], [1, 0, 0]], bool)
    _, scores = layer(query, value, query_mask=query_mask, return_attention_scores=True)
    assert numpy.all(scores.numpy()[0, :, 2] == 0)  # a masked query attends to nothing
    inputs, memory = layers.Input((3, 4)), layers.Input((5, 4))
    out, symbolic_scores = layer(inputs, memory, return_attention_scores=True)
    assert out.shape == (None, 3, 4) and symbolic_scores.shape == (None, 2, 3, 5)
    tokens = layers.Input((3,), dtype="int64")
    embedded = layers.Embedding(9, 4, mask_zero=True)(tokens)
    model = Model(tokens, layers.GroupQueryAttention(2, 2, 1)(embedded, embedded))
    padded = model.predict(numpy.array([[3, 5, 0]]), verbose=0)
    unpadded = model.predict(numpy.array([[3, 5, 7]]), verbose=0)
    assert not numpy.allclose(padded[0, 0], unpadded[0, 0])  # the padded key is ignored


def test_group_query_attention_query_left_no_key_attends_to_all_as_keras(backend, rng):
    """Without dropout (Keras's dot_product_attention path) a masked query position gets
    uniform weights over every key: what a zero query projection gives with no mask
    (all scores 0). With returned scores (Keras's Softmax-layer path) it gets none."""
    layer = layers.GroupQueryAttention(2, 4, 2)
    query, value = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    layer(query, value)
    query_mask = numpy.array([[1, 0, 1], [0, 0, 0]], bool)
    masked = layer(query, value, query_mask=query_mask).numpy()
    _, scores = layer(query, value, query_mask=query_mask, return_attention_scores=True)
    assert numpy.all(scores.numpy()[1] == 0)
    layer.query_kernel.assign(numpy.zeros(layer.query_kernel.shape))
    layer.query_bias.assign(numpy.zeros(layer.query_bias.shape))
    uniform = layer(query, value).numpy()
    numpy.testing.assert_allclose(masked[1], uniform[1], rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(masked[0, 1], uniform[0, 1], rtol=1e-5, atol=1e-6)
    assert not numpy.allclose(masked[0, 0], uniform[0, 0])


def test_group_query_attention_config_saving_and_errors(backend, tmp_path, rng):
    layer = layers.GroupQueryAttention(4, 4, 2, sliding_window=3, use_gate=True, dropout=0.1)
    config = layer.get_config()
    assert layers.GroupQueryAttention.from_config(config).get_config() == config
    assert layer.name.startswith("grouped_query_attention")  # Keras's class name
    from engine.layers.base import layer_registry

    assert layer_registry.lookup("GroupQueryAttention") is layers.GroupedQueryAttention
    query = layers.Input((3, 6))
    model = Model(query, layers.GroupQueryAttention(2, 2, 1)(query, query))
    model.save(tmp_path / "gqa.safetensors")
    x = rng.normal(size=(2, 3, 6)).astype("float32")
    loaded = load_model(tmp_path / "gqa.safetensors")
    numpy.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5
    )
    with pytest.raises(ValueError, match="GroupedQueryAttention 'g'.*divisible"):
        layers.GroupQueryAttention(2, 3, 2, name="g")
    with pytest.raises(ValueError, match="GroupedQueryAttention 'g'.*`head_dim`"):
        layers.GroupQueryAttention(0, 2, 1, name="g")
    bad = layers.GroupQueryAttention(2, 2, 1, name="g")
    with pytest.raises(ValueError, match="GroupedQueryAttention 'g'.*`attention_mask`"):
        bad(QUERY, VALUE, attention_mask=numpy.ones((2, 3, 4), bool))
    with pytest.raises(TypeError, match="GroupedQueryAttention 'g'.*`value` is required"):
        bad(QUERY)
