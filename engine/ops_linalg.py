"""Linear algebra of ``engine.ops`` (re-exported there): matmul, dot, tensordot, einsum, norm."""

import builtins
import math

import numpy

from . import functional as F
from .conversion import as_float, cast_tensor, normalize_axis, promote
from .functional import decompositions, elementwise, linalg
from .ops_math import _pair, not_equal
from .ops_reduction import sum
from .ops_shape import broadcast_to, expand_dims, extract_sequences, moveaxis, pad
from .tensor import Tensor

# -- products ---------------------------------------------------------------------------


def matmul(x1, x2) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading axes broadcast."""
    a, b = _pair("matmul", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: x1 has shape {a.shape} and x2 {b.shape}; a scalar operand is not "
            f"allowed (use multiply)."
        )
    inner = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner:
        raise ValueError(
            f"matmul: x1 has shape {a.shape} and x2 {b.shape}; the last axis of x1 "
            f"({a.shape[-1]}) must equal the {'first' if b.ndim == 1 else 'second-to-last'} "
            f"axis of x2 ({inner})."
        )
    try:
        return F.matmul(a, b)
    except ValueError as error:
        raise ValueError(
            f"matmul: the leading axes of x1 {a.shape} and x2 {b.shape} do not broadcast."
        ) from error


def dot(x1, x2) -> Tensor:
    """``numpy.dot``: scalars multiply; else the last axis of x1 meets the second-to-last of x2."""
    a, b = _pair("dot", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return F.multiply(a, b)
    if b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


def tensordot(x1, x2, axes=2) -> Tensor:
    """Sum of products over ``axes``: the last n of x1 with the first n of x2, or two lists."""
    a, b = _pair("tensordot", x1, x2)
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    axes_a = [normalize_axis("tensordot", x, a.ndim, "axes")[0] for x in axes_a]
    axes_b = [normalize_axis("tensordot", x, b.ndim, "axes")[0] for x in axes_b]
    if len(axes_a) != len(axes_b) or builtins.any(
        a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b)
    ):
        raise ValueError(
            f"tensordot: axes {axes_a} of x1 {a.shape} do not match axes {axes_b} of x2 {b.shape}."
        )
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    term_a = [next(letters) for _ in range(a.ndim)]
    term_b = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(axes_a, axes_b):
        term_b[j] = term_a[i]
    output = [c for k, c in enumerate(term_a) if k not in axes_a]
    output += [c for k, c in enumerate(term_b) if k not in axes_b]
    return linalg.einsum(f"{''.join(term_a)},{''.join(term_b)}->{''.join(output)}", a, b)


def outer(x1, x2) -> Tensor:
    """``x1[:, None] * x2[None, :]`` of the flattened inputs."""
    a, b = _pair("outer", x1, x2)
    return F.multiply(F.reshape(a, (-1, 1)), F.reshape(b, (1, -1)))


def einsum(subscripts: str, *operands) -> Tensor:
    """Einstein summation (``...`` and implicit output allowed); its gradient is einsum again."""
    if not operands:
        raise ValueError(f"einsum: subscripts {subscripts!r} were given no operands.")
    named = {f"operands[{i}]": x for i, x in enumerate(operands)}
    return linalg.einsum(subscripts, *promote("einsum", named))


# -- norms ------------------------------------------------------------------------------


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    A vector norm over one axis (``ord`` None/2, 1, inf, -inf, 0 or any p); a
    matrix norm over two (``ord`` None/"fro", "nuc", 1, -1, 2, -2, inf, -inf).
    With ``axis=None`` a 1-D or 2-D tensor takes its own kind of norm and a
    larger one the 2-norm of all its entries.
    """
    x = as_float("norm", x)
    if axis is None:
        if x.ndim > 2 and ord is not None:
            raise ValueError(
                f"norm: ord={ord!r} needs axis= for a tensor of rank {x.ndim} (shape {x.shape})."
            )
        if x.ndim > 2 or (x.ndim == 2 and ord is None):
            return _vector_norm(F.reshape(x, (-1,)), None, (0,), False, x.ndim if keepdims else 0)
        axis = tuple(range(x.ndim))
    axes = normalize_axis("norm", axis, x.ndim)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims, 0)
    if len(axes) == 2:
        order = axis if isinstance(axis, (tuple, list)) else axes
        return _matrix_norm(
            x,
            ord,
            normalize_axis("norm", order[0], x.ndim)[0],
            normalize_axis("norm", order[1], x.ndim)[0],
            keepdims,
        )
    raise ValueError(f"norm: axis={axis!r} names {len(axes)} axes; give one or two.")


