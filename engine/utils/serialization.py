"""Keras 3's registration and serialization helpers, over this library's allow-lists.

``register_keras_serializable``, ``get_custom_objects``, ``CustomObjectScope``,
``get_registered_name``/``get_registered_object`` and
``serialize_keras_object``/``deserialize_keras_object`` as ``keras.saving`` has them.

Every name resolves through the registries of ``engine.registry`` (layers,
losses, metrics, optimizers, schedules, regularizers, constraints,
initializers) or the activation table: registering a class, or putting it in
the dictionary ``get_custom_objects()`` returns, adds it to the registry of its
kind, so ``compile(loss="MyLoss")``, ``layers.deserialize`` and ``load_model``
find it; deleting it from that dictionary takes it out again. A config never
names a module to import: its ``"module"`` only says which registry to look in.
"""

import inspect

import numpy

from .. import activations
from .. import registry as registry_module
from ..registry import snake_case
from ..tensor import Tensor

#: Keras's ``"module"`` of the built-in objects of each kind
_LAYERS, _LOSSES, _METRICS = "keras.layers", "keras.losses", "keras.metrics"
_OPTIMIZERS, _SCHEDULES = "keras.optimizers", "keras.optimizers.schedules"
_REGULARIZERS, _CONSTRAINTS = "keras.regularizers", "keras.constraints"
_INITIALIZERS = "keras.initializers"

#: ``object -> "package>name"`` for what ``register_keras_serializable`` registered
#: (Keras's ``GLOBAL_CUSTOM_NAMES``); the objects by name are ``get_custom_objects()``
_registered_names: dict = {}


def _kinds() -> list[tuple[type, object, str]]:
    """``(base class, registry, Keras module)`` per kind of serializable object."""
    from .. import constraints, initializers, losses, metrics, optimizers, regularizers
    from ..layers.base import Layer, layer_registry
    from ..optimizers import schedules

    return [
        (Layer, layer_registry, _LAYERS),
        (losses.Loss, losses._registry, _LOSSES),
        (metrics.Metric, metrics._registry, _METRICS),
        (optimizers.Optimizer, optimizers._registry, _OPTIMIZERS),
        (schedules.LearningRateSchedule, schedules._registry, _SCHEDULES),
        (regularizers.Regularizer, regularizers._registry, _REGULARIZERS),
        (constraints.Constraint, constraints._registry, _CONSTRAINTS),
        (initializers.Initializer, initializers._registry, _INITIALIZERS),
    ]


def _kind_of(cls):
    for base, registry, module in _kinds():
        if issubclass(cls, base):
            return registry, module
    return None, None


def _is_function(obj) -> bool:
    return inspect.isfunction(obj) or inspect.isbuiltin(obj)


class _CustomObjects(dict):
    """A dict whose entries are also in the registries: ``d["MyLayer"] = MyLayer`` makes
    ``"MyLayer"`` resolve wherever a layer name does; ``del d["MyLayer"]`` undoes it."""

    def __init__(self):
        super().__init__()
        #: key -> [(table, entry, value)]: what each key put in the registries' tables
        self._installed: dict = {}
        #: (id(table), entry) -> (table, the value before any key put one there)
        self._originals: dict = {}

    def __setitem__(self, key, obj) -> None:
        if key in self:
            del self[key]
        super().__setitem__(key, obj)
        self._installed[key] = []
        for table, entry, value in _table_entries(key, obj):
            self._originals.setdefault((id(table), entry), (table, table.get(entry, _ABSENT)))
            table[entry] = value
            self._installed[key].append((table, entry, value))

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        for table, entry, _ in self._installed.pop(key, []):
            # the latest key still putting a value there wins; else the original returns
            others = [
                value
                for entries in self._installed.values()
                for other, name, value in entries
                if other is table and name == entry
            ]
            if others:
                table[entry] = others[-1]
                continue
            _, original = self._originals.pop((id(table), entry))
            if original is _ABSENT:
                table.pop(entry, None)
            else:
                table[entry] = original

    def update(self, *args, **kwargs) -> None:
        for key, obj in dict(*args, **kwargs).items():
            self[key] = obj

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key, *default):
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        obj = self[key]
        del self[key]
        return obj

    def popitem(self):
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self):
            del self[key]


_ABSENT = object()


