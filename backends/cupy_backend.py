"""The cupy backend: the generic kernels on ``cupy.ndarray``, plus fused CUDA kernels.

Everything runs through the generic kernels of ``backends.base`` with
``xp = cupy`` (convolution is already im2col + ``cupy.matmul``, i.e. cuBLAS);
``cuda_kernels/`` (written with ``numba.cuda``) replaces the paths where the
generic one launches many small kernels, allocates temporaries or leaves the
device: ``erf`` (exact GELU), fused softmax + cross-entropy, the in-place
optimizer updates, the embedding scatter-add, max-pooling backward, attention
(``cupy_attention.py``) and LSTM and GRU sequences, the time loop in one launch
(``cupy_recurrent.py``). Overrides fall back to ``super()`` for inputs their
kernels do not cover (non-float dtypes, non-contiguous state).

On a GPU the backend first compiles a one-line kernel (``_probe_kernel_compiler``):
where numba.cuda cannot compile (an incompatible numba-cuda), one warning says so and
every override takes the generic path (``custom_kernels`` is False).

Simulation mode (``ENGINE_CUDA_SIM=1``) makes this backend available without a
GPU, for tests: ``xp`` is ``simulated_cupy``'s NumPy, whose device arrays refuse
host arrays as CuPy's do (``TypeError`` for ``device + host``, ``numpy.asarray(device)``),
the custom kernels run on the arrays they hold under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, set by ``backends`` when ``ENGINE_CUDA_SIM=1`` unless
Numba was imported first), and transfers copy as a real host/device transfer does.
What runs is this class's own code: its availability check, its dispatch to kernels
or ``super()``, its launch arithmetic and its kernels' bodies, and the engine's
keeping of host and device arrays apart. What simulation does NOT test: real CUDA
compilation of the kernels (the simulator runs them as Python and accepts
code that NVVM rejects: ``tests/test_cuda_compile.py`` compiles them to PTX
without a GPU where numba-cuda's NVVM is installed), CuPy's own functions and kernels (NumPy's run
instead; ``tests/test_xp_namespace.py`` only checks the names exist in
CuPy), cuBLAS, CuPy's memory pool and out-of-memory behaviour, streams and
asynchronous execution, races between threads of real warps, and performance.
Simulated launches also use one small block (``SIM_THREADS_PER_BLOCK``) rather
than the real 256-thread grid, to keep the simulator fast; every kernel uses a
grid-stride loop, and the tests also run each kernel once with the real
launch configuration. The whole-sequence LSTM and GRU kernels are off in
simulation (``fused_sequences``) except in the tests of them: the simulator
runs their recurrent products as Python, too slowly for the layer tests.
"""

import contextlib
import os
import warnings

import numpy

from .base import Backend
from .cuda_kernels import simulated_device_array
from .cupy_attention import CudaAttentionOverrides
from .cupy_recurrent import CudaRecurrentOverrides
from .kernels.pooling import _pool_geometry

THREADS_PER_BLOCK = 256
#: beyond this many blocks, kernels loop (grid-stride) rather than launch more
MAX_BLOCKS = 4096
#: the simulator starts a Python thread per CUDA thread: one small block keeps it fast
SIM_THREADS_PER_BLOCK = 4  # grid-stride loops make any count correct
SIM_MAX_BLOCKS = 1

_FLOATS = ("float32", "float64")
_gpu_reason_cache: list = []  # [reason or None] once probed
_compiler_reason_cache: list = []  # likewise, for numba.cuda's kernel compiler


def simulation_enabled() -> bool:
    """True when ``ENGINE_CUDA_SIM=1``: the backend runs on host arrays through the simulator."""
    return os.environ.get("ENGINE_CUDA_SIM", "") == "1"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _probe_gpu() -> str | None:
    """Why CuPy cannot run on a GPU here, or None; probed once per process."""
    try:
        import cupy
    except Exception as error:  # ImportError, or a broken CUDA library install
        return f"CuPy is not installed or does not import ({_first_line(error)})."
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # raises, rather than returning 0, without a driver
        return f"no usable NVIDIA driver ({_first_line(error)})."
    if count == 0:
        return "no NVIDIA GPU was found."
    try:
        # a tiny kernel and a copy back prove the driver and runtime work together
        if int(cupy.arange(3).sum().get()) != 3:
            return "a test kernel on GPU 0 gave a wrong result."
    except Exception as error:
        return f"GPU 0 could not run a test kernel ({_first_line(error)})."
    try:
        from numba import cuda  # noqa: F401  (the custom kernels are numba.cuda kernels)
    except Exception as error:
        return f"numba.cuda does not import ({_first_line(error)})."
    return None


