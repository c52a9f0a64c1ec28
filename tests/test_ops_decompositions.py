"""``engine.ops`` linear algebra beyond products (also under ``engine.ops.linalg``, as
Keras's ``keras.ops.linalg``): inverses, determinants, solves and decompositions.
Values against NumPy (decompositions by what they reconstruct, their signs being
LAPACK's choice), gradients against finite differences, on every backend."""

import numpy
import pytest

from engine import ops
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(3)
SQUARE = rng.standard_normal((2, 3, 3)) + 3 * numpy.eye(3)
SPD = SQUARE @ SQUARE.swapaxes(-1, -2) + numpy.eye(3)  # symmetric positive definite
RIGHT = rng.standard_normal((2, 3, 2))
TALL = rng.standard_normal((4, 3))


def _eigen_invariant(x):
    """Depends on the eigenvectors only through their squares: their signs cancel."""
    values, vectors = ops.eigh(x)
    return ops.matmul(vectors * vectors, values[..., :, None])


# name: (op, NumPy reference, inputs); each op is differentiable in every input
DIFFERENTIABLE = {
    "inv": (ops.inv, numpy.linalg.inv, (SQUARE,)),
    "det": (ops.det, numpy.linalg.det, (SQUARE,)),
    "slogdet": (lambda x: ops.slogdet(x)[1], lambda x: numpy.linalg.slogdet(x)[1], (SQUARE,)),
    "logdet": (ops.logdet, lambda x: numpy.linalg.slogdet(x)[1], (SPD,)),
    "solve": (ops.solve, numpy.linalg.solve, (SQUARE, RIGHT)),
    "solve_vector": (
        lambda a, b: ops.solve(a[0], b[0, :, 0]),
        lambda a, b: numpy.linalg.solve(a[0], b[0, :, 0]),
        (SQUARE, RIGHT),
    ),
    "solve_triangular_lower": (
        lambda a, b: ops.linalg.solve_triangular(a, b, lower=True),
        lambda a, b: numpy.linalg.solve(numpy.tril(a), b),
        (SQUARE, RIGHT),
    ),
    "solve_triangular_upper": (
        ops.solve_triangular,
        lambda a, b: numpy.linalg.solve(numpy.triu(a), b),
        (SQUARE, RIGHT),
    ),
    "cholesky": (ops.cholesky, numpy.linalg.cholesky, (SPD,)),
    "cholesky_upper": (
        lambda x: ops.cholesky(x, upper=True),
        lambda x: numpy.linalg.cholesky(x).swapaxes(-1, -2),
        (SPD,),
    ),
    "cholesky_inverse": (
        lambda x: ops.cholesky_inverse(x),
        lambda x: numpy.linalg.inv(x @ x.swapaxes(-1, -2)),
        (numpy.linalg.cholesky(SPD),),
    ),
    "eigh_values": (lambda x: ops.eigh(x)[0], lambda x: numpy.linalg.eigh(x)[0], (SPD,)),
    "eigh_vectors": (
        _eigen_invariant,
        lambda x: (numpy.linalg.eigh(x)[1] ** 2) @ numpy.linalg.eigh(x)[0][..., None],
        (SPD,),
    ),
    "qr_r_diagonal_magnitude": (
        lambda x: ops.abs(ops.diagonal(ops.qr(x)[1])),
        lambda x: numpy.abs(numpy.diagonal(numpy.linalg.qr(x)[1])),
        (TALL,),
    ),
    "qr_reconstruction": (
        lambda x: ops.matmul(*ops.qr(x)),
        lambda x: x,
        (TALL,),
    ),
    "singular_values": (
        lambda x: ops.svd(x, compute_uv=False),
        lambda x: numpy.linalg.svd(x, compute_uv=False),
        (TALL,),
    ),
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_values_and_gradients(backend, float64, name):
    op, reference, inputs = DIFFERENTIABLE[name]
    numpy.testing.assert_allclose(op(*inputs).numpy(), reference(*inputs), rtol=1e-10, atol=1e-10)
    check_gradients(op, *inputs, backend=backend)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_float32_values(backend, name):
    op, reference, inputs = DIFFERENTIABLE[name]
    result = op(*[x.astype("float32") for x in inputs])
    assert result.dtype == "float32" and result.backend is backend
    numpy.testing.assert_allclose(result.numpy(), reference(*inputs), rtol=1e-4, atol=1e-5)


def test_qr_and_eigh_factors_each_carry_their_gradient(backend, float64):
    """Each factor alone: the gradient of q alone and of r alone (their sum is the whole)."""
    check_gradients(lambda x: ops.qr(x)[0] * ops.qr(x)[0], TALL, backend=backend)
    check_gradients(lambda x: ops.qr(x)[1] * ops.qr(x)[1], TALL, backend=backend)
    check_gradients(lambda x: ops.eigh(x)[1] ** 2, SPD, backend=backend)


def test_symmetric_ops_read_the_symmetric_part(backend):
    """cholesky and eigh compute on ``(x + x.T) / 2``, as JAX and PyTorch: that is what
    makes their symmetric gradients the derivative of what they compute."""
    skewed = SPD + numpy.array([[0.0, 0.3, 0.0], [-0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    numpy.testing.assert_allclose(ops.cholesky(skewed).numpy(), numpy.linalg.cholesky(SPD))
    numpy.testing.assert_allclose(ops.eigh(skewed)[0].numpy(), numpy.linalg.eigh(SPD)[0])


def test_decompositions_reconstruct_and_the_rest_match_numpy(backend):
    u, s, vh = ops.linalg.svd(TALL, full_matrices=False)
    numpy.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), TALL, atol=1e-12)
    u, s, vh = ops.svd(TALL)
    assert u.shape == (4, 4) and vh.shape == (3, 3)
    q, r = ops.qr(TALL, mode="complete")
    assert q.shape == (4, 4) and r.shape == (4, 3)
    numpy.testing.assert_allclose(q.numpy() @ r.numpy(), TALL, atol=1e-12)
    values, vectors = ops.eig(SQUARE[0])
    numpy.testing.assert_allclose(
        SQUARE[0] @ vectors.numpy(), vectors.numpy() * values.numpy(), atol=1e-10
    )
    b = rng.standard_normal(4)
    numpy.testing.assert_allclose(
        ops.lstsq(TALL, b).numpy(), numpy.linalg.lstsq(TALL, b, rcond=None)[0], atol=1e-12
    )
    numpy.testing.assert_allclose(ops.pinv(TALL).numpy(), numpy.linalg.pinv(TALL), atol=1e-12)
    low_rank = TALL[:, :1] @ TALL[:1, :]
    assert ops.linalg.matrix_rank(low_rank).numpy() == 1
    assert ops.linalg.matrix_rank(TALL).dtype == "int32"
    sign, _ = ops.slogdet(-SPD[0])
    assert sign.numpy() == -1.0


def test_outputs_without_a_gradient_say_so(backend):
    x = ops.convert_to_tensor(TALL)
    x.requires_grad = True
    cases = {
        "svd: u and vh have no gradient": lambda: ops.svd(x)[0],
        "qr: no gradient for mode='complete'": lambda: ops.qr(x, mode="complete")[0],
        "lstsq: no gradient": lambda: ops.lstsq(x, numpy.ones(4)),
        "pinv: no gradient": lambda: ops.pinv(x),
    }
    for message, make in cases.items():
        with pytest.raises(NotImplementedError, match=message):
            ops.sum(make()).backward()


def test_errors_name_the_function_and_the_argument(backend):
    with pytest.raises(ValueError, match=r"inv: x must be square matrices .* got shape \(4, 3\)"):
        ops.inv(TALL)
    with pytest.raises(ValueError, match=r"solve: a of shape \(3, 3\) does not fit b"):
        ops.solve(SQUARE[0], numpy.ones((4, 2)))
    with pytest.raises(ValueError, match="qr: mode must be 'reduced' or 'complete'"):
        ops.qr(TALL, mode="r")
    with pytest.raises(ValueError, match=r"lstsq: a must be \(m, n\)"):
        ops.lstsq(TALL, numpy.ones(3))
