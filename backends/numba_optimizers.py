"""The numba backend's optimizer overrides: one fused in-place pass per weight.

A mixin of ``NumbaBackend``: SGD (with momentum), Adam, AMSGrad, RMSprop and
Adagrad update a C-contiguous float32/float64 weight and its state through
flat views in one kernel call; long weights are updated in slices on the
kernel pool (Adam's as native jobs, ``numba_native.py``, where it can). Anything
else (other dtypes, non-contiguous weights) takes the NumPy reference.
"""

import numpy

from . import numba_dispatch as dispatch
from . import numba_native, thread_pool
from .numba_dispatch import _JIT_DTYPES, _flat


class OptimizerOverrides:
    """Needs the ``self._optimizers`` kernel module."""

    @staticmethod
    def _update_in_slices(kernel, arrays, scalars, min_block):
        """``kernel(*arrays, *scalars)``, an optimizer's in-place update of flat arrays, in
        slices of at least ``min_block`` elements on the kernel pool when they are long
        (the update kernels release the GIL; each element's update is the same whatever
        the slices)."""
        size = arrays[0].size
        if size < 2 * min_block:
            kernel(*arrays, *scalars)
            return

        def block(start, stop):
            kernel(*(a[start:stop] for a in arrays), *scalars)

        thread_pool.run_blocks(block, count=size, min_block=min_block, align=16)

    @staticmethod
    def _fused_update_ok(param, grad, *state) -> bool:
        """Whether an update kernel takes these arrays: NumPy arrays of one compiled dtype and
        one shape, ``param`` and the state C-contiguous (updated through flat views). One
        pass over them, as it runs for every weight at every step."""
        dtype, shape = param.dtype, param.shape
        if dtype not in _JIT_DTYPES or type(param) is not numpy.ndarray:
            return False
        if not param.flags.c_contiguous:
            return False
        if type(grad) is not numpy.ndarray or grad.dtype != dtype or grad.shape != shape:
            return False
        for array in state:  # written out, not one loop over all: 1.0 against 1.7 us
            if (
                type(array) is not numpy.ndarray
                or array.dtype != dtype
                or array.shape != shape
                or not array.flags.c_contiguous
            ):
                return False
        return True

    @staticmethod
    def _flat_buffer(param, grad, min_block) -> bool:
        """Whether the arrays go to the kernel as they are, in one call: a 1-D ``param`` (the
        optimizer's flat buffer of small weights) and gradient, C-contiguous, short. Inside
        W5's step the other path's views and frame cost more than the kernel saved."""
        return param.ndim == 1 and grad.flags.c_contiguous and param.size < 2 * min_block

    # SGD takes the kernel at every size, as Adam: it is faster than the reference's two or
    # three ufunc passes from 64 elements on, and it flushes subnormals (a fitted model's
    # velocity decays into them: on the Xeon, W1's 4.8k-element reference update took 18 us
    # a step with them against 3.4 without).
    def sgd_update(self, param, grad, lr):
        if not self._fused_update_ok(param, grad):
            return super().sgd_update(param, grad, lr)
        kernel, scalars = self._optimizers.sgd_update, (float(lr),)
        if self._flat_buffer(param, grad, dispatch.MIN_SPLIT_ONE_PASS):
            return kernel(param, grad, *scalars)
        arrays = (param.reshape(-1), _flat(grad))
        self._update_in_slices(kernel, arrays, scalars, dispatch.MIN_SPLIT_ONE_PASS)

    def sgd_momentum_update(self, param, grad, velocity, lr, momentum, nesterov=False):
        if not self._fused_update_ok(param, grad, velocity):
            return super().sgd_momentum_update(param, grad, velocity, lr, momentum, nesterov)
        kernel = self._optimizers.sgd_momentum_update
        scalars = (float(lr), float(momentum), bool(nesterov))
        if self._flat_buffer(param, grad, dispatch.MIN_SPLIT_ONE_PASS):
            return kernel(param, grad, velocity, *scalars)
        arrays = (param.reshape(-1), _flat(grad), velocity.reshape(-1))
        self._update_in_slices(kernel, arrays, scalars, dispatch.MIN_SPLIT_ONE_PASS)

    # Adam takes the kernel at every size: the reference makes ten ufunc passes (6.9 us a
    # call inside W5's step, two weights in one flat buffer) against 3.8 for the kernel's
    # path. Entering compiled code also slows the Python around it (in W5's step, ~0.3 us
    # in each of the forward, the loss, the backward and the metrics), so the step gained
    # less: same process, alternating, CPU time, three runs of 40 rounds of 1000 steps,
    # medians 77.3-79.6 us against 78.5-81.0 with the 256-element cut-off this had before
    # (the numpy backend's: 78.2-80.3).
    def adam_update(self, param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat=None):
        state = (m, v) if v_hat is None else (m, v, v_hat)
        if not self._fused_update_ok(param, grad, *state):
            return super().adam_update(param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat)
        # Python floats, rounded to the arrays' dtype in the kernel (NumPy scalars cost more)
        constants = (float(lr_t), 1.0 - float(beta_1), 1.0 - float(beta_2), float(epsilon))
        kernel = self._optimizers.adam_update if v_hat is None else self._optimizers.amsgrad_update
        if self._flat_buffer(param, grad, dispatch.MIN_NATIVE_SPLIT_ADAM):
            return kernel(param, grad, *state, *constants)
        arrays = (param.reshape(-1), _flat(grad), *(array.reshape(-1) for array in state))
        kernels = self._optimizers
        name, words = (
            ("adam", kernels.ADAM_WORDS) if v_hat is None else ("amsgrad", kernels.AMSGRAD_WORDS)
        )
        arguments, cutoff = (*arrays, *constants), dispatch.MIN_NATIVE_SPLIT_ADAM
        if numba_native.split(kernels, name, words, arguments, param.size, cutoff):
            return
        self._update_in_slices(kernel, arrays, constants, dispatch.MIN_SPLIT_ADAM)

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
        state = [a for a in (velocity, momentum_buffer, average_grad) if a is not None]
        if not self._fused_update_ok(param, grad, *state):
            return super().rmsprop_update(
                param, grad, velocity, lr, rho, epsilon, momentum_buffer, momentum, average_grad
            )
        scalar = param.dtype.type
        flat_param = param.reshape(-1)
        args = (flat_param, _flat(grad), velocity.reshape(-1))
        constants = (scalar(lr), scalar(rho), scalar(1 - rho), scalar(epsilon))
        if momentum_buffer is None and average_grad is None:
            self._optimizers.rmsprop_update(*args, *constants)
            return
        self._optimizers.rmsprop_general_update(
            *args,
            *constants,
            flat_param if momentum_buffer is None else momentum_buffer.reshape(-1),
            scalar(momentum),
            momentum_buffer is not None,
            flat_param if average_grad is None else average_grad.reshape(-1),
            average_grad is not None,
        )

    def adagrad_update(self, param, grad, accumulator, lr, epsilon):
        if not self._fused_update_ok(param, grad, accumulator):
            return super().adagrad_update(param, grad, accumulator, lr, epsilon)
        scalar = param.dtype.type
        self._optimizers.adagrad_update(
            param.reshape(-1), _flat(grad), accumulator.reshape(-1), scalar(lr), scalar(epsilon)
        )
