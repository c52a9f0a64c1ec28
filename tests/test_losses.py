"""Losses: Keras 3's formulas, gradients, and stability at the extremes."""

import numpy
import pytest

import engine
from engine import layers, losses, metrics
from tests.gradcheck import check_gradients, check_weight_gradients

EPS = 1e-7


def keras_reference(name, y, p, from_logits=False):
    """Keras 3's documented formulas, written out in NumPy."""
    if name == "mean_squared_error":
        return ((y - p) ** 2).mean(-1).mean()
    if name == "mean_absolute_error":
        return numpy.abs(y - p).mean(-1).mean()
    if name == "huber":
        e = numpy.abs(y - p)
        return numpy.where(e <= 1, 0.5 * e * e, e - 0.5).mean(-1).mean()
    if name == "binary_crossentropy":
        if from_logits:
            p = 1 / (1 + numpy.exp(-p))
        p = numpy.clip(p, EPS, 1 - EPS)
        return (-(y * numpy.log(p) + (1 - y) * numpy.log(1 - p))).mean(-1).mean()
    if name == "categorical_crossentropy":
        if from_logits:
            p = numpy.exp(p - p.max(-1, keepdims=True))
        p = numpy.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
        return (-(y * numpy.log(p)).sum(-1)).mean()
    raise KeyError(name)


def make_targets(name, rng, shape):
    if name == "binary_crossentropy":
        return rng.integers(0, 2, shape).astype(float)
    if name == "categorical_crossentropy":
        return numpy.eye(shape[-1])[rng.integers(0, shape[-1], shape[0])]
    return rng.standard_normal(shape)


REGRESSION = ["mean_squared_error", "mean_absolute_error", "huber"]
ALL = REGRESSION + ["binary_crossentropy", "categorical_crossentropy"]


@pytest.mark.parametrize("name", ALL)
def test_loss_values_follow_keras(backend, float64, name, rng):
    y = make_targets(name, rng, (5, 3))
    p = rng.uniform(0.05, 0.95, (5, 3))
    got = losses.get(name)(y, engine.tensor(p)).item()
    numpy.testing.assert_allclose(got, keras_reference(name, y, p), rtol=1e-10)
    if name in ("binary_crossentropy", "categorical_crossentropy"):
        logits = rng.standard_normal((5, 3)) * 3
        loss = losses.get({"class_name": name, "config": {"from_logits": True}})
        got = loss(y, engine.tensor(logits)).item()
        numpy.testing.assert_allclose(got, keras_reference(name, y, logits, True), rtol=1e-9)


def test_sparse_categorical_matches_one_hot(backend, float64, rng):
    labels = rng.integers(0, 4, 6)
    probs = rng.dirichlet(numpy.ones(4), 6)
    sparse = losses.get("sparse_categorical_crossentropy")(labels, engine.tensor(probs)).item()
    dense = keras_reference("categorical_crossentropy", numpy.eye(4)[labels], probs)
    numpy.testing.assert_allclose(sparse, dense, rtol=1e-10)
    column = losses.get("sparse_categorical_crossentropy")(labels[:, None], engine.tensor(probs))
    numpy.testing.assert_allclose(column.item(), dense, rtol=1e-10)


LOSS_ACTIVATIONS = {
    "mean_squared_error": "linear",
    "mean_absolute_error": "tanh",
    "huber": "linear",
    "binary_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
}


LOSS_CASES = [(name, False) for name in sorted(LOSS_ACTIVATIONS)] + [
    (name, True) for name in sorted(LOSS_ACTIVATIONS) if "crossentropy" in name
]


@pytest.mark.parametrize("name, from_logits", LOSS_CASES)
def test_dense_plus_loss_gradients(backend, float64, name, from_logits, rng):
    activation = "linear" if from_logits else LOSS_ACTIVATIONS[name]
    layer = layers.Dense(3, activation=activation, kernel_initializer="random_normal")
    x = rng.standard_normal((4, 2))
    if name == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, 4)
    else:
        y = make_targets(name, rng, (4, 3))
    config = {"from_logits": True} if from_logits else {}
    loss = losses.get({"class_name": name, "config": config})
    layer(x)
    check_gradients(lambda xt: loss(y, layer(xt)), x, backend=backend)
    check_weight_gradients(lambda: loss(y, layer(x)), layer.trainable_weights)


