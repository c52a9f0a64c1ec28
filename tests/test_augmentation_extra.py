"""Keras 3 image augmentation layers (colour, tone, geometry, mixing, RandAugment, AugMix,
Pipeline): Keras's numbers on fixed transformations, formulas, training conventions,
seeds, gradients, images with labels, configs and saving.

``KERAS`` holds Keras 3.15's outputs on its torch backend (``KERAS_BACKEND=torch``),
rounded to 4 decimals, for ``IMAGE`` (first image of the batch), made by
``scripts/compare_augmentation_keras.py --print``: ``keras.layers.<Layer>(...)
.transform_images(IMAGE, transformation)`` for a fixed transformation dict (e.g.
``RandomHue``: ``{"factor": [-0.15]}``, ``RandomShear``: ``{"shear_factor": [[-0.2, 0.15]]}``,
``RandomPerspective``: corners moved by ``MOVES`` times their coordinates,
``RandomGaussianBlur``: sigma ``(0.8, 0.5)``), the deterministic layers called directly,
``RandomGrayscale(factor=1.0)``, and ``keras.preprocessing.image.smart_resize(IMAGE[0],
(5, 3))`` for RandomCrop at inference. Here each layer gets the same draws (``scripted``).
"""

import numpy
import pytest

import engine
from engine import layers
from engine.models import Sequential, load_model
from tests.gradcheck import check_gradients

IMAGE = ((numpy.arange(36).reshape(1, 3, 4, 3) * 37) % 256).astype("float32")
UNIT = IMAGE / 255.0
MOVES = [0.1, -0.2, 0.05, 0.15, -0.1, 0.2, 0.12, -0.08]  # RandomPerspective's corner draws
LUMA = numpy.array([0.2989, 0.587, 0.114])

