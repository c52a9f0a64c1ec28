"""Elementwise activation kernels over flattened (contiguous) arrays."""

import math

from numba import cuda


@cuda.jit
def erf(x, out):
    # math.erf compiles to CUDA's erf / erff, in the array's own precision
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < x.size:
        out[i] = math.erf(x[i])
        i += stride
