"""The activations and initializers Keras 3 has beyond the common ones: NumPy references of
Keras's formulas (keras/src/backend/numpy/nn.py), float64 gradient checks, Keras's names."""

import numpy
import pytest

import engine
from engine import activations, initializers, layers
from tests.gradcheck import check_gradients


def _sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def _softplus(x):
    return numpy.logaddexp(0, x)


def _sparsemax(x):
    """Martins & Astudillo (2016), over the last axis."""
    ordered = -numpy.sort(-x, axis=-1)
    cumulative = numpy.cumsum(ordered, axis=-1)
    rank = numpy.arange(1, x.shape[-1] + 1)
    count = ((ordered - (cumulative - 1) / rank) > 0).sum(axis=-1, keepdims=True)
    tau = (numpy.take_along_axis(cumulative, count - 1, axis=-1) - 1) / count
    return numpy.maximum(x - tau, 0)


REFERENCES = {
    "relu6": lambda x: numpy.clip(x, 0, 6),
    "softsign": lambda x: x / (1 + numpy.abs(x)),
    "soft_shrink": lambda x: numpy.where(x > 0.5, x - 0.5, numpy.where(x < -0.5, x + 0.5, 0)),
    "sparse_plus": lambda x: numpy.where(x <= -1, 0, numpy.where(x < 1, (x + 1) ** 2 / 4, x)),
    "squareplus": lambda x: (x + numpy.sqrt(x * x + 4)) / 2,
    "celu": lambda x: numpy.maximum(x, 0) + numpy.expm1(numpy.minimum(x, 0)),
    "glu": lambda x: x[..., :3] * _sigmoid(x[..., 3:]),
    "tanh_shrink": lambda x: x - numpy.tanh(x),
    "hard_tanh": lambda x: numpy.clip(x, -1, 1),
    "hard_shrink": lambda x: numpy.where(numpy.abs(x) > 0.5, x, 0),
    "hard_sigmoid": lambda x: numpy.clip(x / 6 + 0.5, 0, 1),
    "hard_silu": lambda x: x * numpy.clip(x / 6 + 0.5, 0, 1),
    "log_sigmoid": lambda x: -_softplus(-x),
    "sparse_sigmoid": lambda x: numpy.clip((x + 1) / 2, 0, 1),
    "mish": lambda x: x * numpy.tanh(_softplus(x)),
    "exponential": numpy.exp,
    "sparsemax": _sparsemax,
}


def _inputs(rng):
    """Values on both sides of every kink, none within 1e-3 of one (for central differences)."""
    x = rng.uniform(-4, 4, size=(3, 6))
    for kink in (-3, -1, -0.5, 0, 0.5, 1, 3, 6):
        x = numpy.where(numpy.abs(x - kink) < 1e-3, x + 0.01, x)
    return x


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_matches_keras_formula(backend, name, rng):
    x = _inputs(rng)
    got = activations.get(name)(engine.tensor(x)).numpy()
    numpy.testing.assert_allclose(got, REFERENCES[name](x).astype("float32"), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_gradients(backend, float64, name, rng):
    check_gradients(activations.get(name), _inputs(rng), backend=backend)


def test_arguments_match_keras(backend, float64, rng):
    x = _inputs(rng)
    tensor = engine.tensor(x)
    cases = [
        (activations.threshold(tensor, 0.5, -2.0), numpy.where(x > 0.5, x, -2.0)),
        (
            activations.celu(tensor, alpha=0.5),
            numpy.maximum(x, 0) + 0.5 * numpy.expm1(numpy.minimum(x, 0) / 0.5),
        ),
        (activations.squareplus(tensor, b=1), (x + numpy.sqrt(x * x + 1)) / 2),
        (activations.hard_shrink(tensor, threshold=1.0), numpy.where(numpy.abs(x) > 1, x, 0)),
        (activations.glu(engine.tensor(x[:2]), axis=0), x[:1] * _sigmoid(x[1:2])),
        (activations.relu(tensor, max_value=1.5), numpy.clip(x, 0, 1.5)),
        (activations.relu(tensor, threshold=-0.5), numpy.where(x > -0.5, x, 0)),
        # Keras: relu(x) clipped, minus the slope times relu(threshold - x)
        (
            activations.relu(tensor, negative_slope=0.1, max_value=2.0, threshold=0.5),
            numpy.where(x > 0.5, numpy.minimum(x, 2.0), 0.1 * (x - 0.5)),
        ),
    ]
    for got, expected in cases:
        numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)
    check_gradients(
        lambda t: activations.relu(t, negative_slope=0.1, max_value=2.0, threshold=0.5),
        x,
        backend=backend,
    )
    with pytest.raises(ValueError, match="even"):
        activations.glu(engine.tensor(numpy.ones((2, 3))))


def test_sparsemax_is_a_distribution_over_the_axis(backend, float64, rng):
    """Keras 3.15's own sparsemax takes the sum of the cumulative sums where the threshold
    needs the cumulative sum at the support's edge; its outputs then do not sum to one.
    This follows the paper, and Keras wherever the support has one element."""
    x = rng.normal(size=(4, 7)) * 2
    out = activations.sparsemax(engine.tensor(x)).numpy()
    numpy.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-12)
    along_0 = activations.sparsemax(engine.tensor(x), axis=0).numpy()
    numpy.testing.assert_allclose(along_0, _sparsemax(x.T).T, rtol=1e-12, atol=1e-15)
    peaked = numpy.array([[0.0, 5.0, 0.5]])
    numpy.testing.assert_allclose(activations.sparsemax(engine.tensor(peaked)).numpy(), [[0, 1, 0]])