KERAS = {
    "RandomHue -0.15 turn": [
        [[0.0, 74.0, 44.4], [111.0, 185.0, 155.4], [206.9, 3.0, 222.0], [77.0, 151.0, 121.4]],
        [[225.0, 64.9, 6.0], [43.0, 117.0, 87.4], [154.0, 228.0, 198.4], [9.0, 83.0, 53.4]],
        [[120.0, 194.0, 164.4], [215.9, 12.0, 231.0], [86.0, 160.0, 130.4], [234.0, 73.9, 15.0]],
    ],
    "RandomSaturation f=0.3": [
        [
            [42.2857, 58.1428, 74.0],
            [153.2857, 169.1429, 185.0],
            [222.0, 128.1429, 144.0],
            [119.2857, 135.1429, 151.0],
        ],
        [
            [209.1429, 225.0, 131.1429],
            [85.2857, 101.1429, 117.0],
            [196.2857, 212.1429, 228.0],
            [51.2857, 67.1428, 83.0],
        ],
        [
            [162.2857, 178.1429, 194.0],
            [231.0, 137.1429, 153.0],
            [128.2857, 144.1429, 160.0],
            [218.1429, 234.0, 140.1429],
        ],
    ],
    "RandomSaturation f=0.8 (0, 1)": [
        [
            [0.0, 0.1451, 0.2902],
            [0.0, 0.3627, 0.7255],
            [0.8706, 0.0, 0.1471],
            [0.0, 0.2961, 0.5922],
        ],
        [
            [0.7333, 0.8824, 0.0],
            [0.0, 0.2294, 0.4588],
            [0.0, 0.4471, 0.8941],
            [0.0, 0.1627, 0.3255],
        ],
        [[0.0, 0.3804, 0.7608], [0.9059, 0.0, 0.153], [0.0, 0.3137, 0.6275], [0.7626, 0.9176, 0.0]],
    ],
    "RandomSharpness 0.3": [
        [
            [10.5231, 41.8308, 65.2615],
            [102.3539, 128.0615, 153.7692],
            [179.4769, 20.0769, 53.6615],
            [69.8923, 93.3231, 124.6308],
        ],
        [
            [157.2615, 182.9692, 23.5692],
            [66.6308, 87.8769, 117.0],
            [146.1231, 167.3692, 196.4923],
            [29.4308, 55.1385, 80.8462],
        ],
        [
            [104.6769, 128.1077, 151.5385],
            [192.3231, 32.9231, 58.6308],
            [84.3385, 110.0462, 135.7538],
            [156.1692, 187.4769, 25.8],
        ],
    ],
    "RandomGaussianBlur 3x3": [
        [
            [32.4244, 57.5827, 68.5079],
            [98.4516, 83.3611, 109.9039],
            [136.4468, 64.3372, 97.3965],
            [77.8081, 54.8166, 79.9748],
        ],
        [
            [100.6982, 122.3391, 45.3274],
            [111.8992, 128.1498, 117.0],
            [105.8502, 122.1008, 152.5844],
            [55.7363, 77.3771, 91.3013],
        ],
        [
            [104.2925, 81.301, 92.2262],
            [144.7401, 72.6306, 99.1734],
            [125.7163, 110.6257, 95.5352],
            [101.5264, 126.6847, 46.6741],
        ],
    ],
    "RandomGaussianBlur 5x5": [
        [
            [35.205, 55.5478, 66.7203],
            [95.4771, 81.7564, 107.8544],
            [130.8702, 62.6784, 94.3921],
            [76.4037, 55.1626, 79.903],
        ],
        [
            [99.6062, 120.5004, 47.7163],
            [107.7298, 124.0704, 113.6286],
            [104.6773, 121.0179, 146.5443],
            [54.8037, 75.6978, 89.8152],
        ],
        [
            [101.5166, 80.2755, 91.4479],
            [141.7665, 73.5746, 95.2583],
            [122.6884, 108.9677, 94.6832],
            [101.1314, 121.4742, 45.7452],
        ],
    ],
    "AutoContrast": [
        [
            [0.0, 37.5325, 78.1081],
            [122.5325, 160.0649, 205.6081],
            [245.0649, 0.0, 39.0541],
            [85.0, 122.5325, 166.554],
        ],
        [
            [207.5325, 245.0649, 0.0],
            [47.4675, 85.0, 127.5],
            [170.0, 207.5325, 255.0],
            [9.9351, 47.4675, 88.4459],
        ],
        [
            [132.4675, 170.0, 215.946],
            [255.0, 9.9351, 49.3919],
            [94.9351, 132.4675, 176.8919],
            [217.4675, 255.0, 10.3378],
        ],
    ],
    "AutoContrast flat channel": [
        [
            [0.0, 40.0, 78.1081],
            [122.5325, 40.0, 205.6081],
            [245.0649, 40.0, 39.0541],
            [85.0, 40.0, 166.554],
        ],
        [
            [207.5325, 40.0, 0.0],
            [47.4675, 40.0, 127.5],
            [170.0, 40.0, 255.0],
            [9.9351, 40.0, 88.4459],
        ],
        [
            [132.4675, 40.0, 215.9459],
            [255.0, 40.0, 49.3919],
            [94.9351, 40.0, 176.8919],
            [217.4675, 40.0, 10.3378],
        ],
    ],
    "AutoContrast (0, 1)": [
        [
            [0.0, 0.1472, 0.3063],
            [0.4805, 0.6277, 0.8063],
            [0.961, 0.0, 0.1532],
            [0.3333, 0.4805, 0.6532],
        ],
        [
            [0.8139, 0.961, 0.0],
            [0.1861, 0.3333, 0.5],
            [0.6667, 0.8139, 1.0],
            [0.039, 0.1861, 0.3468],
        ],
        [
            [0.5195, 0.6667, 0.8468],
            [1.0, 0.039, 0.1937],
            [0.3723, 0.5195, 0.6937],
            [0.8528, 1.0, 0.0405],
        ],
    ],
    "Equalization": [
        [[0.0, 46.0, 93.0], [116.0, 162.0, 209.0], [232.0, 0.0, 46.0], [70.0, 116.0, 162.0]],
        [[185.0, 232.0, 0.0], [46.0, 93.0, 139.0], [162.0, 209.0, 255.0], [23.0, 70.0, 116.0]],
        [[139.0, 185.0, 232.0], [255.0, 23.0, 70.0], [93.0, 139.0, 185.0], [209.0, 255.0, 23.0]],
    ],
    "Equalization bins=8": [
        [[0.0, 51.0, 102.0], [128.0, 178.0, 230.0], [255.0, 0.0, 51.0], [76.0, 128.0, 178.0]],
        [[204.0, 255.0, 0.0], [26.0, 76.0, 128.0], [153.0, 204.0, 255.0], [0.0, 51.0, 102.0]],
        [[128.0, 178.0, 230.0], [255.0, 0.0, 51.0], [76.0, 128.0, 178.0], [204.0, 255.0, 0.0]],
    ],
    "Equalization (0, 1)": [
        [
            [0.0, 0.1804, 0.3647],
            [0.4549, 0.6353, 0.8196],
            [0.9098, 0.0, 0.1804],
            [0.2745, 0.4549, 0.6353],
        ],
        [
            [0.7255, 0.9098, 0.0],
            [0.1804, 0.3647, 0.5451],
            [0.6353, 0.8196, 1.0],
            [0.0902, 0.2745, 0.4549],
        ],
        [
            [0.5451, 0.7255, 0.9098],
            [1.0, 0.0902, 0.2745],
            [0.3647, 0.5451, 0.7255],
            [0.8196, 1.0, 0.0902],
        ],
    ],
    "Equalization flat channel": [
        [[0.0, 40.0, 93.0], [116.0, 40.0, 209.0], [232.0, 40.0, 46.0], [70.0, 40.0, 162.0]],
        [[185.0, 40.0, 0.0], [46.0, 40.0, 139.0], [162.0, 40.0, 255.0], [23.0, 40.0, 116.0]],
        [[139.0, 40.0, 232.0], [255.0, 40.0, 70.0], [93.0, 40.0, 185.0], [209.0, 40.0, 23.0]],
    ],
    "RandomShear": [
        [[0.0, 37.0, 74.0], [100.8, 137.8, 174.8], [201.6, 59.4, 96.4], [46.4, 83.4, 120.4]],
        [[188.0, 225.0, 6.0], [92.52, 98.8, 92.28], [126.76, 148.4, 185.4], [99.56, 136.56, 81.4]],
        [[120.0, 157.0, 194.0], [186.6, 70.0, 107.0], [144.0, 78.6, 115.6], [152.6, 189.6, 73.0]],
    ],
    "RandomPerspective bilinear": [
        [
            [0.0, 37.0, 74.0],
            [88.7526, 125.7526, 162.7526],
            [191.8203, 42.424, 79.424],
            [103.1654, 93.9699, 130.9699],
        ],
        [
            [164.3357, 201.3357, 14.5594],
            [76.9758, 113.9758, 95.7163],
            [116.2586, 152.4345, 189.4345],
            [63.4279, 100.4279, 120.6593],
        ],
        [
            [141.1351, 178.1351, 135.5676],
            [178.7087, 62.6203, 86.8067],
            [142.7347, 81.9778, 118.9778],
            [137.0576, 170.4895, 69.0411],
        ],
    ],
    "RandomPerspective nearest": [
        [[0.0, 37.0, 74.0], [111.0, 148.0, 185.0], [222.0, 3.0, 40.0], [77.0, 114.0, 151.0]],
        [[188.0, 225.0, 6.0], [43.0, 80.0, 117.0], [154.0, 191.0, 228.0], [9.0, 46.0, 83.0]],
        [[120.0, 157.0, 194.0], [231.0, 12.0, 49.0], [86.0, 123.0, 160.0], [197.0, 234.0, 15.0]],
    ],
    "RandomCrop inference = smart_resize": [
        [[111.0, 148.0, 185.0], [111.0, 148.0, 185.0], [111.0, 148.0, 185.0]],
        [[83.8, 120.8, 157.8], [83.8, 120.8, 157.8], [83.8, 120.8, 157.8]],
        [[43.0, 80.0, 117.0], [43.0, 80.0, 117.0], [43.0, 80.0, 117.0]],
        [[155.8, 39.2, 76.2], [155.8, 39.2, 76.2], [155.8, 39.2, 76.2]],
        [[231.0, 12.0, 49.0], [231.0, 12.0, 49.0], [231.0, 12.0, 49.0]],
    ],
    "RandomGrayscale": [
        [
            [30.155, 30.155, 30.155],
            [141.1439, 141.1439, 141.1439],
            [72.6768, 72.6768, 72.6768],
            [107.1473, 107.1473, 107.1473],
        ],
        [
            [188.9522, 188.9522, 188.9522],
            [73.1507, 73.1507, 73.1507],
            [184.1396, 184.1396, 184.1396],
            [39.1541, 39.1541, 39.1541],
        ],
        [
            [150.143, 150.143, 150.143],
            [81.6759, 81.6759, 81.6759],
            [116.1464, 116.1464, 116.1464],
            [197.9513, 197.9513, 197.9513],
        ],
    ],
}


