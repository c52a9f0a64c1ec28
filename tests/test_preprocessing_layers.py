"""Preprocessing layers: Keras 3's numbers, inactive at inference, seeded, saved, refused inputs.

Keras numbers below come from Keras 3.15 on its torch backend (``KERAS_BACKEND=torch``),
rounded to 5 decimals, for the image ``IMAGE = arange(20).reshape(1, 4, 5, 1) ** 1.5 / 10``:

- resizing: ``keras.layers.Resizing(h, w, interpolation=..., crop_to_aspect_ratio=...,
  pad_to_aspect_ratio=..., fill_value=0.5)(IMAGE)`` and ``keras.layers.CenterCrop(h, w)``;
- affine sampling: ``keras.ops.image.affine_transform(IMAGE, m, interpolation, fill_mode,
  fill_value=0.5)`` with ``m = RandomRotation._compute_affine_matrix(center 0.5, angle)``,
  and ``RandomZoom(...).transform_images`` / ``RandomTranslation(...).transform_images`` /
  ``RandomContrast(...).transform_images`` given a fixed transformation.
"""

import numpy
import pytest

import engine
from engine import layers
from engine.data import Dataset
from engine.layers.preprocessing import sampling
from engine.models import Sequential, load_model
from tests.gradcheck import check_gradients

IMAGE = (numpy.arange(20, dtype="float32").reshape(1, 4, 5, 1) ** 1.5) / 10

KERAS_RESIZE = {
    ((3, 3), "bilinear"): [
        [0.23365, 0.54437, 1.01449],
        [2.27977, 3.00447, 3.80443],
        [5.55931, 6.53389, 7.56482],
    ],
    ((3, 3), "nearest"): [
        [0.0, 0.28284, 0.8],
        [3.16228, 4.15692, 5.23832],
        [5.80948, 7.00928, 8.28191],
    ],
    ((3, 3), "bicubic"): [
        [0.15546, 0.46803, 0.94831],
        [2.10773, 2.88418, 3.73106],
        [5.6138, 6.63993, 7.72389],
    ],
    ((6, 7), "bicubic"): [
        [-0.1032, -0.06908, 0.02363, 0.14663, 0.28789, 0.50356, 0.65607],
        [0.35058, 0.46267, 0.66169, 0.85135, 1.0552, 1.34285, 1.53944],
        [1.43174, 1.64568, 1.9867, 2.26951, 2.56166, 2.95258, 3.21304],
        [2.62214, 2.87564, 3.27687, 3.60577, 3.94288, 4.389, 4.68448],
        [4.63416, 4.93721, 5.41341, 5.79918, 6.19199, 6.7068, 7.04601],
        [5.99207, 6.32227, 6.83967, 7.25688, 7.68061, 8.23381, 8.59754],
    ],
}
KERAS_CROP_3X2 = [[0.32828, 0.54437], [2.55899, 3.00447], [5.94138, 6.53389]]
KERAS_PAD_3X2 = [[0.2875, 0.54486], [2.45428, 3.59852], [3.37618, 4.14902]]
KERAS_CENTER_CROP_6X3 = [
    [0.1, 0.19142, 0.28284],
    [0.78485, 0.92614, 1.06743],
    [1.83279, 2.03448, 2.23618],
    [3.28519, 3.52898, 3.77277],
    [5.02414, 5.30362, 5.5831],
    [6.4, 6.70464, 7.00928],
]
KERAS_ROTATE_30 = {  # bilinear
    "reflect": [
        [0.10328, 0.26163, 0.80199, 1.98194, 3.21011],
        [0.13542, 0.99024, 2.11111, 3.69561, 5.4322],
        [1.04915, 2.3655, 3.87748, 5.74463, 7.74713],
        [2.75146, 4.15251, 5.99427, 7.08208, 7.62549],
    ],
    "wrap": [
        [5.14334, 2.25829, 0.80199, 1.98194, 2.39965],
        [0.13542, 0.99024, 2.11111, 3.69561, 5.4322],
        [1.04915, 2.3655, 3.87748, 5.74463, 7.74713],
        [3.70436, 4.15251, 5.99427, 5.05707, 1.94423],
    ],
    "constant": [
        [0.42027, 0.33291, 0.80199, 1.98194, 1.9037],
        [0.13542, 0.99024, 2.11111, 3.69561, 5.4322],
        [1.04915, 2.3655, 3.87748, 5.74463, 7.74713],
        [1.66614, 4.15251, 5.99427, 5.11379, 1.93195],
    ],
}
KERAS_ROTATE_MINUS_100_NEAREST = {
    "reflect": [
        [6.4, 6.4, 3.64829, 1.11803, 0.0],
        [7.00928, 7.00928, 4.15692, 1.46969, 0.1],
        [7.63675, 4.68722, 1.85203, 0.28284, 0.28284],
        [8.28191, 5.23832, 2.26274, 0.51962, 0.51962],
    ],
    "constant": [
        [0.5, 6.4, 3.64829, 1.11803, 0.0],
        [0.5, 7.00928, 4.15692, 1.46969, 0.1],
        [7.63675, 4.68722, 1.85203, 0.28284, 0.5],
        [8.28191, 5.23832, 2.26274, 0.51962, 0.5],
    ],
}
# RandomZoom(...).transform_images with width_zoom 1.3, height_zoom 0.7 (reflect, bilinear)
KERAS_ZOOM = [
    [0.50312, 0.65239, 0.98898, 1.40932, 1.655],
    [1.42467, 1.68494, 2.19776, 2.76271, 3.08075],
    [2.85564, 3.18174, 3.81119, 4.48375, 4.85757],
    [4.61824, 4.99868, 5.72572, 6.49031, 6.91229],
]
# RandomTranslation(fill_mode="constant", fill_value=0.5): 1.4 pixels right, 0.6 up
KERAS_TRANSLATE = [
    [0.5, 0.60249, 0.82142, 1.10334, 1.42904],
    [0.5, 1.60675, 2.60394, 3.05172, 3.52444],
    [0.5, 3.05036, 5.07983, 5.64073, 6.2215],
    [0.5, 1.77427, 2.76552, 3.00623, 3.25431],
]
# RandomContrast(...).transform_images(arange(12).reshape(1, 2, 3, 2) * 20, factor 1.4):
# (x - channel mean) * 1.4 + channel mean, clipped to [0, 255]
KERAS_CONTRAST = [
    [[0.0, 0.0], [16.0, 36.0], [72.0, 92.0]],
    [[128.0, 148.0], [184.0, 204.0], [240.0, 255.0]],
]


