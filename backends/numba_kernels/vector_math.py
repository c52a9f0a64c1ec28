"""Vectorizable elementary functions shared by the kernel modules: ``exp`` as plain arithmetic.

Numba calls libm for ``math.exp`` one element at a time (~10 ns; no SVML here),
which keeps LLVM from vectorizing the loops around it. ``exp_parts`` is an
exponential written as arithmetic (Cody-Waite range reduction, a polynomial,
the power of two built from its bits) that LLVM vectorizes: ~0.5 ns an element,
within 2 ulp (float32) and 3 ulp (float64) of the correctly rounded result;
NaN stays NaN, large arguments saturate, and results that would be subnormal
are flushed to zero. ``exp_nonpositive`` is softmax's ``exp(x - max)``, and
``row_max``, ``row_sum`` and ``row_dot`` its vectorizable reductions; ``sigmoid``,
``tanh`` and ``expm1_nonpositive`` are built on it for the activation and recurrent
kernels (float32, against NumPy's float64 results: sigmoid within 2e-7 relative,
tanh within 1e-7 absolute).

The kernel modules inline these functions, and Numba's cache stamps only a
kernel's own file: ``numba_kernels/__init__.py`` adds this file's stamp to every
kernel module's (``SharedSourceLocator``), so a change here recompiles them.
"""

import numpy
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload, register_jitable


@intrinsic
def float_from_bits(typingctx, bits, like):
    """The float of ``like``'s type whose bit pattern is the low bits of ``bits``."""
    width = 32 if like == types.float32 else 64

    def codegen(context, builder, signature, args):
        value = args[0]
        if value.type.width > width:
            value = builder.trunc(value, ir.IntType(width))
        elif value.type.width < width:
            value = builder.sext(value, ir.IntType(width))
        return builder.bitcast(value, context.get_value_type(like))

    return like(bits, like), codegen


@intrinsic
def float_bits(typingctx, x):
    """The bit pattern of a float as a signed integer of the same width."""
    result = types.int32 if x == types.float32 else types.int64

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(x), codegen


def like(x, value):
    """``value`` as a constant of ``x``'s type (an array's: its dtype), so float32 code
    stays float32: Numba types ``1 - float32`` as float64, halving the vector width."""


@overload(like, jit_options={"no_cfunc_wrapper": True})
def _like_overload(x, value):
    target = x.dtype if isinstance(x, types.Array) else x

    def implementation(x, value):
        return target(value)

    return implementation


def exp_parts(x):
    """``(2**n, p)`` with ``exp(x) = 2**n * (1 + p)`` and ``p = exp(r) - 1``, ``|r| <= ln(2)/2``."""


@overload(exp_parts, jit_options={"fastmath": {"contract"}, "no_cfunc_wrapper": True})
def _exp_parts_overload(x):
    if x == types.float32:

        def exp_parts_float32(x):
            f = numpy.float32
            v = x
            if v > f(88.0):  # written as ifs, not min/max, so that NaN passes through
                v = f(88.0)
            if v < f(-87.336):  # just above log(smallest normal)
                v = f(-87.336)
            # adding 1.5 * 2**23 rounds to an integer held in the low mantissa bits
            shifted = v * f(1.4426950408889634) + f(12582912.0)
            n = shifted - f(12582912.0)
            r = v - n * f(0.693359375) - n * f(-2.12194440e-4)
            p = f(1.9875691500e-4) * r + f(1.3981999507e-3)
            p = p * r + f(8.3334519073e-3)
            p = p * r + f(4.1665795894e-2)
            p = p * r + f(1.6666665459e-1)
            p = p * r + f(5.0000001201e-1)
            p = p * r * r + r
            exponent = (float_bits(shifted) + numpy.int32(127)) & numpy.int32(0x1FF)
            scale = float_from_bits(exponent << numpy.int32(23), v)
            if x < f(-87.336):  # flush what would be subnormal to zero
                scale = f(0.0)
            return scale, p

        return exp_parts_float32
    if x == types.float64:

        def exp_parts_float64(x):
            v = x
            if v > 709.0:
                v = 709.0
            if v < -708.39:
                v = -708.39
            shifted = v * 1.4426950408889634 + 6755399441055744.0  # 1.5 * 2**52
            n = shifted - 6755399441055744.0
            r = v - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6
            p = 1.0 / 6227020800.0  # Taylor to r**13: below 1 ulp on |r| <= ln(2)/2
            p = p * r + 1.0 / 479001600.0
            p = p * r + 1.0 / 39916800.0
            p = p * r + 1.0 / 3628800.0
            p = p * r + 1.0 / 362880.0
            p = p * r + 1.0 / 40320.0
            p = p * r + 1.0 / 5040.0
            p = p * r + 1.0 / 720.0
            p = p * r + 1.0 / 120.0
            p = p * r + 1.0 / 24.0
            p = p * r + 1.0 / 6.0
            p = p * r + 0.5
            p = p * r * r + r
            exponent = (float_bits(shifted) + numpy.int64(1023)) & numpy.int64(0x7FF)
            scale = float_from_bits(exponent << numpy.int64(52), v)
            if x < -708.39:
                scale = 0.0
            return scale, p

        return exp_parts_float64


