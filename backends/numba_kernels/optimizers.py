"""Optimizer updates: one in-place pass over each parameter (Keras 3 formulas).

Arrays are flat and C-contiguous. The caller folds constants such as ``1 - beta_1``
in; SGD's and Adam's kernels take the scalars as Python floats and round them to the
arrays' dtype themselves, the others take them in that dtype, so float32 parameters
update in float32 as in the reference and the loops vectorize. Optional
behaviour is chosen outside the loops for the same reason. SGD's and Adam's release
the GIL: the backend runs long parameters in slices on its kernel pool.
"""

import math

import numba
import numpy
from numba.extending import register_jitable

from .float_env import flush_subnormals, restore_float_env
from .native_jobs import HEADER_WORDS, bits, block, job_array, run_jobs, scalar
from .vector_math import like

#: the int64 words of an Adam and an AMSGrad job's record
ADAM_WORDS, AMSGRAD_WORDS = HEADER_WORDS + 8, HEADER_WORDS + 9


@numba.njit(cache=True, error_model="numpy", nogil=True)
def sgd_update(param, grad, lr_value):
    lr = like(param, lr_value)
    csr = flush_subnormals()
    for i in range(param.size):
        param[i] -= lr * grad[i]
    restore_float_env(csr)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def sgd_momentum_update(param, grad, velocity, lr_value, momentum_value, nesterov):
    lr, momentum = like(param, lr_value), like(param, momentum_value)
    csr = flush_subnormals()
    if nesterov:
        for i in range(param.size):
            step = lr * grad[i]
            v = momentum * velocity[i] - step
            velocity[i] = v
            param[i] += momentum * v - step
    else:
        for i in range(param.size):
            v = momentum * velocity[i] - lr * grad[i]
            velocity[i] = v
            param[i] += v
    restore_float_env(csr)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def adam_update(param, grad, m, v, lr_t, one_minus_beta_1, one_minus_beta_2, epsilon):
    """Adam's update; its scalars may be Python floats, rounded here to the arrays' dtype
    (making NumPy scalars in the caller cost ~1.2 us a call: a small model's every step)."""
    lr, b1, b2 = like(param, lr_t), like(param, one_minus_beta_1), like(param, one_minus_beta_2)
    eps = like(param, epsilon)
    csr = flush_subnormals()
    for i in range(param.size):
        g = grad[i]
        m_i = m[i] + (g - m[i]) * b1
        v_i = v[i] + (g * g - v[i]) * b2
        m[i] = m_i
        v[i] = v_i
        param[i] -= m_i / (math.sqrt(v_i) + eps) * lr
    restore_float_env(csr)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def amsgrad_update(param, grad, m, v, v_hat, lr_t, one_minus_beta_1, one_minus_beta_2, epsilon):
    """AMSGrad's update; scalars as ``adam_update``'s."""
    lr, b1, b2 = like(param, lr_t), like(param, one_minus_beta_1), like(param, one_minus_beta_2)
    eps = like(param, epsilon)
    csr = flush_subnormals()
    for i in range(param.size):
        g = grad[i]
        m_i = m[i] + (g - m[i]) * b1
        v_i = v[i] + (g * g - v[i]) * b2
        m[i] = m_i
        v[i] = v_i
        peak = max(v_hat[i], v_i)
        v_hat[i] = peak
        param[i] -= m_i / (math.sqrt(peak) + eps) * lr
    restore_float_env(csr)


@numba.njit(cache=True, error_model="numpy")
def rmsprop_update(param, grad, velocity, lr, rho, one_minus_rho, epsilon):
    csr = flush_subnormals()
    for i in range(param.size):
        g = grad[i]
        vel = rho * velocity[i] + g * g * one_minus_rho
        velocity[i] = vel
        param[i] -= g / math.sqrt(vel + epsilon) * lr
    restore_float_env(csr)


@numba.njit(cache=True, error_model="numpy")
def rmsprop_general_update(
    param,
    grad,
    velocity,
    lr,
    rho,
    one_minus_rho,
    epsilon,
    momentum_buffer,
    momentum,
    use_momentum,
    average_grad,
    centered,
):
    """RMSprop with momentum and/or centering (unused buffers may alias ``param``)."""
    csr = flush_subnormals()
    for i in range(param.size):
        g = grad[i]
        vel = rho * velocity[i] + g * g * one_minus_rho
        velocity[i] = vel
        if centered:
            avg = rho * average_grad[i] + g * one_minus_rho
            average_grad[i] = avg
            vel = vel - avg * avg
        step = g / math.sqrt(vel + epsilon) * lr
        if use_momentum:
            step = momentum * momentum_buffer[i] + step
            momentum_buffer[i] = step
        param[i] -= step
    restore_float_env(csr)


