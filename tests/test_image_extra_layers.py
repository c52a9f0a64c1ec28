"""ContrastLimitedAdaptiveHistogramEqualization and RandomElasticTransform (Keras 3.15's).

CLAHE is checked against a NumPy reference written from the algorithm's definition
(per-tile clipped histograms, excess spread over all bins, normalized cumulative
histograms, bilinear blending between the mappings of the four surrounding tiles) and
against Keras's numbers. The elastic transform's random fields are replaced by given
noise: ``KERAS_*`` hold Keras 3.15's outputs (JAX backend) of
``RandomElasticTransform(...).transform_images(images, {"apply_transform": ...,
"distortion_factor": 1.0, ...})`` with ``jax.random.normal`` made to return ``NOISE``
(its two draws: the column field, then the row field), rounded to 3 decimals; and
``KERAS_CLAHE`` ``ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2),
clip_limit=2.0)(CLAHE_IMAGE)``.
"""

import numpy
import pytest

import engine
from engine import layers
from engine.layers.preprocessing import image_extra
from engine.models import Sequential, load_model
from tests.gradcheck import check_gradients

CLAHE_IMAGE = ((numpy.arange(60).reshape(1, 6, 5, 2) * 37) % 256).astype("float32")
KERAS_CLAHE = [
    [[0.0, 38.388], [75.367, 113.164], [150.118, 187.333], [222.812, 3.823], [41.679, 79.074]],
    [[114.854, 152.341], [190.221, 227.117], [7.316, 45.466], [81.611, 119.117], [155.02, 192.262]],
    [[229.407, 10.031], [46.727, 84.474], [121.722, 158.977], [195.061, 232.078], [13.069, 50.446]],
    [[86.269, 123.318], [161.341, 198.094], [235.169, 15.833], [52.545, 89.765], [126.993, 164.19]],
    [
        [200.146, 236.604],
        [18.754, 55.451],
        [93.078, 129.789],
        [167.178, 204.059],
        [240.761, 21.929],
    ],
    [[57.906, 94.294], [132.682, 169.071], [207.266, 243.8], [24.588, 61.412], [99.337, 136.451]],
]

ELASTIC_IMAGES = ((numpy.arange(98).reshape(2, 7, 7, 1) * 53) % 256).astype("float32")
NOISE = (4 * numpy.sin(numpy.arange(196).reshape(2, 2, 7, 7) * 1.7)).astype("float32")
# bilinear, reflect; the second image not chosen (apply_transform [True, False])
KERAS_ELASTIC_BILINEAR = [
    [0.318, 101.69, 129.812, 178.642, 120.883, 48.457, 108.243],
    [171.839, 113.232, 139.809, 94.311, 69.412, 66.183, 151.584],
    [105.586, 103.844, 69.255, 175.083, 170.694, 146.769, 97.017],
    [191.69, 114.045, 136.471, 233.51, 120.26, 134.489, 52.606],
    [130.471, 98.5, 184.826, 131.269, 168.198, 145.754, 138.646],
    [78.868, 174.14, 154.813, 143.364, 94.639, 119.21, 58.438],
    [142.82, 194.042, 132.171, 63.242, 125.204, 138.944, 234.864],
]
# the first image alone (unbatched), nearest, constant 9.0 (noise NOISE[:, :1])
KERAS_ELASTIC_NEAREST = [
    [0.0, 9.0, 106.0, 221.0, 9.0, 9.0, 124.0],
    [9.0, 106.0, 221.0, 80.0, 71.0, 62.0, 177.0],
    [9.0, 27.0, 18.0, 195.0, 248.0, 177.0, 9.0],
    [9.0, 142.0, 133.0, 248.0, 107.0, 98.0, 9.0],
    [63.0, 63.0, 248.0, 45.0, 222.0, 213.0, 9.0],
    [63.0, 178.0, 169.0, 160.0, 19.0, 134.0, 9.0],
    [116.0, 9.0, 231.0, 19.0, 134.0, 9.0, 240.0],
]


# -- CLAHE ---------------------------------------------------------------------------------


