"""Normalization kernels (filled in by the layers issue)."""

import numpy


class NormalizationKernels:
    xp = numpy
