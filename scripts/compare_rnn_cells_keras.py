"""Dev-only: layers.RNN with the cells, StackedRNNCells and ConvLSTM against Keras 3.

Run from the repository root: ``KERAS_BACKEND=torch /work/kvenv/bin/python
scripts/compare_rnn_cells_keras.py`` prints Keras's outputs for the cases of
tests/rnn_cases.py (its ``KERAS_RESULTS``); ``--ours``, under this project's
venv, prints this library's.
"""

import pathlib
import sys

import numpy

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests.rnn_cases import CASES, inputs_for, weights_for  # noqa: E402


def _keras_numpy(tensor):
    import keras

    return keras.ops.convert_to_numpy(tensor)


if __name__ == "__main__":
    if "--ours" in sys.argv:
        from engine import layers

        convert = numpy.asarray
    else:
        from keras import layers

        convert = _keras_numpy
    for name, (build, shape, kwargs) in CASES.items():
        layer = build(layers)
        x = inputs_for(shape)
        layer(x)
        layer.set_weights(weights_for([tuple(w.shape) for w in layer.weights]))
        result = layer(x, **kwargs)
        results = result if isinstance(result, (list, tuple)) else [result]
        print(f'    "{name}": [')
        for r in results:
            values = numpy.asarray(convert(r), dtype=numpy.float64)
            print(f"        {[float(f'{v:.7g}') for v in values.ravel()]!r},")
        print("    ],")
