"""Data-parallel training on scikit-learn's handwritten digits, one process per core or GPU.

mpiexec -n 2 python examples/distributed_mnist.py
mpiexec -n 2 python examples/distributed_mnist.py --backend numba --threads 1
ENGINE_BACKEND=cupy mpiexec -n 4 python examples/distributed_mnist.py   # a GPU per rank
python examples/distributed_mnist.py                                    # one process

Every rank runs this same script on the same data; each trains on its share of
every batch of 128 and the gradients are averaged across ranks, so the result
is the training of one process on batches of 128. Only rank 0 prints and
writes the checkpoint. Needs ``pip install ".[distributed,examples]"``.
"""

import argparse
import os
import time

from digits_mlp import load_data  # the digits, 80% / 20%, the same on every rank

import engine
from engine import layers, models, optimizers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="numpy, numba or cupy")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="numba threads per rank")
    parser.add_argument("--checkpoint", default="distributed_mnist.weights.safetensors")
    args = parser.parse_args()

    if args.backend:
        engine.set_backend(args.backend)
    # from the mpiexec environment: MPI between processes (NCCL on GPUs), or one process
    strategy = engine.distribute.DataParallel()
    engine.distribute.set_distribution(strategy)
    if args.threads:
        engine.set_num_threads(args.threads)
    engine.utils.set_random_seed(0)  # rank 0's initial weights are broadcast anyway
    (x_train, y_train), (x_test, y_test) = load_data(seed=0)

    model = models.Sequential(
        [
            layers.Input(shape=(64,)),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.1),  # each rank draws its own masks
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    checkpoint = engine.callbacks.ModelCheckpoint(
        args.checkpoint, monitor="val_accuracy", save_best_only=True, save_weights_only=True
    )
    started = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=128,  # the global batch: each of N ranks trains on 128 / N samples
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        callbacks=[checkpoint],
        verbose=2,  # rank 0 prints the numbers of all ranks together
    )
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)  # every rank takes part
    if strategy.is_chief:
        print(
            f"{strategy.size} process(es), {strategy.communicator.name} communicator, "
            f"backend {engine.get_backend().name}: {seconds:.1f} s of training"
        )
        print(f"test loss: {loss:.4f}  test accuracy: {accuracy:.4f}")
        print(f"best weights in {os.path.abspath(args.checkpoint)}")


if __name__ == "__main__":
    main()
