"""Randomness: the host generator for weights and shuffling, and Keras 3's ``keras.random``.

``normal``, ``uniform``, ``randint``, ``truncated_normal``, ``gamma``, ``beta``,
``binomial``, ``dropout``, ``shuffle`` and ``categorical`` follow Keras 3's seed
semantics:

- ``seed=None`` draws from a global ``SeedGenerator``: different values each
  call, the same sequence after ``engine.utils.set_random_seed(n)``;
- ``seed=42`` (an int) gives the same values on every call;
- ``seed=SeedGenerator(42)`` gives new values on each call, and the same
  sequence from a new ``SeedGenerator(42)``.

A draw's numbers come from a NumPy generator keyed on the seed and are then
moved to the backend, so one seed gives the same values on every backend (at
the cost, on a GPU, of one host-to-device copy per draw).
"""

import random as _python_random
import threading

import numpy

import backends

from . import config, ops
from .tensor import Tensor

_generator = numpy.random.default_rng()
_global_seed_generator = None


def generator() -> numpy.random.Generator:
    """The host generator used by initializers and ``fit``'s shuffling."""
    return _generator


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, this library's generator, every backend's, and the unseeded draws."""
    global _generator, _global_seed_generator
    if not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: expected a non-negative integer, got {seed!r}.")
    seed = int(seed)
    _python_random.seed(seed)
    numpy.random.seed(seed % 2**32)  # noqa: NPY002 (user code may rely on the global state)
    _generator = numpy.random.default_rng(seed)
    backends.seed_all(seed % 2**32)
    _global_seed_generator = None  # remade from Python's (now seeded) generator on next use


class SeedGenerator:
    """A seed that advances with every draw, as ``keras.random.SeedGenerator``.

    >>> seed = SeedGenerator(1337)
    >>> a = normal((2,), seed=seed); b = normal((2,), seed=seed)   # a != b
    >>> SeedGenerator(1337) replays a, then b
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs):
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments {sorted(kwargs)}.")
        if seed is not None and (
            not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool)
        ):
            raise ValueError(f"SeedGenerator: seed must be an integer or None, got {seed!r}.")
        self._initial_seed = seed
        self.name = name or "seed_generator"
        self._seed = int(seed) if seed is not None else _python_random.randint(1, 10**9)
        self._count = 0
        self._lock = threading.Lock()

    @property
    def state(self) -> numpy.ndarray:
        """``[seed, draws so far]``, as the state variable of Keras's SeedGenerator."""
        return numpy.array([self._seed, self._count], dtype="int64")

    def next(self, ordered: bool = True) -> tuple:
        """The seed for one draw; advances the state."""
        with self._lock:
            count = self._count
            self._count += 1
        return self._seed, count

    def get_config(self) -> dict:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "SeedGenerator":
        return cls(**config)


def global_seed_generator() -> SeedGenerator:
    """The generator behind draws given no seed (remade by ``set_seed``)."""
    global _global_seed_generator
    if _global_seed_generator is None:
        _global_seed_generator = SeedGenerator(name="global_seed_generator")
    return _global_seed_generator


