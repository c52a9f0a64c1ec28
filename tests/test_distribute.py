"""engine.distribute and backends.comm: communicators, buckets, and data-parallel training.

The two-process tests start ``tests/distribute_worker.py`` with ``mpiexec -n 2`` (skipped
when mpi4py or mpiexec is missing: ``pip install ".[distributed]"``) and compare what each
rank wrote with a single-process run of the same script. The NCCL communicator runs here
against a stand-in for ``cupy.cuda.nccl`` that reduces host memory across threads, since
neither NCCL nor a GPU is needed to check what it asks NCCL to do.
"""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import threading

import numpy
import pytest

import engine
from backends import comm
from engine.distribute import DataParallel
from engine.distribute.buckets import Buckets

WORKER = os.path.join(os.path.dirname(__file__), "distribute_worker.py")
#: scenarios run in one mpiexec launch (one process start for all of them)
SCENARIOS = ["sgd", "adam", "sgd_clip", "uneven", "batch_norm", "dataset", "generator", "mismatch"]
#: scenarios whose two-rank result must equal one process on the whole batch
EXACT = ["sgd", "adam", "sgd_clip", "uneven", "dataset", "generator"]


# -- communicators --------------------------------------------------------------------


def test_single_process_communicator_leaves_arrays_as_they_are():
    communicator = comm.SingleProcessCommunicator()
    assert (communicator.rank, communicator.size, communicator.is_chief) == (0, 1, True)
    a, b = numpy.arange(4.0), numpy.ones((2, 3), numpy.float32)
    for op in comm.OPS:
        communicator.allreduce([a, b], op)
    communicator.broadcast([a, b], root=0)
    communicator.barrier()
    numpy.testing.assert_array_equal(a, numpy.arange(4.0))
    numpy.testing.assert_array_equal(b, 1)
    with pytest.raises(ValueError, match="`op` must be one of"):
        communicator.allreduce([a], "product")
    with pytest.raises(ValueError, match="root 1"):
        communicator.broadcast([a], root=1)


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({}, None),
        ({"PMI_RANK": "1", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1"}, (1, 4, 1)),
        ({"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4"}, (3, 4, 3)),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "8"}, None),  # the batch script, not srun
        (
            {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_STEP_ID": "0"},
            (5, 8, 1),
        ),
    ],
)
def test_launch_environment_is_read_from_the_launchers_variables(monkeypatch, variables, expected):
    for name in list(os.environ):
        if name.startswith(("PMI", "OMPI_", "PMIX_", "SLURM_", "MPI_")):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    launch = comm.launch_environment()
    got = None if launch is None else (launch["rank"], launch["size"], launch["local_rank"])
    assert got == expected
    if expected is None:
        assert isinstance(comm.get(), comm.SingleProcessCommunicator)


def test_get_names_a_communicator_or_refuses_an_unknown_one():
    assert isinstance(comm.get("single"), comm.SingleProcessCommunicator)
    with pytest.raises(ValueError, match="Unknown communicator 'gloo'"):
        comm.get("gloo")


class ThreadGroup:
    """``size`` in-process ranks (threads) that reduce in rank order: a host communicator
    for the tests, with MPI's semantics."""

    def __init__(self, size: int):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=20)
        self.slots: list = [None] * size

    def communicator(self, rank: int) -> comm.Communicator:
        group = self

        class Member(comm.Communicator):
            name = "threads"

            def allreduce(self, arrays, op="sum"):
                reduce = {"sum": numpy.sum, "mean": numpy.mean, "max": numpy.max, "min": numpy.min}
                results = group.exchange(rank, arrays)
                for i, array in enumerate(arrays):
                    stacked = numpy.stack([numpy.asarray(r[i]) for r in results])
                    array[...] = reduce[op](stacked, axis=0)

            def broadcast(self, arrays, root=0):
                results = group.exchange(rank, arrays)
                for array, value in zip(arrays, results[root]):
                    array[...] = value

            def barrier(self):
                group.barrier.wait()

        return Member(rank, self.size, rank)

    def exchange(self, rank: int, arrays: list) -> list:
        self.slots[rank] = [numpy.array(a, copy=True) for a in arrays]
        self.barrier.wait()
        results = list(self.slots)
        self.barrier.wait()
        return results


