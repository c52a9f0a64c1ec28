"""Compiling a recurrent backward kernel in a forked child while the forward compiles.

What is checked: the signature compiled ahead is the one the backward's call
compiles (else the child's work would be wasted); on a cold cache, a training
step loads the backward from the cache instead of compiling it; and where it
cannot help (turned off, one thread, no cache, already compiled) nothing is
forked, and a child past its time is stopped.
"""

import json
import os
import subprocess
import sys
import time

import numpy
import pytest

import backends
import engine

pytest.importorskip("numba")

import numba  # noqa: E402

from backends import numba_compile_ahead, numba_recurrent  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def numba_backend():
    return backends.get("numba")


def run_sequence(backend, kind, dtype, rng):
    """One forward and backward of ``kind``'s sequence kernels (2 steps, batch 3, 4 units)."""
    steps, batch, units = 2, 3, 4
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]

    def random(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x_proj, kernel, h0 = (
        random(steps, batch, gates * units),
        random(units, gates * units),
        random(batch, units),
    )
    grads = random(steps, batch, units), random(batch, units)
    if kind == "simple_rnn":
        *_, cache = backend.simple_rnn_sequence_forward(x_proj, kernel, h0)
        backend.simple_rnn_sequence_backward(*grads, kernel, cache)
    elif kind == "lstm":
        *_, cache = backend.lstm_sequence_forward(x_proj, kernel, h0, random(batch, units))
        backend.lstm_sequence_backward(*grads, random(batch, units), kernel, cache)
    else:
        *_, cache = backend.gru_sequence_forward(x_proj, kernel, random(gates * units), h0)
        backend.gru_sequence_backward(*grads, kernel, cache)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_the_signature_compiled_ahead_is_the_backwards_own(numba_backend, kind, dtype, rng):
    run_sequence(numba_backend, kind, dtype, rng)
    kernel = getattr(numba_backend._recurrent, f"{kind}_backward")
    expected = numba_recurrent.backward_signature(f"{kind}_backward", numpy.dtype(dtype))
    assert expected in kernel.signatures, (expected, kernel.signatures)


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
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    signature = (numba.float64,)
    assert not numba_compile_ahead.start(_uncached_square, signature)  # no cache
    _cached_square(2.0)
    assert not numba_compile_ahead.start(_cached_square, signature)  # compiled already
    assert not numba_compile_ahead.start(len, signature)  # not jitted

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
    if pid == 0:  # a child that would compile for 30 s
        time.sleep(30)
        os._exit(0)
    monkeypatch.setattr(numba_compile_ahead, "WAIT_SECONDS", 0.2)
    monkeypatch.setitem(numba_compile_ahead._pending, _cached_square, (pid, None))
    start = time.monotonic()
    numba_compile_ahead.wait(_cached_square)
    assert time.monotonic() - start < 5
    assert _cached_square not in numba_compile_ahead.pending()
    with pytest.raises(ChildProcessError):  # stopped and reaped
        os.waitpid(pid, os.WNOHANG)
