"""Compare the image augmentation layers of ``augmentation_base.py``'s family (colour, tone,
geometry, mixing) and ReversibleEmbedding, SpectralNormalization and GroupQueryAttention
with Keras 3 on fixed transformations and weights.

Not part of the test suite (Keras is not a dependency): run it where both are
installed, with Keras on PyTorch:

    KERAS_BACKEND=torch python scripts/compare_augmentation_keras.py [--print]

Random layers are compared on a known transformation: Keras's
``transform_images`` given the transformation dict, this library's layer given
the same draws (``Scripted``). Each line prints the largest difference; with
``--print`` the Keras numbers are printed as the literals ``tests/test_augmentation_extra.py``
and ``tests/test_layers_c.py`` hold.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402

import engine  # noqa: E402
from engine import layers  # noqa: E402

IMAGE = ((numpy.arange(36).reshape(1, 3, 4, 3) * 37) % 256).astype("float32")
UNIT = IMAGE / 255.0
PRINT = "--print" in sys.argv


def scripted(layer_class, *draws, **kwargs):
    """``layer_class(**kwargs)`` whose uniform draws are ``draws`` in turn (each a number or
    an array, broadcast to the size asked)."""
    queue = list(draws)

    class Scripted(layer_class):
        def uniform(self, backend, size, low, high):
            value = queue.pop(0)
            queue.append(value)
            return numpy.broadcast_to(numpy.asarray(value, float), (size,)).copy()

    return Scripted(**kwargs)


def keras_transform(name, kwargs, transformation, images=IMAGE):
    layer = getattr(keras.layers, name)(**kwargs)
    converted = {
        key: keras.ops.convert_to_tensor(value) if isinstance(value, numpy.ndarray) else value
        for key, value in transformation.items()
    }
    out = layer.transform_images(keras.ops.convert_to_tensor(images), converted, training=True)
    return keras.ops.convert_to_numpy(out)


RECORDED = {}


def report(label, expected, ours):
    diff = numpy.max(numpy.abs(numpy.asarray(expected) - numpy.asarray(ours)))
    print(f"{label:40s} max |keras - ours| = {diff:.2e}")
    RECORDED[label] = numpy.round(numpy.asarray(expected, "float64")[0], 4).tolist()


def ours(layer, images=IMAGE):
    return layer(images).numpy()


def colour_cases():
    f32 = numpy.float32
    yield (
        "RandomBrightness",
        keras_transform("RandomBrightness", dict(factor=0.3), {"rgb_delta": f32([[[[25.5]]]])}),
        ours(scripted(layers.RandomBrightness, 0.1, factor=0.3)),
    )
    yield (
        "RandomHue -0.15 turn",
        keras_transform("RandomHue", dict(factor=0.5), {"factor": f32([-0.15])}),
        ours(scripted(layers.RandomHue, 0.7, 0.3, factor=0.5)),
    )
    yield (
        "RandomSaturation f=0.3",
        keras_transform("RandomSaturation", dict(factor=0.5), {"factor": f32([0.3 / 0.7])}),
        ours(scripted(layers.RandomSaturation, 0.3, factor=(0.0, 0.5))),
    )
    yield (
        "RandomSaturation f=0.8 (0, 1)",
        keras_transform(
            "RandomSaturation", dict(factor=0.9, value_range=(0, 1)), {"factor": f32([4.0])}, UNIT
        ),
        ours(scripted(layers.RandomSaturation, 0.8, factor=(0.0, 0.9), value_range=(0, 1)), UNIT),
    )
    yield (
        "RandomColorDegeneration 0.4",
        keras_transform("RandomColorDegeneration", dict(factor=0.5), {"factor": f32([0.4])}),
        ours(scripted(layers.RandomColorDegeneration, 0.4, factor=0.5)),
    )
    yield (
        "RandomInvert",
        keras_transform("RandomInvert", {}, {"apply_inversion": numpy.array([True])}),
        ours(scripted(layers.RandomInvert, 1.0, 0.0)),
    )
    yield (
        "RandomPosterization 3 bits",
        keras_transform("RandomPosterization", dict(factor=5), {"shift_factor": numpy.uint8([5])}),
        ours(scripted(layers.RandomPosterization, 3.5, factor=5)),
    )
    yield (
        "Solarization +51, threshold 127.5",
        keras_transform(
            "Solarization",
            dict(addition_factor=0.5, threshold_factor=0.5),
            {"additions": f32([[[[51.0]]]]), "thresholds": f32([[[[127.5]]]])},
        ),
        ours(scripted(layers.Solarization, 51.0, 127.5, addition_factor=0.5, threshold_factor=0.5)),
    )
    yield (
        "RandomSharpness 0.3",
        keras_transform("RandomSharpness", dict(factor=0.5), {"factor": f32([0.3])}),
        ours(scripted(layers.RandomSharpness, 0.3, factor=0.5)),
    )
    for size in (3, 5):
        yield (
            f"RandomGaussianBlur {size}x{size}",
            keras_transform(
                "RandomGaussianBlur",
                dict(kernel_size=size),
                {"should_apply_blur": numpy.array([True]), "blur_factor": f32([0.8, 0.5])},
            ),
            ours(
                scripted(
                    layers.RandomGaussianBlur, 1.0, 0.0, [0.8 - 1e-6, 0.5 - 1e-6], kernel_size=size
                )
            ),
        )


def deterministic_cases():
    flat = IMAGE.copy()
    flat[..., 1] = 40.0  # a constant channel is kept
    for label, images, kwargs in (
        ("AutoContrast", IMAGE * 0.5 + 20, {}),
        ("AutoContrast flat channel", flat, {}),
        ("AutoContrast (0, 1)", UNIT * 0.5 + 0.2, dict(value_range=(0, 1))),
    ):
        expected = keras.ops.convert_to_numpy(keras.layers.AutoContrast(**kwargs)(images))
        yield label, expected, layers.AutoContrast(**kwargs)(images).numpy()
    for label, images, kwargs in (
        ("Equalization", IMAGE, {}),
        ("Equalization bins=8", IMAGE, dict(bins=8)),
        ("Equalization (0, 1)", UNIT, dict(value_range=(0, 1))),
        ("Equalization flat channel", flat, {}),
    ):
        keras_layer = keras.layers.Equalization(**kwargs)
        expected = keras.ops.convert_to_numpy(keras_layer(images, training=True))
        yield label, expected, layers.Equalization(**kwargs)(images).numpy()


def geometry_cases():
    f32 = numpy.float32
    shear = keras_transform(
        "RandomShear",
        dict(x_factor=0.3, y_factor=0.3),
        {"shear_factor": f32([[-0.2, 0.15]]), "input_shape": IMAGE.shape},
    )
    yield "RandomShear", shear, ours(scripted(layers.RandomShear, 0.2, 0.15, -0.2, x_factor=0.3))
    moves = numpy.array([0.1, -0.2, 0.05, 0.15, -0.1, 0.2, 0.12, -0.08])
    corners = numpy.array([[[0.0, 0.0], [3.0, 0.0], [0.0, 2.0], [3.0, 2.0]]], "float32")
    end = corners + corners * moves.reshape(1, 4, 2).astype("float32")
    for interpolation in ("bilinear", "nearest"):
        perspective = keras_transform(
            "RandomPerspective",
            dict(interpolation=interpolation, fill_value=9.0),
            {
                "apply_perspective": numpy.array([True]),
                "start_points": corners,
                "end_points": end,
                "input_shape": IMAGE.shape,
            },
        )
        layer = scripted(
            layers.RandomPerspective,
            1.0,
            0.0,
            moves,
            interpolation=interpolation,
            fill_value=9.0,
        )
        yield f"RandomPerspective {interpolation}", perspective, ours(layer)
    keras_crop = keras.layers.RandomCrop(2, 3)
    expected = keras.ops.convert_to_numpy(keras_crop.transform_images(IMAGE, (1, 1)))
    yield (
        "RandomCrop (1, 1)",
        expected,
        ours(scripted(layers.RandomCrop, 1.2, 1.7, height=2, width=3)),
    )
    smart = keras.preprocessing.image.smart_resize(IMAGE[0], (5, 3))[None]
    yield (
        "RandomCrop inference = smart_resize",
        smart,
        layers.RandomCrop(5, 3)(IMAGE, training=False).numpy(),
    )


class FakeGenerator:
    """Stands for the layer's NumPy generator: given permutation and beta draws."""

    def __init__(self, permutation, beta):
        self._permutation, self._beta = numpy.asarray(permutation), numpy.asarray(beta)

    def permutation(self, n):
        return self._permutation

    def beta(self, a, b, size=None):
        return self._beta