def scripted(layer_class, *draws, **kwargs):
    """``layer_class(**kwargs)`` whose uniform draws are ``draws`` in turn, cycling (each a
    number or an array, broadcast to the size the layer asks for)."""
    queue = list(draws)

    class Scripted(layer_class):
        def uniform(self, backend, size, low, high):
            value = queue.pop(0)
            queue.append(value)
            return numpy.broadcast_to(numpy.asarray(value, float), (size,)).copy()

    return Scripted(**kwargs)


class FakeGenerator:
    """Stands for a layer's NumPy generator (MixUp, CutMix): fixed permutation and beta draws."""

    def __init__(self, permutation, beta):
        self._permutation, self._beta = numpy.asarray(permutation), numpy.asarray(beta)

    def permutation(self, n):
        return self._permutation

    def beta(self, a, b, size=None):
        return self._beta


def with_generator(layer, permutation, beta):
    layer.host_generator = lambda backend: FakeGenerator(permutation, beta)
    return layer


# -- Keras's numbers -------------------------------------------------------------------

KERAS_CASES = {
    "RandomHue -0.15 turn": lambda: scripted(layers.RandomHue, 0.7, 0.3, factor=0.5),
    "RandomSaturation f=0.3": lambda: scripted(layers.RandomSaturation, 0.3, factor=(0, 0.5)),
    "RandomSaturation f=0.8 (0, 1)": lambda: scripted(
        layers.RandomSaturation, 0.8, factor=(0, 0.9), value_range=(0, 1)
    ),
    "RandomSharpness 0.3": lambda: scripted(layers.RandomSharpness, 0.3, factor=0.5),
    "RandomGaussianBlur 3x3": lambda: scripted(
        layers.RandomGaussianBlur, 1.0, 0.0, [0.8 - 1e-6, 0.5 - 1e-6]
    ),
    "RandomGaussianBlur 5x5": lambda: scripted(
        layers.RandomGaussianBlur, 1.0, 0.0, [0.8 - 1e-6, 0.5 - 1e-6], kernel_size=5
    ),
    "AutoContrast": lambda: layers.AutoContrast(),
    "AutoContrast flat channel": lambda: layers.AutoContrast(),
    "AutoContrast (0, 1)": lambda: layers.AutoContrast(value_range=(0, 1)),
    "Equalization": lambda: layers.Equalization(),
    "Equalization bins=8": lambda: layers.Equalization(bins=8),
    "Equalization (0, 1)": lambda: layers.Equalization(value_range=(0, 1)),
    "Equalization flat channel": lambda: layers.Equalization(),
    "RandomShear": lambda: scripted(layers.RandomShear, 0.2, 0.15, -0.2, x_factor=0.3),
    "RandomPerspective bilinear": lambda: scripted(
        layers.RandomPerspective, 1.0, 0.0, MOVES, fill_value=9.0
    ),
    "RandomPerspective nearest": lambda: scripted(
        layers.RandomPerspective, 1.0, 0.0, MOVES, interpolation="nearest", fill_value=9.0
    ),
    "RandomGrayscale": lambda: scripted(layers.RandomGrayscale, 0.0),
}


