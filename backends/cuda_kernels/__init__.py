"""CUDA kernels of the cupy backend, written with ``numba.cuda``.

Each kernel is a plain ``@cuda.jit`` function over 1-D grids with a
grid-stride loop, so it is correct for any launch configuration: 256 threads
per block on a GPU, a smaller configuration under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, which must be set before Numba is imported). On a
GPU the kernels take CuPy arrays through ``__cuda_array_interface__``; under
the simulator they take NumPy arrays. They compile lazily on first call, per
argument types. Keep them simple and typed: the simulator runs Python and
accepts code that real CUDA compilation rejects.
"""


def simulated_device_array(array):
    """Wrap a host array as the simulator's device array, without a copy.

    Given a plain NumPy array, the simulator copies it in before a launch and
    back after it, as real Numba does for host arrays: read-only inputs (a
    broadcast view) then fail the copy back, and the writes would not be the
    in-place ones a kernel on a CuPy array makes. Wrapped, the kernel reads
    and writes the array itself, as it does a CuPy array on a GPU.
    """
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    return FakeCUDAArray(array)
