"""Text input: TextVectorization, StringLookup, IntegerLookup, strings through models,
pad_sequences and to_categorical.

Expected values are worked out by hand from Keras's rules (vocabulary by
descending count, ties by descending token; "int" mode: padding 0, [UNK] 1;
idf = log(1 + N / (1 + df)), OOV idf the mean), or are Keras 3's own outputs:
the examples of its StringLookup/IntegerLookup documentation, and
``keras.utils.pad_sequences``/``to_categorical`` run with Keras 3.15.
"""

import math

import numpy
import pytest

import engine
from engine import layers
from engine.data import Dataset
from engine.layers.preprocessing.hashing import fingerprint64
from engine.models import Sequential, load_model
from engine.utils import pad_sequences, to_categorical

CORPUS = ["The cat sat.", "the dog, the CAT!", "a bird"]
# counts: the 3, cat 2, then ties (1 each) by descending token: sat, dog, bird, a
CORPUS_VOCABULARY = ["", "[UNK]", "the", "cat", "sat", "dog", "bird", "a"]


def values(tensor) -> numpy.ndarray:
    return tensor.numpy()


# -- TextVectorization: adapt and the vocabulary -----------------------------


@pytest.mark.parametrize(
    "source",
    [
        lambda: CORPUS,
        lambda: numpy.array(CORPUS),
        lambda: numpy.array(CORPUS, dtype=object).reshape(3, 1),
        lambda: Dataset.from_tensor_slices(numpy.array(CORPUS)).batch(2),
        lambda: (numpy.array(CORPUS[i : i + 2]) for i in (0, 2)),
    ],
    ids=["list", "array", "object-column", "dataset", "generator"],
)
def test_adapt_orders_by_count_then_descending_token(source):
    layer = layers.TextVectorization()
    layer.adapt(source())
    assert layer.get_vocabulary() == CORPUS_VOCABULARY
    assert layer.get_vocabulary(include_special_tokens=False) == CORPUS_VOCABULARY[2:]
    assert layer.vocabulary_size() == 8


def test_ties_by_descending_byte_order():
    layer = layers.TextVectorization(standardize=None)
    layer.adapt(["b B a é z Z ab"])  # all once: UTF-8 bytes, descending
    assert layer.get_vocabulary()[2:] == ["é", "z", "b", "ab", "a", "Z", "B"]


def test_max_tokens_counts_the_special_tokens():
    layer = layers.TextVectorization(max_tokens=4)
    layer.adapt(CORPUS)
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "cat"]
    counting = layers.TextVectorization(max_tokens=4, output_mode="count")
    counting.adapt(CORPUS)
    assert counting.get_vocabulary() == ["[UNK]", "the", "cat", "sat"]


def test_int_mode_pads_with_0_and_unknown_is_1(backend):
    layer = layers.TextVectorization()
    layer.adapt(CORPUS)
    out = layer(["the cat", "unknown dog bird bird", ""])
    assert out.dtype == numpy.int64 and out.backend is backend
    numpy.testing.assert_array_equal(values(out), [[2, 3, 0, 0], [1, 5, 6, 6], [0, 0, 0, 0]])


@pytest.mark.parametrize(
    "length, expected",
    [(2, [[2, 3], [1, 5]]), (5, [[2, 3, 0, 0, 0], [1, 5, 6, 6, 0]]), (0, numpy.zeros((2, 0)))],
)
def test_output_sequence_length_pads_and_truncates_at_the_end(backend, length, expected):
    layer = layers.TextVectorization(vocabulary=CORPUS_VOCABULARY, output_sequence_length=length)
    out = layer(numpy.array([["the cat"], ["unknown dog bird bird"]]))
    assert out.shape == (2, length)
    numpy.testing.assert_array_equal(values(out), expected)
    assert layer.compute_output_shape((None, 1)) == (None, length)


def test_standardize_lowers_and_strips_ascii_only():
    layer = layers.TextVectorization(split=None, output_mode="int")
    layer.set_vocabulary(["hello world", "École"])
    # lowering changes ASCII letters only (as TensorFlow's strings.lower): É stays É
    numpy.testing.assert_array_equal(
        values(layer(["Hello, World!", "ÉCOLE", "école"])), [[2], [3], [1]]
    )
    strip = layers.TextVectorization(standardize="strip_punctuation", split=None)
    strip.adapt(["Don't STOP!"])
    assert strip.get_vocabulary()[2:] == ["Dont STOP"]
    lower = layers.TextVectorization(standardize="lower", split=None)
    lower.adapt(["Don't STOP!"])
    assert lower.get_vocabulary()[2:] == ["don't stop!"]


