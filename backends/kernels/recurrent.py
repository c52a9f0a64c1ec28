"""Recurrent kernels (filled in by the layers issue)."""

import numpy


class RecurrentKernels:
    xp = numpy