@pytest.mark.parametrize("softmax_output", [False, True])
def test_categorical_cross_entropy_gradient_with_targets_not_summing_to_one(
    backend, float64, rng, softmax_output
):
    """Keras takes any targets (a soft label scaled by hand, a sum of two one-hots): the
    fused softmax cross-entropy's gradient is ``probs * sum(targets) - targets``, not
    ``probs - targets`` (which it was: [-0.410, -0.255, 0.165] for logits [1, 2, 3] and
    targets of 0.5 each, where Keras gives [-0.365, -0.133, 0.498])."""
    targets = rng.uniform(0.0, 1.0, (4, 3))  # rows summing to 0.3-2.7
    loss = losses.CategoricalCrossentropy(from_logits=not softmax_output)

    def compute(logits):
        return loss(targets, logits.softmax() if softmax_output else logits)

    check_gradients(compute, rng.standard_normal((4, 3)), backend=backend)
    logits = engine.tensor(numpy.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    losses.categorical_crossentropy(
        numpy.full((1, 3), 0.5), logits, from_logits=True
    ).sum().backward()
    numpy.testing.assert_allclose(
        logits.grad.numpy(), [[-0.36495414, -0.13290729, 0.49786144]], rtol=1e-6
    )
    twice = losses.categorical_crossentropy(numpy.full((1, 3), 0.5), logits, from_logits=True)
    (graph_grad,) = engine.grad(twice.sum(), [logits], create_graph=True)  # backward_graph
    numpy.testing.assert_allclose(graph_grad.numpy(), logits.grad.numpy(), rtol=1e-12)


def test_fused_softmax_path_equals_probability_path(backend, float64, rng):
    logits = engine.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    labels = rng.integers(0, 4, 5)
    fused = losses.get("sparse_categorical_crossentropy")(labels, logits.softmax())
    with engine.no_grad():  # no recorded softmax: the clipped-probability path
        plain = losses.get("sparse_categorical_crossentropy")(labels, logits.softmax())
    numpy.testing.assert_allclose(fused.item(), plain.item(), rtol=1e-10)


def test_clipped_sparse_cross_entropy_equals_clip_of_the_loss(backend, float64):
    """The loss clipped inside the op: the values and gradients of ``clip`` of the loss, with
    samples clipped from above and below passing no gradient (and a NaN row NaN, as clip's)."""
    from engine import functional as F

    data = numpy.array([[9.0, -9.0, 0.0], [0.1, 0.2, 0.3], [40.0, 0.0, 0.0], [0.0, 1.0, -1.0]])
    data[3, 1] = numpy.nan
    labels = numpy.array([0, 2, 1, 1])
    bounds = (1e-3, 16.0)  # row 0 (loss ~1e-8) and row 2 (loss 40) are clipped
    fused_logits = engine.tensor(data, requires_grad=True, backend=backend)
    plain_logits = engine.tensor(data, requires_grad=True, backend=backend)
    fused = F.sparse_softmax_cross_entropy(fused_logits, labels, bounds)
    plain = F.clip(F.sparse_softmax_cross_entropy(plain_logits, labels), *bounds)
    numpy.testing.assert_array_equal(fused.numpy(), plain.numpy())
    weights = engine.tensor(numpy.array([1.0, 2.0, 3.0, 4.0]), backend=backend)
    (fused * weights).sum().backward()
    (plain * weights).sum().backward()
    gradient = fused_logits.grad.numpy()
    numpy.testing.assert_array_equal(gradient, plain_logits.grad.numpy())
    assert not gradient[[0, 2]].any() and gradient[1].all() and numpy.isnan(gradient[3]).all()


def test_clipped_sparse_cross_entropy_reads_the_forward_softmax(backend, float64):
    """Given the softmax the forward pass made (a model's softmax output), the clipped loss
    is read from its probabilities: the same values and gradients as from the logits
    alone, clipped rows passing no gradient and a NaN row NaN."""
    from engine import functional as F

    data = numpy.array([[9.0, -9.0, 0.0], [0.1, 0.2, 0.3], [40.0, 0.0, 0.0], [0.0, 1.0, -1.0]])
    data[3, 1] = numpy.nan
    labels = numpy.array([0, 2, 1, 1])
    bounds = (1e-3, 16.0)
    given_logits = engine.tensor(data, requires_grad=True, backend=backend)
    fused_logits = engine.tensor(data, requires_grad=True, backend=backend)
    probs = given_logits.softmax().data
    given = F.sparse_softmax_cross_entropy(given_logits, labels, bounds, probs=probs)
    fused = F.sparse_softmax_cross_entropy(fused_logits, labels, bounds)
    numpy.testing.assert_allclose(given.numpy(), fused.numpy(), rtol=1e-12)
    weights = engine.tensor(numpy.array([1.0, 2.0, 3.0, 4.0]), backend=backend)
    (given * weights).sum().backward()
    (fused * weights).sum().backward()
    gradient = given_logits.grad.numpy()
    numpy.testing.assert_allclose(gradient, fused_logits.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert not gradient[[0, 2]].any() and gradient[1].all() and numpy.isnan(gradient[3]).all()
    numpy.testing.assert_array_equal(  # the probabilities were read, not written
        backend.to_numpy(probs), backend.to_numpy(given_logits.softmax().data)
    )


def test_a_softmax_model_loss_reads_its_output(backend, monkeypatch):
    """``sparse_categorical_crossentropy`` of a recorded softmax output takes that output's
    probabilities: no second softmax, the output left as it was, and the loss and logit
    gradients of the mean cross-entropy."""
    rng = numpy.random.default_rng(3)
    data = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    logits = engine.tensor(data, requires_grad=True, backend=backend)
    outputs = logits.softmax()
    before = backend.to_numpy(outputs.data).copy()
    calls = []
    fused = backend.sparse_softmax_cross_entropy_forward
    monkeypatch.setattr(
        backend, "sparse_softmax_cross_entropy_forward", lambda *a: calls.append(a) or fused(*a)
    )
    loss = losses.get("sparse_categorical_crossentropy")(labels, outputs)
    loss.backward()
    assert not calls
    numpy.testing.assert_array_equal(backend.to_numpy(outputs.data), before)
    probs = numpy.exp(data) / numpy.exp(data).sum(axis=1, keepdims=True)
    picked = probs[numpy.arange(5), labels]
    numpy.testing.assert_allclose(loss.item(), -numpy.log(picked).mean(), rtol=1e-6)
    expected = (probs - numpy.eye(4)[labels]) / 5
    numpy.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "name", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
)
def test_cross_entropies_are_stable_at_the_extremes(backend, name):
    logits = engine.tensor(numpy.array([[1e4, -1e4], [-1e4, 1e4]]), requires_grad=True)
    probs_data = numpy.array([[1.0, 0.0], [0.0, 1.0]])
    if name == "sparse_categorical_crossentropy":
        y = numpy.array([1, 1])
    else:
        y = numpy.array([[0.0, 1.0], [0.0, 1.0]])
    for from_logits in (True, False):
        loss = losses.get({"class_name": name, "config": {"from_logits": from_logits}})
        if from_logits:
            value = loss(y, logits)
        else:
            probs = engine.tensor(probs_data, requires_grad=True)
            value = loss(y, probs)
        value.backward()
        assert numpy.isfinite(value.item())
        grad = (logits if from_logits else probs).grad.numpy()
        assert numpy.isfinite(grad).all()
    assert losses.get(name)(y, engine.tensor(probs_data)).item() == pytest.approx(
        -numpy.log(EPS) / (2 if name != "binary_crossentropy" else 2), rel=1e-3
    )


def test_sample_weight_scales_per_sample_losses(backend):
    y, p = numpy.zeros((2, 1)), engine.tensor(numpy.array([[1.0], [2.0]]))
    weighted = losses.get("mse")(y, p, sample_weight=numpy.array([1.0, 0.0])).item()
    assert weighted == pytest.approx(0.5)


def test_sparse_labels_out_of_range_are_named(backend):
    probs = engine.tensor(numpy.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\).*got a label of 3"):
        losses.get("sparse_categorical_crossentropy")(numpy.array([0, 3]), probs)
    with pytest.raises(ValueError, match="got a label of -1"):
        losses.get("sparse_categorical_crossentropy")(numpy.array([-1, 0]), probs)


def test_shape_mismatch_and_unknown_loss():
    with pytest.raises(ValueError, match="same shape"):
        losses.get("mse")(numpy.zeros((2, 3)), engine.tensor(numpy.zeros((2, 2))))
    with pytest.raises(ValueError, match="Unknown loss: 'msee'.*mean_squared_error"):
        losses.get("msee")


def test_accuracy_resolves_like_keras():
    assert type(metrics.get("accuracy", (8,), (8, 1))) is metrics.BinaryAccuracy
    assert type(metrics.get("accuracy", (8,), (8, 10))) is metrics.SparseCategoricalAccuracy
    assert type(metrics.get("accuracy", (8, 1), (8, 10))) is metrics.SparseCategoricalAccuracy
    assert type(metrics.get("accuracy", (8, 10), (8, 10))) is metrics.CategoricalAccuracy
    # Keras 3 resolves from the shapes alone: three sigmoid outputs are categorical
    assert type(metrics.get("acc", (8, 3), (8, 3))) is metrics.CategoricalAccuracy
    assert metrics.get("acc", (8,), (8, 1)).name == "acc"


def test_metric_values(backend):
    acc = metrics.SparseCategoricalAccuracy()
    acc.update_state(numpy.array([0, 1, 2]), engine.tensor(numpy.eye(3)[[0, 2, 2]]))
    assert acc.result() == pytest.approx(2 / 3)
    mae = metrics.get("mae")
    mae.update_state(numpy.zeros((2, 1)), engine.tensor(numpy.array([[1.0], [3.0]])))
    assert mae.result() == pytest.approx(2.0)
    binary = metrics.BinaryAccuracy()
    binary.update_state(numpy.array([1, 0]), engine.tensor(numpy.array([[0.7], [0.6]])))
    assert binary.result() == pytest.approx(0.5)


def test_label_checks_trust_the_host_targets_only_for_their_batches(backend):
    """Inside a loop's ``LabelChecks``, a batch of its checked host targets is not read
    again; any other labels are checked themselves (on a device, at ``verify``)."""
    from engine.losses.labels import LabelChecks, note_batch, on_device

    loss = losses.get("sparse_categorical_crossentropy")
    probs = engine.tensor(numpy.full((2, 3), 1 / 3))
    other = numpy.array([-1, 0])  # not a batch of the host targets
    with LabelChecks(numpy.array([0, 1, 2, 2])) as checks:
        batch = backend.asarray(numpy.array([0, 2]))
        note_batch(batch)
        assert loss(batch, probs).item() == pytest.approx(numpy.log(3), rel=1e-5)
        if on_device(backend):
            loss(other, probs)
            with pytest.raises(
                ValueError, match="got a label of -1 .device labels are checked once per epoch"
            ):
                checks.verify("epoch")
        else:
            with pytest.raises(ValueError, match="got a label of -1"):
                loss(other, probs)
    with LabelChecks(numpy.array([0, 5])):
        note_batch(batch)
        with pytest.raises(ValueError, match=r"in \[0, 3\).*got a label of 5"):
            loss(batch, probs)  # the host targets hold a 5


def _unfolded_mse(y, y_pred):
    """The mean squared error as two ops: per-sample losses, then the batch mean."""
    return losses.Loss.__call__(losses.MeanSquaredError(), y, y_pred)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(100, 1), (1000, 1), (3, 40, 1), (7, 5), (3, 4, 6)])