def test_splits():
    whitespace = layers.TextVectorization(standardize=None)
    whitespace.adapt(["a\tb\n\nc  a"])
    assert whitespace.get_vocabulary()[2:] == ["a", "c", "b"]
    characters = layers.TextVectorization(split="character", standardize=None)
    characters.adapt(["abca é"])
    assert characters.get_vocabulary()[2:] == ["a", "é", "c", "b", " "]
    whole = layers.TextVectorization(split=None, standardize=None)
    whole.adapt(["a b", "a b", "c"])
    assert whole.get_vocabulary()[2:] == ["a b", "c"]


def test_callables_receive_numpy_strings():
    seen = {}

    def shout(texts):
        seen["standardize"] = texts.dtype.kind
        return numpy.char.upper(texts)

    def on_commas(texts):
        seen["split"] = texts.shape
        return [text.split(",") for text in texts]

    layer = layers.TextVectorization(standardize=shout, split=on_commas)
    layer.adapt(["a,b,a", "c"])
    assert layer.get_vocabulary()[2:] == ["A", "C", "B"]
    assert seen == {"standardize": "U", "split": (2,)}
    numpy.testing.assert_array_equal(values(layer(["b,x"])), [[4, 1]])


def test_ngrams_width_by_width():
    layer = layers.TextVectorization(ngrams=2)
    layer.adapt(["a b c"])
    # counts all 1: descending tokens
    assert layer.get_vocabulary()[2:] == ["c", "b c", "b", "a b", "a"]
    numpy.testing.assert_array_equal(values(layer(["a b c"])), [[6, 4, 2, 5, 3]])
    wide = layers.TextVectorization(ngrams=(1, 3), standardize=None)
    wide.set_vocabulary(["a", "b", "c", "a b c"])
    numpy.testing.assert_array_equal(values(wide(["a b c", "a b"])), [[2, 3, 4, 5], [2, 3, 0, 0]])


# -- TextVectorization: the other output modes -------------------------------


def test_multi_hot_and_count(backend):
    vocabulary = ["the", "cat", "sat"]
    multi = layers.TextVectorization(vocabulary=vocabulary, output_mode="multi_hot")
    count = layers.TextVectorization(vocabulary=vocabulary, output_mode="count")
    texts = ["the cat the", "dog dog sat", ""]
    # columns: [UNK], the, cat, sat
    numpy.testing.assert_array_equal(
        values(multi(texts)), [[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0]]
    )
    numpy.testing.assert_array_equal(
        values(count(texts)), [[0, 2, 1, 0], [2, 0, 0, 1], [0, 0, 0, 0]]
    )
    assert multi(texts).dtype == numpy.float32
    assert multi.get_vocabulary() == ["[UNK]", "the", "cat", "sat"]
    assert multi.compute_output_shape((None,)) == (None, 4)


def test_tf_idf_learns_log_idf_and_mean_oov_idf(backend):
    layer = layers.TextVectorization(output_mode="tf_idf")
    documents = ["a b a", "b c", "b"]
    layer.adapt(documents)
    assert layer.get_vocabulary() == ["[UNK]", "b", "a", "c"]  # b 3, a 2, c 1
    idf_b, idf_a, idf_c = (math.log(1 + 3 / (1 + df)) for df in (3, 1, 1))
    oov = (idf_b + idf_a + idf_c) / 3
    expected = [[0, idf_b, 2 * idf_a, 0], [2 * oov, 0, 0, idf_c]]
    numpy.testing.assert_allclose(values(layer(["b a a", "x y c"])), expected, rtol=1e-6)


def test_pad_to_max_tokens(backend):
    layer = layers.TextVectorization(max_tokens=6, output_mode="tf_idf", pad_to_max_tokens=True)
    layer.adapt(["a b", "a"])
    out = values(layer(["a a z"]))
    idf_a, idf_b = math.log(1 + 2 / 3), math.log(1 + 2 / 2)
    numpy.testing.assert_allclose(out, [[(idf_a + idf_b) / 2, 2 * idf_a, 0, 0, 0, 0]], rtol=1e-6)
    assert layer.compute_output_shape((None,)) == (None, 6)


