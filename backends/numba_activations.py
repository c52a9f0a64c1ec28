"""The numba backend's activation overrides: elementwise kernels and row softmax.

A mixin of ``NumbaBackend``. Each override takes float32/float64 NumPy arrays
within its size cut-offs (``numba_dispatch``: one-pass arithmetic and tanh from
``MIN_JIT_SIZE`` elements, softplus on scalar ``log1p`` up to ``SCALAR_MATH_LIMIT``)
and hands the rest to the NumPy reference through ``super()``. Long arrays run in slices on
the kernel pool (``thread_pool.py``).

The elementwise overrides are a table of declarations, one line each::

    leaky_relu_backward = _Elementwise("dy, x, y, negative_slope=0.2", operands="dy, x")

gives the reference's parameters (those with a default are the scalars), the
array operands of the kernel of the same name in ``self._activations``, and the
cut-off if there is one (``min_size=`` or ``max_size=``, naming a
``numba_dispatch`` constant). When the class is made, each declaration becomes
the method a hand would write: a guard (float32/float64, one shape for all
operands, the cut-off read at each call), ``super()`` for what fails it, and
the kernel on flat views with the scalars cast to the operands' dtype.
"""

import linecache

import numpy

from . import numba_dispatch as dispatch
from . import thread_pool
from .numba_dispatch import _flat, _jit_dtype

# The method, written out for each declaration and compiled once: it has the reference's
# own parameters (keywords, defaults and inspect.signature work as on the reference) and a
# guard specialized to the declaration, so a call costs what a hand-written method does.
# The owner is ``__class__``, which the zero-argument ``super()`` reads. A class that lists
# the mixin among its bases gets copies that call the reference's function directly
# (``_reference``, looked up in its MRO when the class is made): on arrays below the
# cut-off, which every step of a small model passes, ``super()`` cost 0.25 us of the 0.32
# that the override added to a NumPy ufunc call (8x8 relu: 1.11 against 0.79 us).
_METHOD_GLOBALS = {
    "__name__": __name__,
    "numpy": numpy,
    "dispatch": dispatch,
    "_flat": _flat,
    "_jit_dtype": _jit_dtype,
}
_METHOD_SOURCE = """\
def define(__class__, _reference):
    def {name}(self, {parameters}):
        if {guard}:
            return {fallback}({arguments})
        out = numpy.empty({first}.shape, {first}.dtype)
        arrays = ({arrays})
        scalars = ({scalars})
        self._elementwise(
            self._activations.{name}, arrays, scalars, out.reshape(-1), dispatch.{split}
        )
        return out

    return {name}
"""


