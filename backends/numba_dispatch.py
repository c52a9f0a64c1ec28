"""What the numba backend's overrides share: which arrays its kernels compile for.

Kernels compile for float32 and float64 only (few signatures, fast cached
loads); every other dtype, and any array that is not a NumPy array, goes to
the reference through ``super()``.
"""

import numpy

_JIT_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def _jit_dtype(*arrays):
    """The shared dtype of ``arrays`` if the kernels compile for it, else None."""
    dtype = arrays[0].dtype
    if dtype not in _JIT_DTYPES:
        return None
    for array in arrays:
        if type(array) is not numpy.ndarray or array.dtype != dtype:
            return None
    return dtype


def _flat(array):
    """A C-contiguous 1-D view (a copy only when ``array`` is not contiguous)."""
    return numpy.ascontiguousarray(array).reshape(-1)


def _in_place_ok(*arrays):
    """Whether the arrays can be updated in place through flat views."""
    return _jit_dtype(*arrays) is not None and all(a.flags.c_contiguous for a in arrays)


def _scale_and_shift(x, gamma, beta, *others):
    """A normalization's ``gamma`` and ``beta`` as contiguous arrays over ``x``'s features
    (ones and zeros when absent), or None where the kernels do not apply: ``x`` not 2-D,
    a dtype they do not compile for (in ``x``, the parameters or ``others``), or a
    parameter that does not match the features."""
    params = [p for p in (gamma, beta) if p is not None]
    if _jit_dtype(x, *params, *others) is None or x.ndim != 2:
        return None
    if any(p.shape != x.shape[1:] for p in params):
        return None
    features = x.shape[1]
    gamma = numpy.ones(features, x.dtype) if gamma is None else numpy.ascontiguousarray(gamma)
    beta = numpy.zeros(features, x.dtype) if beta is None else numpy.ascontiguousarray(beta)
    return gamma, beta
