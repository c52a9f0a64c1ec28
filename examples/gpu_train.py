"""Train the small CNN on the GPU (cupy backend) and report throughput and peak memory.

    python examples/gpu_train.py [--epochs 3] [--samples 4096]

Prints the device's name and memory, trains Conv2D(32) -> MaxPool -> Conv2D(64)
-> MaxPool -> Flatten -> Dense(10, softmax) with Adam, batch 64, on generated
28x28x1 images, and reports samples per second and the peak of CuPy's memory
pool. Without a usable GPU it prints one line saying why and exits with
status 0 (nothing failed: there is nothing to run it on). With
``ENGINE_CUDA_SIM=1`` it runs, very slowly, on the CPU through the simulator,
and the timings then mean nothing.
"""

import argparse
import sys
import time

import numpy

import backends
import engine
from engine import layers


def make_data(samples: int, seed: int = 0):
    """Ten classes of 28x28 images: a bright square whose position is the class, plus noise."""
    rng = numpy.random.default_rng(seed)
    labels = rng.integers(0, 10, samples)
    images = rng.normal(0.0, 0.3, size=(samples, 28, 28, 1)).astype(numpy.float32)
    for k in range(10):
        row, col = 3 + 8 * (k // 4), 3 + 6 * (k % 4)
        images[labels == k, row : row + 6, col : col + 6, 0] += 1.0
    return images, labels


def build_model():
    model = engine.models.Sequential(
        [
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    try:
        engine.set_backend("cupy")
    except backends.BackendUnavailableError as error:
        print(f"gpu_train.py cannot run here: {error}")
        return 0
    backend = backends.get("cupy")
    info = backend.device_info()
    print(
        f"device: {info['name']}, memory {info['total_bytes'] / 2**30:.1f} GiB "
        f"({info['free_bytes'] / 2**30:.1f} GiB free)"
    )

    x, y = make_data(args.samples)
    model = build_model()
    model.fit(x[: args.batch_size], y[: args.batch_size], epochs=1, verbose=0)  # compile kernels
    backend.synchronize()
    pool = None if backend.simulated else backend.xp.get_default_memory_pool()
    peak = 0
    start = time.perf_counter()
    for epoch in range(args.epochs):
        history = model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
        if pool is not None:
            peak = max(peak, pool.total_bytes())
        logs = {k: round(v[-1], 4) for k, v in history.history.items()}
        print(f"epoch {epoch + 1}: {logs}")
    backend.synchronize()  # GPU work is asynchronous: wait before reading the clock
    elapsed = time.perf_counter() - start
    print(f"{args.epochs * len(x) / elapsed:,.0f} samples/s over {elapsed:.1f} s")
    if pool is not None:
        print(f"peak GPU memory (CuPy pool, sampled per epoch): {peak / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
