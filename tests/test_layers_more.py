"""GroupNormalization, UnitNormalization, RMSNormalization, ZeroPadding1D/3D, Cropping3D,
UpSampling3D, SpatialDropout3D, AlphaDropout, ActivityRegularization, EinsumDense,
CategoryEncoding, Discretization, layers.serialize/deserialize: NumPy references, Keras
numbers, gradients, shapes, configs and errors."""

import json

import numpy
import pytest

import engine
from engine import layers
from tests.gradcheck import check_gradients, check_weight_gradients


def _round_trip(layer) -> dict:
    config = json.loads(json.dumps(layer.get_config()))
    assert type(layer).from_config(config).get_config() == config
    return config


def _check(layer, x, expected, backend, weights=True, shape=None):
    """Values, output shapes (also with an unknown batch) and float64 gradients; ``shape``: the
    computed output shape where it is not the output's (a size left unknown)."""
    y = layer(x)
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    shape = expected.shape if shape is None else shape
    assert layer.compute_output_shape(x.shape) == shape
    assert layer.compute_output_shape((None, *x.shape[1:])) == (None, *shape[1:])
    check_gradients(layer, x, backend=backend)
    if weights and layer.weights:
        check_weight_gradients(lambda: layer(x), layer.weights)


# -- normalization ---------------------------------------------------------------------------