def _vector_norm(x, ord, axes, keepdims, restore_ndim) -> Tensor:  # noqa: A002
    if ord is None or ord == 2:
        result = F.sqrt(F.sum(elementwise.square(x), axes, keepdims))
    elif ord == math.inf:
        result = F.max(F.abs(x), axes, keepdims)
    elif ord == -math.inf:
        result = F.min(F.abs(x), axes, keepdims)
    elif ord == 0:
        result = cast_tensor(sum(not_equal(x, 0), axes, keepdims), x.dtype)
    elif ord == 1:
        result = F.sum(F.abs(x), axes, keepdims)
    elif isinstance(ord, (int, float)) and not isinstance(ord, bool):
        result = F.power(F.sum(F.power(F.abs(x), ord), axes, keepdims), 1 / ord)
    else:
        raise ValueError(f"norm: ord={ord!r} is not a vector norm.")
    if restore_ndim:
        result = F.reshape(result, (1,) * restore_ndim)
    return result


def _matrix_norm(x, ord, row, col, keepdims) -> Tensor:  # noqa: A002
    if ord in (None, "fro"):
        return F.sqrt(F.sum(elementwise.square(x), (row, col), keepdims))
    if ord in ("nuc", 2, -2):
        moved = moveaxis(x, (row, col), (-2, -1))
        values = linalg.singular_values(moved)
        if ord == "nuc":
            result = F.sum(values, (values.ndim - 1,))
        else:
            result = (F.max if ord == 2 else F.min)(values, (values.ndim - 1,))
        if keepdims:
            result = expand_dims(result, tuple(sorted((row, col))))
        return result
    if ord in (1, -1, math.inf, -math.inf):
        summed, across = (row, col) if ord in (1, -1) else (col, row)
        sums = F.sum(F.abs(x), (summed,), keepdims=True)
        pick = F.max if ord in (1, math.inf) else F.min
        result = pick(sums, (across,), keepdims=True)
        if not keepdims:
            result = F.reshape(
                result, [s for a, s in enumerate(result.shape) if a not in (row, col)]
            )
        return result
    raise ValueError(f"norm: ord={ord!r} is not a matrix norm.")


# -- inverses, determinants, solves and decompositions (keras.ops.linalg) ---------------


def _matrices(function: str, x, square: bool = True) -> Tensor:
    """``x`` as a float tensor of (a batch of) matrices, square when ``square``."""
    x = as_float(function, x)
    if x.ndim < 2 or (square and x.shape[-1] != x.shape[-2]):
        kind = "square matrices" if square else "matrices"
        raise ValueError(f"{function}: x must be {kind} (shape (..., n, n)), got shape {x.shape}.")
    return x


def inv(x) -> Tensor:
    """The inverse of (a batch of) square matrices."""
    return decompositions.inverse(_matrices("inv", x))


def det(x) -> Tensor:
    """The determinant of (a batch of) square matrices."""
    return decompositions.determinant(_matrices("det", x))


def slogdet(x) -> tuple:
    """``(sign, log|det x|)``; the sign carries no gradient."""
    x = _matrices("slogdet", x)
    sign = x.backend.xp.linalg.slogdet(x.data)[0]
    return Tensor._wrap(sign, x.backend), decompositions.log_abs_determinant(x)


def logdet(x) -> Tensor:
    """``log(det x)`` of (a batch of) symmetric positive-definite matrices."""
    return decompositions.log_abs_determinant(_matrices("logdet", x))


