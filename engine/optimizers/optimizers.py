"""SGD, Adam, AdamW, RMSprop and Adagrad with Keras 3's formulas and defaults."""

import math

from .base import Optimizer


class SGD(Optimizer):
    """``w -= lr * g``; with momentum ``v = momentum * v - lr * g; w += v`` (or Nesterov)."""

    elementwise_update = True

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: `momentum` must be in [0, 1], got {momentum}.")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def update(self, backend, param, grad, slots, lr):
        if self.momentum:
            backend.sgd_momentum_update(
                param, grad, slots["momentum"], lr, self.momentum, self.nesterov
            )
        else:
            backend.sgd_update(param, grad, lr)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam; bias correction folded into the step size, epsilon outside the square root."""

    elementwise_update = True

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("m", "v", "v_hat") if self.amsgrad else ("m", "v")

    def update(self, backend, param, grad, slots, lr):
        step = self.iterations + 1
        lr_t = lr * math.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step)
        backend.adam_update(
            param,
            grad,
            slots["m"],
            slots["v"],
            lr_t,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            slots.get("v_hat"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= w * weight_decay * lr`` before each step."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop with epsilon inside the square root; optional momentum and centering."""

    elementwise_update = True

    def __init__(
        self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        names = ["velocity"]
        if self.momentum:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        self.slot_names = tuple(names)

    def update(self, backend, param, grad, slots, lr):
        backend.rmsprop_update(
            param,
            grad,
            slots["velocity"],
            lr,
            self.rho,
            self.epsilon,
            momentum_buffer=slots.get("momentum"),
            momentum=self.momentum,
            average_grad=slots.get("average_gradient"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """``acc += g**2; w -= lr * g / sqrt(acc + epsilon)``."""

    elementwise_update = True

    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def init_slot(self, name, param):
        return param.backend.xp.full_like(param.data, self.initial_accumulator_value)

    def update(self, backend, param, grad, slots, lr):
        backend.adagrad_update(param, grad, slots["accumulator"], lr, self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