def fixed(layer_class, *draws, **kwargs):
    """``layer_class(**kwargs)`` whose random draws are ``draws`` (one value per call, for
    every image), to compare the transform with Keras's for a known transformation."""
    queue = list(draws)

    class Fixed(layer_class):
        def uniform(self, backend, size, low, high):
            value = queue.pop(0)
            queue.append(value)
            return numpy.full(size, value)

    return Fixed(**kwargs)


def image_on(backend, batch=1):
    return numpy.repeat(IMAGE, batch, axis=0)


# -- values ------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(KERAS_RESIZE))
def test_resizing_matches_keras(backend, case):
    (height, width), interpolation = case
    out = layers.Resizing(height, width, interpolation=interpolation)(IMAGE)
    assert out.backend is backend and out.shape == (1, height, width, 1)
    numpy.testing.assert_allclose(out.numpy()[0, ..., 0], KERAS_RESIZE[case], atol=2e-5)


def test_resizing_aspect_ratio_and_center_crop_match_keras(backend):
    crop = layers.Resizing(3, 2, crop_to_aspect_ratio=True)(IMAGE).numpy()[0, ..., 0]
    numpy.testing.assert_allclose(crop, KERAS_CROP_3X2, atol=2e-5)
    pad = layers.Resizing(3, 2, pad_to_aspect_ratio=True, fill_value=0.5)(IMAGE)
    numpy.testing.assert_allclose(pad.numpy()[0, ..., 0], KERAS_PAD_3X2, atol=2e-5)
    center = layers.CenterCrop(3, 2)(IMAGE).numpy()[0, ..., 0]
    numpy.testing.assert_allclose(center, IMAGE[0, 0:3, 1:3, 0], atol=1e-6)
    smaller = layers.CenterCrop(6, 3)(IMAGE).numpy()[0, ..., 0]  # too small: crop and resize
    numpy.testing.assert_allclose(smaller, KERAS_CENTER_CROP_6X3, atol=2e-5)


