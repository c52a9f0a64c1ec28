"""Elementwise arithmetic, matmul and the unary math functions.

Each op's ``backward_graph`` (for ``create_graph=True``) recomputes what its
``backward`` reads from saved arrays (``exp(x)``, ``sqrt(x)``) as tensor ops
on its inputs, so that the gradient stays differentiable in them.
"""

from .. import config
from ..tensor import Function, Tensor, apply
from ._util import as_tensor, unbroadcast
from .shape import reshape, sum_to, transpose


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, grad):
        shape_a, shape_b = self.shapes
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad, shape_a) if need_a else None,
            unbroadcast(grad, shape_b) if need_b else None,
        )

    def backward_graph(self, grad):
        shape_a, shape_b = self.shapes
        need_a, need_b = self.needs_input_grad
        return (
            sum_to(grad, shape_a) if need_a else None,
            sum_to(grad, shape_b) if need_b else None,
        )


class Subtract(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, grad):
        shape_a, shape_b = self.shapes
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad, shape_a) if need_a else None,
            unbroadcast(-grad, shape_b) if need_b else None,
        )

    def backward_graph(self, grad):
        shape_a, shape_b = self.shapes
        need_a, need_b = self.needs_input_grad
        return (
            sum_to(grad, shape_a) if need_a else None,
            sum_to(-grad, shape_b) if need_b else None,
        )


class Multiply(Function):
    def forward(self, a, b):
        need_a, need_b = self.needs_input_grad
        self.a = a if need_b else None
        self.b = b if need_a else None
        self.shapes = a.shape, b.shape
        return a * b

    def backward(self, grad):
        shape_a, shape_b = self.shapes
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad * self.b, shape_a) if need_a else None,
            unbroadcast(grad * self.a, shape_b) if need_b else None,
        )

    def backward_graph(self, grad):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (
            sum_to(grad * b, a.shape) if need_a else None,
            sum_to(grad * a, b.shape) if need_b else None,
        )


