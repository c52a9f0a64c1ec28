"""Dev-only: the optimizers beyond Adam against Keras 3 (torch backend), several steps.

Run ``KERAS_BACKEND=torch /work/kvenv/bin/python scripts/compare_optimizers_keras.py`` (from
the repository root) prints Keras's weights after the steps of tests/optimizer_cases.py
(its ``KERAS_RESULTS``); ``--ours``, under this project's venv, prints this library's.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests.optimizer_cases import CASES, GRADS, START  # noqa: E402


def keras_steps(name, kwargs):
    import keras

    cls = getattr(keras.optimizers, name.split("_")[0])
    optimizer = cls(**kwargs)
    variables = [keras.Variable(w.astype("float32")) for w in START]
    history = []
    for grads in GRADS:
        optimizer.apply(
            [keras.ops.convert_to_tensor(g.astype("float32")) for g in grads], variables
        )
        history.append([keras.ops.convert_to_numpy(v).copy() for v in variables])
    return history


def our_steps(name, kwargs):
    import engine
    from engine import optimizers

    cls = getattr(optimizers, name.split("_")[0])
    optimizer = cls(**kwargs)
    variables = [engine.tensor(w.astype("float32"), requires_grad=True) for w in START]
    history = []
    for grads in GRADS:
        optimizer.apply([g.astype("float32") for g in grads], variables)
        history.append([v.numpy().copy() for v in variables])
    return history


if __name__ == "__main__":
    steps = our_steps if "--ours" in sys.argv else keras_steps
    for name, kwargs in CASES.items():
        final = steps(name, kwargs)[-1]
        print(f'    "{name}": (')
        for w in final:
            rows = w.reshape(-1, w.shape[-1]).tolist()
            text = "], [".join(", ".join(f"{v:.8g}" for v in row) for row in rows)
            print(f"        [[{text}]]," if w.ndim == 2 else f"        [{text}],")
        print("    ),")
