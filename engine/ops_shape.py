"""The shape and creation half of ``engine.ops`` (re-exported there): reshape, take, zeros, ..."""

import builtins

import numpy

from . import config
from . import functional as F
from .conversion import (
    INT32,
    as_tensor,
    backend_of,
    normalize_axis,
    promote,
    result_type,
    standardize_dtype,
    to_tensor,
)
from .functional import shape as _shape
from .tensor import Tensor


def _axis(function: str, axis, ndim: int, name: str = "axis") -> int:
    """One axis, checked and made non-negative."""
    if not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"{function}: {name} must be an int, got {axis!r}.")
    return normalize_axis(function, axis, ndim, name)[0]


# -- shapes ---------------------------------------------------------------------


def shape(x) -> tuple:
    """The shape as a tuple of Python ints."""
    if isinstance(x, Tensor):
        return tuple(int(s) for s in x.shape)
    return tuple(getattr(x, "shape", None) or numpy.shape(x))


def ndim(x) -> int:
    return len(shape(x))


def reshape(x, newshape) -> Tensor:
    """``x`` with shape ``newshape`` (one entry may be -1: whatever is left)."""
    x = as_tensor(x)
    newshape = (newshape,) if isinstance(newshape, (int, numpy.integer)) else tuple(newshape)
    known = 1
    for size in newshape:
        known *= size if size != -1 else 1
    if newshape.count(-1) > 1 or builtins.any(size < -1 for size in newshape):
        fits = False
    elif -1 in newshape:
        fits = known != 0 and x.size % known == 0
    else:
        fits = known == x.size
    if not fits:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
            f"into newshape {newshape}."
        )
    return F.reshape(x, newshape)


