"""Tensor, the differentiable op base class, and the backward pass.

Define-by-run, as in Chainer and PyTorch: each op (a ``Function``) records its
inputs when any of them requires a gradient; ``Tensor.backward`` walks the
recorded graph once in reverse topological order, using a heap keyed on
generation (no recursion), and frees each op's saved arrays after use.
"""

import contextlib
import contextvars
import heapq
import itertools

import numpy

import backends

from . import config

#: Whether ops record the graph. A ContextVar, so the switch is per thread (and
#: per asyncio task), as in PyTorch: ``predict`` in one thread must not stop a
#: ``fit`` in another from recording.
_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "engine_grad_enabled", default=True
)
#: ``apply`` reads the mode on every op: the bound ``get`` (cached per thread by
#: CPython) costs no more than the class attribute it replaced.
_recording = _grad_enabled.get


class _GradModeSwitch(contextlib.ContextDecorator):
    """Sets the calling thread's grad mode for a block, restoring it after."""

    enabled: bool

    def __enter__(self):
        self._previous = _grad_enabled.get()
        _grad_enabled.set(self.enabled)

    def __exit__(self, *exc):
        _grad_enabled.set(self._previous)

    def _recreate_cm(self):
        # A fresh instance per decorated call: one shared ``_previous`` would be
        # overwritten when two threads run the decorated function at once.
        return type(self)()


class no_grad(_GradModeSwitch):
    """Context manager (or decorator) that stops recording the graph in this thread."""

    enabled = False


class enable_grad(_GradModeSwitch):
    """Context manager (or decorator) that turns recording back on in this thread."""

    enabled = True


def is_grad_enabled() -> bool:
    """Whether ops called from this thread record the graph."""
    return _grad_enabled.get()


class Function:
    """One differentiable op.

    Subclasses implement ``forward(*arrays) -> array`` and
    ``backward(grad) -> tuple`` (one gradient or None per input), using
    ``self.backend`` for kernels. ``self.needs_input_grad`` is set before
    ``forward`` so an op can save only what its backward will use.
    """

    backend: backends.Backend
    needs_input_grad: tuple

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError


def _mismatch_error(first, other) -> backends.BackendMismatchError:
    return backends.BackendMismatchError(
        f"Cannot combine a tensor on backend '{first.name}' with one on backend "
        f"'{other.name}'. Move one of them first, e.g. tensor.to('{first.name}') "
        f"or model.to('{first.name}')."
    )


def apply(fn: Function, *inputs: "Tensor") -> "Tensor":
    """Run ``fn`` on tensors, recording it in the graph when a gradient is needed."""
    backend = inputs[0].backend
    for tensor in inputs:
        if tensor.backend is not backend:
            raise _mismatch_error(backend, tensor.backend)
    fn.backend = backend
    record = False
    if _recording():
        needs = tuple([t.requires_grad for t in inputs])
        record = True in needs
    if not record:
        fn.needs_input_grad = (False,) * len(inputs)
        return Tensor._wrap(fn.forward(*[t.data for t in inputs]), backend)
    fn.needs_input_grad = needs
    out = Tensor._wrap(fn.forward(*[t.data for t in inputs]), backend)
    fn.inputs = inputs
    fn.generation = generation = max([t.generation for t in inputs])
    out.requires_grad = True
    out.creator = fn
    out.generation = generation + 1
    return out


def _accumulate_leaf(tensor: "Tensor", grad) -> None:
    data = tensor.data
    if grad.shape != data.shape:
        raise RuntimeError(
            f"Internal error: gradient of shape {grad.shape} for a tensor of shape {data.shape}."
        )
    if grad.dtype != data.dtype:
        grad = grad.astype(data.dtype)
    if tensor.grad is None:
        tensor.grad = Tensor._wrap(grad, tensor.backend)
    else:
        tensor.grad.data = tensor.grad.data + grad


def run_backward(root: Function, grad, retain_graph: bool = False) -> None:
    """Propagate ``grad`` from ``root``'s output to every leaf that requires a gradient."""
    counter = itertools.count()
    pending = {root: grad}
    heap = [(-getattr(root, "generation", 0), 0, root)]
    while heap:
        fn = heapq.heappop(heap)[2]
        grad_out = pending.pop(fn)
        inputs = getattr(fn, "inputs", None)
        if inputs is None:
            raise RuntimeError(
                "Trying to run backward through the graph a second time; its saved arrays "
                "were freed. Call backward(retain_graph=True) the first time."
            )
        grads = fn.backward(grad_out)
        if not retain_graph:
            fn.__dict__.clear()
        for tensor, g in zip(inputs, grads):
            if g is None or not tensor.requires_grad:
                continue
            creator = tensor.creator
            if creator is None:
                _accumulate_leaf(tensor, g)
            elif creator in pending:
                pending[creator] = pending[creator] + g
            else:
                pending[creator] = g
                heapq.heappush(heap, (-creator.generation, next(counter), creator))