def _table_entries(key: str, obj) -> list:
    """``(table, entry, value)`` to add so that ``obj`` resolves as ``key`` (and by its
    class or function name): a class in the registry of its kind, a function among the
    activations; other objects only in the dict."""
    if inspect.isclass(obj):
        registry, _ = _kind_of(obj)
        if registry is None:
            return []
        names = sorted({name.lower() for name in (key, obj.__name__, snake_case(obj.__name__))})
        entries = [(registry._entries, name, obj) for name in names]
        return [*entries, (registry._display_names, obj, key)]  # the name errors list
    if _is_function(obj):  # a custom activation, usable by name in layers
        table = activations._ACTIVATIONS
        entries = [(table, key, obj)]
        if table.get(obj.__name__, obj) is obj:  # never hide a built-in of that name
            entries.append((table, obj.__name__, obj))
        return entries
    return []


_custom_objects = _CustomObjects()


def get_custom_objects() -> dict:
    """The live dictionary of registered objects (Keras's ``GLOBAL_CUSTOM_OBJECTS``):
    ``get_custom_objects()["MyLayer"] = MyLayer`` registers, ``.clear()`` unregisters.
    Objects given to ``custom_object_scope`` are not in it."""
    return _custom_objects


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator registering a class (layer, model, loss, metric, optimizer, schedule,
    regularizer, constraint, initializer) or function (an activation) as
    ``"package>name"`` (``name`` defaults to its own), so configs naming it load."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(
            f"register_keras_serializable: `package` must be a string without '>'; got {package!r}."
        )

    def decorator(obj):
        if not inspect.isclass(obj) and not _is_function(obj):
            raise TypeError(
                f"register_keras_serializable: expected a class or a function, got {obj!r}."
            )
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"register_keras_serializable: cannot register {obj.__name__}, which has no "
                f"get_config() method (its arguments could not be saved)."
            )
        class_name = name if name is not None else obj.__name__
        registered = f"{package}>{class_name}"
        _custom_objects[registered] = obj
        _registered_names[obj] = registered
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """``"package>name"`` for an object registered by ``register_keras_serializable``,
    else its ``__name__``."""
    return _registered_names.get(obj, obj.__name__)


def get_registered_object(name: str, custom_objects=None, module_objects=None):
    """The object registered as ``name``: in an active ``custom_object_scope``, then the
    registered objects, then ``custom_objects``, then ``module_objects``; None if none."""
    scoped = registry_module._custom_objects.get() or {}
    for table in (scoped, _custom_objects, custom_objects or {}, module_objects or {}):
        if name in table:
            return table[name]
    return None


class CustomObjectScope:
    """``with CustomObjectScope({"MyLayer": MyLayer}):`` resolves those names in the block
    (``load_model``, ``deserialize_keras_object``, ``layers.deserialize``...), as Keras's
    scope; scopes nest, the inner names added to the outer ones."""

    def __init__(self, custom_objects: dict | None = None):
        self.custom_objects = dict(custom_objects or {})
        self._contexts = []

    def __enter__(self) -> "CustomObjectScope":
        context = registry_module.custom_object_scope(self.custom_objects)
        context.__enter__()
        self._contexts.append(context)
        return self

    def __exit__(self, *exc_info) -> None:
        self._contexts.pop().__exit__(*exc_info)


custom_object_scope = CustomObjectScope


# -- serialize_keras_object --------------------------------------------------------


def _builtin(cls) -> bool:
    return cls.__module__.startswith("engine.")


def _public_function_name(fn) -> str | None:
    """The name under which ``fn`` is one of the library's activations or loss/metric
    functions, else None."""
    from .. import losses, metrics

    name = getattr(fn, "__name__", None)
    if activations._ACTIVATIONS.get(name) is fn:
        return name
    for module in (losses, metrics):
        if name in module.__all__ and getattr(module, name) is fn:
            return name
    return None


