"""Matrix inverse, determinants, solves and decompositions, over the last two axes.

Gradients are the standard matrix-calculus results (Giles, "An extended collection of
matrix derivative results", 2008; Murray, "Differentiation of the Cholesky
decomposition", 2016; Walter and Lehmann for QR): ``inv``, ``det``, ``slogdet``,
``solve``, ``cholesky``, ``eigh`` (distinct eigenvalues) and ``qr`` (reduced, at
least as many rows as columns). The outputs of ``svd`` (U and V), ``eig``, ``lstsq``
and ``pinv`` carry no gradient formula here: differentiating through them raises a
clear error instead of giving a silent zero.
"""

from ..tensor import Function, Tensor, apply


def _t(a):
    """The transpose of the last two axes."""
    return a.swapaxes(-1, -2)


class Inverse(Function):
    def forward(self, a):
        self.inverse = self.backend.xp.linalg.inv(a)
        return self.inverse

    def backward(self, grad):
        inverse_t = _t(self.inverse)
        return (-(inverse_t @ grad @ inverse_t),)


class Determinant(Function):
    def forward(self, a):
        self.a = a
        self.det = self.backend.xp.linalg.det(a)
        return self.det

    def backward(self, grad):
        inverse_t = _t(self.backend.xp.linalg.inv(self.a))
        return ((grad * self.det)[..., None, None] * inverse_t,)


class LogAbsDeterminant(Function):
    """``log|det a|``: the second half of ``slogdet``."""

    def forward(self, a):
        self.a = a
        return self.backend.xp.linalg.slogdet(a)[1]

    def backward(self, grad):
        return (grad[..., None, None] * _t(self.backend.xp.linalg.inv(self.a)),)


class Solve(Function):
    """``x`` with ``a @ x = b``, ``b`` of shape ``(..., n, k)``."""

    def forward(self, a, b):
        self.a = a
        self.x = self.backend.xp.linalg.solve(a, b)
        return self.x

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        grad_b = self.backend.xp.linalg.solve(_t(self.a), grad)
        return (-(grad_b @ _t(self.x)) if need_a else None, grad_b if need_b else None)


def _lower_half_diagonal(xp, m):
    """Murray's Phi: the lower triangle of ``m``, its diagonal halved."""
    lower = xp.tril(m)
    diagonal = xp.diagonal(lower, axis1=-2, axis2=-1)
    return lower - 0.5 * xp.eye(m.shape[-1], dtype=m.dtype) * diagonal[..., None, :]


def _symmetrized(a):
    """``(a + a.T) / 2``: what a symmetric-matrix op reads, as JAX and PyTorch, so that
    its gradient (symmetric) is the derivative of what it computes."""
    return 0.5 * (a + _t(a))


class Cholesky(Function):
    """The lower factor ``l`` of ``a = l @ l.T`` (``a`` symmetric positive definite)."""

    def forward(self, a):
        self.lower = self.backend.xp.linalg.cholesky(_symmetrized(a))
        return self.lower

    def backward(self, grad):
        xp, lower = self.backend.xp, self.lower
        inverse = xp.linalg.inv(lower)
        phi = _lower_half_diagonal(xp, _t(lower) @ grad)
        s = _t(inverse) @ phi @ inverse
        return (0.5 * (s + _t(s)),)


def _off_diagonal_inverse_gaps(xp, values):
    """``1 / (w_j - w_i)`` off the diagonal, 0 on it."""
    gaps = values[..., None, :] - values[..., :, None]
    eye = xp.eye(values.shape[-1], dtype=bool)
    return xp.where(eye, 0, 1 / xp.where(eye, 1, gaps))


class _Eigh(Function):
    """One output of ``eigh`` (ascending eigenvalues, or their eigenvectors as columns) of a
    symmetric ``a``; each output's backward adds its own part of the gradient."""

    def __init__(self, vectors: bool):
        self.vectors = vectors

    def forward(self, a):
        self.values, self.v = self.backend.xp.linalg.eigh(_symmetrized(a))
        return self.v if self.vectors else self.values

    def backward(self, grad):
        xp, v = self.backend.xp, self.v
        if self.vectors:
            inner = _off_diagonal_inverse_gaps(xp, self.values) * (_t(v) @ grad)
        else:
            inner = grad[..., None, :] * xp.eye(v.shape[-1], dtype=v.dtype)
        full = v @ inner @ _t(v)
        return (0.5 * (full + _t(full)),)


def _copy_lower_to_upper(xp, m):
    """``tril(m, -1) + tril(m, -1).T + diag(m)``: the symmetric matrix of ``m``'s lower part."""
    strict = xp.tril(m, -1)
    return strict + _t(strict) + xp.tril(xp.triu(m))


class _QR(Function):
    """One output of the reduced QR decomposition (``q`` or ``r``) of ``a`` with at least
    as many rows as columns."""

    def __init__(self, output: str):
        self.output = output

    def forward(self, a):
        self.q, self.r = self.backend.xp.linalg.qr(a, mode="reduced")
        return self.q if self.output == "q" else self.r

    def backward(self, grad):
        xp, q, r = self.backend.xp, self.q, self.r
        grad_q, grad_r = (grad, xp.zeros_like(r)) if self.output == "q" else (0 * q, grad)
        m = r @ _t(grad_r) - _t(grad_q) @ q
        b = grad_q + q @ _copy_lower_to_upper(xp, m)
        # b @ inv(r).T, as a solve with r.T
        return (_t(xp.linalg.solve(r, _t(b))),)


class NoGradient(Function):
    """An output computed outside the graph whose gradient raises ``message``."""

    def __init__(self, value, message: str):
        self.value, self.message = value, message

    def forward(self, a):
        return self.value

    def backward(self, grad):
        raise NotImplementedError(self.message)


def inverse(a: Tensor) -> Tensor:
    return apply(Inverse(), a)


def determinant(a: Tensor) -> Tensor:
    return apply(Determinant(), a)


def log_abs_determinant(a: Tensor) -> Tensor:
    return apply(LogAbsDeterminant(), a)


def solve(a: Tensor, b: Tensor) -> Tensor:
    return apply(Solve(), a, b)


def cholesky(a: Tensor) -> Tensor:
    return apply(Cholesky(), a)


def eigh(a: Tensor) -> tuple:
    return apply(_Eigh(vectors=False), a), apply(_Eigh(vectors=True), a)


def qr(a: Tensor) -> tuple:
    return apply(_QR("q"), a), apply(_QR("r"), a)


def without_gradient(a: Tensor, value, message: str) -> Tensor:
    """``value`` (an array computed from ``a``) as a tensor whose backward raises ``message``."""
    return apply(NoGradient(value, message), a)