def test_one_hot_of_single_tokens(backend):
    layer = layers.TextVectorization(vocabulary=["x", "y"], output_mode="one_hot", split=None)
    numpy.testing.assert_array_equal(
        values(layer(["y", "x", "q"])), [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    )
    assert layer.compute_output_shape((None,)) == (None, 3)


def test_set_vocabulary_with_idf_weights(backend):
    layer = layers.TextVectorization(output_mode="tf_idf")
    layer.set_vocabulary(["a", "b"], idf_weights=[0.5, 1.5])
    numpy.testing.assert_allclose(values(layer(["a b b z"])), [[1.0, 0.5, 3.0]])
    with_oov = layers.TextVectorization(output_mode="tf_idf")
    with_oov.set_vocabulary(["[UNK]", "a", "b"], idf_weights=[4.0, 0.5, 1.5])
    numpy.testing.assert_allclose(values(with_oov(["z"])), [[4.0, 0, 0]])


# -- StringLookup and IntegerLookup: Keras 3's documented outputs -----------

VOCAB = ["a", "b", "c", "d"]
DATA = [["a", "c", "d"], ["d", "z", "b"]]
DATA4 = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]


def test_string_lookup_matches_keras(backend):
    numpy.testing.assert_array_equal(
        values(layers.StringLookup(vocabulary=VOCAB)(DATA)), [[1, 3, 4], [4, 0, 2]]
    )
    adapted = layers.StringLookup()
    adapted.adapt(DATA)
    assert adapted.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    numpy.testing.assert_array_equal(values(adapted(DATA)), [[5, 3, 1], [1, 2, 4]])
    two_oov = layers.StringLookup(vocabulary=VOCAB, num_oov_indices=2)
    numpy.testing.assert_array_equal(
        values(two_oov([["a", "c", "d"], ["m", "z", "b"]])), [[2, 4, 5], [0, 1, 3]]
    )
    one_hot = layers.StringLookup(vocabulary=VOCAB, output_mode="one_hot")
    numpy.testing.assert_array_equal(
        values(one_hot(["a", "b", "c", "d", "z"])), numpy.eye(5)[[1, 2, 3, 4, 0]]
    )
    multi = layers.StringLookup(vocabulary=VOCAB, output_mode="multi_hot")
    numpy.testing.assert_array_equal(values(multi(DATA4)), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    count = layers.StringLookup(vocabulary=VOCAB, output_mode="count")
    numpy.testing.assert_array_equal(values(count(DATA4)), [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    tf_idf = layers.StringLookup(output_mode="tf_idf")
    tf_idf.set_vocabulary(VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])
    numpy.testing.assert_allclose(
        values(tf_idf(DATA4)), [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]], rtol=1e-6
    )
    tf_idf.set_vocabulary(["[UNK]", *VOCAB], idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    numpy.testing.assert_allclose(
        values(tf_idf(DATA4)), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]], rtol=1e-6
    )
    inverse = layers.StringLookup(vocabulary=VOCAB, invert=True)
    numpy.testing.assert_array_equal(
        inverse([[1, 3, 4], [4, 0, 2]]), [["a", "c", "d"], ["d", "[UNK]", "b"]]
    )


def test_string_lookup_mask_token(backend):
    layer = layers.StringLookup(vocabulary=VOCAB, mask_token="")
    assert layer.get_vocabulary() == ["", "[UNK]", *VOCAB]
    numpy.testing.assert_array_equal(values(layer([["a", "", "z"]])), [[2, 0, 1]])
    counting = layers.StringLookup(vocabulary=VOCAB, mask_token="", output_mode="count")
    numpy.testing.assert_array_equal(values(counting([["a", "", "z", ""]])), [[1, 1, 0, 0, 0]])
    inverse = layers.StringLookup(vocabulary=VOCAB, mask_token="", invert=True)
    numpy.testing.assert_array_equal(inverse([0, 1, 2, 9]), ["", "[UNK]", "a", "[UNK]"])