def boxes(starts, ratios, height, width):
    """Keras's crop bounds ``(x0, x1, y0, y1)`` for start draws and side ratios (float32)."""
    f32 = numpy.float32
    (start_x, start_y), (ratio_x, ratio_y) = starts, ratios
    length_x, length_y = f32(ratio_x * width), f32(ratio_y * height)
    x0, y0 = f32(start_x * (width - length_x)), f32(start_y * (height - length_y))
    return [numpy.array([v], "float32") for v in (x0, x0 + length_x, y0, y0 + length_y)]


def mixing_cases():
    images = numpy.concatenate([IMAGE, 255 - IMAGE[:, ::-1]])
    labels = numpy.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    permutation, weights = numpy.array([1, 0]), numpy.array([0.3, 0.8])
    keras_mixup = keras.layers.MixUp()
    transformation = {
        "mix_weight": keras.ops.convert_to_tensor(weights.astype("float32")),
        "permutation_order": keras.ops.convert_to_tensor(permutation),
    }
    expected = keras.ops.convert_to_numpy(keras_mixup.transform_images(images, transformation))
    mixup = layers.MixUp()
    mixup.host_generator = lambda backend: FakeGenerator(permutation, weights)
    got = mixup({"images": images, "labels": labels})
    yield "MixUp images", expected, got["images"].numpy()
    expected_labels = keras.ops.convert_to_numpy(
        keras_mixup.transform_labels(labels, transformation)
    )
    yield "MixUp labels", expected_labels, got["labels"].numpy()

    beta = numpy.array([0.7, 0.45])
    ratios = numpy.sqrt(1 - beta)
    keras_cutmix = keras.layers.CutMix()
    bounds = [
        numpy.concatenate(parts)
        for parts in zip(*(boxes((0.3, 0.6), (r, r), 3, 4) for r in ratios))
    ]
    masks, mix_weight = keras_cutmix._generate_batch_mask(
        images.shape, [keras.ops.convert_to_tensor(b) for b in bounds]
    )
    transformation = {
        "permutation_order": keras.ops.convert_to_tensor(permutation),
        "batch_masks": masks,
        "mix_weight": mix_weight,
    }
    expected = keras.ops.convert_to_numpy(keras_cutmix.transform_images(images, transformation))
    cutmix = scripted(layers.CutMix, 0.5, 0.3, 0.6)
    cutmix.host_generator = lambda backend: FakeGenerator(permutation, beta)
    got = cutmix({"images": images, "labels": labels})
    yield "CutMix images", expected, got["images"].numpy()
    expected_labels = keras.ops.convert_to_numpy(
        keras_cutmix.transform_labels(labels, transformation)
    )
    yield "CutMix labels", expected_labels, got["labels"].numpy()

    keras_erasing = keras.layers.RandomErasing(fill_value=7.0)
    bounds = boxes((0.25, 0.5), numpy.sqrt([0.3, 0.4]), 3, 4)
    masks = keras_erasing._generate_batch_mask(
        IMAGE.shape, [keras.ops.convert_to_tensor(b) for b in bounds]
    )
    transformation = {
        "apply_erasing": keras.ops.convert_to_tensor(numpy.array([True])),
        "batch_masks": masks,
        "fill_value": keras.ops.convert_to_tensor(numpy.full(IMAGE.shape, 7.0, "float32")),
    }
    expected = keras.ops.convert_to_numpy(keras_erasing.transform_images(IMAGE, transformation))
    erasing = scripted(layers.RandomErasing, [0.3, 0.4], 0.25, 0.5, 1.0, 0.0, fill_value=7.0)
    yield "RandomErasing", expected, ours(erasing)


