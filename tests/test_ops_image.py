"""``engine.ops_image`` (Keras 3's ``keras.ops.image``): values against NumPy formulas written
here, gradients against finite differences, result dtypes, errors; on every backend.

The formulas were checked against Keras 3.15 on JAX (``keras.ops.image``) on the same
inputs: equal to float32 rounding (integer results equal, but for one float32 tie).
Keras's fill modes are written with NumPy's ``pad`` (see ``PAD_MODES``).
"""

import colorsys
import itertools

import numpy
import pytest

from engine import ops, ops_image
from engine.layers import Dense, Input, Layer
from engine.models import Model
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(0)


@pytest.fixture(autouse=True)
def _same_data_in_any_order():
    """Each test draws its data from a fresh generator: under pytest-xdist the tests of this
    file run in varying orders and workers, and a shared stream made their inputs (and a
    rounding tie in the uint8 tests) depend on that order."""
    global rng
    rng = numpy.random.default_rng(0)


def uniform(*shape, low=0.0, high=1.0, dtype="float32"):
    return rng.uniform(low, high, shape).astype(dtype)


def to_first(x):
    """Channels-last images (batched or not) as channels-first."""
    return numpy.moveaxis(x, -1, -3)


# -- NumPy references ---------------------------------------------------------------------


def _keys_cubic(x):
    return numpy.where(
        x < 1,
        (1.5 * x - 2.5) * x * x + 1,
        numpy.where(x < 2, ((-0.5 * x + 2.5) * x - 4) * x + 2, 0),
    )


def _lanczos3(x):
    safe = numpy.where(x == 0, 1.0, x)
    value = 3 * numpy.sin(numpy.pi * safe) * numpy.sin(numpy.pi * safe / 3) / (numpy.pi * safe) ** 2
    return numpy.where(x < 1e-3, 1.0, numpy.where(x > 3, 0.0, value))