def reference_clahe(images, value_range=(0, 255), clip_limit=4.0, grid=(8, 8)):
    """CLAHE by loops over images, channels, tiles and pixels (float64)."""
    images = numpy.asarray(images, numpy.float64)
    single = images.ndim == 3
    batch = images[None] if single else images
    low, high = value_range
    levels = numpy.clip((batch - low) / (high - low) * 255.0, 0, 255).astype(int)
    n, height, width, channels = batch.shape
    grid_h, grid_w = grid
    tile_h, tile_w = -(-height // grid_h), -(-width // grid_w)
    out = numpy.zeros(batch.shape)
    for b in range(n):
        for c in range(channels):
            padded = numpy.pad(
                levels[b, :, :, c],
                ((0, tile_h * grid_h - height), (0, tile_w * grid_w - width)),
                mode="symmetric",
            )
            mappings = numpy.zeros((grid_h, grid_w, 256))
            for i in range(grid_h):
                for j in range(grid_w):
                    tile = padded[i * tile_h : (i + 1) * tile_h, j * tile_w : (j + 1) * tile_w]
                    histogram = numpy.bincount(tile.ravel(), minlength=256).astype(float)
                    if clip_limit > 0:
                        limit = clip_limit * tile.size / 256
                        excess = numpy.maximum(histogram - limit, 0).sum()
                        histogram = numpy.minimum(histogram, limit) + excess / 256
                    cdf = numpy.cumsum(histogram)
                    span = tile.size - cdf[0] or 1.0
                    mappings[i, j] = numpy.clip((cdf - cdf[0]) * 255 / span, 0, 255)
            for y in range(height):
                # tile k's mapping holds exactly at pixel k * tile + tile / 2
                ty = (y - tile_h / 2) / tile_h
                i0, wy = int(numpy.floor(ty)), ty - numpy.floor(ty)
                rows = (min(max(i0, 0), grid_h - 1), min(max(i0 + 1, 0), grid_h - 1))
                for x in range(width):
                    tx = (x - tile_w / 2) / tile_w
                    j0, wx = int(numpy.floor(tx)), tx - numpy.floor(tx)
                    cols = (min(max(j0, 0), grid_w - 1), min(max(j0 + 1, 0), grid_w - 1))
                    level = levels[b, y, x, c]
                    corner = [[mappings[r, s, level] for s in cols] for r in rows]
                    top = corner[0][0] * (1 - wx) + corner[0][1] * wx
                    bottom = corner[1][0] * (1 - wx) + corner[1][1] * wx
                    out[b, y, x, c] = top * (1 - wy) + bottom * wy
    out = out / 255.0 * (high - low) + low
    return out[0] if single else out


CLAHE_CASES = [  # shape, value range, clip limit, tile grid
    ((2, 8, 8, 3), (0, 255), 4.0, (2, 2)),
    ((1, 9, 7, 2), (0, 255), 2.0, (3, 2)),  # padded to whole tiles
    ((5, 6, 1), (0, 255), 4.0, (8, 8)),  # one image; more tiles than rows
    ((2, 10, 12, 3), (0, 255), 0.0, (2, 3)),  # no clipping
    ((1, 8, 8, 3), (0, 255), 40.0, (2, 2)),  # a limit no bin reaches
    ((1, 8, 8, 3), (0, 1), 1.5, (2, 2)),
    ((2, 6, 9, 1), (-1, 1), 3.0, (2, 3)),
]


@pytest.mark.parametrize("shape, value_range, clip_limit, grid", CLAHE_CASES)
def test_clahe_matches_numpy_reference(backend, shape, value_range, clip_limit, grid):
    rng = numpy.random.default_rng(sum(shape))
    low, high = value_range
    # half-integer levels: far from the truncation boundaries in any rounding
    levels = rng.integers(0, 255, shape) + 0.5
    images = (levels / 255.0 * (high - low) + low).astype("float32")
    layer = layers.ContrastLimitedAdaptiveHistogramEqualization(
        value_range=value_range, clip_limit=clip_limit, tile_grid_size=grid
    )
    out = layer(images).numpy()
    expected = reference_clahe(images, value_range, clip_limit, grid)
    assert out.shape == images.shape and out.dtype == numpy.float32
    numpy.testing.assert_allclose(out, expected, atol=2e-5 * (high - low))
    assert out.min() >= low and out.max() <= high


def test_clahe_matches_keras(backend):
    layer = layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2), clip_limit=2)
    numpy.testing.assert_allclose(layer(CLAHE_IMAGE).numpy()[0], KERAS_CLAHE, atol=1e-3)


