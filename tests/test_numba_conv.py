"""The numba backend's convolution, pooling and batch-norm overrides agree with the reference."""

from unittest import mock

import numpy
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import backends
from backends import numba_conv, numba_dispatch
from backends.base import Backend

pytest.importorskip("numba")

FLOATS = ("float32", "float64")
RTOL = {"float32": 1e-5, "float64": 1e-10}
ATOL = {"float32": 1e-5, "float64": 1e-10}
few = settings(max_examples=12, deadline=None)

dtypes = st.sampled_from(FLOATS)
seeds = st.integers(0, 2**31 - 1)
pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@pytest.fixture(scope="module")
def numba_backend():
    return backends.get("numba")


def random(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def assert_close(actual, expected, dtype):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    numpy.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=ATOL[dtype])


def assert_sums_close(actual, expected, magnitude, dtype, rtol=None, atol=None):
    """Sums of many terms (a convolution's gradients) added in another order agree: each
    within ``rtol`` of ``magnitude``, the sum of its terms' absolute values (what the two
    orders' roundings can differ by), plus ``atol``. A plain relative tolerance fails by
    chance where the terms cancel (hypothesis found one: 1.6e-5 off -0.566, a sum of
    hundreds of float32 terms of ~10)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    rtol = RTOL[dtype] if rtol is None else rtol
    atol = ATOL[dtype] if atol is None else atol
    excess = numpy.abs(actual - expected) - (rtol * magnitude + atol)
    worst = numpy.unravel_index(numpy.argmax(excess), excess.shape)
    assert excess[worst] <= 0, (
        f"at {worst}: {actual[worst]} against {expected[worst]} (terms' magnitude "
        f"{magnitude[worst]})"
    )


def assert_backwards_close(numba_backend, dy, x, kernel, geometry, dtype, **tolerance):
    """The input and kernel gradients of a convolution agree with the reference's."""
    reference = Backend()
    pairs = [
        (backend.conv2d_backward_input(dy, kernel, x.shape, *geometry),
         backend.conv2d_backward_weight(dy, x, kernel.shape, *geometry))
        for backend in (numba_backend, reference)
    ]  # fmt: skip
    magnitudes = (
        reference.conv2d_backward_input(abs(dy), abs(kernel), x.shape, *geometry),
        reference.conv2d_backward_weight(abs(dy), abs(x), kernel.shape, *geometry),
    )
    for ours, theirs, magnitude in zip(*pairs, magnitudes):
        assert_sums_close(ours, theirs, magnitude, dtype, **tolerance)
    # both at once (one pass over the chunks where the numba backend can)
    shapes, needs = (x.shape, kernel.shape), (True, True, False)
    both = numba_backend.conv2d_backward(dy, x, kernel, shapes, needs, *geometry)[:2]
    for ours, theirs, magnitude in zip(both, pairs[1], magnitudes, strict=True):
        assert_sums_close(ours, theirs, magnitude, dtype, **tolerance)


@st.composite
def conv_cases(draw):
    """A small convolution: input and kernel shapes, strides, padding and dilation."""
    kernel = draw(pairs)
    dilation = draw(pairs)
    padding = draw(
        st.one_of(
            st.sampled_from(["valid", "same"]),
            st.tuples(pairs, pairs).map(lambda p: ((p[0][0] - 1, p[0][1]), (p[1][0], p[1][1] - 1))),
        )
    )
    reach = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    size = draw(st.tuples(st.integers(reach[0], reach[0] + 4), st.integers(reach[1], reach[1] + 4)))
    channels, filters = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    return {
        "x_shape": (draw(st.integers(1, 3)), *size, channels),
        "kernel_shape": (*kernel, channels, filters),
        "strides": draw(pairs),
        "padding": padding,
        "dilation": dilation,
    }


