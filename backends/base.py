"""The backend interface and its generic reference implementation.

``Backend`` is the kernel interface: plain methods on raw arrays. Its
implementations, gathered from the mixins in ``backends/kernels/``, are written
only against ``self.xp`` and are the reference every override is tested
against. Kernel families live in their own modules to keep each small; the
interface is the union of their public methods.
"""

import numpy

from .kernels.activations import ActivationKernels
from .kernels.attention import AttentionKernels
from .kernels.conv import ConvKernels
from .kernels.depthwise import DepthwiseKernels
from .kernels.embedding import EmbeddingKernels
from .kernels.losses import LossKernels
from .kernels.normalization import NormalizationKernels
from .kernels.optimizers import OptimizerKernels
from .kernels.pooling import PoolingKernels
from .kernels.recurrent import RecurrentKernels

FLOAT_DTYPES = ("float32", "float64")


class Backend(
    ActivationKernels,
    LossKernels,
    OptimizerKernels,
    ConvKernels,
    DepthwiseKernels,
    PoolingKernels,
    NormalizationKernels,
    EmbeddingKernels,
    RecurrentKernels,
    AttentionKernels,
):
    """Generic kernels over an array module ``xp`` (NumPy here; CuPy in subclasses)."""

    name = "reference"
    xp = numpy
    #: whether device code runs on the host (the cupy backend's CUDA simulator)
    simulated = False

    def __init__(self):
        self._random_state = self.xp.random.default_rng()
        self._pending_seed = None

    # -- availability -----------------------------------------------------

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this backend cannot run here, or None when it can."""
        return None

    @classmethod
    def is_available(cls) -> bool:
        return cls.unavailable_reason() is None

    @classmethod
    def install_hint(cls) -> str:
        return ""

    # -- arrays in and out ------------------------------------------------

    def asarray(self, data, dtype=None):
        """Convert host data or a foreign array into this backend's array type."""
        return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, array) -> numpy.ndarray:
        """Copy-free where possible: a NumPy view of a host array, a copy of a device one."""
        return numpy.asarray(array)

    def is_native(self, array) -> bool:
        return isinstance(array, self.xp.ndarray)

    def synchronize(self) -> None:
        """Wait for queued work to finish (a no-op on the host)."""

    @property
    def out_of_memory_errors(self) -> tuple:
        """Exception classes that mean this backend's memory ran out."""
        return (MemoryError,)

    # -- randomness -------------------------------------------------------

    def seed(self, seed) -> None:
        """Reseed the stream of ``random_uniform`` and ``dropout_mask``.

        ``seed``: an int, or a function returning one. The generator is made at the
        first draw after this: making one costs tens of microseconds, which ``fit``
        would otherwise pay every epoch even for a model that draws nothing.
        """
        self._pending_seed = seed

    @property
    def _random(self):
        """The random stream, made from the pending seed if one was given since the last draw."""
        seed = self._pending_seed
        if seed is not None:
            self._pending_seed = None
            self._random_state = self.xp.random.default_rng(seed() if callable(seed) else seed)
        return self._random_state

    def random_uniform(self, shape, dtype):
        """Uniform samples in [0, 1) of ``shape``, drawn in ``dtype`` when it is float32 or
        float64 (a float32 draw costs half a float64 one), else in float64 and cast."""
        dtype = numpy.dtype(dtype)
        if dtype.name in FLOAT_DTYPES:
            return self._random.random(shape, dtype=dtype)
        return self._random.random(shape).astype(dtype)

    def dropout_mask(self, shape, rate: float, dtype):
        """A mask of zeros and ``1 / (1 - rate)``: multiply it in to apply inverted dropout."""
        keep = self.random_uniform(shape, dtype) >= rate
        return keep.astype(dtype) * dtype.type(1.0 / (1.0 - rate))

    # -- linear algebra ---------------------------------------------------

    def matmul(self, a, b):
        return self.xp.matmul(a, b)

    def dense_forward(self, x, kernel, bias=None):
        """``x @ kernel + bias`` over the last axis of ``x``."""
        y = self.xp.matmul(x, kernel)
        if bias is not None:
            y += bias
        return y

    def bias_backward(self, grad):
        """The gradient of a bias added over the last axis: ``grad`` summed over the others."""
        return grad.sum(axis=tuple(range(grad.ndim - 1)))

    def __repr__(self):
        return f"<{type(self).__name__} '{self.name}'>"
