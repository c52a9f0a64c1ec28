"""Generic reference kernels, one mixin class per family.

Each mixin is written only against ``self.xp`` so that it runs on NumPy and
CuPy alike. ``backends.base.Backend`` combines them; faster backends override
individual methods and are tested against these references.
"""
