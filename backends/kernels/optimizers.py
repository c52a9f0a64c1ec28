"""In-place optimizer updates, following Keras 3's formulas.

Each kernel updates ``param`` and its state arrays in place. The references
use ``out=`` and at most one scratch array per call rather than chains of
temporaries.
"""

import numpy


class OptimizerKernels:
    xp = numpy

    def sgd_update(self, param, grad, lr):
        param -= lr * grad

    def sgd_momentum_update(self, param, grad, velocity, lr, momentum, nesterov=False):
        """``v = momentum * v - lr * g``; then ``w += v`` (or Nesterov's look-ahead)."""
        xp = self.xp
        velocity *= momentum
        scratch = xp.multiply(grad, lr)
        velocity -= scratch
        if nesterov:
            scratch *= -1
            param += scratch
            xp.multiply(velocity, momentum, out=scratch)
            param += scratch
        else:
            param += velocity

    def _update_moments(self, grad, m, v, beta_1, beta_2):
        """Adam's moving averages, in place: ``m += (g - m) * (1 - beta_1)``,
        ``v += (g**2 - v) * (1 - beta_2)``. Returns a scratch array of ``grad``'s shape."""
        scratch = self.xp.subtract(grad, m)
        scratch *= 1 - beta_1
        m += scratch
        self.xp.multiply(grad, grad, out=scratch)
        scratch -= v
        scratch *= 1 - beta_2
        v += scratch
        return scratch

    def adam_update(self, param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat=None):
        """Adam with the bias correction folded into ``lr_t``; epsilon outside the root."""
        xp = self.xp
        scratch = self._update_moments(grad, m, v, beta_1, beta_2)
        if v_hat is not None:
            xp.maximum(v_hat, v, out=v_hat)
            xp.sqrt(v_hat, out=scratch)
        else:
            xp.sqrt(v, out=scratch)
        scratch += epsilon
        xp.divide(m, scratch, out=scratch)
        scratch *= lr_t
        param -= scratch

    def rmsprop_update(
        self,
        param,
        grad,
        velocity,
        lr,
        rho,
        epsilon,
        momentum_buffer=None,
        momentum=0.0,
        average_grad=None,
    ):
        """RMSprop with epsilon inside the square root, optionally centered or with momentum."""
        xp = self.xp
        velocity *= rho
        scratch = xp.multiply(grad, grad)
        scratch *= 1 - rho
        velocity += scratch
        if average_grad is not None:
            average_grad *= rho
            xp.multiply(grad, 1 - rho, out=scratch)
            average_grad += scratch
            xp.multiply(average_grad, average_grad, out=scratch)
            xp.subtract(velocity, scratch, out=scratch)
        else:
            scratch[...] = velocity
        scratch += epsilon
        xp.sqrt(scratch, out=scratch)
        xp.divide(grad, scratch, out=scratch)
        scratch *= lr
        if momentum_buffer is not None:
            momentum_buffer *= momentum
            momentum_buffer += scratch
            param -= momentum_buffer
        else:
            param -= scratch

    def adagrad_update(self, param, grad, accumulator, lr, epsilon):
        xp = self.xp
        scratch = xp.multiply(grad, grad)
        accumulator += scratch
        xp.add(accumulator, epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        xp.divide(grad, scratch, out=scratch)
        scratch *= lr
        param -= scratch

    def adamax_update(self, param, grad, m, u, lr, beta_1, beta_2, epsilon, beta_1_power):
        """Adamax: ``u = max(beta_2 * u, |g|)``; ``w -= lr * m / ((1 - beta_1**t) * (u + eps))``."""
        xp = self.xp
        scratch = xp.subtract(grad, m)
        scratch *= 1 - beta_1
        m += scratch
        u *= beta_2
        xp.abs(grad, out=scratch)
        xp.maximum(u, scratch, out=u)
        xp.add(u, epsilon, out=scratch)
        scratch *= 1 - beta_1_power
        xp.divide(m, scratch, out=scratch)
        scratch *= lr
        param -= scratch

    def nadam_update(
        self,
        param,
        grad,
        m,
        v,
        lr,
        beta_1,
        beta_2,
        epsilon,
        momentum_coefficient,
        gradient_coefficient,
        beta_2_power,
    ):
        """Nadam with Keras's momentum schedule, folded by the caller into the two
        coefficients of ``m_hat = momentum_coefficient * m + gradient_coefficient * g``."""
        xp = self.xp
        scratch = self._update_moments(grad, m, v, beta_1, beta_2)
        xp.divide(v, 1 - beta_2_power, out=scratch)
        xp.sqrt(scratch, out=scratch)
        scratch += epsilon
        m_hat = xp.multiply(m, momentum_coefficient)
        m_hat += xp.multiply(grad, gradient_coefficient)
        m_hat *= lr
        xp.divide(m_hat, scratch, out=scratch)
        param -= scratch

    def adadelta_update(self, param, grad, accumulated_grad, accumulated_delta, lr, rho, epsilon):
        """``delta = -sqrt(acc_delta + eps) * g / sqrt(acc_grad + eps)``, both accumulators
        running averages of squares with ``rho``; ``w += lr * delta``."""
        xp = self.xp
        accumulated_grad *= rho
        scratch = xp.multiply(grad, grad)
        scratch *= 1 - rho
        accumulated_grad += scratch
        delta = xp.add(accumulated_delta, epsilon)
        xp.sqrt(delta, out=delta)
        delta *= grad
        xp.add(accumulated_grad, epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        delta /= scratch
        accumulated_delta *= rho
        xp.multiply(delta, delta, out=scratch)
        scratch *= 1 - rho
        accumulated_delta += scratch
        delta *= lr
        param -= delta

    def ftrl_update(self, param, grad, accumulator, linear, lr, lr_power, l1, l2, l2_shrinkage):
        """Follow-the-regularized-leader (Keras's form); ``l2`` already includes
        ``beta / (2 * lr)``. The weight is replaced by the closed-form minimizer."""
        xp = self.xp
        new_accumulator = xp.multiply(grad, grad)
        new_accumulator += accumulator
        powered = xp.power(new_accumulator, -lr_power)
        scratch = xp.power(accumulator, -lr_power)
        xp.subtract(powered, scratch, out=scratch)
        scratch /= lr
        scratch *= param
        linear -= scratch
        linear += grad
        if l2_shrinkage:
            xp.multiply(param, 2 * l2_shrinkage, out=scratch)
            linear += scratch
        powered /= lr
        powered += 2 * l2
        xp.clip(linear, -l1, l1, out=scratch)
        scratch -= linear
        xp.divide(scratch, powered, out=param)
        accumulator[...] = new_accumulator

    def lion_update(self, param, grad, m, lr, beta_1, beta_2):
        """``w -= lr * sign(beta_1 * m + (1 - beta_1) * g)``; then
        ``m = beta_2 * m + (1 - beta_2) * g``."""
        xp = self.xp
        scratch = xp.multiply(m, beta_1)
        scratch += xp.multiply(grad, 1 - beta_1)
        xp.sign(scratch, out=scratch)
        scratch *= lr
        param -= scratch
        m *= beta_2
        xp.multiply(grad, 1 - beta_2, out=scratch)
        m += scratch

    def lamb_update(
        self, param, grad, m, v, lr, beta_1, beta_2, epsilon, beta_1_power, beta_2_power
    ):
        """Adam's bias-corrected step scaled by the trust ratio ``||w|| / ||step||``
        (1 where either norm is zero)."""
        xp = self.xp
        scratch = self._update_moments(grad, m, v, beta_1, beta_2)
        xp.divide(v, 1 - beta_2_power, out=scratch)
        xp.sqrt(scratch, out=scratch)
        scratch += epsilon
        step = xp.divide(m, 1 - beta_1_power)
        step /= scratch
        weight_norm = xp.sqrt(xp.sum(param * param))
        step_norm = xp.sqrt(xp.sum(step * step))
        usable = (weight_norm > 0) & (step_norm > 0)
        ratio = xp.where(usable, weight_norm / xp.where(usable, step_norm, 1), 1)
        step *= (ratio * lr).astype(step.dtype)
        param -= step

    def adafactor_update(
        self, param, grad, r, c, v, step_size, beta_2, epsilon_1, epsilon_2, clip_threshold
    ):
        """Adafactor (Keras's form): the second moment of a weight of rank >= 2 factored into
        row (``r``) and column (``c``) averages over its last two axes; ``step_size`` is
        ``min(lr, 1 / sqrt(t))`` and ``beta_2`` is ``1 - t**beta_2_decay``."""
        xp = self.xp
        dtype = param.dtype
        scale = xp.maximum(epsilon_2, xp.sqrt(xp.mean(param * param))) * step_size
        squared = xp.multiply(grad, grad)
        squared += epsilon_1
        if param.ndim >= 2:
            r *= beta_2
            r += (1 - beta_2) * xp.mean(squared, axis=-1)
            c *= beta_2
            c += (1 - beta_2) * xp.mean(squared, axis=-2)
            row = r / xp.mean(r, axis=-1, keepdims=True)
            xp.multiply(row[..., None], c[..., None, :], out=v)
        else:
            v *= beta_2
            squared *= 1 - beta_2
            v += squared
        update = xp.sqrt(v, out=squared)
        xp.divide(grad, update, out=update)
        rms = xp.sqrt(xp.mean(update * update))
        scale = scale / xp.maximum(1, rms / clip_threshold)
        update *= scale.astype(dtype)
        param -= update

    def schedule_free_adamw_update(
        self, param, grad, z, v, lr, beta_1, beta_2, epsilon, beta_2_power, average_weight
    ):
        """Schedule-free AdamW (Defazio et al., 2024) as Keras 3: Adam-scaled steps on ``z``;
        the weight is ``y = (1 - beta_1) z + beta_1 x`` with ``x`` the running average of ``z``
        (weight ``average_weight = 1 / t``), ``x`` recovered from the previous ``y`` and ``z``."""
        xp = self.xp
        average = xp.multiply(z, 1 - beta_1)
        xp.subtract(param, average, out=average)
        average /= beta_1
        average *= 1 - average_weight
        step = xp.multiply(grad, grad)
        step -= v
        step *= 1 - beta_2
        v += step
        xp.divide(v, 1 - beta_2_power, out=step)
        xp.sqrt(step, out=step)
        step += epsilon
        xp.divide(grad, step, out=step)
        step *= lr
        z -= step
        xp.multiply(z, average_weight, out=step)
        average += step
        average *= beta_1
        xp.multiply(z, 1 - beta_1, out=param)
        param += average
