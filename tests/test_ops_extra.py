"""``engine.ops``'s unfold/fold (im2col), associative_scan, jvp, vectorize, lu_factor and
rearrange: values against direct references, gradients, errors, every backend."""

import itertools

import numpy
import pytest

from engine import ops
from tests.gradcheck import check_gradients

rng = numpy.random.default_rng(23)


def reference_unfold(x, kernel, dilation, padding, stride):
    """PyTorch's unfold by loops: rows (channel, kernel row, kernel column)."""
    n, c, h, w = x.shape
    x = numpy.pad(x, [(0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2])
    out_h = (h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    out_w = (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    result = numpy.zeros((n, c * kernel[0] * kernel[1], out_h * out_w))
    for ch, i, j in itertools.product(range(c), range(kernel[0]), range(kernel[1])):
        row = (ch * kernel[0] + i) * kernel[1] + j
        for p, q in itertools.product(range(out_h), range(out_w)):
            value = x[:, ch, p * stride[0] + i * dilation[0], q * stride[1] + j * dilation[1]]
            result[:, row, p * out_w + q] = value
    return result


@pytest.mark.parametrize(
    "kernel, dilation, padding, stride",
    [((2, 2), (1, 1), (0, 0), (2, 2)), ((3, 2), (1, 2), (1, 1), (2, 1))],
)
def test_unfold_and_fold_are_im2col_and_its_adjoint(
    backend, float64, kernel, dilation, padding, stride
):
    x = rng.standard_normal((2, 3, 7, 6))
    arguments = dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)
    blocks = ops.unfold(x, **arguments).numpy()
    numpy.testing.assert_array_equal(blocks, reference_unfold(x, kernel, dilation, padding, stride))
    probe = rng.standard_normal(blocks.shape)
    folded = ops.fold(probe, (7, 6), **arguments).numpy()
    assert folded.shape == x.shape
    numpy.testing.assert_allclose((folded * x).sum(), (probe * blocks).sum(), rtol=1e-12)
    check_gradients(lambda a: ops.unfold(a, **arguments), x, backend=backend)
    check_gradients(lambda b: ops.fold(b, (7, 6), **arguments), probe, backend=backend)


def test_associative_scan_is_an_inclusive_scan(backend, float64):
    x = rng.standard_normal((3, 5))
    numpy.testing.assert_allclose(
        ops.associative_scan(ops.add, x, axis=1).numpy(), numpy.cumsum(x, axis=1)
    )
    reversed_products = ops.associative_scan(ops.multiply, x, reverse=True).numpy()
    numpy.testing.assert_allclose(reversed_products, numpy.cumprod(x[::-1], axis=0)[::-1])
    pairs = ops.associative_scan(lambda a, b: (a[0] + b[0], ops.maximum(a[1], b[1])), (x[0], x[1]))
    numpy.testing.assert_allclose(pairs[0].numpy(), numpy.cumsum(x[0]))
    numpy.testing.assert_allclose(pairs[1].numpy(), numpy.maximum.accumulate(x[1]))
    check_gradients(lambda a: ops.associative_scan(ops.multiply, a, axis=1), x, backend=backend)


def test_jvp_against_finite_differences(backend, float64):
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    ta, tb = rng.standard_normal(4), rng.standard_normal(4)

    def fun(u, v):
        return ops.sin(u) * ops.exp(v) + u * u

    output, tangent = ops.jvp(fun, (a, b), (ta, tb))
    numpy.testing.assert_allclose(output.numpy(), numpy.sin(a) * numpy.exp(b) + a * a)
    eps = 1e-6
    forward = fun(a + eps * ta, b + eps * tb).numpy()
    backward = fun(a - eps * ta, b - eps * tb).numpy()
    numpy.testing.assert_allclose(tangent.numpy(), (forward - backward) / (2 * eps), rtol=1e-7)
    _, _, aux = ops.jvp(lambda u: (ops.square(u), "note"), (a,), (ta,), has_aux=True)
    assert aux == "note"
    with pytest.raises(ValueError, match="jvp: 2 primals but 1 tangents"):
        ops.jvp(fun, (a, b), (ta,))


def test_vectorize_maps_over_the_loop_axes(backend, float64):
    doubled = ops.vectorize(lambda u, v: u * 2.0 + v)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal(3)
    numpy.testing.assert_allclose(doubled(x, y).numpy(), x * 2 + y)
    dot = ops.vectorize(lambda u, v: ops.sum(u * v), signature="(n),(n)->()")
    a, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    numpy.testing.assert_allclose(dot(a, b).numpy(), a @ b)
    check_gradients(lambda u, v: dot(u, v), a, b, backend=backend)
    scaled = ops.vectorize(lambda u, scale: u * scale, excluded={1})
    numpy.testing.assert_allclose(scaled(x, 3.0).numpy(), x * 3)


def test_lu_factor_reconstructs_with_partial_pivoting(backend):
    a = rng.standard_normal((2, 4, 4))
    lu, pivots = ops.linalg.lu_factor(a)
    assert pivots.dtype == "int32" and pivots.shape == (2, 4)
    for matrix, factors, swaps in zip(a, lu.numpy(), pivots.numpy()):
        lower = numpy.tril(factors, -1) + numpy.eye(4)
        upper = numpy.triu(factors)
        permuted = matrix.copy()
        for i, j in enumerate(swaps):  # LAPACK's order: row i swapped with row pivots[i]
            permuted[[i, j]] = permuted[[j, i]]
        numpy.testing.assert_allclose(lower @ upper, permuted, atol=1e-12)
        assert (numpy.abs(numpy.tril(factors, -1)) <= 1 + 1e-12).all()  # partial pivoting


def test_rearrange_patterns(backend, float64):
    x = rng.standard_normal((2, 4, 6, 3))
    cases = {
        ("b h w c -> b (h w) c", ()): x.reshape(2, 24, 3),
        ("b h w c -> c b w h", ()): x.transpose(3, 0, 2, 1),
        ("b (h p) w c -> b h p w c", (("p", 2),)): x.reshape(2, 2, 2, 6, 3),
        ("b ... c -> b c ...", ()): numpy.moveaxis(x, 3, 1),
        ("b h w c -> b h w c 1", ()): x[..., None],
        ("b h (w q) c -> (b q) h w c", (("q", 3),)): x.reshape(2, 4, 2, 3, 3)
        .transpose(0, 3, 1, 2, 4)
        .reshape(6, 4, 2, 3),
    }
    for (pattern, lengths), expected in cases.items():
        got = ops.rearrange(x, pattern, **dict(lengths))
        numpy.testing.assert_array_equal(got.numpy(), expected, err_msg=pattern)
    check_gradients(lambda a: ops.rearrange(a, "b h w c -> (b c) (w h)"), x, backend=backend)
    with pytest.raises(ValueError, match="the two sides of .* must name the same axes"):
        ops.rearrange(x, "b h w c -> b h w")
    with pytest.raises(ValueError, match=r"cannot split \['h', 'p'\] of size 4: give sizes"):
        ops.rearrange(x, "b (h p) w c -> b h p w c")
    with pytest.raises(ValueError, match="the pattern needs one '->'"):
        ops.rearrange(x, "b h w c")


def test_unfold_and_fold_errors(backend):
    with pytest.raises(ValueError, match=r"unfold: x must be 4-D \(N, C, H, W\)"):
        ops.unfold(numpy.zeros((2, 3, 4)), 2)
    with pytest.raises(ValueError, match="fold: 5 blocks given, but output_size"):
        ops.fold(numpy.zeros((1, 4, 5)), (4, 4), 2, stride=2)
    with pytest.raises(ValueError, match="unfold: stride must be an int or two ints"):
        ops.unfold(numpy.zeros((1, 1, 4, 4)), 2, stride=0)
