"""One rank of the data-parallel tests (``tests/test_distribute.py`` starts it with
``mpiexec -n 2``, or alone for the single-process reference).

usage: distribute_worker.py SCENARIO[,SCENARIO...] OUT_DIR

For each scenario each rank writes ``OUT_DIR/<scenario>-rank<r>.npz``: its
final weights, the logs and the communicator's counts; the test compares them.
"""

import json
import os
import sys

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

import engine  # noqa: E402
from engine import layers  # noqa: E402

SAMPLES, FEATURES, CLASSES = 96, 12, 3


def data():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(numpy.float32)
    y = (x[:, :3].argmax(axis=1)).astype(numpy.int64)
    return x, y


def model(optimizer, batch_norm: bool = False, width: int = 16):
    engine.random.set_seed(7)
    stack = [layers.Input((FEATURES,)), layers.Dense(width, activation="tanh")]
    if batch_norm:
        stack.append(layers.BatchNormalization())
    stack.append(layers.Dense(CLASSES, activation="softmax"))
    net = engine.Sequential(stack)
    net.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    net.shuffle_seed = 1234
    return net


OPTIMIZERS = {
    "sgd": lambda: engine.optimizers.SGD(0.1, momentum=0.9),
    "adam": lambda: engine.optimizers.Adam(0.01),
    "sgd_clip": lambda: engine.optimizers.SGD(0.5, global_clipnorm=0.05),
}


def fit(out: str, name: str, optimizer: str, **options) -> dict:
    """Two epochs (global batches of 32 unless given) with a checkpoint and a CSV log, each
    named after the rank (only rank 0's may exist), then an evaluation."""
    x, y = data()
    net = model(OPTIMIZERS[optimizer](), batch_norm=options.pop("batch_norm", False))
    prefix = os.path.join(out, f"{name}-rank{_rank()}")
    callbacks = [
        engine.callbacks.ModelCheckpoint(prefix + ".weights.safetensors", save_weights_only=True),
        engine.callbacks.CSVLogger(prefix + ".csv"),
    ]
    batch_size = options.pop("batch_size", 32)
    history = net.fit(
        x, y, batch_size=batch_size, epochs=2, verbose=0, callbacks=callbacks, **options
    )
    evaluation = net.evaluate(x, y, batch_size=20, verbose=0, return_dict=True)
    return {"weights": net.get_weights(), "history": history.history, "evaluate": evaluation}


def fit_source(kind: str) -> dict:
    """Two epochs on a Dataset or a generator of the same batches of 32 on every rank."""
    x, y = data()
    net = model(OPTIMIZERS["sgd"]())
    if kind == "dataset":
        history = net.fit(engine.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=2)
    else:

        def batches():
            while True:
                for start in range(0, SAMPLES, 32):
                    yield x[start : start + 32], y[start : start + 32]

        history = net.fit(batches(), steps_per_epoch=SAMPLES // 32, epochs=2)
    return {"weights": net.get_weights(), "history": history.history, "evaluate": {}}


def mismatch(strategy) -> dict:
    """Rank 1 builds a wider model: every rank gets the same clear error, no hang."""
    x, y = data()
    net = model(OPTIMIZERS["sgd"](), width=16 + strategy.rank)
    try:
        net.fit(x, y, batch_size=32, epochs=1, verbose=0)
        error = ""
    except ValueError as caught:
        error = str(caught)
    return {"weights": [], "history": {}, "evaluate": {}, "error": error}


def crash(strategy) -> None:
    """Rank 1 raises in the middle of an epoch: the job must end, not hang."""
    x, y = data()
    net = model(OPTIMIZERS["sgd"]())

    class Crash(engine.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1 and strategy.rank == 1:
                raise RuntimeError("rank 1 fails on purpose")

    net.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[Crash()])


def _rank() -> int:
    distribution = engine.distribute.distribution()
    return distribution.rank if distribution is not None else 0


def run(scenario: str, out: str, strategy) -> dict:
    if scenario in OPTIMIZERS:
        return fit(out, scenario, scenario)
    if scenario == "uneven":  # 72 samples in batches of 25, 25, 22: ranks get 12 and 13
        return fit(out, scenario, "sgd", validation_split=0.25, batch_size=25)
    if scenario == "batch_norm":
        return fit(out, scenario, "sgd", batch_norm=True)
    if scenario in ("dataset", "generator"):
        return fit_source(scenario)
    if scenario == "mismatch":
        return mismatch(strategy)
    if scenario == "crash":
        crash(strategy)
    raise SystemExit(f"unknown scenario {scenario}")


def main() -> None:
    scenarios, out = sys.argv[1].split(","), sys.argv[2]
    strategy = engine.distribute.DataParallel()
    engine.distribute.set_distribution(strategy)
    for scenario in scenarios:
        strategy.communicator.stats.update(calls=0, bytes=0, seconds=0.0)
        result = run(scenario, out, strategy)
        meta = {
            "history": result["history"],
            "evaluate": result["evaluate"],
            "error": result.get("error", ""),
            "size": strategy.size,
            "stats": strategy.communicator.stats,
        }
        arrays = {f"weight{i}": w for i, w in enumerate(result["weights"])}
        path = os.path.join(out, f"{scenario}-rank{strategy.rank}.npz")
        numpy.savez(path, meta=json.dumps(meta), **arrays)


if __name__ == "__main__":
    main()
