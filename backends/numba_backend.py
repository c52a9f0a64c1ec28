"""The numba backend: NumPy arrays, with the hot kernels as ``@numba.njit`` loops.

``NumbaBackend`` overrides only the kernels that a measurement showed the
generic NumPy code to be slow on; everything else is the NumPy reference.
Overrides cover C-contiguous float32 and float64 arrays and hand every other
dtype (float16, integers) to ``super()``, so Numba never sees a type it was
not written for. This module and its mixins import Numba; ``backends.get``
turns a failed import into ``BackendUnavailableError``, with the reason.

Each family of overrides is a mixin in a module of its own, as the kernels in
``numba_kernels/`` and the references in ``kernels/`` are: ``numba_activations.py``,
``numba_losses.py``, ``numba_optimizers.py``, ``numba_normalization.py``,
``numba_conv.py``, ``numba_depthwise.py``, ``numba_pooling.py``, ``numba_recurrent.py``,
``numba_embedding.py``, ``numba_attention.py`` and ``numba_dropout.py``; what they share
(the dtypes the kernels compile for, the size cut-offs) is in ``numba_dispatch.py``, and
the forwards that have a child process compile their backward's kernel on a cold cache
use ``numba_compile_ahead.py``. This class joins them and holds the rest: the matrix
products and a dense layer's forward.
"""

import importlib

import numpy

from . import numba_dispatch as dispatch
from . import thread_pool
from .numba_activations import ActivationOverrides
from .numba_attention import AttentionOverrides
from .numba_conv import ConvolutionOverrides
from .numba_conv_pool import ConvPoolOverrides
from .numba_depthwise import DepthwiseOverrides
from .numba_dropout import DropoutOverrides
from .numba_embedding import EmbeddingOverrides
from .numba_losses import LossOverrides
from .numba_normalization import NormalizationOverrides
from .numba_optimizers import OptimizerOverrides
from .numba_pooling import PoolingOverrides
from .numba_recurrent import RecurrentOverrides
from .numpy_backend import NumpyBackend

_FAMILIES = (
    "activations",
    "attention",
    "conv",
    "conv_direct",
    "conv_pool",
    "depthwise",
    "dropout",
    "embedding",
    "losses",
    "normalization",
    "optimizers",
    "pooling",
    "recurrent",
)


# A dense layer's bias is added on the pool's threads only from this many outputs: the add
# reads and writes each element once, and at W4's 819k and W6's 262-524k outputs the
# split's hand-off cost more than the second thread saved (same process, alternating:
# W4 5.53-5.61 against 5.64-5.76 ms a step, W6 16.6-17.4 against 17.3-17.4, W2 1.52
# against 1.56). Measured at 65k elements before the products went to OpenBLAS.
MIN_SPLIT_BIAS_ELEMENTS = 1 << 21
#: a bias gradient is a BLAS product from this many elements of the output gradient
MIN_BLAS_BIAS_BACKWARD = 1024


#: per dtype, the longest read-only vector of ones ``_ones`` has made
_ONES: dict = {}


def _ones(count: int, dtype) -> numpy.ndarray:
    """``count`` ones of ``dtype``, read-only: a view of one vector kept per dtype (0.1
    against 0.6 us a new one, twice a step in a small model's bias gradients)."""
    ones = _ONES.get(dtype)
    if ones is None or ones.size < count:
        ones = numpy.ones(count, dtype)
        ones.flags.writeable = False
        _ONES[dtype] = ones
    return ones[:count]


class _KernelFamily:
    """A kernel family's module as a backend attribute (``self._conv``), imported on first
    use and then kept in the instance, which shadows this descriptor from then on.

    Importing all the families up front cost 0.07-0.18 s of Numba dispatcher set-up in
    every process (measured), and a model uses three or four of them. A descriptor, not
    ``__getattr__``: a class with ``__getattr__`` gets none of CPython's specialized
    attribute look-ups, so every ``backend.method`` in the engine cost more (W5, one
    process, alternating: 1.3-1.7 us a ~78 us step behind the numpy backend with the same
    methods)."""

    def __init__(self, family: str):
        self.family = family

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        module = importlib.import_module(f"{__package__}.numba_kernels.{self.family}")
        instance.__dict__["_" + self.family] = module
        return module