def test_resizing_batches_channels_and_single_images(backend, rng):
    images = rng.uniform(0, 255, (3, 5, 6, 2)).astype("float32")
    layer = layers.Resizing(4, 9, interpolation="bicubic")
    out = layer(images).numpy()
    for n in range(3):
        for c in range(2):
            one = layers.Resizing(4, 9, interpolation="bicubic")(images[n : n + 1, ..., c : c + 1])
            numpy.testing.assert_allclose(out[n, ..., c], one.numpy()[0, ..., 0], rtol=1e-5)
    single = layer(images[0]).numpy()  # (height, width, channels): no batch axis
    numpy.testing.assert_allclose(single, out[0], rtol=1e-6)
    integers = layer(images.astype("uint8"))
    assert integers.dtype == numpy.float32  # integer images come out as floats, as in Keras


def test_affine_sampling_matches_keras(backend):
    x = engine.tensor(IMAGE)
    m30 = sampling.rotation_matrices(numpy.radians([30.0]), 4, 5)
    # Keras's rotation matrix for 30 degrees: [a0, a1, a2, b0, b1, b2]
    numpy.testing.assert_allclose(
        m30[0], [0.866025, -0.5, 1.017949, 0.5, 0.866025, -0.799038], atol=1e-6
    )
    for fill_mode, expected in KERAS_ROTATE_30.items():
        out = sampling.affine_transform(x, m30, "bilinear", fill_mode, 0.5)
        numpy.testing.assert_allclose(out.numpy()[0, ..., 0], expected, atol=2e-5)
    m100 = sampling.rotation_matrices(numpy.radians([-100.0]), 4, 5)
    for fill_mode, expected in KERAS_ROTATE_MINUS_100_NEAREST.items():
        out = sampling.affine_transform(x, m100, "nearest", fill_mode, 0.5)
        numpy.testing.assert_allclose(out.numpy()[0, ..., 0], expected, atol=2e-5)


def test_random_layers_transform_as_keras(backend):
    rotation = fixed(layers.RandomRotation, 30 / 360, factor=0.2, fill_mode="wrap")
    numpy.testing.assert_allclose(
        rotation(IMAGE).numpy()[0, ..., 0], KERAS_ROTATE_30["wrap"], atol=2e-5
    )
    zoom = fixed(layers.RandomZoom, 0.7, 1.3, height_factor=0.5, width_factor=0.5)
    numpy.testing.assert_allclose(zoom(IMAGE).numpy()[0, ..., 0], KERAS_ZOOM, atol=2e-5)
    # height draw -0.15 (of 4 rows: 0.6 up), width draw 0.28 (of 5 columns: 1.4 right)
    translation = fixed(
        layers.RandomTranslation,
        -0.15,
        0.28,
        height_factor=0.5,
        width_factor=0.5,
        fill_mode="constant",
        fill_value=0.5,
    )
    numpy.testing.assert_allclose(translation(IMAGE).numpy()[0, ..., 0], KERAS_TRANSLATE, atol=2e-5)
    contrast = fixed(layers.RandomContrast, 1.4, factor=0.5)
    images = numpy.arange(12, dtype="float32").reshape(1, 2, 3, 2) * 20
    numpy.testing.assert_allclose(contrast(images).numpy()[0], KERAS_CONTRAST, atol=1e-4)


def test_random_flip_flips_each_image_by_its_draws(backend):
    images = numpy.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4, 1)
    horizontal = fixed(layers.RandomFlip, 0.3, mode="horizontal")(images).numpy()
    numpy.testing.assert_array_equal(horizontal, images[:, :, ::-1])  # draw <= 0.5: flipped
    both = fixed(layers.RandomFlip, 0.2, 0.9)(images).numpy()  # flip left-right, not up-down
    numpy.testing.assert_array_equal(both, images[:, :, ::-1])
    none = fixed(layers.RandomFlip, 0.7, mode="vertical")(images).numpy()
    numpy.testing.assert_array_equal(none, images)


def test_random_contrast_range_and_clipping(backend, rng):
    images = rng.uniform(0, 255, (64, 3, 3, 1)).astype("float32")
    out = layers.RandomContrast(0.5, seed=3)(images).numpy()
    deviation = images - images.mean(axis=(1, 2), keepdims=True)
    factors = (out - images.mean(axis=(1, 2), keepdims=True))[:, 0, 0, 0] / deviation[:, 0, 0, 0]
    unclipped = (out > 0).all(axis=(1, 2, 3)) & (out < 255).all(axis=(1, 2, 3))
    assert ((factors[unclipped] > 0.5 - 1e-4) & (factors[unclipped] < 1.5 + 1e-4)).all()
    assert factors[unclipped].min() < 0.9 and factors[unclipped].max() > 1.1  # both sides of 1
    assert out.min() >= 0 and out.max() <= 255