def keras_input(label: str) -> numpy.ndarray:
    if "(0, 1)" in label:
        return UNIT * 0.5 + 0.2 if label.startswith("AutoContrast") else UNIT
    if "flat channel" in label:
        flat = IMAGE.copy()
        flat[..., 1] = 40.0
        return flat
    return IMAGE * 0.5 + 20 if label == "AutoContrast" else IMAGE


@pytest.mark.parametrize("label", sorted(KERAS_CASES))
def test_layers_match_keras_on_fixed_transformations(backend, label):
    out = KERAS_CASES[label]()(keras_input(label))
    assert out.backend is backend and out.shape == IMAGE.shape
    scale = 1.0 if "(0, 1)" in label else 255.0
    numpy.testing.assert_allclose(out.numpy()[0], KERAS[label], atol=2e-4 * scale)


def test_random_crop_matches_keras(backend):
    images = numpy.concatenate([IMAGE, IMAGE[:, ::-1]])
    cropped = scripted(layers.RandomCrop, 1.2, 1.7, height=2, width=3)(images).numpy()
    numpy.testing.assert_array_equal(cropped, images[:, 1:3, 1:4])  # one window per batch
    # at inference: Keras's smart_resize (the largest centred window of the aspect ratio)
    smart = layers.RandomCrop(5, 3)(IMAGE, training=False).numpy()
    numpy.testing.assert_allclose(smart[0], KERAS["RandomCrop inference = smart_resize"], atol=0.05)
    assert layers.RandomCrop(2, 2)(IMAGE).shape == (1, 2, 2, 3)
    same = layers.RandomCrop(2, 4)(IMAGE[:, :2]).numpy()  # not larger along both sides
    numpy.testing.assert_array_equal(same, IMAGE[:, :2])


def test_elementwise_layers_follow_keras_formulas(backend):
    x = IMAGE.astype("float64")
    brightness = scripted(layers.RandomBrightness, 0.1, factor=0.3)(IMAGE).numpy()
    numpy.testing.assert_allclose(brightness, numpy.clip(x + 25.5, 0, 255), atol=1e-4)
    dimmer = scripted(layers.RandomBrightness, -0.5, factor=(-0.5, 0), value_range=(0, 1))
    numpy.testing.assert_allclose(dimmer(UNIT).numpy(), numpy.clip(UNIT - 0.5, 0, 1), atol=1e-6)
    gray = (x @ LUMA)[..., None]
    degenerated = scripted(layers.RandomColorDegeneration, 0.4, factor=0.5)(IMAGE).numpy()
    numpy.testing.assert_allclose(degenerated, numpy.clip(x + 0.4 * (gray - x), 0, 255), atol=1e-3)
    inverted = scripted(layers.RandomInvert, 0.6, 0.5)(IMAGE).numpy()  # 0.5 < 0.6: inverted
    numpy.testing.assert_array_equal(inverted, 255 - IMAGE)
    kept = scripted(layers.RandomInvert, 0.4, 0.5)(IMAGE).numpy()
    numpy.testing.assert_array_equal(kept, IMAGE)
    posterized = scripted(layers.RandomPosterization, 3.5, factor=5)(IMAGE).numpy()  # 3 bits
    numpy.testing.assert_array_equal(posterized, (IMAGE.astype("uint8") >> 5) << 5)
    # Keras: clip(x + 51, 0, 255), then 255 - that where it is at or above 127.5
    solarized = scripted(
        layers.Solarization, 51.0, 127.5, addition_factor=0.5, threshold_factor=0.5
    )
    shifted = numpy.clip(x + 51, 0, 255)
    expected = numpy.where(shifted < 127.5, shifted, 255 - shifted)
    numpy.testing.assert_allclose(solarized(IMAGE).numpy(), expected, atol=1e-4)
    numpy.testing.assert_allclose(layers.Solarization()(IMAGE).numpy(), 255 - IMAGE)  # defaults
    grayscale = scripted(layers.RandomGrayscale, 0.2, factor=0.5)(IMAGE).numpy()
    numpy.testing.assert_allclose(grayscale, numpy.repeat(gray, 3, axis=-1), atol=1e-4)


