"""The shape and creation half of ``engine.ops`` (re-exported there): reshape, take, zeros, ..."""

import builtins
import math

import numpy

from . import config
from . import functional as F
from .conversion import (
    INT32,
    as_tensor,
    backend_of,
    cast_tensor,
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
    newshape = _size_tuple(newshape)
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
    repeats = _size_tuple(repeats)
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
    shape = _size_tuple(shape)
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
    return F.getitem(x, (builtins.slice(None),) * axis + (index,))


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
    """A shape (an int, a sequence, or a tensor or array of ints, as Keras takes) as ints."""
    if isinstance(shape, Tensor):
        shape = shape.numpy()
    if isinstance(shape, numpy.ndarray):
        shape = shape.tolist()
    if isinstance(shape, (int, numpy.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


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


# -- more shapes: NumPy's names in Keras 3 ------------------------------------------------


def ravel(x) -> Tensor:
    """``x`` flattened to 1-D."""
    return F.reshape(as_tensor(x), (-1,))


def get_item(x, key) -> Tensor:
    """``x[key]``."""
    return F.getitem(as_tensor(x), key)


def copy(x) -> Tensor:
    """A copy of ``x`` (the gradient passes through)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return Tensor._wrap(x.data.copy(), x.backend)
    return _shape.copy(x)


def fliplr(x) -> Tensor:
    return flip(x, 1)


def flipud(x) -> Tensor:
    return flip(x, 0)


def _constant(x: Tensor, compute) -> Tensor:
    """An op on integers or booleans (no gradient): ``compute(xp, data)``."""
    return Tensor._wrap(compute(x.backend.xp, x.data), x.backend)


def _triangle(function: str, x, k: int, lower: bool) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{function}: x must have at least 2 axes, got shape {x.shape}.")
    xp = x.backend.xp
    keep = xp.tri(*x.shape[-2:], k=int(k), dtype=bool)
    keep = keep if lower else ~xp.tri(*x.shape[-2:], k=int(k) - 1, dtype=bool)
    if x.dtype.kind != "f":
        return _constant(x, lambda xp, a: xp.where(keep, a, xp.zeros((), a.dtype)))
    return F.where(keep, x, 0.0)


def tril(x, k: int = 0) -> Tensor:
    """``x`` with the entries above diagonal ``k`` of its last two axes set to 0."""
    return _triangle("tril", x, k, lower=True)


def triu(x, k: int = 0) -> Tensor:
    """``x`` with the entries below diagonal ``k`` of its last two axes set to 0."""
    return _triangle("triu", x, k, lower=False)


def tri(N: int, M: int | None = None, k: int = 0, dtype=None) -> Tensor:  # noqa: N803
    """Ones at and below diagonal ``k`` of an ``(N, M)`` matrix; ``floatx`` by default."""
    dtype = standardize_dtype(dtype) or config.floatx()
    return _created(config.get_backend().xp.tri(N, M, k, dtype=dtype))


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_widths(pad_width, ndim: int) -> list:
    widths = numpy.asarray(pad_width.numpy() if isinstance(pad_width, Tensor) else pad_width)
    if widths.dtype.kind not in "iu" or (widths < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative integers, got {pad_width!r}.")
    try:
        return [tuple(int(w) for w in pair) for pair in numpy.broadcast_to(widths, (ndim, 2))]
    except ValueError:
        raise ValueError(
            f"pad: pad_width {widths.tolist()} does not fit a tensor of rank {ndim}; give "
            f"one (before, after) pair per axis."
        ) from None


def pad(x, pad_width, mode: str = "constant", constant_values=None) -> Tensor:
    """``x`` padded by ``pad_width`` (``(before, after)`` per axis, or one pair for all) in
    NumPy's ``mode``: constant, edge, reflect, symmetric or wrap. Differentiable: the
    gradient of a padded entry goes back to the entry it copies."""
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}.")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"pad: constant_values is for mode='constant', not mode={mode!r}.")
    x = as_tensor(x)
    widths = _pad_widths(pad_width, x.ndim)
    if mode == "constant":
        value = 0 if constant_values is None else constant_values
        if x.dtype.kind != "f":
            return _constant(x, lambda xp, a: xp.pad(a, widths, constant_values=value))
        shape = tuple(size + before + after for size, (before, after) in zip(x.shape, widths))
        inside = tuple(
            builtins.slice(before, before + size) for size, (before, _) in zip(x.shape, widths)
        )
        padded = _shape.scatter(x, inside, shape)
        if value == 0:
            return padded
        border = x.backend.xp.full(shape, value, dtype=x.dtype)
        border[inside] = 0
        return F.add(padded, Tensor._wrap(border, x.backend))
    for axis, (before, after) in enumerate(widths):
        if before or after:
            if x.shape[axis] == 0:
                raise ValueError(f"pad: cannot pad an empty axis {axis} in mode={mode!r}.")
            source = numpy.pad(numpy.arange(x.shape[axis]), (before, after), mode=mode)
            x = take(x, source, axis)
    return x


def roll(x, shift, axis=None) -> Tensor:
    """``x`` shifted by ``shift`` along ``axis`` (of the flattened tensor if None),
    the entries that leave one end coming back at the other."""
    x = as_tensor(x)
    if axis is None:
        return F.reshape(roll(F.reshape(x, (-1,)), shift, 0), x.shape)
    shifts = numpy.broadcast_to(numpy.asarray(shift), numpy.shape(axis)).reshape(-1)
    axes = numpy.asarray(axis).reshape(-1)
    for step, a in zip(shifts.tolist(), axes.tolist()):
        a = _axis("roll", a, x.ndim)
        size = x.shape[a]
        if size:
            x = take(x, (numpy.arange(size) - int(step)) % size, a)
    return x


def _at_least(x: Tensor, rank: int) -> Tensor:
    """NumPy's ``atleast_2d`` (rank 2) or ``atleast_3d`` (rank 3) of ``x``."""
    shape = x.shape
    if len(shape) >= rank:
        return x
    if len(shape) == 0:
        lifted = (1,) * rank
    elif len(shape) == 1:
        lifted = (1, shape[0], 1)[:rank]
    else:
        lifted = (*shape, 1)
    return F.reshape(x, lifted)


def _stacked(xs, rank: int, axis: int) -> Tensor:
    return concatenate([_at_least(as_tensor(x), rank) for x in xs], axis)


def hstack(xs) -> Tensor:
    """Join along the second axis (the first for 1-D tensors)."""
    xs = list(xs)
    first = as_tensor(xs[0]) if xs else None
    if first is not None and first.ndim <= 1:
        return concatenate([F.reshape(as_tensor(x), (-1,)) for x in xs], 0)
    return concatenate(xs, 1)


def vstack(xs) -> Tensor:
    """Join along the first axis, 1-D tensors as rows."""
    return _stacked(xs, 2, 0)


def dstack(xs) -> Tensor:
    """Join along the third axis (tensors lifted to 3-D as NumPy's ``atleast_3d``)."""
    return _stacked(xs, 3, 2)


def unstack(x, num=None, axis: int = 0) -> list:
    """The slices of ``x`` along ``axis``, as a list."""
    x = as_tensor(x)
    axis = _axis("unstack", axis, x.ndim)
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack: num={num} but axis {axis} of {x.shape} has {x.shape[axis]}.")
    return [F.getitem(x, (builtins.slice(None),) * axis + (i,)) for i in range(x.shape[axis])]


def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The entries ``x[..., i, i + offset]`` of the plane ``(axis1, axis2)``, on a last axis."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: x must have at least 2 axes, got shape {x.shape}.")
    first, second = (
        _axis("diagonal", axis1, x.ndim, "axis1"),
        _axis("diagonal", axis2, x.ndim, "axis2"),
    )
    if first == second:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, both are {first}.")
    moved = moveaxis(x, [first, second], [-2, -1])
    rows, columns = moved.shape[-2:]
    start_row, start_column = builtins.max(-offset, 0), builtins.max(offset, 0)
    length = builtins.max(0, builtins.min(rows - start_row, columns - start_column))
    steps = numpy.arange(length)
    return F.getitem(moved, (..., steps + start_row, steps + start_column))


def diag(x, k: int = 0) -> Tensor:
    """A 1-D ``x`` on diagonal ``k`` of a square matrix, or the diagonal ``k`` of a 2-D ``x``."""
    x = as_tensor(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"diag: x must be 1-D or 2-D, got shape {x.shape}.")
    size = x.shape[0] + builtins.abs(int(k))
    xp = x.backend.xp
    on = xp.eye(size, k=int(k), dtype=bool)
    padded = pad(x, [(0, size - x.shape[0])])
    spread = F.reshape(padded, (size, 1) if k >= 0 else (1, size))
    spread = _shape.broadcast_to(spread, (size, size))
    if x.dtype.kind != "f":
        return _constant(spread, lambda xp, a: xp.where(on, a, xp.zeros((), a.dtype)))
    return F.where(on, spread, 0.0)


def trace(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The sum of the diagonal ``offset`` of the plane ``(axis1, axis2)``."""
    from .ops_reduction import sum as _sum  # ops_reduction imports this module

    return _sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diff(a, n: int = 1, axis: int = -1) -> Tensor:
    """The ``n``-th difference ``a[i + 1] - a[i]`` along ``axis``."""
    x = as_tensor(a)
    axis = _axis("diff", axis, x.ndim)
    head = (builtins.slice(None),) * axis
    for _ in range(int(n)):
        later, earlier = (
            F.getitem(x, head + (builtins.slice(1, None),)),
            F.getitem(x, head + (builtins.slice(None, -1),)),
        )
        x = (
            F.subtract(later, earlier)
            if x.dtype.kind == "f"
            else Tensor._wrap(later.data - earlier.data, x.backend)
        )
    return x


def meshgrid(*x, indexing: str = "xy") -> list:
    """Coordinate tensors from 1-D tensors: ``"xy"`` (Cartesian) or ``"ij"`` (matrix) indexing."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    vectors = [F.reshape(as_tensor(v), (-1,)) for v in x]
    shape = [v.shape[0] for v in vectors]
    if indexing == "xy" and len(shape) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    grids = []
    for i, v in enumerate(vectors):
        position = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(shape) >= 2 else i
        view = [-1 if a == position else 1 for a in range(len(shape))]
        grids.append(_shape.broadcast_to(F.reshape(v, view), tuple(shape)))
    return grids


def _spacing_dtype(dtype, start, stop):
    return standardize_dtype(dtype) or result_type(start, stop, 1.0)


def linspace(
    start,
    stop,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype=None,
    axis: int = 0,
):
    """``num`` evenly spaced numbers from ``start`` to ``stop`` (``floatx`` by default)."""
    samples, step = numpy.linspace(
        start, stop, int(num), endpoint=endpoint, retstep=True, axis=axis
    )
    result = _host_samples(samples, dtype, start, stop)
    return (result, step) if retstep else result


def _host_samples(samples: numpy.ndarray, dtype, start, stop) -> Tensor:
    """Numbers computed on the host (by NumPy's spacing functions) as a tensor of the
    current backend, in ``dtype`` (``floatx`` for numbers by default)."""
    dtype = _spacing_dtype(dtype, start, stop)
    return _created(config.get_backend().xp.asarray(samples.astype(dtype)))


def logspace(
    start, stop, num: int = 50, endpoint: bool = True, base=10, dtype=None, axis: int = 0
) -> Tensor:
    """``base ** linspace(start, stop, num)``."""
    samples = numpy.logspace(start, stop, int(num), endpoint=endpoint, base=base, axis=axis)
    return _host_samples(samples, dtype, start, stop)


def empty(shape, dtype=None) -> Tensor:
    """A new tensor of ``shape`` (of zeros here); ``floatx`` by default."""
    return zeros(shape, dtype)


def empty_like(x, dtype=None) -> Tensor:
    return zeros_like(x, dtype)


def _window(function: str, x: Tensor, start_indices, sizes) -> tuple:
    starts = [
        int(s)
        for s in numpy.asarray(
            start_indices.numpy() if isinstance(start_indices, Tensor) else start_indices
        ).reshape(-1)
    ]
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ValueError(
            f"{function}: start_indices {starts} and the shape {tuple(sizes)} need one entry "
            f"per axis of the tensor of shape {x.shape}."
        )
    for axis, (start, size) in enumerate(zip(starts, sizes)):
        if start < 0 or size < 0 or start + size > x.shape[axis]:
            raise ValueError(
                f"{function}: the window starting at {starts} of shape {tuple(sizes)} leaves "
                f"the tensor of shape {x.shape} on axis {axis}."
            )
    return tuple(builtins.slice(start, start + size) for start, size in zip(starts, sizes))


def slice(inputs, start_indices, shape) -> Tensor:  # noqa: A001  (Keras's name)
    """The block of ``inputs`` of ``shape`` starting at ``start_indices``."""
    x = as_tensor(inputs)
    sizes = [int(s) for s in (shape.numpy() if isinstance(shape, Tensor) else shape)]
    return F.getitem(x, _window("slice", x, start_indices, sizes))


def slice_update(inputs, start_indices, updates) -> Tensor:
    """``inputs`` with the block at ``start_indices`` replaced by ``updates`` (a new tensor;
    gradients go to both)."""
    x, updates = promote("slice_update", {"inputs": inputs, "updates": updates})
    return _replaced(x, _window("slice_update", x, start_indices, list(updates.shape)), updates)


def _replaced(x: Tensor, index, updates: Tensor) -> Tensor:
    """A new tensor: ``x`` with ``x[index]`` set to ``updates``; float ones carry the gradient
    to both (to ``x`` outside ``index``)."""
    if x.dtype.kind != "f":
        data = x.data.copy()
        data[index] = updates.data
        return Tensor._wrap(data, x.backend)
    inside = x.backend.xp.zeros(x.shape, dtype=bool)
    inside[index] = True
    return F.where(inside, _shape.scatter(updates, index, x.shape), x)


def _scatter_index(function: str, indices, backend, shape) -> tuple:
    index = to_tensor(indices, backend).data
    if index.dtype.kind not in "iu":
        raise TypeError(f"{function}: indices must be integers, got dtype {index.dtype}.")
    if index.ndim == 1:
        index = index[:, None]
    if index.shape[-1] > len(shape):
        raise ValueError(
            f"{function}: indices of depth {index.shape[-1]} for a tensor of rank {len(shape)}."
        )
    index = index.reshape(-1, index.shape[-1])
    return tuple(index[:, d] for d in range(index.shape[-1]))


def scatter(indices, values, shape) -> Tensor:
    """Zeros of ``shape`` with ``values`` added at ``indices`` (``(n, depth)``: repeated
    positions add up); differentiable in ``values``."""
    values = as_tensor(values)
    shape = _size_tuple(shape)
    index = _scatter_index("scatter", indices, values.backend, shape)
    values = F.reshape(values, (len(index[0]), *shape[len(index) :]))
    if values.dtype.kind != "f":
        full = values.backend.xp.zeros(shape, dtype=values.dtype)
        values.backend.xp.add.at(full, index, values.data)
        return Tensor._wrap(full, values.backend)
    return _shape.scatter(values, index, shape)


def scatter_update(inputs, indices, updates) -> Tensor:
    """``inputs`` with the entries at ``indices`` (``(n, depth)``) set to ``updates`` (a new
    tensor; gradients go to both)."""
    x, updates = promote("scatter_update", {"inputs": inputs, "updates": updates})
    index = _scatter_index("scatter_update", indices, x.backend, x.shape)
    updates = F.reshape(updates, (len(index[0]), *x.shape[len(index) :]))
    return _replaced(x, index, updates)


def nonzero(x) -> tuple:
    """The indices of the non-zero entries, one int32 tensor per axis."""
    x = as_tensor(x)
    return tuple(Tensor._wrap(i.astype(INT32), x.backend) for i in x.backend.xp.nonzero(x.data))


def array(x, dtype=None) -> Tensor:
    """``x`` as a new tensor on the current backend (``convert_to_tensor``'s NumPy name)."""
    if isinstance(x, Tensor):
        return cast_tensor(copy(x), standardize_dtype(dtype) or x.dtype)
    return to_tensor(x, config.get_backend(), dtype)


def append(x1, x2, axis=None) -> Tensor:
    """``x2`` after ``x1`` along ``axis`` (both flattened when it is None)."""
    a, b = promote("append", {"x1": x1, "x2": x2})
    if axis is None:
        return concatenate([ravel(a), ravel(b)], 0)
    return concatenate([a, b], axis)


def array_split(x, indices_or_sections, axis: int = 0) -> list:
    """``split`` that also takes a number of sections not dividing the axis: the first
    ``size % n`` pieces get one more element."""
    x = as_tensor(x)
    if isinstance(indices_or_sections, (int, numpy.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"array_split: indices_or_sections={sections} must be positive.")
        size = x.shape[_axis("array_split", axis, x.ndim)]
        base, extra = divmod(size, sections)
        bounds, stop = [], 0
        for k in range(sections - 1):
            stop += base + (k < extra)
            bounds.append(stop)
        return split(x, bounds, axis)
    return split(x, indices_or_sections, axis)


def hsplit(x, indices_or_sections) -> list:
    """``split`` along the second axis (the first for 1-D tensors)."""
    x = as_tensor(x)
    return split(x, indices_or_sections, 1 if x.ndim > 1 else 0)


def vsplit(x, indices_or_sections) -> list:
    """``split`` along the first axis."""
    return split(x, indices_or_sections, 0)


def dsplit(x, indices_or_sections) -> list:
    """``split`` along the third axis."""
    return split(x, indices_or_sections, 2)


def diagflat(x, k: int = 0) -> Tensor:
    """The flattened ``x`` on diagonal ``k`` of a square matrix."""
    return diag(ravel(x), k)


def rot90(array, k: int = 1, axes=(0, 1)) -> Tensor:  # noqa: A002  (Keras's name)
    """Rotate by 90 degrees ``k`` times in the plane ``axes``, from the first axis toward
    the second (as ``numpy.rot90``)."""
    x = as_tensor(array)
    first, second = (_axis("rot90", a, x.ndim, "axes") for a in axes)
    if first == second:
        raise ValueError(f"rot90: axes must be two different axes, got {tuple(axes)}.")
    turns = int(k) % 4
    if turns == 0:
        return x
    if turns == 2:
        return flip(x, (first, second))
    order = list(range(x.ndim))
    order[first], order[second] = order[second], order[first]
    if turns == 1:
        return F.transpose(flip(x, second), order)
    return flip(F.transpose(x, order), second)


def vander(x, N=None, increasing: bool = False) -> Tensor:  # noqa: N803  (Keras's name)
    """The Vandermonde matrix of 1-D ``x``: columns ``x**(N-1) ... x**0`` (reversed when
    ``increasing``)."""
    x = as_tensor(x)
    if x.ndim != 1:
        raise ValueError(f"vander: x must be 1-D, got shape {x.shape}.")
    count = x.shape[0] if N is None else int(N)
    powers = numpy.arange(count) if increasing else numpy.arange(count)[::-1]
    if x.dtype.kind != "f":
        data = x.data[:, None] ** x.backend.xp.asarray(powers)
        return Tensor._wrap(data.astype(x.dtype), x.backend)
    columns = [F.power(x, float(p)) if p else F.add(F.multiply(x, 0.0), 1.0) for p in powers]
    return F.stack(columns, 1) if columns else F.reshape(x, (x.shape[0], 0))


def extract_sequences(x, sequence_length: int, sequence_stride: int) -> Tensor:
    """Windows of ``sequence_length`` along the last axis every ``sequence_stride``:
    ``(..., windows, sequence_length)`` (framing a signal)."""
    x = as_tensor(x)
    length = x.shape[-1]
    if sequence_length <= 0 or sequence_stride <= 0 or sequence_length > length:
        raise ValueError(
            f"extract_sequences: sequence_length={sequence_length} and "
            f"sequence_stride={sequence_stride} must be positive, the length at most the last "
            f"axis ({length})."
        )
    count = (length - sequence_length) // sequence_stride + 1
    index = numpy.arange(count)[:, None] * sequence_stride + numpy.arange(sequence_length)
    return F.getitem(x, (..., x.backend.xp.asarray(index)))


def view(x, dtype=None) -> Tensor:
    """The same bytes read as ``dtype`` (no gradient)."""
    x = as_tensor(x)
    if dtype is None:
        return x
    return Tensor._wrap(x.data.view(standardize_dtype(dtype)), x.backend)


def saturate_cast(x, dtype) -> Tensor:
    """``x`` cast to ``dtype`` with values first clipped to its range (no wrap-around)."""
    x = as_tensor(x)
    dtype = standardize_dtype(dtype)
    if dtype.kind in "iu":
        info = numpy.iinfo(dtype)
        low, high = info.min, info.max
    elif dtype.kind == "f":
        info = numpy.finfo(dtype)
        low, high = info.min, info.max
    else:
        return cast_tensor(x, dtype)
    if x.dtype.kind in "iu":
        own = numpy.iinfo(x.dtype)
        low, high = builtins.max(low, own.min), builtins.min(high, own.max)
    elif x.dtype.kind == "f":
        own = numpy.finfo(x.dtype)
        low, high = builtins.max(low, own.min), builtins.min(high, own.max)
    if x.dtype.kind == "f":
        clipped = F.clip(x, x.dtype.type(low), x.dtype.type(high))
    else:
        clipped = Tensor._wrap(x.backend.xp.clip(x.data, low, high), x.backend)
    return cast_tensor(clipped, dtype)


def _signal_window(x, compute) -> Tensor:
    """A window function of ``x`` points (NumPy's), as ``floatx``."""
    length = int(x.numpy() if isinstance(x, Tensor) else x)
    return _host_samples(compute(length), config.floatx(), 0, 0)


def bartlett(x) -> Tensor:
    """The Bartlett (triangular) window of ``x`` points, ``floatx``."""
    return _signal_window(x, numpy.bartlett)


def blackman(x) -> Tensor:
    return _signal_window(x, numpy.blackman)


def hamming(x) -> Tensor:
    return _signal_window(x, numpy.hamming)


def hanning(x) -> Tensor:
    return _signal_window(x, numpy.hanning)


def kaiser(x, beta) -> Tensor:
    return _signal_window(x, lambda length: numpy.kaiser(length, float(beta)))


def geomspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0):
    """``num`` numbers spaced evenly on a log scale from ``start`` to ``stop``."""
    dtype = _spacing_dtype(dtype, start, stop)
    samples = numpy.geomspace(start, stop, int(num), endpoint=endpoint, axis=axis)
    return Tensor._wrap(
        config.get_backend().xp.asarray(samples.astype(dtype)), config.get_backend()
    )


def _rearrange_side(function: str, side: str) -> list:
    """The groups of one side of an einops pattern: each a list of axis names (``"..."``
    for the ellipsis, ``"1"`` for an anonymous axis of size 1); a bare name is a group of
    one, a parenthesis a group to merge or split."""
    groups, current = [], None
    for token in side.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            if current is not None:
                raise ValueError(f"{function}: nested parentheses in {side!r}.")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"{function}: unbalanced parentheses in {side!r}.")
            groups.append(current)
            current = None
        elif current is not None:
            current.append(token)
        else:
            groups.append([token])
    if current is not None:
        raise ValueError(f"{function}: unbalanced parentheses in {side!r}.")
    return groups


def rearrange(tensor, pattern: str, **axes_lengths) -> Tensor:
    """einops's ``rearrange``: reorder, merge (``(h w)``) and split axes by a pattern such
    as ``"b h w c -> b (h w) c"`` or ``"b (h p) c -> b h p c"`` with ``p=2``; ``...``
    stands for the axes not named."""
    function = "rearrange"
    x = as_tensor(tensor)
    if pattern.count("->") != 1:
        raise ValueError(f"{function}: the pattern needs one '->', got {pattern!r}.")
    left, right = (_rearrange_side(function, side) for side in pattern.split("->"))
    named = [g for g in left if g != ["..."]]
    has_ellipsis = len(named) != len(left)
    if len(left) - has_ellipsis > x.ndim or (not has_ellipsis and len(left) != x.ndim):
        raise ValueError(
            f"{function}: the pattern's left side {pattern.split('->')[0].strip()!r} names "
            f"{len(left)} axes, the tensor has {x.ndim} (shape {x.shape})."
        )
    sizes = dict(axes_lengths)
    elementary, ellipsis_shape = [], ()
    dims = iter(x.shape)
    for group in left:
        if group == ["..."]:
            ellipsis_shape = tuple(next(dims) for _ in range(x.ndim - len(left) + 1))
            elementary.append("...")
            continue
        size = next(dims)
        unknown = [name for name in group if name not in sizes and name != "1"]
        known = math.prod(sizes[name] for name in group if name in sizes)
        if len(unknown) > 1:
            raise ValueError(f"{function}: cannot split {group} of size {size}: give sizes.")
        if unknown:
            if size % known:
                raise ValueError(f"{function}: {size} does not split into {group}.")
            sizes[unknown[0]] = size // known
        elif known != size:
            raise ValueError(f"{function}: {group} has size {known}, the axis has {size}.")
        elementary.extend(name for name in group if name != "1")
    flat_shape = [
        d for name in elementary for d in (ellipsis_shape if name == "..." else (sizes[name],))
    ]
    x = F.reshape(x, flat_shape)
    order_names = [name for group in right for name in group if name != "1"]
    if sorted(order_names) != sorted(elementary):
        raise ValueError(
            f"{function}: the two sides of {pattern!r} must name the same axes; got "
            f"{sorted(set(elementary))} and {sorted(set(order_names))}."
        )
    positions, start = {}, 0
    for name in elementary:
        width = len(ellipsis_shape) if name == "..." else 1
        positions[name] = list(range(start, start + width))
        start += width
    x = F.transpose(x, [p for name in order_names for p in positions[name]])
    out_shape = []
    for group in right:
        if group == ["..."]:
            out_shape.extend(ellipsis_shape)
        else:
            out_shape.append(math.prod(1 if n == "1" else sizes[n] for n in group))
    return F.reshape(x, out_shape)
