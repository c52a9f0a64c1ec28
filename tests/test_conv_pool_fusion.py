"""A relu Conv2D read only by a 2x2 MaxPooling2D runs as one op: the backend's fused
kernels against the two ops, its gradients against finite differences, and models
fusing (or not) with the values and gradients of the unfused layers."""

import contextlib
from unittest import mock

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backends
import engine
from backends import numba_dispatch
from backends.base import Backend
from engine import functional as F
from engine import layers
from engine.functional.conv import Conv2DReluMaxPool, conv2d_relu_max_pool
from tests.gradcheck import check_gradients, check_weight_gradients

FLOATS = ("float32", "float64")
RTOL = {"float32": 2e-5, "float64": 1e-10}


def _numba():
    if "numba" not in backends.available():
        pytest.skip("the numba backend cannot run here")
    return backends.get("numba")


def _image(rng, shape, dtype, ties: bool):
    """Normal values, or (``ties``) a few distinct levels: equal maxima in a window and
    zeros after the relu, where the pooling's first-maximum rule decides."""
    x = rng.standard_normal(shape)
    if ties:
        x = numpy.round(x)
    return x.astype(dtype)


def _two_ops(backend, x, kernel, bias, geometry):
    """The pooled output, argmax and relu output of the ops the fused one stands for."""
    y = backend.conv2d_forward(x, kernel, bias, *geometry, activation="relu")
    pooled, argmax = backend.max_pool2d_forward(y, (2, 2), (2, 2), "valid")
    return pooled, argmax, y


def _index_of(argmax, y):
    """The fused op's index from the two ops' argmax and relu output (host arrays)."""
    rows, cols = argmax.shape[1:3]
    index = numpy.full(argmax.shape, -1, numpy.int8)
    for offset in range(4):
        i, j = divmod(offset, 2)
        winner = (argmax == offset) & (y[:, i : 2 * rows : 2, j : 2 * cols : 2] > 0)
        index[winner] = offset
    return index


def test_reference_is_the_two_ops(backend, rng):
    """On every backend the reference forward is relu convolution then pooling (the index
    is the argmax where the winner is positive, else -1), and the reference backward is
    their backward."""
    xp = backend.xp
    x = _image(rng, (2, 9, 8, 3), "float64", ties=True)
    kernel = rng.standard_normal((3, 2, 3, 4))
    bias = rng.standard_normal(4)
    geometry = ((1, 1), "valid", (1, 1))
    arrays = [backend.asarray(a) for a in (x, kernel, bias)]
    pooled, index = backend.conv2d_relu_max_pool_forward(*arrays, *geometry)
    expected, argmax, y = (backend.to_numpy(a) for a in _two_ops(backend, *arrays, geometry))
    numpy.testing.assert_array_equal(backend.to_numpy(pooled), expected)
    index = backend.to_numpy(index)
    assert index.dtype == numpy.int8
    numpy.testing.assert_array_equal(index, _index_of(argmax, y))
    assert (index == -1).any() and (index >= 0).any()

    grad = backend.asarray(rng.standard_normal(expected.shape))
    shapes, needs = (x.shape, kernel.shape), (True, True, True)
    ours = backend.conv2d_relu_max_pool_backward(
        grad, backend.asarray(index), arrays[0], arrays[1], shapes, needs, *geometry
    )
    dy = backend.max_pool2d_backward(grad, xp.asarray(argmax), y.shape, (2, 2), (2, 2), "valid")
    theirs = backend.conv2d_backward(
        dy, arrays[0], arrays[1], shapes, needs, *geometry, relu_output=backend.asarray(y)
    )
    for a, b in zip(ours, theirs, strict=True):
        numpy.testing.assert_allclose(backend.to_numpy(a), backend.to_numpy(b))
    assert not backend.fuses_conv2d_relu_max_pool(*arrays, *geometry) or backend.name == "numba"


NEEDS = [(False, True, True), (True, True, True), (True, False, False), (False, False, True)]


