"""The numba backend: NumPy arrays, with the hot kernels as ``@numba.njit`` loops.

``NumbaBackend`` overrides only the kernels that a measurement showed the
generic NumPy code to be slow on; everything else is the NumPy reference.
Overrides cover C-contiguous float32 and float64 arrays and hand every other
dtype (float16, integers) to ``super()``, so Numba never sees a type it was
not written for. Numba is imported lazily: this module imports without it,
and selecting the backend without it raises ``BackendUnavailableError``.

The convolution / pooling / normalization, the recurrent / embedding and the attention
overrides are mixins in ``numba_conv.py``, ``numba_recurrent.py`` and
``numba_attention.py`` (one module per family,
as the kernels in ``numba_kernels/``); this class joins them and holds the rest.
"""

import importlib

import numpy

from . import thread_pool
from .numba_attention import AttentionOverrides
from .numba_conv import ConvolutionOverrides
from .numba_dispatch import _JIT_DTYPES, _flat, _jit_dtype, _scale_and_shift
from .numba_recurrent import RecurrentOverrides
from .numpy_backend import NumpyBackend

_FAMILIES = (
    "activations",
    "attention",
    "conv",
    "dropout",
    "embedding",
    "losses",
    "normalization",
    "optimizers",
    "pooling",
    "recurrent",
)

# Numba has no vector math library here (no SVML), so its exp/tanh/log run one
# element at a time, while NumPy's are SIMD. Kernels built on them win only
# where call overhead dominates: small arrays, and rows narrow enough that the
# fused passes save more than the scalar exp costs (measured: break-even near
# 2k elements for sigmoid, 64 classes for softmax + cross-entropy).
_SCALAR_MATH_LIMIT = 2048
# Below this many elements a NumPy ufunc's call overhead (~1 us) beats
# Numba's dispatch (~2 us) for one-pass arithmetic such as relu.
_MIN_JIT_SIZE = 2048
# SGD's update is two or three ufunc passes in NumPy; the fused kernel's dispatch and
# argument checks cost more than they save below ~16k elements (measured: 1.6x slower at
# 64 elements, 1.1x at 8k, faster from 16k). Adam's reference makes ten passes: the
# kernel wins at every size.
_MIN_JIT_SGD_SIZE = 16384
_NARROW_ROWS = 32
# Row-wise kernels (layer normalization, a dense layer's bias) and elementwise ones are
# split between the pool's threads in blocks of at least this many elements: a
# hand-off costs ~30 us.
_MIN_SPLIT_ELEMENTS = 32768


