"""``engine.ops`` convolutions, pooling and normalizations (Keras 3's functional forms of the
layers): values against a direct NumPy reference, both data formats, gradients against
finite differences, on every backend."""

import itertools

import numpy
import pytest

from engine import ops
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(11)


def _same_pads(size: int, window: int, stride: int, dilation: int) -> tuple:
    """TensorFlow's "same" padding: output ceil(size / stride), the extra cell after."""
    span = (window - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def reference_conv(x, kernel, strides, padding, dilation):
    """Cross-correlation of ``(n, *spatial, in)`` with ``(*window, in, out)``, by loops."""
    rank = x.ndim - 2
    window = kernel.shape[:rank]
    pads = [
        _same_pads(x.shape[1 + a], window[a], strides[a], dilation[a])
        if padding == "same"
        else (0, 0)
        for a in range(rank)
    ]
    x = numpy.pad(x, [(0, 0), *pads, (0, 0)])
    out_sizes = [
        (x.shape[1 + a] - (window[a] - 1) * dilation[a] - 1) // strides[a] + 1 for a in range(rank)
    ]
    out = numpy.zeros((x.shape[0], *out_sizes, kernel.shape[-1]))
    for position in itertools.product(*[range(s) for s in out_sizes]):
        for offset in itertools.product(*[range(w) for w in window]):
            index = tuple(p * s + o * d for p, s, o, d in zip(position, strides, offset, dilation))
            out[(slice(None), *position)] += x[(slice(None), *index)] @ kernel[offset]
    return out


def reference_pool(x, window, strides, padding, kind):
    """Window maxima or means (padded cells not counted) of ``(n, *spatial, c)``."""
    rank = x.ndim - 2
    fill = -numpy.inf if kind == "max" else numpy.nan
    pads = [
        _same_pads(x.shape[1 + a], window[a], strides[a], 1) if padding == "same" else (0, 0)
        for a in range(rank)
    ]
    x = numpy.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
    out_sizes = [(x.shape[1 + a] - window[a]) // strides[a] + 1 for a in range(rank)]
    out = numpy.zeros((x.shape[0], *out_sizes, x.shape[-1]))
    for position in itertools.product(*[range(s) for s in out_sizes]):
        cells = x[
            (
                slice(None),
                *[slice(p * s, p * s + w) for p, s, w in zip(position, strides, window)],
            )
        ].reshape(x.shape[0], -1, x.shape[-1])
        reduce = numpy.max if kind == "max" else numpy.nanmean
        out[(slice(None), *position)] = reduce(cells, axis=1)
    return out


# (input shape, kernel shape, strides, padding, dilation)
CONVOLUTIONS = {
    "1d_same_strided": ((2, 9, 3), (3, 3, 4), (2,), "same", (1,)),
    "1d_dilated": ((2, 9, 3), (3, 3, 2), (1,), "valid", (2,)),
    "2d_same": ((2, 5, 6, 2), (3, 2, 2, 3), (2, 1), "same", (1, 1)),
    "2d_valid_dilated": ((1, 6, 6, 2), (2, 2, 2, 2), (1, 1), "valid", (2, 1)),
    "3d_same": ((1, 4, 3, 5, 2), (2, 3, 2, 2, 2), (1, 2, 1), "same", (1, 1, 1)),
}


@pytest.mark.parametrize("name", sorted(CONVOLUTIONS))
def test_conv_against_loops_both_data_formats_and_gradients(backend, float64, name):
    x_shape, k_shape, strides, padding, dilation = CONVOLUTIONS[name]
    x, kernel = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    expected = reference_conv(x, kernel, strides, padding, dilation)
    got = ops.conv(x, kernel, strides, padding.upper(), dilation_rate=dilation)
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)
    first = (0, x.ndim - 1, *range(1, x.ndim - 1))
    last = (0, *range(2, x.ndim), 1)
    channels_first = ops.conv(
        x.transpose(first), kernel, strides, padding, "channels_first", dilation
    )
    numpy.testing.assert_allclose(channels_first.numpy().transpose(last), expected, atol=1e-10)
    check_gradients(
        lambda a, k: ops.conv(a, k, strides, padding, dilation_rate=dilation),
        x,
        kernel,
        backend=backend,
    )


def test_depthwise_separable_and_transposed_convolutions(backend, float64):
    x = rng.standard_normal((2, 5, 6, 3))
    depthwise = rng.standard_normal((3, 3, 3, 2))
    # a depthwise convolution is one convolution per channel with its own filters
    expected = numpy.concatenate(
        [
            reference_conv(x[..., c : c + 1], depthwise[:, :, c : c + 1], (1, 1), "same", (1, 1))
            for c in range(3)
        ],
        axis=-1,
    )
    got = ops.depthwise_conv(x, depthwise, 1, "same")
    numpy.testing.assert_allclose(got.numpy(), expected, atol=1e-10)
    pointwise = rng.standard_normal((1, 1, 6, 4))
    separable = ops.separable_conv(x, depthwise, pointwise, 1, "same")
    numpy.testing.assert_allclose(separable.numpy(), expected @ pointwise[0, 0], atol=1e-10)
    check_gradients(
        lambda a, d, p: ops.separable_conv(a, d, p, 2, "valid"),
        x,
        depthwise,
        pointwise,
        backend=backend,
    )
    # the transposed convolution is the adjoint of the convolution with the same kernel
    kernel = rng.standard_normal((3, 3, 4, 3))  # (window, out, in) for conv_transpose
    y = rng.standard_normal((2, 3, 3, 3))
    transposed = ops.conv_transpose(y, kernel, 2, "same").numpy()
    assert transposed.shape == (2, 6, 6, 4)
    probe = rng.standard_normal(transposed.shape)
    forward = ops.conv(probe, kernel, 2, "same").numpy()  # its (window, in, out) reading
    numpy.testing.assert_allclose((transposed * probe).sum(), (y * forward).sum(), rtol=1e-10)
    check_gradients(lambda a, k: ops.conv_transpose(a, k, 2, "same"), y, kernel, backend=backend)


# (input shape, pool size, strides, padding)
POOLS = {
    "1d": ((2, 7, 3), (2,), (2,), "valid"),
    "2d_same": ((2, 5, 6, 2), (3, 3), (2, 2), "same"),
    "2d_overlapping": ((1, 5, 5, 2), (2, 3), (1, 2), "valid"),
    "3d_same": ((1, 3, 4, 5, 2), (2, 2, 2), (2, 2, 2), "same"),
}


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("name", sorted(POOLS))
def test_pools_against_loops_and_gradients(backend, float64, kind, name):
    shape, window, strides, padding = POOLS[name]
    x = rng.permutation(numpy.prod(shape)).reshape(shape) / 10.0  # distinct: one maximum
    pool = ops.max_pool if kind == "max" else ops.average_pool
    expected = reference_pool(x, window, strides, padding, kind)
    numpy.testing.assert_allclose(pool(x, window, strides, padding).numpy(), expected, atol=1e-12)
    check_gradients(lambda a: pool(a, window, strides, padding), x, backend=backend)
    first = (0, x.ndim - 1, *range(1, x.ndim - 1))
    cf = pool(x.transpose(first), window, strides, padding, data_format="channels_first")
    numpy.testing.assert_allclose(cf.numpy(), expected.transpose(first), atol=1e-12)


def test_adaptive_pools_use_pytorch_bins(backend, float64):
    x = rng.standard_normal((2, 7, 5, 3))
    got = ops.adaptive_average_pool(x, (3, 2)).numpy()
    rows = [(i * 7 // 3, -(-(i + 1) * 7 // 3)) for i in range(3)]
    columns = [(j * 5 // 2, -(-(j + 1) * 5 // 2)) for j in range(2)]
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(columns):
            numpy.testing.assert_allclose(got[:, i, j], x[:, r0:r1, c0:c1].mean(axis=(1, 2)))
    maxima = ops.adaptive_max_pool(x[:, :, 0], 3).numpy()
    for i, (r0, r1) in enumerate(rows):
        numpy.testing.assert_allclose(maxima[:, i], x[:, r0:r1, 0].max(axis=1))
    check_gradients(lambda a: ops.adaptive_average_pool(a, (3, 2)), x, backend=backend)


def test_normalizations_and_their_gradients(backend, float64):
    x = rng.standard_normal((2, 4, 3))
    mean, variance = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    offset, scale = rng.standard_normal(3), rng.standard_normal(3)
    expected = (x - mean) / numpy.sqrt(variance + 1e-3) * scale + offset
    got = ops.batch_normalization(x, mean, variance, -1, offset, scale)
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    along_1 = ops.batch_normalization(x, mean[:1].repeat(4), variance[:1].repeat(4), axis=1)
    numpy.testing.assert_allclose(
        along_1.numpy(), (x - mean[0]) / numpy.sqrt(variance[0] + 1e-3), rtol=1e-10
    )
    check_gradients(
        lambda a, m, v, o, s: ops.batch_normalization(a, m, v, -1, o, s),
        x,
        mean,
        variance,
        offset,
        scale,
        backend=backend,
    )
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    centered = x - x.mean(-1, keepdims=True)
    normalized = centered / numpy.sqrt((centered**2).mean(-1, keepdims=True) + 1e-7)
    numpy.testing.assert_allclose(
        ops.layer_normalization(x, gamma, beta).numpy(), normalized * gamma + beta, rtol=1e-8
    )
    two_axes = ops.layer_normalization(x, axis=(1, 2), epsilon=1e-3).numpy()
    flat = x.reshape(2, -1)
    expected_two = (flat - flat.mean(1, keepdims=True)) / numpy.sqrt(
        flat.var(1, keepdims=True) + 1e-3
    )
    numpy.testing.assert_allclose(two_axes, expected_two.reshape(x.shape), rtol=1e-8)
    check_gradients(
        lambda a, g, b: ops.layer_normalization(a, g, b), x, gamma, beta, backend=backend
    )
    rms = ops.rms_normalization(x, gamma, axis=-1).numpy()
    numpy.testing.assert_allclose(
        rms, x / numpy.sqrt((x**2).mean(-1, keepdims=True) + 1e-7) * gamma, rtol=1e-10
    )
    check_gradients(lambda a, g: ops.rms_normalization(a, g), x, gamma, backend=backend)


def test_depth_space_blocks_and_psnr(backend, float64):
    x = rng.standard_normal((1, 2, 3, 8))
    up = ops.depth_to_space(x, 2).numpy()
    assert up.shape == (1, 4, 6, 2)
    # TensorFlow's order: output (h*2 + i, w*2 + j) holds channels (i*2 + j)*depth + d
    for h, w, i, j in itertools.product(range(2), range(3), range(2), range(2)):
        start = (i * 2 + j) * 2
        numpy.testing.assert_array_equal(up[0, h * 2 + i, w * 2 + j], x[0, h, w, start : start + 2])
    numpy.testing.assert_array_equal(ops.space_to_depth(up, 2).numpy(), x)
    cf = ops.depth_to_space(x.transpose(0, 3, 1, 2), 2, data_format="channels_first").numpy()
    numpy.testing.assert_array_equal(cf, up.transpose(0, 3, 1, 2))
    check_gradients(lambda a: ops.depth_to_space(a, 2), x, backend=backend)
    noisy = x + 0.1 * rng.standard_normal(x.shape)
    expected = 20 * numpy.log10(2.0) - 10 * numpy.log10(((x - noisy) ** 2).mean())
    numpy.testing.assert_allclose(ops.psnr(x, noisy, 2.0).numpy(), expected, rtol=1e-10)


def test_errors_name_the_function_and_the_argument(backend):
    x = numpy.zeros((2, 5, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"conv: a kernel \(\*window, in_channels, out_channels\)"):
        ops.conv(x, numpy.zeros((3, 3, 2, 4), "float32"))
    with pytest.raises(ValueError, match="conv: padding must be 'valid' or 'same', got 'causal'"):
        ops.conv(x, numpy.zeros((3, 3, 3, 4), "float32"), padding="causal")
    with pytest.raises(ValueError, match="max_pool: data_format must be 'channels_last' or"):
        ops.max_pool(x, 2, data_format="NHWC")
    with pytest.raises(
        ValueError, match=r"average_pool: inputs must have 1 or 2 or 3 spatial axes"
    ):
        ops.average_pool(numpy.zeros((2, 3)), 2)
    with pytest.raises(ValueError, match="depth_to_space: 3 channels do not divide into blocks"):
        ops.depth_to_space(x, 2)
    with pytest.raises(ValueError, match="psnr: x1 and x2 need one shape"):
        ops.psnr(x, x[:1], 1.0)
