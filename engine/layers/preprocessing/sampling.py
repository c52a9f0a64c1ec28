"""Image resampling for the preprocessing layers, with Keras 3's numbers on its torch backend.

Resizing is separable: each output row (then column) is a weighted sum of a
few input rows, its *taps*, computed as ``torch.nn.functional.interpolate``
does with ``align_corners=False, antialias=False`` (``nearest`` is torch's
``nearest-exact``, ``bicubic`` its cubic convolution with A = -0.75). The random
geometric layers sample every output pixel at an affine image of its
coordinates, as Keras's ``ops.image.affine_transform`` (``map_coordinates`` of
order 0 or 1 with the fill modes ``reflect``, ``wrap``, ``constant``,
``nearest``, and ``mirror`` for ``engine.ops_image``, which samples through
``sample`` too). Taps and coordinates are computed once per call on the host
(resizing) or the backend (affine sampling); the gathers run on the backend and
are differentiable: the gradient scatters back along the same taps.
"""

import itertools

import numpy

from ...tensor import Function, Tensor, apply

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_CUBIC_A = -0.75  # torch's (and Keras-on-torch's) bicubic coefficient


def _cubic_weights(t: numpy.ndarray) -> numpy.ndarray:
    """The four cubic-convolution weights of taps ``i-1, i, i+1, i+2`` at offset ``t``."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return numpy.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def resize_taps(in_size: int, out_size: int, interpolation: str):
    """``(index, weights)``, each ``(out_size, taps)``: the input positions and weights
    that make each output position along one axis."""
    out = numpy.arange(out_size, dtype=numpy.float64)
    scale = in_size / out_size
    if interpolation == "nearest":  # torch's nearest-exact
        index = numpy.minimum(numpy.floor((out + 0.5) * scale), in_size - 1).astype(numpy.int64)
        return index[:, None], numpy.ones((out_size, 1))
    if interpolation == "bilinear":
        source = numpy.maximum((out + 0.5) * scale - 0.5, 0.0)
        lower = numpy.minimum(numpy.floor(source), in_size - 1).astype(numpy.int64)
        upper_weight = numpy.clip(source - lower, 0.0, 1.0)
        upper = numpy.minimum(lower + 1, in_size - 1)
        index = numpy.stack([lower, upper], axis=-1)
        return index, numpy.stack([1.0 - upper_weight, upper_weight], axis=-1)
    # bicubic: the source position is not clamped at 0; the taps are
    source = (out + 0.5) * scale - 0.5
    base = numpy.minimum(numpy.floor(source), in_size - 1).astype(numpy.int64)
    offset = numpy.clip(source - base, 0.0, 1.0)
    index = numpy.clip(base[:, None] + numpy.arange(-1, 3), 0, in_size - 1)
    return index, _cubic_weights(offset)


class AxisResample(Function):
    """``out[..., o, ...] = sum_k weights[o, k] * x[..., index[o, k], ...]`` along one axis."""

    def __init__(self, index, weights, axis: int, in_size: int):
        self.index, self.weights, self.axis, self.in_size = index, weights, axis, in_size

    def forward(self, x):
        xp = self.backend.xp
        index = xp.asarray(self.index)
        weights = xp.asarray(self.weights, dtype=x.dtype)
        shape = [1] * (x.ndim + 1)
        shape[self.axis : self.axis + 2] = weights.shape
        gathered = xp.take(x, index, axis=self.axis)  # the axis becomes (out, taps)
        return (gathered * weights.reshape(shape)).sum(axis=self.axis + 1)

    def backward(self, grad):
        # the transpose of the (out, in) interpolation matrix, applied along the axis
        matrix = numpy.zeros((self.index.shape[0], self.in_size))
        rows = numpy.repeat(numpy.arange(self.index.shape[0]), self.index.shape[1])
        numpy.add.at(matrix, (rows, self.index.reshape(-1)), self.weights.reshape(-1))
        xp = self.backend.xp
        matrix = xp.asarray(matrix, dtype=grad.dtype)
        moved = xp.tensordot(matrix, grad, axes=([0], [self.axis]))
        return (xp.moveaxis(moved, 0, self.axis),)


def resize(images: Tensor, height: int, width: int, interpolation: str) -> Tensor:
    """``(batch, h, w, c)`` images resized to ``(batch, height, width, c)``."""
    out = images
    for axis, size in ((1, height), (2, width)):
        in_size = images.shape[axis]
        if size != in_size:  # every interpolation leaves an axis of the same size as it is
            index, weights = resize_taps(in_size, size, interpolation)
            out = apply(AxisResample(index, weights, axis, in_size), out)
    return out


def aspect_crop_box(height: int, width: int, target_height: int, target_width: int):
    """``(top, left, crop_height, crop_width)``: the largest centred box of the target's
    aspect ratio (Keras's ``crop_to_aspect_ratio`` and ``smart_resize``)."""
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    top = int(float(height - crop_height) / 2)
    left = int(float(width - crop_width) / 2)
    return top, left, crop_height, crop_width


def aspect_pad_box(height: int, width: int, target_height: int, target_width: int):
    """``(pad_height, pad_width)`` added on each side to reach the target's aspect ratio."""
    padded_height = max(height, int(float(width * target_height) / target_width))
    padded_width = max(width, int(float(height * target_width) / target_height))
    return int(float(padded_height - height) / 2), int(float(padded_width - width) / 2)


# -- affine sampling ----------------------------------------------------------


def _mirror(xp, index, size: int):
    period = size - 1
    if period == 0:
        return xp.zeros_like(index)
    return xp.abs((index + period) % (2 * period) - period)


def _fix_index(xp, index, size: int, fill_mode: str):
    """An in-range index for each tap, as Keras's torch ``map_coordinates`` fixes them."""
    if fill_mode == "reflect":
        return (_mirror(xp, 2 * index + 1, 2 * size + 1) - 1) // 2
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "mirror":  # Keras's ops.image only: (c d c b | a b c d | c b a b)
        return _mirror(xp, index, size)
    return xp.clip(index, 0, size - 1)  # constant (validity checked apart) and nearest


def _axis_taps(xp, coordinate, size: int, interpolation: str, fill_mode: str):
    """``[(index, weight, valid)]`` along one axis for each sampled coordinate."""
    if interpolation == "nearest":
        lower = xp.round(coordinate).astype(xp.int64)  # half to even, as torch.round
        nodes = [(lower, None)]
    else:
        floor = xp.floor(coordinate)
        upper_weight = coordinate - floor
        lower = floor.astype(xp.int64)
        nodes = [(lower, 1 - upper_weight), (lower + 1, upper_weight)]
    taps = []
    for index, weight in nodes:
        valid = (index >= 0) & (index < size) if fill_mode == "constant" else None
        taps.append((_fix_index(xp, index, size, fill_mode), weight, valid))
    return taps


class GatherPixels(Function):
    """``out[n, p] = sum_k weights[n, p, k] * x[n, index[n, p, k]] + constant[n, p]`` for
    ``x`` of shape ``(n, pixels, channels)``; the gradient scatters back along the taps."""

    def __init__(self, index, weights, constant):
        self.index, self.weights, self.constant = index, weights, constant

    def forward(self, x):
        xp = self.backend.xp
        self.input_shape = x.shape
        batch, pixels, channels = x.shape
        self.rows = self.index + (xp.arange(batch) * pixels).reshape(-1, 1, 1)
        gathered = x.reshape(batch * pixels, channels)[self.rows]  # (n, p, k, c)
        out = (gathered * self.weights[..., None].astype(x.dtype)).sum(axis=2)
        if self.constant is not None:
            out += self.constant[..., None].astype(x.dtype)
        return out

    def backward(self, grad):
        batch, pixels, channels = self.input_shape
        contributions = grad[:, :, None, :] * self.weights[..., None].astype(grad.dtype)
        table = self.backend.embedding_backward(self.rows, contributions, batch * pixels)
        return (table.reshape(self.input_shape),)


def sample(images: Tensor, coordinates, interpolation: str, fill_mode: str, fill_value) -> Tensor:
    """``images`` ``(n, *spatial, c)`` sampled at ``coordinates``: one backend array per spatial
    axis, each ``(n, *out)``, the position along that axis of each output point (Keras's
    ``map_coordinates`` of order 0 or 1). Returns ``(n, *out, c)``; differentiable in the
    images (the coordinates are constants)."""
    xp = images.backend.xp
    batch, *sizes, channels = images.shape
    out_shape = coordinates[0].shape[1:]
    indices, weights, invalid = [], [], []
    per_axis = [
        _axis_taps(xp, coordinate, size, interpolation, fill_mode)
        for coordinate, size in zip(coordinates, sizes)
    ]
    for taps in itertools.product(*per_axis):
        index, weight, valid = taps[0]
        for (axis_index, axis_weight, axis_valid), size in zip(taps[1:], sizes[1:]):
            index = index * size + axis_index
            if axis_weight is not None:
                weight = weight * axis_weight
            if fill_mode == "constant":
                valid = valid & axis_valid
        indices.append(index)
        if weight is None:
            weight = xp.ones(index.shape, dtype=numpy.float32)
        if fill_mode == "constant":
            invalid.append(weight * ~valid)
            weight = weight * valid
        weights.append(weight)
    points = int(numpy.prod(out_shape, dtype=numpy.int64))
    index = xp.stack(indices, axis=-1).reshape(batch, points, -1)
    weight = xp.stack(weights, axis=-1).reshape(batch, points, -1)
    constant = None
    if fill_mode == "constant" and fill_value != 0:
        constant = (sum(invalid) * numpy.float32(fill_value)).reshape(batch, points)
    pixels = int(numpy.prod(sizes, dtype=numpy.int64))
    flat = images.reshape((batch, pixels, channels))
    sampled = apply(GatherPixels(index, weight, constant), flat)
    return sampled.reshape((batch, *out_shape, channels))


def affine_transform(
    images: Tensor, matrices, interpolation: str, fill_mode: str, fill_value: float
) -> Tensor:
    """Sample each ``(h, w, c)`` image of ``images`` at ``(x', y')`` for output pixel ``(x, y)``:
    ``x' = a0 x + a1 y + a2``, ``y' = b0 x + b1 y + b2``; ``matrices`` is a host array
    ``(n, 6)`` of ``[a0, a1, a2, b0, b1, b2]`` (Keras's transform less its projective terms)."""
    batch, height, width, _ = images.shape
    coordinates = affine_coordinates(images.backend.xp, matrices, batch, height, width)
    return sample(images, coordinates, interpolation, fill_mode, fill_value)


def affine_coordinates(xp, matrices, batch: int, height: int, width: int) -> list:
    """``[y', x']``, each ``(batch, height, width)``: where ``affine_transform`` samples each
    output pixel, in float32 as Keras computes them."""
    matrices = xp.asarray(matrices, dtype=numpy.float32).reshape(batch, 6, 1, 1)
    rows = xp.arange(height, dtype=numpy.float32).reshape(1, height, 1)
    cols = xp.arange(width, dtype=numpy.float32).reshape(1, 1, width)
    source_x = matrices[:, 0] * cols + matrices[:, 1] * rows + matrices[:, 2]
    source_y = matrices[:, 3] * cols + matrices[:, 4] * rows + matrices[:, 5]
    return [source_y, source_x]


def rotation_matrices(angles: numpy.ndarray, height: int, width: int) -> numpy.ndarray:
    """``(n, 6)`` matrices rotating by ``angles`` (radians) about the image centre."""
    cos, sin = numpy.cos(angles), numpy.sin(angles)
    center_x, center_y = 0.5 * (width - 1), 0.5 * (height - 1)
    a2 = center_x - center_x * cos + center_y * sin
    b2 = center_y - center_x * sin - center_y * cos
    return numpy.stack([cos, -sin, a2, sin, cos, b2], axis=-1)


def zoom_matrices(height_zoom, width_zoom, height: int, width: int) -> numpy.ndarray:
    """``(n, 6)`` matrices scaling about the centre (a zoom above 1 shows more: zooms out)."""
    zeros = numpy.zeros_like(height_zoom)
    x_offset = (width - 1.0) / 2.0 * (1.0 - width_zoom)
    y_offset = (height - 1.0) / 2.0 * (1.0 - height_zoom)
    return numpy.stack([width_zoom, zeros, x_offset, zeros, height_zoom, y_offset], axis=-1)


def translation_matrices(dy, dx) -> numpy.ndarray:
    """``(n, 6)`` matrices moving the content by ``dx`` pixels right and ``dy`` down."""
    ones, zeros = numpy.ones_like(dx), numpy.zeros_like(dx)
    return numpy.stack([ones, zeros, -dx, zeros, ones, -dy], axis=-1)