class Tensor:
    """An array on a backend, with an optional gradient and the op that made it."""

    __slots__ = ("data", "grad", "requires_grad", "creator", "generation", "backend", "name")
    __array_priority__ = 1000  # NumPy defers ``ndarray <op> Tensor`` to us

    def __init__(self, data, requires_grad: bool = False, dtype=None, backend=None, name=None):
        backend = config.resolve_backend(backend)
        if isinstance(data, Tensor):
            data = data.data
        self.data = _to_backend_array(data, backend, dtype)
        self.backend = backend
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.creator = None
        self.generation = 0
        self.name = name
        if self.requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"Only floating-point tensors can require gradients; got dtype {self.data.dtype}."
            )

    @classmethod
    def _wrap(cls, data, backend) -> "Tensor":
        tensor = object.__new__(cls)
        tensor.data = data
        tensor.backend = backend
        tensor.grad = None
        tensor.requires_grad = False
        tensor.creator = None
        tensor.generation = 0
        tensor.name = None
        return tensor

    # -- properties -------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> "Tensor":
        return _ops.transpose(self)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = numpy.array2string(self.numpy(), separator=", ", prefix="tensor(")
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}, dtype={self.dtype}, backend='{self.backend.name}'{grad})"

    # -- conversion -------------------------------------------------------

    def numpy(self) -> numpy.ndarray:
        """The values as a NumPy array (a copy for device backends)."""
        return self.backend.to_numpy(self.data)

    def item(self):
        return self.numpy().item()

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor._wrap(self.data, self.backend)

    def to(self, backend) -> "Tensor":
        """A copy on another backend (the same tensor if it is already there)."""
        target = config.resolve_backend(backend)
        if target is self.backend:
            return self
        data = target.asarray(self.backend.to_numpy(self.data))
        return Tensor._wrap(data, target)

    def astype(self, dtype) -> "Tensor":
        return _ops.cast(self, dtype)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        self.requires_grad = flag
        return self

    # -- Keras's variable API: a layer's weights are tensors --------------

    @property
    def value(self) -> "Tensor":
        """The variable itself (Keras on PyTorch: ``v.value.grad`` is its gradient)."""
        return self

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @property
    def path(self) -> str | None:
        return self.name

    def assign(self, value) -> "Tensor":
        """Overwrite the values in place (no gradient is recorded), keeping shape and dtype."""
        array = value.data if isinstance(value, Tensor) else value
        if not self.backend.is_native(array):
            array = self.backend.asarray(numpy.asarray(array))
        if tuple(array.shape) != tuple(self.shape) and array.size != 1:
            raise ValueError(
                f"assign: variable '{self.name}' has shape {tuple(self.shape)}, but the value "
                f"given has shape {tuple(array.shape)}."
            )
        self.data[...] = array
        return self

    def assign_add(self, value) -> "Tensor":
        return self.assign(self.data + (value.data if isinstance(value, Tensor) else value))

    def assign_sub(self, value) -> "Tensor":
        return self.assign(self.data - (value.data if isinstance(value, Tensor) else value))

    # -- autograd ---------------------------------------------------------

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires it."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require a gradient; none of its inputs "
                "had requires_grad=True (or it was computed under no_grad())."
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): a gradient can be created implicitly only for a scalar "
                    f"output; this tensor has shape {self.shape}. Pass grad=."
                )
            grad = self.backend.xp.ones_like(self.data)
        else:
            grad = _to_backend_array(grad, self.backend, self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape}, expected {self.shape}.")
        if self.creator is None:
            _accumulate_leaf(self, grad)
        else:
            run_backward(self.creator, grad, retain_graph)

    # -- operators --------------------------------------------------------

    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __lt__(self, other):
        return _compare(self, other, "less")

    def __le__(self, other):
        return _compare(self, other, "less_equal")

    def __gt__(self, other):
        return _compare(self, other, "greater")

    def __ge__(self, other):
        return _compare(self, other, "greater_equal")

    __hash__ = object.__hash__

    # -- methods mirroring the functional API -----------------------------

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis, keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def clip(self, min_value=None, max_value=None):
        return _ops.clip(self, min_value, max_value)

    def relu(self):
        return _ops.relu(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def tanh(self):
        return _ops.tanh(self)

    def softmax(self, axis=-1):
        return _ops.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _ops.log_softmax(self, axis)


def _compare(tensor, other, ufunc_name):
    """Elementwise comparison: a boolean tensor outside the graph."""
    other_data = other.data if isinstance(other, Tensor) else other
    result = getattr(tensor.backend.xp, ufunc_name)(tensor.data, other_data)
    return Tensor._wrap(result, tensor.backend)


def _to_backend_array(data, backend, dtype=None):
    """``data`` as a native array of ``backend``; floats default to ``config.floatx()``."""
    if not backend.is_native(data):
        if not isinstance(data, numpy.ndarray) and not hasattr(data, "__cuda_array_interface__"):
            data = numpy.asarray(data)
            if dtype is None and data.dtype.kind == "f":
                dtype = config.floatx()
        elif hasattr(data, "get") and not isinstance(data, numpy.ndarray):
            data = data.get()  # a CuPy array headed for a host backend
    if data.dtype.kind not in "biuf":
        raise TypeError(
            f"Cannot make a tensor from an array of dtype {data.dtype}; expected numbers."
        )
    if backend.is_native(data):
        return data if dtype is None else data.astype(dtype, copy=False)
    return backend.asarray(data, dtype=dtype)


def tensor(data, dtype=None, requires_grad: bool = False, backend=None) -> Tensor:
    """Make a tensor on the current (or given) backend.

    Python floats become ``config.floatx()`` (float32 by default); arrays keep
    their dtype unless ``dtype`` is given.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, backend=backend)


from . import functional as _ops  # noqa: E402  (ops need Tensor defined first)