def transpose(x, axes=None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None)."""
    x = as_tensor(x)
    if axes is not None:
        axes = tuple(_axis("transpose", a, x.ndim, "axes") for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(
                f"transpose: axes={axes} is not a permutation of the {x.ndim} axes of {x.shape}."
            )
    return F.transpose(x, axes)


def swapaxes(x, axis1: int, axis2: int) -> Tensor:
    x = as_tensor(x)
    axes = list(range(x.ndim))
    a, b = _axis("swapaxes", axis1, x.ndim, "axis1"), _axis("swapaxes", axis2, x.ndim, "axis2")
    axes[a], axes[b] = b, a
    return F.transpose(x, axes)


def moveaxis(x, source, destination) -> Tensor:
    """Move axes ``source`` to positions ``destination`` (ints or sequences of ints)."""
    x = as_tensor(x)
    source = [source] if isinstance(source, (int, numpy.integer)) else list(source)
    destination = (
        [destination] if isinstance(destination, (int, numpy.integer)) else list(destination)
    )
    if len(source) != len(destination):
        raise ValueError(
            f"moveaxis: source {source} and destination {destination} differ in length."
        )
    source = [_axis("moveaxis", a, x.ndim, "source") for a in source]
    destination = [_axis("moveaxis", a, x.ndim, "destination") for a in destination]
    order = [a for a in range(x.ndim) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return F.transpose(x, order)


def expand_dims(x, axis) -> Tensor:
    """Insert axes of size 1 at ``axis`` (an int or a tuple), counted in the result."""
    x = as_tensor(x)
    count = 1 if isinstance(axis, (int, numpy.integer)) else len(axis)
    axes = normalize_axis("expand_dims", axis, x.ndim + count)
    sizes = iter(x.shape)
    return F.reshape(x, [1 if a in axes else next(sizes) for a in range(x.ndim + count)])


def squeeze(x, axis=None) -> Tensor:
    """Remove axes of size 1 (all of them when ``axis`` is None)."""
    x = as_tensor(x)
    if axis is None:
        axes = tuple(a for a, size in enumerate(x.shape) if size == 1)
    else:
        axes = normalize_axis("squeeze", axis, x.ndim)
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(
                    f"squeeze: axis {a} of a tensor of shape {x.shape} has size {x.shape[a]}; "
                    f"only axes of size 1 can be squeezed."
                )
    return F.reshape(x, [size for a, size in enumerate(x.shape) if a not in axes])


def _same_shapes(function: str, tensors: list, skip_axis=None) -> None:
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        differs = len(t.shape) != len(first) or builtins.any(
            a != b for k, (a, b) in enumerate(zip(t.shape, first)) if k != skip_axis
        )
        if differs:
            where = "" if skip_axis is None else f" outside axis {skip_axis}"
            raise ValueError(
                f"{function}: xs[{i}] has shape {t.shape}, which does not match xs[0]'s "
                f"{first}{where}."
            )


def _sequence(function: str, xs) -> list:
    xs = list(xs)
    if not xs:
        raise ValueError(f"{function}: got an empty list of tensors.")
    return promote(function, {f"xs[{i}]": x for i, x in enumerate(xs)})


def concatenate(xs, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    xs = _sequence("concatenate", xs)
    if xs[0].ndim == 0:
        raise ValueError("concatenate: cannot concatenate scalars (use stack).")
    axis = _axis("concatenate", axis, xs[0].ndim)
    _same_shapes("concatenate", xs, axis)
    return F.concatenate(xs, axis)


def stack(x, axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    xs = _sequence("stack", x)
    _same_shapes("stack", xs)
    return F.stack(xs, _axis("stack", axis, xs[0].ndim + 1))


def split(x, indices_or_sections, axis: int = 0) -> list:
    """A list of pieces: ``n`` equal sections, or cut before each of the given indices."""
    x = as_tensor(x)
    axis = _axis("split", axis, x.ndim)
    size = x.shape[axis]
    if isinstance(indices_or_sections, (int, numpy.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or size % sections:
            raise ValueError(
                f"split: cannot split axis {axis} of size {size} (shape {x.shape}) into "
                f"indices_or_sections={sections} equal sections; give a list of split "
                f"indices for unequal pieces."
            )
        bounds = [size // sections * k for k in range(1, sections)]
    else:
        bounds = [
            builtins.min(builtins.max(int(i) + size if i < 0 else int(i), 0), size)
            for i in indices_or_sections
        ]
        bounds = [builtins.max(b, previous) for b, previous in zip(bounds, [0, *bounds])]
    return _shape.split(x, bounds, axis)


def tile(x, repeats) -> Tensor:
    """Repeat the whole tensor ``repeats`` times along each axis (NumPy's ``tile``)."""
    x = as_tensor(x)
    repeats = (repeats,) if isinstance(repeats, (int, numpy.integer)) else tuple(repeats)
    if builtins.any(r < 0 for r in repeats):
        raise ValueError(f"tile: repeats={repeats} must not be negative.")
    return _shape.tile(x, [int(r) for r in repeats])


def repeat(x, repeats, axis=None) -> Tensor:
    """Repeat each element ``repeats`` times (or ``repeats[i]`` times) along ``axis``."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    axis = _axis("repeat", axis, x.ndim)
    if isinstance(repeats, Tensor):
        repeats = repeats.numpy().tolist()
    if not isinstance(repeats, (int, numpy.integer)):
        repeats = [int(r) for r in numpy.asarray(repeats).reshape(-1)]
        if len(repeats) == 1:
            repeats = repeats[0]
        elif len(repeats) != x.shape[axis]:
            raise ValueError(
                f"repeat: {len(repeats)} repeats for axis {axis} of size {x.shape[axis]}."
            )
    return _shape.repeat(x, repeats if isinstance(repeats, list) else int(repeats), axis)


def flip(x, axis=None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes if None)."""
    x = as_tensor(x)
    return _shape.flip(x, normalize_axis("flip", axis, x.ndim))


def broadcast_to(x, shape) -> Tensor:
    """``x`` broadcast to ``shape``; the gradient sums over the broadcast axes."""
    x = as_tensor(x)
    shape = (shape,) if isinstance(shape, (int, numpy.integer)) else tuple(shape)
    try:
        numpy.broadcast_shapes(x.shape, shape)
        ok = len(shape) >= x.ndim and numpy.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"broadcast_to: a tensor of shape {x.shape} cannot broadcast to {shape}.")
    return _shape.broadcast_to(x, shape)


def _index_array(function: str, indices, x: Tensor, size: int):
    """Integer ``indices`` as a native array on ``x``'s backend, negative ones wrapped."""
    backend_of(function, {"x": x, "indices": indices})
    data = to_tensor(indices, x.backend).data
    if data.dtype.kind not in "iu":
        if data.dtype.kind == "f" and data.size and (data == data.round()).all():
            data = data.astype(INT32)
        else:
            raise TypeError(f"{function}: indices must be integers, got dtype {data.dtype}.")
    return data + size * (data < 0)