def serialize_keras_object(obj):
    """``obj`` as JSON-able values, as Keras 3 writes it: plain values as they are,
    objects as ``{"module", "class_name", "config", "registered_name"}`` (layers with their
    ``build_config``), functions as ``{"class_name": "function", "config": name}``."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, numpy.ndarray):
        config = {"value": obj.tolist(), "dtype": obj.dtype.name}
        return {"class_name": "__numpy__", "config": config}
    if isinstance(obj, Tensor):
        config = {"value": obj.numpy().tolist(), "dtype": obj.dtype.name}
        return {"class_name": "__tensor__", "config": config}
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(item) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if _is_function(obj):
        name = _registered_names.get(obj) or _public_function_name(obj)
        if name is None:
            raise ValueError(
                f"serialize_keras_object: cannot serialize the function {obj!r}: it is not "
                f"one of the library's activations or loss functions; register it with "
                f"@engine.utils.register_keras_serializable()."
            )
        return {
            "module": "builtins",
            "class_name": "function",
            "config": name,
            "registered_name": "function",
        }
    if inspect.isclass(obj):
        raise TypeError(
            f"serialize_keras_object: expected an object, got the class {obj.__name__}; "
            f"serialize an instance of it."
        )
    cls = type(obj)
    _, module = _kind_of(cls)
    if module == _LAYERS:
        from ..layers.serialization import serialize

        result = serialize(obj)
        if not _builtin(cls):
            result["registered_name"] = get_registered_name(cls)
        return result
    if not hasattr(obj, "get_config"):
        raise TypeError(
            f"serialize_keras_object: cannot serialize {obj!r} of type {cls.__name__}: it "
            f"has no get_config()."
        )
    builtin = _builtin(cls) and module is not None
    return {
        "module": module if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": None if builtin else get_registered_name(cls),
    }


# -- deserialize_keras_object ------------------------------------------------------


def _locate_function(name: str, registered: str | None):
    from .. import losses, metrics

    for key in (registered, name):
        if key and key != "function":
            found = get_registered_object(key)
            if found is not None:
                return found
    if name in activations._ACTIVATIONS:
        return activations._ACTIVATIONS[name]
    for module in (losses, metrics):
        fn = getattr(module, name, None) if name in module.__all__ else None
        if _is_function(fn):
            return fn
    raise TypeError(
        f"Could not locate function '{name}'. Make sure custom functions are decorated with "
        f"@engine.utils.register_keras_serializable() or passed in custom_objects."
    )


def _locate_class(config: dict):
    class_name = config["class_name"]
    registered = config.get("registered_name")
    for key in (registered, class_name):
        if key:
            found = get_registered_object(key)
            if found is not None:
                return found
    module = config.get("module")
    for _, registry, kind_module in _kinds():
        if module == kind_module:
            return registry.lookup(class_name)
    raise TypeError(
        f"Could not locate class '{class_name}'. Make sure custom classes are decorated "
        f"with @engine.utils.register_keras_serializable() or passed in custom_objects. "
        f"Full object config: {config}"
    )


def deserialize_keras_object(config, custom_objects: dict | None = None, safe_mode=True, **kwargs):
    """The object ``serialize_keras_object`` described. Classes come only from the
    registries (the ``"module"`` picks which) and ``custom_objects``; nothing is imported
    or evaluated, so ``safe_mode`` has nothing to relax. ``module_objects`` (a keyword,
    as in Keras) maps further names to objects."""
    module_objects = kwargs.pop("module_objects", None)
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unexpected arguments {sorted(kwargs)}.")
    extra = {**(module_objects or {}), **(custom_objects or {})}
    with registry_module.custom_object_scope(extra):
        return _deserialize(config)


def _deserialize(config):
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        found = get_registered_object(config)
        return config if found is None else found
    if isinstance(config, (list, tuple)):
        return [_deserialize(item) for item in config]
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: could not parse config {config!r}.")
    if "class_name" not in config or "config" not in config:
        return {key: _deserialize(value) for key, value in config.items()}
    class_name, inner = config["class_name"], config["config"]
    inner = {} if inner is None else inner
    if class_name == "__numpy__":
        return numpy.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        from .. import ops

        return ops.convert_to_tensor(numpy.array(inner["value"], dtype=inner["dtype"]))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(
                f"deserialize_keras_object: a function's 'config' must be its name, got {inner!r}."
            )
        return _locate_function(inner, config.get("registered_name"))
    if not isinstance(inner, dict):
        raise TypeError(
            f"deserialize_keras_object: 'config' of {class_name} must be a dict, got {inner!r}."
        )
    cls = _locate_class(config)
    if _is_function(cls):
        return cls
    registry, _ = _kind_of(cls) if inspect.isclass(cls) else (None, None)
    from ..layers.base import layer_registry

    if registry is layer_registry:
        from ..layers.serialization import deserialize

        with registry_module.custom_object_scope({class_name: cls}):
            return deserialize({**config, "class_name": class_name})
    if hasattr(cls, "from_config"):
        return cls.from_config(dict(inner))
    return cls(**inner)
