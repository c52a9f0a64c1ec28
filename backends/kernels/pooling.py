"""2-D max and average pooling over channels-last arrays.

``x`` is ``(batch, height, width, channels)``; ``pool_size`` and ``strides``
are pairs; ``padding`` is ``"valid"`` or ``"same"`` (TensorFlow's rule, as in
Keras). The references loop over the few offsets inside a pooling window and
work on whole strided slices, so no scratch array is larger than the output.
As in Keras, padded positions never win a max and are left out of an average.
"""

import numpy

from .conv import output_size, resolve_padding


def _pool_geometry(x_shape, pool_size, strides, padding):
    pads = resolve_padding(x_shape[1:3], pool_size, strides, (1, 1), padding)
    out_h = output_size(x_shape[1], pool_size[0], strides[0], 1, pads[0])
    out_w = output_size(x_shape[2], pool_size[1], strides[1], 1, pads[1])
    if out_h <= 0 or out_w <= 0:
        raise ValueError(
            f"pooling: a {pool_size[0]}x{pool_size[1]} window does not fit an input of "
            f"spatial size {tuple(x_shape[1:3])} with padding {padding!r}."
        )
    return pads, (out_h, out_w)


def _window_slices(pool_size, strides, out_hw):
    """``(offset, index)`` for each position in the window: the slice of outputs it feeds."""
    for i in range(pool_size[0]):
        for j in range(pool_size[1]):
            rows = slice(i, i + strides[0] * out_hw[0], strides[0])
            cols = slice(j, j + strides[1] * out_hw[1], strides[1])
            yield i * pool_size[1] + j, (slice(None), rows, cols, slice(None))


class PoolingKernels:
    xp = numpy

    # ``pad_spatial`` comes from ConvKernels; both are mixed into Backend.

    def max_pool2d_forward(self, x, pool_size, strides, padding="valid"):
        """``(y, argmax)``: the window maxima and, for each, its row-major offset in the window."""
        xp = self.xp
        pads, out_hw = _pool_geometry(x.shape, pool_size, strides, padding)
        x = self.pad_spatial(x, pads, value=-xp.inf)
        y = None
        index_dtype = xp.int8 if pool_size[0] * pool_size[1] <= 127 else xp.int32
        for offset, index in _window_slices(pool_size, strides, out_hw):
            candidate = x[index]
            if y is None:
                y = candidate.copy()
                argmax = xp.zeros(y.shape, dtype=index_dtype)
                continue
            better = candidate > y
            xp.maximum(y, candidate, out=y)
            # not argmax[better] = offset: CuPy's boolean-mask assignment waits for the GPU
            xp.copyto(argmax, offset, where=better)
        return y, argmax

    def max_pool2d_backward(self, dy, argmax, x_shape, pool_size, strides, padding="valid"):
        """Route each output gradient to the input position that won its window."""
        xp = self.xp
        pads, out_hw = _pool_geometry(x_shape, pool_size, strides, padding)
        (top, bottom), (left, right) = pads
        n, h, w, c = x_shape
        dx = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=dy.dtype)
        zero = xp.zeros((), dtype=dy.dtype)
        for offset, index in _window_slices(pool_size, strides, out_hw):
            dx[index] += xp.where(argmax == offset, dy, zero)
        return dx[:, top : top + h, left : left + w, :]

    # -- a relu convolution, then 2x2 max pooling of stride 2, as one op -------------

    def fuses_conv2d_relu_max_pool(self, x, kernel, bias, strides, padding, dilation) -> bool:
        """Whether ``conv2d_relu_max_pool_forward`` takes these arguments faster than the two
        ops it stands for (``conv2d_forward`` with ``activation="relu"``, then
        ``max_pool2d_forward`` with 2x2 windows of stride 2). The reference below is those
        two ops, so here: never; a backend with a fused kernel says where it has one."""
        return False

    def conv2d_relu_max_pool_forward(self, x, kernel, bias, strides, padding, dilation):
        """``(pooled, index)``: the 2x2 max pooling (stride 2, windows inside the
        convolution's output) of ``relu(conv2d(x, kernel) + bias)``, and for each pooled
        element the window offset ``max_pool2d_forward`` keeps as its argmax, or -1 where
        that element is not positive (its gradient is zero), as int8."""
        xp = self.xp
        y = self.conv2d_forward(x, kernel, bias, strides, padding, dilation, activation="relu")
        pooled, argmax = self.max_pool2d_forward(y, (2, 2), (2, 2), "valid")
        winners = xp.zeros_like(pooled)  # the relu output each window's argmax names
        for offset, window in _window_slices((2, 2), (2, 2), pooled.shape[1:3]):
            winners = xp.where(argmax == offset, y[window], winners)
        index = xp.where(winners > 0, argmax, -1).astype(xp.int8)
        return pooled, index

    def conv2d_relu_max_pool_backward(
        self, grad, index, x, kernel, shapes, needs, strides, padding, dilation
    ):
        """``(dx, dkernel, dbias)`` of ``conv2d_relu_max_pool_forward``, as ``conv2d_backward``
        takes and returns them (``shapes`` is ``(x.shape, kernel.shape)``; ``x`` may be None
        when the kernel gradient is not needed, ``kernel`` when the input gradient is not):
        each pooled gradient sent to the convolution output its ``index`` names (none at -1),
        then the convolution's backward."""
        xp = self.xp
        geometry = (strides, padding, dilation)
        _, out_hw = self._conv_geometry(shapes[0], shapes[1][:2], *geometry)
        n, rows, cols, filters = grad.shape
        dy = xp.zeros((n, *out_hw, filters), grad.dtype)
        zero = xp.zeros((), grad.dtype)
        for offset, window in _window_slices((2, 2), (2, 2), (rows, cols)):
            dy[window] = xp.where(index == offset, grad, zero)
        return self.conv2d_backward(dy, x, kernel, shapes, needs, *geometry)

    def _window_counts(self, x_shape, pads, pool_size, strides, out_hw, dtype):
        """How many real (unpadded) inputs each output window covers, shaped to broadcast."""
        xp = self.xp
        (top, bottom), (left, right) = pads
        if not (top or bottom or left or right):
            return dtype.type(pool_size[0] * pool_size[1])
        ones = xp.ones((1, x_shape[1], x_shape[2], 1), dtype=dtype)
        ones = self.pad_spatial(ones, pads)
        counts = xp.zeros((1, *out_hw, 1), dtype=dtype)
        for _, index in _window_slices(pool_size, strides, out_hw):
            counts += ones[index]
        return counts

    def avg_pool2d_forward(self, x, pool_size, strides, padding="valid"):
        xp = self.xp
        pads, out_hw = _pool_geometry(x.shape, pool_size, strides, padding)
        padded = self.pad_spatial(x, pads)
        y = xp.zeros((x.shape[0], *out_hw, x.shape[3]), dtype=x.dtype)
        for _, index in _window_slices(pool_size, strides, out_hw):
            y += padded[index]
        y /= self._window_counts(x.shape, pads, pool_size, strides, out_hw, x.dtype)
        return y

    def avg_pool2d_backward(self, dy, x_shape, pool_size, strides, padding="valid"):
        xp = self.xp
        pads, out_hw = _pool_geometry(x_shape, pool_size, strides, padding)
        (top, bottom), (left, right) = pads
        n, h, w, c = x_shape
        share = dy / self._window_counts(x_shape, pads, pool_size, strides, out_hw, dy.dtype)
        dx = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=dy.dtype)
        for _, index in _window_slices(pool_size, strides, out_hw):
            dx[index] += share
        return dx[:, top : top + h, left : left + w, :]