def test_integer_lookup_matches_keras(backend):
    vocab = [12, 36, 1138, 42]
    data = numpy.array([[12, 1138, 42], [42, 1000, 36]])
    numpy.testing.assert_array_equal(
        values(layers.IntegerLookup(vocabulary=vocab)(data)), [[1, 3, 4], [4, 0, 2]]
    )
    adapted = layers.IntegerLookup()
    adapted.adapt(data)
    assert adapted.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    numpy.testing.assert_array_equal(values(adapted(data)), [[5, 2, 1], [1, 3, 4]])
    two_oov = layers.IntegerLookup(vocabulary=vocab, num_oov_indices=2)
    numpy.testing.assert_array_equal(
        values(two_oov(numpy.array([[12, 1138, 42], [37, 1000, 36]]))), [[2, 4, 5], [1, 0, 3]]
    )
    oov = numpy.array([100, 300, 700, 1100, 1700, 2000])
    floormod = layers.IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4)
    farmhash = layers.IntegerLookup(
        vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash"
    )
    numpy.testing.assert_array_equal(values(floormod(oov)), [0, 0, 0, 0, 0, 0])
    numpy.testing.assert_array_equal(values(farmhash(oov)), [3, 3, 2, 2, 0, 1])
    counts = numpy.array([[12, 1138, 42, 42], [42, 7, 36, 7]])
    multi = layers.IntegerLookup(vocabulary=vocab, output_mode="multi_hot")
    numpy.testing.assert_array_equal(values(multi(counts)), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    tf_idf = layers.IntegerLookup(
        output_mode="tf_idf", vocabulary=[-1, *vocab], idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4]
    )
    numpy.testing.assert_allclose(
        values(tf_idf(counts)), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]], rtol=1e-6
    )
    inverse = layers.IntegerLookup(vocabulary=vocab, invert=True)
    numpy.testing.assert_array_equal(
        values(inverse(numpy.array([[1, 3, 4], [4, 0, 2]]))), [[12, 1138, 42], [42, -1, 36]]
    )


def test_fingerprint64_matches_farmhash():
    # FarmHash's Fingerprint64 test values (short, 17-32, 33-64 and chunked paths)
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    assert fingerprint64(b"test") == 8581389452482819506
    assert fingerprint64(b"test" * 8) == -4196240717365766262 % 2**64
    assert (
        fingerprint64(b"F7479877-4690-4A44-AFC9-8FE987EA512F:some_other_id") == 6862335115798125349
    )
    assert fingerprint64(b"test" * 64) == 3500507768004279527


def test_lookup_config_round_trip(backend):
    layer = layers.StringLookup(mask_token="", num_oov_indices=2, output_mode="int")
    layer.adapt(["x", "y", "y"])
    clone = layers.StringLookup.from_config(layer.get_config())
    assert clone.get_vocabulary() == layer.get_vocabulary() == ["", "[UNK]", "[UNK]", "y", "x"]
    numpy.testing.assert_array_equal(values(clone(["x", "q", ""])), values(layer(["x", "q", ""])))


# -- models: strings in, saving ---------------------------------------------

TEXTS = numpy.array(["good movie", "great film", "bad movie", "awful film"] * 8)
LABELS = numpy.array([1, 1, 0, 0] * 8, dtype="float32")


def test_symbolic_string_input():
    text = layers.Input(shape=(), dtype="string")
    assert text.dtype == "string" and text.shape == (None,)
    vectorizer = layers.TextVectorization(vocabulary=["good", "bad"], output_sequence_length=5)
    ids = vectorizer(text)
    assert ids.shape == (None, 5) and ids.dtype == "int64"
    counts = layers.StringLookup(vocabulary=["a"], output_mode="count")(
        layers.Input(shape=(3,), dtype=str)
    )
    assert counts.shape == (None, 2) and counts.dtype == "float32"


