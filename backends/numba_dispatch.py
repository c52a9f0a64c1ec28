"""What the numba backend's overrides share: which arrays its kernels compile for, the
size cut-offs that send small or wide arrays to the reference, and the split of a batch
of images between the kernel pool's threads.

Kernels compile for float32 and float64 only (few signatures, fast cached
loads); every other dtype, and any array that is not a NumPy array, goes to
the reference through ``super()``. The overrides read the cut-offs from this
module at each call (``dispatch.MIN_JIT_SIZE``), so tests can lower them to
send small shapes through the kernels.
"""

import numpy

from . import thread_pool

_JIT_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))

# Numba has no vector math library here (no SVML), so its log1p runs one element at a
# time, while NumPy's is SIMD: softplus's kernel wins only where call overhead dominates
# (measured: break-even near 2k elements). The other activations and the softmax rows use
# ``numba_kernels/vector_math.py``'s exponential instead, which vectorizes.
SCALAR_MATH_LIMIT = 2048
# Below this many elements a NumPy ufunc's call overhead (~1 us) beats
# Numba's dispatch (~2 us) for one-pass arithmetic such as relu.
MIN_JIT_SIZE = 2048
# Row-wise kernels (layer normalization) and elementwise ones with real arithmetic per
# element (erf) are split between the pool's threads in blocks of at least this many
# elements: a hand-off costs 12-30 us (the pool's worker needs the GIL to start).
MIN_SPLIT_ELEMENTS = 32768
# One-pass arithmetic bound by memory (relu, leaky relu and the activations' backward
# passes, SGD) is split only into blocks of at least this many elements: the pool's
# worker needs the GIL to start its block, and alone (2 threads, float32, median of 5)
# one thread did relu_backward in 50 us against 109 split at 262k elements, 76 against
# 80 at 524k, 190 against 167 at 1M; sgd with momentum 92 against 116 at 524k, 207
# against 128 at 1M. Inside the steps (same process, alternating, median of 7), unsplit:
# W6's relu forward and backward over 524k elements 266 us a step against 344 split,
# W3's relu backward over 495k 185 against 159.
MIN_SPLIT_ONE_PASS = 1 << 19
# Adam's update (a square root and a division per element) is split into blocks of at
# least this many: alone, 107 us on one thread against 111 split at 262k elements, 207
# against 156 at 524k. Inside the steps, unsplit: W2's Adam (200k and 66k weights) 132 us
# a step against 235 split, W6's (106k) 83 against 219.
MIN_SPLIT_ADAM = 1 << 18
# Where ``blas_threads`` is installed, Adam's update is split into native jobs instead
# (``numba_kernels/native_jobs.py``: no GIL in the hand-off), in blocks of at least this
# many: alone after a two-thread GEMM (float32, median of 300), one thread against two
# took 23.2 against 24.6 us at 32k elements, 32.8 against 25.6 at 64k, 81.8 against 51.5
# at 200k.
MIN_NATIVE_SPLIT_ADAM = 1 << 15
# A bias (+ relu) added to a product's output as native jobs over blocks of rows: blocks
# of at least this many elements. Product and bias together (two threads, median of 300):
# 430 against 518 us at (3200, 32)x(32, 256), 391 against 419 at (4096, 64)x(64, 64),
# level from 128 to 1024 rows of 256.
MIN_NATIVE_SPLIT_BIAS = 1 << 15
# The activations on vector_math's exponential (0.3 ns an element for a float32 sigmoid,
# 1 ns for float64 or swish's backward) are split into blocks of at least this many.
MIN_SPLIT_VECTOR_MATH = 1 << 17
#: a one-pass kernel over a batch of images (pooling, a convolution's bias) is split only
#: into blocks of at least this many elements
MIN_IMAGE_SPLIT_ELEMENTS = 1 << 17


def split_images(block, *args, batch: int, work_per_image: int, min_work: int = 0) -> None:
    """``block(*args, start, stop)`` over the images ``range(batch)``, split between threads.

    A block gets at least ``min_work`` units of work (by default
    ``thread_pool.MIN_SPLIT_MACS`` multiply-adds), so small batches stay on
    this thread.
    """
    min_work = min_work or thread_pool.MIN_SPLIT_MACS
    min_block = -(-min_work // max(work_per_image, 1))
    thread_pool.run_blocks(block, *args, count=batch, min_block=min_block)


def by_rows(kernel, *arrays) -> None:
    """``kernel(*arrays)``, whose arrays all have one row per sample (softmax rows, the
    fused cross-entropies), in blocks of rows on the kernel pool when the first is long
    (blocks of at least ``MIN_SPLIT_VECTOR_MATH`` elements: the kernels take the
    exponential): 1000 classes over a batch of 1024."""
    first = arrays[0]
    if first.size < 2 * MIN_SPLIT_VECTOR_MATH:
        kernel(*arrays)
        return

    def block(start, stop):
        kernel(*(a[start:stop] for a in arrays))

    min_rows = -(-MIN_SPLIT_VECTOR_MATH // first.shape[1])
    thread_pool.run_blocks(block, count=first.shape[0], min_block=min_rows)


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