class NumbaBackend(ConvolutionOverrides, RecurrentOverrides, AttentionOverrides, NumpyBackend):
    name = "numba"

    def __init__(self):
        super().__init__()
        thread_pool.pin_blas()  # the kernel pool does the splitting (see thread_pool.py)

    def __getattr__(self, name: str):
        """A kernel family's module (``self._conv``), imported on first use and then kept as
        an attribute, so later look-ups do not come here. Importing all ten families up front
        cost 0.07-0.18 s of Numba dispatcher set-up in every process (measured), and a model
        uses three or four of them."""
        if name.startswith("_") and name[1:] in _FAMILIES:
            module = importlib.import_module(f"{__package__}.numba_kernels.{name[1:]}")
            setattr(self, name, module)
            return module
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import numba  # noqa: F401
        except ImportError as error:
            return f"numba cannot be imported ({error})."
        return None

    @classmethod
    def install_hint(cls) -> str:
        return "pip install numba"

    # -- linear algebra: BLAS on one thread per block of the kernel pool ---------

    def matmul(self, a, b):
        if type(a) is not numpy.ndarray or type(b) is not numpy.ndarray:
            return super().matmul(a, b)
        return thread_pool.matmul(a, b)

    def dense_forward(self, x, kernel, bias=None):
        if type(x) is not numpy.ndarray or type(kernel) is not numpy.ndarray:
            return super().dense_forward(x, kernel, bias)
        y = thread_pool.matmul(x, kernel)
        if bias is None:
            return y
        if (
            y.size < 2 * _MIN_SPLIT_ELEMENTS
            or type(bias) is not numpy.ndarray
            or bias.shape != y.shape[-1:]
            or y.ndim < 2
        ):
            y += bias  # one block: no closure, no pool look-up (a small model's every step)
            return y
        rows = y.reshape(-1, y.shape[-1])  # a view: matmul's result is C-contiguous

        def add_bias(start, stop):  # NumPy's add releases the GIL
            numpy.add(rows[start:stop], bias, out=rows[start:stop])

        min_rows = -(-_MIN_SPLIT_ELEMENTS // max(y.shape[-1], 1))
        thread_pool.run_blocks(add_bias, count=rows.shape[0], min_block=min_rows)
        return y

    # -- elementwise activations -----------------------------------------

    @staticmethod
    def _elementwise(kernel, arrays, scalars, out):
        """``kernel(*arrays, *scalars, out)`` on 1-D arrays, in slices on the kernel pool
        when they are long (the kernels release the GIL)."""

        if out.size < 2 * _MIN_SPLIT_ELEMENTS:
            kernel(*arrays, *scalars, out)
            return

        def block(start, stop):
            kernel(*(a[start:stop] for a in arrays), *scalars, out[start:stop])

        thread_pool.run_blocks(block, count=out.size, min_block=_MIN_SPLIT_ELEMENTS, align=16)

    @staticmethod
    def _update_in_slices(kernel, arrays, scalars):
        """``kernel(*arrays, *scalars)``, an optimizer's in-place update of flat arrays, in
        slices on the kernel pool when they are long (the update kernels release the GIL;
        each element's update is the same whatever the slices)."""
        size = arrays[0].size
        if size < 2 * _MIN_SPLIT_ELEMENTS:
            kernel(*arrays, *scalars)
            return

        def block(start, stop):
            kernel(*(a[start:stop] for a in arrays), *scalars)

        thread_pool.run_blocks(block, count=size, min_block=_MIN_SPLIT_ELEMENTS, align=16)

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
        if x.size < _MIN_JIT_SIZE or _jit_dtype(x) is None:
            return super().relu_forward(x)
        return self._unary(self._activations.relu_forward, x)

    def relu_backward(self, dy, x, y):
        if y.size < _MIN_JIT_SIZE or _jit_dtype(dy, y) is None or dy.shape != y.shape:
            return super().relu_backward(dy, x, y)
        return self._binary(self._activations.relu_backward, dy, y)

    def sigmoid_forward(self, x):
        if _jit_dtype(x) is None or x.size > _SCALAR_MATH_LIMIT:
            return super().sigmoid_forward(x)
        return self._unary(self._activations.sigmoid_forward, x)

    def sigmoid_backward(self, dy, x, y):
        if y.size < _MIN_JIT_SIZE or _jit_dtype(dy, y) is None or dy.shape != y.shape:
            return super().sigmoid_backward(dy, x, y)
        return self._binary(self._activations.sigmoid_backward, dy, y)

    def tanh_backward(self, dy, x, y):
        if y.size < _MIN_JIT_SIZE or _jit_dtype(dy, y) is None or dy.shape != y.shape:
            return super().tanh_backward(dy, x, y)
        return self._binary(self._activations.tanh_backward, dy, y)

    def leaky_relu_forward(self, x, negative_slope=0.2):
        if x.size < _MIN_JIT_SIZE or _jit_dtype(x) is None:
            return super().leaky_relu_forward(x, negative_slope)
        return self._unary(self._activations.leaky_relu_forward, x, negative_slope)

    def leaky_relu_backward(self, dy, x, y, negative_slope=0.2):
        if _jit_dtype(dy, x) is None or dy.shape != x.shape:
            return super().leaky_relu_backward(dy, x, y, negative_slope)
        return self._binary(self._activations.leaky_relu_backward, dy, x, negative_slope)

    def elu_forward(self, x, alpha=1.0):
        if _jit_dtype(x) is None or x.size > _SCALAR_MATH_LIMIT:
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
        if _jit_dtype(x) is None or x.size > _SCALAR_MATH_LIMIT:
            return super().selu_forward(x)
        return self._unary(self._activations.selu_forward, x)

    def selu_backward(self, dy, x, y):
        if _jit_dtype(dy, x, y) is None or not dy.shape == x.shape == y.shape:
            return super().selu_backward(dy, x, y)
        out = numpy.empty(dy.shape, dy.dtype)
        self._activations.selu_backward(_flat(dy), _flat(x), _flat(y), out.reshape(-1))
        return out

    def softplus_forward(self, x):
        if _jit_dtype(x) is None or x.size > _SCALAR_MATH_LIMIT:
            return super().softplus_forward(x)
        return self._unary(self._activations.softplus_forward, x)

    def softplus_backward(self, dy, x, y):
        if _jit_dtype(dy, x) is None or dy.shape != x.shape or x.size > _SCALAR_MATH_LIMIT:
            return super().softplus_backward(dy, x, y)
        return self._binary(self._activations.softplus_backward, dy, x)

    def swish_forward(self, x):
        if _jit_dtype(x) is None or x.size > _SCALAR_MATH_LIMIT:
            return super().swish_forward(x)
        return self._unary(self._activations.swish_forward, x)

    def swish_backward(self, dy, x, y):
        if _jit_dtype(dy, x) is None or dy.shape != x.shape or x.size > _SCALAR_MATH_LIMIT:
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
        return x.shape[-1] <= _NARROW_ROWS

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

    # -- losses --------------------------------------------------------------

    def _loss_ok(self, logits, other):
        return (
            _jit_dtype(logits) is not None
            and logits.ndim == 2
            and 0 < logits.shape[1] <= _NARROW_ROWS
            and type(other) is numpy.ndarray
        )

    def softmax_cross_entropy_forward(self, logits, targets):
        if not self._loss_ok(logits, targets) or _jit_dtype(logits, targets) is None:
            return super().softmax_cross_entropy_forward(logits, targets)
        if targets.shape != logits.shape:
            return super().softmax_cross_entropy_forward(logits, targets)
        loss = numpy.empty(logits.shape[0], logits.dtype)
        probs = numpy.empty(logits.shape, logits.dtype)
        self._losses.softmax_cross_entropy_forward(
            numpy.ascontiguousarray(logits), numpy.ascontiguousarray(targets), loss, probs
        )
        return loss, probs

    def softmax_cross_entropy_backward(self, probs, targets, dloss):
        if (
            _jit_dtype(probs, targets, dloss) is None
            or probs.ndim != 2
            or targets.shape != probs.shape
            or dloss.shape != probs.shape[:1]
        ):
            return super().softmax_cross_entropy_backward(probs, targets, dloss)
        grad = numpy.empty(probs.shape, probs.dtype)
        self._losses.softmax_cross_entropy_backward(
            numpy.ascontiguousarray(probs),
            numpy.ascontiguousarray(targets),
            numpy.ascontiguousarray(dloss),
            grad,
        )
        return grad

    @staticmethod
    def _labels(labels, rows):
        """Integer labels as one C-contiguous int64 vector, or None to fall back."""
        if type(labels) is not numpy.ndarray or labels.shape != (rows,):
            return None
        if labels.dtype.kind not in "iu":
            return None
        return numpy.ascontiguousarray(labels, dtype=numpy.int64)

    def sparse_softmax_cross_entropy_forward(self, logits, labels):
        index = self._labels(labels, logits.shape[0]) if self._loss_ok(logits, labels) else None
        if index is None:
            return super().sparse_softmax_cross_entropy_forward(logits, labels)
        loss = numpy.empty(logits.shape[0], logits.dtype)
        probs = numpy.empty(logits.shape, logits.dtype)
        self._losses.sparse_softmax_cross_entropy_forward(
            numpy.ascontiguousarray(logits), index, loss, probs
        )
        return loss, probs

    def sparse_softmax_cross_entropy_backward(self, probs, labels, dloss):
        index = None
        if _jit_dtype(probs, dloss) is not None and probs.ndim == 2:
            if dloss.shape == probs.shape[:1]:
                index = self._labels(labels, probs.shape[0])
        if index is None:
            return super().sparse_softmax_cross_entropy_backward(probs, labels, dloss)
        grad = numpy.empty(probs.shape, probs.dtype)
        self._losses.sparse_softmax_cross_entropy_backward(
            numpy.ascontiguousarray(probs), index, numpy.ascontiguousarray(dloss), grad
        )
        return grad

    # -- optimizers (in place) ----------------------------------------------

    @staticmethod
    def _fused_update_ok(param, grad, *state) -> bool:
        """Whether an update kernel takes these arrays: NumPy arrays of one compiled dtype and
        one shape, ``param`` and the state C-contiguous (updated through flat views). One
        pass over them, as it runs for every weight at every step."""
        dtype, shape = param.dtype, param.shape
        if dtype not in _JIT_DTYPES:
            return False
        for array in (param, grad, *state):
            if type(array) is not numpy.ndarray or array.dtype != dtype or array.shape != shape:
                return False
        for array in (param, *state):
            if not array.flags.c_contiguous:
                return False
        return True

    def sgd_update(self, param, grad, lr):
        if param.size < _MIN_JIT_SGD_SIZE or not self._fused_update_ok(param, grad):
            return super().sgd_update(param, grad, lr)
        arrays = (param.reshape(-1), _flat(grad))
        self._update_in_slices(self._optimizers.sgd_update, arrays, (param.dtype.type(lr),))

    def sgd_momentum_update(self, param, grad, velocity, lr, momentum, nesterov=False):
        if param.size < _MIN_JIT_SGD_SIZE or not self._fused_update_ok(param, grad, velocity):
            return super().sgd_momentum_update(param, grad, velocity, lr, momentum, nesterov)
        scalar = param.dtype.type
        self._update_in_slices(
            self._optimizers.sgd_momentum_update,
            (param.reshape(-1), _flat(grad), velocity.reshape(-1)),
            (scalar(lr), scalar(momentum), bool(nesterov)),
        )

    def adam_update(self, param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat=None):
        state = (m, v) if v_hat is None else (m, v, v_hat)
        if not self._fused_update_ok(param, grad, *state):
            return super().adam_update(param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat)
        scalar = param.dtype.type
        args = (param.reshape(-1), _flat(grad), m.reshape(-1), v.reshape(-1))
        constants = (scalar(lr_t), scalar(1 - beta_1), scalar(1 - beta_2), scalar(epsilon))
        if v_hat is None:
            self._update_in_slices(self._optimizers.adam_update, args, constants)
        else:
            arrays = (*args, v_hat.reshape(-1))
            self._update_in_slices(self._optimizers.amsgrad_update, arrays, constants)

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

    # -- layer normalization: rows split between the pool's threads ------------

    @staticmethod
    def _layer_norm_args(x, gamma, beta, *others):
        """``gamma`` and ``beta`` as arrays (ones and zeros when absent), or None to fall back
        (also for an empty ``x``)."""
        params = _scale_and_shift(x, gamma, beta, *others)
        return None if params is None or x.size == 0 else params

    def layer_norm_forward(self, x, gamma, beta, epsilon):
        params = self._layer_norm_args(x, gamma, beta)
        if params is None:
            return super().layer_norm_forward(x, gamma, beta, epsilon)
        rows, features = x.shape
        y = numpy.empty(x.shape, x.dtype)
        mean = numpy.empty((rows, 1), x.dtype)
        variance = numpy.empty((rows, 1), x.dtype)
        args = (numpy.ascontiguousarray(x), *params, x.dtype.type(epsilon), y, mean, variance)
        min_rows = -(-_MIN_SPLIT_ELEMENTS // features)
        thread_pool.run_blocks(
            self._normalization.layer_norm_forward, *args, count=rows, min_block=min_rows
        )
        return y, mean, variance

    def layer_norm_backward(self, dy, x, mean, variance, gamma, epsilon):
        params = self._layer_norm_args(x, gamma, None, dy, mean, variance)
        rows = x.shape[0]
        if params is None or dy.shape != x.shape or not mean.shape == variance.shape == (rows, 1):
            return super().layer_norm_backward(dy, x, mean, variance, gamma, epsilon)
        features = x.shape[1]
        parts = min(thread_pool.width(), max(1, x.size // _MIN_SPLIT_ELEMENTS))
        blocks = thread_pool.blocks(rows, parts)
        bounds = numpy.array([start for start, _ in blocks] + [rows], numpy.int64)
        dx = numpy.empty(x.shape, x.dtype)
        dgamma_parts = numpy.empty((len(blocks), features))
        dbeta_parts = numpy.empty((len(blocks), features))
        arrays = (dy, x, mean, variance)
        thread_pool.run_blocks(
            self._normalization.layer_norm_backward,
            *(numpy.ascontiguousarray(a) for a in arrays),
            params[0],
            x.dtype.type(epsilon),
            bounds,
            dx,
            dgamma_parts,
            dbeta_parts,
            count=len(blocks),
        )
        dgamma = dgamma_parts.sum(axis=0).astype(x.dtype)
        dbeta = dbeta_parts.sum(axis=0).astype(x.dtype)
        return dx, dgamma, dbeta

    # -- dropout ---------------------------------------------------------------

    def dropout_mask(self, shape, rate: float, dtype):
        """The reference's mask from the same uniform stream, thresholded and scaled in one pass."""
        dtype = numpy.dtype(dtype)
        if dtype not in _JIT_DTYPES:
            return super().dropout_mask(shape, rate, dtype)
        mask = self.random_uniform(shape, dtype)
        scale = dtype.type(1.0 / (1.0 - rate))
        self._dropout.dropout_mask(mask.reshape(-1), dtype.type(rate), scale)
        return mask