@contextlib.contextmanager
def _numpy_names_for_numba_cuda():
    """NumPy's removed ``row_stack`` (an alias of ``vstack``), for the block's duration.

    numba-cuda 0.30.4 (the newest, December 2026) registers an overload for
    ``numpy.row_stack`` when it loads its typing registries, at the first kernel compile
    of a process. NumPy 2.5
    removed that alias, so there the load raises AttributeError and no kernel compiles.
    The alias is added only where it is missing, and removed again after the block."""
    added = not hasattr(numpy, "row_stack")
    if added:
        numpy.row_stack = numpy.vstack  # noqa: NPY201 (the removed alias, restored)
    try:
        yield
    finally:
        if added:
            del numpy.row_stack  # noqa: NPY201


def _probe_kernel(out):
    out[0] = 1.0


def _probe_kernel_compiler() -> str | None:
    """Why numba.cuda cannot compile the custom kernels here, or None: compiles a one-line
    kernel, which loads numba-cuda's typing registries (once per process)."""
    try:
        from numba import cuda

        with _numpy_names_for_numba_cuda():
            cuda.jit("void(float32[::1])")(_probe_kernel)
    except Exception as error:  # an incompatible numba-cuda, NVVM missing, ...
        return _first_line(error)
    return None


def _probe_simulator() -> str | None:
    try:
        import numba
    except ImportError as error:
        return f"ENGINE_CUDA_SIM=1 needs Numba's CUDA simulator; Numba does not import ({error})."

    if not numba.config.ENABLE_CUDASIM:
        return (
            "ENGINE_CUDA_SIM=1 needs Numba's CUDA simulator, but Numba was imported "
            "without NUMBA_ENABLE_CUDASIM=1 (it must be set before Numba is imported)."
        )
    return None


