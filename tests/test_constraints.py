"""Weight constraints (engine.constraints) and layers' constraint / activity_regularizer arguments.

Each constraint is checked against its Keras 3 formula written in NumPy
(``keras/src/constraints/constraints.py``: norms over ``axis`` with keepdims,
epsilon 1e-7 added to the norms). Constraints are applied by the optimizer
after each update, and an activity regularizer adds
``regularizer(output) / batch_size`` to the loss, as Keras 3.14+ does.
"""

import numpy
import pytest

import engine
from engine import constraints, layers, regularizers
from engine.models import Sequential, load_model

EPSILON = 1e-7


def numpy_norms(w, axis):
    axis = tuple(axis) if isinstance(axis, list) else axis
    return numpy.sqrt(numpy.sum(numpy.square(w), axis=axis, keepdims=True))


def numpy_max_norm(w, max_value, axis):
    norms = numpy_norms(w, axis)
    return w * (numpy.clip(norms, 0, max_value) / (EPSILON + norms))


def numpy_min_max_norm(w, min_value, max_value, rate, axis):
    norms = numpy_norms(w, axis)
    desired = rate * numpy.clip(norms, min_value, max_value) + (1 - rate) * norms
    return w * (desired / (EPSILON + norms))


def numpy_unit_norm(w, axis):
    return w / (EPSILON + numpy_norms(w, axis))


CASES = [
    (constraints.MaxNorm(), lambda w: numpy_max_norm(w, 2, 0)),
    (constraints.MaxNorm(1.5, axis=1), lambda w: numpy_max_norm(w, 1.5, 1)),
    (constraints.MaxNorm(0.5, axis=[0, 1, 2]), lambda w: numpy_max_norm(w, 0.5, [0, 1, 2])),
    (constraints.MinMaxNorm(), lambda w: numpy_min_max_norm(w, 0.0, 1.0, 1.0, 0)),
    (
        constraints.MinMaxNorm(0.5, 1.5, 0.7, axis=-1),
        lambda w: numpy_min_max_norm(w, 0.5, 1.5, 0.7, -1),
    ),
    (constraints.NonNeg(), lambda w: numpy.maximum(w, 0)),
    (constraints.UnitNorm(), lambda w: numpy_unit_norm(w, 0)),
    (constraints.UnitNorm(axis=[0, 1]), lambda w: numpy_unit_norm(w, [0, 1])),
]


@pytest.mark.parametrize(
    "constraint, expected, shape",
    [
        (constraint, expected, shape)
        for constraint, expected in CASES
        for shape in [(5, 3), (3, 3, 2, 4)]
        if not (isinstance(getattr(constraint, "axis", None), list) and len(shape) < 3)
    ],
)
def test_constraint_matches_its_keras_formula(backend, rng, constraint, expected, shape):
    w = (rng.normal(size=shape) * 2).astype("float32")
    result = constraint(engine.tensor(w))
    assert isinstance(result, engine.Tensor) and result.backend is backend
    assert result.dtype == numpy.float32 and result.shape == shape
    numpy.testing.assert_allclose(result.numpy(), expected(w), rtol=1e-6, atol=1e-7)
    # a NumPy array is accepted as Keras accepts one
    numpy.testing.assert_allclose(constraint(w).numpy(), result.numpy(), rtol=0, atol=0)


def test_constraints_match_numbers_from_keras():
    # Expected values computed once with Keras 3.15.1 (KERAS_BACKEND=torch):
    # keras.constraints.MaxNorm(2.0)(w), MinMaxNorm(0.5, 1.5, 0.7)(w), UnitNorm(1)(w)
    w = numpy.array([[3.0, 0.1, -1.0], [4.0, -0.2, 1.0]], "float32")
    numpy.testing.assert_allclose(
        constraints.MaxNorm(2.0)(w).numpy(),
        [[1.2, 0.1, -0.9999999], [1.6, -0.1999999, 0.9999999]],
        rtol=1e-6,
    )
    numpy.testing.assert_allclose(
        constraints.MinMaxNorm(0.5, 1.5, 0.7)(w).numpy(),
        [[1.53, 0.1865247, -0.9999999], [2.04, -0.3730493, 0.9999999]],
        rtol=1e-5,
    )
    numpy.testing.assert_allclose(
        constraints.UnitNorm(1)(w).numpy(),
        [[0.9482093, 0.031607, -0.3160698], [0.9690031, -0.0484502, 0.2422508]],
        rtol=1e-5,
    )


