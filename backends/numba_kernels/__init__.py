"""``@numba.njit`` kernels for the numba backend, one module per family.

These modules import numba at the top; ``backends.numba_backend`` imports them
only once numba is known to be importable. Every kernel is ``cache=True`` and
keeps its jitted helpers in its own file, because Numba's cache is invalidated
only when the kernel's own file changes. Kernels take C-contiguous float32 or
float64 arrays (elementwise ones flattened to 1-D) and scalars of the arrays'
dtype, so each compiles to at most two signatures. ``error_model="numpy"``
gives NumPy's division semantics (inf/nan, no ZeroDivisionError) and lets
loops with divisions vectorize. No ``fastmath``: its ``nnan``/``ninf`` would
blind NaN checks, and the safe subset measured no gain here.
"""
