"""Weight initializers with Keras 3's names, formulas and defaults.

An initializer is called with a shape and dtype and returns a host (NumPy)
array; the layer moves it to its backend. Drawing on the host keeps a seeded
model identical on every backend.
"""

import math

import numpy

from . import random
from .registry import Registry

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
        "orthogonal": Orthogonal,
    },
)


def get(identifier) -> Initializer:
    """An initializer from a name, a config dict, an instance or a callable."""
    if isinstance(identifier, Initializer) or (
        callable(identifier) and not isinstance(identifier, type)
    ):
        return identifier
    return _registry.create(identifier)


def serialize(initializer) -> dict:
    return _registry.serialize(initializer)