def test_clahe_inputs_and_inference(backend, rng):
    images = rng.integers(100, 130, (2, 12, 12, 3))  # low contrast, integers
    layer = layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(3, 3))
    out = layer(images)
    assert out.dtype == numpy.float32  # integer images come out as floats here
    assert out.numpy().std() > 2 * images.std()  # contrast stretched
    # deterministic, active at inference as in Keras
    numpy.testing.assert_array_equal(layer(images, training=False).numpy(), out.numpy())
    labels = numpy.eye(2, dtype="float32")
    result = layer({"images": images, "labels": labels})
    numpy.testing.assert_array_equal(result["images"].numpy(), out.numpy())
    numpy.testing.assert_array_equal(result["labels"].numpy(), labels)
    numpy.testing.assert_allclose(layer(images[1]).numpy(), out.numpy()[1], atol=1e-4)


# -- RandomElasticTransform --------------------------------------------------------------------


class FixedNoise:
    """Stands for the layer's NumPy generator: its normal draws are ``noise``."""

    def __init__(self, noise):
        self.noise = numpy.asarray(noise)

    def standard_normal(self, shape):
        assert tuple(shape) == self.noise.shape
        return self.noise


def fixed(noise, probability, threshold, strength, **kwargs):
    """A RandomElasticTransform whose draws are given: the per-image probability and
    threshold (applied where threshold < probability), the strength and the noise."""
    layer = layers.RandomElasticTransform(**kwargs)
    draws = [probability, threshold, strength]
    calls = []

    def uniform(backend, size, low, high):
        value = draws[len(calls) % 3]
        calls.append(value)
        return numpy.broadcast_to(numpy.asarray(value, float), (size,)).copy()

    layer.uniform = uniform
    layer.host_generator = lambda backend: FixedNoise(noise)
    return layer


def test_elastic_matches_keras_on_given_noise(backend):
    layer = fixed(NOISE, 0.5, [0.0, 0.9], 1.0)
    out = layer(ELASTIC_IMAGES).numpy()
    numpy.testing.assert_allclose(out[0, ..., 0], KERAS_ELASTIC_BILINEAR, atol=1e-3)
    numpy.testing.assert_array_equal(out[1], ELASTIC_IMAGES[1])  # not chosen
    layer = fixed(
        NOISE[:, :1], 0.5, 0.0, 1.0, interpolation="nearest", fill_mode="constant", fill_value=9
    )
    out = layer(ELASTIC_IMAGES[0]).numpy()
    assert out.shape == (7, 7, 1)
    numpy.testing.assert_allclose(out[..., 0], KERAS_ELASTIC_NEAREST, atol=1e-3)