@few
@given(
    case=conv_cases(),
    dtype=dtypes,
    seed=seeds,
    use_bias=st.booleans(),
    activation=st.sampled_from([None, "relu"]),
    images_per_chunk=st.sampled_from([None, 1, 2]),
)
def test_conv2d_matches_reference(
    numba_backend, case, dtype, seed, use_bias, activation, images_per_chunk
):
    """Also with the batch's column matrices split into chunks of one or two images, and
    with a fused relu (applied chunk by chunk)."""
    reference = Backend()
    rng = numpy.random.default_rng(seed)
    geometry = (case["strides"], case["padding"], case["dilation"])
    x = random(rng, case["x_shape"], dtype)
    kernel = random(rng, case["kernel_shape"], dtype)
    bias = random(rng, case["kernel_shape"][3:], dtype) if use_bias else None
    expected = reference.conv2d_forward(x, kernel, bias, *geometry, activation=activation)
    chunk_bytes = numba_conv._CHUNK_BYTES
    if images_per_chunk is not None:
        kh, kw, c, _ = kernel.shape
        pixels = expected.shape[1] * expected.shape[2]
        chunk_bytes = images_per_chunk * pixels * kh * kw * c * x.itemsize

    with mock.patch.object(numba_conv, "_CHUNK_BYTES", chunk_bytes):
        y = numba_backend.conv2d_forward(x, kernel, bias, *geometry, activation=activation)
        assert_close(y, expected, dtype)

        dy = random(rng, expected.shape, dtype)
        assert_backwards_close(numba_backend, dy, x, kernel, geometry, dtype)


@few
@given(
    dtype=dtypes,
    seed=seeds,
    size=st.tuples(st.integers(3, 12), st.integers(3, 12)),
    strides=pairs,
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.sampled_from(["valid", "same", ((1, 0), (2, 1))]),
    filters=st.integers(1, 40),
    use_bias=st.booleans(),
)
@example(  # terms that cancel: an old tolerance failed here by 1.6e-5 (assert_sums_close)
    dtype="float32",
    seed=0,
    size=(12, 12),
    strides=(1, 1),
    dilation=(1, 1),
    padding=((1, 0), (2, 1)),
    filters=35,
    use_bias=True,
)
def test_direct_one_channel_3x3_convolution_matches_reference(
    numba_backend, dtype, seed, size, strides, dilation, padding, filters, use_bias
):
    """A grayscale first layer (one input channel, 3x3) takes ``conv_direct``'s kernels:
    any strides, dilation and padding; odd and even output widths (pixels in pairs)."""
    size = tuple(max(side, 2 * d + 1) for side, d in zip(size, dilation))  # the window fits
    reference = Backend()
    rng = numpy.random.default_rng(seed)
    geometry = (strides, padding, dilation)
    x = random(rng, (3, *size, 1), dtype)
    kernel = random(rng, (3, 3, 1, filters), dtype)
    bias = random(rng, (filters,), dtype) if use_bias else None
    ran = []

    def spy(name):
        block = getattr(numba_conv, name)
        return mock.patch.object(numba_conv, name, lambda *a: ran.append(name) or block(*a))

    with spy("_direct_forward_block"), spy("_direct_weight_gradient_block"):
        y = numba_backend.conv2d_forward(x, kernel, bias, *geometry)
        assert_close(y, reference.conv2d_forward(x, kernel, bias, *geometry), dtype)
        dy = random(rng, y.shape, dtype)
        grad = numba_backend.conv2d_backward_weight(dy, x, kernel.shape, *geometry)
    expected = reference.conv2d_backward_weight(dy, x, kernel.shape, *geometry)
    magnitude = reference.conv2d_backward_weight(abs(dy), abs(x), kernel.shape, *geometry)
    assert_sums_close(grad, expected, magnitude, dtype)
    assert set(ran) == {"_direct_forward_block", "_direct_weight_gradient_block"}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("needs", [(False, True, True), (False, True, False), (True, True, True)])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_backward_matches_reference(numba_backend, dtype, channels, needs, activation, rng):
    """The whole backward of a convolution with its fused relu. A grayscale first layer
    (one channel, no input gradient) takes the relu's derivative, the kernel and the bias
    gradients in one pass (``_direct_weight_gradient_block``, spied on); a layer over
    channels the input and kernel gradients in one pass (``_gradients_block``)."""
    reference = Backend()
    x = random(rng, (5, 9, 8, channels), dtype)
    kernel = random(rng, (3, 3, channels, 7), dtype)
    geometry = ((1, 2), "same", (1, 1))
    y = reference.conv2d_forward(x, kernel, random(rng, (7,), dtype), *geometry, activation="relu")
    dy = random(rng, y.shape, dtype)
    relu_output = y if activation == "relu" else None
    args = (dy, x, kernel, (x.shape, kernel.shape), needs, *geometry)
    expected = reference.conv2d_backward(*args, relu_output=relu_output)
    fused, both = [], []
    block, pass_block = numba_conv._direct_weight_gradient_block, numba_conv._gradients_block
    with (
        mock.patch.object(
            numba_conv, "_direct_weight_gradient_block", lambda *a: fused.append(a) or block(*a)
        ),
        mock.patch.object(
            numba_conv, "_gradients_block", lambda *a: both.append(a) or pass_block(*a)
        ),
    ):
        got = numba_backend.conv2d_backward(*args, relu_output=relu_output)
    # a layer over channels that needs both gradients takes them in one pass
    assert bool(both) == (channels == 3 and needs[0])
    for ours, theirs in zip(got, expected, strict=True):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert_close(ours, theirs, dtype)
    assert bool(fused) == (channels == 1)
    relu_in_kernel = channels == 1 and activation == "relu" and not needs[0]
    assert any(a[3] is not None for a in fused) == relu_in_kernel


