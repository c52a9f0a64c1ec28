"""Errors raised by the backend registry."""


class BackendUnavailableError(RuntimeError):
    """A backend was selected that cannot run on this machine.

    The message says which backend, why it cannot run, and how to fix it.
    """

    def __init__(self, name: str, reason: str, fix: str = ""):
        self.name = name
        self.reason = reason
        self.fix = fix
        message = f"Backend '{name}' is unavailable: {reason}"
        if fix:
            message += f" Fix: {fix}"
        super().__init__(message)


class BackendMismatchError(ValueError):
    """Arrays of two different backends met in one operation."""


class DeviceOutOfMemoryError(MemoryError):
    """A layer or a backward pass ran out of the backend's memory (GPU or host).

    Raised by the engine with the layer, the input shape and the batch size in
    the message, chained to the backend's own out-of-memory error.
    """
