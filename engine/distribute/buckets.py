"""Flat buffers that carry many arrays in a few messages (gradient buckets).

One message per weight would cost one collective's latency per weight; one
message for everything would need a buffer as large as the model. As PyTorch's
``DistributedDataParallel`` does, arrays are packed in order into buckets of
about ``bucket_bytes`` (one dtype per bucket), each bucket is reduced as one
message, and the results are read back as views of the buckets. The buffers
are kept between steps: the layout is computed once per set of shapes.
"""

import numpy

#: PyTorch's DistributedDataParallel default (25 MB) suits fast interconnects; a few MB keeps
#: the buffers small and still makes one message of a small model's gradient
DEFAULT_BUCKET_BYTES = 4 * 2**20


class Buckets:
    """The packing of a fixed list of arrays (by shape and dtype) into flat buffers."""

    def __init__(self, xp, shapes: list[tuple], dtypes: list, bucket_bytes: int):
        self.xp = xp
        #: per array: (bucket index, offset, size, shape)
        self.places: list[tuple[int, int, int, tuple]] = []
        sizes: list[int] = []
        bucket_dtypes: list = []
        open_bucket: dict = {}  # dtype -> index of the bucket being filled
        for shape, dtype in zip(shapes, dtypes):
            dtype = numpy.dtype(dtype)
            size = int(numpy.prod(shape, dtype=numpy.int64))
            index = open_bucket.get(dtype)
            if index is None or (
                sizes[index] and (sizes[index] + size) * dtype.itemsize > bucket_bytes
            ):
                index = open_bucket[dtype] = len(sizes)
                sizes.append(0)
                bucket_dtypes.append(dtype)
            self.places.append((index, sizes[index], size, tuple(shape)))
            sizes[index] += size
        self.buffers = [xp.empty(size, dtype=dtype) for size, dtype in zip(sizes, bucket_dtypes)]

    @property
    def nbytes(self) -> int:
        return sum(int(buffer.nbytes) for buffer in self.buffers)

    def pack(self, arrays: list, scale: float | None = None) -> None:
        """Copy ``arrays`` (times ``scale``) into the buffers."""
        for array, (index, offset, size, _) in zip(arrays, self.places):
            target = self.buffers[index][offset : offset + size]
            if scale is None:
                target[...] = array.reshape(-1)
            else:
                self.xp.multiply(array.reshape(-1), scale, out=target)

    def views(self) -> list:
        """The arrays as views of the buffers, in their shapes."""
        return [
            self.buffers[index][offset : offset + size].reshape(shape)
            for index, offset, size, shape in self.places
        ]

    def unpack_into(self, arrays: list) -> None:
        """Copy the buffers back into ``arrays`` in place."""
        for array, view in zip(arrays, self.views()):
            array[...] = view


class BucketCache:
    """``Buckets`` by layout, so a step reuses the buffers of the previous one."""

    def __init__(self, bucket_bytes: int = DEFAULT_BUCKET_BYTES):
        self.bucket_bytes = bucket_bytes
        self._cache: dict = {}

    def get(self, xp, arrays: list) -> Buckets:
        key = (id(xp), tuple((tuple(a.shape), str(a.dtype)) for a in arrays))
        buckets = self._cache.get(key)
        if buckets is None:
            if len(self._cache) > 8:  # layouts change rarely; do not grow without bound
                self._cache.clear()
            buckets = self._cache[key] = Buckets(
                xp, [a.shape for a in arrays], [a.dtype for a in arrays], self.bucket_bytes
            )
        return buckets