class _Elementwise:
    """Declares an elementwise override in a class body; the class gets a plain method.

    ``parameters``: the reference's, after ``self``, as in its ``def`` line.
    ``operands``: the kernel's arrays; by default every parameter without a default.
    ``min_size``, ``max_size``: the name of the ``numba_dispatch`` cut-off, if any.
    ``split``: the ``numba_dispatch`` constant, the fewest elements a block on the pool
    gets (``MIN_SPLIT_ONE_PASS`` for one-pass arithmetic, which is bound by memory).
    """

    def __init__(
        self,
        parameters: str,
        operands: str = "",
        *,
        min_size: str = "",
        max_size: str = "",
        split: str = "MIN_SPLIT_ELEMENTS",
    ):
        self.parameters = [p.strip() for p in parameters.split(",")]
        self.names = [p.partition("=")[0].strip() for p in self.parameters]
        arrays = [name for name, p in zip(self.names, self.parameters) if "=" not in p]
        self.scalars = [name for name in self.names if name not in arrays]
        self.operands = [o.strip() for o in operands.split(",")] if operands else arrays
        if not set(self.operands) <= set(arrays):
            raise ValueError(f"operands {self.operands} are not among the arrays {arrays}")
        for cutoff in (min_size, max_size, split):
            if cutoff and not hasattr(dispatch, cutoff):
                raise ValueError(f"numba_dispatch has no cut-off {cutoff!r}")
        self.min_size, self.max_size, self.split = min_size, max_size, split

    def __set_name__(self, owner, name):
        if "_declared" not in owner.__dict__:
            owner._declared = {}  # name: declaration, of this class body only
        setattr(owner, name, self.method(owner, name))
        owner._declared[name] = self

    def guard(self) -> str:
        """The condition that sends a call to the reference, in the hand-written order."""
        first, last = self.operands[0], self.operands[-1]
        checks = []
        if self.min_size:  # first: the small arrays it refuses are the common case
            checks.append(f"{last}.size < dispatch.{self.min_size}")
        checks.append(f"_jit_dtype({', '.join(self.operands)}) is None")
        checks += [f"{first}.shape != {other}.shape" for other in self.operands[1:]]
        if self.max_size:
            checks.append(f"{last}.size > dispatch.{self.max_size}")
        return " or ".join(checks)

    def method(self, owner, name: str, reference=None):
        """The method on ``owner``: its fallback is ``super()``, or the function
        ``reference`` (the reference's own ``name``) called with ``self``."""
        first = self.operands[0]
        source = _METHOD_SOURCE.format(
            name=name,
            fallback=f"super().{name}" if reference is None else "_reference",
            split=self.split,
            parameters=", ".join(self.parameters),
            guard=self.guard(),
            arguments=", ".join(self.names if reference is None else ["self", *self.names]),
            first=first,
            arrays="".join(f"_flat({operand}), " for operand in self.operands),
            scalars="".join(f"{first}.dtype.type({scalar}), " for scalar in self.scalars),
        )
        filename = f"<{owner.__module__}.{owner.__qualname__}.{name}>"
        # for tracebacks: linecache serves the generated lines under that file name
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace = {}
        exec(compile(source, filename, "exec"), _METHOD_GLOBALS, namespace)
        method = namespace["define"](owner, reference)
        method.__qualname__ = f"{owner.__qualname__}.{name}"
        method.__doc__ = self.docstring(name)
        return method

    def docstring(self, name: str) -> str:
        conditions = ["float32/float64 NumPy arrays"]
        if len(self.operands) > 1:
            conditions.append("of one shape")
        if self.min_size:
            conditions.append(f"from ``numba_dispatch.{self.min_size}`` elements")
        if self.max_size:
            conditions.append(f"up to ``numba_dispatch.{self.max_size}`` elements")
        operands = ", ".join(self.operands)
        return (
            f"The jitted ``{name}`` on {operands} ({', '.join(conditions)}), "
            "else the NumPy reference."
        )