def test_normalization_adapt_and_call_match_numpy(backend, rng):
    data = rng.normal(3.0, 2.0, (50, 4)).astype("float32")
    layer = layers.Normalization()
    layer.adapt(data)
    mean, variance = data.astype("float64").mean(0), data.astype("float64").var(0)
    numpy.testing.assert_allclose(layer.get_weights()[0], mean, rtol=1e-6)
    numpy.testing.assert_allclose(layer.get_weights()[1], variance, rtol=1e-6)
    assert len(layer.get_weights()) == 2  # Keras adds a scalar `count`, never updated
    out = layer(data[:5]).numpy()
    numpy.testing.assert_allclose(out, (data[:5] - mean) / numpy.sqrt(variance), atol=1e-5)
    back = layers.Normalization(invert=True)
    back.adapt(data)
    numpy.testing.assert_allclose(back(out).numpy(), data[:5], rtol=1e-5)
    # Keras 3: Normalization() adapted to [[0, 7, 4], [2, 9, 6]] * 2, called on [[1, 2, 3]]
    keras_example = layers.Normalization(axis=-1)
    keras_example.adapt(numpy.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0]] * 2, "float32"))
    result = keras_example(numpy.array([[1.0, 2.0, 3.0]], "float32")).numpy()
    numpy.testing.assert_allclose(result, [[0.0, -6.0, -2.0]], atol=1e-6)  # Keras's output


def test_normalization_axes_batches_and_given_statistics(backend, rng):
    data = rng.normal(0.0, 1.0, (6, 3, 4, 2))
    over_all = layers.Normalization(axis=None)
    over_all.adapt(data)
    assert over_all.get_weights()[0].shape == ()
    numpy.testing.assert_allclose(over_all.get_weights()[0], data.mean(), rtol=1e-5)
    per_pixel = layers.Normalization(axis=(1, 2))
    batches = Dataset.from_tensor_slices((data, numpy.zeros(6))).batch(4)  # (x, y) elements
    per_pixel.adapt(batches)  # combined batch by batch, as Keras does
    numpy.testing.assert_allclose(per_pixel.get_weights()[1], data.var(axis=(0, 3)), rtol=1e-5)
    from_generator = layers.Normalization(axis=(1, 2))
    from_generator.adapt(data[i : i + 2] for i in range(0, 6, 2))
    numpy.testing.assert_allclose(from_generator.get_weights()[0], data.mean(axis=(0, 3)), 1e-5)
    given = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0])
    out = given(numpy.array([[3.0, 2.5]], "float32")).numpy()
    # Keras divides by max(sqrt(variance), epsilon): Normalization(axis=None, mean=2.,
    # variance=0.)([[2.5]]) gives 5000000.0 on Keras 3
    numpy.testing.assert_allclose(out, [[1.0, 0.5 / 1e-7]], rtol=1e-5)
    assert given.weights == [] and given.get_config()["mean"] == [1.0, 2.0]


def test_rescaling(backend):
    out = layers.Rescaling(1 / 127.5, offset=-1)(numpy.array([[0, 255]], "uint8"))
    numpy.testing.assert_allclose(out.numpy(), [[-1.0, 1.0]], atol=1e-6)
    per_channel = layers.Rescaling([1.0, 2.0])(numpy.ones((1, 2, 2), "float32"))
    numpy.testing.assert_allclose(per_channel.numpy()[0, 0], [1.0, 2.0])


# -- training and inference ------------------------------------------------------------


