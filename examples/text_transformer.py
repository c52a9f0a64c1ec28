"""Classify generated restaurant reviews with a small Transformer; print test accuracy.

Raw strings go in: ``TextVectorization`` -> ``Embedding`` plus a learned
position embedding -> one Transformer block (multi-head self-attention and a
Dense feed-forward, each with dropout, a residual connection and layer
normalization) -> ``GlobalAveragePooling1D`` -> ``Dense`` softmax, as keras.io's
"Text classification with Transformer", written with the functional API.

The reviews are generated, so nothing is downloaded: "honestly the soup was
not very fresh tonight". A review is positive when its adjective is positive
and not negated, or negative and negated ("not bad"). Every adjective is
negated half the time, so a bag of words is right only half the time: the
model must relate "not" or "never" to the adjective it stands before, and
ignore the "not" of "not gonna lie" and "i can not lie". Test accuracy: 1.00
after 10 epochs (seeds 0-3; one seed still guessed after 6), about 10 s on numba.

python examples/text_transformer.py --backend numba
"""

import argparse

import numpy

import engine
from engine import layers, ops

POSITIVE = "good great tasty lovely excellent fresh friendly perfect delicious wonderful".split()
NEGATIVE = "bad awful bland rude terrible stale cold dirty boring slow".split()
NOUNS = "food pasta service waiter soup pizza room staff coffee dessert music bread".split()
ADVERBS = ["", "", "very", "really", "quite", "truly", "so"]
NEGATIONS = ["not", "never"]
OPENERS = ["", "", "honestly", "well", "to be honest", "i think", "not gonna lie", "i can not lie"]
CLOSERS = ["", "", "tonight", "as usual", "this time", "not that i mind", "if you ask me"]
SEQUENCE_LENGTH = 16  # the longest review has 15 words


def make_reviews(count: int, rng: numpy.random.Generator):
    """``count`` reviews (an array of str) and their labels (1 positive, 0 negative)."""
    texts, labels = [], numpy.zeros(count, dtype="int64")
    for row in range(count):
        positive = rng.random() < 0.5
        negated = rng.random() < 0.5
        adjective = rng.choice(POSITIVE if positive else NEGATIVE)
        words = [
            rng.choice(OPENERS),
            "the",
            rng.choice(NOUNS),
            "was",
            rng.choice(NEGATIONS) if negated else "",
            rng.choice(ADVERBS),
            adjective,
            rng.choice(CLOSERS),
        ]
        texts.append(" ".join(word for word in words if word))
        labels[row] = int(positive != negated)
    return numpy.array(texts, dtype=object), labels


def load_data(seed: int, train_size: int = 4000, test_size: int = 1000):
    rng = numpy.random.default_rng(seed)
    return make_reviews(train_size, rng), make_reviews(test_size, rng)


@engine.saving.register_keras_serializable(package="examples")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector for each position to a sequence ``(batch, length, dim)``."""

    def __init__(self, sequence_length: int, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.supports_masking = True  # the token embedding's padding mask passes through

    def build(self, input_shape):
        self.positions = layers.Embedding(self.sequence_length, input_shape[-1])

    def call(self, inputs):
        return inputs + self.positions(ops.arange(inputs.shape[1]))

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}


def transformer_block(x, num_heads: int, feed_forward_dim: int, dropout: float = 0.1):
    """One post-norm Transformer encoder block on a symbolic ``(batch, length, dim)`` tensor."""
    dim = x.shape[-1]
    attended = layers.MultiHeadAttention(num_heads, key_dim=dim // num_heads)(x, x)
    attended = layers.Dropout(dropout)(attended)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, attended]))
    fed = layers.Dense(feed_forward_dim, activation="relu")(x)
    fed = layers.Dense(dim)(fed)
    fed = layers.Dropout(dropout)(fed)
    return layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, fed]))


def build_model(
    vectorizer: layers.TextVectorization,
    embedding_dim: int = 32,
    num_heads: int = 2,
    feed_forward_dim: int = 64,
) -> engine.Model:
    """Strings ``(batch, 1)`` in, probabilities of (negative, positive) out."""
    text = layers.Input(shape=(1,), dtype="string", name="review")
    tokens = vectorizer(text)
    x = layers.Embedding(vectorizer.vocabulary_size(), embedding_dim)(tokens)
    x = PositionEmbedding(vectorizer.output_sequence_length)(x)
    x = transformer_block(x, num_heads, feed_forward_dim)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return engine.Model(text, outputs, name="text_transformer")


def train(epochs: int = 10, seed: int = 0, batch_size: int = 32, verbose=2, train_size=4000):
    """Train on generated reviews; returns ``(model, test_loss, test_accuracy)``."""
    engine.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_data(seed, train_size)
    vectorizer = layers.TextVectorization(output_sequence_length=SEQUENCE_LENGTH)
    vectorizer.adapt(x_train)
    model = build_model(vectorizer)
    model.compile(
        optimizer=engine.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, loss, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    model, loss, accuracy = train(epochs=args.epochs, seed=args.seed)
    model.summary()
    reviews = ["the soup was not bad", "well the staff was never friendly", "the pizza was great"]
    for review, (_, positive) in zip(reviews, model.predict(numpy.array(reviews), verbose=0)):
        print(f"{positive:.2f} positive: {review!r}")
    print(f"backend: {engine.get_backend().name}")
    print(f"test loss: {loss:.4f}  test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