@settings(max_examples=25, deadline=None)
@given(
    dtype=st.sampled_from(FLOATS),
    seed=st.integers(0, 2**31 - 1),
    size=st.tuples(st.integers(4, 13), st.integers(4, 13)),
    window=st.sampled_from([(3, 3), (3, 3), (1, 1), (2, 3)]),
    channels=st.sampled_from([1, 1, 2, 5]),
    strides=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.sampled_from(["valid", "same", ((1, 0), (2, 1))]),
    filters=st.integers(1, 37),
    use_bias=st.booleans(),
    ties=st.booleans(),
    needs=st.sampled_from(NEEDS),
)
def test_numba_kernels_match_the_reference(
    dtype, seed, size, window, channels, strides, dilation, padding, filters, use_bias, ties, needs
):
    """A grayscale 3x3 convolution (the direct kernels) and any other (pooled chunk by chunk
    after its GEMMs: pointwise too), any strides, dilation and padding, odd and even
    output sizes (a last row or column the pooling drops), ties and zeros: the pooled
    values and index of the numba backend's own two ops bit for bit (the reference's
    convolution rounds differently), each gradient asked for equal to the reference's to
    rounding."""
    numba_backend, reference = _numba(), Backend()
    reach = [(k - 1) * d + 1 for k, d in zip(window, dilation)]
    size = tuple(max(side, r) for side, r in zip(size, reach))  # the window fits
    rng = numpy.random.default_rng(seed)
    x = _image(rng, (3, *size, channels), dtype, ties)
    kernel = _image(rng, (*window, channels, filters), dtype, ties)
    bias = _image(rng, (filters,), dtype, ties) if use_bias else None
    geometry = (strides, padding, dilation)
    _, out_hw = reference._conv_geometry(x.shape, window, strides, padding, dilation)
    if min(out_hw) < 2:  # no 2x2 window: the kernels are not offered
        assert not numba_backend.fuses_conv2d_relu_max_pool(x, kernel, bias, *geometry)
        return
    assert numba_backend.fuses_conv2d_relu_max_pool(x, kernel, bias, *geometry)
    with mock.patch.object(Backend, "conv2d_relu_max_pool_forward", side_effect=AssertionError):
        pooled, index = numba_backend.conv2d_relu_max_pool_forward(x, kernel, bias, *geometry)
    expected, argmax, y = _two_ops(numba_backend, x, kernel, bias, geometry)
    assert pooled.dtype == expected.dtype and pooled.shape == expected.shape
    numpy.testing.assert_array_equal(pooled, expected)
    numpy.testing.assert_array_equal(index, _index_of(argmax, y))

    grad = rng.standard_normal(pooled.shape).astype(dtype)
    shapes = (x.shape, kernel.shape)
    arguments = (grad, index, x if needs[1] else None, kernel if needs[0] else None, shapes)
    with mock.patch.object(Backend, "conv2d_relu_max_pool_backward", side_effect=AssertionError):
        ours = numba_backend.conv2d_relu_max_pool_backward(*arguments, needs, *geometry)
    theirs = reference.conv2d_relu_max_pool_backward(*arguments, needs, *geometry)
    for a, b, need in zip(ours, theirs, needs, strict=True):
        assert (a is None) == (b is None) == (not need)
        if need:
            assert a.dtype == b.dtype and a.shape == b.shape
            numpy.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", FLOATS)
