"""Adadelta, Ftrl and Adafactor: per-weight accumulators of squared gradients, with
Keras 3's formulas and defaults. Each step is one in-place backend kernel per weight."""

import math

from .base import Optimizer


class Adadelta(Optimizer):
    """Running averages (``rho``) of squared gradients and of squared updates;
    ``w -= lr * sqrt(acc_delta + eps) / sqrt(acc_grad + eps) * g``."""

    elementwise_update = True

    slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def update(self, backend, param, grad, slots, lr):
        backend.adadelta_update(
            param,
            grad,
            slots["accumulated_grad"],
            slots["accumulated_delta_var"],
            lr,
            self.rho,
            self.epsilon,
        )

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Ftrl(Optimizer):
    """Follow-the-regularized-leader with L1, L2 and L2-shrinkage regularization
    (McMahan et al., 2013), as Keras 3 writes it."""

    slot_names = ("accumulator", "linear")

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        checks = (
            ("initial_accumulator_value", initial_accumulator_value, "positive or zero"),
            ("learning_rate_power", -learning_rate_power, "negative or zero"),
            ("l1_regularization_strength", l1_regularization_strength, "positive or zero"),
            ("l2_regularization_strength", l2_regularization_strength, "positive or zero"),
            (
                "l2_shrinkage_regularization_strength",
                l2_shrinkage_regularization_strength,
                "positive or zero",
            ),
        )
        for argument, value, expected in checks:
            if value < 0:
                shown = -value if argument == "learning_rate_power" else value
                raise ValueError(f"Ftrl: `{argument}` must be {expected}, got {shown}.")
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)

    def init_slot(self, name, param):
        if name == "accumulator":
            return param.backend.xp.full_like(param.data, self.initial_accumulator_value)
        return super().init_slot(name, param)

    def update(self, backend, param, grad, slots, lr):
        backend.ftrl_update(
            param,
            grad,
            slots["accumulator"],
            slots["linear"],
            lr,
            self.learning_rate_power,
            self.l1_regularization_strength,
            self.l2_regularization_strength + self.beta / (2.0 * lr),
            self.l2_shrinkage_regularization_strength,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as Keras 3: a weight of rank >= 2 keeps row and
    column averages of its squared gradients (over the last two axes) instead of a full
    second moment; the step is relative to the weight's RMS and clipped by ``clip_threshold``.

    ``relative_step`` is accepted as in Keras; its cap ``min(lr, 1 / sqrt(t))`` is applied
    to the step size either way, as Keras 3 does.
    """

    slot_names = ("r", "c", "v")

    def __init__(
        self,
        learning_rate=0.001,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_2_decay = float(beta_2_decay)
        self.epsilon_1, self.epsilon_2 = float(epsilon_1), float(epsilon_2)
        self.clip_threshold = float(clip_threshold)
        self.relative_step = bool(relative_step)

    def init_slot(self, name, param):
        """``r`` (shape without the last axis) and ``c`` (without the second last) for a
        weight of rank >= 2, scalars otherwise (unused, as Keras's placeholders)."""
        xp, shape = param.backend.xp, tuple(param.shape)
        if name == "v":
            return xp.zeros_like(param.data)
        if len(shape) < 2:
            return xp.zeros((), dtype=param.data.dtype)
        factored = shape[:-1] if name == "r" else shape[:-2] + shape[-1:]
        return xp.zeros(factored, dtype=param.data.dtype)

    def update(self, backend, param, grad, slots, lr):
        step = self.iterations + 1
        backend.adafactor_update(
            param,
            grad,
            slots["r"],
            slots["c"],
            slots["v"],
            min(lr, 1 / math.sqrt(step)),
            1 - step**self.beta_2_decay,
            self.epsilon_1,
            self.epsilon_2,
            self.clip_threshold,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }
