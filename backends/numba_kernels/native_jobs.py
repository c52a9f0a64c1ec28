"""Kernels split between threads as native jobs: no Python, and no GIL, in the hand-off.

The kernel pool's hand-off (``thread_pool.run_blocks``) runs a Python function on
its worker, which must take the GIL first: 15-60 us, more than a memory-bound
kernel of a few hundred thousand elements saves on a second thread. NumPy's
OpenBLAS is given ``blas_threads``'s callback, which runs C jobs on the pool's
spinning workers or on native helpers; a kernel can use it too:

- its job is a C function ``void job(int index, void *record, int parts)``, a
  ``numba.cfunc`` of ``JOB_SIGNATURE`` that runs the kernel on block ``index`` of
  ``parts`` (``block``), over arrays it finds in the record (``job_array``);
- a ``nogil`` driver fills the record, an int64 array the caller allocates, and
  calls the callback (``run_jobs``), which runs job 0 on the calling thread and
  the others at once.

A record's words are the element count, the itemsize, then the arrays'
addresses and the scalars' float64 bits (``bits``, read back by ``scalar``), in
the order the job reads them. (Writing scalars through a float64 view of the
record, or allocating it in the driver, took 0.3 and 0.2 s more to compile.)
The job and the driver live in the kernel's own file (Numba stamps a cache
entry with that file), and this file's stamp joins every kernel module's.
"""

import numba
import numpy
from llvmlite import ir
from numba import literal_unroll
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload, register_jitable

JOB_SIGNATURE = types.void(types.int32, types.voidptr, types.int32)
#: the record's first words: element count, itemsize; addresses and scalars follow
HEADER_WORDS = 2
#: block boundaries are multiples of this many elements (a 64-byte line of float32)
ALIGN = 16

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_CALLBACK = ir.FunctionType(
    ir.VoidType(), [_I32, cgutils.voidptr_t, _I32, _I64, cgutils.voidptr_t, _I32]
)


@intrinsic
def _pointer(typingctx, address):
    """The integer ``address`` as a ``void *``."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.int64), codegen


@intrinsic
def bits(typingctx, value):
    """The float64 ``value``'s bit pattern as an int64 (a record's scalar word)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _I64)

    return types.int64(types.float64), codegen


@intrinsic
def _float64(typingctx, word):
    """The float64 whose bit pattern is the int64 ``word``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def run_jobs(typingctx, callback, job, parts, record):
    """``callback(0, job, parts, 0, record, parts)``: ``blas_threads``'s callback runs
    ``job(i, record, parts)`` for every ``i < parts`` at once, and returns when all
    are done (the record is an argument here, so it lives until then)."""

    def codegen(context, builder, signature, args):
        callback_address, job_address, count, array = args
        function = builder.inttoptr(callback_address, _CALLBACK.as_pointer())
        data = context.make_array(signature.args[3])(context, builder, array).data
        data = builder.bitcast(data, cgutils.voidptr_t)
        jobs = builder.trunc(count, _I32)
        job_pointer = builder.inttoptr(job_address, cgutils.voidptr_t)
        zero = ir.Constant(_I32, 0)
        builder.call(function, [zero, job_pointer, jobs, ir.Constant(_I64, 0), data, jobs])
        return context.get_dummy_value()

    return types.void(types.int64, types.int64, types.int64, record), codegen


@register_jitable
def block(count, parts, index, align=ALIGN):
    """``[start, stop)`` of job ``index`` of ``parts`` over ``count`` elements (or rows):
    near-equal, with inner boundaries at multiples of ``align``."""
    units = (count + align - 1) // align
    start = min(count, units * index // parts * align)
    stop = min(count, units * (index + 1) // parts * align)
    return start, stop


@register_jitable
def scalar(record, word):
    """The float64 scalar stored in ``record[word]`` (``bits``)."""
    return _float64(record[word])


@register_jitable
def job_array(record, word, start, stop, dtype):
    """Elements ``[start, stop)`` of the flat array whose address is ``record[word]``."""
    address = record[word] + start * record[1]
    return numba.carray(_pointer(address), stop - start, dtype)


# A record can also hold a kernel's whole argument list (``packed_split``): each array's
# address and shape (``put_array``), read back by rank (``job_vector``, ``job_matrix``,
# ``job_cube``: the array and the next word); each integer as it is, each float as its
# float64 bits (``scalar``).


@register_jitable
def put_array(record, word, array):
    """Store the C-contiguous ``array``'s address and shape from ``record[word]`` on;
    returns the next free word."""
    record[word] = array.ctypes.data
    shape = array.shape
    for axis in range(len(shape)):
        record[word + 1 + axis] = shape[axis]
    return word + 1 + len(shape)


def put_argument(record, word, value):
    """``put_array`` for an array, the value for an integer, its float64 bits for a float;
    returns the next free word."""


@overload(put_argument, jit_options={"no_cfunc_wrapper": True})
def _put_argument_overload(record, word, value):
    if isinstance(value, types.Array):
        if value.layout != "C":  # a job reads the array back as C-contiguous
            raise TypingError(f"put_argument: a job's array must be C-contiguous, got {value}")
        return lambda record, word, value: put_array(record, word, value)
    if isinstance(value, (types.Integer, types.Boolean)):

        def put_integer(record, word, value):
            record[word] = value
            return word + 1

        return put_integer
    if isinstance(value, types.Float):

        def put_float(record, word, value):
            record[word] = bits(numpy.float64(value))
            return word + 1

        return put_float
    return None


def argument_words(value):
    """The words ``put_argument`` takes for ``value``."""


@overload(argument_words, jit_options={"no_cfunc_wrapper": True})
def _argument_words_overload(value):
    words = 1 + value.ndim if isinstance(value, types.Array) else 1
    return lambda value: words


#: the int64 words of a packed record (the longest argument list, GRU's backward, takes 44)
PACKED_WORDS = 64


@numba.njit(cache=True, nogil=True)
def packed_split(callback, job, parts, record, count, arguments):
    """Run ``job`` (a ``numba.cfunc`` of ``JOB_SIGNATURE``) in ``parts`` native jobs over
    ``count`` units, with a record of the kernel's ``arguments`` (a tuple): ``count``, the
    first argument's itemsize, then each argument (``put_argument``). The driver of every
    kernel whose job reads its arguments this way (``numba_native.split(packed=True)``)."""
    needed = HEADER_WORDS
    for argument in literal_unroll(arguments):
        needed += argument_words(argument)
    if needed > record.size:
        raise ValueError("packed_split: the arguments do not fit in the record")
    record[0], record[1] = count, arguments[0].itemsize
    word = HEADER_WORDS
    for argument in literal_unroll(arguments):
        word = put_argument(record, word, argument)
    run_jobs(callback, job, parts, record)


@register_jitable
def packed_record(data):
    """A job's packed record (``packed_split``'s), from the job's ``data`` pointer."""
    return numba.carray(data, PACKED_WORDS, numpy.int64)


@register_jitable
def job_vector(record, word, dtype):
    """The 1-D array stored at ``record[word]`` (``put_array``), and the next word."""
    return numba.carray(_pointer(record[word]), record[word + 1], dtype), word + 2


@register_jitable
def job_matrix(record, word, dtype):
    """The 2-D array stored at ``record[word]`` (``put_array``), and the next word."""
    shape = (record[word + 1], record[word + 2])
    return numba.carray(_pointer(record[word]), shape, dtype), word + 3


@register_jitable
def job_cube(record, word, dtype):
    """The 3-D array stored at ``record[word]`` (``put_array``), and the next word."""
    shape = (record[word + 1], record[word + 2], record[word + 3])
    return numba.carray(_pointer(record[word]), shape, dtype), word + 4
