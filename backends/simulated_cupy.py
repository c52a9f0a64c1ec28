"""A strict stand-in for CuPy: the cupy backend's ``xp`` and arrays in simulation mode.

On a GPU, CuPy keeps its arrays apart from the host's: ``cupy_array + numpy_array``,
``cupy.maximum(numpy_array, 0)`` and ``cupy.concatenate([cupy_array, numpy_array])``
raise ``TypeError``, and so does ``numpy.asarray(cupy_array)`` (``.get()`` copies to
the host). With NumPy itself as ``xp``, simulation accepted every such mix; the first
run on a real GPU found them in the loss tracker, ``assign_add``, two losses and the
merge layers. Here:

- ``DeviceArray`` holds a NumPy array (``.host``, which the simulator's kernels take)
  and behaves as a CuPy array: its methods, operators and indexing give device arrays,
  a host array among their operands raises, ``numpy.asarray`` of it raises, ``get()``
  copies to the host, and reductions give 0-d arrays rather than NumPy scalars.
  NumPy's functions and ufuncs called on it run as CuPy's would (``__array_function__``,
  ``__array_ufunc__``), with the same refusal of host arrays.
- ``namespace`` is ``xp``: NumPy's functions and ufuncs on device arrays; ``asarray``
  and ``array`` are the transfers, which take host data and copy it.
"""

import types

import numpy

#: the transfers to the device: they take host data
_TRANSFERS = frozenset({"asarray", "array", "asanyarray"})


def _refuse(name: str):
    raise TypeError(
        f"{name}: a host (NumPy) array among the operands of a device operation; CuPy "
        f"refuses it. Move it to the backend first (backend.asarray)."
    )


def _host_array_in(values) -> bool:
    for value in values:
        if isinstance(value, numpy.ndarray):
            return True
        if isinstance(value, (list, tuple)) and _host_array_in(value):
            return True
    return False


def _unwrap(value):
    if isinstance(value, DeviceArray):
        return value.host
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _on_device(value):
    if isinstance(value, numpy.ndarray):
        return DeviceArray(value)
    if isinstance(value, numpy.generic):
        return DeviceArray(numpy.asarray(value))  # CuPy's reductions give 0-d arrays
    if isinstance(value, tuple):
        return tuple(_on_device(v) for v in value)
    if isinstance(value, list):
        return [_on_device(v) for v in value]
    if isinstance(value, numpy.random.Generator):
        return _Namespace(value)
    return value


def _call(function, name: str, args, kwargs):
    if _host_array_in(args) or _host_array_in(kwargs.values()):
        _refuse(name)
    return _on_device(function(*_unwrap(args), **_unwrap(kwargs)))


