"""Fused in-place optimizer updates over flattened (contiguous) arrays, Keras 3 formulas.

Scalars arrive already cast to the arrays' dtype, so float32 weights are
updated in float32 arithmetic as the reference does.
"""

import math

from numba import cuda


@cuda.jit
def sgd_update(param, grad, lr):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < param.size:
        param[i] -= lr * grad[i]
        i += stride


@cuda.jit
def sgd_momentum_update(param, grad, velocity, lr, momentum, nesterov):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < param.size:
        step = lr * grad[i]
        v = momentum * velocity[i] - step
        velocity[i] = v
        if nesterov:
            param[i] += momentum * v - step
        else:
            param[i] += v
        i += stride


@cuda.jit
def adam_update(param, grad, m, v, lr_t, one_minus_beta_1, one_minus_beta_2, epsilon):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < param.size:
        g = grad[i]
        m_i = m[i] + (g - m[i]) * one_minus_beta_1
        v_i = v[i] + (g * g - v[i]) * one_minus_beta_2
        m[i] = m_i
        v[i] = v_i
        param[i] -= lr_t * (m_i / (math.sqrt(v_i) + epsilon))
        i += stride


@cuda.jit
def amsgrad_update(param, grad, m, v, v_hat, lr_t, one_minus_beta_1, one_minus_beta_2, epsilon):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < param.size:
        g = grad[i]
        m_i = m[i] + (g - m[i]) * one_minus_beta_1
        v_i = v[i] + (g * g - v[i]) * one_minus_beta_2
        m[i] = m_i
        v[i] = v_i
        v_max = max(v_hat[i], v_i)
        v_hat[i] = v_max
        param[i] -= lr_t * (m_i / (math.sqrt(v_max) + epsilon))
        i += stride


@cuda.jit
def rmsprop_update(param, grad, velocity, lr, rho, one_minus_rho, epsilon):
    """Plain RMSprop (no momentum, not centered); epsilon inside the square root."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < param.size:
        g = grad[i]
        v = velocity[i] * rho + g * g * one_minus_rho
        velocity[i] = v
        param[i] -= lr * (g / math.sqrt(v + epsilon))
        i += stride


@cuda.jit
def adagrad_update(param, grad, accumulator, lr, epsilon):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < param.size:
        g = grad[i]
        total = accumulator[i] + g * g
        accumulator[i] = total
        param[i] -= lr * (g / math.sqrt(total + epsilon))
        i += stride