@pytest.mark.parametrize("dtype", FLOATS)
def test_conv2d_in_chunks_at_w3_sizes(numba_backend, dtype, rng):
    """W3's second convolution spans several chunks of images; the scratch is reused."""
    reference = Backend()
    x = random(rng, (9, 13, 13, 32), dtype)
    kernel = random(rng, (3, 3, 32, 16), dtype)
    bias = random(rng, (16,), dtype)
    assert len(numba_conv._chunks(0, 9, (11, 11), (3, 3), 32, dtype)) > 1
    for _ in range(2):
        y = numba_backend.conv2d_forward(x, kernel, bias)
        expected = reference.conv2d_forward(x, kernel, bias)
        numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    dy = random(rng, y.shape, dtype)
    assert_backwards_close(numba_backend, dy, x, kernel, (), dtype, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_transposed_columns_are_the_transpose(numba_backend, channels, rng):
    """``im2col_transposed`` (used up to two channels) packs ``im2col``'s matrix transposed."""
    kernels = numba_backend._conv
    x = random(rng, (2, 7, 6, channels), "float32")
    geometry = (2, 1, 1, 2, 1, 2)  # strides, dilation, top and left padding
    out_h, out_w = 4, 5
    cols = numpy.full((2, out_h, out_w, 3, 2, channels), numpy.nan, "float32")
    kernels.im2col(x, *geometry, cols)
    cols_t = numpy.full((3, 2, channels, 2, out_h, out_w), numpy.nan, "float32")
    kernels.im2col_transposed(x, *geometry, cols_t)
    depth = 3 * 2 * channels
    numpy.testing.assert_array_equal(cols_t.reshape(depth, -1), cols.reshape(-1, depth).T)


def test_scratch_is_reused_per_thread_and_large_arrays_are_not_kept():
    import threading

    first = numba_conv._scratch("test", 100, numpy.float32)
    assert numba_conv._scratch("test", 50, numpy.float32).base is first.base  # reused
    assert numba_conv._scratch("test", 50, numpy.float64).base is not first.base
    elsewhere = []
    thread = threading.Thread(
        target=lambda: elsewhere.append(numba_conv._scratch("test", 100, numpy.float32))
    )
    thread.start()
    thread.join()
    assert elsewhere[0].base is not first.base  # each thread has its own
    large = numba_conv._KEEP_BYTES // 4 + 1
    assert numba_conv._scratch("test", large, numpy.float32).size == large
    assert numba_conv._scratch("test", 100, numpy.float32).base is first.base  # still kept


@pytest.mark.parametrize("dtype", FLOATS)
def test_pointwise_conv_and_non_contiguous_input(numba_backend, dtype, rng):
    """A 1x1 kernel skips im2col; a transposed (non-contiguous) input is copied first."""
    reference = Backend()
    x = random(rng, (2, 5, 6, 3), dtype).transpose(0, 2, 1, 3)
    cases = [
        ((1, 1, 3, 4), "valid"),
        ((1, 1, 3, 4), ((0, 1), (2, 0))),  # 1x1 but padded: not its own column matrix
        ((2, 3, 3, 4), "same"),
    ]
    for kernel_shape, padding in cases:
        kernel = random(rng, kernel_shape, dtype)
        geometry = ((1, 1), padding)
        y = reference.conv2d_forward(x, kernel, None, *geometry)
        assert_close(numba_backend.conv2d_forward(x, kernel, None, *geometry), y, dtype)
        dy = random(rng, y.shape, dtype)
        assert_backwards_close(numba_backend, dy, x, kernel, geometry, dtype)


@few
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    use_bias=st.booleans(),
    activation=st.sampled_from([None, "relu"]),
    dtype=dtypes,
    seed=seeds,
)
def test_bias_activation_matches_reference(numba_backend, shape, use_bias, activation, dtype, seed):
    rng = numpy.random.default_rng(seed)
    y = random(rng, shape, dtype)
    y.flat[0] = numpy.nan  # NaN must survive relu, as with numpy.maximum
    bias = random(rng, shape[-1:], dtype) if use_bias else None
    expected = Backend().bias_activation_forward(y.copy(), bias, activation)
    assert_close(numba_backend.bias_activation_forward(y.copy(), bias, activation), expected, dtype)


