"""The Optimizer base class: learning rates, clipping, weight decay, state slots.

Subclasses name their per-parameter state (``slot_names``) and implement
``update(param, grad, slots, lr)`` with one fused in-place backend kernel.
Those whose update treats every element on its own say so (``elementwise_update``):
their small weights are then updated together, in one call over flat buffers
(``flat.py``). State lives on each parameter's backend and moves with ``to()``.
"""

import functools
import math
import warnings

import numpy

from .. import config, distribute
from ..tensor import Tensor, no_grad
from . import schedules
from .flat import MAX_FLAT_BUILDS, FlatWeights, flat_candidate


class Optimizer:
    slot_names: tuple[str, ...] = ()
    #: whether ``update`` treats every element on its own, so that the small weights can be
    #: updated together through flat buffers (``flat.py``); a subclass that overrides
    #: ``update`` says so again for its own
    elementwise_update = False

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs,
    ):
        if "lr" in kwargs:
            warnings.warn(
                f"{type(self).__name__}: `lr` is deprecated, use `learning_rate=` instead.",
                DeprecationWarning,
                stacklevel=3,
            )
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) "
                f"{', '.join(sorted(kwargs))}."
            )
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(
                f"{type(self).__name__}: give at most one of `clipnorm` and `global_clipnorm`."
            )
        for arg, value in (
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{type(self).__name__}: `{arg}` must be > 0, got {value}.")
        self._learning_rate = _check_learning_rate(type(self).__name__, learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._params: list[Tensor] = []
        self._slots: list[dict] = []
        self._index: dict[int, int] = {}
        #: the constraint of each constrained parameter, by id; empty leaves ``apply``'s
        #: path untouched
        self._constraints: dict[int, object] = {}
        self._flat: FlatWeights | None = None
        self._flat_builds = 0  # builds in a row; past MAX_FLAT_BUILDS no more are tried
        #: the data-parallel strategy (``engine.distribute``) that combines the ranks'
        #: gradients before clipping; set by ``fit``, else the global one is used
        self.distribution = None

    # -- learning rate ----------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The learning rate for the current step (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        return float(lr)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(self._learning_rate, schedules.LearningRateSchedule) and not isinstance(
            value, schedules.LearningRateSchedule
        ):
            raise TypeError(
                f"{type(self).__name__}: this optimizer was created with a LearningRateSchedule "
                f"({type(self._learning_rate).__name__}) as its `learning_rate`, so its learning "
                f"rate cannot be set to {value!r}. Create the optimizer with a float "
                f"`learning_rate` to set it (e.g. from LearningRateScheduler or "
                f"ReduceLROnPlateau)."
            )
        self._learning_rate = _check_learning_rate(type(self).__name__, value)

    # -- state ------------------------------------------------------------

    def build(self, params: list[Tensor]) -> None:
        """Create state slots for any parameters seen for the first time."""
        for param in params:
            if id(param) in self._index:
                continue
            self._index[id(param)] = len(self._params)
            self._params.append(param)
            constraint = getattr(param, "constraint", None)
            if constraint is not None:
                self._constraints[id(param)] = constraint
            self._slots.append({name: self.init_slot(name, param) for name in self.slot_names})

    def slots(self, param: Tensor) -> dict | None:
        """The state arrays of ``param`` (``{"m": ..., "v": ...}`` for Adam), or None."""
        index = self._index.get(id(param))
        return None if index is None else self._slots[index]

    def reset(self) -> None:
        """Forget every parameter's state (``iterations`` is kept)."""
        self._params, self._slots, self._index = [], [], {}
        self._flat, self._flat_builds = None, 0

    def init_slot(self, name: str, param: Tensor):
        return param.backend.xp.zeros_like(param.data)

    def variables(self) -> list[tuple[str, object]]:
        """``(name, array)`` for every state array, in a stable order (for saving)."""
        result = []
        for i, slots in enumerate(self._slots):
            for name in self.slot_names:
                result.append((f"{i}/{name}", slots[name]))
        return result

    def to(self, backend) -> "Optimizer":
        """Move all state to another backend."""
        target = config.resolve_backend(backend)
        for param, slots in zip(self._params, self._slots):
            for name, array in slots.items():
                if array is not None and not target.is_native(array):
                    slots[name] = target.asarray(param.backend.to_numpy(array))
        return self

    # -- stepping ---------------------------------------------------------

    def apply(self, grads, trainable_variables=None) -> None:
        """Keras's ``optimizer.apply(grads, variables)``: one update of ``variables`` (the
        weights the optimizer was built with when omitted) from ``grads`` (None skips)."""
        if trainable_variables is None:
            trainable_variables = self._params
        grads, variables = list(grads), list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"{type(self).__name__}.apply: got {len(grads)} gradients for "
                f"{len(variables)} variables; give one gradient (or None) per variable."
            )
        params = []
        for grad, var in zip(grads, variables):
            if grad is None:
                continue
            if not isinstance(grad, Tensor):
                grad = Tensor(grad, backend=var.backend)
            if tuple(grad.shape) != tuple(var.shape):
                raise ValueError(
                    f"{type(self).__name__}.apply: the gradient for '{var.name}' has shape "
                    f"{tuple(grad.shape)}, but the variable has shape {tuple(var.shape)}."
                )
            var.grad = grad
            params.append(var)
        self.step(params)

    def step(self, params: list[Tensor]) -> None:
        """Update ``params`` in place from their ``.grad`` and clear the gradients."""
        if self._flat is not None and self._flat_step(params):
            return
        params = [p for p in params if p.grad is not None]
        if not params:
            return
        index, slots = self._index, self._slots
        try:
            param_slots = [slots[index[id(p)]] for p in params]
        except KeyError:  # a parameter seen for the first time
            self.build(params)
            param_slots = [slots[index[id(p)]] for p in params]
        grads = [p.grad.data for p in params]
        distribution = self.distribution or distribute.distribution()
        if distribution is not None:  # reduce -> clip -> update
            grads = distribution.reduce_gradients(params, grads)
        if not (self.clipvalue is None and self.clipnorm is None and self.global_clipnorm is None):
            grads = self._clip(grads, params[0].backend)
        lr = self.learning_rate
        decay = self.weight_decay
        update = self.update
        weights = zip(params, grads, param_slots)
        if (
            len(params) > 1
            and self._flat_builds <= MAX_FLAT_BUILDS
            and _updates_elementwise(type(self))
        ):
            weights = self._update_flat(list(weights), lr)
        for param, grad, state in weights:
            if decay:
                param.data *= 1 - decay * lr
            data = param.data
            if data.ndim == 0:  # NumPy's ufuncs make scalars of 0-d arrays: update views
                data, grad, state = _one_element_views(data, grad, state)
            update(param.backend, data, grad, state, lr)
            param.grad = None
        if self._constraints:
            self._apply_constraints(params)
        self.iterations += 1

    def _flat_step(self, params: list[Tensor]) -> bool:
        """``step`` at once when the flat buffers hold exactly ``params``, each with a
        gradient, and no strategy reduces or clipping rescales the gradients: a small
        model's every step (the same update as ``step``'s general path, with less Python
        around it). False, having changed nothing but the flat gradient buffer, otherwise."""
        clipping = self.clipvalue, self.clipnorm, self.global_clipnorm
        if clipping != (None, None, None) or (self.distribution or distribute.distribution()):
            return False
        flat = self._flat
        if not flat.gather_all(params, self._slots, self._index):
            return False
        self._flat_builds = 0  # the buffers held: a rebinding later starts the count anew
        self._step_buffers(flat, self.learning_rate)
        if self._constraints:
            self._apply_constraints(params)
        self.iterations += 1
        return True

    def _update_flat(self, weights: list[tuple], lr: float) -> list[tuple]:
        """Update the small ones of ``weights`` (``(param, grad, slots)``) together through
        ``self._flat``'s buffers, built (again) when they do not hold exactly these weights;
        returns the others."""
        flat = self._flat
        others = flat.gather(weights) if flat is not None else None
        if others is not None:
            self._flat_builds = 0
        else:
            # a layer that rebinds its weight at every call (spectral normalization), or
            # steps over changing subsets, would rebuild at every step: then stop
            self._flat_builds += 1
            group, others = [], []
            for weight in weights:
                param, first = weight[0], group[0][0] if group else None
                if flat_candidate(param, weight[2]) and (
                    first is None or (param.backend is first.backend and param.dtype == first.dtype)
                ):
                    group.append(weight)
                else:
                    others.append(weight)
            self._flat = flat = None
            if len(group) < 2:
                return weights
            self._flat = flat = FlatWeights([w[0] for w in group], [w[2] for w in group])
            flat.gather(group)
        self._step_buffers(flat, lr)
        return others

    def _step_buffers(self, flat: FlatWeights, lr: float) -> None:
        """One update of the flat buffers' weights from their gathered gradients, which
        are then cleared."""
        if self.weight_decay:
            flat.param *= 1 - self.weight_decay * lr
        self.update(flat.backend, flat.param, flat.grad, flat.slots, lr)
        for param in flat.params:
            param.grad = None

    def _apply_constraints(self, params: list[Tensor]) -> None:
        """Assign ``constraint(param)`` to each constrained parameter (Keras: after the update)."""
        with no_grad():
            for param in params:
                constraint = self._constraints.get(id(param))
                if constraint is None:
                    continue
                projected = constraint(param)
                data = projected.data if isinstance(projected, Tensor) else projected
                if tuple(data.shape) != tuple(param.shape):
                    raise ValueError(
                        f"The constraint {constraint!r} of weight '{param.name}' returned shape "
                        f"{tuple(data.shape)}; it must keep the weight's shape "
                        f"{tuple(param.shape)}."
                    )
                param.data[...] = param.backend.asarray(data)

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras's API: apply explicit ``(gradient, variable)`` pairs."""
        pairs = list(grads_and_vars)
        self.apply([grad for grad, _ in pairs], [var for _, var in pairs])

    def _clip(self, grads: list, backend) -> list:
        if self.clipvalue is not None:
            grads = [backend.xp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            grads = [_clip_by_norm(g, self.clipnorm, _squared_norm(g), backend) for g in grads]
        if self.global_clipnorm is not None:
            total = sum(_squared_norm(g) for g in grads)
            grads = [_clip_by_norm(g, self.global_clipnorm, total, backend) for g in grads]
        return grads

    def update(self, backend, param, grad, slots: dict, lr: float) -> None:
        """Update the raw array ``param`` in place with one fused backend kernel."""
        raise NotImplementedError

    # -- configuration ----------------------------------------------------

    def get_config(self) -> dict:
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": (
                schedules.serialize(lr)
                if isinstance(lr, schedules.LearningRateSchedule)
                else float(lr)
            ),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config_dict: dict) -> "Optimizer":
        config_dict = dict(config_dict)
        lr = config_dict.get("learning_rate")
        if isinstance(lr, dict):
            config_dict["learning_rate"] = schedules.get(lr)
        return cls(**config_dict)


