"""Inverted-dropout masks from uniform samples drawn by the backend's generator.

``dropout_mask`` thresholds uniforms that NumPy drew. The ``*_from_words`` kernels
read the generator's raw 64-bit words instead, of which NumPy's ``Generator.random``
makes a float32 uniform from the top 24 bits of a 32-bit half (the low half of a word
first) and a float64 one from the top 53 bits of a word: the caller turns the rate into
the smallest half (or word) whose uniform is not below it, so the kernels compare
integers and keep exactly the elements the uniforms would keep.
"""

import numba
import numpy


@numba.njit(cache=True, error_model="numpy")
def dropout_mask(uniform, rate, scale):
    """``uniform = scale if uniform >= rate else 0``, in place."""
    for i in range(uniform.size):
        uniform[i] = scale if uniform[i] >= rate else 0


@numba.njit(cache=True, error_model="numpy", nogil=True)
def float32_mask_from_words(words, out, offset, threshold, scale, start):
    """``out[offset + 2 * start + i]`` from the ``i``-th 32-bit half of ``words`` (on a
    little-endian machine, a word's low half first): ``scale`` where the half is at least
    ``threshold``, else 0. Halves past the end of ``out`` are left unused."""
    halves = words.view(numpy.uint32)
    base = offset + 2 * start
    zero = numpy.float32(0)
    for i in range(min(halves.size, out.size - base)):
        out[base + i] = scale if halves[i] >= threshold else zero


@numba.njit(cache=True, error_model="numpy", nogil=True)
def float64_mask_from_words(words, out, threshold, scale, start):
    """``out[start + k]``: ``scale`` where ``words[k]`` is at least ``threshold``, else 0."""
    for k in range(words.size):
        out[start + k] = scale if words[k] >= threshold else 0.0
