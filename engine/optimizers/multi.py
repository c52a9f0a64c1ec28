"""Keras 3's ``OptimizerMap`` and ``MultiOptimizer``: each weight updated by its own optimizer.

An ``OptimizerMap`` maps variable paths (``"encoder/dense/kernel"``) to optimizers:
an exact key first, else the keys as regular expressions (``re.fullmatch``), else
its default optimizer. A ``MultiOptimizer`` routes each trainable weight's update
to the optimizer an ``OptimizerMap`` (or any callable ``variable -> optimizer``)
gives for it. Each sub-optimizer keeps its own state, step count, learning rate,
clipping and weight decay; under data parallelism the gradients of all the weights
are combined once, before the sub-optimizers clip and update.
"""

import inspect
import re
from collections.abc import MutableMapping

from .. import distribute
from ..registry import custom_object_scope
from ..tensor import Tensor
from .base import Optimizer


class OptimizerMap(MutableMapping):
    """Variable paths, or regular expressions over them, mapped to optimizers.

    ``optimizer_map[path]`` is the optimizer of the key equal to ``path``, else of
    the one key that ``re.fullmatch``-es it (``"encoder/.*"`` covers every weight
    under ``encoder``; ``"encoder"`` only the path ``"encoder"``), else
    ``default_optimizer``. A path that several keys match is an error.

    Args:
        default_optimizer: the Optimizer of every variable no key matches.
        optimizer_map: optional dict ``{path or pattern: Optimizer}``.
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        _check_optimizer(default_optimizer, "OptimizerMap: `default_optimizer`", TypeError)
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(
                f"OptimizerMap: `optimizer_map` must be a dict {{variable path or pattern: "
                f"Optimizer}}, got {type(optimizer_map).__name__}."
            )
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict = {}
        for key, optimizer in (optimizer_map or {}).items():
            self._add(key, optimizer, "OptimizerMap: `optimizer_map`")

    @property
    def default_optimizer(self) -> Optimizer:
        return self._default_optimizer

    def __getitem__(self, key) -> Optimizer:
        """The optimizer of ``key`` (a variable path): exact key, else the one matching
        pattern, else the default."""
        if not isinstance(key, str):
            raise TypeError(
                f"OptimizerMap: look up a variable path (a string), got {type(key).__name__}."
            )
        optimizer = self._optimizer_map.get(key)
        if optimizer is not None:
            return optimizer
        matches = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, key)]
        if len(matches) > 1:
            raise ValueError(
                f"Multiple optimizers assigned to variable {key}: it matches the keys "
                f"{', '.join(repr(m) for m in matches)} of the OptimizerMap; make the patterns "
                f"exclusive, or add the exact path as a key."
            )
        return self._optimizer_map[matches[0]] if matches else self._default_optimizer

    def __setitem__(self, key, optimizer) -> None:
        self._add(key, optimizer, "OptimizerMap")

    def _add(self, key, optimizer, where: str) -> None:
        if not isinstance(key, str):
            raise ValueError(
                f"{where}: a key must be a string (a variable path or a pattern), got {key!r}."
            )
        if key in self._optimizer_map:
            raise ValueError(
                f"{where}: '{key}' already exists in the OptimizerMap with value "
                f"{self._optimizer_map[key]!r}; do not use duplicated keys."
            )
        try:
            re.compile(key)
        except re.error as error:
            raise ValueError(
                f"{where}: the key {key!r} is not a valid regular expression ({error})."
            ) from None
        _check_optimizer(optimizer, f"{where}: the value of {key!r}", ValueError)
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable) -> Optimizer:
        """The optimizer of ``variable``, by its ``path`` (the default for one without)."""
        path = getattr(variable, "path", None)
        return self._default_optimizer if path is None else self[path]

    def __repr__(self) -> str:
        return (
            f"OptimizerMap(default_optimizer={self._default_optimizer.name!r}, "
            f"optimizer_map={ {key: o.name for key, o in self._optimizer_map.items()} })"
        )

    def get_config(self) -> dict:
        from . import serialize

        return {
            "default_optimizer": serialize(self._default_optimizer),
            "optimizer_map": {key: serialize(o) for key, o in self._optimizer_map.items()},
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "OptimizerMap":
        from . import get

        if not isinstance(config, dict) or "default_optimizer" not in config:
            raise ValueError(
                f"OptimizerMap.from_config: expected a dict with 'default_optimizer' (and "
                f"'optimizer_map'), got {config!r:.200}."
            )
        entries = config.get("optimizer_map") or {}
        if not isinstance(entries, dict):
            raise ValueError(
                f"OptimizerMap.from_config: 'optimizer_map' must be a dict, got "
                f"{type(entries).__name__}."
            )
        with custom_object_scope(custom_objects):
            default = get(config["default_optimizer"])
            return cls(default, {key: get(value) for key, value in entries.items()})


class _AlreadyReduced:
    """The data-parallel strategy as a sub-optimizer of a MultiOptimizer sees it: the
    MultiOptimizer has combined every gradient across the ranks once already."""

    @staticmethod
    def reduce_gradients(params: list, grads: list) -> list:
        return grads


_ALREADY_REDUCED = _AlreadyReduced()


class MultiOptimizer(Optimizer):
    """An optimizer that delegates each variable to an optimizer of its own.

    ``optimizer_map`` is an ``OptimizerMap``, or a callable ``variable -> Optimizer``
    (called once per variable, when the optimizer is built for it). Each
    sub-optimizer keeps its own state, ``iterations``, learning rate, clipping and
    weight decay; ``optimizers`` lists them. A MultiOptimizer has no learning rate of
    its own: reading or setting ``learning_rate`` raises (set it on the
    sub-optimizers), so callbacks that set the learning rate do not apply.

    ``iterations`` counts the steps of the MultiOptimizer; setting it (as loading a
    saved model or restoring a backup does, from that one count) moves every
    sub-optimizer's step count by as many steps.

    Example::

        optimizer = MultiOptimizer(
            OptimizerMap(SGD(0.1), {"encoder/.*": Adam(1e-3)})
        )
        model.compile(optimizer=optimizer, loss="mse")
    """

    def __init__(self, optimizer_map, name: str | None = None):
        if isinstance(optimizer_map, Optimizer) or not callable(optimizer_map):
            hint = (
                " Wrap it: MultiOptimizer(OptimizerMap(default_optimizer=...))."
                if isinstance(optimizer_map, (Optimizer, dict))
                else ""
            )
            raise TypeError(
                f"MultiOptimizer: `optimizer_map` must be an OptimizerMap or a callable "
                f"variable -> Optimizer, got {type(optimizer_map).__name__}.{hint}"
            )
        super().__init__(learning_rate=0.0, name=name or "multi_optimizer")
        self._optimizer_map = optimizer_map
        self._inner_optimizers: list[Optimizer] = []
        self._route: dict[int, Optimizer] = {}  # id(variable) -> its optimizer
        if isinstance(optimizer_map, OptimizerMap):
            for optimizer in [*optimizer_map.values(), optimizer_map.default_optimizer]:
                self._adopt(optimizer)

    # -- the sub-optimizers -----------------------------------------------

    @property
    def optimizers(self) -> list[Optimizer]:
        """The sub-optimizers, each once (those the map names, then any the map gave since)."""
        return self._inner_optimizers

    def _adopt(self, optimizer: Optimizer) -> None:
        if not any(optimizer is known for known in self._inner_optimizers):
            self._inner_optimizers.append(optimizer)

    def _select(self, variable) -> Optimizer:
        optimizer = self._optimizer_map(variable)
        _check_optimizer(
            optimizer,
            f"MultiOptimizer: the optimizer given for variable "
            f"'{getattr(variable, 'path', None)}' by `optimizer_map`",
            ValueError,
        )
        self._adopt(optimizer)
        return optimizer

    def optimizer_for(self, variable) -> Optimizer | None:
        """The sub-optimizer that updates ``variable``, or None before it is built for it."""
        return self._route.get(id(variable))

    # -- learning rate and step count -------------------------------------

    @property
    def learning_rate(self):
        raise AttributeError(
            "Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate "
            "on the individual sub-optimizers instead (MultiOptimizer.optimizers)."
        )

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        raise AttributeError(
            "Learning rate cannot be set on a MultiOptimizer. Set the learning rate on the "
            "individual sub-optimizers instead (MultiOptimizer.optimizers)."
        )

    @property
    def iterations(self) -> int:
        return self._iterations

    @iterations.setter
    def iterations(self, value) -> None:
        change = int(value) - getattr(self, "_iterations", 0)
        self._iterations = int(value)
        for optimizer in getattr(self, "_inner_optimizers", ()):
            optimizer.iterations = max(0, optimizer.iterations + change)

    # -- state ------------------------------------------------------------

    def build(self, params) -> None:
        """Route each variable seen for the first time to its optimizer and build that one."""
        new: dict[int, tuple[Optimizer, list]] = {}
        route = self._route
        for param in params:
            if id(param) in route:
                continue
            optimizer = self._select(param)
            route[id(param)] = optimizer
            self._params.append(param)
            new.setdefault(id(optimizer), (optimizer, []))[1].append(param)
        for optimizer, group in new.values():
            optimizer.build(group)

    def slots(self, param: Tensor) -> dict | None:
        """The state arrays of ``param`` in its sub-optimizer, or None."""
        optimizer = self._route.get(id(param))
        return None if optimizer is None else optimizer.slots(param)

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Every sub-optimizer's slot names, each once (a weight has its own optimizer's)."""
        names = {}
        for optimizer in self._inner_optimizers:
            names.update(dict.fromkeys(optimizer.slot_names))
        return tuple(names)

    def reset(self) -> None:
        """Forget every variable's state and route (step counts are kept)."""
        for optimizer in self._inner_optimizers:
            optimizer.reset()
        self._route, self._params = {}, []

    def variables(self) -> list[tuple[str, object]]:
        """Every sub-optimizer's ``(name, array)``, names prefixed with its index."""
        return [
            (f"{k}/{name}", array)
            for k, optimizer in enumerate(self._inner_optimizers)
            for name, array in optimizer.variables()
        ]

    def to(self, backend) -> "MultiOptimizer":
        for optimizer in self._inner_optimizers:
            optimizer.to(backend)
        return self

    # -- stepping ---------------------------------------------------------

    def step(self, params) -> None:
        """Update each of ``params`` with a gradient by its sub-optimizer."""
        params = [p for p in params if p.grad is not None]
        if not params:
            return
        self.build(params)
        distribution = self.distribution or distribute.distribution()
        if distribution is not None:  # once for all the weights, before any clipping
            grads = [p.grad.data for p in params]
            reduced = distribution.reduce_gradients(params, grads)
            for param, grad, combined in zip(params, grads, reduced):
                if combined is not grad:
                    param.grad = Tensor._wrap(combined, param.backend)
        route = self._route
        groups: dict[int, list] = {id(optimizer): [] for optimizer in self._inner_optimizers}
        for param in params:
            groups[id(route[id(param)])].append(param)
        for optimizer in self._inner_optimizers:
            group = groups[id(optimizer)]
            if not group:
                continue
            own = optimizer.distribution
            optimizer.distribution = _ALREADY_REDUCED if distribution is not None else own
            try:
                optimizer.step(group)
            finally:
                optimizer.distribution = own
        self._iterations += 1

    # -- configuration ----------------------------------------------------

    def get_config(self) -> dict:
        selector = self._optimizer_map
        if isinstance(selector, OptimizerMap):
            serialized = {"class_name": type(selector).__name__, "config": selector.get_config()}
        else:
            serialized = _serialize_selector(selector)
        return {"name": self.name, "optimizer_map": serialized}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "MultiOptimizer":
        if not isinstance(config, dict) or "optimizer_map" not in config:
            raise ValueError(
                f"MultiOptimizer.from_config: expected a dict with 'optimizer_map', got "
                f"{config!r:.200}."
            )
        config = dict(config)
        with custom_object_scope(custom_objects):
            config["optimizer_map"] = _deserialize_selector(config["optimizer_map"])
        return cls(**config)


