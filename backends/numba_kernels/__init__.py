"""``@numba.njit`` kernels for the numba backend, one module per family.

These modules import numba at the top; ``backends.numba_backend`` imports them
only once numba is known to be importable. Every kernel is ``cache=True``. A
kernel keeps its jitted helpers in its own file, except the vectorizable
exponential of ``vector_math.py`` and the sigmoid, tanh and expm1 built on it:
Numba invalidates a cached kernel only when
the kernel's own file changes, so ``SharedSourceLocator`` (below) adds
``vector_math.py``'s stamp to every kernel module's, and a change there
recompiles the kernels that inline it. Kernels take C-contiguous float32 or
float64 arrays (elementwise ones flattened to 1-D) and scalars of the arrays'
dtype, so each compiles to at most two signatures. ``error_model="numpy"``
gives NumPy's division semantics (inf/nan, no ZeroDivisionError) and lets
loops with divisions vectorize. No ``fastmath`` ``nnan``/``ninf``: they would
blind NaN checks. Only two flags are used, where they measured faster: ``contract``
(fused multiply-adds: the exponential's polynomial) and ``reassoc`` (sums that
vectorize: ``vector_math``'s row reductions). The recurrent kernels' per-step
products are ``numpy.dot``, which Numba hands to SciPy's BLAS.
"""

import functools
import hashlib
import os

from numba.core import caching

# public from Numba 0.6x on, underscored before
_CACHE_IMPL = getattr(caching, "CacheImpl", None) or caching._CacheImpl
_LOCATOR_BASE = getattr(caching, "CacheLocator", None) or caching._CacheLocator
_HERE = os.path.dirname(os.path.abspath(__file__))
#: the files whose functions the kernel modules inline (their stamps join every kernel's)
SHARED_SOURCES = tuple(
    os.path.join(_HERE, name) for name in ("vector_math.py", "native_jobs.py", "float_env.py")
)


@functools.cache
def _content_stamp(path: str) -> str:
    with open(path, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


class SharedSourceLocator(_LOCATOR_BASE):
    """Numba's own cache locator for a kernel module of this package, whose source stamp
    also covers ``SHARED_SOURCES``: Numba stamps only the kernel's own file, and would
    load a kernel compiled against an older ``vector_math.py``."""

    def __init__(self, base):
        self._base = base

    def ensure_cache_path(self):
        self._base.ensure_cache_path()

    def get_cache_path(self):
        return self._base.get_cache_path()

    def get_disambiguator(self):
        return self._base.get_disambiguator()

    def get_source_stamp(self):
        shared = tuple(_content_stamp(path) for path in SHARED_SOURCES)
        return (self._base.get_source_stamp(), shared)

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != _HERE:
            return None
        for base_class in _NUMBA_LOCATORS:
            base = base_class.from_function(py_func, py_file)
            if base is not None:
                return cls(base)
        return None


#: Numba's own locators, in its order: the first that takes a kernel's file is wrapped
_NUMBA_LOCATORS = [
    c for c in _CACHE_IMPL._locator_classes if c.__name__ != SharedSourceLocator.__name__
]
if not any(c.__name__ == SharedSourceLocator.__name__ for c in _CACHE_IMPL._locator_classes):
    _CACHE_IMPL._locator_classes.insert(0, SharedSourceLocator)