def group_norm_reference(x, groups, axis, gamma, beta, epsilon=1e-3):
    x = numpy.moveaxis(x, axis, -1)
    shape = x.shape
    grouped = x.reshape(shape[0], -1, groups, shape[-1] // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    variance = grouped.var(axis=(1, 3), keepdims=True)
    y = ((grouped - mean) / numpy.sqrt(variance + epsilon)).reshape(shape) * gamma + beta
    return numpy.moveaxis(y, -1, axis)


@pytest.mark.parametrize(
    "groups, axis, shape", [(2, -1, (3, 4, 6)), (-1, 1, (2, 3, 4, 2)), (1, -1, (3, 5))]
)
def test_group_normalization(backend, float64, rng, groups, axis, shape):
    layer = layers.GroupNormalization(groups=groups, axis=axis)
    x = rng.standard_normal(shape)
    layer.build_from_shape(shape)
    channels = shape[axis]
    gamma, beta = rng.standard_normal(channels), rng.standard_normal(channels)
    layer.set_weights([gamma, beta])
    expected = group_norm_reference(x, channels if groups == -1 else groups, axis, gamma, beta)
    _check(layer, x, expected, backend)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["gamma", "beta"]
    _round_trip(layer)


def test_group_normalization_errors():
    assert layers.GroupNormalization().groups == 32  # Keras's default
    with pytest.raises(ValueError, match="GroupNormalization 'g': `groups` must be"):
        layers.GroupNormalization(groups=0, name="g")
    with pytest.raises(ValueError, match="GroupNormalization 'g': the 6 channels .* 4 groups"):
        layers.GroupNormalization(groups=4, name="g").build_from_shape((None, 6))
    with pytest.raises(ValueError, match="GroupNormalization '.*': axis 3 is not a feature axis"):
        layers.GroupNormalization(groups=1, axis=3).compute_output_shape((None, 6))


@pytest.mark.parametrize("axis", [-1, [1, 2], 1])
def test_unit_normalization(backend, float64, rng, axis):
    x = rng.standard_normal((3, 4, 5))
    axes = tuple(axis) if isinstance(axis, list) else axis
    expected = x / numpy.sqrt((x * x).sum(axis=axes, keepdims=True))
    layer = layers.UnitNormalization(axis=axis)
    _check(layer, x, expected, backend)
    assert _round_trip(layer)["axis"] == axis


def test_unit_normalization_of_zeros_is_zero(backend):
    y = layers.UnitNormalization()(numpy.zeros((2, 3)))
    assert numpy.array_equal(y.numpy(), numpy.zeros((2, 3)))  # Keras: x * min(rsqrt, 1e12)
    with pytest.raises(ValueError, match="UnitNormalization 'u': `axis` must be an int"):
        layers.UnitNormalization(axis="last", name="u")
    with pytest.raises(ValueError, match="UnitNormalization '.*': axis 3 is out of range"):
        layers.UnitNormalization(axis=3).compute_output_shape((None, 4))


@pytest.mark.parametrize("axis, shape", [(-1, (3, 4, 5)), (1, (3, 4, 5)), ([1, 2], (2, 3, 4))])
def test_rms_normalization(backend, float64, rng, axis, shape):
    layer = layers.RMSNormalization(axis=axis)
    x = rng.standard_normal(shape)
    layer.build_from_shape(shape)
    (scale,) = layer.get_weights()
    axes = tuple(axis) if isinstance(axis, list) else (axis,)
    assert scale.shape == tuple(shape[a] for a in axes) and numpy.all(scale == 1)
    scale = rng.standard_normal(scale.shape)
    layer.set_weights([scale])
    broadcast = scale.reshape(
        [shape[a] if a in [b % len(shape) for b in axes] else 1 for a in range(len(shape))]
    )
    expected = x / numpy.sqrt((x * x).mean(axis=axes, keepdims=True) + 1e-6) * broadcast
    _check(layer, x, expected, backend)
    assert _round_trip(layer)["epsilon"] == 1e-6


# -- padding, cropping, upsampling ------------------------------------------------------------


def test_zero_padding1d(backend, float64, rng):
    x = rng.standard_normal((2, 4, 3))
    _check(layers.ZeroPadding1D(), x, numpy.pad(x, ((0, 0), (1, 1), (0, 0))), backend)
    layer = layers.ZeroPadding1D((0, 2))
    _check(layer, x, numpy.pad(x, ((0, 0), (0, 2), (0, 0))), backend)
    assert _round_trip(layer)["padding"] == [0, 2]


@pytest.mark.parametrize(
    "padding, pads",
    [
        (((1, 1), (1, 1), (1, 1)), ((1, 1), (1, 1), (1, 1))),
        (2, ((2, 2), (2, 2), (2, 2))),
        ((1, 0, 2), ((1, 1), (0, 0), (2, 2))),
        (((1, 0), 2, (0, 3)), ((1, 0), (2, 2), (0, 3))),
    ],
)
def test_zero_padding3d(backend, float64, rng, padding, pads):
    x = rng.standard_normal((2, 3, 2, 4, 2))
    layer = layers.ZeroPadding3D(padding)
    _check(layer, x, numpy.pad(x, ((0, 0), *pads, (0, 0))), backend)
    assert _round_trip(layer)["padding"] == [list(p) for p in pads]


def test_cropping3d(backend, float64, rng):
    x = rng.standard_normal((2, 4, 5, 6, 2))
    _check(layers.Cropping3D(), x, x[:, 1:-1, 1:-1, 1:-1], backend)
    layer = layers.Cropping3D(((1, 0), 2, (0, 3)))
    _check(layer, x, x[:, 1:, 2:-2, :-3], backend)
    assert _round_trip(layer)["cropping"] == [[1, 0], [2, 2], [0, 3]]
    with pytest.raises(ValueError, match="Cropping3D '.*': cropping 3 \\+ 3 must be smaller"):
        layers.Cropping3D(3).compute_output_shape((None, 6, 8, 8, 1))


def test_upsampling3d(backend, float64, rng):
    x = rng.standard_normal((2, 2, 3, 2, 2))
    expected = x.repeat(2, axis=1).repeat(2, axis=2).repeat(2, axis=3)
    _check(layers.UpSampling3D(), x, expected, backend)
    layer = layers.UpSampling3D((1, 3, 2))
    _check(layer, x, x.repeat(3, axis=2).repeat(2, axis=3), backend)
    assert _round_trip(layer)["size"] == [1, 3, 2]


def test_shape_layer_errors_name_the_layer():
    with pytest.raises(ValueError, match="ZeroPadding3D 'z': `padding` must be an int, a tuple"):
        layers.ZeroPadding3D((1, 2), name="z")
    with pytest.raises(ValueError, match="ZeroPadding3D 'z': `2nd entry of padding` must be"):
        layers.ZeroPadding3D((1, -1, 2), name="z")
    with pytest.raises(ValueError, match="ZeroPadding1D 'z': `padding` must be"):
        layers.ZeroPadding1D(-1, name="z")
    with pytest.raises(ValueError, match="UpSampling3D 'u': `size` must be"):
        layers.UpSampling3D((2, 2), name="u")
    with pytest.raises(ValueError, match="Input 0 of layer 'c' is incompatible"):
        layers.Cropping3D(name="c").compute_output_shape((None, 4, 4, 1))


# -- regularization ----------------------------------------------------------------------------


def test_spatial_dropout3d(backend):
    engine.utils.set_random_seed(1)
    layer = layers.SpatialDropout3D(0.5)
    x = numpy.ones((4, 2, 3, 2, 6), dtype="float32")
    assert numpy.array_equal(layer(x).numpy(), x)
    y = layer(x, training=True).numpy()
    per_channel = y.reshape(4, -1, 6)
    assert numpy.all(per_channel == per_channel[:, :1])  # whole channels kept or dropped
    assert set(numpy.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    config = _round_trip(layer)
    assert "trainable" not in config and config["data_format"] == "channels_last"
    with pytest.raises(ValueError, match="expected ndim=5"):
        layer.compute_output_shape((None, 3, 3, 2))


SELU_ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def test_alpha_dropout(backend, float64):
    engine.utils.set_random_seed(2)
    rate = 0.2
    layer = layers.AlphaDropout(rate)
    x = numpy.random.default_rng(0).standard_normal((200, 500))
    assert numpy.array_equal(layer(x).numpy(), x)
    y = layer(x, training=True).numpy()
    a = ((1 - rate) * (1 + rate * SELU_ALPHA_P**2)) ** -0.5
    b = -a * SELU_ALPHA_P * rate
    kept = numpy.isclose(y, a * x + b)
    dropped = numpy.isclose(y, a * SELU_ALPHA_P + b)
    assert numpy.all(kept | dropped)
    assert dropped.mean() == pytest.approx(rate, abs=0.01)
    assert y.mean() == pytest.approx(0.0, abs=0.02) and y.std() == pytest.approx(1.0, abs=0.02)
    config = _round_trip(layers.AlphaDropout(0.1, noise_shape=(None, 1), seed=3))
    assert config["noise_shape"] == [None, 1] and config["seed"] == 3
    with pytest.raises(ValueError, match="AlphaDropout 'd': `rate` must be a number in"):
        layers.AlphaDropout(1.5, name="d")


def test_alpha_dropout_rows_share_the_noise(backend):
    engine.utils.set_random_seed(5)
    x = numpy.zeros((50, 6), dtype="float32")
    y = layers.AlphaDropout(0.5, noise_shape=(None, 1))(x, training=True).numpy()
    assert numpy.all(y == y[:, :1]) and len(numpy.unique(y)) == 2


def test_activity_regularization_gives_keras_loss(backend):
    x = numpy.arange(-6, 6, dtype="float32").reshape(3, 4) / 4
    layer = layers.ActivityRegularization(l1=0.1, l2=0.01)
    y = layer(x)
    assert numpy.array_equal(y.numpy(), x)
    # Keras 3.15 on PyTorch: the same layer and input give losses [0.3304166793823242]
    assert [float(loss.numpy()) for loss in layer.losses] == [pytest.approx(0.3304166793823242)]
    assert _round_trip(layer) == {
        "name": layer.name,
        "trainable": True,
        "dtype": "float32",
        "l1": 0.1,
        "l2": 0.01,
    }
    with pytest.raises(ValueError, match="ActivityRegularization 'r': `l2` must be"):
        layers.ActivityRegularization(l2=-1, name="r")


def test_activity_regularization_adds_to_the_training_loss(backend):
    model = engine.models.Sequential(
        [layers.Input((3,)), layers.ActivityRegularization(l2=1.0), layers.Dense(1, use_bias=False)]
    )
    model.compile(engine.optimizers.SGD(learning_rate=0.0), "mse")
    x = numpy.ones((4, 3), dtype="float32")
    y = model.predict(x, verbose=0)
    loss = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(3.0, rel=1e-6)  # sum(x**2) / batch = 12 / 4; the mse is 0


# -- EinsumDense --------------------------------------------------------------------------------


EINSUM_CASES = [
    # equation, output_shape, bias_axes, input, kernel, bias and output shapes (as Keras 3.15)
    ("ab,bc->ac", 4, "c", (3, 5), (5, 4), (4,), (3, 4)),
    ("abc,cde->abde", (None, 2, 3), "de", (3, 4, 5), (5, 2, 3), (2, 3), (3, 4, 2, 3)),
    ("abc,cd->abd", (None, 6), None, (3, 4, 5), (5, 6), None, (3, 4, 6)),
    ("...b,bc->...c", 4, "c", (3, 2, 5), (5, 4), (4,), (3, 2, 4)),
    ("abc,cde->abde", (4, 2, 3), "b", (3, 4, 5), (5, 2, 3), (4, 1, 1), (3, 4, 2, 3)),
    ("ab...,bc->ac...", 4, "c", (3, 5, 2), (5, 4), (4, 1), (3, 4, 2)),
]


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, shape, kernel, bias, out", EINSUM_CASES
)
def test_einsum_dense(
    backend, float64, rng, equation, output_shape, bias_axes, shape, kernel, bias, out
):
    layer = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh")
    x = rng.standard_normal(shape)
    layer.build_from_shape(shape)
    assert [tuple(w.shape) for w in layer.weights] == [kernel] + ([bias] if bias else [])
    values = [rng.standard_normal(kernel)] + ([rng.standard_normal(bias)] if bias else [])
    layer.set_weights(values)
    expected = numpy.einsum(equation, x, values[0]) + (values[1] if bias else 0)
    assert expected.shape == out
    # as Keras 3.15, a None in output_shape stays None in the computed shape
    sizes = (output_shape,) if isinstance(output_shape, int) else output_shape
    computed = tuple(s if k is not None else None for s, k in zip(out, (0, *sizes, 0, 0)))
    _check(layer, x, numpy.tanh(expected), backend, shape=computed)
    config = _round_trip(layer)
    assert config["output_shape"] == (
        [output_shape] if isinstance(output_shape, int) else list(output_shape)
    )


def test_einsum_dense_kernel_fans_follow_the_equation():
    engine.utils.set_random_seed(0)
    layer = layers.EinsumDense("abc,cde->abde", (None, 4, 8))
    layer.build_from_shape((None, 3, 64))
    kernel = layer.get_weights()[0]
    limit = numpy.sqrt(6.0 / (64 + 32))  # glorot: fan_in 64 (c), fan_out 4 * 8 (d, e), as Keras
    assert kernel.shape == (64, 4, 8) and numpy.abs(kernel).max() <= limit
    assert numpy.abs(kernel).max() > 0.95 * limit


def test_einsum_dense_errors_name_the_layer():
    with pytest.raises(ValueError, match="EinsumDense 'e': invalid einsum equation 'ab->b'"):
        layers.EinsumDense("ab->b", 3, name="e").build_from_shape((None, 2))
    with pytest.raises(ValueError, match="EinsumDense 'e': bias dimension 'x'"):
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="x", name="e").build_from_shape((None, 2))
    with pytest.raises(ValueError, match="EinsumDense 'e': input shape and output shape"):
        layers.EinsumDense("abc,cd->abd", (5, 3), name="e").build_from_shape((None, 4, 2))
    with pytest.raises(ValueError, match="EinsumDense 'e': weight dimension 'z'"):
        layers.EinsumDense("ab,bz->ab", 2, name="e").build_from_shape((None, 2))
    with pytest.raises(ValueError, match="EinsumDense 'e': LoRA"):
        layers.EinsumDense("ab,bc->ac", 3, lora_rank=2, name="e")


