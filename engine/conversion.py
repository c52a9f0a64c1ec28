"""User values into tensors, for ``engine.ops``: the backend they meet on and Keras 3's dtype rules.

Keras 3 (and JAX) promote dtypes by a lattice in which Python scalars are
"weak": ``int32_tensor + 2`` stays int32, ``int32_tensor + 1.5`` is float32
(``floatx``), ``float32_tensor + 2.0`` stays float32. A Python list becomes
int32 or ``floatx``. Integer tensors meeting float tensors take the float's
dtype, so ``int64 + float32`` is float32. One difference from Keras on PyTorch
and JAX, which compute in float32: float64 inputs stay float64.
"""

import numpy

import backends

from . import config
from . import functional as F
from .tensor import Tensor, _to_backend_array

#: rank of a dtype kind in the promotion lattice: bool < integers < floats
_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}
_WEAK_SCALARS = (bool, int, float, numpy.generic)
INT32 = numpy.dtype("int32")
BOOL = numpy.dtype("bool")


def standardize_dtype(dtype) -> numpy.dtype | None:
    """``dtype`` (a name, a NumPy dtype or type) as a NumPy dtype; None stays None."""
    if dtype is None:
        return None
    try:
        return numpy.dtype(dtype)
    except TypeError:
        raise ValueError(f"Unknown dtype {dtype!r}; expected e.g. 'float32' or 'int32'.") from None


def backend_of(function: str, named_values: dict) -> backends.Backend:
    """The backend of the tensors among ``named_values`` (the current one if none is a tensor).

    Raises BackendMismatchError naming the function and both arguments when two
    tensors live on different backends.
    """
    backend = first = None
    for name, value in named_values.items():
        if not isinstance(value, Tensor):
            continue
        if backend is None:
            backend, first = value.backend, name
        elif value.backend is not backend:
            raise backends.BackendMismatchError(
                f"{function}: {first} is on backend '{backend.name}' but {name} is on "
                f"backend '{value.backend.name}'. Move one of them first, e.g. "
                f"{name}.to('{backend.name}')."
            )
    return backend if backend is not None else config.get_backend()


def to_tensor(value, backend: backends.Backend, dtype=None) -> Tensor:
    """``value`` as a tensor on ``backend``: Keras's ``convert_to_tensor`` rules.

    A Python list of ints becomes int32 and of floats ``floatx``; a NumPy or
    native array keeps its dtype; a tensor is returned as it is (cast, with
    its gradient, when ``dtype`` differs).
    """
    dtype = standardize_dtype(dtype)
    if isinstance(value, Tensor):
        return value if dtype is None else cast_tensor(value, dtype)
    if dtype is None and (not hasattr(value, "dtype") or isinstance(value, numpy.generic)):
        dtype = _default_dtype(value)
    return Tensor._wrap(_to_backend_array(value, backend, dtype), backend)


def _default_dtype(value) -> numpy.dtype | None:
    """Keras's dtype for a Python value or NumPy scalar: int32 (int64 if needed), floatx, bool."""
    host = numpy.asarray(value)
    if host.dtype.kind == "f":
        return numpy.dtype(config.floatx())
    if host.dtype.kind == "i" and not isinstance(value, numpy.generic):
        fits = host.size == 0 or (host.min() >= -(2**31) and host.max() < 2**31)
        return INT32 if fits else numpy.dtype("int64")
    return host.dtype


def cast_tensor(x: Tensor, dtype) -> Tensor:
    """``x`` as ``dtype``: differentiable between float dtypes, outside the graph otherwise."""
    dtype = standardize_dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.dtype.kind == "f" and dtype.kind == "f":
        return F.cast(x, dtype)
    return Tensor._wrap(x.data.astype(dtype), x.backend)


def result_type(*values) -> numpy.dtype:
    """The dtype Keras 3 gives an op on ``values`` (tensors, arrays and weak Python scalars)."""
    strong = [v.dtype for v in values if isinstance(v, Tensor)]
    weak_rank = max(
        [_KIND_RANK[numpy.asarray(v).dtype.kind] for v in values if not isinstance(v, Tensor)],
        default=-1,
    )
    dtype = None
    if strong:
        floats = [d for d in strong if d.kind == "f"]
        if floats:
            dtype = max(floats, key=lambda d: d.itemsize)
        else:
            dtype = numpy.result_type(*strong)
    if dtype is None or _KIND_RANK[dtype.kind] < weak_rank:
        dtype = (BOOL, INT32, numpy.dtype(config.floatx()))[weak_rank]
    return dtype


def float_dtype(dtype: numpy.dtype) -> numpy.dtype:
    """``dtype`` if it is a float dtype, else ``floatx`` (what ``exp`` of an integer gives)."""
    return dtype if dtype.kind == "f" else numpy.dtype(config.floatx())


def already_promoted(values, floating: bool = False) -> bool:
    """Whether ``values`` are tensors of one dtype on one backend: the common case, made cheap."""
    first = values[0]
    if not isinstance(first, Tensor) or (floating and first.dtype.kind != "f"):
        return False
    dtype, backend = first.dtype, first.backend
    for v in values:
        if not isinstance(v, Tensor) or v.dtype != dtype or v.backend is not backend:
            return False
    return True


def promote(function: str, named_values: dict, dtype=None, floating: bool = False) -> list:
    """Tensors of one dtype on one backend from an op's arguments, as Keras broadcasts them.

    ``dtype`` forces the result dtype; ``floating`` lifts integers to ``floatx``.
    """
    values = list(named_values.values())
    if dtype is None and already_promoted(values, floating):
        return values
    backend = backend_of(function, named_values)
    values = [
        v if isinstance(v, (Tensor, *_WEAK_SCALARS)) else to_tensor(v, backend)
        for v in named_values.values()
    ]
    if dtype is None:
        dtype = result_type(*values)
        if floating:
            dtype = float_dtype(dtype)
    return [
        cast_tensor(v, dtype)
        if isinstance(v, Tensor)
        else Tensor._wrap(backend.asarray(v, dtype), backend)
        for v in values
    ]


def as_float(function: str, x) -> Tensor:
    """``x`` as a tensor, integers lifted to ``floatx``: the input of ``exp``, ``mean``, ..."""
    if isinstance(x, Tensor) and x.dtype.kind == "f":
        return x
    (x,) = promote(function, {"x": x}, floating=True)
    return x


def as_tensor(x) -> Tensor:
    """``x`` as a tensor on its own backend (or the current one), keeping its dtype."""
    if isinstance(x, Tensor):
        return x
    return to_tensor(x, config.get_backend())


def normalize_axis(function: str, axis, ndim: int, name: str = "axis") -> tuple:
    """``axis`` (None, an int or a sequence) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, numpy.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{function}: {name}={axis!r} is out of range for a tensor of rank {ndim}."
            )
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{function}: {name}={axis!r} repeats an axis.")
    return tuple(sorted(result))


def check_data_format(function: str, data_format) -> str:
    """``data_format`` (None: ``config.image_data_format()``) as ``"channels_last"`` or
    ``"channels_first"``, else an error naming ``function``."""
    if data_format is None:
        return config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{function}: data_format must be 'channels_last' or 'channels_first' (None: "
            f"engine.config.image_data_format()), got {data_format!r}."
        )
    return data_format
