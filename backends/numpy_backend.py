"""The NumPy backend: the generic kernels on ``numpy.ndarray``."""

import numpy

from .base import Backend
from .host_memory import keep_freed_host_memory


class NumpyBackend(Backend):
    name = "numpy"
    xp = numpy

    def __init__(self):
        super().__init__()
        keep_freed_host_memory()