def draw_seed(seed) -> tuple:
    """``(key, counter)`` for one draw from an int, a SeedGenerator or None (the global one)."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, numpy.integer)) and not isinstance(seed, bool):
        return int(seed), 0
    if seed is None:
        return global_seed_generator().next()
    raise ValueError(
        f"seed must be an int, a SeedGenerator or None; got {seed!r} of type {type(seed).__name__}."
    )


def _host_generator(seed) -> numpy.random.Generator:
    key, counter = draw_seed(seed)
    return numpy.random.default_rng([key % 2**64, counter])


def _float_dtype(function: str, dtype) -> numpy.dtype:
    dtype = numpy.dtype(dtype or config.floatx())
    if dtype.kind != "f":
        raise ValueError(f"{function}: dtype must be a float dtype, got {dtype}.")
    return dtype


def _shape(shape) -> tuple:
    if isinstance(shape, (int, numpy.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _on_backend(values: numpy.ndarray, dtype, backend=None) -> Tensor:
    backend = config.resolve_backend(backend)
    return Tensor._wrap(backend.asarray(values.astype(dtype, copy=False)), backend)


def _standard_normal(rng, shape, dtype) -> numpy.ndarray:
    native = dtype if dtype.name in ("float32", "float64") else numpy.float64
    return rng.standard_normal(shape, dtype=native)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Samples from a normal distribution, ``floatx`` unless ``dtype`` is given."""
    dtype = _float_dtype("normal", dtype)
    values = _standard_normal(_host_generator(seed), _shape(shape), dtype)
    return _on_backend(values * float(stddev) + float(mean), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Normal samples, redrawn until each lies within two standard deviations of the mean."""
    dtype = _float_dtype("truncated_normal", dtype)
    rng = _host_generator(seed)
    values = _standard_normal(rng, _shape(shape), dtype)
    outside = numpy.abs(values) > 2
    while outside.any():
        values[outside] = _standard_normal(rng, (int(outside.sum()),), dtype)
        outside = numpy.abs(values) > 2
    return _on_backend(values * float(stddev) + float(mean), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Tensor:
    """Samples from the uniform distribution on ``[minval, maxval)``."""
    dtype = _float_dtype("uniform", dtype)
    native = dtype if dtype.name in ("float32", "float64") else numpy.float64
    values = _host_generator(seed).random(_shape(shape), dtype=native)
    return _on_backend(values * (float(maxval) - float(minval)) + float(minval), dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None) -> Tensor:
    """Integers drawn uniformly from ``[minval, maxval)``."""
    dtype = numpy.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"randint: dtype must be an integer dtype, got {dtype}.")
    if int(maxval) <= int(minval):
        raise ValueError(f"randint: maxval ({maxval}) must be greater than minval ({minval}).")
    values = _host_generator(seed).integers(int(minval), int(maxval), _shape(shape), dtype=dtype)
    return _on_backend(values, dtype)


def _parameter(value):
    """A distribution parameter (a number, an array or a tensor, broadcast against the
    shape) as a host array."""
    if isinstance(value, Tensor):
        return value.numpy()
    return numpy.asarray(value, dtype=numpy.float64)


def gamma(shape, alpha, dtype=None, seed=None) -> Tensor:
    """Samples from the gamma distribution of shape ``alpha`` and scale 1."""
    dtype = _float_dtype("gamma", dtype)
    alpha = _parameter(alpha)
    if (alpha <= 0).any():
        raise ValueError(f"gamma: `alpha` must be positive; got {alpha.tolist()!r}.")
    values = _host_generator(seed).gamma(alpha, 1.0, size=_shape(shape))
    return _on_backend(values, dtype)


def beta(shape, alpha, beta, dtype=None, seed=None) -> Tensor:
    """Samples from the beta distribution with parameters ``alpha`` and ``beta``, in [0, 1]."""
    dtype = _float_dtype("beta", dtype)
    alpha, beta_ = _parameter(alpha), _parameter(beta)
    if (alpha <= 0).any() or (beta_ <= 0).any():
        raise ValueError(
            f"beta: `alpha` and `beta` must be positive; got alpha={alpha.tolist()!r}, "
            f"beta={beta_.tolist()!r}."
        )
    values = _host_generator(seed).beta(alpha, beta_, size=_shape(shape))
    return _on_backend(values, dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None) -> Tensor:
    """The number of successes in ``counts`` trials each succeeding with ``probabilities``,
    as floats (``floatx`` unless ``dtype`` is given), as Keras returns them."""
    dtype = _float_dtype("binomial", dtype)
    counts, probabilities = _parameter(counts), _parameter(probabilities)
    if (counts < 0).any() or (counts != numpy.round(counts)).any():
        raise ValueError(
            f"binomial: `counts` must be non-negative whole numbers; got {counts.tolist()!r}."
        )
    if ((probabilities < 0) | (probabilities > 1)).any():
        raise ValueError(
            f"binomial: `probabilities` must be in [0, 1]; got {probabilities.tolist()!r}."
        )
    values = _host_generator(seed).binomial(
        counts.astype(numpy.int64), probabilities, _shape(shape)
    )
    return _on_backend(values, dtype)


def dropout(inputs, rate: float, noise_shape=None, seed=None) -> Tensor:
    """Zero each entry with probability ``rate``; scale the rest by ``1 / (1 - rate)``.

    ``noise_shape`` (None entries taken from ``inputs``) shares one draw along
    the axes where it is 1. The gradient flows through the kept entries.
    """
    inputs = ops.convert_to_tensor(inputs)
    if not 0 <= rate <= 1:
        raise ValueError(f"dropout: rate must be in [0, 1], got {rate!r}.")
    shape = (
        inputs.shape
        if noise_shape is None
        else tuple(
            size if size is not None else inputs.shape[i] for i, size in enumerate(noise_shape)
        )
    )
    dtype = inputs.dtype if inputs.dtype.kind == "f" else numpy.dtype(config.floatx())
    keep = _host_generator(seed).random(shape) >= rate
    scale = 1 / (1 - rate) if rate < 1 else 0.0  # rate 1 drops everything, as Keras
    mask = _on_backend(keep * scale, dtype, inputs.backend)
    return ops.multiply(inputs, mask)


def shuffle(x, axis: int = 0, seed=None) -> Tensor:
    """``x`` with its entries along ``axis`` in a random order (differentiable)."""
    x = ops.convert_to_tensor(x)
    order = _host_generator(seed).permutation(x.shape[axis])
    return ops.take(x, _on_backend(order, "int64", x.backend), axis=axis)


def categorical(logits, num_samples: int, dtype="int32", seed=None) -> Tensor:
    """``num_samples`` class indices per row of ``logits`` (batch, classes), drawn by softmax."""
    host = numpy.asarray(logits, dtype=numpy.float64)
    if host.ndim != 2:
        raise ValueError(f"categorical: logits must be 2-D (batch, classes), got {host.shape}.")
    rng = _host_generator(seed)
    gumbel = -numpy.log(-numpy.log(rng.random((host.shape[0], num_samples, host.shape[1]))))
    samples = (host[:, None, :] + gumbel).argmax(axis=-1)
    backend = logits.backend if isinstance(logits, Tensor) else None
    return _on_backend(samples, numpy.dtype(dtype), backend)
