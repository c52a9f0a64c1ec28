"""Train a convolutional autoencoder to remove noise from scikit-learn's 8x8 digits; save a PNG.

Keras's image-denoising example (keras.io, "Convolutional autoencoder for
image denoising"), written with this library's functional API on 8x8x1
digits: Conv2D and MaxPooling2D down to 4x4, a Conv2DTranspose back up to
8x8, trained to map digits with Gaussian noise added to the clean digits. The PNG
shows noisy, denoised and clean held-out digits in three rows.

python examples/denoising_autoencoder.py --backend numba --epochs 30 --output denoising.png
"""

import argparse
import time

import numpy
from sklearn.datasets import load_digits

import engine
from engine import layers


def add_noise(images: numpy.ndarray, noise_factor: float, seed: int) -> numpy.ndarray:
    """``images`` plus Gaussian noise of standard deviation ``noise_factor``, clipped to [0, 1]."""
    noise = numpy.random.default_rng(seed).normal(size=images.shape)
    return numpy.clip(images + noise_factor * noise, 0.0, 1.0).astype("float32")


def load_data(seed: int, noise_factor: float = 0.4):
    """``(noisy, clean)`` digits as ``(n, 8, 8, 1)`` float32 images: 80% training, 20% held out."""
    clean = (load_digits().images / 16.0)[..., None].astype("float32")
    clean = clean[numpy.random.default_rng(seed).permutation(len(clean))]
    noisy = add_noise(clean, noise_factor, seed + 1)
    split = int(0.8 * len(clean))
    return (noisy[:split], clean[:split]), (noisy[split:], clean[split:])


def build_model() -> engine.Model:
    images = layers.Input(shape=(8, 8, 1))
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(images)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same")(x)
    outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    model = engine.Model(images, outputs, name="denoising_autoencoder")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def train(epochs: int = 30, seed: int = 0, batch_size: int = 32, verbose=2):
    """Train on the digits; returns ``(model, {"noisy_mse", "denoised_mse"}, samples/s)``.

    Both errors are mean squared pixel errors to the clean held-out digits: of
    the noisy inputs, and of the model's outputs.
    """
    engine.utils.set_random_seed(seed)
    (noisy_train, clean_train), (noisy_test, clean_test) = load_data(seed)
    model = build_model()
    if verbose:
        model.summary()
    start = time.perf_counter()
    model.fit(noisy_train, clean_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    samples_per_second = epochs * len(noisy_train) / (time.perf_counter() - start)
    denoised = model.predict(noisy_test, verbose=0)
    errors = {
        "noisy_mse": float(numpy.mean((noisy_test - clean_test) ** 2)),
        "denoised_mse": float(numpy.mean((denoised - clean_test) ** 2)),
    }
    return model, errors, samples_per_second


def mosaic(images: numpy.ndarray, columns: int) -> numpy.ndarray:
    """``(n, h, w)`` images in rows of ``columns``, one pixel of NaN between them."""
    n, h, w = images.shape
    rows = -(-n // columns)
    grid = numpy.full((rows * (h + 1) - 1, columns * (w + 1) - 1), numpy.nan)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * (h + 1) : row * (h + 1) + h, column * (w + 1) : column * (w + 1) + w] = image
    return grid


def save_examples(model: engine.Model, path: str, seed: int = 0, count: int = 10) -> str:
    """PNG of ``count`` held-out digits: noisy (top row), denoised, clean (bottom row)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)  # no display needed
        from matplotlib import pyplot
    except ImportError:
        raise ImportError(
            "denoising_autoencoder needs matplotlib: pip install matplotlib"
        ) from None
    _, (noisy, clean) = load_data(seed)
    noisy, clean = noisy[:count], clean[:count]
    denoised = model.predict(noisy, verbose=0)
    rows = numpy.concatenate([noisy, denoised, clean])[..., 0]
    figure, axis = pyplot.subplots(figsize=(count * 0.6, 2.0))
    colors = matplotlib.colormaps["gray_r"].with_extremes(bad="lightsteelblue")
    axis.imshow(mosaic(rows, count), cmap=colors, vmin=0.0, vmax=1.0)
    axis.set_yticks([3.5, 12.5, 21.5], ["noisy", "denoised", "clean"])
    axis.set_xticks([])
    axis.tick_params(length=0)
    for side in axis.spines.values():
        side.set_visible(False)
    axis.set_title("Denoising autoencoder on held-out digits")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="denoising.png", help="where to write the PNG")
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    model, errors, samples_per_second = train(args.epochs, args.seed, args.batch_size)
    save_examples(model, args.output, seed=args.seed)
    print(f"backend: {engine.get_backend().name}")
    print(f"training: {samples_per_second:.0f} samples/s")
    print(
        f"held-out MSE to the clean digits: noisy input {errors['noisy_mse']:.4f}, "
        f"denoised {errors['denoised_mse']:.4f} "
        f"({errors['noisy_mse'] / errors['denoised_mse']:.1f}x lower)"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
