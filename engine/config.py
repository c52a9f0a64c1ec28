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


# -- Keras's ``keras.config`` settings ---------------------------------------

_epsilon = 1e-7
_traceback_filtering = True


def backend() -> str:
    """The name of the current backend (``"numpy"``, ``"numba"`` or ``"cupy"``), as
    ``keras.config.backend()`` names Keras's."""
    return _current_backend.get()


def epsilon() -> float:
    """The fuzz factor of ``keras.config.epsilon()`` (1e-7), used by ``Normalization``."""
    return _epsilon


def set_epsilon(value: float) -> None:
    """Set the value ``epsilon()`` returns.

    The losses' probability clipping and the norm constraints keep Keras's
    default, 1e-7, in their compiled kernels; another value warns that they do.
    """
    global _epsilon
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"set_epsilon: expected a positive number, got {value!r}.")
    if float(value) != 1e-7:
        import warnings

        warnings.warn(
            f"set_epsilon({value}): epsilon() and Normalization use the new value; the "
            f"cross-entropy clipping and the norm constraints keep 1e-7.",
            UserWarning,
            stacklevel=2,
        )
    _epsilon = float(value)


def image_data_format() -> str:
    """Always ``"channels_last"``: images are ``(batch, height, width, channels)``."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    """Accepts ``"channels_last"`` only: the convolution, pooling and image layers compute
    on channels-last images."""
    if data_format == "channels_last":
        return
    if data_format == "channels_first":
        raise ValueError(
            "set_image_data_format('channels_first'): this library supports "
            "image_data_format='channels_last' only ((batch, height, width, channels)); "
            "transpose channels-first data with numpy.moveaxis(x, 1, -1)."
        )
    raise ValueError(
        f"set_image_data_format: `data_format` must be 'channels_last' (or Keras's "
        f"'channels_first', not supported here), got {data_format!r}."
    )


def enable_traceback_filtering() -> None:
    """Kept for Keras programs: tracebacks here are never filtered, so this does nothing."""
    global _traceback_filtering
    _traceback_filtering = True


def disable_traceback_filtering() -> None:
    """Kept for Keras programs: tracebacks here are never filtered, so this does nothing."""
    global _traceback_filtering
    _traceback_filtering = False


def is_traceback_filtering_enabled() -> bool:
    """The last setting made (Keras's default True); it changes no traceback."""
    return _traceback_filtering


# -- interactive logging (Keras's ``keras.config.*_interactive_logging``) ------

_interactive_logging = True


def enable_interactive_logging() -> None:
    """Progress bars and messages go to stdout (the default)."""
    global _interactive_logging
    _interactive_logging = True


def disable_interactive_logging() -> None:
    """Progress bars (their final line of each epoch) and ``utils.progbar.print_msg``
    messages go to Python's ``logging`` (logger ``"engine"``, level INFO) instead of
    stdout, as Keras sends them to its logger: for jobs whose output goes to log files."""
    global _interactive_logging
    _interactive_logging = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress goes to stdout (True, the default) or to ``logging``."""
    return _interactive_logging


# -- debugging caps on training (Keras's ``keras.config.set_max_epochs``...) ---------


def _environment_int(name: str):
    value = os.environ.get(name)
    return None if value in (None, "") else int(value)


_max_epochs = _environment_int("KERAS_MAX_EPOCHS")
_max_steps_per_epoch = _environment_int("KERAS_MAX_STEPS_PER_EPOCH")


def max_epochs():
    """The cap on ``fit``'s epochs (None: none), from ``set_max_epochs`` or the
    ``KERAS_MAX_EPOCHS`` environment variable, as in Keras: for quick debugging runs."""
    return _max_epochs


def set_max_epochs(max_epochs) -> None:
    """Cap the epochs of every ``fit`` (None removes the cap); ``fit`` warns when it cuts."""
    global _max_epochs
    _max_epochs = None if max_epochs is None else int(max_epochs)


def max_steps_per_epoch():
    """The cap on the batches of each epoch of ``fit``, ``evaluate`` and ``predict``, from
    ``set_max_steps_per_epoch`` or ``KERAS_MAX_STEPS_PER_EPOCH``."""
    return _max_steps_per_epoch


def set_max_steps_per_epoch(max_steps_per_epoch) -> None:
    """Cap the batches of every epoch (None removes the cap); a warning says when it cuts."""
    global _max_steps_per_epoch
    _max_steps_per_epoch = None if max_steps_per_epoch is None else int(max_steps_per_epoch)


# -- attention and JAX flags, kept for Keras programs --------------------------------

_flash_attention = None


def enable_flash_attention() -> None:
    """Let attention use flash attention where it can (Keras's default, None: automatic).
    Here the fused attention kernels are always the blocked (flash-style) ones."""
    global _flash_attention
    _flash_attention = None


def disable_flash_attention() -> None:
    """Keras's switch; the flag is kept (``is_flash_attention_enabled``), and the kernels
    are the same: they give the same numbers either way."""
    global _flash_attention
    _flash_attention = False


def is_flash_attention_enabled():
    """The flag: None (automatic, the default) or False after ``disable_flash_attention``."""
    return _flash_attention


def is_nnx_enabled() -> bool:
    """Whether Flax NNX features are on: never here (there is no JAX backend)."""
    return False