class CupyBackend(CudaAttentionOverrides, CudaRecurrentOverrides, Backend):
    """Kernels on ``cupy.ndarray`` (``xp = cupy``), or on host arrays in simulation mode."""

    name = "cupy"

    def __init__(self):
        self.simulated = simulation_enabled()
        if self.simulated:
            from . import simulated_cupy  # NumPy, keeping host arrays out as CuPy does

            self.xp = simulated_cupy.namespace
            self.threads_per_block, self.max_blocks = SIM_THREADS_PER_BLOCK, SIM_MAX_BLOCKS
        else:
            import cupy

            self.xp = cupy
            self.threads_per_block, self.max_blocks = THREADS_PER_BLOCK, MAX_BLOCKS
        # imported here: numba.cuda must see NUMBA_ENABLE_CUDASIM before its first import
        from .cuda_kernels import activations, embedding, losses, optimizers, pooling, recurrent

        self._activations = activations
        self._losses, self._optimizers = losses, optimizers
        self._embedding, self._pooling = embedding, pooling
        self._recurrent = recurrent
        #: whether the overrides run the custom kernels (else CuPy's generic paths)
        self.custom_kernels = self.simulated or self._kernel_compiler_works()
        #: whether LSTM and GRU sequences run as one kernel launch each way. Off in
        #: simulation: the simulator runs their recurrent products as Python, ~25 us a
        #: multiply-add, minutes for the layer tests' finite differences; the tests that
        #: check these kernels turn it on.
        self.fused_sequences = not self.simulated
        #: host->device and device->host copies made by asarray / to_numpy (simulation only)
        self.transfers = {"to_device": 0, "to_host": 0}
        #: the GPU set by ``use_device`` (None: CuPy's current device)
        self.device_id: int | None = None
        super().__init__()

    # -- availability -----------------------------------------------------

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if simulation_enabled():
            return _probe_simulator()
        if not _gpu_reason_cache:
            _gpu_reason_cache.append(_probe_gpu())
        return _gpu_reason_cache[0]

    @staticmethod
    def _kernel_compiler_works() -> bool:
        """Whether numba.cuda compiles here; if not, a warning (once a process) that the
        backend runs CuPy's generic paths, which are correct but launch more kernels."""
        if not _compiler_reason_cache:
            reason = _probe_kernel_compiler()
            _compiler_reason_cache.append(reason)
            if reason is not None:
                import numba

                warnings.warn(
                    f"cupy backend: numba.cuda cannot compile the fused CUDA kernels here "
                    f"({reason}); training runs on CuPy's generic kernels instead, which give "
                    f"the same results with more kernel launches. Check that numba-cuda "
                    f"supports NumPy {numpy.__version__} and Numba {numba.__version__}.",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return _compiler_reason_cache[0] is None

    @classmethod
    def install_hint(cls) -> str:
        return (
            'install CuPy and numba-cuda with `pip install ".[gpu]"` on a machine with an '
            "NVIDIA GPU and driver (nvidia-smi must work), or pick another backend "
            "(engine.set_backend('numpy')). For tests without a GPU, set ENGINE_CUDA_SIM=1."
        )

    @property
    def out_of_memory_errors(self) -> tuple:
        """Exception classes that mean the device ran out of memory."""
        if self.simulated:
            return (MemoryError,)
        import cupy

        return (cupy.cuda.memory.OutOfMemoryError, MemoryError)

    # -- arrays in and out ------------------------------------------------

    def asarray(self, data, dtype=None):
        if self.simulated:
            # a transfer to the device never aliases host memory; nor does this
            self.transfers["to_device"] += 1
            return self.xp.array(data, dtype=dtype, copy=True)
        if self.device_id is not None:  # from any thread (a Dataset's prefetch) to our GPU
            with self.xp.cuda.Device(self.device_id):
                return self.xp.asarray(data, dtype=dtype)
        return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, array) -> numpy.ndarray:
        if self.simulated:
            self.transfers["to_host"] += 1
            return array.get() if isinstance(array, self.xp.ndarray) else numpy.array(array)
        if isinstance(array, self.xp.ndarray):
            return array.get()
        return numpy.asarray(array)

    # -- which GPU ----------------------------------------------------------

    def device_count(self) -> int:
        """GPUs visible to this process (1 in simulation)."""
        return 1 if self.simulated else int(self.xp.cuda.runtime.getDeviceCount())

    def use_device(self, device_id: int) -> None:
        """Put this process's arrays and kernels on GPU ``device_id`` (a data-parallel rank
        per GPU: ``engine.distribute`` picks the rank's local index)."""
        if not 0 <= device_id < self.device_count():
            raise ValueError(
                f"cupy backend: GPU {device_id} does not exist; {self.device_count()} visible."
            )
        if not self.simulated:
            self.xp.cuda.Device(device_id).use()
            from numba import cuda

            cuda.select_device(device_id)  # the custom kernels' context: the same primary one
        self.device_id = device_id

    def synchronize(self) -> None:
        """Wait for all queued GPU work (CuPy's and the custom kernels') to finish."""
        if not self.simulated:
            self.xp.cuda.Device().synchronize()

    def device_info(self) -> dict:
        """Name and memory of the current device (``{"name": "simulated"}`` in simulation)."""
        if self.simulated:
            return {"name": "Numba CUDA simulator (host)", "total_bytes": 0, "free_bytes": 0}
        runtime = self.xp.cuda.runtime
        device = self.xp.cuda.Device()
        name = runtime.getDeviceProperties(device.id)["name"]
        free, total = device.mem_info
        return {
            "name": name.decode() if isinstance(name, bytes) else name,
            "total_bytes": total,
            "free_bytes": free,
        }

    # -- launching --------------------------------------------------------

    def _launch(self, kernel, size: int, *args) -> None:
        """A 1-D launch covering ``size`` work items (grid-stride beyond ``max_blocks``)."""
        blocks = min(max(1, -(-size // self.threads_per_block)), self.max_blocks)
        self._launch_grid(kernel, blocks, self.threads_per_block, args)

    def _launch_rows(self, kernel, rows: int, width: int, *args) -> None:
        """A block per row (grid-stride beyond ``max_blocks``), its threads over ``width``
        columns: up to ``threads_per_block``, whole warps."""
        threads = min(self.threads_per_block, -(-width // 32) * 32)
        self._launch_grid(kernel, min(max(1, rows), self.max_blocks), threads, args)

    def _launch_grid(self, kernel, blocks: int, threads: int, args) -> None:
        if not self.simulated:
            kernel[blocks, threads](*args)
            return
        args = [a.host if isinstance(a, self.xp.ndarray) else a for a in args]
        args = [
            simulated_device_array(a) if isinstance(a, numpy.ndarray) and a.ndim else a
            for a in args
        ]
        # GPU arithmetic overflows to inf silently; the simulator's NumPy scalars
        # would warn, from threads that the caller's numpy.errstate does not reach.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            kernel[blocks, threads](*args)

    def _floats(self, *arrays) -> bool:
        """True when the custom kernels can run and the arrays share one float dtype they
        are compiled for (every override asks this before it launches a kernel)."""
        dtype = arrays[0].dtype
        return (
            self.custom_kernels and dtype.name in _FLOATS and all(a.dtype == dtype for a in arrays)
        )

    @staticmethod
    def _in_place_ok(*arrays) -> bool:
        """Flattening must give views for in-place updates: all C-contiguous, one shape."""
        shape = arrays[0].shape
        return all(a.flags.c_contiguous and a.shape == shape for a in arrays)

    # -- activations ------------------------------------------------------

    def erf(self, x):
        """Error function on the device, one kernel (the reference makes about 30 array passes)."""
        if not self._floats(x):
            return super().erf(x)
        out = self.xp.empty(x.shape, dtype=x.dtype)
        if x.size:
            flat = self.xp.ascontiguousarray(x).reshape(-1)
            self._launch(self._activations.erf, x.size, flat, out.reshape(-1))
        return out

    # -- fused softmax + cross-entropy ------------------------------------

    def softmax_cross_entropy_forward(self, logits, targets):
        if logits.ndim != 2 or not self._floats(logits, targets):
            return super().softmax_cross_entropy_forward(logits, targets)
        loss = self.xp.empty(logits.shape[0], dtype=logits.dtype)
        probs = self.xp.empty_like(logits)
        kernel = self._losses.softmax_cross_entropy_forward
        self._launch(kernel, logits.shape[0], logits, targets, loss, probs)
        return loss, probs

    def softmax_cross_entropy_backward(self, probs, targets, dloss):
        if not self._floats(probs, targets, dloss):
            return super().softmax_cross_entropy_backward(probs, targets, dloss)
        grad = self.xp.empty_like(probs)
        totals = targets.sum(axis=1)  # the rows' target sums (Keras's need not be one)
        kernel = self._losses.softmax_cross_entropy_backward
        self._launch(kernel, probs.size, probs, targets, totals, dloss, grad)
        return grad

    def sparse_softmax_cross_entropy_forward(self, logits, labels):
        if logits.ndim != 2 or labels.dtype.kind not in "iu" or not self._floats(logits):
            return super().sparse_softmax_cross_entropy_forward(logits, labels)
        loss = self.xp.empty(logits.shape[0], dtype=logits.dtype)
        probs = self.xp.empty_like(logits)
        kernel = self._losses.sparse_softmax_cross_entropy_forward
        self._launch(kernel, logits.shape[0], logits, labels, loss, probs)
        return loss, probs

    def sparse_softmax_cross_entropy_backward(self, probs, labels, dloss):
        if labels.dtype.kind not in "iu" or not self._floats(probs, dloss):
            return super().sparse_softmax_cross_entropy_backward(probs, labels, dloss)
        grad = self.xp.empty_like(probs)
        kernel = self._losses.sparse_softmax_cross_entropy_backward
        self._launch(kernel, probs.size, probs, labels, dloss, grad)
        return grad

    # -- optimizer updates (in place) -------------------------------------

    def _update(self, kernel, arrays, scalars) -> None:
        flat = [a.reshape(-1) for a in arrays]
        cast = arrays[0].dtype.type
        self._launch(kernel, flat[0].size, *flat, *[cast(s) for s in scalars])

    def sgd_update(self, param, grad, lr):
        if not (self._floats(param, grad) and self._in_place_ok(param, grad)):
            return super().sgd_update(param, grad, lr)
        self._update(self._optimizers.sgd_update, (param, grad), (lr,))

    def sgd_momentum_update(self, param, grad, velocity, lr, momentum, nesterov=False):
        arrays = (param, grad, velocity)
        if not (self._floats(*arrays) and self._in_place_ok(*arrays)):
            return super().sgd_momentum_update(param, grad, velocity, lr, momentum, nesterov)
        flat = [a.reshape(-1) for a in arrays]
        cast = param.dtype.type
        kernel = self._optimizers.sgd_momentum_update
        self._launch(kernel, param.size, *flat, cast(lr), cast(momentum), bool(nesterov))

    def adam_update(self, param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat=None):
        arrays = (param, grad, m, v) + ((v_hat,) if v_hat is not None else ())
        if not (self._floats(*arrays) and self._in_place_ok(*arrays)):
            return super().adam_update(param, grad, m, v, lr_t, beta_1, beta_2, epsilon, v_hat)
        scalars = (lr_t, 1 - beta_1, 1 - beta_2, epsilon)
        if v_hat is None:
            self._update(self._optimizers.adam_update, arrays, scalars)
        else:
            self._update(self._optimizers.amsgrad_update, arrays, scalars)

    def rmsprop_update(
        self,
        param,
        grad,
        velocity,
        lr,
        rho,
        epsilon,
        momentum_buffer=None,
        momentum=0.0,
        average_grad=None,
    ):
        arrays = (param, grad, velocity)
        plain = momentum_buffer is None and average_grad is None
        if not (plain and self._floats(*arrays) and self._in_place_ok(*arrays)):
            return super().rmsprop_update(
                param, grad, velocity, lr, rho, epsilon, momentum_buffer, momentum, average_grad
            )
        self._update(self._optimizers.rmsprop_update, arrays, (lr, rho, 1 - rho, epsilon))

    def adagrad_update(self, param, grad, accumulator, lr, epsilon):
        arrays = (param, grad, accumulator)
        if not (self._floats(*arrays) and self._in_place_ok(*arrays)):
            return super().adagrad_update(param, grad, accumulator, lr, epsilon)
        self._update(self._optimizers.adagrad_update, arrays, (lr, epsilon))

    # -- embedding and pooling gradients ----------------------------------

    def embedding_backward(self, indices, grad, input_dim: int):
        if indices.dtype.kind not in "iu" or not self._floats(grad):
            return super().embedding_backward(indices, grad, input_dim)
        output_dim = grad.shape[-1]
        table_grad = self.xp.zeros((input_dim, output_dim), dtype=grad.dtype)
        rows = grad.reshape(-1, output_dim)
        self._launch(
            self._embedding.embedding_backward, rows.size, indices.reshape(-1), rows, table_grad
        )
        return table_grad

    def max_pool2d_backward(self, dy, argmax, x_shape, pool_size, strides, padding="valid"):
        if not self._floats(dy):
            return super().max_pool2d_backward(dy, argmax, x_shape, pool_size, strides, padding)
        pads, _ = _pool_geometry(x_shape, pool_size, strides, padding)
        dx = self.xp.zeros(tuple(x_shape), dtype=dy.dtype)
        kernel = self._pooling.max_pool2d_backward
        self._launch(
            kernel,
            dy.size,
            dy,
            argmax,
            dx,
            int(pool_size[1]),
            int(strides[0]),
            int(strides[1]),
            int(pads[0][0]),
            int(pads[1][0]),
        )
        return dx
