"""Tensor, the differentiable op base class, and the backward pass.

Define-by-run, as in Chainer and PyTorch: each op (a ``Function``) records its
inputs when any of them requires a gradient; ``Tensor.backward`` walks the
recorded graph once in reverse topological order, using a heap keyed on
generation (no recursion), and frees each op's saved arrays after use.

Higher-order gradients follow PyTorch. ``loss.backward(create_graph=True)``
and ``grad(outputs, inputs, create_graph=True)`` run each op's
``backward_graph``, its derivative written with tensor ops, so the gradients
they produce are graph tensors that can be differentiated again (a WGAN-GP
gradient penalty). The ordinary first-order pass (``run_backward``) is untouched
by this: it works on raw arrays through the ops' fused ``backward`` kernels.
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

    An op may also implement ``backward_graph(grad: Tensor) -> tuple``: the same
    gradients computed with tensor ops from ``self.inputs`` (the input tensors),
    so that they are recorded and can be differentiated again. It is used only
    under ``create_graph=True``, and may return ``NotImplemented`` for a case it
    does not cover. Without it, the op's gradient is still computed, but
    differentiating that gradient again raises "double backward is not
    implemented for <op>".
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


_NEEDS_GRAD, _NEEDS_NO_GRAD = (True,), (False,)

#: The ``Taping`` that ``apply`` appends each op it runs to, in this thread, while
#: ``taping_ops`` is on (a model's step being taped, ``models/replay.py``); else None.
_tape: contextvars.ContextVar["Taping | None"] = contextvars.ContextVar("engine_tape", default=None)
_taping = _tape.get


class Taping:
    """What a taped block ran: its ops, the arrays it made outside them, and its host calls.

    ``ops``: ``(op, state, inputs, output)`` per op applied, ``state`` holding the op's
    attributes as ``forward`` found them (its settings, ``backend`` and
    ``needs_input_grad``), before it saved anything.
    ``derived``: ``{id(array): (array, parent, fn, args)}`` for each array made outside the
    ops as ``fn(parent, *args)`` (``derive``: a loss's targets cast or reshaped), or as a
    constant from a Python number (``parent`` and ``fn`` None).
    ``calls``: ``(ops before it, fn, args)`` per call on the host that reads values
    (``note_call``: a loss's label check, batch normalization's moving statistics), which
    a replay repeats on its own values.
    """

    __slots__ = ("ops", "derived", "calls")

    def __init__(self):
        self.ops: list = []
        self.derived: dict = {}
        self.calls: list = []


@contextlib.contextmanager
def taping_ops():
    """Collect the ops applied in this thread in the block (a ``Taping``)."""
    tape = Taping()
    token = _tape.set(tape)
    try:
        yield tape
    finally:
        _tape.reset(token)


def derive(fn, parent, *args):
    """``fn(parent, *args)``: an array made outside the ops from another (a loss's targets
    as the output's dtype or shape), noted while taping so that a replay can make it again
    from its own. ``fn`` must depend on nothing else."""
    result = fn(parent, *args)
    tape = _tape.get()
    if tape is not None and result is not parent:
        tape.derived[id(result)] = (result, parent, fn, args)
    return result


def note_constant(array) -> None:
    """Note, while taping, that ``array`` is the same at every call with the same shapes:
    a Python number of the code (``1 - p``), a batch's row indices."""
    tape = _tape.get()
    if tape is not None:
        tape.derived[id(array)] = (array, None, None, ())


def note_call(fn, *args) -> None:
    """Note, while taping, a call on the host that reads values (``fn(*args)``: a check
    that raises for bad ones, an update of a layer's state) which a replay must repeat on
    its own values before the ops that follow it."""
    tape = _tape.get()
    if tape is not None:
        tape.calls.append((len(tape.ops), fn, args))


# conversions named for ``derive`` (a replay makes them again)
def as_dtype(array, dtype):
    return array.astype(dtype, copy=False)


def reshaped(array, shape):
    return array.reshape(shape)


def _apply_taped(fn: Function, inputs: tuple) -> "Tensor":
    tape = _tape.get()
    state = dict(fn.__dict__)
    token = _tape.set(None)
    try:
        out = apply(fn, *inputs)
    finally:
        _tape.reset(token)
    # what apply set before forward: the backend, and which input gradients are needed
    state["backend"], state["needs_input_grad"] = fn.backend, fn.needs_input_grad
    tape.ops.append((fn, state, inputs, out))
    return out


def apply(fn: Function, *inputs: "Tensor") -> "Tensor":
    """Run ``fn`` on tensors, recording it in the graph when a gradient is needed."""
    if _taping() is not None:
        return _apply_taped(fn, inputs)
    first = inputs[0]
    backend = first.backend
    if len(inputs) == 1:  # the unary ops (activations, reductions, losses), spelled out
        fn.backend = backend
        if first.requires_grad and _recording():
            fn.needs_input_grad = _NEEDS_GRAD
            out = Tensor._wrap(fn.forward(first.data), backend)
            fn.inputs = inputs
            fn.generation = generation = first.generation
            out.requires_grad = True
            out.creator = fn
            out.generation = generation + 1
            return out
        fn.needs_input_grad = _NEEDS_NO_GRAD
        return Tensor._wrap(fn.forward(first.data), backend)
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


# -- higher-order gradients ----------------------------------------------------


class _NoDoubleBackward(Function):
    """Stands for a gradient computed by an op without ``backward_graph``.

    The gradient's value is exact; differentiating it again is what fails, with
    an error naming the op, as in PyTorch.
    """

    def __init__(self, op_name: str, value):
        self.op_name, self.value = op_name, value

    def forward(self, *arrays):
        return self.value

    def backward(self, grad):
        raise RuntimeError(
            f"double backward is not implemented for {self.op_name}: its gradient was "
            f"computed with create_graph=True, but cannot be differentiated again."
        )


def _op_name(fn: Function) -> str:
    name = type(fn).__name__
    detail = getattr(fn, "name", None)  # an Activation's kernel name
    return f"{name} ('{detail}')" if isinstance(detail, str) else name


def _differentiable_backward(fn: Function, grad: "Tensor") -> tuple:
    """``fn``'s input gradients as graph tensors (``backward_graph``, or a stand-in)."""
    method = getattr(fn, "backward_graph", None)
    grads = NotImplemented if method is None else method(grad)
    if grads is NotImplemented:
        name = _op_name(fn)
        grads = tuple(
            None if g is None else apply(_NoDoubleBackward(name, g), grad, *fn.inputs)
            for g in fn.backward(grad.data)
        )
    return grads


def _functions_reaching(roots, targets: set) -> set:
    """The recorded ops from which some tensor in ``targets`` can be reached through inputs.

    An op whose saved arrays were freed counts as reaching, so that the walk
    meets it and says so instead of reporting an unused input.
    """
    seen, freed, stack = set(), set(), [fn for fn, _ in roots]
    while stack:
        fn = stack.pop()
        if fn in seen or fn in freed:
            continue
        if getattr(fn, "inputs", None) is None:
            freed.add(fn)
            continue
        seen.add(fn)
        stack.extend(t.creator for t in fn.inputs if t.creator is not None)
    reaching = freed
    for fn in sorted(seen, key=lambda f: f.generation):  # inputs' creators come first
        if any(t in targets or t.creator in reaching for t in fn.inputs):
            reaching.add(fn)
    return reaching


def _walk(roots, retain_graph: bool, create_graph: bool, targets=None):
    """The backward pass behind ``grad`` and ``backward(create_graph=True)``.

    ``roots`` pairs recorded ops with their output gradients: arrays, or tensors
    when ``create_graph``, in which case each op runs its ``backward_graph`` and
    the gradients are recorded. Without ``targets``, leaf gradients are
    accumulated into ``.grad``. With ``targets`` (tensors), only the ops on a
    path to one of them run, with their ``needs_input_grad`` narrowed to those
    paths, and the targets' gradients are returned in a dict, ``.grad`` untouched.
    """
    by_creator = {}
    reaching = None
    if targets is not None:
        by_creator = {t.creator: t for t in targets if t.creator is not None}
        reaching = _functions_reaching(roots, targets)
    captured = {}
    counter = itertools.count()
    pending, heap = {}, []

    def send(fn, g):
        if fn in pending:
            pending[fn] = pending[fn] + g
        elif reaching is None or fn in reaching or fn in by_creator:
            pending[fn] = g
            # a freed op has lost its generation; the walk stops at it with an error
            heapq.heappush(heap, (-getattr(fn, "generation", 0), next(counter), fn))

    for fn, g in roots:
        send(fn, g)
    while heap:
        fn = heapq.heappop(heap)[2]
        grad_out = pending.pop(fn)
        if fn in by_creator:
            captured[by_creator[fn]] = grad_out
        if reaching is not None and fn not in reaching:
            continue
        inputs = getattr(fn, "inputs", None)
        if inputs is None:
            raise RuntimeError(
                "Trying to run backward through the graph a second time; its saved arrays "
                "were freed. Call backward(retain_graph=True) the first time."
            )
        needs = fn.needs_input_grad
        if reaching is not None:
            fn.needs_input_grad = tuple(
                [n and (t in targets or t.creator in reaching) for n, t in zip(needs, inputs)]
            )
        grads = _differentiable_backward(fn, grad_out) if create_graph else fn.backward(grad_out)
        fn.needs_input_grad = needs
        if not retain_graph:
            fn.__dict__.clear()
        for tensor, g in zip(inputs, grads):
            if g is None or not tensor.requires_grad:
                continue
            if tensor.creator is not None:
                send(tensor.creator, g)
            elif targets is None:
                (_accumulate_leaf_graph if create_graph else _accumulate_leaf)(tensor, g)
            elif tensor in targets:
                captured[tensor] = captured[tensor] + g if tensor in captured else g
    return captured


def _as_list(value, name: str) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"grad(): {name} must be tensors; got {type(v).__name__}.")
    return values


def _initial_grad(output: "Tensor", grad, create_graph: bool, caller: str, argument: str):
    """The seed gradient of ``output``: a tensor when ``create_graph``, else an array."""
    if grad is None:
        if output.data.size != 1:
            raise RuntimeError(
                f"{caller}: a gradient can be created implicitly only for a scalar output; "
                f"this tensor has shape {output.shape}. Pass {argument}=."
            )
        data = output.data
        if isinstance(data, (numpy.ndarray, numpy.generic)):  # a third of ones()'s cost
            seed = numpy.array(1, dtype=data.dtype).reshape(data.shape)
        else:  # ones(shape): ones_like of a NumPy scalar costs twice as much
            seed = output.backend.xp.ones(data.shape, dtype=data.dtype)
    elif create_graph and isinstance(grad, Tensor):
        seed = grad  # a graph tensor stays one: its own gradient may be wanted
    else:
        array = grad.data if isinstance(grad, Tensor) else grad
        seed = _to_backend_array(array, output.backend, output.data.dtype)
    if seed.shape != output.shape:
        raise ValueError(f"{caller}: grad has shape {seed.shape}, expected {output.shape}.")
    if create_graph and not isinstance(seed, Tensor):
        seed = Tensor._wrap(seed, output.backend)
    return seed


def _accumulate_leaf_graph(tensor: "Tensor", grad: "Tensor") -> None:
    """``_accumulate_leaf`` for a recorded gradient: ``.grad`` becomes a graph tensor."""
    if grad.shape != tensor.shape:
        raise RuntimeError(
            f"Internal error: gradient of shape {grad.shape} for a tensor of shape {tensor.shape}."
        )
    if grad.dtype != tensor.dtype:
        grad = _ops.cast(grad, tensor.dtype)
    tensor.grad = grad if tensor.grad is None else tensor.grad + grad


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``torch.autograd.grad``).

    Nothing is accumulated into any tensor's ``.grad``, and only the ops on a
    path from ``inputs`` to ``outputs`` run. ``inputs`` may be leaves or
    intermediate tensors that require a gradient. Returns a tuple with one
    tensor per input.

    Args:
        outputs: a tensor or a sequence of tensors; their gradients are summed.
        grad_outputs: the gradient of each output (tensors or arrays); None (or
            a None entry) means ones, which needs a one-element output.
        retain_graph: keep the saved arrays for another backward pass; defaults
            to ``create_graph``.
        create_graph: record the gradient computation, so that the returned
            gradients require a gradient themselves and can be differentiated
            again, e.g. the gradient penalty of WGAN-GP::

                (g,) = engine.grad(critic(x_hat).sum(), x_hat, create_graph=True)
                norms = g.reshape(len(g), -1).square().sum(axis=1).sqrt()
                loss = loss + 10 * ((norms - 1) ** 2).mean()
                loss.backward()   # reaches the critic's weights through g

            Each op needs a ``backward_graph`` for this; one without raises
            "double backward is not implemented for <op>" when its gradient is
            differentiated.
        allow_unused: return None for an input the outputs do not depend on,
            instead of raising.
    """
    outputs = _as_list(outputs, "outputs")
    inputs = _as_list(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outputs)} outputs.")
    for i, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(
                f"grad(): input {i} (shape {tensor.shape}) does not require a gradient; "
                f"set its requires_grad = True before computing the outputs."
            )
    if retain_graph is None:
        retain_graph = create_graph
    targets = set(inputs)
    roots, captured = [], {}
    for output, seed in zip(outputs, grad_outputs):
        if not output.requires_grad:
            raise RuntimeError(
                f"grad(): an output (shape {output.shape}) does not require a gradient; none "
                f"of its inputs had requires_grad=True (or it was computed under no_grad())."
            )
        seed = _initial_grad(output, seed, create_graph, "grad()", "grad_outputs")
        if output.creator is not None:
            roots.append((output.creator, seed))
        elif output in targets:
            captured[output] = captured[output] + seed if output in captured else seed
    with enable_grad() if create_graph else contextlib.nullcontext():
        found = _walk(roots, retain_graph, create_graph, targets)
    for tensor, g in found.items():
        captured[tensor] = captured[tensor] + g if tensor in captured else g
    results = []
    for i, tensor in enumerate(inputs):
        g = captured.get(tensor)
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): input {i} (shape {tensor.shape}) was not used to compute the "
                    f"outputs. Pass allow_unused=True to get None for it."
                )
        elif create_graph:
            g = g if g.dtype == tensor.dtype else _ops.cast(g, tensor.dtype)
        else:
            g = g if g.dtype == tensor.dtype else g.astype(tensor.dtype)
            g = Tensor._wrap(g, tensor.backend)
        results.append(g)
    return tuple(results)


def keras_mask(value):
    """The mask a layer attached to ``value`` (Keras 3's ``_keras_mask``), or None."""
    return value._keras_mask if isinstance(value, Tensor) else None


class Tensor:
    """An array on a backend, with an optional gradient and the op that made it."""

    # ``_keras_mask``: the mask a layer gave its output (Keras 3's attribute), read by the
    # next layer's call and by losses and metrics; None on most tensors
    __slots__ = (
        "data", "grad", "requires_grad", "creator", "generation", "backend", "name",
        "_keras_mask",
    )  # fmt: skip
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
        self._keras_mask = None
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
        tensor._keras_mask = None
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

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """An integer scalar tensor as an index or a size (``range(n)``, a shape); as for a
        NumPy array, only a 0-d one: a ``(1,)`` tensor indexes as an array."""
        if self.data.dtype.kind not in "iub" or self.data.ndim != 0:
            raise TypeError(
                f"Only an integer scalar tensor (0-d) can be an index; got dtype {self.dtype} "
                f"and shape {tuple(self.shape)}."
            )
        return int(self.item())

    def __bool__(self) -> bool:
        """A one-element tensor's truth (``if ops.all(x > 0):``); for more elements it is
        ambiguous, an error as in NumPy and PyTorch (``len`` would have been asked)."""
        if self.data.size != 1:
            raise ValueError(
                f"The truth value of a tensor of shape {tuple(self.shape)} is ambiguous: it "
                f"has {self.data.size} elements; use ops.any(x) or ops.all(x)."
            )
        return bool(self.item())

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
        return self.assign(self.data + self._operand(value))

    def assign_sub(self, value) -> "Tensor":
        return self.assign(self.data - self._operand(value))

    def _operand(self, value):
        """``value`` (a tensor, an array of any backend, a number) for arithmetic with
        ``data``: a host array goes to this tensor's backend (a GPU's arrays refuse it)."""
        if isinstance(value, Tensor):
            return value.data
        if isinstance(value, (int, float)) or self.backend.is_native(value):
            return value
        return self.backend.asarray(numpy.asarray(value))

    # -- autograd ---------------------------------------------------------

    def backward(
        self, grad=None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires it.

        Args:
            grad: the gradient of ``self`` (default ones, for a one-element tensor).
            retain_graph: keep the saved arrays for another backward pass
                (default: ``create_graph``).
            create_graph: record the backward pass itself, as PyTorch does: the
                gradients accumulated into ``.grad`` are then graph tensors that
                require a gradient, and a loss built from them (a gradient
                penalty) can be differentiated with a second ``backward()``.
                ``engine.grad(..., create_graph=True)`` does the same without
                touching ``.grad``. Every op on the way needs a ``backward_graph``
                (see ``Function``).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require a gradient; none of its inputs "
                "had requires_grad=True (or it was computed under no_grad())."
            )
        grad = _initial_grad(self, grad, create_graph, "backward()", "grad")
        if create_graph:
            if self.creator is None:
                _accumulate_leaf_graph(self, grad)
            else:
                with enable_grad():
                    _walk([(self.creator, grad)], retain_graph is not False, True)
        elif self.creator is None:
            _accumulate_leaf(self, grad)
        else:
            run_backward(self.creator, grad, bool(retain_graph))

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