def run_ranks(size: int, body) -> list:
    """``body(rank, host_communicator)`` on ``size`` threads; their results by rank."""
    group = ThreadGroup(size)
    results, errors = [None] * size, []

    def target(rank):
        try:
            results[rank] = body(rank, group.communicator(rank))
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)
            group.barrier.abort()

    threads = [threading.Thread(target=target, args=(rank,)) for rank in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


class FakeDeviceArray:
    """A host array that presents itself as a device array (``__cuda_array_interface__``)."""

    def __init__(self, array):
        self.host = numpy.ascontiguousarray(array)
        self.dtype, self.shape, self.size = self.host.dtype, self.host.shape, self.host.size
        self.nbytes = self.host.nbytes

    @property
    def __cuda_array_interface__(self):
        return {
            "data": (self.host.ctypes.data, False),
            "shape": self.shape,
            "typestr": self.host.dtype.str,
            "strides": None,
            "version": 3,
        }

    def __itruediv__(self, value):
        self.host /= value
        return self


def fake_nccl(group: ThreadGroup):
    """A stand-in for ``cupy.cuda.nccl``: the collectives read and write the memory at the
    pointers they are given, across the thread ranks of ``group``."""
    dtypes = {1: numpy.float32, 2: numpy.float64, 3: numpy.int64}
    module = type(sys)("fake_nccl")
    module.NCCL_FLOAT32, module.NCCL_FLOAT64, module.NCCL_INT64 = 1, 2, 3
    module.NCCL_FLOAT16 = module.NCCL_INT8 = module.NCCL_UINT8 = module.NCCL_INT32 = 99
    module.NCCL_SUM, module.NCCL_MAX, module.NCCL_MIN = "sum", "max", "min"
    module.calls = []
    module.get_unique_id = lambda: tuple(range(128))
    module.groupStart = lambda: module.calls.append("groupStart")
    module.groupEnd = lambda: module.calls.append("groupEnd")

    def view(pointer, count, dtype):
        buffer = (ctypes.c_byte * (count * numpy.dtype(dtypes[dtype]).itemsize)).from_address(
            pointer
        )
        return numpy.frombuffer(buffer, dtype=dtypes[dtype])

    class NcclCommunicator:
        def __init__(self, size, unique_id, rank):
            assert unique_id == tuple(range(128)) and size == group.size
            self.rank = rank

        def allReduce(self, send, receive, count, dtype, op, stream):  # noqa: N802 (CuPy's)
            assert send == receive  # in place
            module.calls.append(("allReduce", count, dtype, op))
            data = view(send, count, dtype)
            results = group.exchange(self.rank, [data])
            data[...] = getattr(numpy, op)(numpy.stack([r[0] for r in results]), axis=0)

        def bcast(self, pointer, count, dtype, root, stream):
            module.calls.append(("bcast", count, dtype, root))
            data = view(pointer, count, dtype)
            data[...] = group.exchange(self.rank, [data])[root][0]

    module.NcclCommunicator = NcclCommunicator
    return module


def test_nccl_communicator_reduces_device_arrays_in_one_group_and_host_arrays_over_mpi():
    device_group = ThreadGroup(2)
    nccl = fake_nccl(device_group)

    def body(rank, host):
        communicator = comm.NcclCommunicator(host, nccl=nccl, stream=lambda: 0)
        grads = [FakeDeviceArray(numpy.full((2, 3), rank + 1.0, numpy.float32))]
        grads.append(FakeDeviceArray(numpy.arange(4.0) * (rank + 1)))
        counts = numpy.array([10 * (rank + 1)], numpy.int64)  # a host array: through MPI
        communicator.allreduce(grads + [counts], "mean")
        weights = FakeDeviceArray(numpy.full(5, float(rank), numpy.float32))
        communicator.broadcast([weights], root=1)
        return [g.host for g in grads], counts, weights.host

    results = run_ranks(2, body)
    for grads, counts, weights in results:
        numpy.testing.assert_array_equal(grads[0], 1.5)
        numpy.testing.assert_array_equal(grads[1], numpy.arange(4.0) * 1.5)
        assert counts[0] == 15  # integer mean: 30 // 2 through the host communicator
        numpy.testing.assert_array_equal(weights, 1.0)
    reduces = [call for call in nccl.calls if call[0] == "allReduce"]
    assert sorted(reduces) == sorted(2 * [("allReduce", 6, 1, "sum"), ("allReduce", 4, 2, "sum")])
    assert nccl.calls.count("groupStart") == nccl.calls.count("groupEnd") == 4


# -- buckets -------------------------------------------------------------------------


def test_buckets_pack_by_dtype_up_to_their_size_and_read_back_as_views():
    arrays = [
        numpy.arange(6, dtype=numpy.float32).reshape(2, 3),
        numpy.arange(3, dtype=numpy.float64),
        numpy.arange(252, dtype=numpy.float32),
        numpy.ones(4, dtype=numpy.float32),
    ]
    buckets = Buckets(numpy, [a.shape for a in arrays], [a.dtype for a in arrays], 1024)
    # float32: 6 + 252 elements overflow 1 KiB, so 252 start a bucket that 4 more fill
    assert [b.size for b in buckets.buffers] == [6, 3, 256]
    assert [b.dtype for b in buckets.buffers] == ["float32", "float64", "float32"]
    buckets.pack(arrays, scale=2.0)
    for view, array in zip(buckets.views(), arrays):
        numpy.testing.assert_array_equal(view, array * 2)
        assert view.base is not None  # a view of a bucket, not a copy
    targets = [numpy.zeros_like(a) for a in arrays]
    buckets.unpack_into(targets)
    numpy.testing.assert_array_equal(targets[2], arrays[2] * 2)


def test_metric_states_summed_over_ranks_give_the_whole_datas_results():
    """Each rank updates metrics on its half; within the block every rank sees the results
    of the whole data, after it its own state again."""
    from engine.distribute.sync import summed_metric_state

    if getattr(engine.get_backend(), "simulated", False):
        pytest.skip("the CUDA simulator runs one kernel at a time; thread ranks launch together")
    rng = numpy.random.default_rng(1)
    y_true = rng.integers(0, 2, size=(40, 1)).astype(numpy.float32)
    y_pred = rng.random((40, 1)).astype(numpy.float32)

    def metrics():
        return [engine.metrics.AUC(), engine.metrics.Precision(), engine.metrics.Mean()]

    whole = metrics()
    for metric in whole[:2]:
        metric.update_state(y_true, y_pred)
    whole[2].update_state(y_pred)

    def body(rank, host):
        part = slice(rank * 20, rank * 20 + 20)
        own = metrics()
        for metric in own[:2]:
            metric.update_state(y_true[part], y_pred[part])
        own[2].update_state(y_pred[part])
        local = [metric.result() for metric in own]
        with summed_metric_state(host, own):
            summed = [metric.result() for metric in own]
        return local, summed, [metric.result() for metric in own]

    for local, summed, after in run_ranks(2, body):
        assert summed == pytest.approx([metric.result() for metric in whole], rel=1e-6)
        assert after == local


# -- data parallelism in one process, and across threads -----------------------------


def _data():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype(numpy.float32)
    return x, (x[:, 0] > 0).astype(numpy.int64)


def _model(optimizer=None):
    engine.random.set_seed(3)
    model = engine.Sequential(
        [
            engine.layers.Input((5,)),
            engine.layers.Dense(8, activation="tanh"),
            engine.layers.BatchNormalization(),
            engine.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizer or engine.optimizers.SGD(0.1, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.shuffle_seed = 11
    return model


def test_one_process_strategy_trains_exactly_as_without_one():
    x, y = _data()
    plain, strategy = _model(), _model()
    expected = plain.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    got = strategy.fit(x, y, batch_size=16, epochs=2, verbose=0, distribute=DataParallel())
    assert got.history == expected
    for a, b in zip(plain.get_weights(), strategy.get_weights()):
        numpy.testing.assert_array_equal(a, b)
    assert strategy.optimizer.distribution is None  # fit hands the optimizer back


def test_thread_ranks_agree_on_weights_batch_norm_statistics_and_logs():
    """Two ranks (threads) on halves of each batch end with the same weights, moving
    statistics included, and log the same numbers."""
    if getattr(engine.get_backend(), "simulated", False):
        pytest.skip("the CUDA simulator runs one kernel at a time; thread ranks launch together")
    x, y = _data()

    def body(rank, host):
        model = _model(engine.optimizers.Adam(0.01, global_clipnorm=0.5))
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, distribute=DataParallel(host))
        evaluation = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
        return model.get_weights(), history.history, evaluation

    (weights0, history0, eval0), (weights1, history1, eval1) = run_ranks(2, body)
    for a, b in zip(weights0, weights1):
        numpy.testing.assert_array_equal(a, b)  # moving statistics included
    assert history0 == history1 and eval0 == eval1
    assert set(history0) == {"loss", "accuracy"}


def test_thread_ranks_with_different_models_fail_together_naming_the_weight():
    x, y = _data()

    def body(rank, host):
        model = engine.Sequential(
            [engine.layers.Input((5,)), engine.layers.Dense(4 + rank, name="hidden")]
        )
        model.compile(optimizer="sgd", loss="mse")
        with pytest.raises(ValueError, match="differ at weight '.*kernel'") as caught:
            model.fit(x, x[:, :4], epochs=1, verbose=0, distribute=DataParallel(host))
        return str(caught.value)

    first, second = run_ranks(2, body)
    assert "rank 0" in first and "here on rank 1" in second


# -- two processes through mpiexec -------------------------------------------------


def _mpiexec() -> str | None:
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside_python if os.path.exists(beside_python) else shutil.which("mpiexec")


def _launch(command: list, out: str, timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI", "OMPI_", "PMIX_"))}
    env.setdefault("ENGINE_COMM_TIMEOUT", "60")
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=out, check=False
    )


def _read(path: str):
    with numpy.load(path) as saved:
        meta = json.loads(str(saved["meta"]))
        count = sum(name.startswith("weight") for name in saved.files)
        return meta, [saved[f"weight{i}"] for i in range(count)]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Every scenario run by two ranks (one mpiexec launch) and by one process."""
    mpiexec = _mpiexec()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        mpiexec = None
    if mpiexec is None:
        pytest.skip('mpi4py or mpiexec is missing: pip install ".[distributed]"')
    two, one = tmp_path_factory.mktemp("two_ranks"), tmp_path_factory.mktemp("one_rank")
    scenarios = ",".join(SCENARIOS)
    parallel = _launch([mpiexec, "-n", "2", sys.executable, WORKER, scenarios, str(two)], two, 240)
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    single = _launch(
        [sys.executable, WORKER, scenarios.replace(",mismatch", ""), str(one)], one, 240
    )
    assert single.returncode == 0, single.stderr[-3000:]
    return str(two), str(one), parallel.stdout


@pytest.mark.parametrize("scenario", EXACT + ["batch_norm"])
def test_two_ranks_hold_identical_weights_and_log_identical_numbers(two_ranks, scenario):
    two, _, _ = two_ranks
    (meta0, weights0), (meta1, weights1) = (
        _read(os.path.join(two, f"{scenario}-rank{rank}.npz")) for rank in (0, 1)
    )
    assert meta0["size"] == meta1["size"] == 2
    for a, b in zip(weights0, weights1):
        numpy.testing.assert_array_equal(a, b)
    assert meta0["history"] == meta1["history"]
    assert meta0["evaluate"] == meta1["evaluate"]


@pytest.mark.parametrize("scenario", EXACT)
def test_two_ranks_train_as_one_process_on_the_whole_batch(two_ranks, scenario):
    two, one, _ = two_ranks
    parallel, weights = _read(os.path.join(two, f"{scenario}-rank0.npz"))
    single, expected = _read(os.path.join(one, f"{scenario}-rank0.npz"))
    assert single["size"] == 1
    for got, want in zip(weights, expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert parallel["history"].keys() == single["history"].keys()
    for name, values in single["history"].items():
        numpy.testing.assert_allclose(parallel["history"][name], values, rtol=1e-5, atol=1e-6)
    for name, value in single["evaluate"].items():
        assert parallel["evaluate"][name] == pytest.approx(value, rel=1e-5, abs=1e-6)


def test_two_ranks_send_about_the_gradient_once_per_step_in_few_messages(two_ranks):
    two, _, _ = two_ranks
    meta, weights = _read(os.path.join(two, "sgd-rank0.npz"))
    gradient_bytes = sum(w.nbytes for w in weights)
    steps = 2 * 3  # two epochs of three batches
    # per step one bucketed allreduce; a few more calls per fit and per log
    assert meta["stats"]["bytes"] < steps * gradient_bytes * 1.1 + 8 * gradient_bytes
    assert meta["stats"]["calls"] < 10 * steps


def test_only_rank_zero_prints_and_writes_files(two_ranks):
    two, _, stdout = two_ranks
    files = set(os.listdir(two))
    assert "sgd-rank0.weights.safetensors" in files and "sgd-rank0.csv" in files
    assert not any(name.startswith("sgd-rank1.") and not name.endswith(".npz") for name in files)
    assert stdout.count("Epoch 1/2") == 2  # the dataset and generator fits, printed once each


def test_two_ranks_with_different_models_both_get_a_clear_error(two_ranks):
    two, _, _ = two_ranks
    errors = [_read(os.path.join(two, f"mismatch-rank{rank}.npz"))[0]["error"] for rank in (0, 1)]
    assert all("models differ at weight" in error for error in errors)
    assert "(12, 16) on rank 0, (12, 17) here on rank 1" in errors[1]


def test_a_rank_that_raises_ends_every_rank(tmp_path):
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.skip('mpiexec is missing: pip install ".[distributed]"')
    pytest.importorskip("mpi4py")
    result = _launch(
        [mpiexec, "-n", "2", sys.executable, WORKER, "crash", str(tmp_path)], tmp_path, 90
    )
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr, (result.returncode, result.stdout)
    assert "aborting all 2 ranks" in result.stderr
    assert not list(tmp_path.glob("*.npz"))


@pytest.mark.slow
def test_the_distributed_example_runs_on_two_ranks(tmp_path):
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.skip('mpiexec is missing: pip install ".[distributed]"')
    pytest.importorskip("mpi4py")
    pytest.importorskip("sklearn")
    example = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "distributed_mnist.py")
    command = [mpiexec, "-n", "2", sys.executable, example, "--epochs", "3"]
    result = _launch(command, tmp_path, 120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Epoch 3/3") == 1  # rank 0 alone prints
    accuracy = float(result.stdout.split("test accuracy:")[1].split()[0])
    assert accuracy > 0.8
    assert [p.name for p in tmp_path.iterdir()] == ["distributed_mnist.weights.safetensors"]
