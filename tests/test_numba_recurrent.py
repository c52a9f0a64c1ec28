"""The numba backend's recurrent and embedding kernels agree with the generic reference.

The sequence kernels are compared with ``backends.base.Backend`` on random
shapes (batch sizes on and off the threads' 8-row blocks), with and without a step
mask, and both ways through a layer
(``go_backwards``). Layer gradients are checked against finite differences in
``tests/test_recurrent.py``, which runs on this backend too.
"""

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backends
import engine
from backends.base import Backend
from engine import layers

pytest.importorskip("numba")

FLOATS = ("float32", "float64")
RTOL = {"float32": 1e-5, "float64": 1e-10}
ATOL = {"float32": 1e-6, "float64": 1e-12}
few = settings(max_examples=8, deadline=None)

dtypes = st.sampled_from(FLOATS)
seeds = st.integers(0, 2**31 - 1)
sizes = st.tuples(st.integers(1, 4), st.integers(1, 19), st.integers(1, 5))  # steps, batch, units


@pytest.fixture(scope="module")
def numba_backend():
    return backends.get("numba")


def random(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def assert_all_close(actual, expected, dtype, scale=1.0):
    """Tuples of arrays (None where the reference has None) agree elementwise."""
    assert len(actual) == len(expected)
    for ours, theirs in zip(actual, expected):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        numpy.testing.assert_allclose(ours, theirs, rtol=RTOL[dtype], atol=ATOL[dtype] * scale)


def random_mask(rng, steps, batch, masked):
    return rng.random((steps, batch)) < 0.7 if masked else None


# -- sequence kernels ------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_lstm_gives_the_same_bits_whatever_the_number_of_threads(numba_backend, dtype, monkeypatch):
    """Rows are split between threads on multiples of 8, so each row's per-step products
    (BLAS's) and gates are computed alike with one thread or several."""
    from backends import thread_pool

    rng = numpy.random.default_rng(5)
    steps, batch, units = 4, 37, 16
    x_proj = random(rng, (steps, batch, 4 * units), dtype)
    kernel = random(rng, (units, 4 * units), dtype, 0.3)
    input_kernel = random(rng, (5, 4 * units), dtype)
    h0, c0 = random(rng, (batch, units), dtype), random(rng, (batch, units), dtype)
    grad = random(rng, (steps, batch, units), dtype)
    results = []
    for threads in (1, 3):
        monkeypatch.setattr(thread_pool, "width", lambda threads=threads: threads)
        outputs, h, c, cache = numba_backend.lstm_sequence_forward(x_proj.copy(), kernel, h0, c0)
        backward = numba_backend.lstm_sequence_backward_inputs(
            grad, h * 0, c * 0, kernel, input_kernel, cache
        )
        results.append((outputs, h, c, *backward))
    for one, several in zip(*results, strict=True):
        numpy.testing.assert_array_equal(one, several)


@few
@given(size=sizes, dtype=dtypes, seed=seeds, masked=st.booleans())
def test_lstm_sequence_matches_reference(numba_backend, size, dtype, seed, masked):
    steps, batch, units = size
    rng = numpy.random.default_rng(seed)
    reference = Backend()
    x_proj = random(rng, (steps, batch, 4 * units), dtype, 2.0)
    kernel = random(rng, (units, 4 * units), dtype)
    h0, c0 = random(rng, (batch, units), dtype), random(rng, (batch, units), dtype)
    mask = random_mask(rng, steps, batch, masked)
    expected = reference.lstm_sequence_forward(x_proj, kernel, h0, c0, mask)
    ours = numba_backend.lstm_sequence_forward(x_proj, kernel, h0, c0, mask)  # consumes x_proj
    assert ours[3][2] is None  # the fused kernel ran
    assert_all_close(ours[:3], expected[:3], dtype)

    grad_outputs = random(rng, (steps, batch, units), dtype)
    dh, dc = random(rng, (batch, units), dtype), random(rng, (batch, units), dtype)
    assert_all_close(
        numba_backend.lstm_sequence_backward(grad_outputs, dh, dc, kernel, ours[3], mask),
        reference.lstm_sequence_backward(grad_outputs, dh, dc, kernel, expected[3], mask),
        dtype,
        scale=10.0,
    )


def _sequence_backward_inputs(backend, cell, arrays, mask):
    """``backend``'s forward of ``cell`` on ``arrays``, then its ``*_sequence_backward_inputs``."""
    x_proj, kernel, bias, h0, c0, grad_outputs, dh, dc, input_kernel = arrays
    x_proj = x_proj.copy()  # consumed
    if cell == "lstm":
        cache = backend.lstm_sequence_forward(x_proj, kernel, h0, c0, mask)[3]
        return backend.lstm_sequence_backward_inputs(
            grad_outputs, dh, dc, kernel, input_kernel, cache, mask
        )
    if cell == "gru":
        cache = backend.gru_sequence_forward(x_proj, kernel, bias, h0, mask)[2]
        return backend.gru_sequence_backward_inputs(
            grad_outputs, dh, kernel, input_kernel, cache, mask
        )
    cache = backend.simple_rnn_sequence_forward(x_proj, kernel, h0, mask)[2]
    return backend.simple_rnn_sequence_backward_inputs(
        grad_outputs, dh, kernel, input_kernel, cache, mask
    )


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@few
@given(size=sizes, dtype=dtypes, seed=seeds, masked=st.booleans(), features=st.integers(1, 6))
def test_backward_with_the_inputs_gradient_matches_reference(
    numba_backend, cell, size, dtype, seed, masked, features
):
    """The inputs' gradient, made step by step in the fused backward's loop, is the
    reference's product of the gate gradients and the input kernel; the rest as without."""
    steps, batch, units = size
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell] * units
    rng = numpy.random.default_rng(seed)
    shapes = [(steps, batch, gates), (units, gates), (gates,), (batch, units), (batch, units)]
    shapes += [(steps, batch, units), (batch, units), (batch, units), (features, gates)]
    arrays = [random(rng, shape, dtype) for shape in shapes]
    mask = random_mask(rng, steps, batch, masked)
    got = _sequence_backward_inputs(numba_backend, cell, arrays, mask)
    assert got[-1].shape == (steps, batch, features)
    assert_all_close(got, _sequence_backward_inputs(Backend(), cell, arrays, mask), dtype, 10.0)


