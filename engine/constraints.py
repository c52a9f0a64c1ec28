"""Weight constraints: projections applied to a weight after each optimizer update.

As in Keras 3, a layer takes ``kernel_constraint=``/``bias_constraint=``
(``embeddings_constraint=`` for Embedding); the weight created with it carries
the constraint, and the optimizer assigns ``constraint(weight)`` to it after
every update. A constraint is a callable from a weight tensor to a tensor of
the same shape; the built-in ones follow Keras's formulas, epsilon 1e-7 included.
"""

import inspect

from .registry import Registry
from .tensor import Tensor

#: Keras's ``backend.epsilon()``, added to the norms before dividing by them
EPSILON = 1e-7


class Constraint:
    """Base class of weight constraints: ``__call__(w)`` returns the projected weight."""

    def __call__(self, w: Tensor) -> Tensor:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Constraint":
        return cls(**config)


def _norms(xp, w, axis):
    """The L2 norms of ``w`` over ``axis`` (an int or a list of ints), axes kept."""
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return xp.sqrt(xp.sum(xp.square(w), axis=axis, keepdims=True))


def _as_tensor(w) -> Tensor:
    return w if isinstance(w, Tensor) else Tensor(w)


def _rescale(w, axis, desired) -> Tensor:
    """``w`` scaled so that its norms over ``axis`` become ``desired(xp, norms)``."""
    w = _as_tensor(w)
    xp = w.backend.xp
    norms = _norms(xp, w.data, axis)
    return Tensor._wrap(w.data * (desired(xp, norms) / (EPSILON + norms)), w.backend)


class MaxNorm(Constraint):
    """Scales the weights incident to each unit down to a norm of at most ``max_value``.

    ``axis`` is the axis (or list of axes) the norms run over: 0 for a Dense
    kernel ``(in, out)``, ``[0, 1, 2]`` for a Conv2D kernel ``(kh, kw, in, out)``.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        return _rescale(w, self.axis, lambda xp, norms: xp.clip(norms, 0, self.max_value))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the norm of the weights incident to each unit into ``[min_value, max_value]``.

    The new norm is ``rate * clip(norm, min_value, max_value) + (1 - rate) * norm``:
    ``rate=1`` enforces the bounds at once, a smaller rate moves towards them.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        def desired(xp, norms):
            clipped = xp.clip(norms, self.min_value, self.max_value)
            return self.rate * clipped + (1 - self.rate) * norms

        return _rescale(w, self.axis, desired)

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        w = _as_tensor(w)
        return Tensor._wrap(w.backend.xp.maximum(w.data, 0), w.backend)


class UnitNorm(Constraint):
    """Scales the weights incident to each unit to unit norm (``axis`` as in MaxNorm)."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _as_tensor(w)
        norms = _norms(w.backend.xp, w.data, self.axis)
        return Tensor._wrap(w.data / (EPSILON + norms), w.backend)

    def get_config(self):
        return {"axis": self.axis}


# Keras's lowercase names for the same classes: constraints.max_norm(3)
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_registry = Registry(
    "constraint",
    {
        "max_norm": MaxNorm,
        "min_max_norm": MinMaxNorm,
        "non_neg": NonNeg,
        "unit_norm": UnitNorm,
        "constraint": Constraint,
    },
)


class ConstrainedWeight(Tensor):
    """A layer weight carrying the constraint the optimizer applies after each update.

    ``Layer.add_weight(constraint=...)`` makes one; weights without a constraint
    stay plain tensors, so the optimizer's check costs nothing for them.
    """

    __slots__ = ("constraint",)


def get(identifier):
    """A constraint from a name, a config dict, a class, an instance, a callable or None."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Constraint):
        return identifier()
    if isinstance(identifier, (str, dict)):
        return _registry.create(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret constraint identifier: {identifier!r}. Expected a name "
        f"({', '.join(_registry.names())}), a config dict, a Constraint or a callable."
    )


def serialize(constraint):
    """``{"class_name", "config"}`` for saving; None stays None."""
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise ValueError(
            f"Cannot save the constraint {constraint!r}: only Constraint instances can be "
            f"saved. Subclass engine.constraints.Constraint (with get_config) instead."
        )
    # a custom subclass is saved by its class name and loads with custom_objects=
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


def deserialize(config: dict) -> Constraint:
    return _registry.create(config)
