"""Masks ride on tensors as in Keras 3 (``_keras_mask``): eager layer calls, subclassed
models, functional graphs, and the losses and metrics of a masked output.

Keras 3 is the reference: a layer's call reads its input's mask, its output gets
``compute_mask``'s; a loss weighs a masked output's kept steps by ``size / kept``
(the mean over the kept steps), and a mean metric counts only the kept steps.
"""

import warnings

import numpy
import pytest

import engine
from engine import layers, losses, metrics

TOKENS = numpy.array([[3, 1, 2, 0, 0], [4, 4, 1, 2, 3]])


class _Tagger(engine.Model):
    def __init__(self):
        super().__init__()
        self.embed = layers.Embedding(6, 3, mask_zero=True)
        self.lstm = layers.LSTM(2)

    def call(self, tokens):
        return self.lstm(self.embed(tokens))


def test_a_layer_attaches_its_mask_and_the_next_one_reads_it(backend):
    embedding, lstm = layers.Embedding(6, 3, mask_zero=True), layers.LSTM(2)
    embedded = embedding(TOKENS)
    numpy.testing.assert_array_equal(engine.ops.convert_to_numpy(embedded._keras_mask), TOKENS != 0)
    assert lstm(embedded)._keras_mask is None  # return_sequences=False: no mask downstream
    sequences = layers.LSTM(2, return_sequences=True)(embedded)
    numpy.testing.assert_array_equal(
        engine.ops.convert_to_numpy(sequences._keras_mask), TOKENS != 0
    )


def test_a_subclassed_model_passes_the_embedding_mask_on(backend, float64):
    """Before, the mask of an Embedding called inside ``call`` never reached the LSTM."""
    model = _Tagger()
    padded = model(TOKENS).numpy()
    short = model(TOKENS[:1, :3]).numpy()
    numpy.testing.assert_allclose(padded[:1], short, rtol=1e-10)
    unmasked = model.embed(TOKENS)
    unmasked._keras_mask = None
    assert not numpy.allclose(model.lstm(unmasked).numpy()[:1], short)


def test_an_explicit_mask_wins_over_the_attached_one(backend, float64):
    embedding, lstm = layers.Embedding(6, 3, mask_zero=True), layers.LSTM(2)
    embedded = embedding(TOKENS)
    everything = numpy.ones(TOKENS.shape, dtype=bool)
    unmasked = embedding(TOKENS)
    unmasked._keras_mask = None
    numpy.testing.assert_allclose(
        lstm(embedded, mask=everything).numpy(), lstm(unmasked).numpy(), rtol=1e-12
    )


def test_merge_layers_read_the_masks_of_their_inputs(backend):
    embedding = layers.Embedding(6, 3, mask_zero=True)
    a, b = embedding(TOKENS), embedding(TOKENS[:, ::-1])
    merged = layers.Add()([a, b])
    numpy.testing.assert_array_equal(
        engine.ops.convert_to_numpy(merged._keras_mask), (TOKENS != 0) | (TOKENS[:, ::-1] != 0)
    )
    b._keras_mask = None
    assert layers.Add()([a, b])._keras_mask is None  # as Keras: any input without one


def test_multi_head_attention_takes_the_masks_off_its_inputs_as_keras(backend, float64):
    """Keras 3's MultiHeadAttention reads the query's and value's masks, removes them from
    those tensors and gives its output the query's: a residual ``Add`` after it then sees
    an unmasked input and gives no mask."""
    attention_input = layers.Embedding(6, 4, mask_zero=True)
    embedded = attention_input(TOKENS)
    attention = layers.MultiHeadAttention(num_heads=2, key_dim=2)
    output = attention(embedded, embedded)
    assert embedded._keras_mask is None
    numpy.testing.assert_array_equal(engine.ops.convert_to_numpy(output._keras_mask), TOKENS != 0)
    assert layers.Add()([embedded, output])._keras_mask is None
    # the masks it read are those an explicit call gives
    plain = attention_input(TOKENS)
    plain._keras_mask = None
    explicit = attention(plain, plain, query_mask=TOKENS != 0, value_mask=TOKENS != 0)
    numpy.testing.assert_allclose(output.numpy(), explicit.numpy(), rtol=1e-12)


def _masked_output(backend, rng, mask):
    """A (2, 5, 3) softmax output carrying ``mask``, and integer targets."""
    probs = rng.dirichlet(numpy.ones(3), size=(2, 5))
    y_pred = engine.tensor(probs)
    y_pred._keras_mask = mask
    return y_pred, rng.integers(0, 3, (2, 5)), probs


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
def test_a_loss_counts_only_the_kept_steps_of_a_masked_output(backend, float64, rng, reduction):
    mask = TOKENS != 0
    y_pred, y_true, probs = _masked_output(backend, rng, mask)
    loss = losses.SparseCategoricalCrossentropy(reduction=reduction)
    per_step = -numpy.log(numpy.take_along_axis(probs, y_true[..., None], -1)[..., 0])
    expected = per_step[mask].mean() if reduction != "sum" else per_step[mask].sum()
    numpy.testing.assert_allclose(float(loss(y_true, y_pred).numpy()), expected, rtol=1e-10)
    weights = numpy.array([2.0, 0.5])
    weighted = (per_step * weights[:, None])[mask]
    expected = weighted.mean() if reduction != "sum" else weighted.sum()
    numpy.testing.assert_allclose(
        float(loss(y_true, y_pred, sample_weight=weights).numpy()), expected, rtol=1e-10
    )