# -- CategoryEncoding, Discretization ------------------------------------------------------------


def test_category_encoding(backend):
    ids = numpy.array([[0, 1, 1], [3, 2, 0]])
    one_hot = layers.CategoryEncoding(4, output_mode="one_hot")
    numpy.testing.assert_array_equal(one_hot(numpy.array([2, 0])).numpy(), numpy.eye(4)[[2, 0]])
    numpy.testing.assert_array_equal(one_hot(ids[:, :1]).numpy(), numpy.eye(4)[[0, 3]])
    assert one_hot.compute_output_shape((None, 1)) == (None, 4)
    assert one_hot.compute_output_shape((None, 3)) == (None, 3, 4)
    multi = layers.CategoryEncoding(4)  # multi_hot, Keras's default
    numpy.testing.assert_array_equal(multi(ids).numpy(), [[1, 1, 0, 0], [1, 0, 1, 1]])
    numpy.testing.assert_array_equal(multi(numpy.array([3, 3])).numpy(), [0, 0, 0, 1])
    count = layers.CategoryEncoding(4, output_mode="count")
    numpy.testing.assert_array_equal(count(ids).numpy(), [[1, 2, 0, 0], [1, 0, 1, 1]])
    weights = numpy.array([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]], dtype="float32")
    numpy.testing.assert_allclose(
        count(ids, count_weights=weights).numpy(), [[0.5, 3, 0, 0], [1, 0, 1, 1]]
    )
    assert count(ids).numpy().dtype == numpy.float32
    assert count.compute_output_shape((None, 3)) == (None, 4)
    assert _round_trip(count) == {
        "name": count.name,
        "trainable": True,
        "dtype": "float32",
        "num_tokens": 4,
        "output_mode": "count",
    }