def weights_for(shapes, seed):
    """The weights the tests give both libraries: normal draws, scaled by 0.5."""
    rng = numpy.random.default_rng(seed)
    return [(0.5 * rng.normal(size=shape)).astype("float32") for shape in shapes]


def layer_cases():
    ids = numpy.array([[1, 4, 0], [3, 3, 2]])
    vectors = numpy.random.default_rng(1).normal(size=(2, 3)).astype("float32")
    for tie in (True, False):
        kwargs = dict(input_dim=5, output_dim=3, tie_weights=tie, logit_soft_cap=2.0)
        keras_layer = keras.layers.ReversibleEmbedding(**kwargs)
        keras_layer.build((None, 3))
        layer = layers.ReversibleEmbedding(**kwargs)
        layer.build_from_shape((None, 3))
        weights = weights_for([w.shape for w in keras_layer.get_weights()], 3)
        keras_layer.set_weights(weights)
        layer.set_weights(weights)
        expected = keras.ops.convert_to_numpy(keras_layer(vectors, reverse=True))
        yield (
            f"ReversibleEmbedding reverse tie={tie}",
            expected[None],
            layer(vectors, reverse=True).numpy()[None],
        )
        expected = keras.ops.convert_to_numpy(keras_layer(ids))
        yield f"ReversibleEmbedding forward tie={tie}", expected, layer(ids).numpy()

    x = numpy.random.default_rng(2).normal(size=(2, 4)).astype("float32")
    keras_layer = keras.layers.SpectralNormalization(keras.layers.Dense(3), power_iterations=2)
    keras_layer.build((None, 4))
    layer = layers.SpectralNormalization(layers.Dense(3), power_iterations=2)
    layer.build_from_shape((None, 4))
    weights = weights_for([w.shape for w in keras_layer.get_weights()], 4)
    keras_layer.set_weights(weights)
    layer.set_weights(weights)
    expected = keras.ops.convert_to_numpy(keras_layer(x, training=True))
    yield "SpectralNormalization output", expected[None], layer(x, training=True).numpy()[None]
    for index, (expected, got) in enumerate(zip(keras_layer.get_weights(), layer.get_weights())):
        yield f"SpectralNormalization weight {index}", expected[None], got[None]

    rng = numpy.random.default_rng(5)
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    value = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = numpy.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    for use_gate in (False, True):
        kwargs = dict(head_dim=2, num_query_heads=4, num_key_value_heads=2, use_gate=use_gate)
        keras_layer = keras.layers.GroupQueryAttention(**kwargs)
        keras_layer(query, value)
        layer = layers.GroupQueryAttention(**kwargs)
        layer(query, value)
        weights = weights_for([w.shape for w in keras_layer.get_weights()], 6)
        keras_layer.set_weights(weights)
        layer.set_weights(weights)
        expected = keras.ops.convert_to_numpy(keras_layer(query, value))
        yield f"GroupQueryAttention gate={use_gate}", expected, layer(query, value).numpy()
        expected, scores = keras_layer(
            query, value, attention_mask=mask[:, None, :].repeat(3, 1), return_attention_scores=True
        )
        got, got_scores = layer(
            query, value, attention_mask=mask[:, None, :].repeat(3, 1), return_attention_scores=True
        )
        yield f"GQA masked gate={use_gate}", keras.ops.convert_to_numpy(expected), got.numpy()
        yield f"GQA scores gate={use_gate}", keras.ops.convert_to_numpy(scores), got_scores.numpy()
        expected = keras.ops.convert_to_numpy(keras_layer(query, query, use_causal_mask=True))
        yield (
            f"GQA causal gate={use_gate}",
            expected,
            layer(query, query, use_causal_mask=True).numpy(),
        )


def main():
    for cases in (
        colour_cases,
        deterministic_cases,
        geometry_cases,
        mixing_cases,
        layer_cases,
    ):
        for label, expected, got in cases():
            if expected is not None:
                report(label, expected, got)
    keras_gray = keras.ops.convert_to_numpy(
        keras.layers.RandomGrayscale(factor=1.0)(IMAGE, training=True)
    )
    report("RandomGrayscale", keras_gray, ours(scripted(layers.RandomGrayscale, 0.0)))
    print(f"engine backend: {engine.get_backend().name}")
    if PRINT:
        print("KERAS = {")
        for label, values in RECORDED.items():
            print(f"    {label!r}: {values!r},")
        print("}")


if __name__ == "__main__":
    main()
