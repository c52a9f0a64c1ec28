"""Differentiable ops on tensors (forward and backward through backend kernels)."""

from .activation import activation, log_softmax, relu, sigmoid, softmax, tanh
from .attention import scaled_dot_product_attention
from .conv import conv1d, conv2d, zero_pad2d
from .dropout import dropout
from .embedding import embedding
from .math import (
    abs,
    add,
    cast,
    clip,
    divide,
    exp,
    log,
    matmul,
    multiply,
    negative,
    power,
    sqrt,
    subtract,
    where,
)
from .nn import (
    dense,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
    sparse_softmax_cross_entropy,
)
from .normalization import batch_norm, layer_norm
from .pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from .recurrent import recurrent_sequence
from .reduction import max, mean, min, sum
from .shape import concatenate, flatten, getitem, reshape, stack, transpose

__all__ = [
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "layer_norm",
    "max_pool1d",
    "max_pool2d",
    "zero_pad2d",
    "dropout",
    "embedding",
    "recurrent_sequence",
    "scaled_dot_product_attention",
    "abs",
    "activation",
    "add",
    "cast",
    "clip",
    "concatenate",
    "dense",
    "divide",
    "exp",
    "flatten",
    "getitem",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "mean",
    "min",
    "multiply",
    "negative",
    "power",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "sparse_softmax_cross_entropy",
    "sqrt",
    "stack",
    "subtract",
    "sum",
    "tanh",
    "transpose",
    "where",
]