def test_category_encoding_errors_name_the_layer(backend):
    with pytest.raises(ValueError, match="CategoryEncoding 'c': input values must be in the range"):
        layers.CategoryEncoding(3, name="c")(numpy.array([[0, 3]]))
    with pytest.raises(ValueError, match="CategoryEncoding 'c': `num_tokens` must be set"):
        layers.CategoryEncoding(name="c")
    with pytest.raises(ValueError, match="CategoryEncoding 'c': `output_mode` must be one of"):
        layers.CategoryEncoding(3, output_mode="int", name="c")
    with pytest.raises(ValueError, match="CategoryEncoding 'c': in output_mode='multi_hot'"):
        layers.CategoryEncoding(3, name="c").compute_output_shape((None, 2, 2))
    with pytest.raises(ValueError, match="CategoryEncoding 'c': `count_weights` is only used"):
        layers.CategoryEncoding(3, name="c")(
            numpy.array([[0, 1]]), count_weights=numpy.ones((1, 2))
        )
    with pytest.raises(ValueError, match="sparse outputs are not supported"):
        layers.CategoryEncoding(3, sparse=True)


def test_discretization(backend):
    x = numpy.array([[-1.5, 1.0, 0.2, 0.0], [-0.5, 0.7, 0.69, -0.1]], dtype="float32")
    boundaries = [-0.5, 0.0, 0.7]
    layer = layers.Discretization(bin_boundaries=boundaries)
    y = layer(x).numpy()
    # boundaries compared in the input's float32, as Keras on PyTorch (0.7 lands in bin 3)
    numpy.testing.assert_array_equal(y, numpy.digitize(x, numpy.float32(boundaries)))
    assert y.dtype == numpy.int32 and layer.compute_output_shape((None, 4)) == (None, 4)
    counts = layers.Discretization(bin_boundaries=boundaries, output_mode="count")
    numpy.testing.assert_array_equal(counts(x).numpy(), [[1, 0, 2, 1], [0, 2, 1, 1]])
    assert counts.compute_output_shape((None, 4)) == (None, 4)
    one_hot = layers.Discretization(bin_boundaries=boundaries, output_mode="one_hot")
    assert one_hot(x).shape == one_hot.compute_output_shape(x.shape) == (2, 4, 4)


