"""The Fourier half of ``engine.ops``: fft, fft2, ifft2, rfft, irfft, stft and istft.

As in Keras 3, a complex tensor is a pair ``(real, imag)`` of float tensors of
one shape: the complex transforms take such a pair and return one, ``rfft`` and
``stft`` turn a real tensor into a pair, ``irfft`` and ``istft`` a pair into a
real tensor. Results keep the input's float dtype (float32 stays float32; the
transforms run in complex64 for it, complex128 for float64). Transforms act on
the last axis (the last two for ``fft2``/``ifft2``); ``stft`` frames the last
axis into ``(..., frames, fft_length // 2 + 1)`` and ``istft`` inverts that.

Every op is differentiable in the real and imaginary inputs. The transforms
are linear, so each one's gradient is its adjoint transform (``fft``'s is
``n * ifft``, ``rfft``'s a zero-extended ``ifft`` read back as reals, and so
on), computed by the backend's ``xp.fft``; the adjoints are themselves
recorded ops, so gradients can be differentiated again. ``stft`` and ``istft``
windows are constants: no gradient flows to an explicit window array.
"""

import math

import numpy

from . import functional as F
from .conversion import as_float, as_tensor, backend_of, promote, to_tensor
from .ops_shape import extract_sequences, pad
from .tensor import Function, Tensor, apply

# -- the linear maps and their adjoints ------------------------------------------------
#
# Each map acts on the last axis (or last two) of a backend array and knows its
# adjoint: for y = A z with a real loss L, dL/dz = A^H (dL/dRe y + i dL/dIm y),
# read back as (real, imag) gradients (only the real part for a real input).


def _fit(xp, a, size: int):
    """``a`` cropped or zero-padded at the end of its last axis to ``size`` entries."""
    have = a.shape[-1]
    if have == size:
        return a
    if have > size:
        return a[..., :size]
    out = xp.zeros((*a.shape[:-1], size), dtype=a.dtype)
    out[..., :have] = a
    return out


class _DFT:
    """``size**power * fft`` (or ``ifft``) over the last ``rank`` axes: complex to complex."""

    in_complex = out_complex = True

    def __init__(self, rank: int, inverse: bool, power: int = 0):
        self.rank, self.inverse, self.power = rank, inverse, power

    def __call__(self, xp, z):
        if self.rank == 1:
            out = (xp.fft.ifft if self.inverse else xp.fft.fft)(z, axis=-1)
        else:
            out = (xp.fft.ifft2 if self.inverse else xp.fft.fft2)(z, axes=(-2, -1))
        if self.power:
            out = out * float(math.prod(z.shape[-self.rank :])) ** self.power
        return out

    def adjoint(self) -> "_DFT":
        # fft^H = n ifft and ifft^H = fft / n
        return _DFT(self.rank, not self.inverse, self.power + (-1 if self.inverse else 1))


class _RFFT:
    """``rfft(x, n)`` of a real last axis of ``m`` entries: ``n // 2 + 1`` complex bins."""

    in_complex, out_complex = False, True

    def __init__(self, n: int, m: int):
        self.n, self.m = n, m

    def __call__(self, xp, x):
        return xp.fft.rfft(x, n=self.n, axis=-1)

    def adjoint(self) -> "_RFFTAdjoint":
        return _RFFTAdjoint(self.n, self.m)


class _RFFTAdjoint:
    """The adjoint of ``_RFFT``: bins zero-extended to ``n``, ``n * ifft``, real part,
    cropped or zero-padded back to ``m`` entries."""

    in_complex, out_complex = True, False

    def __init__(self, n: int, m: int):
        self.n, self.m = n, m

    def __call__(self, xp, g):
        return _fit(xp, xp.fft.ifft(g, n=self.n, axis=-1).real * float(self.n), self.m)

    def adjoint(self) -> _RFFT:
        return _RFFT(self.n, self.m)