@few
@given(
    batch=st.integers(1, 3),
    size=st.tuples(st.integers(2, 7), st.integers(2, 7)),
    channels=st.integers(1, 4),
    pool=pairs,
    strides=pairs,
    padding=st.sampled_from(["valid", "same"]),
    dtype=dtypes,
    seed=seeds,
)
def test_pooling_matches_reference(
    numba_backend, batch, size, channels, pool, strides, padding, dtype, seed
):
    """Average pooling, and max pooling's backward with and without overlapping windows."""
    reference = Backend()
    pool = (min(pool[0], size[0]), min(pool[1], size[1]))
    rng = numpy.random.default_rng(seed)
    x = random(rng, (batch, *size, channels), dtype)
    geometry = (pool, strides, padding)

    y = numba_backend.avg_pool2d_forward(x, *geometry)
    assert_close(y, reference.avg_pool2d_forward(x, *geometry), dtype)
    dy = random(rng, y.shape, dtype)
    assert_close(
        numba_backend.avg_pool2d_backward(dy, x.shape, *geometry),
        reference.avg_pool2d_backward(dy, x.shape, *geometry),
        dtype,
    )

    _, argmax = reference.max_pool2d_forward(x, *geometry)
    assert_close(
        numba_backend.max_pool2d_backward(dy, argmax, x.shape, *geometry),
        reference.max_pool2d_backward(dy, argmax, x.shape, *geometry),
        dtype,
    )


@few
@given(
    rows=st.integers(1, 40),
    channels=st.integers(1, 6),
    use_gamma=st.booleans(),
    use_beta=st.booleans(),
    dtype=dtypes,
    seed=seeds,
)
def test_batch_norm_matches_reference(
    numba_backend, rows, channels, use_gamma, use_beta, dtype, seed
):
    reference = Backend()
    rng = numpy.random.default_rng(seed)
    x = random(rng, (rows, channels), dtype, 3.0) + 1
    gamma = random(rng, (channels,), dtype) if use_gamma else None
    beta = random(rng, (channels,), dtype) if use_beta else None

    ours = numba_backend.batch_norm_forward(x, gamma, beta, 1e-3)
    theirs = reference.batch_norm_forward(x, gamma, beta, 1e-3)
    for actual, expected in zip(ours, theirs):
        assert_close(actual, expected, dtype)

    _, mean, variance = theirs
    dy = random(rng, x.shape, dtype)
    ours = numba_backend.batch_norm_backward(dy, x, mean, variance, gamma, 1e-3)
    theirs = reference.batch_norm_backward(dy, x, mean, variance, gamma, 1e-3)
    for actual, expected in zip(ours, theirs):
        assert_close(actual, expected, dtype)


def test_float16_falls_back_to_reference(numba_backend, rng):
    reference = Backend()
    x = random(rng, (2, 6, 5, 3), "float16")
    kernel = random(rng, (3, 2, 3, 4), "float16")
    bias = random(rng, (4,), "float16")
    y = numba_backend.conv2d_forward(x, kernel, bias, (1, 2), "same")
    assert y.dtype == numpy.float16
    numpy.testing.assert_array_equal(y, reference.conv2d_forward(x, kernel, bias, (1, 2), "same"))
    dy = numpy.ones(y.shape, numpy.float16)
    numpy.testing.assert_array_equal(
        numba_backend.conv2d_backward_input(dy, kernel, x.shape, (1, 2), "same"),
        reference.conv2d_backward_input(dy, kernel, x.shape, (1, 2), "same"),
    )
    numpy.testing.assert_array_equal(
        numba_backend.conv2d_backward_weight(dy, x, kernel.shape, (1, 2), "same"),
        reference.conv2d_backward_weight(dy, x, kernel.shape, (1, 2), "same"),
    )
    numpy.testing.assert_array_equal(
        numba_backend.avg_pool2d_forward(x, (2, 2), (2, 2)),
        reference.avg_pool2d_forward(x, (2, 2), (2, 2)),
    )
    flat = x.reshape(-1, 3)
    for actual, expected in zip(
        numba_backend.batch_norm_forward(flat, None, None, 1e-3),
        reference.batch_norm_forward(flat, None, None, 1e-3),
    ):
        assert actual.dtype == numpy.float16
        numpy.testing.assert_array_equal(actual, expected)


