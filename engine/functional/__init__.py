"""Differentiable ops on tensors (forward and backward through backend kernels)."""

from .activation import activation, log_softmax, relu, sigmoid, softmax, tanh
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
from .reduction import max, mean, min, sum
from .shape import concatenate, flatten, getitem, reshape, stack, transpose

__all__ = [
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
