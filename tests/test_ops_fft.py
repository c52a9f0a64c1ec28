"""Keras 3's Fourier ops (``engine.ops_fft``): complex numbers as (real, imag) pairs of float
tensors. Values against ``numpy.fft`` and NumPy formulas for framing and overlap-adding,
dtypes kept, gradients (each output part, both input parts) against finite differences,
istft inverting stft, and errors naming the function and the argument, on every backend."""

import numpy
import pytest

import engine
from engine import ops_fft
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(5)


def rand(*shape):
    return rng.standard_normal(shape)


def host(pair):
    return tuple(part.numpy() for part in pair)


def assert_pair(result, expected, backend, dtype="float64", rtol=1e-12, atol=1e-12):
    real, imag = result
    for part, values in ((real, expected.real), (imag, expected.imag)):
        assert part.backend is backend and part.dtype == dtype
        numpy.testing.assert_allclose(part.numpy(), values, rtol=rtol, atol=atol)


# -- fft, fft2, ifft2 ----------------------------------------------------------------


COMPLEX = {
    "fft": (ops_fft.fft, numpy.fft.fft, (3, 8)),
    "fft_odd": (ops_fft.fft, numpy.fft.fft, (2, 3, 5)),
    "fft2": (ops_fft.fft2, numpy.fft.fft2, (2, 4, 6)),
    "fft2_odd": (ops_fft.fft2, numpy.fft.fft2, (3, 5)),
    "ifft2": (ops_fft.ifft2, numpy.fft.ifft2, (2, 4, 6)),
    "ifft2_odd": (ops_fft.ifft2, numpy.fft.ifft2, (5, 3)),
}


@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_transforms_match_numpy(backend, name):
    op, reference, shape = COMPLEX[name]
    real, imag = rand(*shape), rand(*shape)
    assert_pair(op((real, imag)), reference(real + 1j * imag), backend)
    # float32 stays float32 (the parts of the complex64 result)
    small = (real.astype("float32"), imag.astype("float32"))
    assert_pair(op(small), reference(real + 1j * imag), backend, "float32", 1e-5, 1e-5)


@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_transforms_gradients(backend, float64, name):
    op, _, shape = COMPLEX[name]
    real, imag = rand(*shape), rand(*shape)
    for part in (0, 1):
        check_gradients(lambda r, i, p=part: op((r, i))[p], real, imag, backend=backend)


def test_fft_second_derivative(backend, float64):
    """The adjoint transforms are recorded ops: d/dr of grad(sum(Re fft(r)^2)) is 2 C^T C."""
    x = rand(6)
    r = engine.tensor(x, requires_grad=True)
    i = engine.tensor(numpy.zeros(6))
    real, _ = ops_fft.fft((r, i))
    (g,) = engine.grad((real * real).sum(), [r], create_graph=True)
    cosines = numpy.cos(2 * numpy.pi * numpy.outer(numpy.arange(6), numpy.arange(6)) / 6)
    numpy.testing.assert_allclose(g.numpy(), 2 * cosines.T @ cosines @ x, rtol=1e-10, atol=1e-10)
    v = rand(6)
    (g * engine.tensor(v)).sum().backward()
    numpy.testing.assert_allclose(r.grad.numpy(), 2 * cosines.T @ cosines @ v, atol=1e-10)


def test_fft_round_trip_and_inputs(backend):
    """ifft2(fft2(x)) is x; lists and mixed float dtypes are accepted."""
    real, imag = rand(3, 4), rand(3, 4)
    back = host(ops_fft.ifft2(ops_fft.fft2((real, imag))))
    numpy.testing.assert_allclose(back[0], real, atol=1e-12)
    numpy.testing.assert_allclose(back[1], imag, atol=1e-12)
    out = ops_fft.fft(([1.0, 2.0], [0.0, 1.0]))
    assert out[0].dtype == "float32" and out[0].numpy().tolist() == [3.0, -1.0]
    assert out[1].numpy().tolist() == [1.0, -1.0]
    mixed = ops_fft.fft((real.astype("float32"), imag))
    assert mixed[0].dtype == "float64"


