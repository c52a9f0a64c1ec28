"""Scaled dot-product attention: the fused kernels' time and memory, and PyTorch's.

One batch, 2 heads of dim 32, float32, no mask. ``AttentionKernel`` times the
backend kernels alone on raw arrays at sequence lengths 256 and 1024 (forward,
and forward then backward); ``TorchAttention`` times
``torch.nn.functional.scaled_dot_product_attention`` on the CPU at the same
shapes. ``AttentionW6Shapes`` and ``TorchAttentionW6Shapes`` do the same at the
text Transformer W6's shapes (batch 32, 2 heads of dim 32, length 128), on the
heads-first views of ``(batch, length, heads, dim)`` projections that an
attention layer passes: 64 (batch, head) jobs for the numba kernel pool.
``AttentionPeakMemory`` is the peak memory of forward + backward of
``engine.functional.scaled_dot_product_attention`` at lengths 256, 1024 and
4096: on numba (blocked kernels) it stays near the process's baseline, on
numpy (the reference, which holds the ``length x length`` scores) it grows
with the square of the length.
"""

from .common import BACKENDS, SkipNotImplemented, backend_or_skip, host_random
from .workloads import limit_threads

HEADS, DIM = 2, 32


def _shape(length):
    return (1, HEADS, length, DIM)


class AttentionKernel:
    """``attention_forward`` and ``attention_backward`` on raw arrays."""

    params = [BACKENDS, [256, 1024]]
    param_names = ["backend", "length"]

    def setup(self, backend_name, length):
        self.backend = backend_or_skip(backend_name)
        limit_threads()  # after the backend's import, which may load Numba
        self.q, self.k, self.v, self.grad = (
            self.backend.asarray(host_random(_shape(length), seed)) for seed in range(4)
        )
        self.time_forward_backward(backend_name, length)  # JIT warm-up

    def time_forward(self, backend_name, length):
        self.backend.attention_forward(self.q, self.k, self.v)
        self.backend.synchronize()

    def time_forward_backward(self, backend_name, length):
        out, logsumexp = self.backend.attention_forward(self.q, self.k, self.v)
        self.backend.attention_backward(self.grad, self.q, self.k, self.v, out, logsumexp)
        self.backend.synchronize()


def _torch_inputs(shape, layout=lambda tensor: tensor):
    """``(torch, (q, k, v, grad))``: ``layout`` of PyTorch tensors of ``host_random(shape)``,
    q, k and v requiring gradients; threads limited as for the engine's side."""
    try:
        import torch
    except ImportError:
        raise SkipNotImplemented("PyTorch is not installed") from None
    limit_threads()
    tensors = tuple(layout(torch.from_numpy(host_random(shape, seed))) for seed in range(4))
    for tensor in tensors[:3]:
        tensor.requires_grad_()
    return torch, tensors


def _torch_forward_backward(torch, q, k, v, grad):
    for tensor in (q, k, v):
        tensor.grad = None
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    out.backward(grad)


class TorchAttention:
    """PyTorch's fused ``scaled_dot_product_attention`` (CPU, eager) at the same shapes."""

    params = [[256, 1024]]
    param_names = ["length"]

    def setup(self, length):
        self.torch, (self.q, self.k, self.v, self.grad) = _torch_inputs(_shape(length))
        self.time_forward_backward(length)

    def time_forward(self, length):
        with self.torch.no_grad():
            self.torch.nn.functional.scaled_dot_product_attention(self.q, self.k, self.v)

    def time_forward_backward(self, length):
        _torch_forward_backward(self.torch, self.q, self.k, self.v, self.grad)


W6_SHAPE = (32, 128, HEADS, DIM)  # (batch, length, heads, dim), as projected


def _heads_first(array):
    """The ``(batch, heads, length, dim)`` view (NumPy, CuPy or a torch tensor)."""
    return array.permute(0, 2, 1, 3) if hasattr(array, "permute") else array.transpose(0, 2, 1, 3)


class AttentionW6Shapes:
    """``attention_forward`` then ``attention_backward`` at W6's shapes, on transposed views."""

    params = [BACKENDS]
    param_names = ["backend"]

    def setup(self, backend_name):
        self.backend = backend_or_skip(backend_name)
        limit_threads()
        self.q, self.k, self.v, self.grad = (
            _heads_first(self.backend.asarray(host_random(W6_SHAPE, seed))) for seed in range(4)
        )
        self.time_forward_backward(backend_name)  # JIT warm-up

    def time_forward_backward(self, backend_name):
        out, logsumexp = self.backend.attention_forward(self.q, self.k, self.v)
        self.backend.attention_backward(self.grad, self.q, self.k, self.v, out, logsumexp)
        self.backend.synchronize()


class TorchAttentionW6Shapes:
    """PyTorch's ``scaled_dot_product_attention`` forward + backward at W6's shapes."""

    def setup(self):
        self.torch, (self.q, self.k, self.v, self.grad) = _torch_inputs(W6_SHAPE, _heads_first)
        self.time_forward_backward()

    def time_forward_backward(self):
        _torch_forward_backward(self.torch, self.q, self.k, self.v, self.grad)


class AttentionPeakMemory:
    """Peak resident memory of the op's forward + backward (gradients for q, k and v)."""

    params = [BACKENDS, [256, 1024, 4096]]
    param_names = ["backend", "length"]
    timeout = 300

    def setup(self, backend_name, length):
        import engine

        backend = backend_or_skip(backend_name)
        limit_threads()
        self.attention = engine.functional.scaled_dot_product_attention
        self.q, self.k, self.v = (
            engine.Tensor(host_random(_shape(length), seed), requires_grad=True, backend=backend)
            for seed in range(3)
        )
        self.grad = backend.asarray(host_random(_shape(length), 3))
        small = [engine.Tensor(host_random(_shape(8)), requires_grad=True, backend=backend)]
        self.attention(*small * 3).backward(backend.asarray(host_random(_shape(8))))  # JIT

    def peakmem_forward_backward(self, backend_name, length):
        self.attention(self.q, self.k, self.v).backward(self.grad)