def test_mean_squared_error_folds_its_batch_mean_into_one_op(backend, dtype, shape, rng):
    y = rng.standard_normal(shape).astype(dtype)
    p = rng.standard_normal(shape).astype(dtype)
    results = []
    for loss_fn in (losses.MeanSquaredError(), _unfolded_mse):
        y_pred = engine.tensor(p, requires_grad=True)
        loss = loss_fn(y, y_pred)
        loss.backward()
        results.append((loss, y_pred.grad.numpy()))
    (folded, folded_grad), (unfolded, unfolded_grad) = results
    assert type(folded.creator).__name__ == "MeanSquaredErrorOverBatch"
    assert type(unfolded.creator).__name__ == "SumOverSize"
    assert folded.dtype == unfolded.dtype == dtype
    # the same roundings in the same order: equal to the last bit, forward and backward
    numpy.testing.assert_array_equal(folded.numpy(), unfolded.numpy())
    numpy.testing.assert_array_equal(folded_grad, unfolded_grad)


def test_mean_squared_error_folded_second_derivative(backend, float64, rng):
    y = rng.standard_normal((4, 3))
    p = rng.standard_normal((4, 3))
    gradients = []
    for loss_fn in (losses.MeanSquaredError(), _unfolded_mse):
        y_pred = engine.tensor(p, requires_grad=True)
        (first,) = engine.grad(loss_fn(y, y_pred * y_pred), y_pred, create_graph=True)
        (second,) = engine.grad((first * first).sum(), y_pred)
        gradients.append(second.numpy())
    numpy.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-12)
    check_gradients(lambda t: losses.MeanSquaredError()(y, t), p, backend=backend)