def test_a_fully_masked_output_has_zero_loss(backend, float64, rng):
    y_pred, y_true, _ = _masked_output(backend, rng, numpy.zeros((2, 5), dtype=bool))
    assert float(losses.SparseCategoricalCrossentropy()(y_true, y_pred).numpy()) == 0.0


def test_a_mask_of_another_shape_than_the_losses_is_refused(backend, rng):
    y_pred, y_true, _ = _masked_output(backend, rng, numpy.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"mask of y_pred, of shape \(2, 4\).*losses of shape"):
        losses.SparseCategoricalCrossentropy()(y_true, y_pred)


def test_a_mean_metric_counts_only_the_kept_steps(backend, float64, rng):
    mask = TOKENS != 0
    y_pred, y_true, probs = _masked_output(backend, rng, mask)
    accuracy = metrics.SparseCategoricalAccuracy()
    accuracy.update_state(y_true, y_pred)
    expected = (probs.argmax(-1) == y_true)[mask].mean()
    numpy.testing.assert_allclose(accuracy.result(), expected, rtol=1e-12)
    weighted = metrics.SparseCategoricalAccuracy()
    weights = numpy.array([2.0, 0.5])  # one per sample, the mask per step
    weighted.update_state(y_true, y_pred, sample_weight=weights)
    hits, per_step = probs.argmax(-1) == y_true, numpy.broadcast_to(weights[:, None], mask.shape)
    expected = (hits * per_step)[mask].sum() / per_step[mask].sum()
    numpy.testing.assert_allclose(weighted.result(), expected, rtol=1e-12)


def test_fit_and_evaluate_of_a_masked_sequence_model_ignore_the_padding(backend, float64):
    """The padded steps' targets change neither the loss nor the accuracy (Keras 3)."""
    tokens = layers.Input((5,), dtype="int32")
    hidden = layers.LSTM(3, return_sequences=True)(layers.Embedding(6, 4, mask_zero=True)(tokens))
    model = engine.Model(tokens, layers.Dense(3, activation="softmax")(hidden))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    targets = TOKENS % 3
    other = numpy.where(TOKENS == 0, (targets + 1) % 3, targets)  # differs on padding only
    assert model.evaluate(TOKENS, targets, verbose=0) == model.evaluate(TOKENS, other, verbose=0)


class _MaskedMean(layers.Layer):
    """A custom layer that needs its mask (as the Keras masking guide's ``TemporalSoftmax``)
    and defines no ``compute_output_shape``."""

    def call(self, inputs, mask=None):
        weights = engine.ops.expand_dims(engine.ops.cast(mask, inputs.dtype), -1)
        return engine.ops.sum(inputs * weights, axis=1) / engine.ops.sum(weights, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None  # the steps are averaged away: no mask downstream, and no warning


def test_a_custom_layer_that_needs_its_mask_gets_it_in_a_functional_model(backend, float64):
    tokens = layers.Input((5,), dtype="int32")
    embedding = layers.Embedding(6, 3, mask_zero=True)
    model = engine.Model(tokens, _MaskedMean()(embedding(tokens)))
    assert model.output_shape == (None, 3)
    vectors = embedding.embeddings.numpy()[TOKENS]
    kept = (TOKENS != 0)[..., None]
    expected = (vectors * kept).sum(axis=1) / kept.sum(axis=1)
    numpy.testing.assert_allclose(model.predict(TOKENS, verbose=0), expected, rtol=1e-12)


def test_a_layer_without_masking_support_warns_that_it_drops_the_mask(backend):
    """Keras 3's warning, where a masked tensor reaches a layer that cannot pass it on."""
    embedded = layers.Embedding(6, 3, mask_zero=True)(TOKENS)
    with pytest.warns(
        UserWarning, match=r"Layer 'flatten.*' \(of type Flatten\).*destroy the mask"
    ):
        flat = layers.Flatten()(embedded)
    assert flat._keras_mask is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers.Dropout(0.5)(embedded)  # supports masking: passes it on, quietly
        layers.LSTM(2)(embedded)


def test_with_other_tensor_arguments_the_attached_mask_is_not_passed_as_mask(backend, float64):
    """Keras 3 passes an attached mask to ``mask`` only when the input is the call's one
    tensor argument: an LSTM given initial states runs over the padding too (checked
    against Keras 3.15), unless the mask is given explicitly."""
    embedded = layers.Embedding(6, 3, mask_zero=True)(TOKENS)
    lstm = layers.LSTM(2)
    states = [numpy.zeros((2, 2)), numpy.zeros((2, 2))]
    plain = engine.tensor(embedded.numpy())
    numpy.testing.assert_allclose(
        lstm(embedded, initial_state=states).numpy(), lstm(plain, initial_state=states).numpy()
    )
    explicit = lstm(embedded, initial_state=states, mask=TOKENS != 0).numpy()
    numpy.testing.assert_allclose(explicit, lstm(embedded).numpy(), rtol=1e-12)
