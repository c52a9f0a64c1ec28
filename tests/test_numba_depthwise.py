"""The numba backend's depthwise convolution against the reference, on both of its paths
(by rows: column stride 1 and multiplier 1; pixel by pixel: the rest), split between
threads, for every combination of the gradients asked for."""

import numpy
import pytest

import backends
from backends.base import Backend
from backends.kernels.conv import output_size, resolve_padding

pytest.importorskip("numba")

from backends import numba_depthwise, thread_pool  # noqa: E402

CASES = [  # strides, dilation, padding, multiplier, window
    ((1, 1), (1, 1), "same", 1, (3, 3)),  # by rows
    ((2, 1), (1, 2), "same", 1, (3, 2)),  # by rows, a row stride and a column dilation
    ((1, 1), (2, 1), "valid", 1, (2, 3)),  # by rows, no padding
    ((1, 1), (1, 1), "same", 1, (5, 5)),  # by rows, windows wider than the image's edge
    ((1, 2), (1, 1), "same", 1, (3, 3)),  # a column stride: pixel by pixel
    ((1, 1), (1, 1), "same", 2, (3, 3)),  # a multiplier: pixel by pixel
    ((2, 3), (1, 1), "valid", 3, (2, 2)),
]


def geometry(shape, window, strides, dilation, padding):
    pads = resolve_padding(shape[1:3], window, strides, dilation, padding)
    out_hw = tuple(
        output_size(size, k, s, d, p)
        for size, k, s, d, p in zip(shape[1:3], window, strides, dilation, pads)
    )
    return pads, out_hw


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strides, dilation, padding, multiplier, window", CASES)
def test_depthwise_matches_reference(
    monkeypatch, rng, strides, dilation, padding, multiplier, window, dtype, threads
):
    monkeypatch.setattr(thread_pool, "width", lambda: threads)
    monkeypatch.setattr(numba_depthwise, "MIN_SPLIT_WORK", 1)  # a block per thread
    numba_backend, reference = backends.get("numba"), Backend()
    x = rng.standard_normal((5, 7, 6, 4)).astype(dtype)
    kernel = rng.standard_normal((*window, 4, multiplier)).astype(dtype)
    pads, out_hw = geometry(x.shape, window, strides, dilation, padding)
    rtol, atol = (1e-5, 1e-5) if dtype == "float32" else (1e-12, 1e-12)
    calls = []
    kernels = numba_backend._depthwise
    for name in ("forward", "input_gradient", "kernel_gradient"):
        function = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *a, f=function, n=name: calls.append(n) or f(*a))

    y = numba_backend.depthwise_conv2d_forward(x, kernel, strides, pads, dilation, out_hw)
    expected = reference.depthwise_conv2d_forward(x, kernel, strides, pads, dilation, out_hw)
    assert y.dtype == expected.dtype
    numpy.testing.assert_allclose(y, expected, rtol, atol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    for needs in ((True, True), (True, False), (False, True)):
        arguments = (dy, x, kernel, x.shape, window, strides, pads, dilation, needs)
        ours = numba_backend.depthwise_conv2d_backward(*arguments)
        theirs = reference.depthwise_conv2d_backward(*arguments)
        for got, want, needed in zip(ours, theirs, needs, strict=True):
            if not needed:
                assert got is None and want is None
                continue
            assert got.shape == want.shape and got.dtype == want.dtype
            numpy.testing.assert_allclose(got, want, rtol, atol)
    assert calls.count("forward") == min(threads, 5)
    assert calls.count("input_gradient") == calls.count("kernel_gradient") == 2 * min(threads, 5)


def test_depthwise_falls_back_for_other_dtypes(rng):
    """float16 goes to the reference, and gives its result."""
    numba_backend, reference = backends.get("numba"), Backend()
    x = rng.standard_normal((2, 5, 5, 3)).astype("float16")
    kernel = rng.standard_normal((3, 3, 3, 1)).astype("float16")
    pads, out_hw = geometry(x.shape, (3, 3), (1, 1), (1, 1), "same")
    numpy.testing.assert_array_equal(
        numba_backend.depthwise_conv2d_forward(x, kernel, (1, 1), pads, (1, 1), out_hw),
        reference.depthwise_conv2d_forward(x, kernel, (1, 1), pads, (1, 1), out_hw),
    )