def smoothed(noise, sigma):
    """``noise`` ``(n, h, w)`` convolved with a normalized Gaussian of ``sigma`` over
    ``int(6 sigma) | 1`` taps, zero padding (a direct 2-D sum)."""
    size = int(6 * sigma) | 1
    taps = numpy.arange(size) - size // 2
    kernel = numpy.exp(-0.5 * (taps / sigma) ** 2)
    kernel = numpy.outer(kernel, kernel) / kernel.sum() ** 2
    padded = numpy.pad(noise, ((0, 0), (size // 2,) * 2, (size // 2,) * 2))
    out = numpy.zeros(noise.shape)
    for i, dy in enumerate(range(size)):
        for j, dx in enumerate(range(size)):
            out += kernel[i, j] * padded[:, dy : dy + noise.shape[1], dx : dx + noise.shape[2]]
    return out


def test_elastic_displacement_is_smoothed_scaled_noise(backend, rng):
    height, width, strength = 24, 30, 0.8
    alpha = max(height, width) * 0.1 * strength
    sigma = min(height, width) * 0.05 * strength  # 0.96: 5 taps
    rows, cols = numpy.mgrid[0:height, 0:width].astype("float32")
    ramps = numpy.stack([cols, rows], axis=-1)[None].repeat(2, axis=0)  # the sampled positions
    noise = rng.standard_normal((2, 2, height, width))
    layer = fixed(noise, 1.0, 0.0, strength, fill_mode="nearest", value_range=(-100, 100))
    out = layer(ramps).numpy()
    dx = alpha * smoothed(noise[0] * sigma, sigma)
    dy = alpha * smoothed(noise[1] * sigma, sigma)
    expected = numpy.stack([cols + dx, rows + dy], axis=-1)
    inside = (
        (expected[..., 0] <= width - 1) & (expected[..., 1] <= height - 1) & (expected >= 0).all(-1)
    )
    assert inside.mean() > 0.8 and numpy.abs(dx).max() > 1.0
    numpy.testing.assert_allclose(out[inside], expected[inside], atol=1e-4)
    assert not numpy.allclose(out[..., 0] - cols, out[..., 1] - rows)  # two fields


def test_elastic_fill_modes_sample_outside_as_map_coordinates(backend, rng):
    images = rng.uniform(0, 255, (1, 8, 9, 2)).astype("float32")
    noise = 6 * rng.standard_normal((2, 1, 8, 9))
    strength = 1.0
    alpha, sigma = image_extra.elastic_parameters(8, 9, strength)
    size = int(6 * sigma) | 1
    fields = engine.ops.image.gaussian_blur(
        (noise * sigma).reshape(2, 8, 9, 1).astype("float32"), (size, size), (sigma, sigma)
    ).numpy()[..., 0]
    rows, cols = numpy.mgrid[0:8, 0:9].astype("float32")
    where = numpy.stack([rows + alpha * fields[1], cols + alpha * fields[0]])
    for interpolation, order in (("bilinear", 1), ("nearest", 0)):
        for fill_mode in ("reflect", "mirror", "wrap", "nearest", "constant"):
            layer = fixed(
                noise,
                1.0,
                0.0,
                strength,
                interpolation=interpolation,
                fill_mode=fill_mode,
                fill_value=3.0,
            )
            out = layer(images).numpy()
            for c in range(2):
                expected = engine.ops.image.map_coordinates(
                    images[0, ..., c], where, order, fill_mode=fill_mode, fill_value=3.0
                ).numpy()
                numpy.testing.assert_allclose(out[0, ..., c], expected, rtol=1e-5, atol=1e-4)


def test_elastic_passes_images_through(backend, rng):
    images = rng.uniform(-20, 300, (2, 8, 8, 3)).astype("float32")  # outside value_range too
    for layer in (
        layers.RandomElasticTransform(factor=0),
        layers.RandomElasticTransform(scale=0),
        layers.RandomElasticTransform(factor=(0, 0), scale=(0.2, 0.5)),
    ):
        numpy.testing.assert_array_equal(layer(images).numpy(), images)
    layer = layers.RandomElasticTransform(seed=1)
    numpy.testing.assert_array_equal(layer(images, training=False).numpy(), images)
    zero = fixed(numpy.zeros((2, 2, 8, 8)), 1.0, 0.0, 0.7)  # no displacement: clipped only
    numpy.testing.assert_allclose(zero(images).numpy(), numpy.clip(images, 0, 255), atol=1e-4)


def test_elastic_in_fit_not_in_predict(backend, rng):
    images = rng.uniform(0, 255, (4, 10, 10, 3)).astype("float32")
    layer = layers.RandomElasticTransform(seed=3)
    assert not numpy.allclose(layer(images).numpy(), images)  # called directly: augments
    seen = []

    def record(x, training=None):
        seen.append((training, x.numpy().copy()))
        return x

    model = Sequential(
        [
            layers.Input((10, 10, 3)),
            # probability 1: Keras's factor=1.0 draws a probability in [0, 1) per image, and
            # the fit stream of a backend could leave all four images untouched
            layers.RandomElasticTransform(factor=(1.0, 1.0)),
            layers.Lambda(record),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    seen.clear()
    model.predict(images, verbose=0)
    assert seen and all(numpy.array_equal(x, images) for _, x in seen)
    seen.clear()
    model.fit(images, numpy.zeros((4, 1)), batch_size=4, epochs=1, verbose=0)
    assert [training for training, _ in seen] == [True] and not numpy.allclose(seen[0][1], images)


def test_elastic_seeds_and_probability(backend, rng):
    images = rng.uniform(0, 255, (6, 9, 9, 1)).astype("float32")
    first, second = (layers.RandomElasticTransform(seed=7) for _ in range(2))
    outputs = [first(images).numpy() for _ in range(2)]
    numpy.testing.assert_array_equal(outputs[0], second(images).numpy())
    assert not numpy.array_equal(outputs[0], outputs[1])
    results = []
    for _ in range(2):
        engine.utils.set_random_seed(11)
        results.append(layers.RandomElasticTransform()(images).numpy())
    numpy.testing.assert_array_equal(*results)
    many = rng.uniform(0, 255, (200, 8, 8, 1)).astype("float32")
    out = layers.RandomElasticTransform(factor=(0.5, 0.5), seed=2)(many).numpy()
    changed = (out != many).any(axis=(1, 2, 3))
    assert 0.35 < changed.mean() < 0.65


def test_elastic_gradients_reach_the_images(backend, float64, rng):
    images = rng.uniform(40, 200, (2, 7, 8, 2))
    noise = 3 * rng.standard_normal((2, 2, 7, 8))
    for fill_mode in ("reflect", "constant"):
        layer = fixed(noise, 1.0, [0.0, 0.9], 0.9, fill_mode=fill_mode, fill_value=2.0)
        check_gradients(layer, images, backend=backend, atol=1e-5)


# -- errors, configs, saving --------------------------------------------------------------


def test_errors_name_the_layer_and_argument(backend):
    clahe = layers.ContrastLimitedAdaptiveHistogramEqualization
    elastic = layers.RandomElasticTransform
    for make, message in (
        (lambda: clahe(value_range=(1, 1), name="c"), "Equalization 'c'.*`value_range`"),
        (lambda: clahe(clip_limit="4", name="c"), "Equalization 'c'.*`clip_limit`"),
        (lambda: clahe(tile_grid_size=(0, 2), name="c"), "Equalization 'c'.*`tile_grid_size`"),
        (lambda: clahe(tile_grid_size=8, name="c"), "Equalization 'c'.*`tile_grid_size`"),
        (lambda: clahe(data_format="channels_first", name="c"), "Equalization 'c'.*channels"),
        (lambda: elastic(factor=1.5, name="e"), "RandomElasticTransform 'e'.*`factor`"),
        (lambda: elastic(scale=(0.1, 0.2, 0.3), name="e"), "RandomElasticTransform 'e'.*`scale`"),
        (lambda: elastic(interpolation="bicubic", name="e"), "Transform 'e'.*`interpolation`"),
        (lambda: elastic(fill_mode="edge", name="e"), "RandomElasticTransform 'e'.*`fill_mode`"),
        (lambda: elastic(fill_value="0", name="e"), "RandomElasticTransform 'e'.*`fill_value`"),
        (lambda: elastic(seed=-1, name="e"), "RandomElasticTransform 'e'.*`seed`"),
    ):
        with pytest.raises(ValueError, match=message):
            make()
    with pytest.raises(ValueError, match="Equalization 'c' expects channels-last images"):
        clahe(name="c")(numpy.zeros((2, 3), "float32"))


def test_configs_round_trip_and_models_save(backend, tmp_path, rng):
    clahe = layers.ContrastLimitedAdaptiveHistogramEqualization(
        value_range=(0, 1), clip_limit=2.5, tile_grid_size=(2, 3)
    )
    elastic = layers.RandomElasticTransform(
        factor=(0.2, 0.8),
        scale=0.4,
        interpolation="nearest",
        fill_mode="constant",
        fill_value=0.5,
        value_range=(0, 1),
        seed=5,
    )
    assert clahe.get_config()["tile_grid_size"] == [2, 3]
    assert elastic.get_config()["factor"] == [0.2, 0.8]
    assert elastic.get_config()["scale"] == [0.0, 0.4]
    for layer in (clahe, elastic):
        copy = layers.deserialize(layers.serialize(layer))
        assert type(copy) is type(layer) and copy.get_config() == layer.get_config()
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    images = rng.uniform(0, 1, (4, 8, 9, 3)).astype("float32")
    inputs = layers.Input((8, 9, 3))
    assert elastic(clahe(inputs)).shape == (None, 8, 9, 3)
    model = Sequential([layers.Input((8, 9, 3)), clahe, elastic, layers.Flatten(), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(images, numpy.zeros((4, 2)), epochs=1, verbose=0)
    path = tmp_path / "image_extra.safetensors"
    model.save(path)
    loaded = load_model(path)
    for original, copy in zip(model.layers, loaded.layers):
        assert type(copy) is type(original) and copy.get_config() == original.get_config()
    numpy.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5
    )