def test_random_layers_augment_directly_and_in_fit_not_in_predict_or_evaluate(backend, rng):
    images = rng.uniform(0, 1, (8, 6, 6, 1)).astype("float32")
    layer = layers.RandomTranslation(0.3, 0.3, seed=1)
    assert not numpy.allclose(layer(images).numpy(), images)  # Keras 3: called directly augments
    numpy.testing.assert_array_equal(layer(images, training=False).numpy(), images)
    seen = []

    def record(x, training=None):
        seen.append((training, x.numpy().copy()))
        return x

    model = Sequential(
        [
            layers.Input((6, 6, 1)),
            layers.RandomRotation(0.2),
            layers.RandomZoom(0.2),
            layers.Lambda(record),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    seen.clear()  # building ran the function once on zeros, to find its output shape
    model.predict(images, verbose=0)
    assert seen and all(not training and numpy.array_equal(x, images) for training, x in seen)
    seen.clear()
    model.evaluate(images, numpy.zeros((8, 1)), verbose=0)
    assert seen and all(numpy.array_equal(x, images) for _, x in seen)
    seen.clear()
    model.fit(images, numpy.zeros((8, 1)), batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert [training for training, _ in seen] == [True]
    assert not numpy.allclose(seen[0][1], images)


def test_seeds_make_augmentation_reproducible(backend, rng):
    images = rng.uniform(0, 1, (4, 5, 5, 3)).astype("float32")
    for make in (
        lambda: layers.RandomFlip(seed=7),
        lambda: layers.RandomRotation(0.3, seed=7),
        lambda: layers.RandomZoom(0.3, 0.2, seed=7),
        lambda: layers.RandomTranslation(0.2, 0.2, seed=7),
        lambda: layers.RandomContrast(0.4, seed=7),
    ):
        first, second = make(), make()
        a1, a2 = first(images).numpy(), first(images).numpy()
        numpy.testing.assert_array_equal(a1, second(images).numpy())  # the same sequence
        numpy.testing.assert_array_equal(a2, second(images).numpy())
        assert not numpy.array_equal(a1, a2)  # which moves on with each call
    outputs = []
    for _ in range(2):
        engine.utils.set_random_seed(123)
        layer = layers.RandomRotation(0.3)  # unseeded: the backend's generator
        outputs.append([layer(images).numpy(), layer(images).numpy()])
    numpy.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    numpy.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    assert not numpy.array_equal(outputs[0][0], outputs[0][1])


def test_seeded_rotation_uses_its_draws():
    images = numpy.repeat(IMAGE, 3, axis=0)
    out = layers.RandomRotation((-0.25, 0.1), seed=5, fill_mode="constant")(images)
    turns = -0.25 + 0.35 * numpy.random.default_rng(5).random(3)
    matrices = sampling.rotation_matrices(turns * 2 * numpy.pi, 4, 5)
    expected = sampling.affine_transform(engine.tensor(images), matrices, "bilinear", "constant", 0)
    numpy.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-6)


# -- gradients -----------------------------------------------------------------------


def test_gradients_flow_through_the_layers(backend, float64, rng):
    images = rng.normal(size=(2, 4, 5, 2))
    for layer in (
        layers.Resizing(3, 7),
        layers.Resizing(6, 3, interpolation="bicubic"),
        layers.Resizing(3, 3, interpolation="nearest", crop_to_aspect_ratio=True),
        layers.Resizing(3, 3, pad_to_aspect_ratio=True, fill_value=1.0),
        layers.CenterCrop(2, 3),
        fixed(layers.RandomRotation, 0.07, factor=0.2, fill_mode="constant", fill_value=0.3),
        fixed(layers.RandomZoom, 0.8, height_factor=0.3, fill_mode="reflect"),
        fixed(layers.RandomTranslation, 0.1, -0.2, height_factor=0.3, width_factor=0.3),
        fixed(layers.RandomFlip, 0.1),
        fixed(layers.RandomContrast, 1.3, factor=0.5, value_range=(-10, 10)),
        layers.Rescaling(0.5, offset=1.0),
        layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]),
    ):
        check_gradients(layer, images, backend=backend)


# -- saving ---------------------------------------------------------------------------


