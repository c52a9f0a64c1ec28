"""Compiling a backward kernel in a forked child while the forward compiles.

What is checked: for every forward that asks for it (recurrent layers,
convolution, pooling, layer normalization, the softmax cross-entropies), the
types compiled ahead are the ones the backward's call compiles (else the
child's work would be wasted); on a cold cache, a training step loads the
LSTM's backward from the cache instead of compiling it; where it cannot help
(turned off, one thread, MPI, no cache, already compiled, no fork possible)
nothing is forked; a child past its time is stopped.
"""

import json
import os
import subprocess
import sys
import time

import numpy
import pytest

import engine
from engine import layers

pytest.importorskip("numba")

import numba  # noqa: E402

from backends import numba_compile_ahead  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def image_model():
    """A grayscale 3x3 convolution (the direct kernels) with its relu pooled in one op, one
    over channels (im2col), max pooling with overlapping windows, average pooling."""
    return [
        layers.Input(shape=(9, 9, 1)),
        layers.Conv2D(3, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(4, 3, padding="same"),
        layers.MaxPooling2D(2, strides=1),
        layers.AveragePooling2D(2),
        layers.Flatten(),
        layers.Dense(2, activation="softmax"),  # with the loss: the fused cross-entropy
    ]


def channels_pool_model():
    """A relu convolution over channels pooled in one op (its gradient unpooled chunk by
    chunk)."""
    return [
        layers.Input(shape=(6, 6, 2)),
        layers.Conv2D(3, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(2, activation="softmax"),
    ]


def unfused_image_model():
    """A grayscale 3x3 convolution without a relu (the direct kernels, no fused pooling),
    then max pooling with disjoint windows."""
    return [
        layers.Input(shape=(9, 9, 1)),
        layers.Conv2D(3, 3),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(2, activation="softmax"),
    ]


def sequence_model():
    return [
        layers.Input(shape=(4, 3)),
        layers.SimpleRNN(3, return_sequences=True),
        layers.GRU(3, return_sequences=True),
        layers.LayerNormalization(),
        layers.LSTM(2),
        layers.Dense(2),
    ]


@pytest.mark.parametrize("floatx", ["float32", "float64"])
@pytest.mark.parametrize(
    "build, loss, kernels",
    [
        (
            image_model,
            "sparse_categorical_crossentropy",
            ["direct_weight_gradient", "col2im", "max_pool2d_backward", "avg_pool2d_backward"]
            + ["sparse_softmax_cross_entropy_backward"],
        ),
        (channels_pool_model, "sparse_categorical_crossentropy", ["unpool"]),
        (
            unfused_image_model,
            "sparse_categorical_crossentropy",
            ["weight_gradient", "max_pool2d_backward_disjoint"],
        ),
        (
            sequence_model,
            "categorical_crossentropy from logits",
            ["simple_rnn_backward", "gru_backward", "lstm_backward", "layer_norm_backward"]
            + ["softmax_cross_entropy_backward"],
        ),
    ],
)
def test_each_kernel_is_compiled_ahead_for_the_types_its_call_compiles(
    monkeypatch, build, loss, kernels, floatx
):
    requests, waits = [], []
    monkeypatch.setattr(  # record, without forking
        numba_compile_ahead,
        "start",
        lambda kernel, example: requests.append((kernel, tuple(map(numba.typeof, example())))),
    )
    monkeypatch.setattr(numba_compile_ahead, "wait", waits.append)
    monkeypatch.setattr(engine.config, "_floatx", floatx)
    rng = numpy.random.default_rng(0)
    engine.utils.set_random_seed(0)
    with engine.use_backend("numba"):
        model = engine.models.Sequential(build())
        sparse = loss.startswith("sparse")
        if not sparse:  # the fused kernels take logits (a softmax layer goes to log_softmax)
            loss = engine.losses.CategoricalCrossentropy(from_logits=True)
        model.compile(optimizer="sgd", loss=loss)
        x = rng.standard_normal((5, *model.input_shape[1:])).astype(floatx)
        labels = rng.integers(0, 2, 5)
        model.train_on_batch(x, labels if sparse else numpy.eye(2)[labels])
    requested = {kernel.py_func.__name__: (kernel, types) for kernel, types in requests}
    for name in kernels:
        kernel, types = requested[name]  # the forward asked for it
        assert types in kernel.signatures, (name, types, kernel.signatures)  # and it was used
        assert kernel in waits, name  # after waiting for the child compiling it


_COLD_STEP = """
import json, sys
sys.path.insert(0, {repository!r})
import numpy, engine
from engine import layers
from backends import numba_compile_ahead
from backends.numba_kernels import recurrent
started = []
start = numba_compile_ahead.start
numba_compile_ahead.start = lambda *a: started.append(start(*a)) or started[-1]
engine.utils.set_random_seed(0)
with engine.use_backend("numba"):
    model = engine.models.Sequential(
        [layers.Input(shape=(5,)), layers.Embedding(20, 3), layers.LSTM(4), layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = numpy.random.default_rng(0).integers(0, 20, (8, 5))
    loss = float(model.train_on_batch(x, numpy.zeros((8, 1), "float32")))
stats = recurrent.lstm_backward.stats
print(json.dumps(dict(
    started=started, hits=len(stats.cache_hits), misses=len(stats.cache_misses),
    pending=len(numba_compile_ahead.pending()), loss=loss,
)))
"""


@pytest.mark.skipif(
    not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2,
    reason="compiling ahead needs os.fork and two CPUs",
)
def test_a_cold_step_loads_the_lstm_backward_compiled_ahead(tmp_path):
    script = _COLD_STEP.format(repository=REPOSITORY)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("ENGINE_NUMBA_COMPILE_AHEAD", None)
    env.pop("NUMBA_NUM_THREADS", None)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["started"] == [True]
    assert (report["hits"], report["misses"]) == (1, 0)  # loaded from the cache, not compiled
    assert report["pending"] == 0  # the child was waited for
    assert numpy.isfinite(report["loss"])


@numba.njit(cache=True)
def _cached_square(x):
    return x * x


@numba.njit
def _uncached_square(x):
    return x * x


def test_nothing_is_forked_where_it_cannot_help(monkeypatch):
    def fork():
        raise AssertionError("forked")

    monkeypatch.setattr(os, "fork", fork)
    monkeypatch.setattr(numba_compile_ahead, "enabled", lambda: True)
    monkeypatch.setattr(numba_compile_ahead, "_tried", set())
    # children earlier tests started (a forward whose backward never came) are not this one's
    monkeypatch.setattr(numba_compile_ahead, "_pending", {})
    assert not numba_compile_ahead.start(_uncached_square, lambda: (2.0,))  # no cache
    _cached_square(2.0)
    assert not numba_compile_ahead.start(_cached_square, lambda: (2.0,))  # compiled already
    assert not numba_compile_ahead.start(len, lambda: (2.0,))  # not jitted
    numba_compile_ahead._tried.clear()
    with pytest.raises(AssertionError, match="forked"):  # a type it has not compiled...
        numba_compile_ahead.start(_cached_square, lambda: (numpy.zeros((1, 1, 1, 1, 1)),))
    assert not numba_compile_ahead.start(  # ...only at the first call for the kernel
        _cached_square, lambda: (numpy.zeros((1, 1, 1, 1, 1, 1)),)
    )

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)  # a full process table
    numba_compile_ahead._tried.clear()
    assert not numba_compile_ahead.start(_cached_square, lambda: (numpy.zeros((1,) * 5),))
    assert not numba_compile_ahead.pending()
    monkeypatch.undo()

    monkeypatch.setenv("ENGINE_NUMBA_COMPILE_AHEAD", "0")
    assert not numba_compile_ahead.enabled()
    monkeypatch.delenv("ENGINE_NUMBA_COMPILE_AHEAD")
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", object())  # an MPI process
    assert not numba_compile_ahead.enabled()
    monkeypatch.delitem(sys.modules, "mpi4py.MPI")
    threads = engine.get_num_threads()
    engine.set_num_threads(1)  # the user asked for one core
    try:
        assert not numba_compile_ahead.enabled()
    finally:
        engine.set_num_threads(threads)


def test_wait_without_a_child_returns_at_once():
    numba_compile_ahead.wait(_cached_square)
    assert _cached_square not in numba_compile_ahead.pending()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_past_its_time_is_stopped(monkeypatch):
    pid = os.fork()
    if pid == 0:  # a child that would compile for 30 s (and never returns into pytest)
        try:
            time.sleep(30)
        finally:
            os._exit(0)
    monkeypatch.setattr(numba_compile_ahead, "WAIT_SECONDS", 0.2)
    monkeypatch.setitem(numba_compile_ahead._pending, _cached_square, (pid, None))
    start = time.monotonic()
    numba_compile_ahead.wait(_cached_square)
    assert time.monotonic() - start < 5
    assert _cached_square not in numba_compile_ahead.pending()
    with pytest.raises(ChildProcessError):  # stopped and reaped
        os.waitpid(pid, os.WNOHANG)


@pytest.mark.skipif(not os.path.exists("/proc/self/oom_score_adj"), reason="Linux's /proc")
def test_the_child_is_the_first_to_go_when_memory_runs_out():
    with open("/proc/self/oom_score_adj") as file:
        own = file.read().strip()
    pid = os.fork()
    if pid == 0:
        try:
            numba_compile_ahead.make_expendable()
            time.sleep(30)
        finally:
            os._exit(0)
    try:
        deadline, adjustment = time.monotonic() + 10, None
        while time.monotonic() < deadline and adjustment != "1000":
            with open(f"/proc/{pid}/oom_score_adj") as file:
                adjustment = file.read().strip()
            time.sleep(0.01)
        assert adjustment == "1000"
        with open("/proc/self/oom_score_adj") as file:
            assert file.read().strip() == own  # the parent keeps its own
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_task_runs_in_a_child_once_and_is_seen_finished(monkeypatch, tmp_path):
    monkeypatch.setattr(numba_compile_ahead, "enabled", lambda: True)
    monkeypatch.setattr(numba_compile_ahead, "_tried", set())
    marker = tmp_path / "ran"
    assert numba_compile_ahead.start_task("task", lambda: marker.write_text(str(os.getpid())))
    assert not numba_compile_ahead.start_task("task", lambda: None)  # once per key
    deadline = time.monotonic() + 30
    while not numba_compile_ahead.finished("task"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert int(marker.read_text()) != os.getpid()  # ran in the child, not here
    assert "task" not in numba_compile_ahead.pending()  # reaped
    assert numba_compile_ahead.finished("never started")
    monkeypatch.setattr(numba_compile_ahead, "enabled", lambda: False)
    assert not numba_compile_ahead.start_task("another", lambda: None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_busy_while_a_child_runs_and_not_once_it_ended(monkeypatch):
    """A forward's child whose backward never comes is reaped by ``busy`` once it ends, so
    that it does not hold back the native jobs' compiles for good."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # ends when the parent says so; never returns into pytest
        try:
            os.close(write)
            os.read(read, 1)
        finally:
            os._exit(0)
    os.close(read)
    monkeypatch.setitem(numba_compile_ahead._pending, _uncached_square, (pid, time.monotonic()))
    assert numba_compile_ahead.busy()
    os.write(write, b"x")
    os.close(write)
    deadline = time.monotonic() + 30
    while numba_compile_ahead.busy():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert _uncached_square not in numba_compile_ahead.pending()
    with pytest.raises(ChildProcessError):  # reaped
        os.waitpid(pid, os.WNOHANG)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_task_past_its_time_is_stopped(monkeypatch):
    pid = os.fork()
    if pid == 0:  # never returns into pytest
        try:
            time.sleep(30)
        finally:
            os._exit(0)
    monkeypatch.setitem(numba_compile_ahead._pending, "slow", (pid, time.monotonic()))
    assert not numba_compile_ahead.finished("slow")
    monkeypatch.setattr(numba_compile_ahead, "WAIT_SECONDS", 0.0)
    assert numba_compile_ahead.finished("slow")
    with pytest.raises(ChildProcessError):  # stopped and reaped
        os.waitpid(pid, os.WNOHANG)


_COLD_ADAM = """
import json, sys, time
sys.path.insert(0, {repository!r})
import numpy, backends
from backends import blas_threads, numba_dispatch, numba_compile_ahead, numba_native
from backends.base import Backend
backend = backends.get("numba")
if not blas_threads.installed():
    print(json.dumps(dict(installed=False)))
    sys.exit()
numba_dispatch.MIN_NATIVE_SPLIT_ADAM = 1000
JOB = "backends.numba_kernels.optimizers.adam_job_float32"
rng = numpy.random.default_rng(0)
param, grad = rng.standard_normal((2, 3000), dtype="float32")
ours = [param.copy(), numpy.zeros_like(param), numpy.zeros_like(param)]
reference = [param.copy(), numpy.zeros_like(param), numpy.zeros_like(param)]
calls, forked = [], []
for step in range(numba_native.START_AFTER + 2):
    if step == numba_native.START_AFTER:  # the child compiling the job has had time to end
        forked.append(JOB in numba_compile_ahead.pending())
        deadline = time.monotonic() + 60
        while not numba_compile_ahead.finished(JOB) and time.monotonic() < deadline:
            time.sleep(0.01)
    before = blas_threads.counts()["calls"]
    backend.adam_update(ours[0], grad, ours[1], ours[2], 0.01, 0.9, 0.999, 1e-7)
    calls.append(blas_threads.counts()["calls"] - before)
    Backend().adam_update(reference[0], grad, reference[1], reference[2], 0.01, 0.9, 0.999, 1e-7)
equal = all(numpy.array_equal(a, b) for a, b in zip(ours, reference))
print(json.dumps(dict(installed=True, calls=calls, forked=forked, equal=equal,
                      start_after=numba_native.START_AFTER)))
"""


@pytest.mark.skipif(
    not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2,
    reason="compiling ahead needs os.fork and two CPUs",
)
def test_on_a_cold_cache_adam_runs_on_one_thread_until_its_native_job_is_compiled(tmp_path):
    """The first split of Adam's update would wait ~0.6 s for its job to compile: from the
    ``START_AFTER``-th call a child compiles it while the update runs on one thread, bit
    for bit the same; once the child is done, the update runs as native jobs."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("ENGINE_NUMBA_COMPILE_AHEAD", None)
    env.pop("NUMBA_NUM_THREADS", None)
    script = _COLD_ADAM.format(repository=REPOSITORY)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if not report["installed"]:
        pytest.skip("NumPy's BLAS is not OpenBLAS with pthreads on Linux (no native jobs)")
    start_after = report["start_after"]  # its first calls, and the fork's, on one thread
    assert report["calls"] == [0] * start_after + [1, 1]
    assert report["forked"] == [True]
    assert report["equal"]
