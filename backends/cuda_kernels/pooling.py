"""Max-pooling backward: each output gradient goes straight to the input that won its window."""

from numba import cuda


@cuda.jit
def max_pool2d_backward(dy, argmax, dx, pool_w, stride_h, stride_w, top, left):
    """One thread per output element; ``dx`` is unpadded, windows overlap, so atomics.

    ``argmax`` holds the row-major offset of the winner inside its window and
    ``top``/``left`` the padding before the first row/column; a winner is
    never a padded position.
    """
    n, out_h, out_w, channels = dy.shape
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < dy.size:
        c = index % channels
        rest = index // channels
        x = rest % out_w
        rest = rest // out_w
        y = rest % out_h
        b = rest // out_h
        offset = argmax[b, y, x, c]
        row = y * stride_h + offset // pool_w - top
        col = x * stride_w + offset % pool_w - left
        cuda.atomic.add(dx, (b, row, col, c), dy[b, y, x, c])
        index += stride
