"""The cupy backend without a GPU: a clear error, and no CuPy needed for anything else.

These run in child processes so that the environment (no ``ENGINE_CUDA_SIM``,
CuPy hidden) is exactly the one described, whatever the test run's own is.
"""

import os
import subprocess
import sys

import pytest

from backends import cupy_backend


def _run(code: str, **env) -> subprocess.CompletedProcess:
    settings = ("ENGINE_CUDA_SIM", "NUMBA_ENABLE_CUDASIM", "ENGINE_BACKEND", "ENGINE_TEST_BACKENDS")
    environment = {k: v for k, v in os.environ.items() if k not in settings}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )


def _gpu_here() -> bool:
    return not cupy_backend.simulation_enabled() and cupy_backend._probe_gpu() is None


@pytest.mark.skipif(_gpu_here(), reason="this machine has a working GPU")
def test_selecting_cupy_without_a_gpu_is_one_clear_line():
    result = _run("import engine\nengine.set_backend('cupy')")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("backends.errors.BackendUnavailableError: Backend 'cupy' is unavailable")
    assert 'pip install ".[gpu]"' in last
    # the CUDA error is summarized in the message, not raised as a traceback of its own
    assert "CUDARuntimeError" not in result.stderr.replace(last, "")
    assert "During handling" not in result.stderr


@pytest.mark.skipif(_gpu_here(), reason="this machine has a working GPU")
def test_available_leaves_cupy_out_without_a_gpu():
    result = _run("import backends\nprint(backends.available())")
    assert result.returncode == 0, result.stderr
    assert "cupy" not in result.stdout


def test_engine_works_without_cupy_installed():
    # a None entry in sys.modules makes `import cupy` raise ImportError
    code = (
        "import sys\n"
        "sys.modules['cupy'] = None\n"
        "import numpy, backends, engine\n"
        "assert 'cupy' not in backends.available()\n"
        "model = engine.models.Sequential([engine.layers.Dense(2, input_shape=(3,))])\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
        "model.fit(numpy.ones((4, 3)), numpy.ones((4, 2)), verbose=0)\n"
        "try:\n"
        "    engine.set_backend('cupy')\n"
        "except backends.BackendUnavailableError as error:\n"
        "    print(error)\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert "CuPy is not installed" in result.stdout


def test_importing_engine_does_not_import_cupy():
    result = _run("import sys, engine\nprint('cupy' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_simulation_needs_the_simulator_enabled_before_numba():
    code = (
        "import numba, backends\n"
        "from backends import cupy_backend\n"
        "print(cupy_backend.CupyBackend.unavailable_reason())\n"
    )
    result = _run(code, ENGINE_CUDA_SIM="1", NUMBA_ENABLE_CUDASIM="0")
    assert result.returncode == 0, result.stderr
    assert "NUMBA_ENABLE_CUDASIM=1" in result.stdout


def test_numba_cuda_gets_numpys_removed_row_stack_only_while_it_loads(monkeypatch):
    """numba-cuda 0.30.4 registers an overload for numpy.row_stack, which NumPy 2.5
    removed: the alias exists for the probe's compile only, and a present one is kept."""
    import numpy

    monkeypatch.delattr(numpy, "row_stack", raising=False)
    with cupy_backend._numpy_names_for_numba_cuda():
        assert numpy.row_stack is numpy.vstack  # noqa: NPY201
    assert not hasattr(numpy, "row_stack")

    def own(*arrays):
        return "own"

    monkeypatch.setattr(numpy, "row_stack", own, raising=False)
    with cupy_backend._numpy_names_for_numba_cuda():
        assert numpy.row_stack is own  # noqa: NPY201
    assert numpy.row_stack is own  # noqa: NPY201


def test_the_kernel_compiler_probe_compiles_with_the_alias_and_reports_failures(monkeypatch):
    import numpy
    from numba import cuda

    monkeypatch.delattr(numpy, "row_stack", raising=False)
    seen = []

    def compiles(signature):
        seen.append((signature, hasattr(numpy, "row_stack")))
        return lambda function: function

    monkeypatch.setattr(cuda, "jit", compiles)
    assert cupy_backend._probe_kernel_compiler() is None
    assert seen == [("void(float32[::1])", True)]

    def fails(signature):
        raise AttributeError("module 'numpy' has no attribute 'row_stack'")

    monkeypatch.setattr(cuda, "jit", fails)
    reason = cupy_backend._probe_kernel_compiler()
    assert reason == "AttributeError: module 'numpy' has no attribute 'row_stack'"


def test_a_kernel_compiler_that_fails_is_one_warning_and_the_generic_paths(monkeypatch):
    monkeypatch.setattr(cupy_backend, "_compiler_reason_cache", [])
    monkeypatch.setattr(cupy_backend, "_probe_kernel_compiler", lambda: "AttributeError: x")
    with pytest.warns(RuntimeWarning, match="numba.cuda cannot compile .*AttributeError: x.*"):
        assert not cupy_backend.CupyBackend._kernel_compiler_works()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not cupy_backend.CupyBackend._kernel_compiler_works()  # once a process