def test_preprocessing_layers_save_and_load(backend, tmp_path, rng):
    images = rng.uniform(0, 255, (6, 8, 10, 3)).astype("float32")
    normalization = layers.Normalization()
    model = Sequential(
        [
            layers.Input((8, 10, 3)),
            layers.Rescaling(1 / 255.0),
            layers.Resizing(6, 6, interpolation="bicubic", crop_to_aspect_ratio=True),
            layers.CenterCrop(4, 4),
            layers.RandomFlip("horizontal", seed=1),
            layers.RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=0.5),
            layers.RandomZoom(0.2, width_factor=(-0.1, 0.3), interpolation="nearest"),
            layers.RandomTranslation(0.1, 0.2, fill_mode="wrap"),
            layers.RandomContrast((0.1, 0.3), value_range=(0, 1)),
            normalization,
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    normalization.adapt(rng.normal(0.5, 0.2, (20, 4, 4, 3)))
    model.compile(optimizer="adam", loss="mse")
    model.fit(images, numpy.zeros((6, 2)), epochs=1, verbose=0)
    path = tmp_path / "preprocessing.safetensors"
    model.save(path)
    loaded = load_model(path)
    for original, copy in zip(model.layers, loaded.layers):
        assert type(copy) is type(original) and copy.get_config() == original.get_config()
    numpy.testing.assert_array_equal(
        loaded.layers[-3].get_weights()[0], normalization.get_weights()[0]
    )
    numpy.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-6
    )


def test_given_normalization_statistics_are_in_the_config(tmp_path):
    model = Sequential([layers.Input((2,)), layers.Normalization(mean=1.0, variance=4.0)])
    model.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    numpy.testing.assert_allclose(loaded.predict(numpy.array([[3.0, 5.0]]), verbose=0), [[1, 2]])


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.Resizing(0, 3), "Resizing .*`height` must be a positive integer"),
        (lambda: layers.Resizing(3, 3, interpolation="area"), "`interpolation` must be one of"),
        (lambda: layers.Resizing(3, 3, antialias=True), "antialias=True is not supported"),
        (
            lambda: layers.Resizing(3, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
            "only one of",
        ),
        (lambda: layers.Resizing(3, 3, data_format="channels_first"), "channels_last"),
        (lambda: layers.CenterCrop(2, 2.5), "`width` must be a positive integer"),
        (lambda: layers.RandomFlip("diagonal"), "RandomFlip .*`mode` must be one of"),
        (lambda: layers.RandomFlip(seed="seven"), "`seed` must be a non-negative integer"),
        (lambda: layers.RandomRotation(1.5), r"RandomRotation .*`factor` .* in \[-1.0, 1.0\]"),
        (lambda: layers.RandomRotation((0.1, 0.2, 0.3)), "`factor` must be a number or a pair"),
        (lambda: layers.RandomRotation(0.1, fill_mode="mirror"), "`fill_mode` must be one of"),
        (lambda: layers.RandomRotation(0.1, interpolation="bicubic"), "`interpolation`"),
        (lambda: layers.RandomZoom(-1.0), r"`height_factor` .* in \(-1, 1\]"),
        (lambda: layers.RandomZoom(0.1, width_factor="x"), "`width_factor`"),
        (lambda: layers.RandomTranslation(0.1, 2), "`width_factor`"),
        (lambda: layers.RandomContrast(-0.1), r"RandomContrast .*`factor` .* in \[0.0, 1.0\]"),
        (lambda: layers.RandomContrast(0.1, value_range=(1, 0)), "`value_range`"),
        (lambda: layers.Normalization(mean=1.0), "give both `mean` and `variance`"),
        (lambda: layers.Normalization(mean=[1, 2], variance=[1]), "same shape"),
        (lambda: layers.Normalization(axis="channels"), "`axis` must be an integer"),
        (lambda: layers.Rescaling("half"), "Rescaling .*`scale` must be a finite number"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_are_named(backend):
    with pytest.raises(ValueError, match="RandomFlip 'flipper' expects channels-last images"):
        layers.RandomFlip(name="flipper")(numpy.zeros((4, 5)))
    with pytest.raises(ValueError, match="expects channels-last images"):
        Sequential([layers.Input((5,)), layers.Resizing(2, 2), layers.Flatten()])
    adapted = layers.Normalization()
    adapted.adapt(numpy.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(None, 3\).*\(4, 2\)"):
        adapted.adapt(numpy.zeros((4, 2)))
    with pytest.raises(ValueError, match="were given to the constructor"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(numpy.zeros((4, 3)))
    with pytest.raises(ValueError, match="no batches"):
        layers.Normalization().adapt(iter([]))
    with pytest.raises(ValueError, match="axis 1 of the input must have a known size"):
        Sequential([layers.Input((None,)), layers.Normalization()])
    with pytest.raises(ValueError, match=r"every `axis` must be in \[-2, 2\)"):
        layers.Normalization(axis=3)(numpy.zeros((2, 3)))