def test_mixup_and_cutmix_mix_images_and_labels(backend):
    images = numpy.concatenate([IMAGE, 255 - IMAGE[:, ::-1]])
    labels = numpy.eye(2, dtype="float32")
    mixup = with_generator(layers.MixUp(), [1, 0], [0.3, 0.8])
    out = mixup({"images": images, "labels": labels})
    weights = numpy.array([0.3, 0.8]).reshape(2, 1, 1, 1)
    expected = weights * images + (1 - weights) * images[[1, 0]]
    numpy.testing.assert_allclose(out["images"].numpy(), expected, atol=1e-4)
    numpy.testing.assert_allclose(out["labels"].numpy(), [[0.3, 0.7], [0.2, 0.8]], atol=1e-6)
    # CutMix: alpha draw, Beta draws 0.7 and 0.45, box starts 0.3 (x) and 0.6 (y) of the room
    cutmix = with_generator(scripted(layers.CutMix, 0.5, 0.3, 0.6), [1, 0], [0.7, 0.45])
    out = cutmix({"images": images, "labels": labels})
    expected, kept = images.copy(), []
    for n, ratio in enumerate(numpy.sqrt([0.3, 0.55])):
        width, height = numpy.float32(ratio * 4), numpy.float32(ratio * 3)
        x0, y0 = numpy.float32(0.3 * (4 - width)), numpy.float32(0.6 * (3 - height))
        columns, rows = numpy.arange(4), numpy.arange(3)[:, None]
        box = (columns >= x0) & (columns < x0 + width) & (rows >= y0) & (rows < y0 + height)
        expected[n][box] = images[1 - n][box]
        kept.append(1 - width * height / 12)  # Keras mixes labels by the box's real area
    numpy.testing.assert_array_equal(out["images"].numpy(), expected)
    mixed = numpy.array([[kept[0], 1 - kept[0]], [1 - kept[1], kept[1]]])
    numpy.testing.assert_allclose(out["labels"].numpy(), mixed, atol=1e-6)


def test_random_erasing_fills_a_box(backend):
    erasing = scripted(layers.RandomErasing, [0.3, 0.4], 0.25, 0.5, 1.0, 0.0, fill_value=7.0)
    out = erasing(IMAGE).numpy()
    width, height = numpy.float32(numpy.sqrt(0.3) * 4), numpy.float32(numpy.sqrt(0.4) * 3)
    x0, y0 = numpy.float32(0.25 * (4 - width)), numpy.float32(0.5 * (3 - height))
    columns, rows = numpy.arange(4), numpy.arange(3)[:, None]
    box = (columns >= x0) & (columns < x0 + width) & (rows >= y0) & (rows < y0 + height)
    expected = IMAGE.copy()
    expected[0][box] = 7.0
    numpy.testing.assert_array_equal(out, expected)
    skipped = scripted(layers.RandomErasing, 0.3, 0.5, 0.5, 0.2, 0.9)  # 0.9 >= 0.2: not erased
    numpy.testing.assert_array_equal(skipped(IMAGE).numpy(), IMAGE)
    noisy = layers.RandomErasing((1.0, 1.0), (0.3, 0.3), seed=2, value_range=(0, 1))(UNIT).numpy()
    assert noisy.min() >= 0 and noisy.max() <= 1 and not numpy.array_equal(noisy, UNIT)
    per_channel = scripted(layers.RandomErasing, 1.0, 0.0, 0.0, 1.0, 0.0, fill_value=[1, 2, 3])
    numpy.testing.assert_array_equal(
        per_channel(IMAGE).numpy()[0], numpy.broadcast_to([1, 2, 3], (3, 4, 3))
    )


# -- draws, training and seeds -------------------------------------------------------------


def test_draws_stay_in_their_ranges(backend, rng):
    images = numpy.full((64, 2, 2, 3), 100.0, "float32")
    deltas = layers.RandomBrightness((-0.2, 0.1), seed=1)(images).numpy()[:, 0, 0, 0] - 100
    assert deltas.min() >= -0.2 * 255 - 1e-3 and deltas.max() <= 0.1 * 255 + 1e-3
    assert deltas.min() < -25 and deltas.max() > 12
    bits = rng.integers(0, 256, (64, 4, 4, 3)).astype("float32")
    posterized = layers.RandomPosterization((2, 4), seed=3)(bits).numpy()
    steps = [numpy.gcd.reduce(numpy.append(img.astype(int).ravel(), 256)) for img in posterized]
    kept = {8 - int(numpy.log2(step)) for step in steps}  # bits kept: values are multiples
    assert kept <= {2, 3} and len(kept) == 2  # Keras's randint: [lower, upper)
    probability = layers.RandomInvert(seed=4)(numpy.zeros((400, 1, 1, 1), "float32")).numpy()
    assert 0.4 < (probability > 0).mean() < 0.6  # Keras's two draws: factor=1.0 inverts half
    grayscale = layers.RandomGrayscale(factor=0.25, seed=5)(rng.uniform(0, 255, (400, 1, 1, 3)))
    converted = numpy.ptp(grayscale.numpy(), axis=-1)[:, 0, 0] < 1e-4
    assert 0.15 < converted.mean() < 0.35


