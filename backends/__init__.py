"""Array backends: a registry of ``Backend`` classes by name.

>>> import backends
>>> backends.available()          # what runs on this machine
['numpy', 'numba']
>>> backends.get("numpy").matmul(a, b)
"""

import importlib
import os

# The cupy backend's simulation mode runs its kernels under Numba's CUDA
# simulator, which Numba reads only at its first import (see cupy_backend.py).
if os.environ.get("ENGINE_CUDA_SIM") == "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from .base import Backend
from .errors import BackendMismatchError, BackendUnavailableError, DeviceOutOfMemoryError

__all__ = [
    "Backend",
    "BackendMismatchError",
    "BackendUnavailableError",
    "DeviceOutOfMemoryError",
    "available",
    "get",
    "names",
    "register",
    "seed_all",
]

# name -> "module:Class" (imported on first use) or a Backend subclass
_registry: dict[str, object] = {
    "numpy": "backends.numpy_backend:NumpyBackend",
    "numba": "backends.numba_backend:NumbaBackend",
    "cupy": "backends.cupy_backend:CupyBackend",
}
_instances: dict[str, Backend] = {}
_seed: int | None = None
# what to install when a built-in backend's module fails to import
_IMPORT_HINTS = {
    "numba": "pip install numba scipy (dependencies of this package: reinstall it)",
    "cupy": 'pip install ".[gpu]" on a machine with an NVIDIA GPU and driver',
}


def register(name: str, backend_class) -> None:
    """Register a ``Backend`` subclass (or a lazy ``"module:Class"`` path) under ``name``."""
    _registry[name] = backend_class
    _instances.pop(name, None)


def names() -> list[str]:
    """Every registered backend name, available here or not."""
    return list(_registry)


def _resolve(name: str):
    try:
        entry = _registry[name]
    except KeyError:
        raise ValueError(
            f"Unknown backend '{name}'. Registered backends: {', '.join(sorted(_registry))}."
        ) from None
    if isinstance(entry, str):
        module_name, class_name = entry.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            return None, f"importing {module_name} failed ({error})."
        entry = getattr(module, class_name)
        _registry[name] = entry
    return entry, None


def get(name: str) -> Backend:
    """The shared instance of backend ``name``; raises BackendUnavailableError if it cannot run."""
    instance = _instances.get(name)
    if instance is not None:
        return instance
    backend_class, import_error = _resolve(name)
    if backend_class is None:
        raise BackendUnavailableError(name, import_error, _IMPORT_HINTS.get(name, ""))
    reason = backend_class.unavailable_reason()
    if reason is not None:
        raise BackendUnavailableError(name, reason, backend_class.install_hint())
    instance = _instances[name] = backend_class()
    if _seed is not None:
        instance.seed(_seed)
    return instance


def seed_all(seed: int) -> None:
    """Seed the random generators of every backend, loaded now or later."""
    global _seed
    _seed = seed
    for instance in _instances.values():
        instance.seed(seed)


def available() -> list[str]:
    """Names of the registered backends that can run on this machine."""
    usable = []
    for name in _registry:
        backend_class, _ = _resolve(name)
        if backend_class is not None and backend_class.unavailable_reason() is None:
            usable.append(name)
    return usable
