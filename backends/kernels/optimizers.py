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

    def adam_update(self, param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat=None):
        """Adam with the bias correction folded into ``lr_t``; epsilon outside the root."""
        xp = self.xp
        scratch = xp.subtract(grad, m)
        scratch *= 1 - beta_1
        m += scratch
        xp.multiply(grad, grad, out=scratch)
        scratch -= v
        scratch *= 1 - beta_2
        v += scratch
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