@few
@given(size=sizes, dtype=dtypes, seed=seeds, masked=st.booleans(), bias=st.booleans())
def test_gru_sequence_matches_reference(numba_backend, size, dtype, seed, masked, bias):
    steps, batch, units = size
    rng = numpy.random.default_rng(seed)
    reference = Backend()
    x_proj = random(rng, (steps, batch, 3 * units), dtype, 2.0)
    kernel = random(rng, (units, 3 * units), dtype)
    recurrent_bias = random(rng, (3 * units,), dtype) if bias else None
    h0 = random(rng, (batch, units), dtype)
    mask = random_mask(rng, steps, batch, masked)
    expected = reference.gru_sequence_forward(x_proj, kernel, recurrent_bias, h0, mask)
    ours = numba_backend.gru_sequence_forward(x_proj, kernel, recurrent_bias, h0, mask)
    assert ours[2][1] is None
    assert_all_close(ours[:2], expected[:2], dtype)

    grad_outputs = random(rng, (steps, batch, units), dtype)
    dh = random(rng, (batch, units), dtype)
    assert_all_close(
        numba_backend.gru_sequence_backward(grad_outputs, dh, kernel, ours[2], mask),
        reference.gru_sequence_backward(grad_outputs, dh, kernel, expected[2], mask),
        dtype,
        scale=10.0,
    )


@few
@given(
    size=sizes,
    dtype=dtypes,
    seed=seeds,
    masked=st.booleans(),
    activation=st.sampled_from(["tanh", "sigmoid", "relu", "linear"]),
)
def test_simple_rnn_sequence_matches_reference(
    numba_backend, size, dtype, seed, masked, activation
):
    steps, batch, units = size
    rng = numpy.random.default_rng(seed)
    reference = Backend()
    x_proj = random(rng, (steps, batch, units), dtype, 2.0)
    kernel = random(rng, (units, units), dtype, 0.5)
    h0 = random(rng, (batch, units), dtype)
    mask = random_mask(rng, steps, batch, masked)
    ours = numba_backend.simple_rnn_sequence_forward(x_proj, kernel, h0, mask, activation)
    expected = reference.simple_rnn_sequence_forward(x_proj, kernel, h0, mask, activation)
    assert ours[2][1] is None
    assert_all_close(ours[:2], expected[:2], dtype)

    grad_outputs = random(rng, (steps, batch, units), dtype)
    dh = random(rng, (batch, units), dtype)
    assert_all_close(
        numba_backend.simple_rnn_sequence_backward(
            grad_outputs, dh, kernel, ours[2], mask, activation
        ),
        reference.simple_rnn_sequence_backward(
            grad_outputs, dh, kernel, expected[2], mask, activation
        ),
        dtype,
        scale=10.0,
    )


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_fused_activations_are_accurate_over_the_whole_range(numba_backend, dtype, activation):
    """With a zero recurrent kernel the outputs are the activation itself, NaN included."""
    values = numpy.concatenate(
        [numpy.linspace(-120, 120, 4001), numpy.geomspace(1e-30, 1e-3, 50), [0.0, numpy.nan]]
    )
    values = numpy.concatenate([values, -values]).astype(dtype)
    x_proj = values.reshape(1, 1, -1)
    zero = numpy.zeros((values.size, values.size), dtype)
    h0 = numpy.zeros((1, values.size), dtype)
    ours = numba_backend.simple_rnn_sequence_forward(x_proj, zero, h0, None, activation)[1]
    expected = Backend().simple_rnn_sequence_forward(x_proj, zero, h0, None, activation)[1]
    # a few ulp; results below the smallest normal number are flushed to zero
    rtol = {"float32": 5e-7, "float64": 1e-15}[dtype]
    tiny = numpy.finfo(dtype).tiny
    numpy.testing.assert_allclose(ours, expected, rtol=rtol, atol=tiny)
    assert numpy.isnan(ours[0, values.size - 1]) and numpy.isnan(ours[0, -1])


