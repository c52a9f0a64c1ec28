"""3-D and adaptive pooling (channels-last), composed from the 2-D pooling ops.

Pooling over a box is separable: the maximum (or, counting only real cells,
the mean) over ``depth x height x width`` is the one over depth of the ones
over ``height x width``, and a padded cell is left out of each stage as the
2-D kernels leave it out. So 3-D pooling is two 2-D poolings with reshapes,
and adaptive pooling is one 1-D adaptive pooling per spatial axis.
"""

from ..tensor import Tensor
from .conv_transpose import as_tuple
from .pooling import avg_pool2d, max_pool2d
from .reduction import max as reduce_max
from .reduction import mean as reduce_mean
from .shape import concatenate, getitem


def _pool3d(pool, x: Tensor, pool_size, strides, padding) -> Tensor:
    pool_size = as_tuple(pool_size, 3, "pool_size")
    strides = pool_size if strides is None else as_tuple(strides, 3, "strides")
    n, depth, height, width, channels = x.shape
    planes = pool(
        x.reshape(n * depth, height, width, channels), pool_size[1:], strides[1:], padding
    )
    out_h, out_w = planes.shape[1:3]
    columns = planes.reshape(n, depth, out_h * out_w, channels)
    y = pool(columns, (pool_size[0], 1), (strides[0], 1), padding)
    return y.reshape(n, y.shape[1], out_h, out_w, channels)


def max_pool3d(x: Tensor, pool_size=(2, 2, 2), strides=None, padding="valid") -> Tensor:
    """Window maxima of ``(n, d, h, w, c)`` inputs; ``strides`` defaults to ``pool_size``."""
    return _pool3d(max_pool2d, x, pool_size, strides, padding)


def avg_pool3d(x: Tensor, pool_size=(2, 2, 2), strides=None, padding="valid") -> Tensor:
    """Window means of ``(n, d, h, w, c)`` inputs; padded cells are not counted."""
    return _pool3d(avg_pool2d, x, pool_size, strides, padding)


def adaptive_bins(length: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each of ``size`` bins over ``length`` cells, as Keras and PyTorch:
    ``floor(i * length / size)`` to ``ceil((i + 1) * length / size)``."""
    return [(i * length // size, -(-(i + 1) * length // size)) for i in range(size)]


def _adaptive_axis(x: Tensor, axis: int, size: int, reduce) -> Tensor:
    length = x.shape[axis]
    if length % size == 0:  # equal bins: one reduction over a split axis
        shape = (*x.shape[:axis], size, length // size, *x.shape[axis + 1 :])
        return reduce(x.reshape(shape), axis + 1)
    head = (slice(None),) * axis
    pieces = [
        reduce(getitem(x, (*head, slice(start, stop))), axis, True)
        for start, stop in adaptive_bins(length, size)
    ]
    return concatenate(pieces, axis)


def adaptive_pool(x: Tensor, output_size, mode: str = "average") -> Tensor:
    """Adaptive ``"average"`` or ``"max"`` pooling of ``(n, *spatial, c)`` inputs to
    ``output_size`` (an int or one per spatial axis), as ``keras.ops.adaptive_*_pool``."""
    reduce = {"average": reduce_mean, "max": reduce_max}[mode]
    rank = x.ndim - 2
    output_size = as_tuple(output_size, rank, "output_size")
    for axis, size in enumerate(output_size, start=1):
        x = _adaptive_axis(x, axis, size, reduce)
    return x