def solve(a, b) -> Tensor:
    """``x`` with ``a @ x = b``; ``b`` is ``(..., n)`` or ``(..., n, k)``."""
    a, b = _pair("solve", a, b, floating=True)
    _matrices("solve", a)
    vector = b.ndim == a.ndim - 1
    if vector:
        b = expand_dims(b, -1)
    if b.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve: a of shape {a.shape} does not fit b of shape {b.shape}.")
    x = decompositions.solve(a, b)
    return F.reshape(x, x.shape[:-1]) if vector else x


def solve_triangular(a, b, lower: bool = False) -> Tensor:
    """``solve`` with only the ``lower`` (or upper) triangle of ``a`` read, as Keras."""
    from .ops_shape import tril, triu  # ops_shape imports nothing of this module's

    a = _matrices("solve_triangular", a)
    return solve(tril(a) if lower else triu(a), b)


def cholesky(x, upper: bool = False) -> Tensor:
    """The Cholesky factor of symmetric positive-definite matrices: lower ``l`` with
    ``x = l @ l.T``, or its transpose when ``upper``."""
    lower = decompositions.cholesky(_matrices("cholesky", x))
    return F.transpose(lower, _swap_last(lower.ndim)) if upper else lower


def cholesky_inverse(x, upper: bool = False) -> Tensor:
    """The inverse of ``l @ l.T`` from a Cholesky factor ``l`` (``u.T @ u`` when ``upper``)."""
    factor = _matrices("cholesky_inverse", x)
    swapped = F.transpose(factor, _swap_last(factor.ndim))
    return inv(matmul(swapped, factor) if upper else matmul(factor, swapped))


def _swap_last(ndim: int) -> tuple:
    return (*range(ndim - 2), ndim - 1, ndim - 2)


def eigh(x) -> tuple:
    """``(eigenvalues, eigenvectors)`` of symmetric matrices, eigenvalues ascending and
    eigenvectors as columns; differentiable for distinct eigenvalues."""
    return decompositions.eigh(_matrices("eigh", x))


