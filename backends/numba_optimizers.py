"""The numba backend's optimizer overrides: one fused in-place pass per weight.

A mixin of ``NumbaBackend``: SGD (with momentum), Adam, AMSGrad, RMSprop and
Adagrad update a C-contiguous float32/float64 weight and its state through
flat views in one kernel call; long weights are updated in slices on the
kernel pool. Anything else (other dtypes, non-contiguous weights, SGD below
``numba_dispatch.MIN_JIT_SGD_SIZE``) takes the NumPy reference.
"""

import numba
import numpy

from . import blas_threads, numba_compile_ahead, thread_pool
from . import numba_dispatch as dispatch
from .numba_dispatch import _JIT_DTYPES, _flat

# the kernels' native jobs, made ``numba.cfunc``s at their first use, by name: kept here
# for good, since a job's machine code lives only as long as its ``cfunc`` object
_compiled_jobs: dict = {}


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

    def _native_split(self, name: str, words: int, arrays, scalars, min_block: int) -> bool:
        """Run the kernel module's ``{name}_split`` driver over ``arrays`` (flat, of one
        size) and ``scalars`` as native jobs (``numba_kernels/native_jobs.py``), in blocks
        of at least ``min_block`` on two or more threads; False, doing nothing, where
        ``blas_threads`` is not installed, the arrays are too short, or the job is not
        ready yet. ``words``: the length of the job's record."""
        size = arrays[0].size
        if size < 2 * min_block or not blas_threads.installed():
            return False
        parts = min(thread_pool.width(), size // min_block)
        if parts < 2:
            return False
        driver = getattr(self._optimizers, f"{name}_split")
        job = f"{name}_job_{arrays[0].dtype.name}"
        record = numpy.empty(words, numpy.int64)  # one per call: two threads may update at once
        callback = blas_threads.callback_address()
        compiled = _compiled_jobs.get(job)
        if compiled is not None:
            address = compiled.address
        else:
            address = self._native_job(job, driver, (callback, 0, parts, record, *arrays, *scalars))
            if address is None:
                return False
        driver(callback, address, parts, record, *arrays, *scalars)
        return True

    def _native_job(self, job: str, driver, arguments) -> int | None:
        """The address of the kernel module's function ``job`` made a ``numba.cfunc``; None
        while a child compiles it, and ``driver`` for ``arguments``' types, into the cache
        (``numba_compile_ahead.start_task``): on a cold cache they take ~0.6 s, which the
        first step would wait for. Meanwhile the kernel runs on one thread."""
        from .numba_kernels.native_jobs import JOB_SIGNATURE

        function = getattr(self._optimizers, job)
        if not numba_compile_ahead.finished(job):
            return None
        signature = tuple(numba.typeof(argument) for argument in arguments)

        def compile_both():
            numba.cfunc(JOB_SIGNATURE, cache=True)(function)
            driver.compile(signature)

        cold = numba_compile_ahead.cfunc_missing_from_cache(function, JOB_SIGNATURE)
        if cold or numba_compile_ahead.missing_from_cache(driver, signature):
            if numba_compile_ahead.start_task(job, compile_both):
                return None
        compiled = numba.cfunc(JOB_SIGNATURE, cache=True)(function)  # loads it, if cached
        _compiled_jobs[job] = compiled
        return compiled.address

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

    def sgd_update(self, param, grad, lr):
        if param.size < dispatch.MIN_JIT_SGD_SIZE or not self._fused_update_ok(param, grad):
            return super().sgd_update(param, grad, lr)
        kernel, scalar = self._optimizers.sgd_update, param.dtype.type(lr)
        if self._flat_buffer(param, grad, dispatch.MIN_SPLIT_ONE_PASS):
            return kernel(param, grad, scalar)
        arrays = (param.reshape(-1), _flat(grad))
        self._update_in_slices(kernel, arrays, (scalar,), dispatch.MIN_SPLIT_ONE_PASS)

    def sgd_momentum_update(self, param, grad, velocity, lr, momentum, nesterov=False):
        if param.size < dispatch.MIN_JIT_SGD_SIZE or not self._fused_update_ok(
            param, grad, velocity
        ):
            return super().sgd_momentum_update(param, grad, velocity, lr, momentum, nesterov)
        kernel, scalar = self._optimizers.sgd_momentum_update, param.dtype.type
        scalars = (scalar(lr), scalar(momentum), bool(nesterov))
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
        if self._native_split(name, words, arrays, constants, dispatch.MIN_NATIVE_SPLIT_ADAM):
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
