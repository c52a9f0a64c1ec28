"""Train the classic small CNN on scikit-learn's handwritten digits and print its test accuracy.

Conv2D(32, (3, 3), relu) -> Flatten -> Dense(10, softmax), trained with Adam
on 8x8x1 images (or 28x28x1, upscaled bilinearly, with --upscale).

python examples/cnn_digits.py --backend numba --epochs 15 --upscale
"""

import argparse

import numpy
from sklearn.datasets import load_digits

import engine
from engine import layers, models


def _interpolation_matrix(source: int, target: int) -> numpy.ndarray:
    """``(target, source)`` weights of bilinear resampling along one axis (corners aligned)."""
    positions = numpy.linspace(0, source - 1, target)
    low = numpy.minimum(numpy.floor(positions).astype(int), source - 2)
    fraction = positions - low
    matrix = numpy.zeros((target, source))
    matrix[numpy.arange(target), low] = 1 - fraction
    matrix[numpy.arange(target), low + 1] = fraction
    return matrix


def upscale(images: numpy.ndarray, size: int = 28) -> numpy.ndarray:
    """Bilinear resize of ``(n, h, w)`` images to ``(n, size, size)``."""
    rows = _interpolation_matrix(images.shape[1], size)
    cols = _interpolation_matrix(images.shape[2], size)
    return numpy.einsum("ij,njk,lk->nil", rows, images, cols)


def load_data(seed: int, upscaled: bool = False):
    """Digits as ``(n, h, w, 1)`` images in [0, 1]; 80% for training, 20% held out."""
    digits = load_digits()
    images = digits.images / 16.0
    if upscaled:
        images = upscale(images)
    x = images[..., None].astype("float32")
    order = numpy.random.default_rng(seed).permutation(len(x))
    x, y = x[order], digits.target[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def build_model(input_shape) -> models.Sequential:
    model = models.Sequential(
        [
            layers.Input(shape=input_shape),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(epochs: int = 40, upscaled: bool = False, seed: int = 0, batch_size: int = 32, verbose=2):
    """Train on the digits; returns ``(model, test_loss, test_accuracy)``."""
    engine.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_data(seed, upscaled)
    model = build_model(x_train.shape[1:])
    if verbose:
        model.summary()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, loss, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--upscale", action="store_true", help="train on 28x28x1 images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    _, loss, accuracy = train(args.epochs, args.upscale, args.seed, args.batch_size)
    print(f"backend: {engine.get_backend().name}")
    print(f"test loss: {loss:.4f}  test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