def test_base_constraint_is_the_identity_and_configs_round_trip():
    w = numpy.array([[-1.0, 2.0]], "float32")
    numpy.testing.assert_array_equal(numpy.asarray(constraints.Constraint()(w)), w)
    for constraint, config in [
        (constraints.MaxNorm(3, axis=[0, 1]), {"max_value": 3, "axis": [0, 1]}),
        (
            constraints.MinMaxNorm(0.1, 2.0, 0.5, 1),
            {"min_value": 0.1, "max_value": 2.0, "rate": 0.5, "axis": 1},
        ),
        (constraints.NonNeg(), {}),
        (constraints.UnitNorm(axis=-1), {"axis": -1}),
    ]:
        assert constraint.get_config() == config
        again = type(constraint).from_config(constraint.get_config())
        assert type(again) is type(constraint) and again.get_config() == config
        assert constraints.get(constraints.serialize(constraint)).get_config() == config


def test_lowercase_aliases_are_the_classes():
    assert constraints.max_norm is constraints.MaxNorm
    assert constraints.min_max_norm is constraints.MinMaxNorm
    assert constraints.non_neg is constraints.NonNeg
    assert constraints.unit_norm is constraints.UnitNorm
    assert engine.constraints is constraints


def test_get_accepts_names_configs_instances_classes_and_callables():
    assert constraints.get(None) is None
    for name, cls in [
        ("max_norm", constraints.MaxNorm),
        ("MaxNorm", constraints.MaxNorm),
        ("min_max_norm", constraints.MinMaxNorm),
        ("non_neg", constraints.NonNeg),
        ("NonNeg", constraints.NonNeg),
        ("unit_norm", constraints.UnitNorm),
    ]:
        assert type(constraints.get(name)) is cls
    made = constraints.get({"class_name": "MaxNorm", "config": {"max_value": 4, "axis": 1}})
    assert made.get_config() == {"max_value": 4, "axis": 1}
    instance = constraints.UnitNorm()
    assert constraints.get(instance) is instance
    assert type(constraints.get(constraints.NonNeg)) is constraints.NonNeg

    def clip(w):
        return w

    assert constraints.get(clip) is clip


@pytest.mark.parametrize(
    "identifier, error, words",
    [
        ("max_nrom", ValueError, ["max_nrom", "max_norm", "non_neg"]),
        ({"class_name": "Clipper", "config": {}}, ValueError, ["Clipper"]),
        (42, ValueError, ["42", "constraint"]),
        ({"class_name": "MaxNorm", "config": {"max_norm": 2}}, TypeError, ["max_norm"]),
    ],
)
def test_bad_identifiers_are_named(identifier, error, words):
    with pytest.raises(error) as info:
        constraints.get(identifier)
    for word in words:
        assert word in str(info.value)
    with pytest.raises(error):
        layers.Dense(2, kernel_constraint=identifier)


def test_layers_accept_keras_arguments_and_configs_round_trip(backend):
    made = [
        layers.Dense(
            3,
            kernel_constraint="max_norm",
            bias_constraint=constraints.NonNeg(),
            activity_regularizer="l2",
        ),
        layers.Conv1D(
            2, 3, kernel_constraint=constraints.UnitNorm([0, 1]), activity_regularizer="l1"
        ),
        layers.Conv2D(2, 3, bias_constraint="non_neg", activity_regularizer=regularizers.L2(0.5)),
        layers.Embedding(
            7, 3, embeddings_constraint=constraints.MinMaxNorm(axis=1), activity_regularizer="l1"
        ),
    ]
    for layer in made:
        config = layer.get_config()
        assert "activity_regularizer" in config
        again = type(layer).from_config(config)
        assert again.get_config() == config
        assert type(again.activity_regularizer) is type(layer.activity_regularizer)
    dense_config = made[0].get_config()
    assert dense_config["kernel_constraint"] == {
        "class_name": "MaxNorm",
        "config": {"max_value": 2, "axis": 0},
    }
    assert dense_config["bias_constraint"] == {"class_name": "NonNeg", "config": {}}
    assert made[3].get_config()["embeddings_constraint"]["class_name"] == "MinMaxNorm"
    plain = layers.Dense(2).get_config()
    assert plain["kernel_constraint"] is None and plain["activity_regularizer"] is None