def test_float16_and_other_activations_fall_back(numba_backend, rng):
    reference = Backend()
    x_proj = rng.standard_normal((3, 2, 8)).astype(numpy.float16)
    kernel = rng.standard_normal((2, 8)).astype(numpy.float16)
    h0 = numpy.zeros((2, 2), numpy.float16)
    ours = numba_backend.lstm_sequence_forward(x_proj, kernel, h0, h0)
    expected = reference.lstm_sequence_forward(x_proj, kernel, h0, h0)
    assert ours[0].dtype == numpy.float16 and ours[3][2] is not None  # the reference's cache
    numpy.testing.assert_array_equal(ours[0], expected[0])
    grads = numba_backend.lstm_sequence_backward(ours[0], h0, h0, kernel, ours[3])
    assert all(g.dtype == numpy.float16 for g in grads)

    x_proj = rng.standard_normal((3, 2, 2))
    kernel = rng.standard_normal((2, 2))
    h0 = numpy.zeros((2, 2))
    ours = numba_backend.simple_rnn_sequence_forward(x_proj, kernel, h0, None, "elu")
    assert ours[2][1] is not None  # the reference loop, through this backend's elu kernels
    numpy.testing.assert_allclose(
        ours[0],
        reference.simple_rnn_sequence_forward(x_proj, kernel, h0, None, "elu")[0],
        rtol=1e-12,
    )


# -- through the layers: go_backwards, masks, return options ---------------------


@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.LSTM, layers.GRU])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layers_match_the_numpy_backend(layer_class, go_backwards):
    """Forward outputs and every gradient of a masked layer, numba against numpy."""
    rng = numpy.random.default_rng(3)
    x = rng.standard_normal((6, 5, 3)).astype(numpy.float32)
    mask = rng.random((6, 5)) < 0.7
    options = dict(
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=True,
    )
    results = []
    weights = None
    for name in ("numpy", "numba"):
        with engine.use_backend(name):
            layer = layer_class(7, **options)
            layer(x)
            if not results:
                weights = [w + 0.3 * rng.standard_normal(w.shape) for w in layer.get_weights()]
            layer.set_weights(weights)
            inputs = engine.Tensor(x, requires_grad=True)
            outputs = layer(inputs, mask=mask)
            total = sum((o * o).sum() for o in outputs)
            total.backward()
            grads = [inputs.grad.numpy()] + [w.grad.numpy() for w in layer.weights]
            results.append((layer.get_weights(), [o.numpy() for o in outputs], grads))
    (_, outputs_numpy, grads_numpy), (_, outputs_numba, grads_numba) = results
    for ours, expected in zip(outputs_numba + grads_numba, outputs_numpy + grads_numpy):
        numpy.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


# -- embedding ---------------------------------------------------------------------


@few
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=2).map(tuple),
    rows=st.integers(1, 9),
    width=st.integers(1, 5),
    dtype=dtypes,
    index_dtype=st.sampled_from(["int64", "int32", "uint8"]),
    seed=seeds,
)
def test_embedding_backward_matches_reference(
    numba_backend, shape, rows, width, dtype, index_dtype, seed
):
    rng = numpy.random.default_rng(seed)
    indices = rng.integers(0, rows, shape).astype(index_dtype)  # with repeats
    grad = random(rng, (*shape, width), dtype)
    ours = numba_backend.embedding_backward(indices, grad, rows)
    expected = Backend().embedding_backward(indices, grad, rows)
    assert_all_close([ours], [expected], dtype)


def test_embedding_backward_falls_back_for_float16_and_bad_indices(numba_backend):
    indices = numpy.array([[0, 2, 2]])
    grad = numpy.ones((1, 3, 2), numpy.float16)
    table_grad = numba_backend.embedding_backward(indices, grad, 3)
    assert table_grad.dtype == numpy.float16
    numpy.testing.assert_array_equal(table_grad, [[1, 1], [0, 0], [2, 2]])
    with pytest.raises(IndexError):
        numba_backend.embedding_backward(numpy.array([0, 3]), numpy.ones((2, 2)), 3)
