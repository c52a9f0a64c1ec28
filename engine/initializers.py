"""Weight initializers with Keras 3's names, formulas and defaults.

An initializer is called with a shape and dtype and returns a host (NumPy)
array; the layer moves it to its backend. Drawing on the host keeps a seeded
model identical on every backend.
"""

import math

import numpy

from . import random
from .registry import Registry, custom_object_scope

# stddev of a unit normal truncated at two standard deviations
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def compute_fans(shape) -> tuple[float, float]:
    """Fan-in and fan-out as Keras computes them (conv kernels are ``(..., in, out)``)."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive_field = math.prod(shape[:-2])
    return float(shape[-2] * receptive_field), float(shape[-1] * receptive_field)


class Initializer:
    """Base class: ``initializer(shape, dtype) -> numpy.ndarray``."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._generator = numpy.random.default_rng(seed) if seed is not None else None

    def rng(self) -> numpy.random.Generator:
        return self._generator if self._generator is not None else random.generator()

    def __call__(self, shape, dtype="float32") -> numpy.ndarray:
        return self.sample(tuple(shape)).astype(dtype)

    def sample(self, shape) -> numpy.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed} if self.seed is not None else {}

    def truncated_normal(self, shape, mean, stddev) -> numpy.ndarray:
        """Normal samples redrawn until they fall within two standard deviations."""
        rng = self.rng()
        values = rng.standard_normal(shape)
        outside = numpy.abs(values) > 2
        while outside.any():
            values[outside] = rng.standard_normal(int(outside.sum()))
            outside = numpy.abs(values) > 2
        return mean + stddev * values


class Zeros(Initializer):
    def sample(self, shape):
        return numpy.zeros(shape)


class Ones(Initializer):
    def sample(self, shape):
        return numpy.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        super().__init__()
        self.value = value

    def sample(self, shape):
        return numpy.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return self.rng().normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape):
        return self.rng().uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return self.truncated_normal(shape, self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(Initializer):
    """The family behind Glorot and He: variance ``scale / fan``."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def sample(self, shape):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return self.rng().uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return self.rng().normal(0.0, math.sqrt(variance), shape)
        stddev = math.sqrt(variance) / _TRUNCATED_NORMAL_STDDEV
        return self.truncated_normal(shape, 0.0, stddev)

    def get_config(self):
        if type(self) is not VarianceScaling:  # the named variants take only a seed
            return super().get_config()
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
        }


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes; rectangular ones get ones on the
    main diagonal)."""

    def __init__(self, gain: float = 1.0):
        super().__init__()
        self.gain = gain

    def sample(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializer can only be used for 2D matrices, got shape {shape}."
            )
        return self.gain * numpy.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


# cosine-sum windows: w[n] = sum_k (-1)**k a_k cos(2 pi k n / (N - 1)), as scipy.signal
_COSINE_WINDOWS = {
    "hann": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.5, 0.08),
    "boxcar": (1.0,),
}


def _window(name: str, length: int, periodic: bool) -> numpy.ndarray:
    """scipy.signal.get_window's common windows in NumPy; others through SciPy if installed."""
    if length == 1:
        return numpy.ones(1)
    points = length + 1 if periodic else length
    n = numpy.arange(points)
    if name in _COSINE_WINDOWS:
        phase = 2 * math.pi * n / (points - 1)
        window = sum(
            (-1) ** k * a * numpy.cos(k * phase) for k, a in enumerate(_COSINE_WINDOWS[name])
        )
    elif name == "bartlett":
        window = 1 - numpy.abs(2 * n / (points - 1) - 1)
    else:
        try:
            from scipy.signal import get_window
        except ImportError:
            raise ValueError(
                f"STFT: window '{name}' needs SciPy (pip install scipy); without it use one of "
                f"{sorted([*_COSINE_WINDOWS, 'bartlett'])} or an array."
            ) from None
        return numpy.asarray(get_window(name, length, periodic), dtype=numpy.float64)
    return window[:length]


class STFT(Initializer):
    """Kernels of a short-time Fourier transform as a convolution, shape
    ``(frame_length, 1, fft_length // 2 + 1)``: the real (cosine) or imaginary (sine)
    parts of the DFT, times ``window`` and divided by its ``scaling`` (Keras 3's)."""

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        super().__init__()
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: `side` must be 'real' or 'imag', got {side!r}.")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(
                f"STFT: `scaling` must be None, 'density' or 'spectrum', got {scaling!r}."
            )
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def sample(self, shape):
        frame_length, _, fft_bins = shape
        frequency = numpy.arange(fft_bins).reshape(1, 1, -1) / ((fft_bins - 1) * 2)
        time = numpy.arange(frame_length).reshape(-1, 1, 1)
        angle = -2 * time * frequency * math.pi
        kernel = numpy.cos(angle) if self.side == "real" else numpy.sin(angle)
        if self.window is None:
            return kernel
        window = self.window
        if isinstance(window, str):
            window = _window(window, frame_length, self.periodic)
        window = numpy.asarray(window, dtype=numpy.float64)
        if window.shape != (frame_length,):
            raise ValueError(
                f"STFT: the window must have shape ({frame_length},) (frame_length), got "
                f"{window.shape}."
            )
        scaling = 1.0
        if self.scaling == "density":
            scaling = math.sqrt(float(numpy.sum(window**2)))
        elif self.scaling == "spectrum":
            scaling = float(numpy.sum(numpy.abs(window)))
        return kernel * window.reshape(-1, 1, 1) / scaling

    def get_config(self):
        window = self.window
        if isinstance(window, numpy.ndarray):
            window = window.tolist()
        return {
            "side": self.side,
            "window": window,
            "scaling": self.scaling,
            "periodic": self.periodic,
        }


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal sample."""

    def __init__(self, gain: float = 1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape):
        rows = math.prod(shape[:-1])
        cols = shape[-1]
        flat = self.rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = numpy.linalg.qr(flat)
        q *= numpy.sign(numpy.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


_registry = Registry(
    "initializer",
    {
        "zeros": Zeros,
        "ones": Ones,
        "constant": Constant,
        "random_normal": RandomNormal,
        "random_uniform": RandomUniform,
        "truncated_normal": TruncatedNormal,
        "variance_scaling": VarianceScaling,
        "glorot_uniform": GlorotUniform,
        "glorot_normal": GlorotNormal,
        "he_uniform": HeUniform,
        "he_normal": HeNormal,
        "lecun_normal": LecunNormal,
        "lecun_uniform": LecunUniform,
        "orthogonal": Orthogonal,
        "identity": Identity,
        "stft": STFT,
    },
)
# Keras's other names for some of them
for _alias, _cls in {
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "STFTInitializer": STFT,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "one": Ones,
    "zero": Zeros,
}.items():
    _registry.register(_cls, _alias)

# Keras 3 exports each class under its snake-case name too (``initializers.he_normal(seed=1)``)
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, identity, stft = VarianceScaling, Orthogonal, Identity, STFT
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
IdentityInitializer, OrthogonalInitializer, STFTInitializer = Identity, Orthogonal, STFT


def get(identifier) -> Initializer:
    """An initializer from a name, a config dict, an instance or a callable."""
    if isinstance(identifier, Initializer) or (
        callable(identifier) and not isinstance(identifier, type)
    ):
        return identifier
    return _registry.create(identifier)


def serialize(initializer) -> dict:
    return _registry.serialize(initializer)


def deserialize(config, custom_objects: dict | None = None) -> Initializer:
    """An initializer from ``serialize``'s dict or a name (Keras's ``deserialize``)."""
    with custom_object_scope(custom_objects):
        return _registry.create(config)