@pytest.mark.parametrize(
    "op, call, match",
    [
        (ops_fft.fft, lambda: ops_fft.fft(rand(4)), r"fft: x must be a pair \(real, imag\)"),
        (ops_fft.fft, lambda: ops_fft.fft((rand(4), rand(5))), r"fft: the real part x\[0\]"),
        (ops_fft.fft2, lambda: ops_fft.fft2((rand(4), rand(4))), "fft2: x must have rank >= 2"),
        (
            ops_fft.ifft2,
            lambda: ops_fft.ifft2((rand(2, 2), numpy.ones((2, 2), "int32"))),
            r"ifft2: x\[1\] \(the imaginary part\) must be a float tensor",
        ),
    ],
)
def test_complex_transforms_errors(backend, op, call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- rfft, irfft ----------------------------------------------------------------------


@pytest.mark.parametrize("fft_length", [None, 7, 10, 16, 15])
def test_rfft_matches_numpy(backend, float64, fft_length):
    x = rand(3, 10)
    expected = numpy.fft.rfft(x, n=fft_length)
    assert_pair(ops_fft.rfft(x, fft_length), expected, backend)
    assert_pair(
        ops_fft.rfft(x.astype("float32"), fft_length), expected, backend, "float32", 1e-5, 1e-5
    )
    for part in (0, 1):
        check_gradients(lambda a, p=part: ops_fft.rfft(a, fft_length)[p], x, backend=backend)


def test_rfft_of_integers_is_floatx(backend):
    real, _ = ops_fft.rfft(numpy.arange(4, dtype="int32"))
    assert real.dtype == "float32" and real.numpy().tolist() == [6.0, -2.0, -2.0]


@pytest.mark.parametrize("fft_length", [None, 5, 7, 14, 20])
def test_irfft_matches_numpy(backend, float64, fft_length):
    """Arbitrary bins: the imaginary parts NumPy ignores (zero, Nyquist bins) are ignored."""
    real, imag = rand(3, 8), rand(3, 8)
    expected = numpy.fft.irfft(real + 1j * imag, n=fft_length)
    result = ops_fft.irfft((real, imag), fft_length)
    assert result.backend is backend and result.dtype == "float64"
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-12)
    small = ops_fft.irfft((real.astype("float32"), imag.astype("float32")), fft_length)
    assert small.dtype == "float32"
    numpy.testing.assert_allclose(small.numpy(), expected, rtol=1e-5, atol=1e-6)
    check_gradients(lambda r, i: ops_fft.irfft((r, i), fft_length), real, imag, backend=backend)


def test_irfft_inverts_rfft(backend):
    for length in (9, 10):
        x = rand(2, length)
        numpy.testing.assert_allclose(
            ops_fft.irfft(ops_fft.rfft(x), length).numpy(), x, rtol=1e-12, atol=1e-12
        )


def test_rfft_irfft_errors(backend):
    with pytest.raises(ValueError, match="rfft: fft_length must be an integer >= 1"):
        ops_fft.rfft(rand(4), 0)
    with pytest.raises(ValueError, match=r"irfft: x must be a pair \(real, imag\)"):
        ops_fft.irfft(rand(4))
    with pytest.raises(ValueError, match="irfft: x has 1 bin.*pass fft_length"):
        ops_fft.irfft((rand(2, 1), rand(2, 1)))


# -- stft, istft ----------------------------------------------------------------------


def _window(window, sequence_length, fft_length):
    """Keras's (scipy's periodic) window centred in a frame of fft_length; ones for None."""
    if window is None:
        return numpy.ones(fft_length)
    if isinstance(window, str):
        symmetric = {"hann": numpy.hanning, "hamming": numpy.hamming}[window]
        window = symmetric(sequence_length + 1)[:-1]
    before = (fft_length - sequence_length) // 2
    return numpy.pad(numpy.asarray(window, float), (before, fft_length - sequence_length - before))