def test_numba_split_between_threads_equals_one_thread(dtype, rng, monkeypatch):
    """Three blocks of images (three partial kernel gradients, added in block order) give one
    thread's result, on both kernels' paths."""
    from backends import thread_pool

    numba_backend = _numba()
    monkeypatch.setattr(thread_pool, "MIN_SPLIT_MACS", 1)
    monkeypatch.setattr(numba_dispatch, "MIN_IMAGE_SPLIT_ELEMENTS", 1)
    geometry = ((1, 1), "same", (1, 1))

    def run(threads, channels):
        monkeypatch.setattr(thread_pool, "width", lambda: threads)
        rng = numpy.random.default_rng(channels)
        x = _image(rng, (7, 10, 9, channels), dtype, ties=False)
        kernel = _image(rng, (3, 3, channels, 6), dtype, ties=False)
        bias = _image(rng, (6,), dtype, ties=False)
        pooled, index = numba_backend.conv2d_relu_max_pool_forward(x, kernel, bias, *geometry)
        grad = numpy.ascontiguousarray(pooled[::-1])
        shapes, needs = (x.shape, kernel.shape), (True, True, True)
        return [pooled, index, *numba_backend.conv2d_relu_max_pool_backward(
            grad, index, x, kernel, shapes, needs, *geometry)]  # fmt: skip

    for channels in (1, 3):  # the direct kernels, the GEMMs
        for ours, theirs in zip(run(3, channels), run(1, channels), strict=True):
            # the kernel gradient adds three partial sums: to the largest value's rounding
            scale = RTOL[dtype] * numpy.abs(theirs).max()
            numpy.testing.assert_allclose(ours, theirs, rtol=RTOL[dtype], atol=scale)


def test_what_the_numba_kernels_do_not_take(rng):
    """float16, mixed dtypes, channels that do not match the kernel, or an output too small
    for a window: the engine runs the two ops."""
    numba_backend = _numba()
    geometry = ((1, 1), "valid", (1, 1))
    cases = [
        ((2, 8, 8, 2), (3, 3, 2, 4), "float16", "float16"),
        ((2, 8, 8, 2), (3, 3, 2, 4), "float32", "float64"),
        ((2, 8, 8, 3), (3, 3, 2, 4), "float32", "float32"),
        ((2, 3, 8, 1), (3, 3, 1, 4), "float32", "float32"),
    ]
    for x_shape, kernel_shape, x_dtype, kernel_dtype in cases:
        x = rng.standard_normal(x_shape).astype(x_dtype)
        kernel = rng.standard_normal(kernel_shape).astype(kernel_dtype)
        assert not numba_backend.fuses_conv2d_relu_max_pool(x, kernel, None, *geometry)


@pytest.mark.parametrize(("channels", "use_bias"), [(1, True), (1, False), (3, True)])
def test_fused_op_gradients_match_finite_differences(channels, use_bias, rng):
    """The input, kernel and bias gradients of the fused op (float64, through the engine)."""
    _numba()
    x = _image(rng, (2, 9, 8, channels), "float64", ties=False)
    kernel = engine.tensor(
        rng.standard_normal((3, 3, channels, 3)), requires_grad=True, backend="numba"
    )
    bias = engine.tensor(rng.standard_normal(3) * 0.3, requires_grad=True, backend="numba")

    def fn(inputs):
        return conv2d_relu_max_pool(inputs, kernel, bias if use_bias else None, (1, 1), "same")

    assert isinstance(fn(engine.tensor(x, backend="numba")).creator, Conv2DReluMaxPool)
    check_gradients(fn, x, backend="numba")
    inputs = engine.tensor(x, backend="numba")
    check_weight_gradients(lambda: fn(inputs), [kernel, bias] if use_bias else [kernel])


@contextlib.contextmanager
def _fused_calls(numba_backend):
    """A list of the input shapes the fused forward is called with, while in the block."""
    calls = []
    fused_forward = numba_backend.conv2d_relu_max_pool_forward

    def spy(*args):
        calls.append(args[0].shape)
        return fused_forward(*args)

    with mock.patch.object(numba_backend, "conv2d_relu_max_pool_forward", spy):
        yield calls


def _grayscale_convnet(backend_name, seed=3, conv_activation="relu"):
    with engine.use_backend(backend_name):
        engine.utils.set_random_seed(seed)
        inputs = layers.Input(shape=(12, 11, 1))
        hidden = layers.Conv2D(5, 3, activation=conv_activation)(inputs)
        if conv_activation is None:
            hidden = layers.Activation("relu")(hidden)
        hidden = layers.MaxPooling2D()(hidden)
        hidden = layers.Conv2D(4, 3, activation="relu", padding="same")(hidden)
        hidden = layers.MaxPooling2D()(hidden)
        outputs = layers.Dense(3, activation="softmax")(layers.Flatten()(hidden))
        model = engine.models.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _train(model, rng_seed=0, steps=3):
    rng = numpy.random.default_rng(rng_seed)
    x = rng.standard_normal((16, 12, 11, 1)).astype("float32")
    y = rng.integers(0, 3, 16)
    losses = [model.train_on_batch(x, y) for _ in range(steps)]
    return losses, [w.numpy() for w in model.weights], model.predict(x, verbose=0)


