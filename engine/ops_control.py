"""Control flow and tensor queries of ``engine.ops`` (re-exported there): cond, scan, ...

This library runs eagerly, so the loops and branches are Python's: ``cond`` calls one
of its functions, ``scan`` and ``while_loop`` loop in Python. Gradients flow through
whatever ops the callables use, as through any other code; the stacked outputs of
``scan``, ``map`` and ``vectorized_map`` carry them too. ``custom_gradient`` replaces
the gradient of a function by one of the user's.

Arguments, defaults and results follow Keras 3 (``keras.ops``). The functions that
take callables (and ``dtype``, ``size``, ``is_tensor``, which answer with Python
values) run on tensors only, not on the functional API's symbolic tensors.
"""

import functools
import inspect

import numpy

from . import config, symbolic
from .conversion import as_tensor, standardize_dtype
from .ops_math import where
from .ops_shape import broadcast_to, moveaxis, stack
from .tensor import Function, Tensor, apply, no_grad

# -- helpers ------------------------------------------------------------------------------


def _truth(function: str, name: str, value) -> bool:
    """``value`` (a one-element tensor, an array or a Python value) as a Python bool."""
    if isinstance(value, Tensor):
        if value.size != 1:
            raise ValueError(
                f"{function}: {name} must be a single boolean; got a tensor of shape {value.shape}."
            )
        return bool(value.item())
    if isinstance(value, symbolic.KerasTensor):
        raise TypeError(
            f"{function}: {name} is a symbolic tensor (functional API); {function} runs "
            f"eagerly, on tensors."
        )
    return bool(value)


def _integer(function: str, name: str, value) -> int:
    """``value`` (a Python or NumPy integer, or a one-element integer tensor) as an int."""
    if isinstance(value, Tensor):
        if value.size != 1 or value.dtype.kind not in "iu":
            raise TypeError(
                f"{function}: {name} must be an integer scalar; got a tensor of dtype "
                f"{value.dtype} and shape {value.shape}."
            )
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"{function}: {name} must be an integer; got {value!r}.")
    return int(value)


def _callable(function: str, name: str, value) -> None:
    if not callable(value):
        raise TypeError(f"{function}: {name} must be a callable; got {value!r}.")


def _leaf_tensor(value):
    """A leaf of a loop's state as a tensor (Keras converts them); None stays None."""
    return None if value is None else as_tensor(value)


def _stacked(function: str, outputs: list):
    """The per-step ``outputs`` (one structure each) stacked leaf by leaf along a new axis 0."""
    first = outputs[0]
    leaves = [symbolic.flatten(output) for output in outputs]
    count = len(leaves[0])
    if any(len(step) != count for step in leaves):
        raise ValueError(f"{function}: every step must return the same structure of outputs.")
    columns = []
    for i in range(count):
        values = [step[i] for step in leaves]
        if all(value is None for value in values):
            columns.append(None)
            continue
        tensors = [as_tensor(value) for value in values]
        shapes = {tensor.shape for tensor in tensors}
        if len(shapes) != 1:
            raise ValueError(
                f"{function}: every step must return outputs of one shape; got "
                f"{sorted(shapes, key=str)}."
            )
        columns.append(stack(tensors, axis=0))
    return symbolic.pack_like(first, columns)


def _sliced(structure, leaves: list, index: int):
    """``structure`` (tensors, lists, tuples, dicts) with each leaf replaced by ``leaf[index]``."""
    return symbolic.pack_like(structure, [leaf[index] for leaf in leaves])


def _length(function: str, leaves: list, name: str) -> int:
    """The common size of axis 0 of ``leaves``."""
    sizes = set()
    for leaf in leaves:
        if leaf.ndim == 0:
            raise ValueError(f"{function}: {name} must have a leading axis to run over.")
        sizes.add(leaf.shape[0])
    if len(sizes) != 1:
        raise ValueError(
            f"{function}: every tensor of {name} must have the same size of axis 0; got "
            f"{sorted(sizes)}."
        )
    return sizes.pop()


