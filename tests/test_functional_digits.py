"""The two-input functional digits example: its features, its graph, its accuracy."""

import importlib.util
import pathlib

import numpy
import pytest

# whole example programs: run on every real backend, not through the CUDA simulator
pytestmark = pytest.mark.examples

EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "functional_digits.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("functional_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_functional_digits_data_and_features():
    functional_digits = _load_example()
    (x_train, y_train), (x_test, y_test) = functional_digits.load_data(seed=0)
    images, features = x_train
    assert images.shape[1:] == (8, 8, 1) and features.shape[1:] == (8,)
    assert features.dtype == numpy.float32 and numpy.isfinite(features).all()
    assert len(images) == len(features) == len(y_train)
    assert len(y_train) + len(y_test) == 1797
    # a left-right symmetric image has no mirror difference
    symmetric = numpy.zeros((1, 8, 8))
    symmetric[0, 2:6, 3:5] = 1
    assert functional_digits.hand_features(symmetric)[0, 5] == 0


def test_functional_digits_example_runs(backend):
    functional_digits = _load_example()
    model, loss, accuracy = functional_digits.train(epochs=2, verbose=0)
    assert [t.name for t in model.inputs] == ["image", "features"]
    assert [type(layer).__name__ for layer in model.layers].count("Concatenate") == 1
    assert numpy.isfinite(loss) and accuracy > 0.5, f"held-out accuracy {accuracy:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_functional_digits_example_reaches_93_percent(backend, seed):
    functional_digits = _load_example()
    _, _, accuracy = functional_digits.train(epochs=20, seed=seed, verbose=0)
    assert accuracy >= 0.93, f"held-out accuracy {accuracy:.3f}"