def _check_learning_rate(owner: str, value):
    if isinstance(value, schedules.LearningRateSchedule):
        return value
    if isinstance(value, (int, float, numpy.floating)) and not isinstance(value, bool):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{owner}: `learning_rate` must be a finite number >= 0, got {value}.")
        return float(value)
    raise TypeError(
        f"{owner}: `learning_rate` must be a float or a LearningRateSchedule, got {value!r}."
    )


def _squared_norm(grad):
    """``sum(grad ** 2)`` as a 0-d array where ``grad`` lives (no host round trip)."""
    return (grad * grad).sum()


def _clip_by_norm(grad, clip: float, squared_norm, backend):
    """``grad * clip / max(norm, clip)``: rescaled to norm ``clip`` when longer, else as it
    is (the factor is then exactly 1), computed where ``grad`` lives."""
    xp = backend.xp
    norm = xp.sqrt(squared_norm)
    return grad * (clip / xp.maximum(norm, norm.dtype.type(clip)))


def _one_element_views(data, grad, state: dict):
    """A 0-d weight, its gradient and its slots as 1-element views (updated in place)."""
    views = {name: None if array is None else array.reshape(1) for name, array in state.items()}
    return data.reshape(1), grad.reshape(1), views


@functools.cache
def _updates_elementwise(optimizer_class: type) -> bool:
    """``elementwise_update`` as the class that defines ``update`` sets it: a subclass
    with an update of its own is not taken to be elementwise unless it says so."""
    for klass in optimizer_class.__mro__:
        if "update" in vars(klass):
            return bool(vars(klass).get("elementwise_update", False))
    return False
