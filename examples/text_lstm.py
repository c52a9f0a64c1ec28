"""Train Embedding -> LSTM -> Dense on a sequence task that needs memory; print test accuracy.

Each sequence holds one token A and one token B among random filler tokens,
right-padded with zeros to a fixed length (the padding is masked); the label
is whether A comes before B. Order, not counts, decides it, so a model must
remember what it has seen.

python examples/text_lstm.py --backend numba
"""

import argparse

import numpy

import engine
from engine import layers, models, optimizers

VOCABULARY = 12  # 0 is padding, 1 is A, 2 is B, the rest are filler
TOKEN_A, TOKEN_B = 1, 2
MAX_LENGTH = 12


def make_sequences(count: int, rng: numpy.random.Generator):
    """Padded token sequences of random length and their labels (1 when A precedes B)."""
    x = numpy.zeros((count, MAX_LENGTH), dtype="int64")
    y = numpy.zeros((count, 1), dtype="float32")
    for row in range(count):
        length = rng.integers(4, MAX_LENGTH + 1)
        tokens = rng.integers(TOKEN_B + 1, VOCABULARY, size=length)
        position_a, position_b = rng.choice(length, size=2, replace=False)
        tokens[position_a], tokens[position_b] = TOKEN_A, TOKEN_B
        x[row, :length] = tokens
        y[row, 0] = float(position_a < position_b)
    return x, y


def load_data(seed: int, train_size: int = 2000, test_size: int = 500):
    rng = numpy.random.default_rng(seed)
    return make_sequences(train_size, rng), make_sequences(test_size, rng)


def build_model() -> models.Sequential:
    return models.Sequential(
        [
            layers.Input(shape=(MAX_LENGTH,)),
            layers.Embedding(VOCABULARY, 8, mask_zero=True),
            layers.LSTM(16),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def train(epochs: int = 8, seed: int = 0, batch_size: int = 32, verbose=2):
    """Train on generated sequences; returns ``(model, test_loss, test_accuracy)``."""
    engine.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_data(seed)
    model = build_model()
    model.compile(
        optimizer=optimizers.Adam(learning_rate=0.01),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, loss, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    model, loss, accuracy = train(epochs=args.epochs, seed=args.seed)
    model.summary()
    print(f"backend: {engine.get_backend().name}")
    print(f"test loss: {loss:.4f}  test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