@register_jitable(fastmath={"contract"})
def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (softmax's shifted scores): 0 for ``-inf``, NaN for NaN."""
    scale, p = exp_parts(x)
    return scale + scale * p


@register_jitable(fastmath={"contract"})
def expm1_nonpositive(x):
    """``exp(x) - 1`` for ``x <= 0`` (ELU's negative side), accurate near 0; NaN stays NaN."""
    scale, p = exp_parts(x)
    return (scale - like(x, 1.0)) + scale * p  # scale - 1 is exact: scale is a power of 2


@register_jitable(fastmath={"contract"})
def sigmoid(x):
    """``1 / (1 + exp(-x))`` from the exponential of ``-|x|``, which never overflows."""
    scale, p = exp_parts(-abs(x))
    e = scale + scale * p
    one = like(x, 1.0)
    return one / (one + e) if x >= 0 else e / (one + e)


@register_jitable(fastmath={"contract"})
def tanh(x):
    """``tanh(x)`` as ``expm1(2|x|) / (expm1(2|x|) + 2)``, accurate near 0; ``|x|`` above 22
    saturates both float dtypes."""
    magnitude = abs(x)
    limit = like(x, 22.0)
    if magnitude > limit:
        magnitude = limit
    scale, p = exp_parts(magnitude + magnitude)
    one = like(x, 1.0)
    expm1 = (scale - one) + scale * p
    result = expm1 / (expm1 + (one + one))
    return -result if x < 0 else result


@register_jitable
def row_max(row):
    """The largest element of a 1-D array (NaN as ``max`` treats it: a NaN first wins, a
    later one is passed over), from eight running maxima where one chain would wait on
    each comparison, and one for a short row. The maxima are selects, not ``max``:
    Numba's ``max`` of two floats is a branchy call (the softmax cross-entropy of 128 rows
    of 10 classes: 7.4 against 5.4 us)."""
    n = row.size
    if n < 16:
        best = row[0]
        for j in range(1, n):
            x = row[j]
            best = x if x > best else best
        return best
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = row[0]
    j = 0
    while n - j >= 8:
        x0, x1, x2, x3 = row[j], row[j + 1], row[j + 2], row[j + 3]
        x4, x5, x6, x7 = row[j + 4], row[j + 5], row[j + 6], row[j + 7]
        m0, m1 = (x0 if x0 > m0 else m0), (x1 if x1 > m1 else m1)
        m2, m3 = (x2 if x2 > m2 else m2), (x3 if x3 > m3 else m3)
        m4, m5 = (x4 if x4 > m4 else m4), (x5 if x5 > m5 else m5)
        m6, m7 = (x6 if x6 > m6 else m6), (x7 if x7 > m7 else m7)
        j += 8
    for k in range(j, n):
        x = row[k]
        m0 = x if x > m0 else m0
    # in lane order, so that a NaN kept by an earlier lane (only ``row[0]``) stays
    for m in (m1, m2, m3, m4, m5, m6, m7):
        m0 = m if m > m0 else m0
    return m0


@register_jitable(fastmath={"reassoc"})
def row_sum(row):
    """The float64 sum of a 1-D array, in an order LLVM picks so that it vectorizes (1000
    float32: 0.2 against 1 us in order)."""
    total = 0.0
    for j in range(row.size):
        total += row[j]
    return total


@register_jitable(fastmath={"reassoc"})
def row_dot(a, b):
    """The float64 dot product of two 1-D arrays of one length, vectorized as ``row_sum``."""
    total = 0.0
    for j in range(a.size):
        total += a[j] * b[j]
    return total