# -- applied by the optimizer ------------------------------------------------------------


def regression_data(rng, n=32, features=6, outputs=3):
    x = rng.normal(size=(n, features)).astype("float32")
    y = (x @ rng.normal(size=(features, outputs)) * 3).astype("float32")
    return x, y


def test_fit_keeps_weights_inside_their_constraints(backend, rng):
    x, y = regression_data(rng)
    engine.utils.set_random_seed(0)
    model = Sequential(
        [
            layers.Input((6,)),
            layers.Dense(8, kernel_constraint="non_neg", bias_constraint="non_neg"),
            layers.Dense(3, kernel_constraint=constraints.MaxNorm(0.5)),
        ]
    )
    model.compile(engine.optimizers.SGD(0.05, momentum=0.9), "mse")
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    kernel, bias, kernel2, _ = model.get_weights()
    assert kernel.min() >= 0 and bias.min() >= 0 and kernel.max() > 0
    assert numpy.all(numpy.linalg.norm(kernel2, axis=0) <= 0.5 + 1e-6)


def test_constraint_is_applied_after_the_update(backend, rng):
    """One SGD step: constrained weights are the constraint of the unconstrained update."""
    x, y = regression_data(rng, n=8)
    constraint = constraints.MinMaxNorm(0.2, 0.4, rate=0.5)

    def step(**kwargs):
        layer = layers.Dense(3, **kwargs)
        model = Sequential([layers.Input((6,)), layer])
        model.set_weights([numpy.full((6, 3), 0.3, "float32"), numpy.zeros(3, "float32")])
        model.compile(engine.optimizers.SGD(0.01), "mse")
        model.train_on_batch(x, y)
        return model.get_weights()

    free_kernel, free_bias = step()
    kernel, bias = step(kernel_constraint=constraint)
    numpy.testing.assert_allclose(kernel, constraint(free_kernel).numpy(), rtol=1e-6, atol=1e-7)
    numpy.testing.assert_array_equal(bias, free_bias)