def test_discretization_adapt_learns_keras_boundaries():
    data = numpy.arange(20, dtype="float32")
    layer = layers.Discretization(num_bins=4)
    layer.adapt(data)
    # Keras 3.15's summaries (keras.src.layers.preprocessing.discretization, whose adapt needs
    # TensorFlow) give these boundaries; see scripts/compare_more_layers_keras.py
    assert layer.bin_boundaries == [4.0, 9.0, 14.0]
    layer = layers.Discretization(num_bins=3, epsilon=0.1)
    layer.adapt([data[:7], data[7:]])  # a list is a list of batches, as in Keras
    numpy.testing.assert_allclose(
        layer.bin_boundaries, [6.743587970733643, 12.87179183959961], rtol=1e-6
    )
    config = _round_trip(layer)
    clone = layers.Discretization.from_config(config)
    assert clone.bin_boundaries == layer.bin_boundaries and clone.num_bins == 3
    dataset = engine.data.Dataset.from_tensor_slices((data, data)).batch(5)
    from_dataset = layers.Discretization(num_bins=4)
    from_dataset.adapt(dataset)
    assert len(from_dataset.bin_boundaries) == 3


def test_discretization_errors_name_the_layer(backend):
    with pytest.raises(ValueError, match="Discretization 'd': you need to set either"):
        layers.Discretization(name="d")
    with pytest.raises(ValueError, match="Discretization 'd': give either `num_bins`"):
        layers.Discretization([0.0], num_bins=2, name="d")
    with pytest.raises(ValueError, match="Discretization 'd': `bin_boundaries` must be sorted"):
        layers.Discretization([1.0, 0.0], name="d")
    with pytest.raises(ValueError, match="Discretization 'd': pass `bin_boundaries`"):
        layers.Discretization(num_bins=2, name="d")(numpy.zeros((1, 2)))
    with pytest.raises(ValueError, match="Discretization 'd': cannot adapt"):
        layers.Discretization([0.0], name="d").adapt(numpy.zeros(3))


