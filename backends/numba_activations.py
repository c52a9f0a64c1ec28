"""The numba backend's activation overrides: elementwise kernels and row softmax.

A mixin of ``NumbaBackend``. Each override takes float32/float64 NumPy arrays
within its size cut-offs (``numba_dispatch``: one-pass arithmetic from
``MIN_JIT_SIZE`` elements, the kernels on scalar ``exp``/``tanh`` up to
``SCALAR_MATH_LIMIT``, softmax rows up to ``NARROW_ROWS`` wide) and hands the
rest to the NumPy reference through ``super()``. Long arrays run in slices on
the kernel pool (``thread_pool.py``).
"""

import numpy

from . import numba_dispatch as dispatch
from . import thread_pool
from .numba_dispatch import _flat, _jit_dtype


class ActivationOverrides:
    """Needs the ``self._activations`` kernel module."""

    # -- elementwise activations -----------------------------------------

    @staticmethod
    def _elementwise(kernel, arrays, scalars, out):
        """``kernel(*arrays, *scalars, out)`` on 1-D arrays, in slices on the kernel pool
        when they are long (the kernels release the GIL)."""

        if out.size < 2 * dispatch.MIN_SPLIT_ELEMENTS:
            kernel(*arrays, *scalars, out)
            return

        def block(start, stop):
            kernel(*(a[start:stop] for a in arrays), *scalars, out[start:stop])

        thread_pool.run_blocks(
            block, count=out.size, min_block=dispatch.MIN_SPLIT_ELEMENTS, align=16
        )

    def _unary(self, kernel, x, *scalars):
        out = numpy.empty(x.shape, x.dtype)
        scalars = tuple(x.dtype.type(s) for s in scalars)
        self._elementwise(kernel, (_flat(x),), scalars, out.reshape(-1))
        return out

    def _binary(self, kernel, a, b, *scalars):
        out = numpy.empty(a.shape, a.dtype)
        scalars = tuple(a.dtype.type(s) for s in scalars)
        self._elementwise(kernel, (_flat(a), _flat(b)), scalars, out.reshape(-1))
        return out

    def relu_forward(self, x):
        if x.size < dispatch.MIN_JIT_SIZE or _jit_dtype(x) is None:
            return super().relu_forward(x)
        return self._unary(self._activations.relu_forward, x)

    def relu_backward(self, dy, x, y):
        if y.size < dispatch.MIN_JIT_SIZE or _jit_dtype(dy, y) is None or dy.shape != y.shape:
            return super().relu_backward(dy, x, y)
        return self._binary(self._activations.relu_backward, dy, y)

    def sigmoid_forward(self, x):
        if _jit_dtype(x) is None or x.size > dispatch.SCALAR_MATH_LIMIT:
            return super().sigmoid_forward(x)
        return self._unary(self._activations.sigmoid_forward, x)

    def sigmoid_backward(self, dy, x, y):
        if y.size < dispatch.MIN_JIT_SIZE or _jit_dtype(dy, y) is None or dy.shape != y.shape:
            return super().sigmoid_backward(dy, x, y)
        return self._binary(self._activations.sigmoid_backward, dy, y)

    def tanh_backward(self, dy, x, y):
        if y.size < dispatch.MIN_JIT_SIZE or _jit_dtype(dy, y) is None or dy.shape != y.shape:
            return super().tanh_backward(dy, x, y)
        return self._binary(self._activations.tanh_backward, dy, y)

    def leaky_relu_forward(self, x, negative_slope=0.2):
        if x.size < dispatch.MIN_JIT_SIZE or _jit_dtype(x) is None:
            return super().leaky_relu_forward(x, negative_slope)
        return self._unary(self._activations.leaky_relu_forward, x, negative_slope)

    def leaky_relu_backward(self, dy, x, y, negative_slope=0.2):
        if _jit_dtype(dy, x) is None or dy.shape != x.shape:
            return super().leaky_relu_backward(dy, x, y, negative_slope)
        return self._binary(self._activations.leaky_relu_backward, dy, x, negative_slope)

    def elu_forward(self, x, alpha=1.0):
        if _jit_dtype(x) is None or x.size > dispatch.SCALAR_MATH_LIMIT:
            return super().elu_forward(x, alpha)
        return self._unary(self._activations.elu_forward, x, alpha)

    def elu_backward(self, dy, x, y, alpha=1.0):
        if _jit_dtype(dy, x, y) is None or not dy.shape == x.shape == y.shape:
            return super().elu_backward(dy, x, y, alpha)
        out = numpy.empty(dy.shape, dy.dtype)
        kernel = self._activations.elu_backward
        kernel(_flat(dy), _flat(x), _flat(y), dy.dtype.type(alpha), out.reshape(-1))
        return out

    def selu_forward(self, x):
        if _jit_dtype(x) is None or x.size > dispatch.SCALAR_MATH_LIMIT:
            return super().selu_forward(x)
        return self._unary(self._activations.selu_forward, x)

    def selu_backward(self, dy, x, y):
        if _jit_dtype(dy, x, y) is None or not dy.shape == x.shape == y.shape:
            return super().selu_backward(dy, x, y)
        out = numpy.empty(dy.shape, dy.dtype)
        self._activations.selu_backward(_flat(dy), _flat(x), _flat(y), out.reshape(-1))
        return out

    def softplus_forward(self, x):
        if _jit_dtype(x) is None or x.size > dispatch.SCALAR_MATH_LIMIT:
            return super().softplus_forward(x)
        return self._unary(self._activations.softplus_forward, x)

    def softplus_backward(self, dy, x, y):
        if _jit_dtype(dy, x) is None or dy.shape != x.shape or x.size > dispatch.SCALAR_MATH_LIMIT:
            return super().softplus_backward(dy, x, y)
        return self._binary(self._activations.softplus_backward, dy, x)

    def swish_forward(self, x):
        if _jit_dtype(x) is None or x.size > dispatch.SCALAR_MATH_LIMIT:
            return super().swish_forward(x)
        return self._unary(self._activations.swish_forward, x)

    def swish_backward(self, dy, x, y):
        if _jit_dtype(dy, x) is None or dy.shape != x.shape or x.size > dispatch.SCALAR_MATH_LIMIT:
            return super().swish_backward(dy, x, y)
        return self._binary(self._activations.swish_backward, dy, x)

    def erf(self, x):
        # one jitted pass: 2.7x faster than the reference's vectorised Cody approximations
        # (128x1024 float32: 1.9 against 5.1 ms of CPU)
        if _jit_dtype(x) is None:
            return super().erf(x)
        return self._unary(self._activations.erf, x)

    # -- softmax over the last axis ----------------------------------------

    def _rows(self, kernel, *arrays):
        """Run a row kernel over the last axis of same-shaped arrays."""
        shape = arrays[0].shape
        rows = [numpy.ascontiguousarray(a).reshape(-1, shape[-1]) for a in arrays]
        out = numpy.empty(shape, arrays[0].dtype)
        kernel(*rows, out.reshape(-1, shape[-1]))
        return out

    @staticmethod
    def _last_axis(x, axis):
        return x.ndim >= 1 and x.size > 0 and axis in (-1, x.ndim - 1)

    @staticmethod
    def _narrow(x):
        return x.shape[-1] <= dispatch.NARROW_ROWS

    def softmax_forward(self, x, axis=-1):
        if _jit_dtype(x) is None or not self._last_axis(x, axis) or not self._narrow(x):
            return super().softmax_forward(x, axis)
        return self._rows(self._activations.softmax_rows, x)

    def softmax_backward(self, dy, y, axis=-1):
        if _jit_dtype(dy, y) is None or not self._last_axis(y, axis) or dy.shape != y.shape:
            return super().softmax_backward(dy, y, axis)
        return self._rows(self._activations.softmax_rows_backward, dy, y)

    def log_softmax_forward(self, x, axis=-1):
        if _jit_dtype(x) is None or not self._last_axis(x, axis) or not self._narrow(x):
            return super().log_softmax_forward(x, axis)
        return self._rows(self._activations.log_softmax_rows, x)

    def log_softmax_backward(self, dy, y, axis=-1):
        if (
            _jit_dtype(dy, y) is None
            or not self._last_axis(y, axis)
            or dy.shape != y.shape
            or not self._narrow(y)
        ):
            return super().log_softmax_backward(dy, y, axis)
        return self._rows(self._activations.log_softmax_rows_backward, dy, y)
