"""Train a variational autoencoder on scikit-learn's 8x8 digits and save a PNG of decoded samples.

Keras's VAE example (keras.io, "Variational AutoEncoder"), written in this
library's API: a convolutional encoder gives ``z_mean`` and ``z_log_var``, a
``Sampling`` layer draws ``z = z_mean + exp(z_log_var / 2) * epsilon`` with
``engine.random.normal`` (the reparameterization trick), a decoder of
``Conv2DTranspose`` layers maps ``z`` back to an image, and the ``VAE`` model's
``train_step`` adds the KL divergence to the reconstruction loss.

python examples/vae_digits.py --backend numba --epochs 30 --output vae_digits.png
"""

import argparse
import time

import numpy
from sklearn.datasets import load_digits

import engine
from engine import layers, ops


class Sampling(layers.Layer):
    """Draws ``z`` from ``N(z_mean, exp(z_log_var))``, differentiably in both."""

    def __init__(self, seed: int = 1337, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = engine.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch, dim = ops.shape(z_mean)
        epsilon = engine.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def build_encoder(latent_dim: int = 2) -> engine.Model:
    """8x8x1 images -> ``[z_mean, z_log_var, z]``."""
    images = layers.Input(shape=(8, 8, 1))
    x = layers.Conv2D(16, 3, activation="relu", strides=2, padding="same")(images)
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return engine.Model(images, [z_mean, z_log_var, z], name="encoder")


def build_decoder(latent_dim: int = 2) -> engine.Model:
    """``z`` -> 8x8x1 images with pixels in (0, 1)."""
    latent = layers.Input(shape=(latent_dim,))
    x = layers.Dense(2 * 2 * 32, activation="relu")(latent)
    x = layers.Reshape((2, 2, 32))(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(x)
    images = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return engine.Model(latent, images, name="decoder")


class VAE(engine.Model):
    """Encoder and decoder trained on reconstruction cross-entropy plus the KL term."""

    def __init__(self, encoder: engine.Model, decoder: engine.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = engine.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = engine.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = engine.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, images, training=None):
        _, _, z = self.encoder(images, training=training)
        return self.decoder(z, training=training)

    def losses_of(self, images):
        """``(total, reconstruction, kl)``: per-image sums, averaged over the batch."""
        z_mean, z_log_var, z = self.encoder(images, training=True)
        reconstruction = self.decoder(z, training=True)
        reconstruction_loss = ops.mean(
            ops.sum(engine.losses.binary_crossentropy(images, reconstruction), axis=(1, 2))
        )
        kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
        return reconstruction_loss + kl_loss, reconstruction_loss, kl_loss

    def train_step(self, data):
        images = data[0] if isinstance(data, tuple) else data
        self.zero_grad()
        total_loss, reconstruction_loss, kl_loss = self.losses_of(images)
        total_loss.backward()
        gradients = [v.value.grad for v in self.trainable_weights]
        with engine.no_grad():
            self.optimizer.apply(gradients, self.trainable_weights)
        return self._update_trackers(total_loss, reconstruction_loss, kl_loss)

    def test_step(self, data):
        images = data[0] if isinstance(data, tuple) else data
        return self._update_trackers(*self.losses_of(images))

    def _update_trackers(self, total_loss, reconstruction_loss, kl_loss) -> dict:
        self.total_loss_tracker.update_state(total_loss.item())
        self.reconstruction_loss_tracker.update_state(reconstruction_loss.item())
        self.kl_loss_tracker.update_state(kl_loss.item())
        return {m.name: m.result() for m in self.metrics}


def load_data(seed: int):
    """Digits as ``(n, 8, 8, 1)`` float32 images in [0, 1]; 80% for training, 20% held out."""
    images = (load_digits().images / 16.0)[..., None].astype("float32")
    images = images[numpy.random.default_rng(seed).permutation(len(images))]
    split = int(0.8 * len(images))
    return images[:split], images[split:]


def reconstruction_error(vae: VAE, images: numpy.ndarray) -> float:
    """Mean squared pixel error of decoding each image's ``z_mean`` (no sampling noise)."""
    z_mean, _, _ = vae.encoder.predict(images, verbose=0)
    decoded = vae.decoder.predict(z_mean, verbose=0)
    return float(numpy.mean((decoded - images) ** 2))


def train(epochs: int = 30, seed: int = 0, batch_size: int = 16, latent_dim: int = 2, verbose=2):
    """Train on the digits; returns ``(vae, history, held-out reconstruction MSE, samples/s)``."""
    engine.utils.set_random_seed(seed)
    x_train, x_test = load_data(seed)
    vae = VAE(build_encoder(latent_dim), build_decoder(latent_dim))
    vae.compile(optimizer=engine.optimizers.Adam(learning_rate=3e-3))
    start = time.perf_counter()
    history = vae.fit(x_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    samples_per_second = epochs * len(x_train) / (time.perf_counter() - start)
    return vae, history, reconstruction_error(vae, x_test), samples_per_second


def mosaic(images: numpy.ndarray, columns: int) -> numpy.ndarray:
    """``(n, h, w)`` images in rows of ``columns``, one pixel of NaN between them."""
    n, h, w = images.shape
    rows = -(-n // columns)
    grid = numpy.full((rows * (h + 1) - 1, columns * (w + 1) - 1), numpy.nan)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * (h + 1) : row * (h + 1) + h, column * (w + 1) : column * (w + 1) + w] = image
    return grid


def save_samples(vae: VAE, path: str, size: int = 10) -> str:
    """PNG of ``size`` x ``size`` digits decoded from a grid over the first two latent axes."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)  # no display needed
        from matplotlib import pyplot
    except ImportError:
        raise ImportError("vae_digits needs matplotlib: pip install matplotlib") from None
    latent_dim = vae.decoder.inputs[0].shape[-1]
    grid = numpy.linspace(-2.0, 2.0, size, dtype="float32")
    z = numpy.zeros((size * size, latent_dim), "float32")
    z[:, 0] = numpy.tile(grid, size)  # left to right
    z[:, 1 % latent_dim] = numpy.repeat(grid[::-1], size)  # bottom to top
    decoded = vae.decoder.predict(z, verbose=0)[..., 0]
    figure, axis = pyplot.subplots(figsize=(6, 6.3))
    colors = matplotlib.colormaps["gray_r"].with_extremes(bad="lightsteelblue")
    axis.imshow(mosaic(decoded, size), cmap=colors, vmin=0.0, vmax=1.0)
    axis.set_title("VAE: digits decoded from z in [-2, 2] x [-2, 2]")
    axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="vae_digits.png", help="where to write the PNG")
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    vae, history, error, samples_per_second = train(args.epochs, args.seed, args.batch_size)
    save_samples(vae, args.output)
    print(f"backend: {engine.get_backend().name}")
    print(f"training: {samples_per_second:.0f} samples/s")
    print(f"held-out reconstruction MSE: {error:.4f}  (pixels in [0, 1])")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