def qr(x, mode: str = "reduced") -> tuple:
    """``(q, r)`` with ``x = q @ r``; ``mode`` "reduced" or "complete". Differentiable for
    "reduced" with at least as many rows as columns."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}.")
    x = _matrices("qr", x, square=False)
    if mode == "reduced" and x.shape[-2] >= x.shape[-1]:
        return decompositions.qr(x)
    q, r = x.backend.xp.linalg.qr(x.data, mode=mode)
    message = "qr: no gradient for mode='complete' or for more columns than rows."
    return tuple(decompositions.without_gradient(x, part, message) for part in (q, r))


def svd(x, full_matrices: bool = True, compute_uv: bool = True):
    """``(u, s, vh)`` with ``x = u @ diag(s) @ vh`` (``s`` alone without ``compute_uv``).
    The singular values are differentiable; ``u`` and ``vh`` have no gradient."""
    x = _matrices("svd", x, square=False)
    values = linalg.singular_values(x)
    if not compute_uv:
        return values
    u, _, vh = x.backend.xp.linalg.svd(x.data, full_matrices=full_matrices)
    message = "svd: u and vh have no gradient here; svd(x, compute_uv=False) has one."
    return (
        decompositions.without_gradient(x, u, message),
        values,
        decompositions.without_gradient(x, vh, message),
    )


def eig(x) -> tuple:
    """``(eigenvalues, eigenvectors)`` of square matrices (complex where they are); no gradient."""
    x = _matrices("eig", x)
    values, vectors = x.backend.xp.linalg.eig(x.data)
    message = "eig: no gradient (for symmetric matrices, eigh has one)."
    return tuple(decompositions.without_gradient(x, part, message) for part in (values, vectors))


def lstsq(a, b, rcond=None) -> Tensor:
    """The least-squares solution ``x`` of ``a @ x = b``; no gradient."""
    a, b = _pair("lstsq", a, b, floating=True)
    _matrices("lstsq", a, square=False)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(
            f"lstsq: a must be (m, n) and b (m,) or (m, k); got {a.shape} and {b.shape}."
        )
    solution = a.backend.xp.linalg.lstsq(a.data, b.data, rcond=rcond)[0]
    return decompositions.without_gradient(a, solution, "lstsq: no gradient.")


def pinv(x, rcond=None) -> Tensor:
    """The Moore-Penrose pseudo-inverse; no gradient."""
    x = _matrices("pinv", x, square=False)
    xp = x.backend.xp
    inverse = xp.linalg.pinv(x.data) if rcond is None else xp.linalg.pinv(x.data, rcond)
    return decompositions.without_gradient(x, inverse, "pinv: no gradient.")


def matrix_rank(x, tol=None) -> Tensor:
    """The number of singular values above ``tol`` (NumPy's default), as int32."""
    x = _matrices("matrix_rank", x, square=False)
    rank = x.backend.xp.linalg.matrix_rank(x.data, tol=tol)
    return Tensor._wrap(x.backend.xp.asarray(rank).astype("int32"), x.backend)


# -- more products (NumPy's names in Keras 3) --------------------------------------------


def inner(x1, x2) -> Tensor:
    """Sum of products over the last axes (scalars multiply)."""
    a, b = _pair("inner", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return F.multiply(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def vdot(x1, x2) -> Tensor:
    """The dot product of the flattened tensors (conjugating ``x1``: real here)."""
    a, b = _pair("vdot", x1, x2)
    if a.size != b.size:
        raise ValueError(f"vdot: x1 {a.shape} and x2 {b.shape} need as many elements.")
    return sum(F.multiply(F.reshape(a, (-1,)), F.reshape(b, (-1,))))


def kron(x1, x2) -> Tensor:
    """The Kronecker product: ``x1``'s entries each times the whole ``x2``."""
    a, b = _pair("kron", x1, x2)
    rank = builtins.max(a.ndim, b.ndim)
    a = F.reshape(a, (1,) * (rank - a.ndim) + a.shape)
    b = F.reshape(b, (1,) * (rank - b.ndim) + b.shape)
    # interleave: (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0 * b0, a1 * b1, ...)
    spread_a = F.reshape(a, [s for size in a.shape for s in (size, 1)])
    spread_b = F.reshape(b, [s for size in b.shape for s in (1, size)])
    product = F.multiply(spread_a, spread_b)
    return F.reshape(product, [p * q for p, q in zip(a.shape, b.shape)])


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None) -> Tensor:
    """The cross product of 3-vectors along the given axes; a 2-vector counts with a zero
    third component, and two 2-vectors give the z component alone (as NumPy)."""
    a, b = _pair("cross", x1, x2)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(
            f"cross: the vector axes must have 2 or 3 components, got {a.shape[-1]} and "
            f"{b.shape[-1]}."
        )
    planar = a.shape[-1] == b.shape[-1] == 2
    a0, a1, a2 = _components(a)
    b0, b1, b2 = _components(b)
    z = F.subtract(F.multiply(a0, b1), F.multiply(a1, b0))
    if planar:
        return z
    x = F.subtract(F.multiply(a1, b2), F.multiply(a2, b1))
    y = F.subtract(F.multiply(a2, b0), F.multiply(a0, b2))
    x, y, z = (broadcast_to(c, _broadcast_shape(x, y, z)) for c in (x, y, z))
    return moveaxis(F.stack([x, y, z], -1), -1, axisc)


def _components(v: Tensor) -> list:
    """The three components of vectors on the last axis (a zero third for 2-vectors)."""
    parts = [F.getitem(v, (..., i)) for i in range(v.shape[-1])]
    if len(parts) == 2:
        parts.append(F.multiply(parts[0], 0.0))
    return parts


def _broadcast_shape(*tensors) -> tuple:
    shape = ()
    for t in tensors:
        shape = numpy.broadcast_shapes(shape, t.shape)
    return shape


def cdist(x, y) -> Tensor:
    """Euclidean distances between the rows of ``x`` (``(..., m, d)``) and ``y``
    (``(..., n, d)``): ``(..., m, n)``."""
    a, b = _pair("cdist", x, y, floating=True)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"cdist: x and y must be (..., rows, features) with one feature count, got "
            f"{a.shape} and {b.shape}."
        )
    difference = F.subtract(expand_dims(a, -2), expand_dims(b, -3))
    return F.sqrt(F.sum(elementwise.square(difference), (difference.ndim - 1,)))


def corrcoef(x) -> Tensor:
    """Pearson correlation coefficients of the rows of ``x`` (variables x observations)."""
    x = as_float("corrcoef", x)
    if x.ndim > 2:
        raise ValueError(f"corrcoef: x must be 1-D or 2-D, got shape {x.shape}.")
    rows = F.reshape(x, (1, -1)) if x.ndim == 1 else x
    centered = F.subtract(rows, F.mean(rows, (1,), keepdims=True))
    covariance = matmul(centered, F.transpose(centered, (1, 0)))
    scale = F.sqrt(linalg.einsum("ii->i", covariance))
    result = F.divide(covariance, F.multiply(expand_dims(scale, 1), expand_dims(scale, 0)))
    result = F.clip(result, -1.0, 1.0)
    return F.reshape(result, ()) if x.ndim == 1 else result


def correlate(x1, x2, mode: str = "valid") -> Tensor:
    """Cross-correlation of two 1-D tensors: ``c[k] = sum_n x1[n + k] * x2[n]``
    (``mode`` "valid", "same" or "full", as NumPy)."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full', got {mode!r}.")
    a, b = _pair("correlate", x1, x2, floating=True)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"correlate: x1 and x2 must be 1-D, got {a.shape} and {b.shape}.")
    n, m = a.shape[0], b.shape[0]
    if not n or not m:
        raise ValueError(f"correlate: x1 and x2 must not be empty, got {a.shape} and {b.shape}.")
    full = matmul(extract_sequences(pad(a, [(m - 1, m - 1)]), m, 1), b)  # every shift
    if mode == "full":
        return full
    # NumPy's windows of the full correlation, for either order of the lengths
    if mode == "same":
        start, length = ((m - 1) // 2 if n >= m else n // 2), builtins.max(n, m)
    else:
        start, length = builtins.min(n, m) - 1, builtins.max(n, m) - builtins.min(n, m) + 1
    return F.getitem(full, (slice(start, start + length),))


def trapezoid(y, x=None, dx=1.0, axis: int = -1) -> Tensor:
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at ``x`` or spaced
    ``dx``."""
    y = as_float("trapezoid", y)
    (axis,) = normalize_axis("trapezoid", axis, y.ndim)
    moved = moveaxis(y, axis, -1)
    averages = F.multiply(
        F.add(F.getitem(moved, (..., slice(1, None))), F.getitem(moved, (..., slice(None, -1)))),
        0.5,
    )
    if x is None:
        return F.multiply(sum(averages, averages.ndim - 1), float(dx))
    (x,) = promote("trapezoid", {"x": x}, dtype=y.dtype)
    steps = F.subtract(F.getitem(x, (..., slice(1, None))), F.getitem(x, (..., slice(None, -1))))
    return sum(F.multiply(averages, steps), averages.ndim - 1)


def lu_factor(x) -> tuple:
    """``(lu, pivots)`` of square matrices by Gaussian elimination with partial pivoting,
    as SciPy's ``lu_factor``: ``lu`` holds U and, below its diagonal, L (unit diagonal);
    row ``i`` was swapped with row ``pivots[i]`` (int32). No gradient."""
    x = _matrices("lu_factor", x)
    xp = x.backend.xp
    batch_shape, n = x.shape[:-2], x.shape[-1]
    lu = x.data.reshape(-1, n, n).copy()
    rows = xp.arange(lu.shape[0])
    pivots = xp.zeros((lu.shape[0], n), dtype="int32")
    for k in range(n):
        pivot = xp.argmax(xp.abs(lu[:, k:, k]), axis=1) + k
        pivots[:, k] = pivot
        kept = lu[rows, k].copy()
        lu[rows, k] = lu[rows, pivot]
        lu[rows, pivot] = kept
        diagonal = lu[:, k, k][:, None]
        lu[:, k + 1 :, k] /= xp.where(diagonal == 0, 1, diagonal)  # a singular column stays
        lu[:, k + 1 :, k + 1 :] -= lu[:, k + 1 :, k : k + 1] * lu[:, k : k + 1, k + 1 :]
    message = "lu_factor: no gradient."
    factors = decompositions.without_gradient(x, lu.reshape(x.shape), message)
    return factors, Tensor._wrap(pivots.reshape(*batch_shape, n), x.backend)
