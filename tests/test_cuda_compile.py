"""Every CUDA kernel of the cupy backend through the real compiler (NVVM to PTX), no GPU.

The CUDA simulator runs the kernels' bodies as Python and accepts code that
NVVM rejects (an untyped variable, an unsupported function); a GPU is not
always at hand. ``numba.cuda.compile_ptx`` compiles a kernel to PTX on the CPU
with the NVVM of numba-cuda's CUDA wheels: ``pip install "numba-cuda[cu12]"``
(CI installs it for this file, with ``ENGINE_TEST_REQUIRE_NVVM=1``, which
fails rather than skips without NVVM). Skipped where NVVM is missing or the
simulator is on (``NUMBA_ENABLE_CUDASIM=1`` replaces the compiler).

The argument types are those the backend's launches pass (``cupy_backend.py``,
``cupy_attention.py``, ``cupy_recurrent.py``): contiguous arrays of the float
dtype, int64 labels and indices, Python ints and bools. A kernel added to
``backends/cuda_kernels`` without a row here fails ``test_every_kernel_has_a_signature``.
"""

import importlib
import importlib.util
import os
import pkgutil

import numba
import pytest
from numba import types

from backends import cuda_kernels
from backends.cupy_backend import _first_line, _numpy_names_for_numba_cuda

#: the compute capability compiled for (Ampere; the kernels use nothing newer)
COMPUTE_CAPABILITY = (8, 0)


class _NoDevice:
    compute_capability = COMPUTE_CAPABILITY


def _skip_or_fail(reason):
    if os.environ.get("ENGINE_TEST_REQUIRE_NVVM") == "1":  # CI: a skip would hide it
        pytest.fail(reason)
    pytest.skip(reason)


def _compiler(monkeypatch):
    """``numba.cuda.compile_ptx``, or a skip saying why it cannot run here."""
    if numba.config.ENABLE_CUDASIM:
        pytest.skip("the CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1): no compiler to test")
    if importlib.util.find_spec("numba_cuda") is None:
        # Numba's own deprecated CUDA target is not what runs on a GPU (the gpu extra
        # installs numba-cuda), and it rejects some of the kernels' code that numba-cuda takes
        _skip_or_fail('needs numba-cuda (pip install "numba-cuda[cu12]")')
    from numba import cuda
    from numba.cuda import dispatcher

    # A device function called from a kernel compiles for the current device's compute
    # capability (numba-cuda 0.30), which needs a driver: there is none to ask here.
    monkeypatch.setattr(dispatcher, "get_current_device", _NoDevice)

    def probe(out):
        out[0] = 1.0

    try:
        with _numpy_names_for_numba_cuda():
            cuda.compile_ptx(probe, (types.float32[::1],), cc=COMPUTE_CAPABILITY)
    except Exception as error:  # no NVVM: numba-cuda's CUDA wheels are not installed
        _skip_or_fail(f'needs NVVM (pip install "numba-cuda[cu12]"): {_first_line(error)}')
    return cuda.compile_ptx


def _array(dtype, ndim):
    return types.Array(dtype, ndim, "C")


def _signatures(dtype):
    """``{kernel name: argument types}`` for one float dtype."""
    a1, a2, a3, a4 = (_array(dtype, n) for n in (1, 2, 3, 4))
    mask2, mask4 = _array(types.boolean, 2), _array(types.boolean, 4)
    labels, integer, flag = _array(types.int64, 1), types.int64, types.boolean
    attention = (a4, a4, a4, mask4, flag, dtype, flag)
    return {
        "activations.erf": (a1, a1),
        "losses.softmax_cross_entropy_forward": (a2, a2, a1, a2),
        "losses.softmax_cross_entropy_backward": (a2, a2, a1, a1, a2),
        "losses.sparse_softmax_cross_entropy_forward": (a2, labels, a1, a2),
        "losses.sparse_softmax_cross_entropy_backward": (a2, labels, a1, a2),
        "optimizers.sgd_update": (a1, a1, dtype),
        "optimizers.sgd_momentum_update": (a1, a1, a1, dtype, dtype, flag),
        "optimizers.adam_update": (a1,) * 4 + (dtype,) * 4,
        "optimizers.amsgrad_update": (a1,) * 5 + (dtype,) * 4,
        "optimizers.rmsprop_update": (a1,) * 3 + (dtype,) * 4,
        "optimizers.adagrad_update": (a1,) * 3 + (dtype,) * 2,
        "embedding.embedding_backward": (labels, a2, a2),
        "pooling.max_pool2d_backward": (a4, _array(types.int8, 4), a4) + (integer,) * 5,
        "recurrent.lstm_sequence_forward": (a2, mask2, flag, a3, a3, a3),
        "recurrent.lstm_sequence_backward": (a3, a2, a2, a2, mask2, flag, a3, a3, a3),
        "recurrent.gru_sequence_forward": (a2, a1, flag, mask2, flag, a3, a3, a3),
        "recurrent.gru_sequence_backward": (a3, a2, a2, mask2, flag, a3, a3, a3, a3, a3),
        "attention.forward": (a4, a4, a4, mask4, flag, dtype, flag, a4, a3),
        "attention.backward_query": (a4, *attention[:3], a3, a3, *attention[3:], a4),
        "attention.backward_key": (a4, *attention[:3], a3, a3, *attention[3:], a4, a4),
    }


def _kernels(dtype_name):
    """``{name: dispatcher}`` of every kernel (not device function) in ``cuda_kernels``."""
    found = {}
    for info in pkgutil.iter_modules(cuda_kernels.__path__):
        module = importlib.import_module(f"backends.cuda_kernels.{info.name}")
        if info.name == "attention":  # made per dtype by a factory
            kernels = module.kernels(dtype_name)
            named = zip(("forward", "backward_query", "backward_key"), kernels)
        else:
            named = vars(module).items()
        found.update({f"{info.name}.{name}": value for name, value in named if _is_kernel(value)})
    return found


def _is_kernel(value) -> bool:
    """A ``cuda.jit`` kernel, not a device function (the simulator's wrappers too)."""
    if hasattr(value, "targetoptions"):
        return not value.targetoptions.get("device", False)
    if type(value).__name__ == "FakeCUDAKernel":
        return not value._device
    return False


def test_every_kernel_has_a_signature():
    assert set(_kernels("float32")) == set(_signatures(types.float32))


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_every_kernel_compiles_to_ptx(dtype_name, monkeypatch):
    compile_ptx = _compiler(monkeypatch)
    signatures = _signatures(getattr(types, dtype_name))
    failures = []
    with _numpy_names_for_numba_cuda():
        for name, kernel in sorted(_kernels(dtype_name).items()):
            try:
                ptx, _ = compile_ptx(kernel.py_func, signatures[name], cc=COMPUTE_CAPABILITY)
            except Exception as error:
                failures.append(f"{name}: {type(error).__name__}: {str(error)[:400]}")
                continue
            assert ".entry" in ptx, name
    assert not failures, "\n".join(failures)