# -- branches ----------------------------------------------------------------------------


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` holds, else ``false_fn()``.

    ``pred`` is a Python bool or a one-element tensor.
    """
    _callable("cond", "true_fn", true_fn)
    _callable("cond", "false_fn", false_fn)
    return true_fn() if _truth("cond", "pred", pred) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, ``index`` clamped to ``[0, len(branches) - 1]``."""
    if not isinstance(branches, (list, tuple)) or not branches:
        raise ValueError(
            f"switch: branches must be a non-empty list of callables; got {branches!r}."
        )
    for i, branch in enumerate(branches):
        _callable("switch", f"branches[{i}]", branch)
    index = min(max(_integer("switch", "index", index), 0), len(branches) - 1)
    return branches[index](*operands)


def select(condlist, choicelist, default=0) -> Tensor:
    """Each element from the first ``choicelist`` entry whose condition holds there, else
    ``default`` (as ``numpy.select``); everything broadcasts, and the dtypes promote as
    Keras promotes them. Gradients reach the choices (and a tensor ``default``)."""
    if not isinstance(condlist, (list, tuple)) or not isinstance(choicelist, (list, tuple)):
        raise ValueError(
            f"select: condlist and choicelist must be lists; got {type(condlist).__name__} "
            f"and {type(choicelist).__name__}."
        )
    if not condlist or not choicelist:
        raise ValueError("select: condlist and choicelist must not be empty.")
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"select: condlist and choicelist must have the same length; got "
            f"{len(condlist)} and {len(choicelist)}."
        )
    result = default
    for condition, choice in zip(reversed(condlist), reversed(choicelist)):
        result = where(condition, choice, result)
    return result


# -- loops --------------------------------------------------------------------------------


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; returns ``val``.

    ``i`` is a Python int.
    """
    _callable("fori_loop", "body_fun", body_fun)
    lower = _integer("fori_loop", "lower", lower)
    upper = _integer("fori_loop", "upper", upper)
    value = init_val
    for i in range(lower, upper):
        value = body_fun(i, value)
    return value


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (and fewer than
    ``maximum_iterations`` steps ran).

    A tuple or list ``loop_vars`` is passed to ``cond`` and ``body`` one element per
    argument and comes back as a tuple (as in Keras); any other value is passed alone
    and comes back alone. Its numbers and arrays become tensors first.
    """
    _callable("while_loop", "cond", cond)
    _callable("while_loop", "body", body)
    if maximum_iterations is not None:
        maximum_iterations = _integer("while_loop", "maximum_iterations", maximum_iterations)
    sequence = isinstance(loop_vars, (list, tuple))
    state = tuple(loop_vars) if sequence else (loop_vars,)
    state = symbolic.map_structure(_leaf_tensor, state)
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and _truth(
        "while_loop", "the result of cond", cond(*state)
    ):
        state = body(*state)
        state = tuple(state) if sequence else (state,)
        steps += 1
    return state if sequence else state[0]


def scan(f, init, xs=None, length=None, reverse: bool = False, unroll=1):
    """``carry, y = f(carry, x)`` for each ``x`` along axis 0 of ``xs``; returns the last
    ``carry`` and the ``y``s stacked along a new axis 0.

    ``init`` and ``xs`` may be tensors or structures (lists, tuples, dicts) of them;
    without ``xs``, ``f`` gets None ``length`` times. ``reverse`` runs from the end
    (the outputs keep the order of ``xs``). ``unroll`` is accepted (a positive int or
    a bool) and changes nothing in an eager loop.
    """
    _callable("scan", "f", f)
    if not isinstance(unroll, bool) and (
        not isinstance(unroll, (int, numpy.integer)) or unroll < 1
    ):
        raise ValueError(f"scan: unroll must be a positive integer or a bool; got {unroll!r}.")
    if xs is None and length is None:
        raise ValueError("scan: give xs to scan over, or length when there is none.")
    leaves = []
    if xs is not None:
        leaves = [as_tensor(leaf) for leaf in symbolic.flatten(xs)]
        steps = _length("scan", leaves, "xs")
        if length is not None and _integer("scan", "length", length) != steps:
            raise ValueError(f"scan: length={length} but xs has {steps} entries along axis 0.")
    else:
        steps = _integer("scan", "length", length)
    if steps < 1:
        raise ValueError("scan: nothing to scan over (length 0).")
    carry = symbolic.map_structure(_leaf_tensor, init)
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    outputs = []
    for i in order:
        result = f(carry, None if xs is None else _sliced(xs, leaves, i))
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            raise ValueError("scan: f must return a pair (new carry, output of the step).")
        carry, y = result
        outputs.append(y)
    if reverse:
        outputs.reverse()
    return carry, _stacked("scan", outputs)


def map(f, xs):  # noqa: A001  (Keras's name)
    """``f`` applied to each entry of ``xs`` along axis 0, the results stacked along axis 0.

    ``xs`` may be a tensor or a structure of them (``f`` then gets the structure of
    slices); ``f`` may return a structure.
    """
    _callable("map", "f", f)
    leaves = [as_tensor(leaf) for leaf in symbolic.flatten(xs)]
    steps = _length("map", leaves, "xs")
    if steps < 1:
        raise ValueError("map: xs is empty along axis 0.")
    return _stacked("map", [f(_sliced(xs, leaves, i)) for i in range(steps)])


def vectorized_map(function, elements):
    """``function`` applied to each entry of ``elements`` along axis 0, results stacked.

    As Keras: for a tuple or list of tensors, ``function`` gets one tuple or list of
    their slices; a dict gives a dict. Runs as a Python loop (no vectorization).
    """
    _callable("vectorized_map", "function", function)
    leaves = [as_tensor(leaf) for leaf in symbolic.flatten(elements)]
    steps = _length("vectorized_map", leaves, "elements")
    if steps < 1:
        raise ValueError("vectorized_map: elements are empty along axis 0.")
    return _stacked(
        "vectorized_map", [function(_sliced(elements, leaves, i)) for i in range(steps)]
    )


def associative_scan(f, elems, reverse: bool = False, axis: int = 0):
    """Inclusive scan with an associative ``f``: entry ``i`` is ``f(result[i - 1],
    elems[i])`` along ``axis`` (from the end when ``reverse``), as Keras's; run as a loop,
    so the same numbers as the parallel scan up to rounding. ``elems`` may be a structure."""
    _callable("associative_scan", "f", f)
    leaves = [as_tensor(leaf) for leaf in symbolic.flatten(elems)]
    if not leaves:
        raise ValueError("associative_scan: elems holds no tensor.")
    axis = _integer("associative_scan", "axis", axis)
    moved = [moveaxis(leaf, axis, 0) if axis else leaf for leaf in leaves]
    steps = _length("associative_scan", moved, "elems")
    if steps < 1:
        raise ValueError("associative_scan: elems are empty along the scanned axis.")
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    results, carry = [None] * steps, None
    for i in order:
        value = _sliced(elems, moved, i)
        carry = value if carry is None else (f(value, carry) if reverse else f(carry, value))
        results[i] = carry
    stacked = _stacked("associative_scan", results)
    if not axis:
        return stacked
    return symbolic.map_structure(lambda leaf: moveaxis(leaf, 0, axis), stacked)


def jvp(fun, primals, tangents, has_aux: bool = False):
    """Forward-mode derivative: ``(fun(*primals), J @ tangents)`` (and ``fun``'s auxiliary
    output with ``has_aux``), computed as the derivative of a vector-Jacobian product
    (which is linear in its vector), so ``fun``'s ops need second derivatives."""
    from .tensor import grad as _grad

    _callable("jvp", "fun", fun)
    primals, tangents = list(primals), list(tangents)
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: {len(primals)} primals but {len(tangents)} tangents; give one tangent each."
        )
    inputs = []
    for value in primals:
        tensor = as_tensor(value).detach()
        tensor.requires_grad = True
        inputs.append(tensor)
    result = fun(*inputs)
    output, aux = result if has_aux else (result, None)
    outputs = [as_tensor(leaf) for leaf in symbolic.flatten(output)]
    probes = []
    for leaf in outputs:
        probe = Tensor._wrap(leaf.backend.xp.zeros(leaf.shape, leaf.dtype), leaf.backend)
        probe.requires_grad = True
        probes.append(probe)
    pairing = _sum_all([(leaf * probe).sum() for leaf, probe in zip(outputs, probes)])
    vjps = _grad(pairing, inputs, create_graph=True, allow_unused=True)
    terms = [(g * as_tensor(t)).sum() for g, t in zip(vjps, tangents) if g is not None]
    tangent_outputs = (
        _grad(_sum_all(terms), probes, allow_unused=True) if terms else [None] * len(probes)
    )
    tangent_outputs = [
        Tensor._wrap(p.backend.xp.zeros(p.shape, p.dtype), p.backend) if g is None else g.detach()
        for g, p in zip(tangent_outputs, probes)
    ]
    detached = [leaf.detach() for leaf in outputs]
    packed = symbolic.pack_like(output, detached), symbolic.pack_like(output, tangent_outputs)
    return (*packed, aux) if has_aux else packed


def _sum_all(terms: list):
    """The sum of a non-empty list of tensors."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``numpy.vectorize`` for tensors: ``pyfunc`` mapped over the broadcast leading axes of
    its tensor arguments (every axis without ``signature``; with one such as
    ``"(n),(n)->()"`` the core axes are passed whole). Arguments whose position or name is
    in ``excluded`` pass unchanged. A Python loop; gradients flow through ``pyfunc``'s ops."""
    _callable("vectorize", "pyfunc", pyfunc)
    excluded = set(excluded or ())
    cores = _parse_signature(signature) if signature is not None else None

    @functools.wraps(pyfunc)
    def wrapper(*args, **kwargs):
        positions = [i for i in range(len(args)) if i not in excluded]
        tensors = [as_tensor(args[i]) for i in positions]
        core_ranks = [0] * len(tensors) if cores is None else [len(c) for c in cores]
        if len(core_ranks) != len(tensors):
            raise ValueError(
                f"vectorize: the signature {signature!r} names {len(core_ranks)} inputs, "
                f"got {len(tensors)}."
            )
        loops = [t.shape[: t.ndim - rank] for t, rank in zip(tensors, core_ranks)]
        loop_shape = numpy.broadcast_shapes(*loops) if loops else ()
        expanded = [
            broadcast_to(t, (*loop_shape, *t.shape[t.ndim - rank :]))
            for t, rank in zip(tensors, core_ranks)
        ]
        results = []
        for index in numpy.ndindex(*loop_shape):
            call = list(args)
            for i, t in zip(positions, expanded):
                call[i] = t[index] if index else t
            results.append(pyfunc(*call, **kwargs))
        if not loop_shape:
            return results[0]
        stacked = _stacked("vectorize", results)
        return symbolic.map_structure(
            lambda leaf: leaf.reshape(*loop_shape, *leaf.shape[1:]), stacked
        )

    return wrapper


def _parse_signature(signature: str) -> list:
    """The core dimension names of each input of a gufunc signature ``"(m,n),(n)->(m)"``."""
    inputs = signature.replace(" ", "").split("->")[0]
    groups = inputs[1:-1].split("),(") if inputs else []
    return [[name for name in group.split(",") if name] for group in groups]


# -- queries and creation -------------------------------------------------------------


def is_tensor(x) -> bool:
    """Whether ``x`` is a tensor of this library."""
    return isinstance(x, Tensor)


def dtype(x) -> str:
    """The dtype of ``x`` as a standardized string (``"float32"``, ``"int32"``, ``"bool"``).

    A Python value gets the dtype it would have as a tensor.
    """
    if isinstance(x, symbolic.KerasTensor):
        return x.dtype
    value = getattr(x, "dtype", None)
    if value is None:
        try:
            value = as_tensor(x).dtype
        except TypeError as error:
            raise TypeError(f"dtype: x must hold numbers ({error})") from None
    return symbolic.standardize_dtype(value)


def size(x) -> int:
    """The number of elements of ``x``, a Python int."""
    if isinstance(x, symbolic.KerasTensor):
        if None in x.shape:
            raise ValueError(
                f"size: the shape {x.shape} of symbolic tensor '{x.name}' has an unknown "
                f"size; size is known when the model runs."
            )
        return int(numpy.prod(x.shape, dtype=numpy.int64))
    if isinstance(x, Tensor):
        return int(x.size)
    return int(numpy.size(x))


def identity(n, dtype=None) -> Tensor:
    """The ``n`` x ``n`` identity matrix, ``floatx`` unless ``dtype`` is given."""
    n = _integer("identity", "n", n)
    if n < 0:
        raise ValueError(f"identity: n must not be negative; got n={n}.")
    dtype = standardize_dtype(dtype) or numpy.dtype(config.floatx())
    backend = config.get_backend()
    return Tensor._wrap(backend.xp.eye(n, dtype=dtype), backend)


# -- custom gradients --------------------------------------------------------------------


class _CustomGradient(Function):
    """The outputs of a ``custom_gradient`` function, computed beforehand; its backward
    calls the user's gradient function.

    Several outputs travel as one flat array (their concatenation), which the caller
    splits again, so that one op carries all their gradients.
    """

    def __init__(self, value, call_grad_fn, inputs_shapes: list):
        self.value, self.call_grad_fn, self.inputs_shapes = value, call_grad_fn, inputs_shapes

    def forward(self, *arrays):
        return self.value

    def backward(self, grad):
        with no_grad():
            grads = self.call_grad_fn(Tensor._wrap(grad, self.backend))
        results = []
        for i, (g, need, (shape, data_type)) in enumerate(
            zip(grads, self.needs_input_grad, self.inputs_shapes)
        ):
            if g is None or not need:
                results.append(None)
                continue
            g = as_tensor(g)
            if g.backend is not self.backend:
                g = g.to(self.backend)
            if g.shape != shape:  # never broadcast silently: a wrong shape is a bug
                raise ValueError(
                    f"custom_gradient: the gradient function returned a gradient of shape "
                    f"{g.shape} for tensor argument {i} of shape {shape}; return one of the "
                    f"argument's shape."
                )
            results.append(g.data.astype(data_type, copy=False))
        return tuple(results)


def _grad_fn_caller(grad_fn, tensors: list, args_leaves: list, outputs: list, structure):
    """A function of the flat upstream gradient that calls ``grad_fn`` as Keras does and
    returns one gradient (or None) per tensor in ``tensors``."""
    try:
        parameters = inspect.signature(grad_fn).parameters
        upstream_keyword = (
            "upstream" in parameters
            and parameters["upstream"].kind == inspect.Parameter.KEYWORD_ONLY
        )
    except (TypeError, ValueError):
        upstream_keyword = False
    positions = [i for i, leaf in enumerate(args_leaves) if isinstance(leaf, Tensor)]

    def call(flat_grad: Tensor) -> list:
        pieces, start = [], 0
        for output in outputs:
            piece = flat_grad if len(outputs) == 1 else flat_grad[start : start + output.size]
            pieces.append(piece.reshape(output.shape) if piece.shape != output.shape else piece)
            start += output.size
        upstream = symbolic.pack_like(structure, pieces)
        if upstream_keyword:  # Keras on PyTorch: grad_fn(*args, upstream=...)
            grads = grad_fn(*tensors, upstream=upstream)
        else:  # Keras on JAX and TensorFlow: grad_fn(upstream)
            grads = grad_fn(upstream)
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        if len(grads) == len(tensors):
            return grads
        if len(grads) == len(args_leaves):
            return [grads[i] for i in positions]
        raise ValueError(
            f"custom_gradient: the gradient function returned {len(grads)} gradients for "
            f"{len(args_leaves)} arguments ({len(tensors)} of them tensors); return one per "
            f"argument."
        )

    return call


def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(output, grad_fn)``; the decorated function returns
    ``output``, and its gradient is ``grad_fn``'s.

    ``grad_fn(upstream)`` (Keras on JAX and TensorFlow) or ``grad_fn(*args, upstream=...)``
    (Keras on PyTorch, when ``upstream`` is a keyword-only parameter) gets the gradient of
    the loss with respect to ``output`` (shaped as ``output``: a tensor, or a structure of
    them) and returns the gradients with respect to the arguments: one tensor, or a tuple
    with one entry (or None) per argument. ``f`` runs without recording its own ops; a
    gradient computed through ``grad_fn`` cannot be differentiated again.
    """
    _callable("custom_gradient", "f", f)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        args_leaves = symbolic.flatten(list(args))
        tensors = [leaf for leaf in args_leaves if isinstance(leaf, Tensor)]
        with no_grad():
            result = f(*args, **kwargs)
        if not isinstance(result, (list, tuple)) or len(result) != 2 or not callable(result[1]):
            raise ValueError(
                "custom_gradient: the decorated function must return a pair (output, grad_fn) "
                "with grad_fn a callable."
            )
        output, grad_fn = result
        outputs = [as_tensor(leaf) for leaf in symbolic.flatten(output)]
        if not tensors or not outputs:
            return output
        if len({t.dtype for t in outputs}) != 1:
            raise ValueError(
                "custom_gradient: the outputs of the decorated function must share one dtype; "
                f"got {[str(t.dtype) for t in outputs]}."
            )
        backend = tensors[0].backend
        outputs = [t if t.backend is backend else t.to(backend) for t in outputs]
        if len(outputs) == 1:
            value = outputs[0].data
        else:
            value = backend.xp.concatenate([t.data.reshape(-1) for t in outputs])
        caller = _grad_fn_caller(grad_fn, tensors, args_leaves, outputs, output)
        shapes = [(t.shape, t.dtype) for t in tensors]
        fused = apply(_CustomGradient(value, caller, shapes), *tensors)
        if len(outputs) == 1:
            return symbolic.pack_like(output, [fused]) if output is not outputs[0] else fused
        pieces, start = [], 0
        for t in outputs:
            pieces.append(fused[start : start + t.size].reshape(t.shape))
            start += t.size
        return symbolic.pack_like(output, pieces)

    return wrapper