def test_augment_directly_and_in_fit_not_in_predict(backend, rng):
    images = rng.uniform(0, 255, (4, 6, 6, 3)).astype("float32")
    random_layers = [
        layers.RandomBrightness(0.3),
        layers.RandomGrayscale(factor=1.0),
        layers.RandomHue(0.5),
        layers.RandomSaturation((0.1, 0.2)),
        layers.RandomColorDegeneration((0.5, 1.0)),
        layers.RandomColorJitter(brightness_factor=0.2, hue_factor=0.3),
        layers.RandomInvert(factor=(1.0, 1.0)),
        layers.RandomPosterization(2),
        layers.Solarization(0.5, 0.5),
        layers.RandomSharpness((0.0, 0.2)),
        layers.RandomGaussianBlur(sigma=(0.5, 1.0)),
        layers.RandomShear(0.3, 0.3),
        layers.RandomPerspective(),
        layers.RandomErasing(),
        layers.MixUp(alpha=1.0),
        layers.CutMix(),
        layers.RandAugment(num_ops=3),
        layers.AugMix(),
    ]
    for layer in random_layers:
        assert layer(images, training=False).numpy() is not None
        numpy.testing.assert_array_equal(layer(images, training=False).numpy(), images)
    seen = []

    def record(x, training=None):
        seen.append((training, x.numpy().copy()))
        return x

    model = Sequential(
        [
            layers.Input((6, 6, 3)),
            layers.RandomHue(0.5),
            layers.RandomShear(0.3),
            layers.Lambda(record),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    seen.clear()
    model.predict(images, verbose=0)
    assert seen and all(numpy.allclose(x, images, atol=1e-3) for _, x in seen)
    seen.clear()
    model.fit(images, numpy.zeros((4, 1)), batch_size=4, epochs=1, verbose=0)
    assert [training for training, _ in seen] == [True] and not numpy.allclose(seen[0][1], images)
    # Keras documents AutoContrast and Equalization as active at inference too
    for layer in (layers.AutoContrast(), layers.Equalization()):
        numpy.testing.assert_array_equal(
            layer(images, training=False).numpy(), layer(images).numpy()
        )
        assert not numpy.allclose(layer(images, training=False).numpy(), images)


SEEDED = [
    lambda: layers.RandomBrightness(0.3, seed=7),
    lambda: layers.RandomGrayscale(seed=7),
    lambda: layers.RandomHue(0.5, seed=7),
    lambda: layers.RandomSaturation(0.8, seed=7),
    lambda: layers.RandomColorDegeneration(0.8, seed=7),
    lambda: layers.RandomColorJitter(contrast_factor=0.4, saturation_factor=0.6, seed=7),
    lambda: layers.RandomInvert(seed=7),
    lambda: layers.RandomPosterization(6, seed=7),
    lambda: layers.Solarization(0.3, 0.8, seed=7),
    lambda: layers.RandomSharpness(0.9, seed=7),
    lambda: layers.RandomGaussianBlur(factor=0.8, seed=7),
    lambda: layers.RandomCrop(3, 4, seed=7),
    lambda: layers.RandomShear(0.4, 0.4, seed=7),
    lambda: layers.RandomPerspective(seed=7),
    lambda: layers.RandomErasing(seed=7),
    lambda: layers.MixUp(seed=7),
    lambda: layers.CutMix(seed=7),
    lambda: layers.RandAugment(seed=7),
    lambda: layers.AugMix(seed=7),
]


@pytest.mark.parametrize("make", SEEDED, ids=lambda make: type(make()).__name__)
def test_seeds_make_augmentation_reproducible(backend, rng, make):
    images = rng.uniform(0, 255, (6, 5, 6, 3)).astype("float32")
    first, second = make(), make()
    outputs = [first(images).numpy() for _ in range(3)]
    for output in outputs:
        numpy.testing.assert_array_equal(output, second(images).numpy())
    assert any(not numpy.array_equal(outputs[0], other) for other in outputs[1:])
    engine.utils.set_random_seed(11)
    unseeded = type(first).from_config({**first.get_config(), "seed": None})
    again = [unseeded(images).numpy()]
    engine.utils.set_random_seed(11)
    unseeded = type(first).from_config({**first.get_config(), "seed": None})
    numpy.testing.assert_array_equal(again[0], unseeded(images).numpy())


# -- composite layers ------------------------------------------------------------------


def test_rand_augment_applies_the_chosen_layers(backend, rng):
    images = rng.uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    layer = scripted(layers.RandAugment, 3.2, 0.4, num_ops=1, factor=0.5)  # index 3: brightness
    brightness = numpy.clip(images + 0.4 * 255, 0, 255)
    numpy.testing.assert_allclose(layer(images).numpy(), brightness, atol=1e-3)
    layer = scripted(layers.RandAugment, 10.5, 9.9, num_ops=2)  # equalization, autocontrast
    expected = layers.AutoContrast()(layers.Equalization()(images))
    numpy.testing.assert_allclose(layer(images).numpy(), expected.numpy(), atol=1e-3)
    numpy.testing.assert_array_equal(layers.RandAugment(num_ops=0)(images).numpy(), images)
    out = layers.RandAugment(num_ops=4, factor=0.9, seed=3, value_range=(0, 1))(images / 255)
    assert out.shape == images.shape and numpy.isfinite(out.numpy()).all()
    names = [type(choice).__name__ for choice in layer._choices]
    assert names[:4] == ["RandomShear", "RandomTranslation", "RandomRotation", "RandomBrightness"]
    assert layer._choices[7].factor == (1, 4)  # posterization: max(1, int(8 * 0.5)) bits


def test_aug_mix_mixes_chains(backend, rng):
    images = rng.uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    # every step draws the last choice ("no augmentation"): the chains are the image itself
    unchanged = scripted(layers.AugMix, 11.5, num_chains=2, chain_depth=2)
    numpy.testing.assert_allclose(unchanged(images).numpy(), images, atol=1e-3)
    inverted = layers.AugMix(all_ops=False, seed=1)
    assert len(inverted._choices) == 7
    out = layers.AugMix(seed=2, value_range=(0, 1))(images / 255).numpy()
    assert out.min() >= 0 and out.max() <= 1 and not numpy.allclose(out, images / 255)


def test_color_jitter_applies_its_layers_in_order(backend, rng):
    images = rng.uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    jitter = scripted(
        layers.RandomColorJitter, 0.1, 1.2, brightness_factor=0.3, contrast_factor=0.5
    )
    brightened = numpy.clip(images + 25.5, 0, 255)
    mean = brightened.mean(axis=(1, 2), keepdims=True)
    expected = numpy.clip((brightened - mean) * 1.2 + mean, 0, 255)
    numpy.testing.assert_allclose(jitter(images).numpy(), expected, atol=1e-3)
    assert layers.RandomColorJitter()(images).shape == images.shape  # no factors: unchanged


def test_pipeline_applies_layers_in_order(backend, rng):
    images = rng.uniform(0, 255, (2, 6, 6, 3)).astype("float32")
    pipeline = layers.Pipeline(
        [scripted(layers.RandomBrightness, 0.1, factor=0.2), layers.CenterCrop(4, 4)]
    )
    out = pipeline(images).numpy()
    numpy.testing.assert_allclose(out, numpy.clip(images + 25.5, 0, 255)[:, 1:5, 1:5], atol=1e-4)
    numpy.testing.assert_array_equal(pipeline(images, training=False).numpy(), images[:, 1:5, 1:5])
    assert pipeline.compute_output_shape((None, 6, 6, 3)) == (None, 4, 4, 3)
    labels = numpy.eye(2, dtype="float32")
    mixed = layers.Pipeline(
        [layers.RandomShear(0.2), with_generator(layers.MixUp(), [1, 0], [1, 1])]
    )
    result = mixed({"images": images, "labels": labels})
    numpy.testing.assert_allclose(result["labels"].numpy(), labels)
    config = layers.Pipeline([layers.RandomInvert(), layers.CenterCrop(4, 4)]).get_config()
    assert [entry["class_name"] for entry in config["layers"]] == ["RandomInvert", "CenterCrop"]
    rebuilt = layers.Pipeline.from_config(config)
    assert rebuilt.get_config() == config
    assert type(rebuilt.layers[0]) is layers.RandomInvert


# -- gradients -------------------------------------------------------------------------


def test_gradients_reach_the_images(backend, float64, rng):
    images = rng.uniform(40, 200, (2, 3, 4, 3))
    for layer in (
        scripted(layers.RandomBrightness, 0.05, factor=0.3),
        scripted(layers.RandomGrayscale, 0.2),
        scripted(layers.RandomHue, 0.7, 0.3, factor=0.5),
        scripted(layers.RandomSaturation, 0.3, factor=(0, 0.5)),
        scripted(layers.RandomColorDegeneration, 0.4, factor=0.5),
        scripted(layers.RandomInvert, 1.0, 0.0),
        scripted(layers.Solarization, 11.0, 120.0, addition_factor=0.5, threshold_factor=0.5),
        layers.AutoContrast(),
        scripted(layers.RandomSharpness, 0.3, factor=0.5),
        scripted(layers.RandomGaussianBlur, 1.0, 0.0, [0.8, 0.5]),
        scripted(layers.RandomCrop, 0.5, 1.5, height=2, width=2),
        layers.RandomCrop(4, 3),  # inference path: crop and resize
        scripted(layers.RandomShear, 0.2, 0.15, -0.2, x_factor=0.3, fill_mode="constant"),
        scripted(layers.RandomPerspective, 1.0, 0.0, MOVES * 2, fill_value=3.0),
        scripted(layers.RandomErasing, 0.3, 0.5, 0.5, 1.0, 0.0, fill_value=1.0),
        with_generator(layers.MixUp(), [1, 0], [0.3, 0.8]),
        with_generator(scripted(layers.CutMix, 0.5, 0.3, 0.6), [1, 0], [0.7, 0.45]),
    ):
        check_gradients(layer, images, backend=backend, atol=1e-5)


# -- inputs, errors, configs, saving ---------------------------------------------------


def test_single_images_dicts_and_refused_inputs(backend):
    single = scripted(layers.RandomBrightness, 0.1, factor=0.3)(IMAGE[0])
    assert single.shape == IMAGE.shape[1:]
    labels = numpy.array([[0.0, 1.0]], "float32")
    out = layers.RandomHue(0.2, seed=1)({"images": IMAGE, "labels": labels})
    assert set(out) == {"images", "labels"}
    numpy.testing.assert_array_equal(out["labels"].numpy(), labels)
    with pytest.raises(ValueError, match="RandomHue 'hue'.*bounding boxes"):
        layers.RandomHue(0.2, name="hue")({"images": IMAGE, "bounding_boxes": labels})
    with pytest.raises(ValueError, match="RandomSaturation 'sat'.*3 channels"):
        layers.RandomSaturation(0.2, name="sat")(IMAGE[..., :1])
    with pytest.raises(ValueError, match="RandomInvert 'inv'.*channels-last images"):
        layers.RandomInvert(name="inv")(numpy.zeros((2, 3), "float32"))
    for make, message in (
        (lambda: layers.RandomBrightness(1.5, name="b"), "RandomBrightness 'b'.*`factor`"),
        (lambda: layers.RandomHue((0.1, 0.2, 0.3), name="h"), "RandomHue 'h'.*`factor`"),
        (lambda: layers.RandomPosterization(9, name="p"), "RandomPosterization 'p'.*\\[1, 8\\]"),
        (lambda: layers.RandomGrayscale(2, name="g"), "RandomGrayscale 'g'.*probability"),
        (lambda: layers.AutoContrast((1, 1), name="a"), "AutoContrast 'a'.*`value_range`"),
        (lambda: layers.Equalization(bins=1, name="e"), "Equalization 'e'.*`bins`"),
        (lambda: layers.RandomGaussianBlur(kernel_size=4, name="g"), "'g'.*odd"),
        (lambda: layers.RandomCrop(0, 3, name="c"), "RandomCrop 'c'.*`height`"),
        (lambda: layers.RandomShear(fill_mode="mirror", name="s"), "RandomShear 's'.*fill_mode"),
        (lambda: layers.RandomPerspective(scale=2, name="p"), "RandomPerspective 'p'.*`scale`"),
        (lambda: layers.RandomErasing(fill_value=[1, 2], name="e"), "RandomErasing 'e'.*fill"),
        (lambda: layers.MixUp(alpha=0, name="m"), "MixUp 'm'.*`alpha`"),
        (lambda: layers.RandAugment(num_ops=-1, name="r"), "RandAugment 'r'.*`num_ops`"),
        (lambda: layers.AugMix(chain_depth=0, name="a"), "AugMix 'a'.*`chain_depth`"),
        (lambda: layers.Pipeline(layers.Dense(2), name="p"), "Pipeline 'p'.*list of layers"),
    ):
        with pytest.raises(ValueError, match=message):
            make()


def test_output_shapes_in_functional_models(backend):
    inputs = layers.Input((8, 9, 3))
    crop = layers.RandomCrop(4, 5)(inputs)
    assert crop.shape == (None, 4, 5, 3)
    pipeline = layers.Pipeline([layers.RandomHue(0.1), layers.RandomCrop(6, 6), layers.Flatten()])
    assert pipeline(inputs).shape == (None, 108)


def test_configs_round_trip_and_models_save(backend, tmp_path, rng):
    images = rng.uniform(0, 255, (4, 8, 8, 3)).astype("float32")
    model = Sequential(
        [
            layers.Input((8, 8, 3)),
            layers.RandomColorJitter(brightness_factor=0.1, hue_factor=(0.1, 0.2), seed=1),
            layers.RandomGrayscale(0.2),
            layers.RandomSaturation((0.4, 0.6)),
            layers.RandomColorDegeneration(0.2),
            layers.RandomInvert(0.1),
            layers.RandomPosterization((4, 7)),
            layers.Solarization((0.1, 0.2), 0.9),
            layers.AutoContrast(),
            layers.Equalization(bins=64),
            layers.RandomSharpness(0.2),
            layers.RandomGaussianBlur(0.5, kernel_size=(3, 5), sigma=(0.2, 2.0)),
            layers.RandomShear(0.1, (-0.2, 0.1), fill_mode="constant", fill_value=2.0),
            layers.RandomPerspective(0.3, scale=0.5, interpolation="nearest"),
            layers.RandomErasing(0.5, scale=0.2, fill_value=[1, 2, 3]),
            layers.RandAugment(num_ops=1, factor=0.2),
            layers.AugMix(num_chains=2, chain_depth=1, all_ops=False),
            layers.Pipeline([layers.RandomCrop(6, 6, seed=3), layers.Rescaling(1 / 255.0)]),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(images, numpy.zeros((4, 2)), epochs=1, verbose=0)
    path = tmp_path / "augmentation.safetensors"
    model.save(path)
    loaded = load_model(path)
    for original, copy in zip(model.layers, loaded.layers):
        assert type(copy) is type(original) and copy.get_config() == original.get_config()
    numpy.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5
    )
