"""Train a GAN on scikit-learn's 8x8 digits and save a PNG of the digits it generates.

Keras's GAN example (keras.io, "Customizing what happens in fit() with
PyTorch"), written in this library's API: a ``GAN`` model holds a generator
(Dense -> Reshape -> Conv2DTranspose layers) and a convolutional
discriminator, ``compile`` takes one optimizer for each, and ``train_step``
alternates a discriminator update on real and generated images with a
generator update through the (unchanged) discriminator.

python examples/gan_digits.py --backend numba --epochs 40 --output gan_digits.png
"""

import argparse
import time

import numpy
from sklearn.datasets import load_digits

import engine
from engine import layers, ops


def build_generator(latent_dim: int = 16) -> engine.Model:
    """Latent vectors -> 8x8x1 images with pixels in (0, 1)."""
    return engine.Sequential(
        [
            layers.Input(shape=(latent_dim,)),
            layers.Dense(4 * 4 * 32),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((4, 4, 32)),
            # a 4x4 kernel at stride 2 covers every output pixel equally (a 3x3 one
            # would draw a checkerboard)
            layers.Conv2DTranspose(16, 4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
        ],
        name="generator",
    )


def build_discriminator() -> engine.Model:
    """8x8x1 images -> the probability that an image is generated (fake)."""
    return engine.Sequential(
        [
            layers.Input(shape=(8, 8, 1)),
            layers.Conv2D(16, 3, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(32, 3, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Flatten(),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="discriminator",
    )


class GAN(engine.Model):
    """A generator and a discriminator trained against each other, one step each per batch."""

    def __init__(self, discriminator: engine.Model, generator: engine.Model, latent_dim: int):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = engine.metrics.Mean(name="d_loss")
        self.g_loss_tracker = engine.metrics.Mean(name="g_loss")
        self.seed_generator = engine.random.SeedGenerator(1337)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def call(self, latent_vectors, training=None):
        return self.generator(latent_vectors, training=training)

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = real_images.shape[0]

        # The discriminator learns to tell generated images (label 1) from real ones (label 0).
        random_latent_vectors = engine.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        with engine.no_grad():  # this step needs no gradient for the generator
            generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        # noise on the labels: an important trick (Keras's example)
        labels = labels + 0.05 * engine.random.uniform(labels.shape, seed=self.seed_generator)
        self.zero_grad()
        d_loss = self.loss_fn(labels, self.discriminator(combined_images))
        d_loss.backward()
        gradients = [v.value.grad for v in self.discriminator.trainable_weights]
        with engine.no_grad():
            self.d_optimizer.apply(gradients, self.discriminator.trainable_weights)

        # The generator learns to make the discriminator say "real" (label 0); only its
        # own weights are updated.
        random_latent_vectors = engine.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        misleading_labels = ops.zeros((batch_size, 1))
        self.zero_grad()
        g_loss = self.loss_fn(
            misleading_labels, self.discriminator(self.generator(random_latent_vectors))
        )
        g_loss.backward()
        gradients = [v.value.grad for v in self.generator.trainable_weights]
        with engine.no_grad():
            self.g_optimizer.apply(gradients, self.generator.trainable_weights)

        self.d_loss_tracker.update_state(d_loss.item())
        self.g_loss_tracker.update_state(g_loss.item())
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    def generate(self, count: int, seed: int = 0) -> numpy.ndarray:
        """``count`` generated images as a ``(count, 8, 8, 1)`` NumPy array."""
        latent_vectors = engine.random.normal(shape=(count, self.latent_dim), seed=seed)
        return self.generator.predict(latent_vectors.numpy(), verbose=0)


def load_data(seed: int):
    """Digits as ``(n, 8, 8, 1)`` float32 images in [0, 1]; 80% for training, 20% held out."""
    images = (load_digits().images / 16.0)[..., None].astype("float32")
    images = images[numpy.random.default_rng(seed).permutation(len(images))]
    split = int(0.8 * len(images))
    return images[:split], images[split:]


def discriminator_accuracy(gan: GAN, real_images: numpy.ndarray, seed: int = 0) -> float:
    """Accuracy of the discriminator on ``real_images`` and as many generated ones."""
    fake_images = gan.generate(len(real_images), seed=seed)
    predictions = gan.discriminator.predict(
        numpy.concatenate([fake_images, real_images]), verbose=0
    )
    labels = numpy.concatenate([numpy.ones(len(fake_images)), numpy.zeros(len(real_images))])
    return float(numpy.mean((predictions[:, 0] > 0.5) == labels))


def train(epochs: int = 40, seed: int = 0, batch_size: int = 32, latent_dim: int = 16, verbose=2):
    """Train on the digits; returns ``(gan, history, discriminator accuracy, samples/s)``.

    The accuracy is on held-out real images and as many generated ones.
    """
    engine.utils.set_random_seed(seed)
    x_train, x_test = load_data(seed)
    gan = GAN(build_discriminator(), build_generator(latent_dim), latent_dim)
    gan.compile(
        d_optimizer=engine.optimizers.Adam(learning_rate=1e-3, beta_1=0.5),
        g_optimizer=engine.optimizers.Adam(learning_rate=1e-3, beta_1=0.5),
        loss_fn=engine.losses.BinaryCrossentropy(),
    )
    start = time.perf_counter()
    history = gan.fit(x_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    samples_per_second = epochs * len(x_train) / (time.perf_counter() - start)
    return gan, history, discriminator_accuracy(gan, x_test, seed), samples_per_second


def mosaic(images: numpy.ndarray, columns: int) -> numpy.ndarray:
    """``(n, h, w)`` images in rows of ``columns``, one pixel of NaN between them."""
    n, h, w = images.shape
    rows = -(-n // columns)
    grid = numpy.full((rows * (h + 1) - 1, columns * (w + 1) - 1), numpy.nan)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * (h + 1) : row * (h + 1) + h, column * (w + 1) : column * (w + 1) + w] = image
    return grid


def save_samples(gan: GAN, path: str, rows: int = 8, seed: int = 0) -> str:
    """PNG of ``rows`` x ``rows`` generated digits."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)  # no display needed
        from matplotlib import pyplot
    except ImportError:
        raise ImportError("gan_digits needs matplotlib: pip install matplotlib") from None
    images = gan.generate(rows * rows, seed=seed)[..., 0]
    figure, axis = pyplot.subplots(figsize=(5, 5.3))
    colors = matplotlib.colormaps["gray_r"].with_extremes(bad="lightsteelblue")
    axis.imshow(mosaic(images, rows), cmap=colors, vmin=0.0, vmax=1.0)
    axis.set_title("GAN: generated digits")
    axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="gan_digits.png", help="where to write the PNG")
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    gan, history, accuracy, samples_per_second = train(args.epochs, args.seed, args.batch_size)
    save_samples(gan, args.output, seed=args.seed)
    print(f"backend: {engine.get_backend().name}")
    print(f"training: {samples_per_second:.0f} samples/s")
    print(
        f"final d_loss: {history.history['d_loss'][-1]:.4f}  "
        f"g_loss: {history.history['g_loss'][-1]:.4f}"
    )
    print(f"discriminator accuracy on held-out real + generated images: {accuracy:.3f}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