class NumbaBackend(
    ActivationOverrides,
    LossOverrides,
    OptimizerOverrides,
    NormalizationOverrides,
    ConvolutionOverrides,
    ConvPoolOverrides,
    DepthwiseOverrides,
    PoolingOverrides,
    RecurrentOverrides,
    EmbeddingOverrides,
    AttentionOverrides,
    DropoutOverrides,
    NumpyBackend,
):
    name = "numba"

    def __init__(self):
        super().__init__()
        thread_pool.pin_blas()  # the kernel pool does the splitting (see thread_pool.py)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import numba  # noqa: F401
        except ImportError as error:
            return f"numba cannot be imported ({error})."
        try:  # Numba compiles ``numpy.dot`` in kernels to calls into SciPy's BLAS
            import scipy.linalg.cython_blas  # noqa: F401
        except ImportError as error:
            return f"scipy cannot be imported ({error}); numba needs it for numpy.dot."
        return None

    @classmethod
    def install_hint(cls) -> str:
        return "pip install numba scipy"

    # -- linear algebra: OpenBLAS's parallel GEMM on the pool (thread_pool.matmul) --

    # A small product (every product of a small model, at every step) is NumPy's own after
    # one test: an upper bound of its multiply-adds. W5's step (same
    # process, alternating, CPU time), these two and Adam's small path against the
    # reference's methods: 79.1 against 76.6 us with the type and shape tests first,
    # 78.1 against 76.5 now; the rest is the cost of entering an override at all.

    def matmul(self, a, b):
        # ``a.size`` times ``b``'s columns bounds the multiply-adds when ``b`` is a matrix
        # (``b.size`` in place of its columns when it has batch axes ``a`` may lack)
        if a.size * (b.shape[1] if b.ndim == 2 else b.size) < thread_pool.MIN_SPLIT_MACS:
            return numpy.matmul(a, b)
        if type(a) is not numpy.ndarray or type(b) is not numpy.ndarray:
            return super().matmul(a, b)
        if a.ndim < 2 or b.ndim < 2 or a.size * b.shape[-1] < thread_pool.MIN_SPLIT_MACS:
            return numpy.matmul(a, b)
        return thread_pool.matmul(a, b)

    def dense_forward(self, x, kernel, bias=None):
        # bounds the multiply-adds and the output's size (``kernel.size``: any kernel shape)
        work = x.size * (kernel.shape[1] if kernel.ndim == 2 else kernel.size)
        if work < thread_pool.MIN_SPLIT_MACS and work < MIN_SPLIT_BIAS_ELEMENTS:
            y = numpy.matmul(x, kernel)
            if bias is None:
                return y
            if y.size >= 2 * dispatch.MIN_NATIVE_SPLIT_BIAS and self._bias_natively(y, bias, False):
                return y
            y += bias
            return y
        if type(x) is not numpy.ndarray or type(kernel) is not numpy.ndarray:
            return super().dense_forward(x, kernel, bias)
        if kernel.ndim < 2 or x.ndim < 2 or x.size * kernel.shape[-1] < thread_pool.MIN_SPLIT_MACS:
            y = numpy.matmul(x, kernel)
        else:
            y = thread_pool.matmul(x, kernel)
        if bias is None:
            return y
        if y.size >= 2 * dispatch.MIN_NATIVE_SPLIT_BIAS and self._bias_natively(y, bias, False):
            return y
        if (
            y.size < MIN_SPLIT_BIAS_ELEMENTS
            or type(bias) is not numpy.ndarray
            or bias.shape != y.shape[-1:]
            or y.ndim < 2
        ):
            y += bias  # one block: no closure, no pool look-up (a small model's every step)
            return y
        rows = y.reshape(-1, y.shape[-1])  # a view: matmul's result is C-contiguous

        def add_bias(start, stop):  # NumPy's add releases the GIL
            numpy.add(rows[start:stop], bias, out=rows[start:stop])

        min_rows = -(-dispatch.MIN_SPLIT_ELEMENTS // max(y.shape[-1], 1))
        thread_pool.run_blocks(add_bias, count=rows.shape[0], min_block=min_rows)
        return y

    # NumPy sums a C-contiguous array over its first axis one row at a time; a product with
    # a row of ones is one BLAS pass (Xeon, float32, 4096x64: 12 against 81 us; 3200x256:
    # 71 against 151; 128x10: 1.5 against 2.9), the same float32 sums in another order.
    # Below ~1000 elements NumPy's is faster (W5's 100x1: 0.9 against 1.4 us).
    def bias_backward(self, grad):
        if grad.ndim == 2 and grad.size < MIN_BLAS_BIAS_BACKWARD and type(grad) is numpy.ndarray:
            return numpy.add.reduce(grad, 0)  # the reference's sum, without its Python around
        if (
            grad.size < MIN_BLAS_BIAS_BACKWARD
            or grad.ndim < 2
            or type(grad) is not numpy.ndarray
            or grad.dtype not in dispatch._JIT_DTYPES
            or not grad.flags.c_contiguous
        ):
            return super().bias_backward(grad)
        rows = grad.reshape(-1, grad.shape[-1])
        return numpy.matmul(_ones(rows.shape[0], grad.dtype), rows)


for _family in _FAMILIES:
    setattr(NumbaBackend, "_" + _family, _KernelFamily(_family))
