"""Weight regularizers: penalties added to the training loss."""

import inspect
import math

from . import config
from . import functional as F
from .conversion import as_tensor
from .registry import Registry, custom_object_scope
from .tensor import Tensor


class Regularizer:
    """Base class: ``regularizer(weight) -> scalar penalty``; subclasses define ``__call__``
    and ``get_config`` (the constructor's arguments, for saving)."""

    def __call__(self, weight: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Regularizer":
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
        weight = as_tensor(weight)
        penalty = None
        if self.l1:
            penalty = F.sum(F.abs(weight)) * self.l1
        if self.l2:
            l2 = F.sum(weight * weight) * self.l2
            penalty = l2 if penalty is None else penalty + l2
        return penalty if penalty is not None else F.sum(weight) * 0.0

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns (``"columns"``) of a 2-D weight towards
    being orthogonal: ``factor`` times the mean absolute cosine over the pairs of different
    rows (columns), as Keras 3 computes it. On a Dense kernel ``(input_dim, units)``, rows
    mode decorrelates the input features' weight vectors."""

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        if (
            isinstance(factor, bool)
            or not isinstance(factor, (int, float))
            or not math.isfinite(factor)
            or factor < 0
        ):
            raise ValueError(
                f"OrthogonalRegularizer: `factor` must be a non-negative number; got {factor!r}."
            )
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"OrthogonalRegularizer: `mode` must be 'rows' or 'columns'; got {mode!r}."
            )
        self.factor, self.mode = float(factor), mode

    def __call__(self, weight):
        weight = as_tensor(weight)
        if weight.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer: the weight must have rank 2; got shape "
                f"{tuple(weight.shape)}."
            )
        axis = 1 if self.mode == "rows" else 0
        squares = F.sum(weight * weight, axis=axis, keepdims=True)
        # Keras's normalize: x * min(rsqrt(sum(x**2)), 1 / epsilon)
        unit = weight / F.sqrt(F.clip(squares, min_value=config.epsilon() ** 2))
        if self.mode == "rows":
            product = F.matmul(unit, F.transpose(unit))
        else:
            product = F.matmul(F.transpose(unit), unit)
        size = product.shape[0]
        if size < 2:  # no pairs: Keras divides 0 by 0 (NaN); nothing to decorrelate
            return F.sum(weight) * 0.0
        off_diagonal = 1 - weight.backend.xp.eye(size, dtype=weight.dtype)
        pairs = size * (size - 1) / 2
        return F.sum(F.abs(product * off_diagonal)) * (self.factor * 0.5 / pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's lowercase names for the same classes: regularizers.l2(1e-4)
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

_registry = Registry(
    "regularizer",
    {
        "l1": L1,
        "l2": L2,
        "l1_l2": L1L2,
        "orthogonal_regularizer": OrthogonalRegularizer,
        "regularizer": Regularizer,
    },
)


def get(identifier):
    """A regularizer from None, a name (``"l2"``), a config dict, a class, an instance or a
    function ``fn(weight) -> penalty``, as Keras's ``regularizers.get``."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Regularizer):
        return identifier()
    if isinstance(identifier, (str, dict)):
        return _registry.create(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret regularizer identifier: {identifier!r}. Expected a name "
        f"({', '.join(_registry.names())}), a config dict, a Regularizer or a function."
    )


def serialize(regularizer):
    return None if regularizer is None else _registry.serialize(regularizer)


def deserialize(config, custom_objects: dict | None = None) -> Regularizer:
    """A regularizer from ``serialize``'s dict or a name; ``custom_objects`` maps names to
    classes that are not registered."""
    with custom_object_scope(custom_objects):
        if isinstance(config, dict):
            cls = _registry.lookup(config.get("class_name", ""))
            return cls.from_config(dict(config.get("config") or {}))
        return _registry.create(config)