def test_mean_squared_error_keeps_two_ops_where_the_mean_is_not_the_reduction(backend, rng):
    y = rng.standard_normal((6, 2)).astype("float32")
    p = engine.tensor(rng.standard_normal((6, 2)).astype("float32"))
    weights = numpy.arange(6, dtype="float32")
    cases = {
        "sample_weight": (losses.MeanSquaredError(), {"sample_weight": weights}),
        "reduction sum": (losses.MeanSquaredError(reduction="sum"), {}),
        "reduction none": (losses.MeanSquaredError(reduction="none"), {}),
        "cast": (losses.MeanSquaredError(dtype="float64"), {}),
    }
    for case, (loss_fn, kwargs) in cases.items():
        creator = type(loss_fn(y, p, **kwargs).creator).__name__
        assert creator != "MeanSquaredErrorOverBatch", case
    # one loss per sample without a batch axis: the loss of a 1-D output is one number
    one_dimensional = losses.MeanSquaredError()(y[:, 0], engine.tensor(p.numpy()[:, 0]))
    assert one_dimensional.ndim == 0
    numpy.testing.assert_allclose(
        one_dimensional.item(), ((y[:, 0] - p.numpy()[:, 0]) ** 2).mean(), rtol=1e-6
    )


def test_a_subclass_of_the_mean_squared_error_keeps_its_own_call(backend, rng):
    class Doubled(losses.MeanSquaredError):
        def call(self, y_true, y_pred):
            return super().call(y_true, y_pred) * 2.0

    y = rng.standard_normal((6, 2)).astype("float32")
    p = engine.tensor(rng.standard_normal((6, 2)).astype("float32"))
    doubled, plain = Doubled()(y, p), losses.MeanSquaredError()(y, p)
    numpy.testing.assert_allclose(doubled.numpy(), 2 * plain.numpy(), rtol=1e-6)