class DeviceArray:
    """An array on the simulated device (see the module's docstring)."""

    __slots__ = ("host", "__weakref__")
    __hash__ = None

    def __init__(self, host: numpy.ndarray):
        self.host = host

    # -- what CuPy's arrays have besides NumPy's attributes (``__getattr__``) ----

    @property
    def __cuda_array_interface__(self):  # what marks a CuPy array to the engine
        interface = dict(self.host.__array_interface__)
        interface["version"] = 3
        return interface

    def __array_namespace__(self, api_version=None):
        return namespace

    def get(self, *args, **kwargs):
        """A host copy, as CuPy's ``get``."""
        return numpy.array(self.host, copy=True)

    def set(self, host_array, *args, **kwargs):
        """Copy host data in, as CuPy's ``set``."""
        self.host[...] = host_array

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly."
        )

    def __getattr__(self, name):
        if name.startswith("__"):  # NumPy's array interface and buffer are the host's
            raise AttributeError(name)
        value = getattr(self.host, name)
        if not callable(value):
            return _on_device(value) if isinstance(value, numpy.ndarray) else value

        def method(*args, **kwargs):
            return _call(value, f"ndarray.{name}", args, kwargs)

        return method

    def __len__(self):
        return len(self.host)

    def __iter__(self):
        return (_on_device(row) for row in self.host)

    def __repr__(self):
        return f"simulated_device_array({self.host!r})"

    def __float__(self):
        return float(self.host)

    def __int__(self):
        return int(self.host)

    def __index__(self):
        return self.host.__index__()

    def __bool__(self):
        return bool(self.host)

    def __getitem__(self, key):
        return _on_device(self.host[_unwrap(key)])

    def __setitem__(self, key, value):
        if isinstance(value, numpy.ndarray) and value.ndim:
            _refuse("ndarray.__setitem__")
        self.host[_unwrap(key)] = _unwrap(value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _call(getattr(ufunc, method), f"{ufunc.__name__}.{method}", inputs, kwargs)

    def __array_function__(self, function, types_, args, kwargs):
        return _call(function, function.__name__, args, kwargs)


_OPERANDS = (int, float, complex, bool, numpy.generic)


def _operator(ufunc, reflected=False, in_place=False):
    def apply(self, other):
        if isinstance(other, numpy.ndarray):
            _refuse(ufunc.__name__)
        if not isinstance(other, (DeviceArray, *_OPERANDS)):
            return NotImplemented  # a Tensor's reflected operator takes it, as with CuPy
        if in_place:
            ufunc(self.host, _unwrap(other), out=self.host)
            return self
        operands = (_unwrap(other), self.host) if reflected else (self.host, _unwrap(other))
        return _on_device(ufunc(*operands))

    return apply


for _name, _ufunc in {
    "add": numpy.add,
    "sub": numpy.subtract,
    "mul": numpy.multiply,
    "truediv": numpy.true_divide,
    "floordiv": numpy.floor_divide,
    "mod": numpy.remainder,
    "pow": numpy.power,
    "matmul": numpy.matmul,
    "and": numpy.bitwise_and,
    "or": numpy.bitwise_or,
    "xor": numpy.bitwise_xor,
    "lshift": numpy.left_shift,
    "rshift": numpy.right_shift,
}.items():
    setattr(DeviceArray, f"__{_name}__", _operator(_ufunc))
    setattr(DeviceArray, f"__r{_name}__", _operator(_ufunc, reflected=True))
    setattr(DeviceArray, f"__i{_name}__", _operator(_ufunc, in_place=True))
for _name, _ufunc in {
    "lt": numpy.less,
    "le": numpy.less_equal,
    "gt": numpy.greater,
    "ge": numpy.greater_equal,
    "eq": numpy.equal,
    "ne": numpy.not_equal,
}.items():
    setattr(DeviceArray, f"__{_name}__", _operator(_ufunc))
for _name, _ufunc in {
    "neg": numpy.negative,
    "pos": numpy.positive,
    "abs": numpy.absolute,
    "invert": numpy.invert,
}.items():
    setattr(DeviceArray, f"__{_name}__", lambda self, _u=_ufunc: _on_device(_u(self.host)))


def _transfer(function):
    def to_device(*args, **kwargs):
        result = function(*_unwrap(args), **_unwrap(kwargs))
        if function is not numpy.array:  # a transfer never aliases host memory
            result = numpy.array(result, copy=True)
        return _on_device(result)

    return to_device


def _wrap(function, name: str):
    def device_function(*args, **kwargs):
        return _call(function, name, args, kwargs)

    device_function.__name__ = name
    return device_function


class _Ufunc:
    """A NumPy ufunc whose call and methods (``reduce``, ``at``...) are device operations."""

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return _call(self._ufunc, self._ufunc.__name__, args, kwargs)

    def __getattr__(self, name):
        value = getattr(self._ufunc, name)
        if name == "at":  # at(array, indices, values): host indices are taken, as by CuPy
            return lambda array, indices, *rest: _call(
                lambda a, *r: value(a, _unwrap(indices), *r),
                f"{self._ufunc.__name__}.at",
                (array, *rest),
                {},
            )
        return _wrap(value, f"{self._ufunc.__name__}.{name}") if callable(value) else value


class _Namespace:
    """NumPy's namespace (or a submodule, or a random Generator) as a device's."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        value = getattr(self._target, name)
        if name == "ndarray":
            result = DeviceArray
        elif isinstance(self._target, types.ModuleType) and name in _TRANSFERS:
            result = _transfer(value)
        elif isinstance(value, types.ModuleType):
            result = _Namespace(value)
        elif isinstance(value, numpy.ufunc):
            result = _Ufunc(value)
        elif callable(value) and not isinstance(value, type):
            result = _wrap(value, name)
        else:
            return value  # dtypes, types, constants
        self.__dict__[name] = result  # looked up once
        return result


namespace = _Namespace(numpy)