def resize_matrix(n_in, n_out, interpolation, antialias=False):
    """``(n_out, n_in)``: each output row's weights over the input (half-pixel centres)."""
    out = numpy.arange(n_out)
    if interpolation == "nearest":
        matrix = numpy.zeros((n_out, n_in))
        matrix[out, numpy.floor((out + 0.5) * n_in / n_out).astype(int)] = 1
        return matrix
    if interpolation == "bilinear" and not (antialias and n_out < n_in):
        # the textbook formula: clamp the source position, blend its two neighbours
        source = numpy.clip((out + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = numpy.floor(source).astype(int)
        high = numpy.minimum(low + 1, n_in - 1)
        matrix = numpy.zeros((n_out, n_in))
        numpy.add.at(matrix, (out, low), 1 - (source - low))
        numpy.add.at(matrix, (out, high), source - low)
        return matrix
    kernel = {"bilinear": lambda d: numpy.maximum(0, 1 - d), "bicubic": _keys_cubic}.get(
        interpolation, _lanczos3
    )
    stretch = max(n_in / n_out, 1.0) if antialias else 1.0
    source = (out + 0.5) * n_in / n_out - 0.5
    weights = kernel(numpy.abs(source[:, None] - numpy.arange(n_in)[None, :]) / stretch)
    return weights / weights.sum(axis=1, keepdims=True)


def resize_reference(x, size, interpolation="bilinear", antialias=False):
    """Channels-last ``x`` (batched or not) resized to ``size``."""
    rows = resize_matrix(x.shape[-3], size[0], interpolation, antialias)
    cols = resize_matrix(x.shape[-2], size[1], interpolation, antialias)
    return numpy.einsum("oh,...hwc,pw->...opc", rows, x.astype(numpy.float64), cols)


def patches_reference(x, size, strides, dilation, padding):
    """2-D patches of a channels-last batch by loops: ``(n, rows, cols, ph * pw * c)``."""
    n, height, width, channels = x.shape
    extents = [(k - 1) * d + 1 for k, d in zip(size, dilation)]
    if padding == "valid":
        outs = [(length - e) // s + 1 for length, e, s in zip((height, width), extents, strides)]
        x_padded = x
    else:
        outs = [-(-length // s) for length, s in zip((height, width), strides)]
        totals = [
            max((o - 1) * s + e - length, 0)
            for o, s, e, length in zip(outs, strides, extents, (height, width))
        ]
        x_padded = numpy.pad(x, [(0, 0), *[(t // 2, t - t // 2) for t in totals], (0, 0)])
    result = numpy.zeros((n, *outs, size[0] * size[1] * channels), dtype=x.dtype)
    for r, c in itertools.product(range(outs[0]), range(outs[1])):
        top, left = r * strides[0], c * strides[1]
        window = x_padded[
            :,
            top : top + extents[0] : dilation[0],
            left : left + extents[1] : dilation[1],
        ]
        result[:, r, c] = window.reshape(n, -1)
    return result


#: Keras's fill modes as NumPy's pad modes: past the edge, ``(k | a b c d | k)``,
#: ``(a | a b c d | d)``, ``(a b c d | a b c d | a b c d)``, ``(c d c b | a b c d | c b a b)``
#: and ``(d c b a | a b c d | d c b a)``
PAD_MODES = {
    "constant": "constant",
    "nearest": "edge",
    "wrap": "wrap",
    "mirror": "reflect",
    "reflect": "symmetric",
}


def map_reference(array, coordinates, order, fill_mode="constant", fill_value=0.0):
    """``array`` (any rank) at ``coordinates`` ``(rank, *out)``: the array padded in
    ``fill_mode`` far enough, then read at the nearest point (halves away from zero) or
    interpolated linearly between the neighbours."""
    coordinates = numpy.asarray(coordinates, dtype=numpy.float64)
    margin = int(numpy.abs(coordinates).max()) + 3
    kwargs = {"constant_values": fill_value} if fill_mode == "constant" else {}
    padded = numpy.pad(array.astype(numpy.float64), margin, mode=PAD_MODES[fill_mode], **kwargs)
    if order == 0:
        index = numpy.sign(coordinates) * numpy.floor(numpy.abs(coordinates) + 0.5)
        return padded[tuple(index.astype(int) + margin)]
    points = coordinates + margin
    low = numpy.floor(points)
    result = 0.0
    for corner in itertools.product((0, 1), repeat=array.ndim):
        weight, index = 1.0, []
        for axis, step in enumerate(corner):
            fraction = points[axis] - low[axis]
            weight = weight * (fraction if step else 1 - fraction)
            index.append(low[axis].astype(int) + step)
        result = result + weight * padded[tuple(index)]
    return result


def affine_reference(images, transform, order, fill_mode="constant", fill_value=0.0):
    """A channels-last batch sampled at ``x' = a0 x + a1 y + a2``, ``y' = b0 x + b1 y + b2``
    (float32 positions, as Keras computes them)."""
    n, height, width, channels = images.shape
    rows, cols = numpy.meshgrid(
        numpy.arange(height, dtype=numpy.float32),
        numpy.arange(width, dtype=numpy.float32),
        indexing="ij",
    )
    out = numpy.zeros(images.shape)
    for i in range(n):
        a0, a1, a2, b0, b1, b2 = transform[i][:6].astype(numpy.float32)
        coordinates = numpy.stack([b0 * cols + b1 * rows + b2, a0 * cols + a1 * rows + a2])
        for c in range(channels):
            out[i, ..., c] = map_reference(
                images[i, ..., c], coordinates, order, fill_mode, fill_value
            )
    return out


def correlate_same(image, kernel):
    """2-D correlation of one ``(h, w)`` plane with ``kernel``, zero "same" padding."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = numpy.pad(image, [(top, kh - 1 - top), (left, kw - 1 - left)])
    out = numpy.zeros(image.shape)
    for i, j in itertools.product(range(kh), range(kw)):
        out += kernel[i, j] * padded[i : i + image.shape[0], j : j + image.shape[1]]
    return out


def gaussian_kernel_1d(size, sigma):
    x = numpy.arange(size) - (size - 1) / 2
    kernel = numpy.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


# -- resize -------------------------------------------------------------------------------

RESIZES = [
    (interpolation, size, antialias)
    for interpolation in ("bilinear", "nearest", "bicubic", "lanczos3")
    for size in ((8, 11), (3, 4), (2, 9))
    for antialias in (False, True)
]


@pytest.mark.parametrize("interpolation, size, antialias", RESIZES)
def test_resize_against_formula(backend, interpolation, size, antialias):
    x = uniform(2, 5, 6, 2)
    result = ops_image.resize(x, size, interpolation=interpolation, antialias=antialias)
    assert result.backend is backend and result.dtype == numpy.float32
    assert result.shape == (2, *size, 2)
    expected = resize_reference(x, size, interpolation, antialias)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_resize_one_image_channels_first_and_lanczos5(backend):
    x = uniform(2, 5, 7, 3)
    batched = ops_image.resize(x, (4, 9), interpolation="lanczos5").numpy()
    assert ops_image.resize(x[1], (4, 9), interpolation="lanczos5").shape == (4, 9, 3)
    numpy.testing.assert_allclose(
        ops_image.resize(x[1], (4, 9), interpolation="lanczos5").numpy(), batched[1], rtol=1e-6
    )
    first = ops_image.resize(to_first(x), (4, 9), "lanczos5", data_format="channels_first")
    assert first.shape == (2, 3, 4, 9)
    numpy.testing.assert_allclose(first.numpy(), to_first(batched), rtol=1e-6)
    # an axis of the same size is left as it is (every kernel would interpolate it to itself)
    same = ops_image.resize(x, (5, 3), interpolation="bicubic").numpy()
    numpy.testing.assert_allclose(same, resize_reference(x, (5, 3), "bicubic"), rtol=1e-5)


def test_resize_crop_and_pad_to_aspect_ratio(backend):
    x = uniform(2, 6, 9, 2)
    # crop: the largest centred 1:1 window (6 x 6, columns 1..6), then resized
    cropped = ops_image.resize(x, (4, 4), crop_to_aspect_ratio=True)
    numpy.testing.assert_allclose(
        cropped.numpy(), resize_reference(x[:, :, 1:7], (4, 4)), rtol=1e-5, atol=1e-6
    )
    # pad: 9 x 9 with (9 - 6) // 2 = 1 row of fill_value above and below, then resized
    padded = ops_image.resize(x, (5, 5), pad_to_aspect_ratio=True, fill_value=0.5)
    reference = numpy.pad(x, [(0, 0), (1, 1), (0, 0), (0, 0)], constant_values=0.5)
    numpy.testing.assert_allclose(
        padded.numpy(), resize_reference(reference, (5, 5)), rtol=1e-5, atol=1e-6
    )
    tall = ops_image.resize(x, (10, 3), pad_to_aspect_ratio=True, fill_value=-1.0)
    reference = numpy.pad(x, [(0, 0), (12, 12), (0, 0), (0, 0)], constant_values=-1.0)  # 30 x 9
    numpy.testing.assert_allclose(
        tall.numpy(), resize_reference(reference, (10, 3)), rtol=1e-5, atol=1e-6
    )


def test_resize_integer_images_round_and_saturate(backend):
    x = (uniform(1, 6, 6, 1) > 0.5).astype(numpy.uint8) * 255  # bicubic overshoots 0 and 255
    result = ops_image.resize(x, (9, 4), interpolation="bicubic")
    assert result.dtype == numpy.uint8
    expected = numpy.clip(numpy.round(resize_reference(x, (9, 4), "bicubic")), 0, 255)
    numpy.testing.assert_array_equal(result.numpy(), expected)
    nearest = ops_image.resize(x.astype(numpy.int32), (9, 4), interpolation="nearest")
    assert nearest.dtype == numpy.int32
    numpy.testing.assert_array_equal(nearest.numpy(), resize_reference(x, (9, 4), "nearest"))
    # padded in float: a fill of 0.7 comes out as 1, as on Keras
    padded = ops_image.resize(
        x, (3, 6), interpolation="nearest", pad_to_aspect_ratio=True, fill_value=0.7
    )
    reference = numpy.pad(x.astype(float), [(0, 0), (0, 0), (3, 3), (0, 0)], constant_values=0.7)
    expected = numpy.round(resize_reference(reference, (3, 6), "nearest"))
    assert padded.dtype == numpy.uint8
    numpy.testing.assert_array_equal(padded.numpy(), expected)
    assert padded.numpy()[0, 0, 0, 0] == 1


@pytest.mark.parametrize(
    "interpolation, antialias", [("bilinear", False), ("nearest", False), ("bicubic", True)]
)
def test_resize_gradients(backend, float64, interpolation, antialias):
    x = uniform(1, 4, 5, 2, dtype="float64")
    check_gradients(
        lambda t: ops_image.resize(t, (3, 7), interpolation=interpolation, antialias=antialias),
        x,
        backend=backend,
    )


# -- extract_patches ----------------------------------------------------------------------

PATCHES = [
    ((2, 2), None, 1, "valid"),
    ((3, 2), (2, 1), 1, "valid"),
    ((2, 2), (1, 1), (2, 1), "valid"),
    ((3, 3), (2, 2), 1, "same"),
    ((2, 3), (3, 2), (1, 2), "same"),
]


@pytest.mark.parametrize("size, strides, dilation, padding", PATCHES)
def test_extract_patches_against_loops(backend, size, strides, dilation, padding):
    x = uniform(2, 7, 8, 3)
    result = ops_image.extract_patches(x, size, strides, dilation, padding)
    expected = patches_reference(
        x,
        size,
        strides or size,
        (dilation,) * 2 if isinstance(dilation, int) else dilation,
        padding,
    )
    assert result.dtype == numpy.float32
    numpy.testing.assert_array_equal(result.numpy(), expected)


def test_extract_patches_one_image_channels_first_integers_and_volumes(backend):
    x = uniform(2, 6, 7, 3)
    expected = patches_reference(x, (3, 3), (2, 2), (1, 1), "same")
    numpy.testing.assert_array_equal(
        ops_image.extract_patches(x[0], 3, 2, padding="same").numpy(), expected[0]
    )
    first = ops_image.extract_patches(
        to_first(x), 3, 2, padding="same", data_format="channels_first"
    )
    numpy.testing.assert_array_equal(first.numpy(), to_first(expected))
    integers = (x * 255).astype(numpy.uint8)
    result = ops_image.extract_patches(integers, 2)
    assert result.dtype == numpy.uint8
    numpy.testing.assert_array_equal(
        result.numpy(), patches_reference(integers, (2, 2), (2, 2), (1, 1), "valid")
    )
    # volumes: each patch's voxels in (depth, row, column) order, then channels
    volumes = uniform(2, 4, 5, 6, 2)
    patches = ops_image.extract_patches(volumes, (2, 3, 2))
    assert patches.shape == (2, 2, 1, 3, 24)
    block = volumes[1, 2:4, 0:3, 4:6].reshape(-1)
    numpy.testing.assert_array_equal(patches.numpy()[1, 1, 0, 2], block)
    numpy.testing.assert_array_equal(
        ops_image.extract_patches_3d(volumes[1], 2).numpy()[1, 1, 2],
        volumes[1, 2:4, 2:4, 4:6].reshape(-1),
    )


@pytest.mark.parametrize("size, strides, padding", [(2, None, "valid"), (3, 2, "same")])
def test_extract_patches_gradients(backend, float64, size, strides, padding):
    x = uniform(1, 5, 4, 2, dtype="float64")
    check_gradients(
        lambda t: ops_image.extract_patches(t, size, strides, padding=padding), x, backend=backend
    )


class Patches(Layer):
    """keras.io's Vision Transformer example's patch layer, as written there."""

    def __init__(self, patch_size):
        super().__init__()
        self.patch_size = patch_size

    def call(self, images):
        input_shape = ops.shape(images)
        batch_size, height, width, channels = input_shape
        num_patches_h = height // self.patch_size
        num_patches_w = width // self.patch_size
        patches = ops_image.extract_patches(images, size=self.patch_size)
        return ops.reshape(
            patches,
            (batch_size, num_patches_h * num_patches_w, self.patch_size**2 * channels),
        )


def test_vision_transformer_patches_layer(backend):
    # eager, on a resized uint8 image as the example shows its patches
    image = (uniform(5, 5, 3) * 255).astype(numpy.uint8)
    resized = ops_image.resize(ops.convert_to_tensor([image]), size=(8, 8))
    assert resized.dtype == numpy.uint8 and resized.shape == (1, 8, 8, 3)
    patches = Patches(4)(resized)
    assert patches.shape == (1, 4, 48)
    numpy.testing.assert_array_equal(
        patches.numpy()[0, 1], resized.numpy()[0, 0:4, 4:8].reshape(-1)
    )
    # in a functional model, trained through the patches
    inputs = Input(shape=(8, 8, 3))
    outputs = Dense(2)(Patches(4)(inputs))
    model = Model(inputs, outputs)
    assert model.output_shape == (None, 4, 2)
    x = uniform(3, 8, 8, 3)
    expected = patches_reference(x, (4, 4), (4, 4), (1, 1), "valid").reshape(3, 4, 48)
    kernel, bias = (w.numpy() for w in model.layers[-1].weights)
    numpy.testing.assert_allclose(model(x).numpy(), expected @ kernel + bias, rtol=1e-5)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, numpy.zeros((3, 4, 2), numpy.float32), epochs=1, verbose=0)


# -- pad_images, crop_images --------------------------------------------------------------


def test_pad_images_and_crop_images_against_numpy(backend):
    x = uniform(2, 5, 6, 3)
    padded = ops_image.pad_images(x, 1, 2, 3, 0)
    numpy.testing.assert_array_equal(padded.numpy(), numpy.pad(x, [(0, 0), (1, 3), (2, 0), (0, 0)]))
    single = ops_image.pad_images(
        x[0], top_padding=2, right_padding=1, target_height=9, target_width=8
    )
    numpy.testing.assert_array_equal(single.numpy(), numpy.pad(x[0], [(2, 2), (1, 1), (0, 0)]))
    first = ops_image.pad_images(
        to_first(x), bottom_padding=0, left_padding=1, target_height=6, target_width=7,
        data_format="channels_first",
    )  # fmt: skip
    numpy.testing.assert_array_equal(
        first.numpy(), to_first(numpy.pad(x, [(0, 0), (1, 0), (1, 0), (0, 0)]))
    )
    integers = (x * 10).astype(numpy.int32)
    assert ops_image.pad_images(integers, 1, 1, 1, 1).dtype == numpy.int32

    cropped = ops_image.crop_images(x, 1, 2, 3, 0)
    numpy.testing.assert_array_equal(cropped.numpy(), x[:, 1:2, 2:])
    single = ops_image.crop_images(
        x[0], top_cropping=2, right_cropping=1, target_height=3, target_width=2
    )
    numpy.testing.assert_array_equal(single.numpy(), x[0, 2:5, 3:5])
    first = ops_image.crop_images(
        to_first(x), bottom_cropping=1, left_cropping=1, target_height=3, target_width=4,
        data_format="channels_first",
    )  # fmt: skip
    numpy.testing.assert_array_equal(first.numpy(), to_first(x[:, 1:4, 1:5]))


def test_pad_and_crop_gradients(backend, float64):
    x = uniform(2, 3, 4, 2, dtype="float64")
    check_gradients(lambda t: ops_image.pad_images(t, 1, 0, 2, 1), x, backend=backend)
    check_gradients(
        lambda t: ops_image.crop_images(t, 1, 1, target_height=2, target_width=2),
        x,
        backend=backend,
    )


# -- colour -------------------------------------------------------------------------------


def test_rgb_to_grayscale(backend):
    x = uniform(2, 3, 4, 3)
    luma = x @ numpy.array([0.2989, 0.587, 0.114])
    result = ops_image.rgb_to_grayscale(x)
    assert result.shape == (2, 3, 4, 1) and result.dtype == numpy.float32
    numpy.testing.assert_allclose(result.numpy()[..., 0], luma, rtol=1e-6)
    first = ops_image.rgb_to_grayscale(to_first(x[0]), data_format="channels_first")
    assert first.shape == (1, 3, 4)
    numpy.testing.assert_allclose(first.numpy()[0], luma[0], rtol=1e-6)
    integers = (x * 255).astype(numpy.uint8)
    result = ops_image.rgb_to_grayscale(integers)  # converted in float, truncated back
    assert result.dtype == numpy.uint8
    numpy.testing.assert_array_equal(
        result.numpy()[..., 0],
        (integers @ numpy.array([0.2989, 0.587, 0.114], numpy.float32)).astype(numpy.uint8),
    )
    grey = x[..., :1]
    numpy.testing.assert_array_equal(ops_image.rgb_to_grayscale(grey).numpy(), grey)


def test_rgb_to_hsv_and_back_against_colorsys(backend):
    x = uniform(2, 3, 4, 3)
    x[0, 0, 0] = [0.5, 0.5, 0.5]  # grey: hue 0, saturation 0
    x[0, 0, 1] = [0.0, 0.0, 0.0]
    x[0, 0, 2] = [0.9, 0.9, 0.1]  # a tie between red and green
    hsv = ops_image.rgb_to_hsv(x)
    assert hsv.dtype == numpy.float32
    expected = numpy.apply_along_axis(lambda p: colorsys.rgb_to_hsv(*p), -1, x)
    numpy.testing.assert_allclose(hsv.numpy(), expected, rtol=1e-5, atol=1e-6)
    first = ops_image.rgb_to_hsv(to_first(x), data_format="channels_first")
    numpy.testing.assert_allclose(first.numpy(), to_first(expected), rtol=1e-5, atol=1e-6)

    planes = uniform(3, 4, 3)
    planes[..., 0] = rng.uniform(-1.5, 2.5, (3, 4))  # hue is taken modulo 1
    rgb = ops_image.hsv_to_rgb(planes)
    expected = numpy.apply_along_axis(lambda p: colorsys.hsv_to_rgb(p[0] % 1, *p[1:]), -1, planes)
    numpy.testing.assert_allclose(rgb.numpy(), expected, rtol=1e-5, atol=1e-6)
    first = ops_image.hsv_to_rgb(to_first(planes), data_format="channels_first")
    numpy.testing.assert_allclose(first.numpy(), to_first(expected), rtol=1e-5, atol=1e-6)


def test_colour_gradients(backend, float64):
    x = uniform(1, 2, 3, 3, low=0.1, high=0.9, dtype="float64")
    check_gradients(ops_image.rgb_to_grayscale, x, backend=backend)
    check_gradients(ops_image.rgb_to_hsv, x, backend=backend)
    check_gradients(ops_image.hsv_to_rgb, x, backend=backend)


# -- affine_transform, map_coordinates ----------------------------------------------------

TRANSFORMS = numpy.array(
    [
        [1.3, 0.2, -1.5, -0.1, 0.8, 0.7, 0, 0],  # a general map
        [1.0, 0.0, 0.5, 0.0, 1.0, -1.5, 0, 0],  # a shift by halves: ties for "nearest"
    ],
    dtype=numpy.float32,
)


@pytest.mark.parametrize(
    "interpolation, fill_mode",
    list(itertools.product(("bilinear", "nearest"), tuple(PAD_MODES))),
)
def test_affine_transform_against_formula(backend, interpolation, fill_mode):
    x = uniform(2, 5, 6, 2)
    result = ops_image.affine_transform(x, TRANSFORMS, interpolation, fill_mode, fill_value=0.4)
    assert result.dtype == numpy.float32 and result.shape == x.shape
    order = ("nearest", "bilinear").index(interpolation)
    expected = affine_reference(x, TRANSFORMS, order, fill_mode, 0.4)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_affine_transform_one_image_channels_first_and_integers(backend):
    x = uniform(2, 5, 6, 3)
    expected = affine_reference(x, TRANSFORMS, 1, "reflect")
    single = ops_image.affine_transform(x[0], TRANSFORMS[0], fill_mode="reflect")
    numpy.testing.assert_allclose(single.numpy(), expected[0], rtol=1e-5, atol=1e-6)
    first = ops_image.affine_transform(
        to_first(x), TRANSFORMS, fill_mode="reflect", data_format="channels_first"
    )
    numpy.testing.assert_allclose(first.numpy(), to_first(expected), rtol=1e-5, atol=1e-6)
    # one transform for every image of a batch
    both = ops_image.affine_transform(x, TRANSFORMS[1])
    numpy.testing.assert_allclose(
        both.numpy(), affine_reference(x, TRANSFORMS[[1, 1]], 1), rtol=1e-5, atol=1e-6
    )
    # integers: rounded (halves away from zero), the fill value cast to the dtype first
    integers = (x * 255).astype(numpy.uint8)
    result = ops_image.affine_transform(integers, TRANSFORMS, fill_value=7.6)
    assert result.dtype == numpy.uint8
    reference = affine_reference(integers, TRANSFORMS, 1, "constant", 7)
    assert numpy.abs(result.numpy() - numpy.floor(reference + 0.5)).max() <= 1  # float32 ties


def test_affine_transform_gradients(backend, float64):
    x = uniform(2, 4, 5, 2, dtype="float64")
    check_gradients(
        lambda t: ops_image.affine_transform(t, TRANSFORMS, fill_value=0.3), x, backend=backend
    )
    check_gradients(
        lambda t: ops_image.affine_transform(t, TRANSFORMS, "nearest", "wrap"), x, backend=backend
    )


@pytest.mark.parametrize(
    "order, fill_mode",
    list(itertools.product((0, 1), tuple(PAD_MODES))),
)
def test_map_coordinates_against_formula(backend, order, fill_mode):
    array = uniform(4, 5)
    coordinates = rng.uniform(-3.0, 7.0, (2, 3, 6)).astype(numpy.float32)
    coordinates[:, 0, :4] = [[-0.5, 0.5, 1.5, 2.5], [3.5, -1.5, 4.5, 5.5]]  # ties
    result = ops_image.map_coordinates(array, coordinates, order, fill_mode, fill_value=-0.3)
    assert result.shape == (3, 6) and result.dtype == numpy.float32
    expected = map_reference(array, coordinates, order, fill_mode, -0.3)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_map_coordinates_ranks_and_dtypes(backend):
    volume = uniform(3, 4, 5)
    points = rng.uniform(-1.0, 5.0, (3, 7))
    result = ops_image.map_coordinates(volume, list(points), 1, "mirror")
    numpy.testing.assert_allclose(
        result.numpy(), map_reference(volume, points, 1, "mirror"), rtol=1e-5, atol=1e-6
    )
    line = uniform(6)
    points = ops.convert_to_tensor(rng.uniform(-2.0, 8.0, (1, 2, 2)))
    result = ops_image.map_coordinates(line, points, 1, fill_mode="wrap")
    assert result.shape == (2, 2)
    numpy.testing.assert_allclose(
        result.numpy(), map_reference(line, points.numpy(), 1, "wrap"), rtol=1e-5, atol=1e-6
    )
    integers = numpy.arange(12, dtype=numpy.int32).reshape(3, 4)
    result = ops_image.map_coordinates(integers, [[0.5, 1.25], [0.5, 2.0]], 1)
    assert result.dtype == numpy.int32  # 2.5 and 7: rounded half away from zero
    numpy.testing.assert_array_equal(result.numpy(), [3, 7])


def test_map_coordinates_gradients(backend, float64):
    array = uniform(4, 5, dtype="float64")
    coordinates = rng.uniform(-1.0, 5.0, (2, 6))
    for order, fill_mode in ((1, "constant"), (1, "reflect"), (0, "nearest")):
        check_gradients(
            lambda t, o=order, m=fill_mode: ops_image.map_coordinates(t, coordinates, o, m, 0.5),
            array,
            backend=backend,
        )


# -- gaussian_blur, sobel_edges -----------------------------------------------------------


@pytest.mark.parametrize("kernel_size, sigma", [((3, 3), (1.0, 1.0)), ((5, 2), (2.0, 0.7))])
def test_gaussian_blur_against_formula(backend, kernel_size, sigma):
    x = uniform(2, 6, 7, 2)
    result = ops_image.gaussian_blur(x, kernel_size, sigma)
    assert result.dtype == numpy.float32 and result.shape == x.shape
    # Keras's kernel: the first size and sigma along the width, the second along the height
    kernel = numpy.outer(
        gaussian_kernel_1d(kernel_size[1], sigma[1]), gaussian_kernel_1d(kernel_size[0], sigma[0])
    )
    expected = numpy.stack(
        [[correlate_same(x[n, ..., c], kernel) for c in range(2)] for n in range(2)]
    ).transpose(0, 2, 3, 1)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-6)
    first = ops_image.gaussian_blur(to_first(x[0]), kernel_size, sigma, "channels_first")
    numpy.testing.assert_allclose(first.numpy(), to_first(expected[0]), rtol=1e-5, atol=1e-6)


def test_sobel_edges_against_formula(backend):
    x = uniform(2, 5, 6, 2)
    result = ops_image.sobel_edges(x)
    assert result.shape == (2, 5, 6, 2, 2)
    vertical = numpy.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float)
    for k, kernel in enumerate((vertical, vertical.T)):
        expected = numpy.stack(
            [[correlate_same(x[n, ..., c], kernel) for c in range(2)] for n in range(2)]
        ).transpose(0, 2, 3, 1)
        numpy.testing.assert_allclose(result.numpy()[..., k], expected, rtol=1e-5, atol=1e-5)


def test_blur_and_sobel_gradients(backend, float64):
    x = uniform(1, 4, 5, 2, dtype="float64")
    check_gradients(lambda t: ops_image.gaussian_blur(t, (3, 2), (1.0, 0.6)), x, backend=backend)
    check_gradients(ops_image.sobel_edges, x, backend=backend)


# -- perspective_transform ----------------------------------------------------------------


def homography_reference(start, end):
    """The projective map ``[a0, a1, a2, b0, b1, b2, c0, c1]`` taking the four ``end`` corners
    to the four ``start`` corners: ``x_s (c0 x_e + c1 y_e + 1) = a0 x_e + a1 y_e + a2``, and
    likewise for ``y_s``, solved as eight linear equations."""
    rows, targets = [], []
    for (sx, sy), (ex, ey) in zip(start, end):
        rows.append([ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey])
        rows.append([0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey])
        targets += [sx, sy]
    return numpy.linalg.solve(numpy.array(rows, float), numpy.array(targets, float))


def perspective_reference(images, start, end, order, fill_value=0.0):
    n, height, width, channels = images.shape
    rows, cols = numpy.meshgrid(numpy.arange(height), numpy.arange(width), indexing="ij")
    out = numpy.zeros(images.shape)
    for i in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = homography_reference(start[i], end[i])
        k = c0 * cols + c1 * rows + 1
        coordinates = numpy.stack(
            [(b0 * cols + b1 * rows + b2) / k, (a0 * cols + a1 * rows + a2) / k]
        )
        for c in range(channels):
            out[i, ..., c] = map_reference(
                images[i, ..., c], coordinates, order, "constant", fill_value
            )
    return out


CORNERS = numpy.array([[[0, 0], [0, 5], [6, 0], [6, 5]]] * 2, dtype=numpy.float32)
MOVED = numpy.array(
    [
        [[0.6, 0.3], [0.2, 4.7], [5.3, -0.8], [6.4, 5.2]],
        [[1.1, 0.4], [0.7, 5.6], [5.8, 0.9], [6.2, 4.1]],
    ],
    dtype=numpy.float32,
)


@pytest.mark.parametrize(
    "interpolation, fill_value", list(itertools.product(("bilinear", "nearest"), (0, 0.6)))
)
def test_perspective_transform_against_formula(backend, interpolation, fill_value):
    x = uniform(2, 5, 6, 2)
    result = ops_image.perspective_transform(x, CORNERS, MOVED, interpolation, fill_value)
    assert result.dtype == numpy.float32 and result.shape == x.shape
    order = ("nearest", "bilinear").index(interpolation)
    expected = perspective_reference(x, CORNERS, MOVED, order, fill_value)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=2e-5)
    # the other way round: the moved corners to the image's
    back = ops_image.perspective_transform(x, MOVED, CORNERS, interpolation, fill_value)
    expected = perspective_reference(x, MOVED, CORNERS, order, fill_value)
    numpy.testing.assert_allclose(back.numpy(), expected, rtol=1e-5, atol=2e-5)


def test_perspective_transform_one_image_channels_first_identity_and_integers(backend):
    x = uniform(2, 5, 6, 3)
    expected = perspective_reference(x, CORNERS, MOVED, 1, 0.2)
    single = ops_image.perspective_transform(x[1], CORNERS[1], MOVED[1], fill_value=0.2)
    numpy.testing.assert_allclose(single.numpy(), expected[1], rtol=1e-5, atol=2e-5)
    first = ops_image.perspective_transform(
        to_first(x), CORNERS, MOVED, fill_value=0.2, data_format="channels_first"
    )
    numpy.testing.assert_allclose(first.numpy(), to_first(expected), rtol=1e-5, atol=2e-5)
    same = ops_image.perspective_transform(x, CORNERS, CORNERS, "nearest")
    numpy.testing.assert_allclose(same.numpy(), x, atol=1e-6)
    # one set of points for every image of a batch
    both = ops_image.perspective_transform(x, CORNERS[0], MOVED[1])
    numpy.testing.assert_allclose(
        both.numpy(),
        perspective_reference(x, CORNERS, MOVED[[1, 1]], 1),
        rtol=1e-5,
        atol=2e-5,
    )
    integers = (x * 255).astype(numpy.uint8)
    result = ops_image.perspective_transform(integers, CORNERS, MOVED, fill_value=7.6)
    assert result.dtype == numpy.uint8
    reference = perspective_reference(integers, CORNERS, MOVED, 1, 7)
    assert numpy.abs(result.numpy() - numpy.floor(reference + 0.5)).max() <= 1


def test_perspective_transform_gradients(backend, float64):
    x = uniform(2, 4, 5, 2, dtype="float64")
    for interpolation in ("bilinear", "nearest"):
        check_gradients(
            lambda t, i=interpolation: ops_image.perspective_transform(
                t, CORNERS, MOVED, i, fill_value=0.3
            ),
            x,
            backend=backend,
        )


# -- scale_and_translate ------------------------------------------------------------------


def _lanczos5(x):
    safe = numpy.where(x == 0, 1.0, x)
    value = 5 * numpy.sin(numpy.pi * safe) * numpy.sin(numpy.pi * safe / 5) / (numpy.pi * safe) ** 2
    return numpy.where(x < 1e-3, 1.0, numpy.where(x > 5, 0.0, value))


def scale_translate_matrix(n_in, n_out, scale, translation, kernel, antialias):
    """``(n_out, n_in)``: output ``o`` reads input position ``(o + 0.5 - translation) / scale -
    0.5``, kernel weights (widened by ``1 / scale`` when shrinking with ``antialias``) summing
    to 1, a zero row when the position is outside ``[-0.5, n_in - 0.5]``."""
    kernel = {
        "linear": lambda d: numpy.maximum(0, 1 - d),
        "cubic": _keys_cubic,
        "lanczos3": _lanczos3,
        "lanczos5": _lanczos5,
    }[kernel]
    source = (numpy.arange(n_out) + 0.5 - translation) / scale - 0.5
    stretch = max(1 / scale, 1.0) if antialias else 1.0
    weights = kernel(numpy.abs(source[:, None] - numpy.arange(n_in)[None, :]) / stretch)
    total = weights.sum(axis=1, keepdims=True)
    weights = weights / numpy.where(total == 0, 1.0, total)
    inside = (source >= -0.5) & (source <= n_in - 0.5)
    return numpy.where(inside[:, None], weights, 0.0)


SCALINGS = [
    (method, antialias, scale, translation, size)
    for method in ("linear", "bilinear", "cubic", "tricubic", "lanczos3")
    for antialias in (True, False)
    for scale, translation, size in (
        ((2.0, 1.5), (-0.5, 0.3), (10, 8)),  # up
        ((0.5, 0.4), (0.2, 1.0), (3, 3)),  # down
        ((1.3, 0.7), (-2.0, 2.5), (5, 6)),  # both, shifted past the edge
    )
]


@pytest.mark.parametrize("method, antialias, scale, translation, size", SCALINGS)
def test_scale_and_translate_against_formula(backend, method, antialias, scale, translation, size):
    x = uniform(2, 5, 6, 3)
    result = ops_image.scale_and_translate(
        x, (2, *size, 3), numpy.array(scale), numpy.array(translation), (1, 2), method, antialias
    )
    assert result.dtype == numpy.float32 and result.shape == (2, *size, 3)
    kernel = {"bilinear": "linear", "tricubic": "cubic"}.get(method, method)
    rows = scale_translate_matrix(5, size[0], scale[0], translation[0], kernel, antialias)
    cols = scale_translate_matrix(6, size[1], scale[1], translation[1], kernel, antialias)
    expected = numpy.einsum("oh,nhwc,pw->nopc", rows, x, cols)
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_scale_and_translate_keras_example_other_ranks_and_integers(backend):
    images = numpy.arange(9, dtype=numpy.float32).reshape(3, 3)
    scale = numpy.array([2.0, 2.0], dtype=numpy.float32)
    result = ops_image.scale_and_translate(
        images, (5, 5), scale, -(scale / 2 - 0.5), (0, 1), "linear"
    )
    expected = numpy.arange(5)[:, None] * 1.5 + numpy.arange(5)[None, :] * 0.5
    numpy.testing.assert_allclose(result.numpy(), expected, atol=1e-6)
    # one axis of a batch, lanczos5
    x = uniform(2, 4, 9, 2)
    result = ops_image.scale_and_translate(x, (2, 4, 5, 2), [0.55], [0.4], (2,), "lanczos5")
    cols = scale_translate_matrix(9, 5, 0.55, 0.4, "lanczos5", True)
    numpy.testing.assert_allclose(
        result.numpy(), numpy.einsum("nhwc,pw->nhpc", x, cols), rtol=1e-5, atol=1e-5
    )
    # integers come back as floatx
    integers = (x * 255).astype(numpy.uint8)
    result = ops_image.scale_and_translate(
        integers, (2, 2, 4, 2), [0.5, 0.4], [0, 0], (1, 2), "linear"
    )
    assert result.dtype == numpy.float32


def test_scale_and_translate_gradients(backend, float64):
    x = uniform(1, 4, 5, 2, dtype="float64")
    for method, scale in (("linear", (1.7, 0.6)), ("cubic", (0.5, 2.0))):
        check_gradients(
            lambda t, m=method, s=scale: ops_image.scale_and_translate(
                t, (1, 5, 4, 2), s, (0.3, -0.2), (1, 2), m
            ),
            x,
            backend=backend,
        )


# -- ssim ---------------------------------------------------------------------------------


def correlate_valid(image, kernel):
    kh, kw = kernel.shape
    out = numpy.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i, j in itertools.product(range(kh), range(kw)):
        out += kernel[i, j] * image[i : i + out.shape[0], j : j + out.shape[1]]
    return out


def ssim_reference(a, b, max_val=1.0, size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Per image of channels-last batches: the mean over channels and valid positions of the
    SSIM map under a Gaussian window."""
    kernel = numpy.outer(gaussian_kernel_1d(size, sigma), gaussian_kernel_1d(size, sigma))
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    values = []
    for n in range(a.shape[0]):
        maps = []
        for c in range(a.shape[-1]):
            x, y = a[n, ..., c].astype(float), b[n, ..., c].astype(float)
            mx, my = correlate_valid(x, kernel), correlate_valid(y, kernel)
            vx = correlate_valid(x * x, kernel) - mx**2
            vy = correlate_valid(y * y, kernel) - my**2
            cov = correlate_valid(x * y, kernel) - mx * my
            maps.append(
                (2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
            )
        values.append(numpy.mean(maps))
    return numpy.array(values)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"filter_size": 5, "filter_sigma": 1.0},
        {"max_val": 2.0, "filter_size": 7, "k1": 0.02, "k2": 0.05},
    ],
)
def test_ssim_against_formula(backend, options):
    a = uniform(2, 12, 13, 3)
    b = numpy.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(numpy.float32)
    result = ops_image.ssim(a, b, **options)
    assert result.dtype == numpy.float32 and result.shape == (2,)
    keys = {
        "max_val": "max_val",
        "filter_size": "size",
        "filter_sigma": "sigma",
        "k1": "k1",
        "k2": "k2",
    }
    expected = ssim_reference(a, b, **{keys[k]: v for k, v in options.items()})
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_ssim_one_image_channels_first_identical_and_integers(backend):
    a, b = uniform(2, 9, 8, 2), uniform(2, 9, 8, 2)
    expected = ssim_reference(a, b, size=3, sigma=0.8)
    single = ops_image.ssim(a[1], b[1], filter_size=3, filter_sigma=0.8)
    assert single.shape == ()
    numpy.testing.assert_allclose(single.numpy(), expected[1], rtol=1e-5, atol=1e-6)
    first = ops_image.ssim(to_first(a), to_first(b), 1.0, 3, 0.8, data_format="channels_first")
    numpy.testing.assert_allclose(first.numpy(), expected, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(ops_image.ssim(a, a, filter_size=5).numpy(), [1, 1], atol=1e-6)
    # integers: computed in float, truncated back to the dtype (as Keras)
    result = ops_image.ssim((a * 255).astype(numpy.uint8), (b * 255).astype(numpy.uint8), 255.0, 3)
    assert result.dtype == numpy.uint8
    numpy.testing.assert_array_equal(result.numpy(), [0, 0])


def test_ssim_gradients(backend, float64):
    a, b = uniform(2, 5, 6, 2, dtype="float64"), uniform(2, 5, 6, 2, dtype="float64")
    check_gradients(lambda s, t: ops_image.ssim(s, t, filter_size=3), a, b, backend=backend)


# -- elastic_transform --------------------------------------------------------------------


def test_elastic_transform_seeds_alpha_zero_and_the_layers_arithmetic(backend):
    from engine import random
    from engine.layers.preprocessing import image_extra

    x = uniform(2, 10, 12, 3)
    same = ops_image.elastic_transform(x, alpha=0.0, sigma=2.0, seed=3)
    numpy.testing.assert_allclose(same.numpy(), x, atol=1e-6)
    one = ops_image.elastic_transform(x, 8.0, 2.0, seed=3)
    assert one.shape == x.shape and one.dtype == numpy.float32
    numpy.testing.assert_array_equal(
        ops_image.elastic_transform(x, 8.0, 2.0, seed=3).numpy(), one.numpy()
    )
    assert (
        numpy.abs(ops_image.elastic_transform(x, 8.0, 2.0, seed=4).numpy() - one.numpy()).max()
        > 0.1
    )
    # the noise: engine.random.normal's (2, n, h, w) draw from the seed, then the shared warp
    noise = random.normal((2, 2, 10, 12), dtype="float32", seed=3).numpy()
    warped = ops_image.elastic_warp(
        ops.convert_to_tensor(x), noise, 8.0, 2.0, "bilinear", "reflect", 0.0
    )
    numpy.testing.assert_array_equal(one.numpy(), warped.numpy())
    # the RandomElasticTransform layer's warp, on the same noise and its alpha and sigma
    alpha, sigma = image_extra.elastic_parameters(10, 12, 0.7)
    for interpolation, fill_mode in (("bilinear", "reflect"), ("nearest", "constant")):
        layer = image_extra.elastic_transform(
            ops.convert_to_tensor(x), noise, 0.7, interpolation, fill_mode, 0.4
        )
        ours = ops_image.elastic_warp(
            ops.convert_to_tensor(x), noise, alpha, sigma, interpolation, fill_mode, 0.4
        )
        numpy.testing.assert_allclose(ours.numpy(), layer.numpy(), atol=1e-6)
    # one image, channels first: the same warp of the image
    first = ops_image.elastic_transform(
        to_first(x[0]), 8.0, 2.0, seed=5, data_format="channels_first"
    )
    noise = random.normal((2, 1, 10, 12), dtype="float32", seed=5).numpy()
    warped = ops_image.elastic_warp(
        ops.convert_to_tensor(x[:1]), noise, 8.0, 2.0, "bilinear", "reflect", 0.0
    )
    numpy.testing.assert_allclose(first.numpy(), to_first(warped.numpy()[0]), atol=1e-6)
    integers = (x * 255).astype(numpy.uint8)
    assert ops_image.elastic_transform(integers, seed=1).dtype == numpy.uint8


def test_elastic_transform_displacement_scales_with_alpha(backend):
    """On a ramp along the width, bilinear sampling returns each pixel's sampled column: the
    displacement itself, which doubles with ``alpha``."""
    ramp = numpy.broadcast_to(numpy.arange(40, dtype=numpy.float32)[None, :, None], (6, 40, 1))
    shifts = [
        ops_image.elastic_transform(ramp, alpha, 1.0, fill_mode="nearest", seed=7).numpy() - ramp
        for alpha in (1.0, 2.0)
    ]
    inside = slice(4, -4)
    assert numpy.abs(shifts[0][:, inside]).max() > 0.01
    numpy.testing.assert_allclose(shifts[1][:, inside], 2 * shifts[0][:, inside], atol=1e-4)


def test_elastic_transform_gradients(backend, float64):
    x = uniform(1, 6, 7, 2, dtype="float64")
    for interpolation, fill_mode in (("bilinear", "reflect"), ("nearest", "constant")):
        check_gradients(
            lambda t, i=interpolation, m=fill_mode: ops_image.elastic_transform(
                t, 3.0, 1.0, i, m, 0.2, seed=2
            ),
            x,
            backend=backend,
        )


# -- errors -------------------------------------------------------------------------------


def test_errors_name_the_function_and_the_argument(backend):
    x = uniform(1, 4, 5, 3)
    cases = [
        (lambda: ops_image.resize(x, (3, 3), interpolation="area"), "resize: interpolation"),
        (lambda: ops_image.resize(x, (0, 3)), "resize: size"),
        (lambda: ops_image.resize(x[0, 0], (2, 2)), "resize: images must have rank 3 or 4"),
        (lambda: ops_image.extract_patches(x, (2, 2), padding="full"), "extract_patches: padding"),
        (lambda: ops_image.extract_patches(x, (2, 2, 2, 2)), "extract_patches: size"),
        (lambda: ops_image.pad_images(x, 1, 1), "pad_images: give exactly two of top_padding"),
        (
            lambda: ops_image.pad_images(x, 1, 1, target_height=3, target_width=9),
            "pad_images: bottom_padding comes out as -2",
        ),
        (
            lambda: ops_image.crop_images(x, 2, 0, target_height=3, target_width=5),
            "crop_images: top_cropping=2 and target_height=3 do not fit",
        ),
        (lambda: ops_image.rgb_to_grayscale(x[..., :2]), "rgb_to_grayscale: images must have 3"),
        (
            lambda: ops_image.rgb_to_hsv(x.astype(numpy.int32)),
            "rgb_to_hsv: images must have a float",
        ),
        (lambda: ops_image.hsv_to_rgb(x, data_format="nchw"), "hsv_to_rgb: data_format"),
        (
            lambda: ops_image.affine_transform(x, numpy.zeros(6)),
            "affine_transform: transform must have shape \\(8,\\)",
        ),
        (
            lambda: ops_image.map_coordinates(x, numpy.zeros((2, 3)), 1),
            "map_coordinates: coordinates",
        ),
        (lambda: ops_image.map_coordinates(x[0, 0], [[1.0]], 3), "map_coordinates: order"),
        (lambda: ops_image.gaussian_blur(x, sigma=(1.0, 0.0)), "gaussian_blur: sigma"),
        (lambda: ops_image.sobel_edges(x[0]), "sobel_edges: images must have rank 4"),
        (
            lambda: ops_image.perspective_transform(x, numpy.zeros((3, 2)), numpy.zeros((3, 2))),
            "perspective_transform: start_points must have shape \\(4, 2\\)",
        ),
        (
            lambda: ops_image.scale_and_translate(
                x, (1, 8, 8, 3), [2.0], [0.0, 0.0], (1, 2), "linear"
            ),
            "scale_and_translate: scale must have one entry per spatial dim",
        ),
        (
            lambda: ops_image.scale_and_translate(
                x, (1, 8, 8, 3), [2, 2], [0, 0], (1, 2), "nearest"
            ),
            "scale_and_translate: method",
        ),
        (lambda: ops_image.ssim(x, x[..., :2]), "ssim: image1 and image2 must have the same shape"),
        (lambda: ops_image.ssim(x, x), "ssim: filter_size \\(11\\) must not exceed"),
        (lambda: ops_image.elastic_transform(x, sigma=0.0), "elastic_transform: sigma"),
        (lambda: ops_image.elastic_transform(x, fill_mode="edge"), "elastic_transform: fill_mode"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match="extract_patches: size must be an int"):
        ops_image.extract_patches(x, "2")


def test_public_names_are_keras_ops_image_names():
    assert sorted(ops_image.__all__) == [
        "affine_transform",
        "crop_images",
        "elastic_transform",
        "extract_patches",
        "extract_patches_3d",
        "gaussian_blur",
        "hsv_to_rgb",
        "map_coordinates",
        "pad_images",
        "perspective_transform",
        "resize",
        "rgb_to_grayscale",
        "rgb_to_hsv",
        "scale_and_translate",
        "sobel_edges",
        "ssim",
    ]
    assert all(callable(getattr(ops_image, name)) for name in ops_image.__all__)