def test_mixed_dtypes_fall_back_to_reference(numba_backend, rng):
    x = random(rng, (1, 4, 4, 2), "float32")
    kernel = random(rng, (2, 2, 2, 3), "float64")
    y = numba_backend.conv2d_forward(x, kernel)
    assert y.dtype == numpy.float64
    numpy.testing.assert_allclose(y, Backend().conv2d_forward(x, kernel))


@pytest.fixture
def split_counter(monkeypatch):
    """``run(threads)`` sets the pool's width; every split of work into blocks is counted,
    and every product handed to OpenBLAS's own threads (``blas_threads``) as one split."""
    from backends import blas_threads, thread_pool

    monkeypatch.setattr(thread_pool, "MIN_SPLIT_MACS", 1)
    monkeypatch.setattr(numba_dispatch, "MIN_IMAGE_SPLIT_ELEMENTS", 1)
    splits = []
    pool_run = thread_pool._pool.run

    def counting_run(function, argument_sets):
        splits.append(len(argument_sets))
        pool_run(function, argument_sets)

    monkeypatch.setattr(thread_pool._pool, "run", counting_run)
    blas_matmul = blas_threads.matmul

    def counting_matmul(a, b, threads):
        splits.append(threads)
        return blas_matmul(a, b, threads)

    monkeypatch.setattr(blas_threads, "matmul", counting_matmul)

    def set_width(threads):
        monkeypatch.setattr(thread_pool, "width", lambda: threads)
        return splits

    return set_width


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    ("x_shape", "kernel_shape", "geometry"),
    [
        ((7, 9, 8, 1), (3, 3, 1, 5), ((1, 1), "valid")),  # transposed columns
        ((7, 9, 8, 4), (3, 2, 4, 6), ((2, 1), "same", (1, 2))),  # several chunks per block
        ((5, 6, 6, 3), (1, 1, 3, 4), ((1, 1), "valid")),  # pointwise
    ],
)
def test_conv2d_split_between_threads_equals_one_thread(
    numba_backend, split_counter, dtype, x_shape, kernel_shape, geometry, rng
):
    """Three blocks of images (the kernel gradient: three partial sums) give one thread's result."""
    x = random(rng, x_shape, dtype)
    kernel = random(rng, kernel_shape, dtype)
    bias = random(rng, kernel_shape[3:], dtype)
    one_image = x.shape[1] * x.shape[2] * kernel_shape[0] * kernel_shape[1] * x.itemsize
    tolerance = {"rtol": RTOL[dtype], "atol": ATOL[dtype]}

    def run(threads):
        split_counter(threads)
        with mock.patch.object(numba_conv, "_CHUNK_BYTES", one_image * x.shape[3]):
            y = numba_backend.conv2d_forward(x, kernel, bias, *geometry)
            dy = numpy.ascontiguousarray(y[::-1])
            return [
                y,
                numba_backend.conv2d_backward_input(dy, kernel, x.shape, *geometry),
                numba_backend.conv2d_backward_weight(dy, x, kernel.shape, *geometry),
            ]

    serial = run(1)
    assert split_counter(1) == []
    split = run(3)
    assert split_counter(3) == [3, 3, 3]
    for ours, theirs in zip(split, serial, strict=True):
        assert ours.dtype == theirs.dtype
        numpy.testing.assert_allclose(ours, theirs, **tolerance)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("pool", "strides"), [((2, 2), (2, 2)), ((3, 2), (1, 2))])
def test_pooling_and_bias_split_between_threads_equal_one_thread(
    numba_backend, split_counter, dtype, pool, strides, rng
):
    x = random(rng, (7, 9, 8, 5), dtype)
    bias = random(rng, (5,), dtype)

    def run(threads):
        split_counter(threads)
        results = []
        for padding in ("valid", "same"):
            geometry = (pool, strides, padding)
            y, argmax = numba_backend.max_pool2d_forward(x, *geometry)
            dy = random(numpy.random.default_rng(1), y.shape, dtype)
            results += [
                y,
                argmax,
                numba_backend.max_pool2d_backward(dy, argmax, x.shape, *geometry),
                numba_backend.avg_pool2d_forward(x, *geometry),
                numba_backend.avg_pool2d_backward(dy, x.shape, *geometry),
            ]
        results.append(numba_backend.bias_activation_forward(x.copy(), bias, "relu"))
        return results

    serial = run(1)
    split = run(3)
    assert split_counter(3) == [3] * 9
    for ours, theirs in zip(split, serial, strict=True):
        numpy.testing.assert_array_equal(ours, theirs)
