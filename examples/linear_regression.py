"""Fit y = x**2 on [-1, 1] with a small Dense network and print the error.

python examples/linear_regression.py --backend numpy
"""

import argparse

import numpy

import engine
from engine import layers, models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    engine.utils.set_random_seed(args.seed)
    rng = numpy.random.default_rng(args.seed)
    x = rng.uniform(-1, 1, (512, 1)).astype("float32")
    y = x**2
    x_test = numpy.linspace(-1, 1, 101, dtype="float32")[:, None]

    model = models.Sequential(
        [
            layers.Input(shape=(1,)),
            layers.Dense(32, activation="tanh"),
            layers.Dense(32, activation="tanh"),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=args.epochs, batch_size=64, verbose=0)
    predicted = model.predict(x_test, verbose=0)
    error = numpy.abs(predicted - x_test**2)
    print(f"backend: {engine.get_backend().name}")
    print(f"mean absolute error: {error.mean():.4f}  max error: {error.max():.4f}")


if __name__ == "__main__":
    main()