def test_a_grayscale_convnet_fuses_and_trains_as_the_unfused_layers():
    """On numba both Conv2D + MaxPooling2D pairs run as one op (the first on the direct
    kernels, the second, whose input needs a gradient, on the GEMMs); losses, weights and
    predictions follow the numpy backend's unfused layers, and those of a model whose
    first relu is its own layer (that pair is two ops)."""
    numba_backend = _numba()
    with _fused_calls(numba_backend) as calls:
        fused = _train(_grayscale_convnet("numba"))
    assert {shape[-1] for shape in calls} == {1, 5}  # both pairs, every step
    unfused = [_train(_grayscale_convnet("numpy")), _train(_grayscale_convnet("numba", 3, None))]
    for other in unfused:
        numpy.testing.assert_allclose(fused[0], other[0], rtol=1e-5)
        for ours, theirs in zip(fused[1], other[1], strict=True):
            numpy.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
        numpy.testing.assert_allclose(fused[2], other[2], rtol=1e-4, atol=1e-6)


def test_a_convolution_read_elsewhere_is_not_fused(rng):
    """The convolution's output also read by another layer, or a model output: two ops."""
    numba_backend = _numba()
    inputs = layers.Input(shape=(8, 8, 1))
    with engine.use_backend("numba"):
        conv = layers.Conv2D(2, 3, activation="relu")
        features = conv(inputs)
        pooled = layers.MaxPooling2D()(features)
        branch = layers.Flatten()(layers.MaxPooling2D()(features))
        models = [
            engine.models.Model(inputs, [pooled, features]),
            engine.models.Model(inputs, [layers.Flatten()(pooled), branch]),
        ]
    x = rng.standard_normal((2, 8, 8, 1)).astype("float32")
    with mock.patch.object(
        numba_backend, "conv2d_relu_max_pool_forward", side_effect=AssertionError("fused")
    ):
        for model in models:
            outputs = model(x)
            assert all(isinstance(out, engine.Tensor) for out in outputs)
    expected = F.max_pool2d(conv(engine.tensor(x, backend="numba")))
    numpy.testing.assert_array_equal(models[0](x)[0].numpy(), expected.numpy())


def _autoencoder_encoder(backend_name, input_shape):
    with engine.use_backend(backend_name):
        engine.utils.set_random_seed(0)
        inputs = layers.Input(shape=input_shape)
        hidden = layers.Conv2D(3, 3, activation="relu", padding="same")(inputs)
        hidden = layers.MaxPooling2D(2, padding="same")(hidden)
        hidden = layers.Conv2D(2, 3, activation="relu")(hidden)  # odd sides now
        return engine.models.Model(inputs, layers.MaxPooling2D(2, padding="same")(hidden))


@pytest.mark.parametrize(("size", "fused"), [(12, True), (9, False)])
def test_same_pooling_fuses_on_even_sides(size, fused, rng):
    """A convolutional autoencoder's ``MaxPooling2D(2, padding="same")``: on a convolution
    output of even sides it pads nothing and the pair is one op; on odd sides it pads, and
    the layers run as they are. Either way the output is the numpy backend's."""
    numba_backend = _numba()
    x = rng.standard_normal((2, size, size + 2, 1)).astype("float32")
    with _fused_calls(numba_backend) as calls:
        ours = _autoencoder_encoder("numba", x.shape[1:])(x).numpy()
    assert calls == ([x.shape] if fused else [])
    theirs = _autoencoder_encoder("numpy", x.shape[1:])(x).numpy()
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