@numba.njit(cache=True, error_model="numpy")
def adagrad_update(param, grad, accumulator, lr, epsilon):
    csr = flush_subnormals()
    for i in range(param.size):
        g = grad[i]
        acc = accumulator[i] + g * g
        accumulator[i] = acc
        param[i] -= g / math.sqrt(acc + epsilon) * lr
    restore_float_env(csr)


# Adam and AMSGrad as native jobs (``native_jobs``): the backend makes the ``*_job_*`` of
# the arrays' dtype a ``numba.cfunc`` at its first split, and the ``*_split`` driver runs
# it on the threads. Record: count, itemsize, the arrays' addresses, the four scalars.


@register_jitable
def _adam_block(record, index, parts, dtype):
    start, stop = block(record[0], parts, index)
    param, grad = job_array(record, 2, start, stop, dtype), job_array(record, 3, start, stop, dtype)
    m, v = job_array(record, 4, start, stop, dtype), job_array(record, 5, start, stop, dtype)
    lr_t, b1, b2, eps = scalar(record, 6), scalar(record, 7), scalar(record, 8), scalar(record, 9)
    adam_update(param, grad, m, v, lr_t, b1, b2, eps)


def adam_job_float32(index, data, parts):  # pragma: no cover - compiled
    _adam_block(numba.carray(data, ADAM_WORDS, numpy.int64), index, parts, numpy.float32)


def adam_job_float64(index, data, parts):  # pragma: no cover - compiled
    _adam_block(numba.carray(data, ADAM_WORDS, numpy.int64), index, parts, numpy.float64)


@register_jitable
def _amsgrad_block(record, index, parts, dtype):
    start, stop = block(record[0], parts, index)
    param, grad = job_array(record, 2, start, stop, dtype), job_array(record, 3, start, stop, dtype)
    m, v = job_array(record, 4, start, stop, dtype), job_array(record, 5, start, stop, dtype)
    v_hat = job_array(record, 6, start, stop, dtype)
    lr_t, b1, b2, eps = scalar(record, 7), scalar(record, 8), scalar(record, 9), scalar(record, 10)
    amsgrad_update(param, grad, m, v, v_hat, lr_t, b1, b2, eps)


def amsgrad_job_float32(index, data, parts):  # pragma: no cover - compiled
    _amsgrad_block(numba.carray(data, AMSGRAD_WORDS, numpy.int64), index, parts, numpy.float32)


def amsgrad_job_float64(index, data, parts):  # pragma: no cover - compiled
    _amsgrad_block(numba.carray(data, AMSGRAD_WORDS, numpy.int64), index, parts, numpy.float64)


@register_jitable
def _describe(record, param):
    record[0], record[1] = param.size, param.itemsize


@numba.njit(cache=True, nogil=True)
def adam_split(callback, job, parts, record, param, grad, m, v, lr_t, b1, b2, epsilon):
    """``adam_update`` in ``parts`` native jobs (``job``: an ``adam_job_*``'s address;
    ``record``: ``ADAM_WORDS`` int64 words to fill)."""
    _describe(record, param)
    record[2], record[3] = param.ctypes.data, grad.ctypes.data
    record[4], record[5] = m.ctypes.data, v.ctypes.data
    record[6], record[7], record[8], record[9] = bits(lr_t), bits(b1), bits(b2), bits(epsilon)
    run_jobs(callback, job, parts, record)


@numba.njit(cache=True, nogil=True)
def amsgrad_split(callback, job, parts, record, param, grad, m, v, v_hat, lr_t, b1, b2, epsilon):
    """``amsgrad_update`` in ``parts`` native jobs (as ``adam_split``; ``AMSGRAD_WORDS``)."""
    _describe(record, param)
    record[2], record[3] = param.ctypes.data, grad.ctypes.data
    record[4], record[5], record[6] = m.ctypes.data, v.ctypes.data, v_hat.ctypes.data
    record[7], record[8], record[9], record[10] = bits(lr_t), bits(b1), bits(b2), bits(epsilon)
    run_jobs(callback, job, parts, record)
