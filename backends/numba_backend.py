"""The numba backend: NumPy arrays, with the hot kernels as ``@numba.njit`` loops.

``NumbaBackend`` overrides only the kernels that a measurement showed the
generic NumPy code to be slow on; everything else is the NumPy reference.
Overrides cover C-contiguous float32 and float64 arrays and hand every other
dtype (float16, integers) to ``super()``, so Numba never sees a type it was
not written for. Numba is imported lazily: this module imports without it,
and selecting the backend without it raises ``BackendUnavailableError``.
"""

import importlib

import numpy

from .kernels.pooling import _pool_geometry
from .numpy_backend import NumpyBackend

_JIT_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))
_FAMILIES = (
    "activations",
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
_NARROW_ROWS = 32


def _jit_dtype(*arrays):
    """The shared dtype of ``arrays`` if the kernels compile for it, else None."""
    dtype = arrays[0].dtype
    if dtype not in _JIT_DTYPES:
        return None
    for array in arrays:
        if type(array) is not numpy.ndarray or array.dtype != dtype:
            return None
    return dtype


def _flat(array):
    """A C-contiguous 1-D view (a copy only when ``array`` is not contiguous)."""
    return numpy.ascontiguousarray(array).reshape(-1)


def _in_place_ok(*arrays):
    """Whether the arrays can be updated in place through flat views."""
    return _jit_dtype(*arrays) is not None and all(a.flags.c_contiguous for a in arrays)


class NumbaBackend(NumpyBackend):
    name = "numba"

    def __init__(self):
        super().__init__()
        for family in _FAMILIES:
            module = importlib.import_module(f"{__package__}.numba_kernels.{family}")
            setattr(self, f"_{family}", module)

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

    # -- elementwise activations -----------------------------------------

    def _unary(self, kernel, x, *scalars):
        out = numpy.empty(x.shape, x.dtype)
        kernel(_flat(x), *(x.dtype.type(s) for s in scalars), out.reshape(-1))
        return out

    def _binary(self, kernel, a, b, *scalars):
        out = numpy.empty(a.shape, a.dtype)
        args = (_flat(a), _flat(b), *(a.dtype.type(s) for s in scalars), out.reshape(-1))
        kernel(*args)
        return out

    def relu_forward(self, x):
        if _jit_dtype(x) is None or x.size < _MIN_JIT_SIZE:
            return super().relu_forward(x)
        return self._unary(self._activations.relu_forward, x)

    def relu_backward(self, dy, x, y):
        if _jit_dtype(dy, y) is None or dy.shape != y.shape or y.size < _MIN_JIT_SIZE:
            return super().relu_backward(dy, x, y)
        return self._binary(self._activations.relu_backward, dy, y)

    def sigmoid_forward(self, x):
        if _jit_dtype(x) is None or x.size > _SCALAR_MATH_LIMIT:
            return super().sigmoid_forward(x)
        return self._unary(self._activations.sigmoid_forward, x)

    def sigmoid_backward(self, dy, x, y):
        if _jit_dtype(dy, y) is None or dy.shape != y.shape or y.size < _MIN_JIT_SIZE:
            return super().sigmoid_backward(dy, x, y)
        return self._binary(self._activations.sigmoid_backward, dy, y)

    def tanh_backward(self, dy, x, y):
        if _jit_dtype(dy, y) is None or dy.shape != y.shape or y.size < _MIN_JIT_SIZE:
            return super().tanh_backward(dy, x, y)
        return self._binary(self._activations.tanh_backward, dy, y)

    def leaky_relu_forward(self, x, negative_slope=0.2):
        if _jit_dtype(x) is None or x.size < _MIN_JIT_SIZE:
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
    def _same_shape(param, *arrays):
        return all(a.shape == param.shape for a in arrays)

    def sgd_update(self, param, grad, lr):
        if not _in_place_ok(param) or _jit_dtype(param, grad) is None or grad.shape != param.shape:
            return super().sgd_update(param, grad, lr)
        self._optimizers.sgd_update(param.reshape(-1), _flat(grad), param.dtype.type(lr))

    def sgd_momentum_update(self, param, grad, velocity, lr, momentum, nesterov=False):
        if (
            not _in_place_ok(param, velocity)
            or _jit_dtype(param, grad) is None
            or not self._same_shape(param, grad, velocity)
        ):
            return super().sgd_momentum_update(param, grad, velocity, lr, momentum, nesterov)
        scalar = param.dtype.type
        self._optimizers.sgd_momentum_update(
            param.reshape(-1),
            _flat(grad),
            velocity.reshape(-1),
            scalar(lr),
            scalar(momentum),
            bool(nesterov),
        )

    def adam_update(self, param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat=None):
        state = (m, v) if v_hat is None else (m, v, v_hat)
        if (
            not _in_place_ok(param, *state)
            or _jit_dtype(param, grad) is None
            or not self._same_shape(param, grad, *state)
        ):
            return super().adam_update(param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat)
        scalar = param.dtype.type
        args = (param.reshape(-1), _flat(grad), m.reshape(-1), v.reshape(-1))
        constants = (scalar(lr_t), scalar(1 - beta_1), scalar(1 - beta_2), scalar(epsilon))
        if v_hat is None:
            self._optimizers.adam_update(*args, *constants)
        else:
            self._optimizers.amsgrad_update(*args, v_hat.reshape(-1), *constants)

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
        if (
            not _in_place_ok(param, *state)
            or _jit_dtype(param, grad) is None
            or not self._same_shape(param, grad, *state)
        ):
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
        if (
            not _in_place_ok(param, accumulator)
            or _jit_dtype(param, grad) is None
            or not self._same_shape(param, grad, accumulator)
        ):
            return super().adagrad_update(param, grad, accumulator, lr, epsilon)
        scalar = param.dtype.type
        self._optimizers.adagrad_update(
            param.reshape(-1), _flat(grad), accumulator.reshape(-1), scalar(lr), scalar(epsilon)
        )

    # -- dropout ---------------------------------------------------------------

    def dropout_mask(self, shape, rate: float, dtype):
        """The reference's mask from the same uniform stream, thresholded and scaled in one pass."""
        dtype = numpy.dtype(dtype)
        if dtype not in _JIT_DTYPES:
            return super().dropout_mask(shape, rate, dtype)
        uniform = self._random.random_sample(shape)
        out = numpy.empty(uniform.shape, dtype)
        scale = dtype.type(1.0 / (1.0 - rate))
        self._dropout.dropout_mask(uniform.reshape(-1), dtype.type(rate), scale, out.reshape(-1))
        return out

    # -- pooling -----------------------------------------------------------------

    def max_pool2d_forward(self, x, pool_size, strides, padding="valid"):
        if _jit_dtype(x) is None or x.ndim != 4 or x.size == 0:
            return super().max_pool2d_forward(x, pool_size, strides, padding)
        pads, out_hw = _pool_geometry(x.shape, pool_size, strides, padding)
        out_shape = (x.shape[0], *out_hw, x.shape[3])
        index_dtype = numpy.int8 if pool_size[0] * pool_size[1] <= 127 else numpy.int32
        y = numpy.empty(out_shape, x.dtype)
        argmax = numpy.empty(out_shape, index_dtype)
        self._pooling.max_pool2d_forward(
            numpy.ascontiguousarray(x),
            *map(int, (*pool_size, *strides, pads[0][0], pads[1][0])),
            y,
            argmax,
        )
        return y, argmax

    def max_pool2d_backward(self, dy, argmax, x_shape, pool_size, strides, padding="valid"):
        if _jit_dtype(dy) is None or dy.ndim != 4 or type(argmax) is not numpy.ndarray:
            return super().max_pool2d_backward(dy, argmax, x_shape, pool_size, strides, padding)
        pads, _ = _pool_geometry(x_shape, pool_size, strides, padding)
        if strides[0] >= pool_size[0] and strides[1] >= pool_size[1]:
            dx = numpy.empty(tuple(x_shape), dy.dtype)
            self._pooling.max_pool2d_backward_disjoint(
                numpy.ascontiguousarray(dy),
                numpy.ascontiguousarray(argmax),
                *map(int, (*pool_size, *strides, pads[0][0], pads[1][0])),
                dx,
            )
            return dx
        dx = numpy.zeros(tuple(x_shape), dy.dtype)
        self._pooling.max_pool2d_backward(
            numpy.ascontiguousarray(dy),
            numpy.ascontiguousarray(argmax),
            *map(int, (pool_size[1], *strides, pads[0][0], pads[1][0])),
            dx,
        )
        return dx

    # -- convolution and normalization -------------------------------------------

    def _conv_plan(self, x_shape, window, strides, padding, dilation):
        """``(out_hw, geometry, pointwise)`` for the kernels, or None to fall back.

        ``geometry`` is the integer strides, dilation and top/left padding the
        kernels take; ``pointwise`` means ``x`` is its own column matrix (a 1x1
        window, stride 1 and no padding).
        """
        pads, out_hw = self._conv_geometry(x_shape, window, strides, padding, dilation)
        if min(pads[0] + pads[1]) < 0:
            return None
        geometry = tuple(map(int, (*strides, *dilation, pads[0][0], pads[1][0])))
        pointwise = tuple(window) == (1, 1) and tuple(strides) == (1, 1) and out_hw == x_shape[1:3]
        return out_hw, geometry, pointwise

    def _columns(self, x, window, out_hw, geometry, pointwise):
        """The ``(n * out_h * out_w, kh * kw * c)`` column matrix of ``x``'s windows."""
        n, _, _, c = x.shape
        rows = n * out_hw[0] * out_hw[1]
        x = numpy.ascontiguousarray(x)
        if pointwise:
            return x.reshape(rows, c)
        cols = numpy.empty((n, *out_hw, *window, c), x.dtype)
        self._conv.im2col(x, *geometry, cols)
        return cols.reshape(rows, -1)

    def conv2d_forward(
        self, x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        kh, kw, c, f = kernel.shape
        arrays = (x, kernel) if bias is None else (x, kernel, bias)
        plan = (
            _jit_dtype(*arrays) is not None
            and x.ndim == 4
            and x.size > 0
            and kernel.size > 0
            and x.shape[3] == c
            and (bias is None or bias.shape == (f,))
            and self._conv_plan(x.shape, (kh, kw), strides, padding, dilation)
        )
        if not plan:
            return super().conv2d_forward(x, kernel, bias, strides, padding, dilation)
        cols = self._columns(x, (kh, kw), *plan)
        y = numpy.matmul(cols, numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f))
        if bias is not None:
            self._conv.add_bias(y, numpy.ascontiguousarray(bias))
        return y.reshape(x.shape[0], *plan[0], f)

    def conv2d_backward_input(
        self, dy, kernel, x_shape, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        kh, kw, c, f = kernel.shape
        plan = (
            _jit_dtype(dy, kernel) is not None
            and dy.ndim == 4
            and len(x_shape) == 4
            and dy.size > 0
            and kernel.size > 0
            and (dy.shape[0], dy.shape[3], x_shape[3]) == (x_shape[0], f, c)
            and self._conv_plan(x_shape, (kh, kw), strides, padding, dilation)
        )
        if not plan or plan[0] != dy.shape[1:3]:
            return super().conv2d_backward_input(dy, kernel, x_shape, strides, padding, dilation)
        out_hw, geometry, pointwise = plan
        weights = numpy.ascontiguousarray(kernel).reshape(kh * kw * c, f)
        dcols = numpy.matmul(dy.reshape(-1, f), weights.T)
        if pointwise:
            return dcols.reshape(x_shape)
        dx = numpy.zeros(tuple(x_shape), dy.dtype)
        self._conv.col2im(dcols.reshape(x_shape[0], *out_hw, kh, kw, c), *geometry, dx)
        return dx

    def conv2d_backward_weight(
        self, dy, x, kernel_shape, strides=(1, 1), padding="valid", dilation=(1, 1)
    ):
        kh, kw, c, f = kernel_shape
        plan = (
            _jit_dtype(dy, x) is not None
            and x.ndim == 4
            and dy.ndim == 4
            and x.size > 0
            and (x.shape[3], dy.shape[0], dy.shape[3]) == (c, x.shape[0], f)
            and self._conv_plan(x.shape, (kh, kw), strides, padding, dilation)
        )
        if not plan or plan[0] != dy.shape[1:3]:
            return super().conv2d_backward_weight(dy, x, kernel_shape, strides, padding, dilation)
        cols = self._columns(x, (kh, kw), *plan)
        return numpy.matmul(cols.T, dy.reshape(-1, f)).reshape(kernel_shape)

    def bias_activation_forward(self, y, bias=None, activation=None):
        if (
            activation not in (None, "relu")
            or _jit_dtype(y) is None
            or not y.flags.c_contiguous
            or y.ndim == 0
            or y.size == 0
            or (bias is not None and (_jit_dtype(y, bias) is None or bias.shape != y.shape[-1:]))
        ):
            return super().bias_activation_forward(y, bias, activation)
        rows = y.reshape(-1, y.shape[-1])
        if bias is None:
            if activation is None:
                return y
            bias = numpy.zeros(y.shape[-1], y.dtype)
        kernel = self._conv.add_bias if activation is None else self._conv.add_bias_relu
        kernel(rows, numpy.ascontiguousarray(bias))
        return y

    # average pooling (max pooling is overridden with the other pooling kernels above)

    def avg_pool2d_forward(self, x, pool_size, strides, padding="valid"):
        if _jit_dtype(x) is None or x.ndim != 4 or x.size == 0:
            return super().avg_pool2d_forward(x, pool_size, strides, padding)
        pads, out_hw = _pool_geometry(x.shape, pool_size, strides, padding)
        y = numpy.empty((x.shape[0], *out_hw, x.shape[3]), x.dtype)
        self._pooling.avg_pool2d_forward(
            numpy.ascontiguousarray(x),
            *map(int, (*pool_size, *strides, pads[0][0], pads[1][0])),
            y,
        )
        return y

    def avg_pool2d_backward(self, dy, x_shape, pool_size, strides, padding="valid"):
        if _jit_dtype(dy) is None or dy.ndim != 4 or len(x_shape) != 4:
            return super().avg_pool2d_backward(dy, x_shape, pool_size, strides, padding)
        pads, _ = _pool_geometry(x_shape, pool_size, strides, padding)
        dx = numpy.zeros(tuple(x_shape), dy.dtype)
        self._pooling.avg_pool2d_backward(
            numpy.ascontiguousarray(dy),
            *map(int, (*pool_size, *strides, pads[0][0], pads[1][0])),
            dx,
        )
        return dx

    def _batch_norm_args(self, x, gamma, beta):
        """``gamma`` and ``beta`` as arrays (ones and zeros when absent), or None to fall back."""
        params = [p for p in (gamma, beta) if p is not None]
        if _jit_dtype(x, *params) is None or x.ndim != 2 or x.shape[0] == 0:
            return None
        if any(p.shape != x.shape[1:] for p in params):
            return None
        channels = x.shape[1]
        gamma = numpy.ones(channels, x.dtype) if gamma is None else numpy.ascontiguousarray(gamma)
        beta = numpy.zeros(channels, x.dtype) if beta is None else numpy.ascontiguousarray(beta)
        return gamma, beta

    def batch_norm_forward(self, x, gamma, beta, epsilon):
        params = self._batch_norm_args(x, gamma, beta)
        if params is None:
            return super().batch_norm_forward(x, gamma, beta, epsilon)
        y = numpy.empty(x.shape, x.dtype)
        mean = numpy.empty(x.shape[1], x.dtype)
        variance = numpy.empty(x.shape[1], x.dtype)
        self._normalization.batch_norm_forward(
            numpy.ascontiguousarray(x), *params, x.dtype.type(epsilon), y, mean, variance
        )
        return y, mean, variance

    def batch_norm_backward(self, dy, x, mean, variance, gamma, epsilon):
        params = self._batch_norm_args(x, gamma, None)
        if (
            params is None
            or _jit_dtype(x, dy, mean, variance) is None
            or dy.shape != x.shape
            or mean.shape != x.shape[1:]
            or variance.shape != x.shape[1:]
        ):
            return super().batch_norm_backward(dy, x, mean, variance, gamma, epsilon)
        dx = numpy.empty(x.shape, x.dtype)
        dgamma = numpy.empty(x.shape[1], x.dtype)
        dbeta = numpy.empty(x.shape[1], x.dtype)
        self._normalization.batch_norm_backward(
            numpy.ascontiguousarray(dy),
            numpy.ascontiguousarray(x),
            numpy.ascontiguousarray(mean),
            numpy.ascontiguousarray(variance),
            params[0],
            x.dtype.type(epsilon),
            dx,
            dgamma,
            dbeta,
        )
        return dx, dgamma, dbeta

    # -- recurrent and embedding -----------------------------------------------
    #
    # The sequence kernels run the whole time loop in one jitted call. Their
    # cache holds no pre-activations (None in its place): the fused backward
    # takes every derivative from the activations' outputs, and recognises its
    # own forward's cache by that None.

    def _activation_codes(self, *names):
        codes = [self._recurrent.ACTIVATION_CODES.get(name) for name in names]
        return None if None in codes else codes

    @staticmethod
    def _step_mask(mask, x_proj):
        """The mask as the kernels take it (``(0, 0)`` for none), or None to fall back."""
        if mask is None:
            return numpy.zeros((0, 0), dtype=bool)
        if type(mask) is not numpy.ndarray or mask.shape != x_proj.shape[:2]:
            return None
        return numpy.ascontiguousarray(mask, dtype=bool)

    def _sequence_inputs(self, x_proj, recurrent_kernel, states, mask, names):
        """``(codes, mask)`` for the fused kernels, or None where they do not apply."""
        codes = self._activation_codes(*names)
        if codes is None or _jit_dtype(x_proj, recurrent_kernel, *states) is None:
            return None
        if x_proj.ndim != 3 or x_proj.shape[0] == 0:
            return None
        step_mask = self._step_mask(mask, x_proj)
        return None if step_mask is None else (codes, step_mask)

    @staticmethod
    def _run_rows(kernel, *args, batch):
        """Run a sequence kernel over all batch rows, on this thread.

        The kernels take a row range so that rows could be split between
        threads. A prange over two row blocks halved their time on free cores,
        but with other processes busy it made W4 training 2-3x slower (median
        of interleaved runs, Numba's OpenMP layer): its workers spin against
        OpenBLAS's threads. Not done until measured on an idle machine.
        """
        kernel(*args, 0, batch)

    @staticmethod
    def _state_sequence(x_proj, initial):
        states = numpy.empty((x_proj.shape[0] + 1, *initial.shape), dtype=x_proj.dtype)
        states[0] = initial
        return states

    @staticmethod
    def _gradient_inputs(dtype, grad_outputs, *state_grads):
        """Contiguous copies the backward kernels may write into (the state gradients)."""
        return (numpy.ascontiguousarray(grad_outputs, dtype=dtype),) + tuple(
            numpy.array(g, dtype=dtype, order="C") for g in state_grads
        )

    def simple_rnn_sequence_forward(
        self, x_proj, recurrent_kernel, h0, mask=None, activation="tanh"
    ):
        fused = self._sequence_inputs(x_proj, recurrent_kernel, [h0], mask, [activation])
        if fused is None:
            return super().simple_rnn_sequence_forward(
                x_proj, recurrent_kernel, h0, mask, activation
            )
        (code,), step_mask = fused
        h_states = self._state_sequence(x_proj, h0)
        self._run_rows(
            self._recurrent.simple_rnn_forward,
            numpy.ascontiguousarray(x_proj),
            numpy.ascontiguousarray(recurrent_kernel),
            step_mask,
            code,
            h_states,
            batch=x_proj.shape[1],
        )
        return h_states[1:], h_states[-1], (h_states, None)

    def simple_rnn_sequence_backward(
        self, grad_outputs, dh, recurrent_kernel, cache, mask=None, activation="tanh"
    ):
        h_states, preact = cache
        if preact is not None:
            return super().simple_rnn_sequence_backward(
                grad_outputs, dh, recurrent_kernel, cache, mask, activation
            )
        grad_outputs, dh = self._gradient_inputs(h_states.dtype, grad_outputs, dh)
        dx_proj = numpy.empty(grad_outputs.shape, h_states.dtype)
        self._run_rows(
            self._recurrent.simple_rnn_backward,
            grad_outputs,
            dh,
            numpy.ascontiguousarray(recurrent_kernel.T, dtype=h_states.dtype),
            self._step_mask(mask, grad_outputs),
            self._activation_codes(activation)[0],
            h_states,
            dx_proj,
            batch=dh.shape[0],
        )
        return dx_proj, self._recurrent_kernel_grad(h_states, dx_proj), dh

    def lstm_sequence_forward(
        self,
        x_proj,
        recurrent_kernel,
        h0,
        c0,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        names = [activation, recurrent_activation]
        fused = self._sequence_inputs(x_proj, recurrent_kernel, [h0, c0], mask, names)
        if fused is None:
            return super().lstm_sequence_forward(
                x_proj, recurrent_kernel, h0, c0, mask, activation, recurrent_activation
            )
        codes, step_mask = fused
        h_states = self._state_sequence(x_proj, h0)
        c_states = self._state_sequence(x_proj, c0)
        gates = x_proj = numpy.ascontiguousarray(x_proj)  # consumed: the gates overwrite it
        self._run_rows(
            self._recurrent.lstm_forward,
            x_proj,
            numpy.ascontiguousarray(recurrent_kernel),
            step_mask,
            *codes,
            h_states,
            c_states,
            gates,
            batch=x_proj.shape[1],
        )
        return h_states[1:], h_states[-1], c_states[-1], (h_states, c_states, None, gates)

    def lstm_sequence_backward(
        self,
        grad_outputs,
        dh,
        dc,
        recurrent_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        h_states, c_states, preact, gates = cache
        if preact is not None:
            return super().lstm_sequence_backward(
                grad_outputs, dh, dc, recurrent_kernel, cache, mask, activation,
                recurrent_activation,
            )  # fmt: skip
        grad_outputs, dh, dc = self._gradient_inputs(gates.dtype, grad_outputs, dh, dc)
        dx_proj = gates  # the cache is consumed: the gradients overwrite the gates
        self._run_rows(
            self._recurrent.lstm_backward,
            grad_outputs,
            dh,
            dc,
            numpy.ascontiguousarray(recurrent_kernel.T, dtype=gates.dtype),
            self._step_mask(mask, grad_outputs),
            *self._activation_codes(activation, recurrent_activation),
            c_states,
            gates,
            dx_proj,
            batch=dh.shape[0],
        )
        return dx_proj, self._recurrent_kernel_grad(h_states, dx_proj), dh, dc

    def gru_sequence_forward(
        self,
        x_proj,
        recurrent_kernel,
        recurrent_bias,
        h0,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        names = [activation, recurrent_activation]
        arrays = [h0] if recurrent_bias is None else [h0, recurrent_bias]
        fused = self._sequence_inputs(x_proj, recurrent_kernel, arrays, mask, names)
        if fused is None:
            return super().gru_sequence_forward(
                x_proj, recurrent_kernel, recurrent_bias, h0, mask, activation,
                recurrent_activation,
            )  # fmt: skip
        codes, step_mask = fused
        if recurrent_bias is None:
            recurrent_bias = numpy.zeros(x_proj.shape[2], x_proj.dtype)
        h_states = self._state_sequence(x_proj, h0)
        gates = x_proj = numpy.ascontiguousarray(x_proj)  # consumed: the gates overwrite it
        rec_h = numpy.empty((x_proj.shape[0], *h0.shape), x_proj.dtype)
        self._run_rows(
            self._recurrent.gru_forward,
            x_proj,
            numpy.ascontiguousarray(recurrent_kernel),
            numpy.ascontiguousarray(recurrent_bias),
            step_mask,
            *codes,
            h_states,
            gates,
            rec_h,
            batch=x_proj.shape[1],
        )
        return h_states[1:], h_states[-1], (h_states, None, gates, rec_h)

    def gru_sequence_backward(
        self,
        grad_outputs,
        dh,
        recurrent_kernel,
        cache,
        mask=None,
        activation="tanh",
        recurrent_activation="sigmoid",
    ):
        h_states, preact, gates, rec_h = cache
        if preact is not None:
            return super().gru_sequence_backward(
                grad_outputs, dh, recurrent_kernel, cache, mask, activation, recurrent_activation
            )
        grad_outputs, dh = self._gradient_inputs(gates.dtype, grad_outputs, dh)
        dx_proj, drec = gates, numpy.empty_like(gates)  # the cache is consumed
        self._run_rows(
            self._recurrent.gru_backward,
            grad_outputs,
            dh,
            numpy.ascontiguousarray(recurrent_kernel.T, dtype=gates.dtype),
            self._step_mask(mask, grad_outputs),
            *self._activation_codes(activation, recurrent_activation),
            h_states,
            gates,
            rec_h,
            dx_proj,
            drec,
            batch=dh.shape[0],
        )
        d_bias = drec.reshape(-1, drec.shape[-1]).sum(axis=0)
        return dx_proj, self._recurrent_kernel_grad(h_states, drec), d_bias, dh

    def embedding_backward(self, indices, grad, input_dim: int):
        if (
            _jit_dtype(grad) is None
            or type(indices) is not numpy.ndarray
            or indices.dtype.kind not in "iu"
            or grad.shape[:-1] != indices.shape
        ):
            return super().embedding_backward(indices, grad, input_dim)
        rows = numpy.ascontiguousarray(indices, dtype=numpy.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= input_dim):
            return super().embedding_backward(indices, grad, input_dim)  # NumPy's error
        output_dim = grad.shape[-1]
        table_grad = numpy.zeros((input_dim, output_dim), dtype=grad.dtype)
        self._embedding.embedding_backward(
            rows, numpy.ascontiguousarray(grad).reshape(-1, output_dim), table_grad
        )
        return table_grad
