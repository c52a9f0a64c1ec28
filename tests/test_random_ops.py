"""``engine.random``: distributions, dtypes, and Keras 3's seed semantics, on every backend."""

import numpy
import pytest

import backends
import engine
from engine import ops, random
from tests.gradcheck import check_gradients


@pytest.fixture(autouse=True)
def _restore_global_seed():
    """Tests that seed the global state leave it seeded from fresh entropy afterwards."""
    yield
    random._global_seed_generator = None


def test_normal_shape_dtype_statistics(backend):
    x = random.normal((400, 50), mean=2.0, stddev=3.0, seed=1)
    assert isinstance(x, engine.Tensor) and x.backend is backend
    assert x.shape == (400, 50) and x.dtype == "float32"
    values = x.numpy()
    assert abs(values.mean() - 2.0) < 0.05 and abs(values.std() - 3.0) < 0.05
    assert random.normal(3, dtype="float64").dtype == "float64"


def test_uniform_range_and_dtype(backend):
    x = random.uniform((1000,), minval=-2.0, maxval=3.0, seed=2).numpy()
    assert x.dtype == numpy.float32 and x.min() >= -2.0 and x.max() < 3.0
    assert abs(x.mean() - 0.5) < 0.15
    with pytest.raises(ValueError, match="uniform: dtype must be a float dtype, got int32"):
        random.uniform((2,), dtype="int32")


def test_randint_range_and_dtype(backend):
    x = random.randint((2000,), 3, 7, seed=3)
    assert x.dtype == "int32" and x.backend is backend
    assert sorted(set(x.numpy().tolist())) == [3, 4, 5, 6]
    assert random.randint((2,), 0, 2, dtype="int64").dtype == "int64"
    with pytest.raises(
        ValueError, match="randint: maxval \\(1\\) must be greater than minval \\(1\\)"
    ):
        random.randint((2,), 1, 1)


def test_truncated_normal_stays_within_two_stddevs(backend):
    x = random.truncated_normal((5000,), mean=1.0, stddev=0.5, seed=4).numpy()
    assert x.min() >= 0.0 and x.max() <= 2.0
    assert abs(x.std() - 0.5 * 0.8796) < 0.02  # the std of a normal truncated at 2 sigma


def test_int_seed_gives_the_same_values_every_call(backend):
    a = random.normal((5,), seed=42).numpy()
    b = random.normal((5,), seed=42).numpy()
    numpy.testing.assert_array_equal(a, b)
    assert not numpy.array_equal(a, random.normal((5,), seed=43).numpy())


def test_seed_generator_advances_and_replays(backend):
    seed = random.SeedGenerator(1337)
    first = random.normal((5,), seed=seed).numpy()
    second = random.normal((5,), seed=seed).numpy()
    assert not numpy.array_equal(first, second)
    replay = random.SeedGenerator(1337)
    numpy.testing.assert_array_equal(random.normal((5,), seed=replay).numpy(), first)
    numpy.testing.assert_array_equal(random.normal((5,), seed=replay).numpy(), second)
    assert seed.state.tolist() == [1337, 2]
    copy = random.SeedGenerator.from_config(seed.get_config())
    numpy.testing.assert_array_equal(random.normal((5,), seed=copy).numpy(), first)


def test_unseeded_draws_differ_and_replay_after_set_random_seed(backend):
    engine.utils.set_random_seed(7)
    first = [random.normal((4,)).numpy(), random.uniform((4,)).numpy()]
    assert not numpy.array_equal(first[0], random.normal((4,)).numpy())
    engine.utils.set_random_seed(7)
    again = [random.normal((4,)).numpy(), random.uniform((4,)).numpy()]
    for a, b in zip(first, again):
        numpy.testing.assert_array_equal(a, b)
    engine.utils.set_random_seed(7)
    unseeded = random.SeedGenerator()
    engine.utils.set_random_seed(7)
    numpy.testing.assert_array_equal(
        random.normal((3,), seed=unseeded).numpy(),
        random.normal((3,), seed=random.SeedGenerator()).numpy(),
    )


