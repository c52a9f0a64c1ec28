"""Cases and Keras 3.15 results for tests/test_rnn_cells.py.

Each case builds a layer from a ``layers`` module (``keras.layers`` or
``engine.layers``: the names and arguments are the same), gives it the weights
of ``weights_for`` and calls it on ``inputs_for``. ``KERAS_RESULTS`` holds
Keras 3.15's outputs (float32, PyTorch backend), written down by
``KERAS_BACKEND=torch python scripts/compare_rnn_cells_keras.py``. Plain NumPy,
so that script runs without this library.
"""

import numpy

MASK = numpy.array([[True, True, False, True], [True, False, False, True]])

# name -> (build(layers), input shape, call keyword arguments)
CASES = {
    "simple_rnn_cell_backwards_masked": (
        lambda L: L.RNN(L.SimpleRNNCell(3), go_backwards=True, return_sequences=True),
        (2, 4, 3),
        {"mask": MASK},
    ),
    "gru_cell_reset_before_state": (
        lambda L: L.RNN(L.GRUCell(3, reset_after=False), return_state=True),
        (2, 4, 3),
        {},
    ),
    "stacked_lstm_gru": (
        lambda L: L.RNN([L.LSTMCell(3), L.GRUCell(2)], return_sequences=True),
        (2, 4, 3),
        {},
    ),
    "lstm_cell_zero_output_for_mask": (
        lambda L: L.RNN(L.LSTMCell(2), return_sequences=True, zero_output_for_mask=True),
        (2, 4, 3),
        {"mask": MASK},
    ),
    "conv_lstm2d_same": (
        lambda L: L.ConvLSTM2D(2, (2, 2), padding="same"),
        (1, 3, 3, 3, 1),
        {},
    ),
    "conv_lstm1d_strided": (
        lambda L: L.ConvLSTM1D(2, 3, strides=2, return_sequences=True),
        (1, 2, 7, 2),
        {},
    ),
    "conv_lstm3d_valid_state": (
        lambda L: L.ConvLSTM3D(2, 2, return_state=True),
        (1, 2, 3, 3, 2, 1),
        {},
    ),
}


def inputs_for(shape, seed=0) -> numpy.ndarray:
    return numpy.random.default_rng(seed).normal(size=shape).astype("float32")


def weights_for(shapes, seed=1) -> list:
    rng = numpy.random.default_rng(seed)
    return [rng.normal(0.0, 0.5, size=shape).astype("float32") for shape in shapes]


KERAS_RESULTS = {
    "simple_rnn_cell_backwards_masked": [
        [
            -0.2113574,
            -0.7252238,
            -0.3244152,
            -0.2113574,
            -0.7252238,
            -0.3244152,
            0.01794673,
            -0.1715828,
            0.1314811,
            -0.3362882,
            0.06608084,
            0.1382504,
            0.1821584,
            0.2296074,
            0.1444315,
            0.1821584,
            0.2296074,
            0.1444315,
            0.1821584,
            0.2296074,
            0.1444315,
            -0.3186604,
            -0.9151021,
            -0.5932627,
        ],
    ],
    "gru_cell_reset_before_state": [
        [-0.07703011, -0.2408158, -0.4186442, 0.03435731, 0.2198164, -0.2620702],
        [-0.07703011, -0.2408158, -0.4186442, 0.03435731, 0.2198164, -0.2620702],
    ],
    "stacked_lstm_gru": [
        [
            -0.1056995,
            0.09533774,
            -0.1729494,
            0.1819835,
            -0.2294872,
            0.1299486,
            -0.2630002,
            0.1802518,
            -0.1035502,
            0.02054143,
            -0.18206,
            0.07151675,
            -0.254083,
            0.1588255,
            -0.2845175,
            0.19316,
        ],
    ],
    "lstm_cell_zero_output_for_mask": [
        [
            0.01263114,
            -0.0003492102,
            0.04387007,
            0.01156049,
            0.0,
            0.0,
            -0.04310572,
            -0.01170587,
            -0.09128413,
            -0.01090239,
            0.0,
            0.0,
            0.0,
            0.0,
            0.08347074,
            0.09278988,
        ],
    ],
    "conv_lstm2d_same": [
        [
            -0.1683202,
            0.2798388,
            -0.05326225,
            0.1875516,
            -0.08603796,
            0.2034644,
            0.06458104,
            0.2094356,
            -0.1620577,
            0.1482747,
            -0.04485361,
            0.2050911,
            -0.01438266,
            0.2836691,
            -0.0309059,
            0.199098,
            -0.1665038,
            0.1523263,
        ],
    ],
    "conv_lstm1d_strided": [
        [
            -0.02185762,
            0.1290101,
            -0.1119758,
            0.07388472,
            0.09778935,
            0.02097495,
            -0.106337,
            0.01852661,
            -0.03349856,
            0.07294436,
            -0.1907931,
            0.1517458,
        ],
    ],
    "conv_lstm3d_valid_state": [
        [
            -0.0004004106,
            -0.05478423,
            0.05752193,
            0.04549342,
            0.09798659,
            0.1058558,
            0.252839,
            0.004605608,
        ],
        [
            -0.0004004106,
            -0.05478423,
            0.05752193,
            0.04549342,
            0.09798659,
            0.1058558,
            0.252839,
            0.004605608,
        ],
        [
            -0.0004764581,
            -0.1037848,
            0.1416166,
            0.1216282,
            0.9346248,
            0.2494479,
            0.4007176,
            0.03450052,
        ],
    ],
}
