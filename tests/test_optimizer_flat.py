"""The small weights of an elementwise optimizer updated together through flat buffers
(``engine/optimizers/flat.py``): the same numbers, bit for bit, as one update a weight."""

import numpy
import pytest

import engine
from engine import optimizers
from engine.optimizers import flat
from engine.optimizers.base import _updates_elementwise

CASES = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd_nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(0.01),
    "amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01, weight_decay=0.1),
    "rmsprop": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.1),
    "adamax": lambda: optimizers.Adamax(0.01),
    "nadam": lambda: optimizers.Nadam(0.01),
    "lion": lambda: optimizers.Lion(0.01),
    "adadelta": lambda: optimizers.Adadelta(1.0),
}
# small weights (flattened together), one above MAX_FLAT_SIZE (updated on its own)
SHAPES = [(3, 4), (4,), (), (7, 2, 3)]


def _weights(dtype="float32", shapes=SHAPES, seed=0):
    rng = numpy.random.default_rng(seed)
    return [
        engine.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
        for shape in shapes
    ]


def _grads(weights, steps=3, seed=1):
    rng = numpy.random.default_rng(seed)
    return [[rng.standard_normal(w.shape).astype(w.dtype) for w in weights] for _ in range(steps)]


def _train(optimizer, weights, grads_per_step):
    for grads in grads_per_step:
        for weight, grad in zip(weights, grads, strict=True):
            weight.grad = engine.tensor(grad) if grad is not None else None
        optimizer.step(weights)
        assert all(weight.grad is None for weight in weights)


def _slots(optimizer, weights):
    return [
        {name: w.backend.to_numpy(optimizer.slots(w)[name]) for name in optimizer.slot_names}
        for w in weights
    ]


def _in_buffer(weight, buffer) -> bool:
    # bounds, not shares_memory: CuPy 14's says False for a 0-d view inside the buffer
    return bool(weight.backend.xp.may_share_memory(weight.data, buffer))


def _assert_same(optimizer_a, weights_a, optimizer_b, weights_b):
    for a, b in zip(weights_a, weights_b, strict=True):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    for slots_a, slots_b in zip(
        _slots(optimizer_a, weights_a), _slots(optimizer_b, weights_b), strict=True
    ):
        for name in slots_a:
            numpy.testing.assert_array_equal(slots_a[name], slots_b[name])


@pytest.fixture
def one_at_a_time(monkeypatch):
    """Run the given function with no weight small enough to join the flat buffers."""

    def run(function):
        with monkeypatch.context() as patch:
            patch.setattr(flat, "MAX_FLAT_SIZE", 0)
            return function()

    return run


@pytest.mark.parametrize("case", sorted(CASES))
def test_flat_updates_equal_one_update_a_weight(backend, one_at_a_time, monkeypatch, case):
    monkeypatch.setattr(flat, "MAX_FLAT_SIZE", 40)  # (7, 2, 3) stays on its own
    grads = _grads(_weights())
    weights, optimizer = _weights(), CASES[case]()
    _train(optimizer, weights, grads)
    assert optimizer._flat is not None and len(optimizer._flat.params) == 3
    assert all(_in_buffer(weight, optimizer._flat.param) for weight in weights[:3])
    assert not _in_buffer(weights[3], optimizer._flat.param)

    reference_weights, reference = _weights(), CASES[case]()
    one_at_a_time(lambda: _train(reference, reference_weights, grads))
    assert reference._flat is None
    _assert_same(optimizer, weights, reference, reference_weights)


def test_rebound_weights_and_slots_are_gathered_again(one_at_a_time):
    """``set_weights`` rebinds a weight's array and loading optimizer state a slot's: the
    next step builds the buffers again from the current values."""
    grads = _grads(_weights(), steps=4)

    def train_with_rebinding(optimizer, weights):
        _train(optimizer, weights, grads[:2])
        weights[1].data = weights[1].backend.asarray(numpy.full(weights[1].shape, 0.5, "float32"))
        slots = optimizer.slots(weights[0])
        slots["m"] = weights[0].backend.asarray(numpy.full(weights[0].shape, 0.25, "float32"))
        _train(optimizer, weights, grads[2:])

    weights, optimizer = _weights(), optimizers.Adam(0.01)
    train_with_rebinding(optimizer, weights)
    assert _in_buffer(weights[1], optimizer._flat.param)
    reference_weights, reference = _weights(), optimizers.Adam(0.01)
    one_at_a_time(lambda: train_with_rebinding(reference, reference_weights))
    _assert_same(optimizer, weights, reference, reference_weights)