def reference_stft(x, sequence_length, stride, fft_length, window, center):
    if center:
        x = numpy.pad(x, [(0, 0)] * (x.ndim - 1) + [(fft_length // 2,) * 2], mode="reflect")
    count = (x.shape[-1] - fft_length) // stride + 1
    frames = numpy.stack([x[..., i * stride : i * stride + fft_length] for i in range(count)], -2)
    return numpy.fft.rfft(frames * _window(window, sequence_length, fft_length), n=fft_length)


def reference_istft(spectrum, sequence_length, stride, fft_length, length, window, center):
    frames = numpy.fft.irfft(spectrum, n=fft_length)
    win = _window(window, sequence_length, fft_length)
    count = frames.shape[-2]
    total = fft_length + stride * (count - 1)
    signal, norm = numpy.zeros((*frames.shape[:-2], total)), numpy.zeros(total)
    for i in range(count):
        signal[..., i * stride : i * stride + fft_length] += frames[..., i, :] * win
        norm[i * stride : i * stride + fft_length] += win * win
    signal /= numpy.where(norm > 1e-10, norm, 1.0)
    if window is None:  # Keras: frames scaled by sum(ones) = fft_length, then / stride
        signal *= fft_length / stride
    start = fft_length // 2 if center else 0
    end = start + length if length is not None else total - (fft_length // 2 if center else 0)
    return signal[..., start:end]


WINDOWS = {"hann": "hann", "hamming": "hamming", "none": None, "array": [0.3, 1.0, 0.8, 0.6]}
# (sequence_length, sequence_stride, fft_length)
FRAMINGS = [(4, 2, 4), (4, 1, 6), (4, 3, 7)]


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("framing", FRAMINGS)
def test_stft_and_istft_match_numpy_formulas(backend, float64, window, center, framing):
    sequence_length, stride, fft_length = framing
    win = WINDOWS[window]
    x = rand(2, 15)
    expected = reference_stft(x, sequence_length, stride, fft_length, win, center)
    spectrum = ops_fft.stft(x, sequence_length, stride, fft_length, window=win, center=center)
    assert_pair(spectrum, expected, backend, rtol=1e-11, atol=1e-11)
    real, imag = rand(*expected.shape), rand(*expected.shape)  # not an stft's output
    for length in (None, 5):
        result = ops_fft.istft(
            (real, imag), sequence_length, stride, fft_length, length, window=win, center=center
        )
        want = reference_istft(
            real + 1j * imag, sequence_length, stride, fft_length, length, win, center
        )
        assert result.backend is backend and result.shape == want.shape
        numpy.testing.assert_allclose(result.numpy(), want, rtol=1e-11, atol=1e-11)
    small = ops_fft.stft(x.astype("float32"), sequence_length, stride, fft_length, win, center)
    assert_pair(small, expected, backend, "float32", 1e-5, 1e-5)
    inverse = ops_fft.istft(small, sequence_length, stride, fft_length, window=win, center=center)
    assert inverse.dtype == "float32"


@pytest.mark.parametrize("window", ["hann", None, "array"])
@pytest.mark.parametrize("center", [True, False])
def test_stft_and_istft_gradients(backend, float64, window, center):
    win = WINDOWS.get(window, window)
    x = rand(2, 9)
    args = (4, 2, 6)
    for part in (0, 1):
        check_gradients(
            lambda a, p=part: ops_fft.stft(a, *args, window=win, center=center)[p],
            x,
            backend=backend,
        )
    shape = ops_fft.stft(x, *args, window=win, center=center)[0].shape
    check_gradients(
        lambda r, i: ops_fft.istft((r, i), *args, window=win, center=center),
        rand(*shape),
        rand(*shape),
        backend=backend,
    )


@pytest.mark.parametrize("window", ["hann", "hamming", "array"])
def test_istft_inverts_stft(backend, window):
    """With center, every kept sample is covered by a window: x comes back exactly."""
    win = WINDOWS[window]
    x = rand(3, 20)
    for sequence_length, stride, fft_length in [(4, 1, 4), (4, 2, 6), (4, 1, 8)]:
        spectrum = ops_fft.stft(x, sequence_length, stride, fft_length, window=win)
        back = ops_fft.istft(spectrum, sequence_length, stride, fft_length, 20, window=win)
        numpy.testing.assert_allclose(back.numpy(), x, rtol=1e-10, atol=1e-10)
    # a window that is a tensor of the backend, and float32 all the way
    spectrum = ops_fft.stft(
        x.astype("float32"), 4, 2, 4, window=engine.tensor([0.5, 1.0, 1.0, 0.5])
    )
    back = ops_fft.istft(spectrum, 4, 2, 4, length=20, window=engine.tensor([0.5, 1.0, 1.0, 0.5]))
    assert back.dtype == "float32"
    numpy.testing.assert_allclose(back.numpy(), x, rtol=1e-5, atol=1e-5)


def test_stft_istft_errors(backend):
    with pytest.raises(ValueError, match=r"stft: fft_length \(3\) must be >= sequence_length"):
        ops_fft.stft(rand(10), 4, 2, 3)
    with pytest.raises(ValueError, match='stft: a window given by name must be "hann"'):
        ops_fft.stft(rand(10), 4, 2, 4, window="blackman")
    with pytest.raises(ValueError, match="stft: window must be a 1-D array of sequence_length"):
        ops_fft.stft(rand(10), 4, 2, 4, window=numpy.ones(3))
    with pytest.raises(TypeError, match="stft: x must be a float tensor"):
        ops_fft.stft(numpy.arange(10), 4, 2, 4)
    with pytest.raises(ValueError, match="stft: x has 3 samples"):
        ops_fft.stft(rand(3), 4, 2, 4, center=False)
    with pytest.raises(ValueError, match="istft: x must have rank >= 2"):
        ops_fft.istft((rand(3), rand(3)), 4, 2, 4)
    with pytest.raises(ValueError, match="istft: sequence_stride must be an integer >= 1"):
        ops_fft.istft((rand(3, 3), rand(3, 3)), 4, 0, 4)
