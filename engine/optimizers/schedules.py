"""Learning-rate schedules: ``schedule(step) -> learning rate``, as in Keras 3."""

import math

from ..registry import Registry, custom_object_scope


class LearningRateSchedule:
    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "LearningRateSchedule":
        return cls(**config)


class _TimeDecay(LearningRateSchedule):
    """ExponentialDecay and InverseTimeDecay: a decay by ``decay_rate`` over the progress
    ``step / decay_steps`` (floored with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        if decay_steps <= 0:
            raise ValueError(
                f"{type(self).__name__}: `decay_steps` must be > 0, got {decay_steps}."
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps, self.decay_rate = decay_steps, float(decay_rate)
        self.staircase = staircase
        self.name = name

    def progress(self, step) -> float:
        progress = step / self.decay_steps
        return math.floor(progress) if self.staircase else progress

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_TimeDecay):
    """``initial * decay_rate ** (step / decay_steps)`` (floored with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self.progress(step)


class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up, then cosine decay to ``alpha * peak`` over ``decay_steps``."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name=None,
        warmup_target=None,
        warmup_steps=0,
    ):
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: `decay_steps` must be > 0, got {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps, self.alpha = decay_steps, float(alpha)
        self.name = name
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def __call__(self, step):
        if self.warmup_target is not None and step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return self.initial_learning_rate + fraction * (
                self.warmup_target - self.initial_learning_rate
            )
        peak = self.initial_learning_rate if self.warmup_target is None else self.warmup_target
        step = min(
            step - (self.warmup_steps if self.warmup_target is not None else 0), self.decay_steps
        )
        cosine = 0.5 * (1 + math.cos(math.pi * step / self.decay_steps))
        return peak * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods of ``first_decay_steps * t_mul**i``
    steps, each starting at ``initial * m_mul**i`` and decaying to ``alpha`` times that."""

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        if first_decay_steps <= 0:
            raise ValueError(
                f"CosineDecayRestarts: `first_decay_steps` must be > 0, got {first_decay_steps}."
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.first_decay_steps = first_decay_steps
        self.t_mul, self.m_mul, self.alpha = float(t_mul), float(m_mul), float(alpha)
        self.name = name

    def __call__(self, step):
        fraction = step / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(
                math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul)
            )
            elapsed = (1.0 - self.t_mul**restart) / (1.0 - self.t_mul)
            fraction = (fraction - elapsed) / self.t_mul**restart
        cosine = 0.5 * self.m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[1]`` up to
    ``boundaries[1]``, ..., ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"PiecewiseConstantDecay: `boundaries` must have one element fewer than "
                f"`values`; got {len(boundaries)} boundaries and {len(values)} values."
            )
        self.boundaries, self.values = list(boundaries), list(values)
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps)**power + end``, held at ``end`` after
    ``decay_steps``, or with ``cycle`` over ever longer multiples of ``decay_steps``."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        if decay_steps <= 0:
            raise ValueError(f"PolynomialDecay: `decay_steps` must be > 0, got {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.end_learning_rate, self.power = float(end_learning_rate), float(power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        remaining = (1 - step / decay_steps) ** self.power
        return (self.initial_learning_rate - self.end_learning_rate) * remaining + (
            self.end_learning_rate
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_TimeDecay):
    """``initial / (1 + decay_rate * step / decay_steps)`` (floored with ``staircase``)."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, bool(staircase), name)

    def __call__(self, step):
        return self.initial_learning_rate / (1 + self.decay_rate * self.progress(step))


_registry = Registry(
    "learning rate schedule",
    {
        "exponential_decay": ExponentialDecay,
        "cosine_decay": CosineDecay,
        "cosine_decay_restarts": CosineDecayRestarts,
        "piecewise_constant_decay": PiecewiseConstantDecay,
        "polynomial_decay": PolynomialDecay,
        "inverse_time_decay": InverseTimeDecay,
    },
)


def get(identifier):
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    return _registry.create(identifier)


def serialize(schedule) -> dict:
    """``{"class_name": ..., "config": {...}}``, as Keras's ``schedules.serialize``."""
    return _registry.serialize(schedule)


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """A schedule from ``serialize``'s dict (Keras's ``schedules.deserialize``)."""
    if not isinstance(config, dict):
        raise TypeError(
            f"schedules.deserialize expects a dict {{'class_name': ..., 'config': ...}}, "
            f"got {type(config).__name__}."
        )
    with custom_object_scope(custom_objects):
        return _registry.create(config)