# -- serialize, deserialize, models ----------------------------------------------------------------


def test_serialize_and_deserialize(backend):
    layer = layers.Conv3D(2, 3, padding="same", name="volume")
    layer.build_from_shape((None, 4, 4, 4, 1))
    entry = layers.serialize(layer)
    assert entry["module"] == "keras.layers" and entry["class_name"] == "Conv3D"
    assert entry["registered_name"] is None
    assert entry["build_config"] == {"input_shape": [None, 4, 4, 4, 1]}
    clone = layers.deserialize(json.loads(json.dumps(entry)))
    assert type(clone) is layers.Conv3D and clone.built and clone.get_config() == layer.get_config()
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
    alias = layers.deserialize({"class_name": "MaxPool3D", "config": {"pool_size": [1, 2, 2]}})
    assert type(alias) is layers.MaxPooling3D and alias.pool_size == (1, 2, 2)
    unbuilt = layers.serialize(layers.GroupNormalization(4))
    assert "build_config" not in unbuilt
    assert layers.deserialize(unbuilt).groups == 4


def test_deserialize_custom_objects_and_errors():
    class Doubler(layers.Layer):
        def call(self, inputs):
            return inputs * 2

        def compute_output_shape(self, input_shape):
            return input_shape

    entry = {"class_name": "Doubler", "config": {"name": "twice"}}
    with pytest.raises(ValueError, match="Unknown layer: 'Doubler'"):
        layers.deserialize(entry)
    assert layers.deserialize(entry, custom_objects={"Doubler": Doubler}).name == "twice"
    with pytest.raises(ValueError, match="expects a dict with 'class_name'"):
        layers.deserialize("Dense")
    with pytest.raises(TypeError, match="expects a layer"):
        layers.serialize("Dense")


def test_model_of_new_layers_saves_and_loads(backend, tmp_path):
    engine.utils.set_random_seed(6)
    model = engine.models.Sequential(
        [
            layers.Input((5, 6, 6, 2)),
            layers.ZeroPadding3D(1),
            layers.Conv3D(4, 3, activation="relu"),
            layers.GroupNormalization(2),
            layers.SpatialDropout3D(0.1),
            layers.Cropping3D(((1, 0), 1, 1)),
            layers.UpSampling3D((1, 2, 1)),
            layers.AdaptiveAveragePooling3D((2, 2, 2)),
            layers.Reshape((8, 4)),
            layers.EinsumDense("abc,cd->abd", (8, 3), bias_axes="d"),
            layers.RMSNormalization(),
            layers.UnitNormalization(axis=[1, 2]),
            layers.AlphaDropout(0.1),
            layers.ActivityRegularization(l2=1e-3),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    assert model.output_shape == (None, 1)
    model.compile("adam", "mse")
    x = numpy.random.default_rng(2).standard_normal((8, 5, 6, 6, 2)).astype("float32")
    model.fit(x, x.mean(axis=(1, 2, 3, 4)), epochs=2, verbose=0)
    path = tmp_path / "volumes.safetensors"
    model.save(path)
    loaded = engine.models.load_model(path)
    numpy.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