def take(x, indices, axis=None) -> Tensor:
    """Elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` if None)."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    axis = _axis("take", axis, x.ndim)
    if isinstance(indices, (int, numpy.integer)):
        index = int(indices) + x.shape[axis] * (indices < 0)
    else:
        index = _index_array("take", indices, x, x.shape[axis])
    return F.getitem(x, (slice(None),) * axis + (index,))


def take_along_axis(x, indices, axis=None) -> Tensor:
    """``numpy.take_along_axis``: pick along ``axis`` with indices shaped like ``x``."""
    x = as_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
        indices = reshape(indices, (-1,))
    axis = _axis("take_along_axis", axis, x.ndim)
    index = _index_array("take_along_axis", indices, x, x.shape[axis])
    if index.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: indices have rank {index.ndim} but x has rank {x.ndim}."
        )
    xp = x.backend.xp
    grid = [
        index
        if a == axis
        else xp.arange(size).reshape([-1 if b == a else 1 for b in range(x.ndim)])
        for a, size in enumerate(x.shape)
    ]
    return F.getitem(x, tuple(grid))


# -- creation -------------------------------------------------------------------------


def _created(data) -> Tensor:
    return Tensor._wrap(data, config.get_backend())


def _size_tuple(shape) -> tuple:
    return (
        (int(shape),) if isinstance(shape, (int, numpy.integer)) else tuple(int(s) for s in shape)
    )


def zeros(shape, dtype=None) -> Tensor:
    """A new tensor of zeros; ``floatx`` unless ``dtype`` says otherwise."""
    dtype = standardize_dtype(dtype) or config.floatx()
    return _created(config.get_backend().xp.zeros(_size_tuple(shape), dtype=dtype))


def ones(shape, dtype=None) -> Tensor:
    """A new tensor of ones; ``floatx`` unless ``dtype`` says otherwise."""
    dtype = standardize_dtype(dtype) or config.floatx()
    return _created(config.get_backend().xp.ones(_size_tuple(shape), dtype=dtype))


def full(shape, fill_value, dtype=None) -> Tensor:
    """A new tensor filled with ``fill_value``; ``floatx`` unless ``dtype`` is given, as Keras."""
    dtype = standardize_dtype(dtype) or numpy.dtype(config.floatx())
    backend = backend_of("full", {"fill_value": fill_value})
    return _filled(backend, _size_tuple(shape), fill_value, dtype)


def _filled(backend, shape: tuple, fill_value, dtype) -> Tensor:
    data = backend.xp.empty(shape, dtype=dtype)
    data[...] = to_tensor(fill_value, backend).data  # broadcasts an array fill value
    return Tensor._wrap(data, backend)


def zeros_like(x, dtype=None) -> Tensor:
    x = as_tensor(x)
    return Tensor._wrap(
        x.backend.xp.zeros(x.shape, dtype=standardize_dtype(dtype) or x.dtype), x.backend
    )


def ones_like(x, dtype=None) -> Tensor:
    x = as_tensor(x)
    return Tensor._wrap(
        x.backend.xp.ones(x.shape, dtype=standardize_dtype(dtype) or x.dtype), x.backend
    )


def full_like(x, fill_value, dtype=None) -> Tensor:
    """A tensor shaped like ``x``, of ``x``'s dtype unless ``dtype`` is given."""
    x = as_tensor(x)
    backend_of("full_like", {"x": x, "fill_value": fill_value})
    return _filled(x.backend, x.shape, fill_value, standardize_dtype(dtype) or x.dtype)


def arange(start, stop=None, step=None, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``: int32 for integer arguments, else ``floatx``."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    dtype = standardize_dtype(dtype) or result_type(start, stop, step)
    return _created(config.get_backend().xp.arange(start, stop, step, dtype=dtype))


def eye(N: int, M: int | None = None, k: int = 0, dtype=None) -> Tensor:  # noqa: N803
    """A 2-D tensor with ones on diagonal ``k``; ``floatx`` by default."""
    dtype = standardize_dtype(dtype) or config.floatx()
    return _created(config.get_backend().xp.eye(N, M, k, dtype=dtype))


def one_hot(x, num_classes: int, axis: int = -1, dtype=None, sparse: bool = False) -> Tensor:
    """Integer labels as one-hot vectors along a new ``axis``; out-of-range labels give zeros."""
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported.")
    x = as_tensor(x)
    dtype = standardize_dtype(dtype) or numpy.dtype(config.floatx())
    xp = x.backend.xp
    labels = x.data if x.dtype.kind in "iu" else x.data.astype("int64")
    data = (labels[..., None] == xp.arange(num_classes)).astype(dtype)
    axis = _axis("one_hot", axis, x.ndim + 1)
    if axis != x.ndim:
        data = xp.moveaxis(data, -1, axis)
    return Tensor._wrap(data, x.backend)