def test_a_step_without_some_gradients_leaves_those_weights_alone(one_at_a_time):
    """A weight without a gradient is not stepped: the buffers follow the step's weights."""
    first, second = _grads(_weights(), steps=2)
    third = [None, *_grads(_weights(), steps=1, seed=3)[0][1:]]
    plan = [first, second, third, first]

    weights, optimizer = _weights(), optimizers.Adam(0.01)
    _train(optimizer, weights, plan[:3])
    untouched = weights[0].numpy().copy()
    _train(optimizer, weights, plan[3:])
    assert not numpy.array_equal(untouched, weights[0].numpy())
    reference_weights, reference = _weights(), optimizers.Adam(0.01)
    one_at_a_time(lambda: _train(reference, reference_weights, plan))
    _assert_same(optimizer, weights, reference, reference_weights)


def test_weights_of_two_dtypes_flatten_the_first_dtype_only(one_at_a_time):
    def mixed():
        return _weights("float32", SHAPES[:2]) + _weights("float64", SHAPES[:2], seed=5)

    grads = _grads(mixed())
    weights, optimizer = mixed(), optimizers.SGD(0.1, momentum=0.9)
    _train(optimizer, weights, grads)
    assert optimizer._flat.param.dtype == numpy.float32 and len(optimizer._flat.params) == 2
    assert weights[2].dtype == "float64" and weights[3].dtype == "float64"
    reference_weights, reference = mixed(), optimizers.SGD(0.1, momentum=0.9)
    one_at_a_time(lambda: _train(reference, reference_weights, grads))
    _assert_same(optimizer, weights, reference, reference_weights)


def test_only_elementwise_updates_are_flattened():
    seen_shapes = []

    class NormalizedAdam(optimizers.Adam):
        """A subclass whose own update is not elementwise (it scales by the weight's norm)."""

        def update(self, backend, param, grad, slots, lr):
            seen_shapes.append(param.shape)
            super().update(backend, param, grad / max(numpy.linalg.norm(grad), 1.0), slots, lr)

    assert _updates_elementwise(optimizers.AdamW)  # inherits Adam's update
    assert not _updates_elementwise(NormalizedAdam)
    assert not _updates_elementwise(optimizers.Lamb)  # a trust ratio per weight
    assert not _updates_elementwise(optimizers.Adafactor)  # factored per matrix
    weights, optimizer = _weights(shapes=SHAPES[:3]), NormalizedAdam(0.01)
    _train(optimizer, weights, _grads(weights, steps=1))
    assert optimizer._flat is None
    assert seen_shapes == [(3, 4), (4,), (1,)]  # a 0-d weight as a 1-element view


