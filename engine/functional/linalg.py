"""Einsum (whose backward is einsum again) and singular values: ``dot``, ``tensordot``, ``norm``."""

import functools
import math
import string

from ..tensor import Function, Tensor, apply
from ._util import unbroadcast


class Einsum(Function):
    """``xp.einsum`` over explicit subscripts: one term per operand, the output term.

    The caller (``parse_einsum``) has expanded ``...`` into letters, so every
    term names each axis of its operand. Operands whose axes of size 1 meet a
    larger size elsewhere are broadcast first and the gradient summed back.
    The gradient of operand i is the einsum of the output gradient with the
    other operands onto operand i's letters; letters it shares with nobody are
    broadcast, and a letter it repeats (a diagonal, ``"ii->"``) is written back
    onto that diagonal.
    """

    def __init__(self, terms: list, output: str, sizes: dict):
        self.terms, self.output, self.sizes = terms, output, sizes
        # NumPy's optimize=True contracts pairs through BLAS (tensordot), which pays
        # off only when there is real work: its path search costs ~50 us a call
        self.optimize = len(terms) > 1 and math.prod(sizes.values()) >= 1 << 15

    def forward(self, *arrays):
        xp = self.backend.xp
        self.shapes = [a.shape for a in arrays]
        arrays = [self._broadcast(xp, a, term) for a, term in zip(arrays, self.terms)]
        if len(arrays) > 1 and any(self.needs_input_grad):
            self.arrays = arrays  # each operand's gradient reads the others
        return self._einsum(self.terms, self.output, arrays)

    def _broadcast(self, xp, array, term):
        shape = tuple(self.sizes[c] for c in term)
        return array if array.shape == shape else xp.broadcast_to(array, shape)

    def _einsum(self, terms, output, arrays):
        spec = ",".join(terms) + "->" + output
        return self.backend.xp.einsum(spec, *arrays, optimize=self.optimize)

    def backward(self, grad):
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            grads.append(self._operand_grad(i, grad) if need else None)
        return tuple(grads)

    def _operand_grad(self, i, grad):
        xp, term, sizes = self.backend.xp, self.terms[i], self.sizes
        others = [j for j in range(len(self.terms)) if j != i]
        letters = "".join(dict.fromkeys(term))  # unique, in order
        elsewhere = self.output + "".join(self.terms[j] for j in others)
        reached = "".join(c for c in letters if c in elsewhere)
        g = self._einsum(
            [self.output, *[self.terms[j] for j in others]],
            reached,
            [grad, *[self.arrays[j] for j in others]],
        )
        g = g.reshape([sizes[c] if c in reached else 1 for c in letters])
        g = xp.broadcast_to(g, [sizes[c] for c in letters])
        if len(letters) < len(term):
            full = xp.zeros([sizes[c] for c in term], dtype=g.dtype)
            index = tuple(
                xp.arange(sizes[c]).reshape([-1 if d == c else 1 for d in letters]) for c in term
            )
            full[index] = g
            g = full
        return unbroadcast(g, self.shapes[i])


@functools.lru_cache(maxsize=256)
def parse_einsum(subscripts: str, shapes: tuple) -> tuple:
    """``(terms, output, sizes)`` from einsum subscripts, with ``...`` spelled out in letters."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s), "
            f"but {len(shapes)} were given."
        )
    unused = [c for c in string.ascii_letters if c not in subscripts]
    ellipsis_ndim = max(
        [len(shape) - len(term) + 3 for term, shape in zip(terms, shapes) if "..." in term],
        default=0,
    )
    ellipsis = "".join(unused[:ellipsis_ndim])
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        if "..." in term:
            count = len(shape) - len(term) + 3
            term = term.replace("...", ellipsis[ellipsis_ndim - count :] if count > 0 else "")
        if len(term) != len(shape) or not term.isalpha():
            raise ValueError(
                f"einsum: operand {k} has shape {tuple(shape)}, which its subscripts "
                f"{terms[k]!r} do not describe."
            )
        terms[k] = term
    if arrow:
        output = output.replace("...", ellipsis)
    else:  # implicit mode: the broadcast axes, then the letters used once, sorted
        joined = "".join(terms)
        output = ellipsis + "".join(
            sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ellipsis)
        )
    sizes = {}
    for term, shape in zip(terms, shapes):
        for c, size in zip(term, shape):
            known = sizes.get(c, 1)
            if known != size and 1 not in (known, size):
                raise ValueError(
                    f"einsum: subscript {c!r} has size {known} in one operand and {size} "
                    f"in another ({subscripts!r} on shapes {[tuple(s) for s in shapes]})."
                )
            if c not in sizes or known == 1:
                sizes[c] = size
    missing = [c for c in output if c not in sizes]
    if missing:
        raise ValueError(f"einsum: output subscript {missing[0]!r} names no input axis.")
    return tuple(terms), output, sizes


def einsum(subscripts: str, *operands: Tensor) -> Tensor:
    terms, output, sizes = parse_einsum(subscripts, tuple(t.shape for t in operands))
    return apply(Einsum(terms, output, sizes), *operands)


class SingularValues(Function):
    """Singular values of (a batch of) matrices, largest first; d sigma_i = u_i v_i^T."""

    def forward(self, x):
        u, s, vh = self.backend.xp.linalg.svd(x, full_matrices=False)
        self.u, self.vh = u, vh
        return s

    def backward(self, grad):
        return ((self.u * grad[..., None, :]) @ self.vh,)


def singular_values(x: Tensor) -> Tensor:
    return apply(SingularValues(), x)
