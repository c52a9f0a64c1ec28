"""Conv kernels (filled in by the layers issue)."""

import numpy


class ConvKernels:
    xp = numpy