def _check_optimizer(optimizer, what: str, error: type) -> None:
    if not isinstance(optimizer, Optimizer):
        raise error(f"{what} must be an Optimizer instance, got {optimizer!r:.100}.")
    if isinstance(optimizer, MultiOptimizer):
        raise error(f"{what} cannot be a MultiOptimizer (they do not nest).")


def _serialize_selector(selector) -> dict:
    """A callable ``optimizer_map`` as Keras writes it: a registered function or object."""
    from ..utils import serialization

    if inspect.isfunction(selector):  # by its registered name (or that of custom_objects)
        name = serialization.get_registered_name(selector)
        if serialization.get_registered_object(name) is selector:
            return {
                "module": "builtins",
                "class_name": "function",
                "config": name,
                "registered_name": "function",
            }
        registered = None
    elif isinstance(selector, type):
        registered = None
    else:  # an object of a registered class with a get_config
        cls = type(selector)
        found = serialization.get_registered_object(serialization.get_registered_name(cls))
        registered = selector if found is cls and hasattr(selector, "get_config") else None
    if registered is not selector:
        raise ValueError(
            f"MultiOptimizer.get_config: the `optimizer_map` callable {selector!r:.100} cannot "
            f"be saved; register it with @engine.saving.register_keras_serializable(), or use "
            f"an OptimizerMap."
        )
    return serialization.serialize_keras_object(selector)


def _deserialize_selector(config):
    from ..utils import serialization

    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"MultiOptimizer.from_config: 'optimizer_map' must be a serialized OptimizerMap or "
            f"callable ({{'class_name': ..., 'config': ...}}), got {config!r:.200}."
        )
    name = config["class_name"]
    cls = OptimizerMap if name == "OptimizerMap" else None
    if cls is None and name != "function":
        found = serialization.get_registered_object(config.get("registered_name") or name)
        cls = found if isinstance(found, type) and issubclass(found, OptimizerMap) else None
    if cls is not None:
        return cls.from_config(config.get("config", {}))
    return serialization.deserialize_keras_object(config)
