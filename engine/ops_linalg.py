"""Linear algebra of ``engine.ops`` (re-exported there): matmul, dot, tensordot, einsum, norm."""

import builtins
import math

from . import functional as F
from .conversion import as_float, cast_tensor, normalize_axis, promote
from .functional import decompositions, elementwise, linalg
from .ops_math import _pair, not_equal
from .ops_reduction import sum
from .ops_shape import expand_dims, moveaxis
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
