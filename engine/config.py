"""Global settings: the current backend and the default float dtype.

The current backend lives in a ContextVar so ``use_backend`` scopes it
correctly across threads and async tasks.
"""

import contextlib
import contextvars
import os

import backends

_DEFAULT_BACKEND = os.environ.get("ENGINE_BACKEND", "numpy")
_current_backend: contextvars.ContextVar[str] = contextvars.ContextVar(
    "engine_backend", default=_DEFAULT_BACKEND
)
_floatx = "float32"


def get_backend() -> backends.Backend:
    """The backend new tensors and layers are created on."""
    return backends.get(_current_backend.get())


def set_backend(name: str) -> None:
    """Make ``name`` the default backend; raises BackendUnavailableError if it cannot run."""
    backends.get(name)
    _current_backend.set(name)


@contextlib.contextmanager
def use_backend(name: str):
    """Run a block with ``name`` as the current backend."""
    backends.get(name)
    token = _current_backend.set(name)
    try:
        yield backends.get(name)
    finally:
        _current_backend.reset(token)


def resolve_backend(backend) -> backends.Backend:
    """A Backend instance from None (current), a name, or an instance."""
    if backend is None:
        return get_backend()
    if isinstance(backend, str):
        return backends.get(backend)
    return backend


def floatx() -> str:
    """The default float dtype of weights and inputs, as in ``keras.config.floatx()``."""
    return _floatx


def set_floatx(dtype: str) -> None:
    global _floatx
    if dtype not in ("float32", "float64"):
        raise ValueError(f"set_floatx: expected 'float32' or 'float64', got {dtype!r}.")
    _floatx = dtype