def _hermitian_weights(n: int) -> numpy.ndarray:
    """How often each of ``irfft``'s ``n // 2 + 1`` bins counts in the full spectrum, over n."""
    weights = numpy.full(n // 2 + 1, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return weights / n


class _IRFFT:
    """``irfft(z, n)`` of ``k`` complex bins: ``n`` reals. The imaginary parts of the zero
    (and, for even ``n``, the Nyquist) bin do not count, as in NumPy, on every backend."""

    in_complex, out_complex = True, False

    def __init__(self, n: int, k: int):
        self.n, self.k = n, k

    def __call__(self, xp, z):
        z = _fit(xp, z, self.n // 2 + 1).copy()
        z[..., 0] = z[..., 0].real
        if self.n % 2 == 0:
            z[..., -1] = z[..., -1].real
        return xp.fft.irfft(z, n=self.n, axis=-1)

    def adjoint(self) -> "_IRFFTAdjoint":
        return _IRFFTAdjoint(self.n, self.k)


class _IRFFTAdjoint:
    """The adjoint of ``_IRFFT``: ``rfft`` weighted by each bin's multiplicity over ``n``."""

    in_complex, out_complex = False, True

    def __init__(self, n: int, k: int):
        self.n, self.k = n, k

    def __call__(self, xp, g):
        bins = xp.fft.rfft(g, n=self.n, axis=-1)
        weights = xp.asarray(_hermitian_weights(self.n).astype(bins.real.dtype))
        return _fit(xp, bins * weights, self.k)

    def adjoint(self) -> _IRFFT:
        return _IRFFT(self.n, self.k)


def _working(xp, a):
    """``a`` in a precision the FFT libraries take (float16 goes through float32)."""
    return a.astype(numpy.float32) if a.dtype.itemsize < 4 else a


def _complex(xp, real, imag):
    real, imag = _working(xp, real), _working(xp, imag)
    dtype = numpy.result_type(real.dtype, numpy.complex64)
    return real.astype(dtype) + imag.astype(dtype) * 1j


class _Transform(Function):
    """One linear map as a differentiable op. A complex input is two inputs (real,
    imag); a complex output is one array stacking real and imaginary parts on a new
    first axis (``_split`` takes it apart); all in the input's float dtype."""

    def __init__(self, transform):
        self.transform = transform

    def forward(self, *arrays):
        xp = self.backend.xp
        self.dtype = dtype = arrays[0].dtype
        z = _complex(xp, *arrays) if self.transform.in_complex else _working(xp, arrays[0])
        return _from_result(xp, self.transform(xp, z), self.transform.out_complex, dtype)

    def backward(self, grad):
        xp = self.backend.xp
        g = _complex(xp, grad[0], grad[1]) if self.transform.out_complex else _working(xp, grad)
        result = self.transform.adjoint()(xp, g)
        if self.transform.in_complex:
            return result.real.astype(self.dtype), result.imag.astype(self.dtype)
        return (result.astype(self.dtype),)

    def backward_graph(self, grad):
        parts = _split(grad) if self.transform.out_complex else (grad,)
        result = apply(_Transform(self.transform.adjoint()), *parts)
        return _split(result) if self.transform.in_complex else (result,)


def _from_result(xp, out, complex_output: bool, dtype):
    if complex_output:
        return xp.stack([out.real, out.imag]).astype(dtype, copy=False)
    return out.astype(dtype, copy=False)


def _split(stacked: Tensor) -> tuple:
    return F.getitem(stacked, 0), F.getitem(stacked, 1)


# -- arguments ---------------------------------------------------------------------------


def _pair(function: str, x, rank: int = 1) -> tuple:
    """``x`` as (real, imag) float tensors of one shape, dtype and backend."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            f"{function}: x must be a pair (real, imag) of float tensors of one shape; "
            f"got {type(x).__name__}"
            + (f" of length {len(x)}." if isinstance(x, (tuple, list)) else ".")
        )
    named = {"x[0]": x[0], "x[1]": x[1]}
    backend = backend_of(function, named)
    real, imag = (v if isinstance(v, Tensor) else to_tensor(v, backend) for v in named.values())
    for name, part in (("x[0] (the real part)", real), ("x[1] (the imaginary part)", imag)):
        if part.dtype.kind != "f":
            raise ValueError(f"{function}: {name} must be a float tensor; got dtype {part.dtype}.")
    if real.shape != imag.shape:
        raise ValueError(
            f"{function}: the real part x[0] has shape {tuple(real.shape)} but the imaginary "
            f"part x[1] has shape {tuple(imag.shape)}; they must match."
        )
    if real.ndim < rank:
        raise ValueError(
            f"{function}: x must have rank >= {rank}; its parts have shape {tuple(real.shape)}."
        )
    if real.dtype != imag.dtype:
        real, imag = promote(function, {"x[0]": real, "x[1]": imag})
    return real, imag


def _count(function: str, name: str, value, minimum: int = 1) -> int:
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < minimum:
        raise ValueError(f"{function}: {name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _real_input(function: str, x) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{function}: x must be a float tensor; got dtype {x.dtype}.")
    if x.ndim < 1:
        raise ValueError(f"{function}: x must have rank >= 1; got a scalar.")
    return x


# -- the transforms ----------------------------------------------------------------------


def fft(x) -> tuple:
    """The discrete Fourier transform of the last axis of ``x = (real, imag)``; returns
    ``(real, imag)``."""
    return _split(apply(_Transform(_DFT(1, False)), *_pair("fft", x)))


def fft2(x) -> tuple:
    """The 2-D discrete Fourier transform of the last two axes of ``x = (real, imag)``;
    returns ``(real, imag)``."""
    return _split(apply(_Transform(_DFT(2, False)), *_pair("fft2", x, rank=2)))


def ifft2(x) -> tuple:
    """The inverse of ``fft2`` (divided by the number of points); returns ``(real, imag)``."""
    return _split(apply(_Transform(_DFT(2, True)), *_pair("ifft2", x, rank=2)))


def rfft(x, fft_length=None) -> tuple:
    """The Fourier transform of the real last axis of ``x``: its ``fft_length // 2 + 1``
    non-negative frequencies as ``(real, imag)``. ``fft_length`` (default: the axis's
    length) crops the axis or pads it with zeros first. Integers become ``floatx``."""
    x = as_float("rfft", x)
    if x.ndim < 1:
        raise ValueError("rfft: x must have rank >= 1; got a scalar.")
    m = x.shape[-1]
    n = m if fft_length is None else _count("rfft", "fft_length", fft_length)
    if n < 1:
        raise ValueError("rfft: x has an empty last axis; give fft_length >= 1.")
    return _split(apply(_Transform(_RFFT(n, m)), x))


def irfft(x, fft_length=None) -> Tensor:
    """The inverse of ``rfft``: ``fft_length`` reals from the bins ``x = (real, imag)`` of a
    Hermitian spectrum (default ``fft_length``: ``2 * (bins - 1)``). Bins beyond
    ``fft_length // 2 + 1`` are ignored, missing ones are zeros; the imaginary parts of
    the zero-frequency (and even ``fft_length``'s Nyquist) bin do not count."""
    real, imag = _pair("irfft", x)
    k = real.shape[-1]
    if fft_length is None:
        n = 2 * (k - 1)
        if n < 1:
            raise ValueError(
                f"irfft: x has {k} bin(s) on its last axis, too few to infer fft_length "
                f"(2 * (bins - 1)); pass fft_length."
            )
    else:
        n = _count("irfft", "fft_length", fft_length)
    return apply(_Transform(_IRFFT(n, k)), real, imag)


# -- short-time transforms -----------------------------------------------------------


def _frame_args(function: str, sequence_length, sequence_stride, fft_length) -> tuple:
    length = _count(function, "sequence_length", sequence_length)
    stride = _count(function, "sequence_stride", sequence_stride)
    n = _count(function, "fft_length", fft_length)
    if n < length:
        raise ValueError(f"{function}: fft_length ({n}) must be >= sequence_length ({length}).")
    return length, stride, n


def _window(function: str, window, sequence_length: int, fft_length: int):
    """The window (float64, on the host) over a whole frame of ``fft_length`` samples:
    ``sequence_length`` samples of ``window`` centred in zeros, or ones if ``window`` is
    None (Keras's rule: the frame is then all of ``fft_length``)."""
    if window is None:
        return None
    if isinstance(window, str):
        periodic = 2 * numpy.pi * numpy.arange(sequence_length) / sequence_length
        if window == "hann":
            values = 0.5 - 0.5 * numpy.cos(periodic)
        elif window == "hamming":
            values = 0.54 - 0.46 * numpy.cos(periodic)
        else:
            raise ValueError(
                f'{function}: a window given by name must be "hann" or "hamming"; '
                f"got window={window!r}."
            )
    else:
        if isinstance(window, Tensor):
            window = window.numpy()
        elif hasattr(window, "__cuda_array_interface__"):
            window = window.get()  # a device array
        values = numpy.asarray(window, dtype=numpy.float64)
        if values.shape != (sequence_length,):
            raise ValueError(
                f"{function}: window must be a 1-D array of sequence_length "
                f"({sequence_length}) values; got shape {values.shape}."
            )
    before = (fft_length - sequence_length) // 2
    return numpy.pad(values, (before, fft_length - sequence_length - before))


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True) -> tuple:
    """The short-time Fourier transform of the last axis of the real ``x``.

    Frames of ``fft_length`` samples every ``sequence_stride`` (``x`` first padded by
    reflection with ``fft_length // 2`` samples at each end if ``center``), each
    multiplied by ``window`` (``"hann"``, ``"hamming"`` (periodic), an array of
    ``sequence_length`` values centred in the frame, or None: no window) and
    transformed by ``rfft``. Returns ``(real, imag)`` of shape
    ``(..., frames, fft_length // 2 + 1)``.
    """
    x = _real_input("stft", x)
    _, stride, n = _frame_args("stft", sequence_length, sequence_stride, fft_length)
    win = _window("stft", window, int(sequence_length), n)
    if center:
        x = pad(x, [(0, 0)] * (x.ndim - 1) + [(n // 2, n // 2)], mode="reflect")
    if x.shape[-1] < n:
        raise ValueError(
            f"stft: x has {x.shape[-1]} samples on its last axis"
            + (" after centring" if center else "")
            + f", fewer than one frame of fft_length ({n})."
        )
    frames = extract_sequences(x, n, stride)
    if win is not None:
        frames = F.multiply(frames, win)
    return _split(apply(_Transform(_RFFT(n, n)), frames))


class _OverlapAdd(Function):
    """Frames ``(..., count, length)`` summed into a signal, frame ``i`` starting at
    ``i * stride``: ``(..., length + stride * (count - 1))``. The adjoint of framing."""

    def __init__(self, stride: int):
        self.stride = stride

    def _index(self, xp):
        return xp.asarray(
            numpy.arange(self.count)[:, None] * self.stride + numpy.arange(self.length)
        )

    def forward(self, frames):
        xp, stride = self.backend.xp, self.stride
        *lead, count, length = frames.shape
        self.count, self.length = count, length
        chunks = -(-length // stride)  # each frame as `chunks` blocks of `stride` samples
        blocks = _fit(xp, frames, chunks * stride).reshape(*lead, count, chunks, stride)
        out = xp.zeros((*lead, count + chunks - 1, stride), dtype=frames.dtype)
        for j in range(chunks):
            out[..., j : j + count, :] += blocks[..., :, j, :]
        return out.reshape(*lead, -1)[..., : length + stride * (count - 1)]

    def backward(self, grad):
        return (grad[..., self._index(self.backend.xp)],)

    def backward_graph(self, grad):
        return (F.getitem(grad, (..., self._index(grad.backend.xp))),)


def istft(
    x,
    sequence_length,
    sequence_stride,
    fft_length,
    length=None,
    window="hann",
    center=True,
) -> Tensor:
    """The inverse of ``stft`` with the same arguments: ``x = (real, imag)`` of shape
    ``(..., frames, bins)`` back to a real signal.

    Each frame's ``irfft`` (``fft_length`` samples) is multiplied by the window and
    overlap-added, and the sum divided by the overlap-added squared window where that
    exceeds 1e-10. With ``window=None`` the frames are not windowed and the sum is
    scaled by ``fft_length / (sequence_stride * overlaps)``, as Keras does. With
    ``center`` the ``fft_length // 2`` samples at each end are dropped; ``length``
    keeps that many samples from there on.
    """
    real, imag = _pair("istft", x, rank=2)
    _, stride, n = _frame_args("istft", sequence_length, sequence_stride, fft_length)
    if length is not None:
        length = _count("istft", "length", length, minimum=0)
    win = _window("istft", window, int(sequence_length), n)
    frames = apply(_Transform(_IRFFT(n, real.shape[-1])), real, imag)
    count = real.shape[-2]
    if win is not None:
        frames = F.multiply(frames, win)
    signal = apply(_OverlapAdd(stride), frames)
    # the overlap-added squared window, computed on the host in the working dtype
    squares = numpy.ones(n) if win is None else win * win
    norm = numpy.zeros(n + stride * (count - 1))
    for i in range(count):
        norm[i * stride : i * stride + n] += squares
    divisor = numpy.where(norm > 1e-10, norm, 1.0)
    if win is None:
        divisor = divisor * stride / n
    signal = F.divide(signal, divisor)
    start = n // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = signal.shape[-1] - (n // 2 if center else 0)
    return F.getitem(signal, (..., slice(start, max(start, end))))


__all__ = ["fft", "fft2", "ifft2", "irfft", "istft", "rfft", "stft"]
