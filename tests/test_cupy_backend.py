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
