"""Weight regularizers: penalties added to the training loss."""

from . import functional as F
from .registry import Registry
from .tensor import Tensor


class Regularizer:
    def __call__(self, weight: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
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


# Keras's lowercase names for the same classes: regularizers.l2(1e-4)
l1 = L1
l2 = L2
l1_l2 = L1L2

_registry = Registry("regularizer", {"l1": L1, "l2": L2, "l1_l2": L1L2})


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    return _registry.create(identifier)


def serialize(regularizer):
    return None if regularizer is None else _registry.serialize(regularizer)