def test_a_seed_gives_the_same_values_on_every_backend():
    values = [_draw_on(name) for name in backends.available()]
    for other in values[1:]:
        numpy.testing.assert_array_equal(values[0], other)


def _draw_on(name):
    with engine.use_backend(name):
        x = random.normal((6,), seed=5)
        assert x.backend.name == name
        return x.numpy()


def test_bad_seeds_are_refused(backend):
    with pytest.raises(ValueError, match="SeedGenerator: seed must be an integer or None, got 1.5"):
        random.SeedGenerator(1.5)
    with pytest.raises(ValueError, match="seed must be an int, a SeedGenerator or None; got 'a'"):
        random.normal((2,), seed="a")


def test_dropout_zeros_and_scales(backend):
    x = ops.ones((100, 100))
    y = random.dropout(x, 0.3, seed=9)
    assert y.backend is backend and y.dtype == "float32"
    values = y.numpy()
    numpy.testing.assert_allclose(numpy.unique(values), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((values == 0).mean() - 0.3) < 0.02
    numpy.testing.assert_array_equal(values, random.dropout(x, 0.3, seed=9).numpy())
    assert not random.dropout(x, 1.0).numpy().any()
    numpy.testing.assert_array_equal(random.dropout(x, 0.0).numpy(), x.numpy())
    with pytest.raises(ValueError, match="dropout: rate must be in \\[0, 1\\], got 1.5"):
        random.dropout(x, 1.5)


def test_dropout_noise_shape_shares_the_mask(backend):
    y = random.dropout(ops.ones((3, 8)), 0.5, noise_shape=(1, None), seed=2).numpy()
    assert (y == y[0]).all()


def test_dropout_gradient_is_the_mask(backend, float64):
    x = numpy.random.default_rng(0).standard_normal((4, 5))
    check_gradients(lambda t: random.dropout(t, 0.4, seed=3), x, backend=backend)
    t = ops.convert_to_tensor(x)
    t.requires_grad = True
    ops.sum(random.dropout(t, 0.4, seed=3)).backward()
    mask = random.dropout(ops.ones((4, 5)), 0.4, seed=3).numpy()
    numpy.testing.assert_allclose(t.grad.numpy(), mask)


def test_shuffle_permutes_along_an_axis(backend, float64):
    x = numpy.arange(12.0).reshape(4, 3)
    y = random.shuffle(x, seed=4)
    assert y.backend is backend
    assert sorted(y.numpy()[:, 0].tolist()) == [0.0, 3.0, 6.0, 9.0]
    numpy.testing.assert_array_equal(y.numpy() % 3, x % 3)
    columns = random.shuffle(x, axis=1, seed=4).numpy()
    assert sorted(columns[0].tolist()) == [0.0, 1.0, 2.0]
    check_gradients(lambda t: random.shuffle(t, seed=4), x, backend=backend)


def test_categorical_draws_by_softmax(backend):
    logits = ops.convert_to_tensor([[0.0, 0.0, 10.0], [10.0, 0.0, 0.0]])
    draws = random.categorical(logits, 200, seed=1)
    assert draws.shape == (2, 200) and draws.dtype == "int32" and draws.backend is backend
    counts = draws.numpy()
    assert (counts[0] == 2).mean() > 0.95 and (counts[1] == 0).mean() > 0.95
    with pytest.raises(ValueError, match="categorical: logits must be 2-D"):
        random.categorical(ops.zeros(3), 2)


def test_the_host_generator_is_still_seeded_by_set_random_seed():
    engine.utils.set_random_seed(11)
    a = random.generator().random(3)
    engine.utils.set_random_seed(11)
    numpy.testing.assert_array_equal(a, random.generator().random(3))