ARRAY_CASES = [
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "cosine_similarity",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
    "kl_divergence",
    "poisson",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "dice",
    "tversky",
]


@pytest.mark.parametrize("name", ARRAY_CASES)
def test_losses_take_numpy_predictions_as_keras_does(backend, name, rng):
    """``keras.losses.mean_squared_error(y_true, y_pred)`` and
    ``keras.losses.MeanSquaredError()(y_true, y_pred)`` on NumPy arrays or lists."""
    probabilities = rng.uniform(0.1, 0.9, (5, 3)).astype("float32")
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    if name == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, 5)
    elif "crossentropy" in name or name in ("kl_divergence", "dice", "tversky"):
        y = numpy.eye(3, dtype="float32")[rng.integers(0, 3, 5)]
    else:
        y = rng.uniform(0.1, 2.0, (5, 3)).astype("float32")
    expected_values = getattr(losses, name)(y, engine.tensor(probabilities)).numpy()
    for given in (probabilities, probabilities.tolist()):
        values = getattr(losses, name)(y, given)
        assert isinstance(values, engine.Tensor)
        numpy.testing.assert_allclose(values.numpy(), expected_values, rtol=1e-6)
    loss = losses.get(name)
    numpy.testing.assert_allclose(
        loss(y, probabilities).numpy(), loss(y, engine.tensor(probabilities)).numpy(), rtol=1e-6
    )