KERAS_ACTIVATION_NAMES = (
    "celu elu exponential gelu glu hard_shrink hard_sigmoid hard_silu hard_swish hard_tanh "
    "leaky_relu linear log_sigmoid log_softmax mish relu relu6 selu sigmoid silu soft_shrink "
    "softmax softplus softsign sparse_plus sparse_sigmoid sparsemax squareplus swish tanh "
    "tanh_shrink threshold"
).split()


def test_every_keras_activation_name_resolves_and_round_trips():
    for name in KERAS_ACTIVATION_NAMES:
        function = activations.get(name)
        assert getattr(activations, name) is function
        assert activations.deserialize(activations.serialize(function)) is function
    assert activations.serialize(activations.hard_swish) == "hard_silu"
    assert activations.deserialize({"class_name": "function", "config": "mish"}) is (
        activations.mish
    )

    def custom(x):
        return x

    assert activations.deserialize("custom", custom_objects={"custom": custom}) is custom


def test_a_layer_with_a_new_activation_saves_and_loads(backend, tmp_path):
    model = engine.models.Sequential([layers.Input((3,)), layers.Dense(4, activation="mish")])
    x = numpy.linspace(-1, 1, 6).reshape(2, 3).astype("float32")
    model.save(tmp_path / "m.safetensors")
    loaded = engine.models.load_model(tmp_path / "m.safetensors")
    assert loaded.layers[0].activation is activations.mish
    numpy.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- initializers -------------------------------------------------------------------


def test_keras_snake_case_names_are_the_classes():
    pairs = {
        "zeros": "Zeros",
        "ones": "Ones",
        "constant": "Constant",
        "random_normal": "RandomNormal",
        "random_uniform": "RandomUniform",
        "truncated_normal": "TruncatedNormal",
        "variance_scaling": "VarianceScaling",
        "glorot_uniform": "GlorotUniform",
        "glorot_normal": "GlorotNormal",
        "he_uniform": "HeUniform",
        "he_normal": "HeNormal",
        "lecun_uniform": "LecunUniform",
        "lecun_normal": "LecunNormal",
        "orthogonal": "Orthogonal",
        "identity": "Identity",
        "stft": "STFT",
        "IdentityInitializer": "Identity",
        "OrthogonalInitializer": "Orthogonal",
        "STFTInitializer": "STFT",
    }
    for alias, name in pairs.items():
        cls = getattr(initializers, name)
        assert getattr(initializers, alias) is cls
        assert type(initializers.get(alias)) is cls
    for alias, name in {
        "normal": "RandomNormal",
        "uniform": "RandomUniform",
        "one": "Ones",
    }.items():
        assert type(initializers.get(alias)) is getattr(initializers, name)
    assert initializers.zeros()((2,)).tolist() == [0.0, 0.0]


def test_identity_and_lecun_uniform():
    numpy.testing.assert_array_equal(initializers.Identity(2.0)((2, 3)), [[2, 0, 0], [0, 2, 0]])
    with pytest.raises(ValueError, match="2D"):
        initializers.Identity()((2, 2, 2))
    values = initializers.LecunUniform(seed=1)((400, 300))
    limit = numpy.sqrt(3 / 400)
    assert values.min() >= -limit and values.max() <= limit
    assert abs(values.std() - limit / numpy.sqrt(3)) < 1e-3
    restored = initializers.deserialize(initializers.serialize(initializers.Identity(0.5)))
    assert type(restored) is initializers.Identity and restored.gain == 0.5


def test_stft_matches_keras():
    # Keras 3.15 (torch backend): keras.initializers.STFT(...)((4, 1, 3), "float64")[:, 0, :]
    hann = initializers.STFT()((4, 1, 3), "float64")[:, 0, :]
    numpy.testing.assert_allclose(
        hann,
        [
            [0, 0, 0],
            [0.707106781, 0, -0.707106781],
            [0.707106781, -0.707106781, 0.707106781],
            [0, 0, 0],
        ],
        atol=1e-9,
    )
    imaginary = initializers.STFT(side="imag", window="hamming", scaling="spectrum", periodic=True)(
        (4, 1, 3), "float64"
    )[:, 0, :]
    numpy.testing.assert_allclose(
        imaginary, [[0, 0, 0], [0, -0.25, 0], [0, 0, 0], [0, 0.25, 0]], atol=1e-9
    )
    window = numpy.array([0.5, 1.0, 0.5])
    kernel = initializers.STFT(window=window, scaling=None)((3, 1, 2), "float64")
    numpy.testing.assert_allclose(kernel[:, 0, 1], window * numpy.cos(-numpy.pi * numpy.arange(3)))
    with pytest.raises(ValueError, match="side"):
        initializers.STFT(side="both")


@pytest.mark.parametrize("name", sorted(activations._ACTIVATIONS))
def test_activations_take_arrays_and_lists_as_keras_does(backend, name):
    """``keras.activations.relu(numpy_array)`` gives a tensor, as on a tensor."""
    x = numpy.array([[-1.5, -0.2, 0.0, 0.4, 2.5, 7.0]], "float32")
    function = activations.get(name)
    extra = {"threshold": 0.1, "default_value": -1.0} if name == "threshold" else {}
    expected = function(engine.tensor(x), **extra).numpy()
    for given in (x, x.tolist()):
        out = function(given, **extra)
        assert isinstance(out, engine.Tensor)
        numpy.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