def test_training_a_model_keeps_its_weights_in_the_flat_buffer(backend):
    model = engine.Sequential(
        [
            engine.layers.Input((5,)),
            engine.layers.Dense(4, activation="relu"),
            engine.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    rng = numpy.random.default_rng(0)
    x, y = rng.standard_normal((16, 5)).astype("float32"), rng.standard_normal((16, 1))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    buffer = model.optimizer._flat.param
    assert all(_in_buffer(w, buffer) for w in model.trainable_weights)
    before = [w.copy() for w in model.get_weights()]
    model.set_weights([w + 1 for w in before])  # rebinds every weight's array
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer._flat.param is not buffer
    assert all(_in_buffer(w, model.optimizer._flat.param) for w in model.trainable_weights)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_scalar_weight_on_its_own_trains_as_a_one_element_weight(backend, case):
    """A 0-d weight (``add_weight(shape=())``) updated on its own: NumPy's ufuncs give
    scalars for 0-d arrays, which the in-place reference kernels cannot write into."""
    grads = [[numpy.array(g, "float32")] for g in (0.5, -0.25, 1.0)]
    scalar = [engine.tensor(numpy.array(1.5, "float32"), requires_grad=True)]
    optimizer = CASES[case]()
    _train(optimizer, scalar, grads)
    assert scalar[0].shape == () and optimizer.slots(scalar[0]) is not None
    vector = [engine.tensor(numpy.array([1.5], "float32"), requires_grad=True)]
    reference = CASES[case]()
    _train(reference, vector, [[g.reshape(1)] for (g,) in grads])
    numpy.testing.assert_array_equal(scalar[0].numpy().reshape(1), vector[0].numpy())


def test_weights_rebound_at_every_step_stop_the_rebuilding(one_at_a_time):
    """A layer that reassigns a weight in its call (spectral normalization) would make every
    step build the buffers again: after ``MAX_FLAT_BUILDS`` in a row they are left alone."""
    steps = flat.MAX_FLAT_BUILDS + 3
    grads = _grads(_weights(), steps=steps)

    def train(optimizer, weights):
        for step_grads in grads:
            weights[0].data = weights[0].data * 0.5  # rebinds, as a normalizing layer does
            _train(optimizer, weights, [step_grads])

    weights, optimizer = _weights(), optimizers.Adam(0.01)
    builds = []
    original = flat.FlatWeights.__init__

    def counting(self, *args):
        builds.append(1)
        original(self, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flat.FlatWeights, "__init__", counting)
        train(optimizer, weights)
    assert len(builds) == flat.MAX_FLAT_BUILDS + 1
    reference_weights, reference = _weights(), optimizers.Adam(0.01)
    one_at_a_time(lambda: train(reference, reference_weights))
    _assert_same(optimizer, weights, reference, reference_weights)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_step_of_flat_weights_only_skips_the_general_path(
    backend, one_at_a_time, monkeypatch, case
):
    """When the buffers hold every weight of the step (a small model's every step), the
    step runs on them at once (``Optimizer._flat_step``), with the same numbers."""
    shapes = SHAPES[:3]
    grads = _grads(_weights(shapes=shapes), steps=4)
    general = []
    original = optimizers.base.Optimizer._update_flat

    def counting(self, *args):
        general.append(1)
        return original(self, *args)

    weights, optimizer = _weights(shapes=shapes), CASES[case]()
    with monkeypatch.context() as patch:
        patch.setattr(optimizers.base.Optimizer, "_update_flat", counting)
        _train(optimizer, weights, grads)
    assert len(general) == 1  # the first step, which built the buffers
    assert optimizer.iterations == 4
    reference_weights, reference = _weights(shapes=shapes), CASES[case]()
    one_at_a_time(lambda: _train(reference, reference_weights, grads))
    _assert_same(optimizer, weights, reference, reference_weights)


@pytest.mark.parametrize(
    "settings",
    [{"global_clipnorm": 0.5}, {"clipvalue": 0.1}, {"clipnorm": 0.3}],
    ids=lambda settings: next(iter(settings)),
)
def test_clipped_flat_steps_take_the_general_path(one_at_a_time, settings):
    shapes = SHAPES[:3]
    grads = _grads(_weights(shapes=shapes), steps=3)
    weights, optimizer = _weights(shapes=shapes), optimizers.Adam(0.01, **settings)
    _train(optimizer, weights, grads)
    assert optimizer._flat is not None
    reference_weights, reference = _weights(shapes=shapes), optimizers.Adam(0.01, **settings)
    one_at_a_time(lambda: _train(reference, reference_weights, grads))
    _assert_same(optimizer, weights, reference, reference_weights)


def test_gathering_all_refuses_a_list_that_names_a_member_twice():
    weights, optimizer = _weights(shapes=SHAPES[:2]), optimizers.SGD(0.1)
    _train(optimizer, weights, _grads(weights, steps=1))
    for weight in weights:
        weight.grad = engine.tensor(numpy.ones(weight.shape, "float32"))
    buffers = optimizer._flat
    twice = [weights[0], weights[0]]
    assert not buffers.gather_all(twice, optimizer._slots, optimizer._index)
    assert buffers.gather_all(weights, optimizer._slots, optimizer._index)
    weights[1].grad = None
    assert not buffers.gather_all(weights, optimizer._slots, optimizer._index)


def test_rebinding_now_and_then_keeps_the_buffers(one_at_a_time):
    """``set_weights`` between stretches of training rebuilds the buffers each time; only
    rebuilds in a row (a layer rebinding at every step) stop the flattening."""
    grads = _grads(_weights(), steps=3 * (flat.MAX_FLAT_BUILDS + 2))

    def train(optimizer, weights):
        for start in range(0, len(grads), 3):
            weights[1].data = weights[1].data * 0.5  # rebinds, as set_weights does
            _train(optimizer, weights, grads[start : start + 3])

    weights, optimizer = _weights(), optimizers.Adam(0.01)
    train(optimizer, weights)
    assert optimizer._flat is not None
    assert all(_in_buffer(weight, optimizer._flat.param) for weight in weights[:3])
    reference_weights, reference = _weights(), optimizers.Adam(0.01)
    one_at_a_time(lambda: train(reference, reference_weights))
    _assert_same(optimizer, weights, reference, reference_weights)