def test_conv_and_embedding_constraints_hold_after_fit(backend, rng):
    images = rng.normal(size=(8, 5, 5, 2)).astype("float32")
    conv = Sequential(
        [
            layers.Input((5, 5, 2)),
            layers.Conv2D(3, 3, kernel_constraint=constraints.MaxNorm(0.3, axis=[0, 1, 2])),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    conv.compile(engine.optimizers.Adam(0.1), "mse")
    conv.fit(images, rng.normal(size=(8, 1)).astype("float32"), epochs=2, verbose=0)
    kernel = conv.layers[0].get_weights()[0]
    assert numpy.all(numpy.linalg.norm(kernel.reshape(-1, 3), axis=0) <= 0.3 + 1e-6)

    steps = rng.normal(size=(8, 7, 2)).astype("float32")
    conv1d = Sequential(
        [layers.Input((7, 2)), layers.Conv1D(2, 3, kernel_constraint="non_neg"), layers.Flatten()]
    )
    conv1d.compile("sgd", "mse")
    conv1d.fit(steps, rng.normal(size=(8, 10)).astype("float32"), epochs=2, verbose=0)
    assert conv1d.layers[0].get_weights()[0].min() >= 0

    indices = rng.integers(0, 10, size=(16, 4))
    embedding = Sequential(
        [
            layers.Input((4,), dtype="int64"),
            layers.Embedding(10, 3, embeddings_constraint=constraints.UnitNorm(axis=1)),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    embedding.compile(engine.optimizers.Adam(0.1), "mse")
    embedding.fit(indices, rng.normal(size=(16, 1)).astype("float32"), epochs=2, verbose=0)
    table = embedding.layers[0].get_weights()[0]
    seen = numpy.unique(indices)  # only rows with a gradient are updated and projected
    numpy.testing.assert_allclose(numpy.linalg.norm(table[seen], axis=1), 1.0, rtol=1e-5)


def test_apply_gradients_applies_constraints_and_plain_weights_pay_nothing(backend):
    layer = layers.Dense(2, kernel_constraint="non_neg")
    layer.build_from_shape((None, 3))
    assert type(layer.bias) is engine.Tensor  # an unconstrained weight stays a plain tensor
    optimizer = engine.optimizers.SGD(1.0)
    grad = numpy.ones((3, 2), "float32")
    optimizer.apply_gradients([(grad, layer.kernel), (numpy.ones(2, "float32"), layer.bias)])
    assert layer.kernel.numpy().min() >= 0
    assert layer.bias.numpy().tolist() == [-1.0, -1.0]

    plain = engine.optimizers.SGD(1.0)
    other = layers.Dense(2)
    other.build_from_shape((None, 3))
    plain.apply_gradients([(grad, other.kernel)])
    assert plain._constraints == {}


def test_a_constraint_that_changes_the_shape_is_refused(backend):
    layer = layers.Dense(2, kernel_constraint=lambda w: w[:1])
    layer.build_from_shape((None, 3))
    with pytest.raises(ValueError, match="shape"):
        engine.optimizers.SGD(0.1).apply_gradients([(numpy.ones((3, 2), "float32"), layer.kernel)])


# -- activity regularizers ---------------------------------------------------------------


def twin_models(make_layer, input_shape, weights, dtype=None):
    """The same network with and without an activity regularizer on its first layer."""
    models = []
    for activity_regularizer in (None, regularizers.L2(0.1)):
        model = Sequential(
            [layers.Input(input_shape, dtype=dtype), make_layer(activity_regularizer)]
        )
        model.set_weights(weights)
        model.compile(engine.optimizers.SGD(0.01), "mse")
        models.append(model)
    return models


@pytest.mark.parametrize(
    "make_layer, input_shape, weight_shapes",
    [
        (lambda r: layers.Dense(3, activity_regularizer=r), (4,), [(4, 3), (3,)]),
        (lambda r: layers.Conv1D(3, 2, activity_regularizer=r), (5, 2), [(2, 2, 3), (3,)]),
        (lambda r: layers.Conv2D(3, 2, activity_regularizer=r), (4, 4, 2), [(2, 2, 2, 3), (3,)]),
        (lambda r: layers.Embedding(6, 3, activity_regularizer=r), (5,), [(6, 3)]),
    ],
    ids=["dense", "conv1d", "conv2d", "embedding"],
)
def test_activity_penalty_is_added_to_the_loss(
    backend, rng, make_layer, input_shape, weight_shapes
):
    weights = [rng.normal(size=shape).astype("float32") for shape in weight_shapes]
    takes_indices = len(weight_shapes) == 1  # the Embedding
    plain, regularized = twin_models(
        make_layer, input_shape, weights, "int64" if takes_indices else None
    )
    batch = 6
    if takes_indices:
        x = rng.integers(0, 6, size=(batch, *input_shape))
    else:
        x = rng.normal(size=(batch, *input_shape)).astype("float32")
    outputs = plain.predict(x, verbose=0).astype("float64")
    y = rng.normal(size=outputs.shape).astype("float32")
    # Keras 3.14+ divides the penalty by the batch size
    penalty = 0.1 * numpy.sum(outputs**2) / batch

    difference = regularized.evaluate(x, y, verbose=0) - plain.evaluate(x, y, verbose=0)
    numpy.testing.assert_allclose(difference, penalty, rtol=1e-4)
    # train_on_batch reports the loss before its update
    difference = regularized.train_on_batch(x, y) - plain.train_on_batch(x, y)
    numpy.testing.assert_allclose(difference, penalty, rtol=1e-4)


def test_activity_penalty_gradient_reaches_the_weights(backend, rng):
    """A Dense layer's penalty 0.1 * sum(out**2) / n adds 0.2 * x^T out / n to its kernel's
    gradient (checked through one SGD step against the unregularized twin)."""
    kernel = rng.normal(size=(4, 3)).astype("float32")
    bias = rng.normal(size=3).astype("float32")
    plain, regularized = twin_models(
        lambda r: layers.Dense(3, activity_regularizer=r), (4,), [kernel, bias]
    )
    x = rng.normal(size=(5, 4)).astype("float32")
    y = rng.normal(size=(5, 3)).astype("float32")
    out = (x @ kernel + bias).astype("float64")
    plain.train_on_batch(x, y)
    regularized.train_on_batch(x, y)
    grad_kernel = 0.2 * x.T.astype("float64") @ out / 5
    grad_bias = 0.2 * out.sum(axis=0) / 5
    for free, constrained, grad in zip(
        plain.get_weights(), regularized.get_weights(), (grad_kernel, grad_bias)
    ):
        numpy.testing.assert_allclose(free - constrained, 0.01 * grad, rtol=1e-3, atol=1e-6)


def test_activity_losses_reflect_the_latest_call(backend, rng):
    layer = layers.Dense(2, activity_regularizer=regularizers.L1(0.5))
    assert layer.losses == []
    first = rng.normal(size=(4, 3)).astype("float32")
    second = rng.normal(size=(2, 3)).astype("float32")
    layer(first)
    out = layer(second).numpy()
    assert len(layer.losses) == 1
    numpy.testing.assert_allclose(
        layer.losses[0].numpy(), 0.5 * numpy.abs(out).sum() / 2, rtol=1e-5
    )
    model = Sequential([layers.Input((3,)), layer, layers.Dense(1, kernel_regularizer="l2")])
    model(first)
    assert len(model.losses) == 2  # the activity penalty and the kernel penalty


# -- saving ------------------------------------------------------------------------------


class Clip(constraints.Constraint):
    def __init__(self, limit=1.0):
        self.limit = limit

    def __call__(self, w):
        return engine.tensor(numpy.clip(w.numpy(), -self.limit, self.limit))

    def get_config(self):
        return {"limit": self.limit}


def test_save_and_load_keep_constraints_and_activity_regularizers(backend, rng, tmp_path):
    x, y = regression_data(rng)
    model = Sequential(
        [
            layers.Input((6,)),
            layers.Dense(
                5,
                kernel_constraint=constraints.MaxNorm(0.7, axis=0),
                bias_constraint="non_neg",
                activity_regularizer=regularizers.L1(0.01),
            ),
            layers.Dense(3, kernel_constraint=Clip(0.2)),
        ]
    )
    model.compile(engine.optimizers.Adam(0.05), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "constrained.safetensors"
    model.save(path)
    with pytest.raises(ValueError, match="Clip"):
        load_model(path)
    loaded = load_model(path, custom_objects={"Clip": Clip})
    for ours, theirs in zip(model.layers, loaded.layers, strict=True):
        assert theirs.get_config() == ours.get_config()
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        numpy.testing.assert_array_equal(a, b)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    loaded.fit(x, y, epochs=2, batch_size=8, verbose=0)
    kernel, bias, kernel2, _ = loaded.get_weights()
    assert numpy.all(numpy.linalg.norm(kernel, axis=0) <= 0.7 + 1e-6) and bias.min() >= 0
    assert numpy.abs(kernel2).max() <= 0.2 + 1e-7


def test_saving_a_function_constraint_says_what_to_do(backend, tmp_path):
    model = Sequential([layers.Input((3,)), layers.Dense(2, kernel_constraint=lambda w: w)])
    with pytest.raises(ValueError, match="Constraint"):
        model.save(tmp_path / "function.safetensors")


def test_regularizers_take_arrays_as_keras_does(backend):
    """``keras.regularizers.L2(0.01)(numpy_array)``: the penalty of the array's values."""
    weight = numpy.array([[1.0, -2.0], [0.5, 3.0]], "float32")
    l1_l2 = engine.regularizers.L1L2(l1=0.1, l2=0.01)(weight)
    assert isinstance(l1_l2, engine.Tensor)
    numpy.testing.assert_allclose(
        l1_l2.numpy(), 0.1 * numpy.abs(weight).sum() + 0.01 * (weight**2).sum(), rtol=1e-6
    )
    orthogonal = engine.regularizers.OrthogonalRegularizer(factor=0.1)
    numpy.testing.assert_allclose(
        orthogonal(weight).numpy(), orthogonal(engine.tensor(weight)).numpy(), rtol=1e-6
    )
