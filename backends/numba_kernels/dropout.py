"""Inverted-dropout masks from uniform samples drawn by the backend's generator."""

import numba


@numba.njit(cache=True, error_model="numpy")
def dropout_mask(uniform, rate, scale):
    """``uniform = scale if uniform >= rate else 0``, in place."""
    for i in range(uniform.size):
        uniform[i] = scale if uniform[i] >= rate else 0
