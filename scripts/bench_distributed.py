"""Data-parallel scaling of a seed workload: samples/s, time per step, and communication.

mpiexec -n 2 python scripts/bench_distributed.py --workload W2 --backend numba
python scripts/bench_distributed.py --workload W2 --backend numba        # one process

Every rank trains the workload (asv_bench/benchmarks/workloads.py, synthetic data of its
real shapes) with ``fit`` under ``engine.distribute.DataParallel`` at the workload's
global batch size, one warm-up epoch then ``--epochs`` timed ones; rank 0 prints one
JSON line: samples/s, seconds per step, the communicator's seconds per step (the
gradient allreduce and the few per-epoch collectives) as a fraction of the step, and the
bytes each rank sent per step against the model's gradient size.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "asv_bench", "benchmarks"))

from workloads import WORKLOADS  # noqa: E402

import engine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="W2", choices=sorted(WORKLOADS))
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="numba threads per rank")
    args = parser.parse_args()

    engine.set_backend(args.backend)
    strategy = engine.distribute.DataParallel()
    engine.distribute.set_distribution(strategy)
    if args.threads:
        engine.set_num_threads(args.threads)
    workload = WORKLOADS[args.workload]
    x, y = workload.batch(workload.epoch_samples)
    engine.random.set_seed(0)
    model = engine.Sequential(workload.build_layers(engine))
    model.compile(**workload.compile_arguments(engine))
    batch = workload.batch_size
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # compiles kernels, builds buffers

    stats = strategy.communicator.stats
    stats.update(calls=0, bytes=0, seconds=0.0)
    strategy.barrier()
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=args.epochs, verbose=0)
    elapsed = time.perf_counter() - started
    steps = args.epochs * -(-len(x) // batch)
    gradient_bytes = sum(int(w.data.nbytes) for w in model.trainable_weights)
    if strategy.is_chief:
        result = {
            "workload": args.workload,
            "backend": args.backend,
            "ranks": strategy.size,
            "communicator": strategy.communicator.name,
            "numba_threads": engine.get_num_threads(),
            "global_batch": batch,
            "samples_per_s": round(args.epochs * len(x) / elapsed, 1),
            "ms_per_step": round(1e3 * elapsed / steps, 3),
            "comm_ms_per_step": round(1e3 * stats["seconds"] / steps, 3),
            "comm_fraction": round(stats["seconds"] / elapsed, 3),
            "bytes_per_step": stats["bytes"] // steps,
            "gradient_bytes": gradient_bytes,
            "calls_per_step": round(stats["calls"] / steps, 2),
        }
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
