"""Foundation kernels: each backend against the generic reference and the math."""

import math

import numpy
import pytest

ACTIVATIONS = ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "softplus", "swish", "gelu"]


def _finite_difference(forward, x, eps=1e-6):
    return (forward(x + eps) - forward(x - eps)) / (2 * eps)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_matches_reference(backend, reference, name, dtype, rng):
    x = rng.standard_normal((7, 5)).astype(dtype)
    dy = rng.standard_normal((7, 5)).astype(dtype)
    tolerance = 1e-5 if dtype == "float32" else 1e-10
    expected = getattr(reference, f"{name}_forward")(x)
    got = backend.to_numpy(getattr(backend, f"{name}_forward")(backend.asarray(x)))
    assert got.dtype == numpy.dtype(dtype)
    numpy.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    expected_grad = getattr(reference, f"{name}_backward")(dy, x, expected)
    got_grad = getattr(backend, f"{name}_backward")(
        backend.asarray(dy), backend.asarray(x), backend.asarray(expected)
    )
    numpy.testing.assert_allclose(
        backend.to_numpy(got_grad), expected_grad, rtol=tolerance, atol=tolerance
    )


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative_matches_finite_differences(reference, name, rng):
    x = rng.standard_normal(50) * 3
    x = x[numpy.abs(x) > 1e-3]  # away from kinks
    forward = getattr(reference, f"{name}_forward")
    y = forward(x)
    grad = getattr(reference, f"{name}_backward")(numpy.ones_like(x), x, y)
    numpy.testing.assert_allclose(grad, _finite_difference(forward, x), rtol=1e-6, atol=1e-8)


def test_activation_values_follow_keras(reference):
    x = numpy.array([-2.0, -0.5, 0.0, 1.5])
    numpy.testing.assert_allclose(reference.leaky_relu_forward(x), [-0.4, -0.1, 0.0, 1.5])
    numpy.testing.assert_allclose(
        reference.elu_forward(x), [math.expm1(-2), math.expm1(-0.5), 0, 1.5]
    )
    erf = numpy.vectorize(math.erf)
    numpy.testing.assert_allclose(reference.gelu_forward(x), 0.5 * x * (1 + erf(x / math.sqrt(2))))
    numpy.testing.assert_allclose(reference.softplus_forward(x), numpy.log1p(numpy.exp(x)))
    assert numpy.isfinite(reference.sigmoid_forward(numpy.array([-1e4, 1e4]))).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_cross_entropy_kernels_match_reference(backend, reference, dtype, rng):
    logits = (rng.standard_normal((6, 4)) * 3).astype(dtype)
    targets = rng.dirichlet(numpy.ones(4), 6).astype(dtype)
    labels = rng.integers(0, 4, 6)
    dloss = rng.standard_normal(6).astype(dtype)
    tolerance = 1e-5 if dtype == "float32" else 1e-10
    for kernel, target in (
        ("softmax_cross_entropy", targets),
        ("sparse_softmax_cross_entropy", labels),
    ):
        loss, probs = getattr(reference, f"{kernel}_forward")(logits, target)
        got_loss, got_probs = getattr(backend, f"{kernel}_forward")(
            backend.asarray(logits), backend.asarray(target)
        )
        numpy.testing.assert_allclose(backend.to_numpy(got_loss), loss, rtol=tolerance)
        numpy.testing.assert_allclose(backend.to_numpy(got_probs), probs, rtol=tolerance)
        grad = getattr(reference, f"{kernel}_backward")(probs, target, dloss)
        got_grad = getattr(backend, f"{kernel}_backward")(
            backend.asarray(probs), backend.asarray(target), backend.asarray(dloss)
        )
        numpy.testing.assert_allclose(
            backend.to_numpy(got_grad), grad, rtol=tolerance, atol=tolerance
        )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_of_probabilities_is_the_fused_loss(backend, reference, dtype, rng):
    """The loss read from softmax probabilities already computed equals the fused kernel's
    (from the logits), and a probability that underflowed to 0 gives -log of the smallest
    normal float, not infinity."""
    logits = (rng.standard_normal((6, 4)) * 3).astype(dtype)
    labels = rng.integers(0, 4, 6)
    loss, probs = reference.sparse_softmax_cross_entropy_forward(logits, labels)
    got = backend.sparse_cross_entropy_of_probabilities(
        backend.asarray(probs), backend.asarray(labels)
    )
    tolerance = 1e-6 if dtype == "float32" else 1e-12
    numpy.testing.assert_allclose(backend.to_numpy(got), loss, rtol=tolerance)
    probs[0, labels[0]] = 0
    got = backend.to_numpy(
        backend.sparse_cross_entropy_of_probabilities(
            backend.asarray(probs), backend.asarray(labels)
        )
    )
    assert got[0] == numpy.float64(-math.log(numpy.finfo(dtype).tiny)).astype(dtype)


def test_softmax_cross_entropy_is_stable_for_huge_logits(backend):
    logits = backend.asarray(numpy.array([[1e4, -1e4, 0.0]]))
    loss, probs = backend.sparse_softmax_cross_entropy_forward(
        logits, backend.asarray(numpy.array([1]))
    )
    assert numpy.isfinite(backend.to_numpy(loss)).all()
    numpy.testing.assert_allclose(backend.to_numpy(loss), [2e4])


def test_dropout_mask_scales_kept_units(backend):
    backend.seed(0)
    mask = backend.to_numpy(backend.dropout_mask((1000, 10), 0.25, numpy.dtype("float32")))
    assert set(numpy.unique(mask)) <= {0.0, numpy.float32(1 / 0.75)}
    assert abs((mask == 0).mean() - 0.25) < 0.03
