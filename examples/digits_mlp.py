"""Train a small MLP on scikit-learn's handwritten digits and print its test accuracy.

python examples/digits_mlp.py --backend numba
"""

import argparse

import numpy
from sklearn.datasets import load_digits

import engine
from engine import layers, models, optimizers


def load_data(seed: int):
    """Digits as 64 pixel values in [0, 1]; 80% for training, 20% held out."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    order = numpy.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    engine.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_data(args.seed)

    model = models.Sequential(
        [
            layers.Input(shape=(64,)),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.summary()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"backend: {engine.get_backend().name}")
    print(f"test loss: {loss:.4f}  test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
