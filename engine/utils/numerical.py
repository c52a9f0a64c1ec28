"""``normalize``: rows scaled to unit norm, as ``keras.utils.normalize``."""

import numpy

from ..tensor import Tensor


def normalize(x, axis: int = -1, order: int = 2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero norms left as they are).

    A NumPy array (or list) gives a NumPy array, a Tensor a Tensor, as in Keras.
    """
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"normalize: `axis` must be an integer, got {axis!r}.")
    if isinstance(x, Tensor):
        return Tensor(normalize(x.numpy(), axis, order), dtype=x.dtype, backend=x.backend)
    array = numpy.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"normalize: `x` must be an array of numbers, got dtype {array.dtype}.")
    if array.ndim == 0:
        raise ValueError("normalize: `x` must have at least one axis, got a scalar.")
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(
            f"normalize: `axis` {axis} is out of range for `x` of shape {array.shape}."
        )
    norm = numpy.atleast_1d(numpy.linalg.norm(array, order, axis))
    norm[norm == 0] = 1
    return array / numpy.expand_dims(norm, axis)