class Divide(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        a, b = self.a, self.b
        need_a, need_b = self.needs_input_grad
        grad_over_b = grad / b
        return (
            unbroadcast(grad_over_b, a.shape) if need_a else None,
            unbroadcast(-grad_over_b * a / b, b.shape) if need_b else None,
        )

    def backward_graph(self, grad):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        grad_over_b = grad / b
        return (
            sum_to(grad_over_b, a.shape) if need_a else None,
            sum_to(-grad_over_b * a / b, b.shape) if need_b else None,
        )


class PowerScalar(Function):
    """``x ** exponent`` for a constant exponent."""

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        self.x = x
        return x**self.exponent

    def backward(self, grad):
        p = self.exponent
        return (grad * p * self.x ** (p - 1),)

    def backward_graph(self, grad):
        p = self.exponent
        if p == 1:  # x ** 0 would carry a 0 * inf into the next derivative at x = 0
            return (grad,)
        return (grad * (p * self.inputs[0] ** (p - 1)),)


class Power(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, grad):
        a, b, out = self.a, self.b, self.out
        need_a, need_b = self.needs_input_grad
        xp = self.backend.xp
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(grad * b * a ** (b - 1), a.shape)
        if need_b:
            log_a = xp.log(xp.where(a > 0, a, 1))
            grad_b = unbroadcast(grad * out * log_a, b.shape)
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = sum_to(grad * b * a ** (b - 1), a.shape)
        if need_b:
            log_a = log(where(a.data > 0, a, 1.0))
            grad_b = sum_to(grad * a**b * log_a, b.shape)
        return grad_a, grad_b


class Negative(Function):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return (-grad,)

    def backward_graph(self, grad):
        return (-grad,)


class MatMul(Function):
    def forward(self, a, b):
        need_a, need_b = self.needs_input_grad
        self.a = a if need_b else None
        self.b = b if need_a else None
        self.shapes = a.shape, b.shape
        return self.backend.matmul(a, b)

    def backward(self, grad):
        shape_a, shape_b = self.shapes
        need_a, need_b = self.needs_input_grad
        a, b = self.a, self.b
        matmul = self.backend.matmul
        if len(shape_a) == 2 and len(shape_b) == 2:
            return (
                matmul(grad, b.T) if need_a else None,
                matmul(a.T, grad) if need_b else None,
            )
        if len(shape_a) == 1 and len(shape_b) == 1:  # an inner product: grad is a scalar
            return (grad * b if need_a else None, grad * a if need_b else None)
        # promote vectors to matrices as matmul does, then undo it
        if len(shape_a) == 1:
            grad = grad[..., None, :]
            a = a[None, :] if a is not None else None
        if len(shape_b) == 1:
            grad = grad[..., None]
            b = b[:, None] if b is not None else None
        grad_a = grad_b = None
        if need_a:
            full = matmul(grad, b.swapaxes(-1, -2))
            grad_a = unbroadcast(full, (1, shape_a[0]) if len(shape_a) == 1 else shape_a)
            grad_a = grad_a.reshape(shape_a)
        if need_b:
            full = matmul(a.swapaxes(-1, -2), grad)
            grad_b = unbroadcast(full, (shape_b[0], 1) if len(shape_b) == 1 else shape_b)
            grad_b = grad_b.reshape(shape_b)
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:
            return (grad * b if need_a else None, grad * a if need_b else None)
        # promote vectors to matrices as matmul does, then undo it
        if a.ndim == 1:
            grad = reshape(grad, (*grad.shape[:-1], 1, grad.shape[-1]))
            a = reshape(a, (1, a.shape[0]))
        if b.ndim == 1:
            grad = reshape(grad, (*grad.shape, 1))
            b = reshape(b, (b.shape[0], 1))
        grad_a = grad_b = None
        if need_a:
            grad_a = reshape(sum_to(matmul(grad, _swap_last(b)), a.shape), self.shapes[0])
        if need_b:
            grad_b = reshape(sum_to(matmul(_swap_last(a), grad), b.shape), self.shapes[1])
        return grad_a, grad_b


def _swap_last(x: Tensor) -> Tensor:
    """``x`` with its last two axes swapped."""
    axes = list(range(x.ndim))
    axes[-2:] = axes[-1], axes[-2]
    return transpose(x, axes)


class Exp(Function):
    def forward(self, x):
        self.y = self.backend.xp.exp(x)
        return self.y

    def backward(self, grad):
        return (grad * self.y,)

    def backward_graph(self, grad):
        return (grad * exp(self.inputs[0]),)


class Log(Function):
    def forward(self, x):
        self.x = x
        return self.backend.xp.log(x)

    def backward(self, grad):
        return (grad / self.x,)

    def backward_graph(self, grad):
        return (grad / self.inputs[0],)


class Sqrt(Function):
    def forward(self, x):
        self.y = self.backend.xp.sqrt(x)
        return self.y

    def backward(self, grad):
        return (grad / (2 * self.y),)

    def backward_graph(self, grad):
        return (grad / (sqrt(self.inputs[0]) * 2.0),)


class Abs(Function):
    def forward(self, x):
        self.x = x
        return self.backend.xp.abs(x)

    def backward(self, grad):
        return (grad * self.backend.xp.sign(self.x),)

    def backward_graph(self, grad):
        return (grad * as_tensor(self.backend.xp.sign(self.x), grad),)


class Clip(Function):
    """Clip to ``[low, high]``; the gradient passes only where the input was inside."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        self.x = x
        return self.backend.xp.clip(x, self.low, self.high)

    def _inside(self):
        x = self.x
        inside = True
        if self.low is not None:
            inside = x >= self.low
        if self.high is not None:
            inside = inside & (x <= self.high)
        return inside

    def backward(self, grad):
        return (grad * self._inside(),)

    def backward_graph(self, grad):
        return (grad * as_tensor(self._inside(), grad),)


class Where(Function):
    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return self.backend.xp.where(self.condition, a, b)

    def backward(self, grad):
        xp = self.backend.xp
        need_a, need_b = self.needs_input_grad
        zero = xp.zeros((), dtype=grad.dtype)
        return (
            unbroadcast(xp.where(self.condition, grad, zero), self.shapes[0]) if need_a else None,
            unbroadcast(xp.where(self.condition, zero, grad), self.shapes[1]) if need_b else None,
        )

    def backward_graph(self, grad):
        need_a, need_b = self.needs_input_grad
        zero = as_tensor(0.0, grad)
        grad_a = grad_b = None
        if need_a:
            grad_a = sum_to(apply(Where(self.condition), grad, zero), self.shapes[0])
        if need_b:
            grad_b = sum_to(apply(Where(self.condition), zero, grad), self.shapes[1])
        return grad_a, grad_b


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.source_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, grad):
        return (grad.astype(self.source_dtype),)

    def backward_graph(self, grad):
        return (cast(grad, self.source_dtype),)


def _operands(a, b) -> tuple:
    """Both operands as tensors (a number beside a tensor becomes one, see ``_with_number``)."""
    if not isinstance(a, Tensor):
        a, b = _with_number(a, b)
    elif not isinstance(b, Tensor):
        b, a = _with_number(b, a)
    return a, b


def _binary(function_class, a, b) -> Tensor:
    return apply(function_class(), *_operands(a, b))


def _with_number(value, tensor: Tensor) -> tuple:
    """``value`` as a tensor beside ``tensor``; a Python float meeting an integer tensor
    makes both floatx, as Keras 3 does (NumPy would widen int32 + float32 to float64)."""
    value = as_tensor(value, tensor)
    if value.data.dtype.kind == "f" and tensor.data.dtype.kind != "f":
        tensor = apply(Cast(value.data.dtype), tensor)
    return value, tensor


def add(a, b) -> Tensor:
    return _binary(Add, a, b)


def subtract(a, b) -> Tensor:
    return _binary(Subtract, a, b)


def multiply(a, b) -> Tensor:
    return _binary(Multiply, a, b)


def divide(a, b) -> Tensor:
    """``a / b``; integers divide to floatx, as Keras 3's (NumPy would give float64)."""
    a, b = _operands(a, b)
    if a.data.dtype.kind not in "fc" and b.data.dtype.kind not in "fc":
        floatx = config.floatx()
        a, b = apply(Cast(floatx), a), apply(Cast(floatx), b)
    return apply(Divide(), a, b)


def power(a, b) -> Tensor:
    if isinstance(a, Tensor) and isinstance(b, (int, float)):
        return apply(PowerScalar(b), a)
    return _binary(Power, a, b)


def negative(x: Tensor) -> Tensor:
    return apply(Negative(), x)


def matmul(a, b) -> Tensor:
    return _binary(MatMul, a, b)


def exp(x: Tensor) -> Tensor:
    return apply(Exp(), x)


def log(x: Tensor) -> Tensor:
    return apply(Log(), x)


def sqrt(x: Tensor) -> Tensor:
    return apply(Sqrt(), x)


def abs(x: Tensor) -> Tensor:  # noqa: A001  (mirrors numpy.abs)
    return apply(Abs(), x)


def clip(x: Tensor, min_value=None, max_value=None) -> Tensor:
    if min_value is None and max_value is None:
        raise ValueError("clip: give at least one of min_value and max_value.")
    return apply(Clip(min_value, max_value), x)


def where(condition, a, b) -> Tensor:
    """Elementwise ``a`` where ``condition`` holds, else ``b`` (the condition has no gradient)."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("where: at least one of a and b must be a Tensor.")
    a, b = as_tensor(a, like), as_tensor(b, like)
    if isinstance(condition, Tensor):
        condition = condition.data
    condition = like.backend.asarray(condition).astype(bool)
    return apply(Where(condition), a, b)


def cast(x: Tensor, dtype) -> Tensor:
    return apply(Cast(dtype), x)
