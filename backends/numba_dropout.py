"""The numba backend's dropout masks: NumPy's uniform stream, drawn on the kernel pool.

A mask is the reference's (``Backend.dropout_mask``), bit for bit: the same uniforms
from the backend's generator, compared with the rate in the mask's dtype. For a PCG64
generator (what ``seed`` makes) and a large mask, the kernels read the generator's raw
64-bit words (``numba_kernels/dropout.py``) instead of ``Generator.random``'s uniforms:
NumPy's float32 draw costs about as much per value as a raw draw per word, which holds
two values. The words are drawn in blocks on the kernel pool (``random_raw`` releases
the GIL), each block from a copy of the generator advanced to its start; the generator
is then left where one ``random`` call would have left it, with the half-word NumPy
keeps between float32 draws. A mask of 262k float32 (W6's), two threads: 480 us before,
250 after (one thread 337); inside W6's step 450 against 336.
"""

import math
import sys

import numpy

from . import numba_dispatch as dispatch
from . import thread_pool
from .numba_dispatch import _JIT_DTYPES

_FLOAT32 = numpy.dtype(numpy.float32)
#: PCG64 generators for the blocks after the first, reused (a new one seeds itself from the
#: OS: 10 us, against 1.3 to set a state and advance); a list, so that each pool thread
#: takes one of its own
_spare_generators: list = []
#: the bits of a float32 uniform (of a 32-bit half) and of a float64 one (of a word)
_FLOAT32_BITS, _FLOAT64_BITS = 24, 53


class DropoutOverrides:
    """Needs the ``self._dropout`` kernel module and the backend's ``_random`` generator."""

    def dropout_mask(self, shape, rate: float, dtype):
        dtype = numpy.dtype(dtype)
        if dtype not in _JIT_DTYPES:
            return super().dropout_mask(shape, rate, dtype)
        threshold, scale = dtype.type(rate), dtype.type(1.0 / (1.0 - rate))
        bits = self._random.bit_generator
        float32 = dtype == _FLOAT32
        lowest = _lowest_kept(float(threshold), _FLOAT32_BITS if float32 else _FLOAT64_BITS)
        if (
            math.prod(shape) < dispatch.MIN_JIT_SIZE
            or lowest is None
            or type(bits) is not numpy.random.PCG64
            or sys.byteorder != "little"
        ):
            mask = self.random_uniform(shape, dtype)
            self._dropout.dropout_mask(mask.reshape(-1), threshold, scale)
            return mask
        mask = numpy.empty(shape, dtype)
        # the generator's lock (reentrant) for the whole draw, as one ``random`` call holds
        # it: another thread's draw cannot fall between the words read and the state set
        with bits.lock:
            self._mask_from_words(bits, mask.reshape(-1), float32, lowest, scale)
        return mask

    def _mask_from_words(self, bits, flat, float32: bool, lowest: int, scale) -> None:
        state = bits.state
        if not float32:
            kernel, lowest_word = self._dropout.float64_mask_from_words, numpy.uint64(lowest << 11)
            _draw_words(bits, state, flat.size, kernel, (flat, lowest_word, scale))
            return
        # NumPy's float32 draws take a word's low half, then keep its high half for the
        # next draw (``has_uint32``), in this call or a later one
        offset = state["has_uint32"]
        if offset:
            flat[0] = scale if state["uinteger"] >> 8 >= lowest else 0
        remaining = flat.size - offset
        kernel, lowest_half = self._dropout.float32_mask_from_words, numpy.uint32(lowest << 8)
        last_word = _draw_words(
            bits, state, (remaining + 1) // 2, kernel, (flat, offset, lowest_half, scale)
        )
        if offset or remaining % 2:
            after = bits.state
            after["has_uint32"] = remaining % 2
            after["uinteger"] = int(last_word >> 32) if remaining % 2 else 0
            bits.state = after


def _lowest_kept(rate: float, bits: int):
    """The smallest ``bits``-bit integer ``n`` whose uniform ``n / 2**bits`` is at least
    ``rate`` (exact: ``rate * 2**bits`` only moves the exponent); None when none is."""
    lowest = max(math.ceil(rate * (1 << bits)), 0)
    return lowest if lowest < 1 << bits else None


def _draw_words(bits, state: dict, count: int, kernel, arguments: tuple):
    """``kernel(words, *arguments, start)`` on the next ``count`` raw words of ``bits``
    (whose state is ``state``), in blocks on the kernel pool; returns the last word and
    leaves ``bits`` advanced past all ``count``."""
    first_stop, last_word = [], []

    def block(start, stop):
        if start:
            source = _spare_generators.pop() if _spare_generators else numpy.random.PCG64()
            source.state = state
            source.advance(start)
        else:
            source = bits
        words = source.random_raw(stop - start)
        if start:
            _spare_generators.append(source)
        kernel(words, *arguments, start)
        if start == 0:
            first_stop.append(stop)
        if stop == count:
            last_word.append(words[-1])

    thread_pool.run_blocks(block, count=count, min_block=dispatch.MIN_SPLIT_ELEMENTS // 2)
    if first_stop[0] < count:
        bits.advance(count - first_stop[0])
        if state["has_uint32"]:  # ``advance`` drops the half-word kept for float32 draws
            after = bits.state
            after["has_uint32"], after["uinteger"] = 1, state["uinteger"]
            bits.state = after
    return last_word[0]
