"""Compare training steps of this library with Keras 3 from the same initial weights.

Not part of the test suite (Keras is not a dependency): run it in an
environment that has both installed, e.g.

    KERAS_BACKEND=jax python scripts/keras_parity.py

It prints, per optimizer and loss, the largest difference in the reported
losses and in the weights after a few ``train_on_batch`` steps.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy  # noqa: E402

import engine  # noqa: E402

STEPS = 5


def build_pair(units, activation, loss, optimizer_name, optimizer_args, input_dim=8):
    theirs = keras.Sequential(
        [
            keras.Input((input_dim,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(units, activation=activation),
        ]
    )
    ours = engine.models.Sequential(
        [
            engine.layers.Input((input_dim,)),
            engine.layers.Dense(16, activation="relu"),
            engine.layers.Dense(units, activation=activation),
        ]
    )
    ours.set_weights(theirs.get_weights())
    theirs.compile(getattr(keras.optimizers, optimizer_name)(**optimizer_args), loss)
    ours.compile(getattr(engine.optimizers, optimizer_name)(**optimizer_args), loss)
    return theirs, ours


CASES = [
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("AdamW", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.5, "clipnorm": 0.1}),
]
LOSSES = [
    ("sparse_categorical_crossentropy", 4, "softmax"),
    ("categorical_crossentropy", 4, "softmax"),
    ("binary_crossentropy", 1, "sigmoid"),
    ("mean_squared_error", 3, None),
    ("huber", 3, None),
]


def targets(loss, units, rng, n):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, units, n)
    if loss == "categorical_crossentropy":
        return numpy.eye(units, dtype="float32")[rng.integers(0, units, n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (n, 1)).astype("float32")
    return rng.standard_normal((n, units)).astype("float32")


def main():
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((32, 8)).astype("float32")
    print(f"keras {keras.__version__} ({keras.backend.backend()}); {STEPS} train_on_batch steps\n")
    print("| optimizer | loss | max loss diff | max weight diff |")
    print("|---|---|---|---|")
    for optimizer_name, args in CASES:
        for loss, units, activation in LOSSES:
            y = targets(loss, units, rng, len(x))
            theirs, ours = build_pair(units, activation, loss, optimizer_name, args)
            loss_diff = 0.0
            for _ in range(STEPS):
                a = float(theirs.train_on_batch(x, y))
                b = float(ours.train_on_batch(x, y))
                loss_diff = max(loss_diff, abs(a - b))
            weight_diff = max(
                float(numpy.abs(a - b).max())
                for a, b in zip(theirs.get_weights(), ours.get_weights())
            )
            extra = ", ".join(f"{k}={v}" for k, v in args.items() if k != "learning_rate")
            print(f"| {optimizer_name}({extra}) | {loss} | {loss_diff:.2e} | {weight_diff:.2e} |")
    print()
    for loss_name, y, p in [
        ("binary_crossentropy", [[0.0, 1.0]], [[0.0, 1.0]]),
        ("binary_crossentropy", [[1.0, 0.0]], [[0.0, 1.0]]),
        ("categorical_crossentropy", [[0.0, 1.0]], [[1.0, 0.0]]),
    ]:
        a = float(numpy.mean(keras.losses.get(loss_name)(numpy.array(y), numpy.array(p))))
        b = engine.losses.get(loss_name)(numpy.array(y), engine.tensor(p)).item()
        print(f"{loss_name} at y={y} p={p}: keras {a:.6f}, ours {b:.6f}")


if __name__ == "__main__":
    main()