def test_sequential_with_embedding_round_trips(backend, tmp_path):
    vectorizer = layers.TextVectorization(max_tokens=10, output_sequence_length=3)
    vectorizer.adapt(TEXTS)
    model = Sequential(
        [
            layers.Input(shape=(), dtype="string"),
            vectorizer,
            layers.Embedding(10, 4),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(TEXTS, LABELS, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "text.safetensors"
    model.save(path)
    loaded = load_model(path)
    assert loaded.layers[0].get_vocabulary() == vectorizer.get_vocabulary()
    numpy.testing.assert_array_equal(
        loaded.predict(TEXTS[:4], verbose=0), model.predict(TEXTS[:4], verbose=0)
    )


def test_tf_idf_weights_round_trip_exactly(backend, tmp_path):
    vectorizer = layers.TextVectorization(output_mode="tf_idf")
    vectorizer.adapt(TEXTS[:3])
    model = Sequential([vectorizer, layers.Dense(2)])
    model.build((None,))
    model.save(tmp_path / "idf.safetensors")
    loaded = load_model(tmp_path / "idf.safetensors").layers[0]
    numpy.testing.assert_array_equal(
        values(loaded(["good x film"])), values(vectorizer(["good x film"]))
    )
    assert loaded.get_vocabulary() == vectorizer.get_vocabulary()


def test_strings_train_a_functional_model(backend):
    engine.utils.set_random_seed(0)
    text = layers.Input(shape=(1,), dtype="string")  # fed 1-D text, as Keras 3 allows
    vectorizer = layers.TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(TEXTS)
    output = layers.Dense(1, activation="sigmoid")(vectorizer(text))
    model = engine.Model(text, output)
    model.compile(
        optimizer=engine.optimizers.Adam(learning_rate=0.1),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(TEXTS, LABELS, epochs=20, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(TEXTS, LABELS, verbose=0)[1] == 1.0
    assert model.predict(["good film", "awful movie"], verbose=0).shape == (2, 1)
    dataset = Dataset.from_tensor_slices((TEXTS, LABELS)).batch(8)
    model.fit(dataset, epochs=1, verbose=0)


def test_strings_to_a_model_without_text_layer_name_the_layer(backend):
    model = Sequential([layers.Input(shape=(1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(
        TypeError,
        match=r"fit: `x` must be an array of numbers; got text \(an array of dtype <U10, first "
        r"element \['good movie'\]\)\. Model '\w+' reads it with its first layer 'dense\w*' "
        r"\(Dense\), a layer taking numbers: start the model with a TextVectorization",
    ):
        model.fit(TEXTS, LABELS, verbose=0)
    with pytest.raises(TypeError, match=r"predict: .* first layer 'dense\w*' \(Dense\)"):
        model.predict(TEXTS, verbose=0)
    reader = Sequential([layers.TextVectorization(vocabulary=["a"]), layers.Embedding(3, 2)])
    reader.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="fit: `y` must be an array of numbers; got text"):
        reader.fit(TEXTS, TEXTS, verbose=0)
    text = layers.Input(shape=(1,), dtype="string")
    direct = engine.Model(text, layers.Dense(1, name="reads_text")(text))
    with pytest.raises(TypeError, match="Layer 'reads_text' expects numeric input"):
        direct(TEXTS[:, None])
    stacked = Sequential([layers.Input(shape=(1,), dtype="string"), layers.Dense(1, name="inner")])
    with pytest.raises(TypeError, match="Layer 'inner' expects numeric input"):
        stacked(TEXTS[:, None])  # the inner layer's error, not one about host data
    with pytest.raises(TypeError, match="InputLayer '\\w+' has dtype 'string' and expects text"):
        layers.InputLayer(shape=(1,), dtype="string")(numpy.ones((2, 1)))


# -- bad input ----------------------------------------------------------------


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="`standardize` must be one of"):
        layers.TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="`split` must be one of"):
        layers.TextVectorization(split="comma")
    with pytest.raises(ValueError, match="`output_mode` must be one of"):
        layers.TextVectorization(output_mode="bag")
    with pytest.raises(ValueError, match="must not be set if `output_mode` is not 'int'"):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="`ngrams` must be None"):
        layers.TextVectorization(ngrams=0)
    with pytest.raises(ValueError, match="`idf_weights` must be given"):
        layers.TextVectorization(output_mode="tf_idf", vocabulary=["a"])
    with pytest.raises(ValueError, match="max_tokens"):
        layers.StringLookup(max_tokens=1)
    with pytest.raises(ValueError, match="`output_mode` must be 'int' when `invert`"):
        layers.StringLookup(invert=True, output_mode="count")


def test_bad_inputs_name_the_layer(backend):
    layer = layers.TextVectorization(vocabulary=["a"], name="vectorizer")
    with pytest.raises(
        TypeError,
        match="TextVectorization 'vectorizer' expects strings; got an array of dtype int64",
    ):
        layer(numpy.array([1, 2]))
    with pytest.raises(
        ValueError, match="shape \\(batch,\\) or \\(batch, 1\\); got shape \\(1, 2\\)"
    ):
        layer([["a", "b"]])
    unset = layers.TextVectorization(output_mode="multi_hot", name="unset")
    with pytest.raises(RuntimeError, match="'unset'.*must set the layer's vocabulary"):
        unset(["a"])
    with pytest.raises(ValueError, match="Cannot adapt layer 'vectorizer'"):
        layer.adapt(["a"])
    strict = layers.StringLookup(vocabulary=["a"], num_oov_indices=0, name="strict")
    with pytest.raises(ValueError, match=r"'strict': with num_oov_indices=0 .* \['z'\]"):
        strict(["a", "z"])
    with pytest.raises(ValueError, match="repeats 1 term"):
        layers.StringLookup(vocabulary=["a", "b", "a"])
    with pytest.raises(ValueError, match="mask token '' is at index 1"):
        layers.StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(TypeError, match="IntegerLookup '\\w+' expects integers"):
        layers.IntegerLookup(vocabulary=[1])(numpy.array([0.5]))
    with pytest.raises(TypeError, match="yields tuples"):
        layers.StringLookup().adapt(Dataset.from_tensor_slices((TEXTS, LABELS)).batch(4))


def test_custom_standardize_cannot_be_saved():
    layer = layers.TextVectorization(standardize=numpy.char.lower, name="custom")
    with pytest.raises(ValueError, match="'custom': its `standardize` is a Python function"):
        layer.get_config()


# -- pad_sequences and to_categorical (outputs of Keras 3.15) ------------------

SEQUENCES = [[1], [2, 3], [4, 5, 6], [], [7, 8, 9, 10]]


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ({}, [[0, 0, 0, 1], [0, 0, 2, 3], [0, 4, 5, 6], [0, 0, 0, 0], [7, 8, 9, 10]]),
        ({"maxlen": 2}, [[0, 1], [2, 3], [5, 6], [0, 0], [9, 10]]),
        (
            {"padding": "post"},
            [[1, 0, 0, 0], [2, 3, 0, 0], [4, 5, 6, 0], [0, 0, 0, 0], [7, 8, 9, 10]],
        ),
        (
            {"truncating": "post", "maxlen": 3},
            [[0, 0, 1], [0, 2, 3], [4, 5, 6], [0, 0, 0], [7, 8, 9]],
        ),
        ({"value": -1}, [[-1, -1, -1, 1], [-1, -1, 2, 3], [-1, 4, 5, 6], [-1] * 4, [7, 8, 9, 10]]),
    ],
)
def test_pad_sequences_as_keras(arguments, expected):
    padded = pad_sequences(SEQUENCES, **arguments)
    assert padded.dtype == numpy.int32
    numpy.testing.assert_array_equal(padded, expected)


def test_pad_sequences_dtypes_and_steps_as_keras():
    floats = pad_sequences(SEQUENCES[:3], dtype="float32", value=0.5)
    assert floats.dtype == numpy.float32
    numpy.testing.assert_array_equal(floats, [[0.5, 0.5, 1], [0.5, 2, 3], [4, 5, 6]])
    numpy.testing.assert_array_equal(pad_sequences([[1.7, 2.2], [3.9]]), [[1, 2], [0, 3]])
    steps = pad_sequences([numpy.ones((2, 3)), numpy.zeros((1, 3))], maxlen=3)
    assert steps.shape == (2, 3, 3)
    numpy.testing.assert_array_equal(steps[0], [[0, 0, 0], [1, 1, 1], [1, 1, 1]])
    words = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["a", "b"], ["<pad>", "c"]]
    with pytest.raises(ValueError, match="cannot hold the padding `value` 'x'"):
        pad_sequences([[1]], value="x")
    with pytest.raises(ValueError, match="`padding` must be 'pre' or 'post'; got 'middle'"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="list of iterables; found a int"):
        pad_sequences([1, 2])


def test_to_categorical_as_keras(backend):
    out = to_categorical([0, 2, 1])
    assert out.dtype == numpy.float64
    numpy.testing.assert_array_equal(out, numpy.eye(3)[[0, 2, 1]])
    numpy.testing.assert_array_equal(
        to_categorical([[0], [2], [1]], num_classes=4), numpy.eye(4)[[0, 2, 1]]
    )
    assert to_categorical(numpy.array([[0, 1], [2, 0]])).shape == (2, 2, 3)
    numpy.testing.assert_array_equal(to_categorical([1, -1], num_classes=3), [[0, 1, 0], [0, 0, 1]])
    numpy.testing.assert_array_equal(to_categorical(3, 5), [0, 0, 0, 1, 0])
    tensor = to_categorical(engine.Tensor(numpy.array([[1], [0]])), num_classes=2)
    assert tensor.backend is backend and tensor.dtype == numpy.float32
    numpy.testing.assert_array_equal(tensor.numpy(), [[0, 1], [1, 0]])
    with pytest.raises(IndexError, match="class index 3 is out of range for num_classes=3"):
        to_categorical([3], num_classes=3)
