"""Train a two-input functional model on the scikit-learn digits and print its test accuracy.

One branch reads the 8x8x1 image (Conv2D -> MaxPooling2D -> Flatten), the
other a few hand-crafted features of the same image (ink, symmetry, spread)
through a Dense layer; the two are concatenated and classified by a softmax.

python examples/functional_digits.py --backend numba --epochs 20
"""

import argparse

import numpy
from sklearn.datasets import load_digits

import engine
from engine import layers


def hand_features(images: numpy.ndarray) -> numpy.ndarray:
    """Eight features of ``(n, 8, 8)`` images in [0, 1]: ink, balance, symmetry and spread."""
    rows = images.sum(axis=2)  # (n, 8) ink per row
    cols = images.sum(axis=1)  # (n, 8) ink per column
    ink = rows.sum(axis=1) + 1e-6
    positions = numpy.arange(8)
    row_center = (rows * positions).sum(axis=1) / ink
    col_center = (cols * positions).sum(axis=1) / ink
    row_spread = numpy.sqrt((rows * (positions - row_center[:, None]) ** 2).sum(axis=1) / ink)
    col_spread = numpy.sqrt((cols * (positions - col_center[:, None]) ** 2).sum(axis=1) / ink)
    mirror = numpy.abs(images - images[:, :, ::-1]).mean(axis=(1, 2))
    flip = numpy.abs(images - images[:, ::-1, :]).mean(axis=(1, 2))
    top_half = images[:, :4].sum(axis=(1, 2)) / ink
    features = numpy.stack(
        [
            images.mean(axis=(1, 2)),
            row_center / 7,
            col_center / 7,
            row_spread / 4,
            col_spread / 4,
            mirror,
            flip,
            top_half,
        ],
        axis=1,
    )
    return features.astype("float32")


def load_data(seed: int):
    """``([images, features], labels)`` for training (80%) and held out (20%)."""
    digits = load_digits()
    images = digits.images / 16.0
    order = numpy.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], digits.target[order]
    x = [images[..., None].astype("float32"), hand_features(images)]
    split = int(0.8 * len(labels))
    train = ([part[:split] for part in x], labels[:split])
    test = ([part[split:] for part in x], labels[split:])
    return train, test


def build_model(feature_count: int = 8) -> engine.Model:
    image = layers.Input(shape=(8, 8, 1), name="image")
    features = layers.Input(shape=(feature_count,), name="features")
    seen = layers.Conv2D(16, 3, activation="relu")(image)
    seen = layers.MaxPooling2D(2)(seen)
    seen = layers.Flatten()(seen)
    measured = layers.Dense(16, activation="relu")(features)
    merged = layers.Concatenate()([seen, measured])
    outputs = layers.Dense(10, activation="softmax")(merged)
    model = engine.Model(inputs=[image, features], outputs=outputs, name="functional_digits")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(epochs: int = 20, seed: int = 0, batch_size: int = 32, verbose=2):
    """Train on the digits; returns ``(model, test_loss, test_accuracy)``."""
    engine.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_data(seed)
    model = build_model(x_train[1].shape[1])
    if verbose:
        model.summary()
    model.fit(
        {"image": x_train[0], "features": x_train[1]},
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.1,
        verbose=verbose,
    )
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, loss, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    _, loss, accuracy = train(args.epochs, args.seed, args.batch_size)
    print(f"backend: {engine.get_backend().name}")
    print(f"test loss: {loss:.4f}  test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
