"""Train a small vision Transformer on the scikit-learn digits; print its test accuracy.

Each 8x8 image is cut into 16 patches of 2x2 pixels with Reshape and Permute
layers; a ``PatchEncoder`` projects every patch to a vector with a Dense layer
and adds a learned position embedding; two pre-norm Transformer blocks
(multi-head self-attention and a GELU feed-forward, each with a residual
connection) follow, then layer normalization, average pooling over the patches
and a softmax over the ten digits: keras.io's "Image classification with
Vision Transformer", scaled down to the digits. Held-out accuracy after 40
epochs: 0.96-0.97 (seeds 0-2), about 30 s on numba.

python examples/vit_digits.py --backend numba --epochs 40
"""

import argparse

import numpy
from sklearn.datasets import load_digits

import engine
from engine import layers, ops

IMAGE_SIZE, PATCH_SIZE = 8, 2
PATCHES_PER_SIDE = IMAGE_SIZE // PATCH_SIZE
NUM_PATCHES = PATCHES_PER_SIDE**2


def load_data(seed: int):
    """``(images (n, 8, 8, 1) in [0, 1], labels)`` for training (80%) and held out (20%)."""
    digits = load_digits()
    order = numpy.random.default_rng(seed).permutation(len(digits.images))
    images = (digits.images[order] / 16.0)[..., None].astype("float32")
    labels = digits.target[order]
    split = int(0.8 * len(labels))
    return (images[:split], labels[:split]), (images[split:], labels[split:])


def patches(images):
    """``(batch, 8, 8, 1)`` images to ``(batch, 16, 4)``: 2x2 patches in reading order."""
    grid = layers.Reshape((PATCHES_PER_SIDE, PATCH_SIZE, PATCHES_PER_SIDE, PATCH_SIZE))(images)
    grid = layers.Permute((1, 3, 2, 4))(grid)  # (patch row, patch column, pixel row, pixel column)
    return layers.Reshape((NUM_PATCHES, PATCH_SIZE * PATCH_SIZE))(grid)


@engine.saving.register_keras_serializable(package="examples")
class PatchEncoder(layers.Layer):
    """A Dense projection of each patch plus a learned embedding of its position."""

    def __init__(self, num_patches: int, projection_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = num_patches
        self.projection_dim = projection_dim
        self.projection = layers.Dense(projection_dim)
        self.position_embedding = layers.Embedding(num_patches, projection_dim)

    def call(self, patches):
        positions = ops.arange(self.num_patches)
        return self.projection(patches) + self.position_embedding(positions)

    def get_config(self):
        return {
            **super().get_config(),
            "num_patches": self.num_patches,
            "projection_dim": self.projection_dim,
        }


def transformer_block(x, num_heads: int, mlp_dim: int, dropout: float = 0.1):
    """One pre-norm Transformer encoder block (as in ViT) on a ``(batch, patches, dim)`` tensor."""
    dim = x.shape[-1]
    normed = layers.LayerNormalization(epsilon=1e-6)(x)
    attended = layers.MultiHeadAttention(num_heads, key_dim=dim // num_heads, dropout=dropout)(
        normed, normed
    )
    x = layers.Add()([x, attended])
    normed = layers.LayerNormalization(epsilon=1e-6)(x)
    fed = layers.Dense(mlp_dim, activation="gelu")(normed)
    fed = layers.Dropout(dropout)(fed)
    fed = layers.Dense(dim)(fed)
    return layers.Add()([x, fed])


def build_model(
    projection_dim: int = 32, num_heads: int = 2, mlp_dim: int = 64, depth: int = 2
) -> engine.Model:
    images = layers.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = PatchEncoder(NUM_PATCHES, projection_dim)(patches(images))
    for _ in range(depth):
        x = transformer_block(x, num_heads, mlp_dim)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return engine.Model(images, outputs, name="vit_digits")


def train(epochs: int = 40, seed: int = 0, batch_size: int = 32, verbose=2, train_size=None):
    """Train on the digits (the first ``train_size`` training images if given); returns
    ``(model, test_loss, test_accuracy)``."""
    engine.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_data(seed)
    x_train, y_train = x_train[:train_size], y_train[:train_size]
    model = build_model()
    model.compile(
        optimizer=engine.optimizers.Adam(learning_rate=2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, loss, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=40)
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
