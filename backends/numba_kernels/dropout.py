"""Inverted-dropout masks from uniform samples drawn by the backend's generator."""

import numba


@numba.njit(cache=True, error_model="numpy")
def dropout_mask(uniform, rate, scale, out):
    """``out = scale if uniform >= rate else 0``, rounding ``uniform`` to ``out``'s dtype first."""
    for i in range(out.size):
        out[i] = uniform[i]
        out[i] = scale if out[i] >= rate else 0
