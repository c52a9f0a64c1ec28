"""Finite-difference gradient checks (float64, central differences).

``check_gradients(fn, *arrays)`` runs ``fn`` on tensors made from ``arrays``,
back-propagates a random projection of the output, and compares every input's
gradient with central differences: elementwise on small inputs, along random
directions (Chainer's ``check_backward``) on larger ones.
"""

import numpy

import engine

ELEMENTWISE_LIMIT = 200


def _as_scalar(output, projection):
    return float(numpy.sum(output.numpy().astype(numpy.float64) * projection))


def check_gradients(
    fn,
    *arrays,
    backend=None,
    eps=1e-6,
    atol=1e-6,
    rtol=1e-5,
    directions=6,
    seed=0,
    wrt=None,
):
    """Assert that autograd's gradients of ``fn(*tensors)`` match finite differences.

    ``wrt`` lists the indices of the inputs to check (default: all float inputs).
    Extra tensors (e.g. layer weights) can be checked by passing them through
    ``fn``'s closure and listing them in ``extra`` via ``check_weight_gradients``.
    """
    rng = numpy.random.default_rng(seed)
    arrays = [numpy.asarray(a) for a in arrays]
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else wrt
    tensors = [
        engine.tensor(a, requires_grad=(i in wrt), backend=backend) for i, a in enumerate(arrays)
    ]
    output = fn(*tensors)
    projection = rng.standard_normal(output.shape)
    (output * engine.tensor(projection, backend=output.backend)).sum().backward()
    for i in wrt:
        analytic = tensors[i].grad
        assert analytic is not None, f"input {i} got no gradient"
        analytic = analytic.numpy()

        def evaluate(values, i=i):
            inputs = [
                engine.tensor(values if j == i else a, backend=backend)
                for j, a in enumerate(arrays)
            ]
            with engine.no_grad():
                return _as_scalar(fn(*inputs), projection)

        _compare(evaluate, arrays[i], analytic, rng, eps, atol, rtol, directions, f"input {i}")


def check_weight_gradients(fn, weights, eps=1e-6, atol=1e-6, rtol=1e-5, directions=6, seed=0):
    """As ``check_gradients`` for tensors held elsewhere (a layer's weights).

    ``fn()`` computes the output from the current values of ``weights``.
    """
    rng = numpy.random.default_rng(seed)
    for w in weights:
        w.grad = None
    output = fn()
    projection = rng.standard_normal(output.shape)
    (output * engine.tensor(projection, backend=output.backend)).sum().backward()
    for w in weights:
        assert w.grad is not None, f"weight {w.name} got no gradient"
        analytic = w.grad.numpy()
        original = w.data.copy()

        def evaluate(values, w=w, original=original):
            w.data = w.backend.asarray(values.astype(original.dtype))
            try:
                with engine.no_grad():
                    return _as_scalar(fn(), projection)
            finally:
                w.data = original

        _compare(evaluate, w.numpy(), analytic, rng, eps, atol, rtol, directions, w.name)


def _compare(evaluate, point, analytic, rng, eps, atol, rtol, directions, label):
    point = numpy.array(point, dtype=numpy.float64, order="C")  # reshape(-1) must be a view
    if point.size <= ELEMENTWISE_LIMIT:
        numeric = numpy.zeros_like(point)
        flat = point.reshape(-1)
        for k in range(flat.size):
            original = flat[k]
            flat[k] = original + eps
            plus = evaluate(point)
            flat[k] = original - eps
            minus = evaluate(point)
            flat[k] = original
            numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        numpy.testing.assert_allclose(
            analytic, numeric, atol=atol, rtol=rtol, err_msg=f"gradient of {label}"
        )
        return
    for _ in range(directions):
        direction = rng.standard_normal(point.shape)
        direction /= numpy.linalg.norm(direction)
        plus = evaluate(point + eps * direction)
        minus = evaluate(point - eps * direction)
        numeric = (plus - minus) / (2 * eps)
        expected = float(numpy.sum(analytic * direction))
        numpy.testing.assert_allclose(
            expected, numeric, atol=atol, rtol=rtol, err_msg=f"directional gradient of {label}"
        )
