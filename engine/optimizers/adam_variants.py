"""Adamax, Nadam, Lamb, Lion and ScheduleFreeAdamW: Adam's relatives, with Keras 3's
formulas and defaults.

Each step is one fused in-place backend kernel per weight; the step-dependent
scalars (bias corrections, Nadam's momentum schedule) are computed here.
"""

from .base import Optimizer


class _Moments(Optimizer):
    """Shared arguments of the optimizers keeping a first and a second moment."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, kernel, param, grad, slots, lr, *scalars) -> None:
        """``kernel(param, grad, m, v, lr, beta_1, beta_2, epsilon, *scalars)``."""
        m, v = (slots[name] for name in self.slot_names)
        kernel(param, grad, m, v, lr, self.beta_1, self.beta_2, self.epsilon, *scalars)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Adamax(_Moments):
    """Adam with the infinity norm: ``u = max(beta_2 * u, |g|)``,
    ``w -= lr * m / ((1 - beta_1**t) * (u + epsilon))``."""

    elementwise_update = True

    slot_names = ("momentum", "norm")

    def update(self, backend, param, grad, slots, lr):
        beta_1_power = self.beta_1 ** (self.iterations + 1)
        self._update(backend.adamax_update, param, grad, slots, lr, beta_1_power)


class Nadam(_Moments):
    """Adam with Nesterov momentum and Keras's momentum schedule
    ``u_t = beta_1 * (1 - 0.5 * 0.96**t)``."""

    elementwise_update = True

    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self._u_product = (0, 1.0)  # (step, product of u_1 ... u_step)

    def _momentum_schedule(self, step: int) -> float:
        return self.beta_1 * (1 - 0.5 * 0.96**step)

    def _u_product_at(self, step: int) -> float:
        """``u_1 * ... * u_step``, kept from the previous step (recomputed after a restore)."""
        cached_step, product = self._u_product
        if cached_step > step:
            cached_step, product = 0, 1.0
        for k in range(cached_step + 1, step + 1):
            product *= self._momentum_schedule(k)
        self._u_product = (step, product)
        return product

    def update(self, backend, param, grad, slots, lr):
        step = self.iterations + 1
        u_t, u_next = self._momentum_schedule(step), self._momentum_schedule(step + 1)
        u_product = self._u_product_at(step)
        self._update(
            backend.nadam_update,
            param,
            grad,
            slots,
            lr,
            u_next / (1 - u_product * u_next),
            (1 - u_t) / (1 - u_product),
            self.beta_2**step,
        )


class Lamb(_Moments):
    """Layer-wise adaptive moments: Adam's bias-corrected step times the trust ratio
    ``||w|| / ||step||`` of each weight."""

    slot_names = ("momentum", "velocity")

    def update(self, backend, param, grad, slots, lr):
        step = self.iterations + 1
        powers = (self.beta_1**step, self.beta_2**step)
        self._update(backend.lamb_update, param, grad, slots, lr, *powers)


class Lion(Optimizer):
    """Evolved sign momentum: ``w -= lr * sign(beta_1 * m + (1 - beta_1) * g)``,
    then ``m = beta_2 * m + (1 - beta_2) * g``."""

    elementwise_update = True

    slot_names = ("momentum",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(
                f"Lion: `beta_1` must be in (0, 1] (otherwise the optimizer degenerates to "
                f"SignSGD), got {beta_1}."
            )
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def update(self, backend, param, grad, slots, lr):
        backend.lion_update(param, grad, slots["momentum"], lr, self.beta_1, self.beta_2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class ScheduleFreeAdamW(_Moments):
    """Schedule-free AdamW (Defazio et al., 2024): no learning-rate schedule needed; the
    weights interpolate between the Adam-stepped sequence (the ``momentum`` slot, starting
    at the weights) and its running average. ``warmup_steps`` ramps the learning rate up
    linearly.

    Keras 3's formula recovers the average from the weights and the momentum before its
    update, as here. Keras 3.15 on PyTorch reads that momentum after the update (its
    variable's value is updated in place), so from the second step its numbers differ.
    """

    slot_names = ("momentum", "velocity")

    def __init__(
        self,
        learning_rate=0.0025,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warmup_steps: int = 0,
        **kwargs,
    ):
        kwargs["name"] = kwargs.get("name") or "schedule_free_adam_w"  # Keras's name
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.warmup_steps = int(warmup_steps)

    def init_slot(self, name, param):
        if name == "momentum":
            return param.data.copy()
        return super().init_slot(name, param)

    def update(self, backend, param, grad, slots, lr):
        step = self.iterations + 1
        if self.warmup_steps > 0:
            lr *= min(step / self.warmup_steps, 1.0)
        self._update(
            backend.schedule_free_adamw_update, param, grad, slots, lr, self.beta_2**step, 1 / step
        )

    def get_config(self):
        return {**super().get_config(), "warmup_steps": self.warmup_steps}
