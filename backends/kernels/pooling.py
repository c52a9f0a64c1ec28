"""Pooling kernels (filled in by the layers issue)."""

import numpy


class PoolingKernels:
    xp = numpy