class ActivationOverrides:
    """Needs the ``self._activations`` kernel module."""

    def __init_subclass__(cls, **kwargs):
        """A class that lists this mixin among its bases gets each declared method with the
        reference's function bound in (the next one in its MRO), not found through
        ``super()`` at every call; methods the class defines itself are left alone."""
        super().__init_subclass__(**kwargs)
        if ActivationOverrides not in cls.__bases__:
            return
        for name, declaration in ActivationOverrides._declared.items():
            if name not in cls.__dict__:
                reference = getattr(super(), name)  # the next class's, in cls's MRO
                setattr(cls, name, declaration.method(cls, name, reference))

    # -- elementwise activations -----------------------------------------

    @staticmethod
    def _elementwise(kernel, arrays, scalars, out, min_block):
        """``kernel(*arrays, *scalars, out)`` on 1-D arrays, in slices of at least
        ``min_block`` elements on the kernel pool when they are long (the kernels release
        the GIL)."""

        if out.size < 2 * min_block:
            kernel(*arrays, *scalars, out)
            return

        def block(start, stop):
            kernel(*(a[start:stop] for a in arrays), *scalars, out[start:stop])

        thread_pool.run_blocks(block, count=out.size, min_block=min_block, align=16)

    # one-pass arithmetic: from MIN_JIT_SIZE elements where a ufunc's cheaper call counts,
    # split only into long blocks (it is bound by memory)
    _ONE_PASS = dict(split="MIN_SPLIT_ONE_PASS")
    relu_forward = _Elementwise("x", min_size="MIN_JIT_SIZE", **_ONE_PASS)
    relu_backward = _Elementwise("dy, x, y", operands="dy, y", min_size="MIN_JIT_SIZE", **_ONE_PASS)
    sigmoid_backward = _Elementwise(
        "dy, x, y", operands="dy, y", min_size="MIN_JIT_SIZE", **_ONE_PASS
    )
    tanh_backward = _Elementwise("dy, x, y", operands="dy, y", min_size="MIN_JIT_SIZE", **_ONE_PASS)
    leaky_relu_forward = _Elementwise("x, negative_slope=0.2", min_size="MIN_JIT_SIZE", **_ONE_PASS)
    leaky_relu_backward = _Elementwise(
        "dy, x, y, negative_slope=0.2", operands="dy, x", **_ONE_PASS
    )
    elu_backward = _Elementwise("dy, x, y, alpha=1.0", operands="dy, x, y", **_ONE_PASS)
    selu_backward = _Elementwise("dy, x, y", operands="dy, x, y", **_ONE_PASS)

    # vector_math's exponential: 4-17x NumPy's passes at every size (65k float32: sigmoid
    # 20 against 247 us, elu 17 against 137, swish backward 58 against 287); NumPy's own
    # SIMD tanh is close (21 against 24 us), so tanh takes the kernel only from MIN_JIT_SIZE
    _VECTOR_MATH = dict(split="MIN_SPLIT_VECTOR_MATH")
    sigmoid_forward = _Elementwise("x", **_VECTOR_MATH)
    tanh_forward = _Elementwise("x", min_size="MIN_JIT_SIZE", **_VECTOR_MATH)
    elu_forward = _Elementwise("x, alpha=1.0", **_VECTOR_MATH)
    selu_forward = _Elementwise("x", **_VECTOR_MATH)
    softplus_backward = _Elementwise("dy, x, y", operands="dy, x", **_VECTOR_MATH)
    swish_forward = _Elementwise("x", **_VECTOR_MATH)
    swish_backward = _Elementwise("dy, x, y", operands="dy, x", **_VECTOR_MATH)

    # libm's scalar log1p: the kernel wins up to SCALAR_MATH_LIMIT elements
    softplus_forward = _Elementwise("x", max_size="SCALAR_MATH_LIMIT")

    # one jitted pass: 2.7x faster than the reference's vectorised Cody approximations
    # (128x1024 float32: 1.9 against 5.1 ms of CPU)
    erf = _Elementwise("x")

    # -- GELU's tanh form, on vector_math's tanh --------------------------------
    # (the exact form is the reference's, on the jitted erf: a fused pass around libm's
    # scalar erf measured 5-15% faster forward and 5-35% slower backward)

    def gelu_forward(self, x, approximate=False):
        if not approximate or _jit_dtype(x) is None:
            return super().gelu_forward(x, approximate)
        out = numpy.empty(x.shape, x.dtype)
        kernel = self._activations.gelu_approximate_forward
        self._elementwise(kernel, (_flat(x),), (), out.reshape(-1), dispatch.MIN_SPLIT_VECTOR_MATH)
        return out

    def gelu_backward(self, dy, x, y, approximate=False):
        if not approximate or _jit_dtype(dy, x) is None or dy.shape != x.shape:
            return super().gelu_backward(dy, x, y, approximate)
        out = numpy.empty(dy.shape, dy.dtype)
        kernel = self._activations.gelu_approximate_backward
        operands = (_flat(dy), _flat(x))
        self._elementwise(kernel, operands, (), out.reshape(-1), dispatch.MIN_SPLIT_VECTOR_MATH)
        return out

    # -- softmax over the last axis ----------------------------------------

    def _rows(self, kernel, *arrays):
        """Run a row kernel over the last axis of same-shaped arrays, in blocks of rows on
        the kernel pool when they are long (a layer of 1000 classes over a batch of 1024)."""
        first = arrays[0]
        if len(arrays) == 1 and first.ndim == 2 and first.flags.c_contiguous:
            rows, out = arrays, numpy.empty_like(first)  # a model's logits: as they are
            out_rows = out
        else:
            width = first.shape[-1]
            rows = [numpy.ascontiguousarray(a).reshape(-1, width) for a in arrays]
            out = numpy.empty(first.shape, first.dtype)
            out_rows = out.reshape(-1, width)
        dispatch.by_rows(kernel, *rows, out_rows)
        return out

    @staticmethod
    def _last_axis(x, axis):
        return x.ndim >= 1 and x.size > 0 and axis in (-1, x.ndim - 1)

    def softmax_forward(self, x, axis=-1):
        if _jit_dtype(x) is None or not self._last_axis(x, axis):
            return super().softmax_forward(x, axis)
        return self._rows(self._activations.softmax_rows, x)

    def softmax_backward(self, dy, y, axis=-1):
        if _jit_dtype(dy, y) is None or not self._last_axis(y, axis) or dy.shape != y.shape:
            return super().softmax_backward(dy, y, axis)
        return self._rows(self._activations.softmax_rows_backward, dy, y)

    def log_softmax_forward(self, x, axis=-1):
        if _jit_dtype(x) is None or not self._last_axis(x, axis):
            return super().log_softmax_forward(x, axis)
        return self._rows(self._activations.log_softmax_rows, x)

    def log_softmax_backward(self, dy, y, axis=-1):
        if _jit_dtype(dy, y) is None or not self._last_axis(y, axis) or dy.shape != y.shape:
            return super().log_softmax_backward(dy, y, axis)
        return self._rows(self._activations.log_softmax_rows_backward, dy, y)
