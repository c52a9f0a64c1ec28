"""The ``keras.ops`` functions custom layers and losses use, differentiable, on every backend.

Names, arguments, broadcasting and result dtypes follow Keras 3, so code written
against ``keras.ops`` runs after changing the import::

    from engine import ops
    z = ops.einsum("bij,bjk->bik", q, k) / ops.sqrt(ops.cast(d, "float32"))

Inputs may be tensors, NumPy arrays, Python scalars or lists; the result is a
``Tensor`` on the backend of the input tensors (the current backend if none
is a tensor). Gradients flow through every float op; integer and boolean
results (``argmax``, comparisons, ``floor``, ``round``, ``sign``) are outside
the graph. Dtypes follow Keras 3's promotion (see ``engine.conversion``),
except that float64 stays float64.

This module holds the conversions and makes every op record a graph node when
given symbolic tensors; the ops themselves live in one module per family and
are re-exported here: ``ops_math`` (elementwise arithmetic, math, comparisons),
``ops_reduction``, ``ops_linalg`` (products and decompositions; also as ``ops.linalg``),
``ops_nn`` (activations, cross-entropies, attention), ``ops_conv`` (convolutions,
pooling, normalizations), ``ops_shape`` (shapes and creation) and ``ops_control``
(control flow, run eagerly).
"""

import types

import numpy

from . import config, symbolic
from .conversion import as_tensor, cast_tensor, to_tensor
from .ops_control import (
    cond,
    custom_gradient,
    dtype,
    fori_loop,
    identity,
    is_tensor,
    map,
    scan,
    select,
    size,
    switch,
    vectorized_map,
    while_loop,
)
from .ops_conv import (
    adaptive_average_pool,
    adaptive_max_pool,
    average_pool,
    batch_normalization,
    conv,
    conv_transpose,
    depth_to_space,
    depthwise_conv,
    layer_normalization,
    max_pool,
    psnr,
    rms_normalization,
    separable_conv,
    space_to_depth,
)
from .ops_linalg import (
    cholesky,
    cholesky_inverse,
    det,
    dot,
    eig,
    eigh,
    einsum,
    inv,
    logdet,
    lstsq,
    matmul,
    matrix_rank,
    norm,
    outer,
    pinv,
    qr,
    slogdet,
    solve,
    solve_triangular,
    svd,
    tensordot,
)
from .ops_math import (
    abs,
    absolute,
    add,
    allclose,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    ceil,
    clip,
    cos,
    cosh,
    deg2rad,
    divide,
    equal,
    erf,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    hypot,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    nan_to_num,
    negative,
    not_equal,
    power,
    rad2deg,
    reciprocal,
    round,
    rsqrt,
    sign,
    signbit,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    true_divide,
    trunc,
    where,
)
from .ops_nn import (
    binary_crossentropy,
    categorical_crossentropy,
    celu,
    dot_product_attention,
    elu,
    gelu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    multi_hot,
    normalize,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_categorical_crossentropy,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
    swish,
    tanh,
    tanh_shrink,
    threshold,
)
from .ops_reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    average,
    count_nonzero,
    cumprod,
    cumsum,
    in_top_k,
    logsumexp,
    max,
    mean,
    median,
    min,
    moments,
    percentile,
    prod,
    ptp,
    quantile,
    sort,
    std,
    sum,
    top_k,
    var,
)
from .ops_shape import (
    arange,
    broadcast_to,
    concatenate,
    copy,
    diag,
    diagonal,
    diff,
    dstack,
    empty,
    empty_like,
    expand_dims,
    eye,
    flip,
    fliplr,
    flipud,
    full,
    full_like,
    get_item,
    hstack,
    linspace,
    logspace,
    meshgrid,
    moveaxis,
    ndim,
    nonzero,
    one_hot,
    ones,
    ones_like,
    pad,
    ravel,
    repeat,
    reshape,
    roll,
    scatter,
    scatter_update,
    shape,
    slice,
    slice_update,
    split,
    squeeze,
    stack,
    swapaxes,
    take,
    take_along_axis,
    tile,
    trace,
    transpose,
    tri,
    tril,
    triu,
    unstack,
    vstack,
    zeros,
    zeros_like,
)
from .tensor import Tensor

# -- conversion ---------------------------------------------------------------


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """``x`` as a tensor on the current backend (a tensor is returned as it is, cast if asked)."""
    if sparse or ragged:
        raise ValueError("convert_to_tensor: sparse and ragged tensors are not supported.")
    backend = x.backend if isinstance(x, Tensor) else config.get_backend()
    return to_tensor(x, backend, dtype)


def convert_to_numpy(x) -> numpy.ndarray:
    """``x`` as a NumPy array (copied to the host from a device backend)."""
    if isinstance(x, Tensor):
        return x.numpy()
    if hasattr(x, "__cuda_array_interface__"):
        return x.get()  # a CuPy array
    return numpy.asarray(x)


def cast(x, dtype) -> Tensor:
    """``x`` as ``dtype``; differentiable between float dtypes."""
    return cast_tensor(as_tensor(x), dtype)


def stop_gradient(variable) -> Tensor:
    """The same values, cut from the graph: no gradient flows back through it."""
    return as_tensor(variable).detach()


__all__ = [
    # conversion and creation
    "arange",
    "cast",
    "convert_to_numpy",
    "convert_to_tensor",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "linspace",
    "logspace",
    "ndim",
    "one_hot",
    "ones",
    "ones_like",
    "shape",
    "stop_gradient",
    "tri",
    "zeros",
    "zeros_like",
    # arithmetic and elementwise math
    "abs",
    "absolute",
    "add",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "ceil",
    "clip",
    "cos",
    "cosh",
    "deg2rad",
    "divide",
    "erf",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "floor_divide",
    "hypot",
    "log",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "nan_to_num",
    "negative",
    "power",
    "rad2deg",
    "reciprocal",
    "round",
    "rsqrt",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "true_divide",
    "trunc",
    "where",
    # comparisons and logic
    "allclose",
    "equal",
    "greater",
    "greater_equal",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "less",
    "less_equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "not_equal",
    "signbit",
    # reductions
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "argsort",
    "average",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "in_top_k",
    "logsumexp",
    "max",
    "mean",
    "median",
    "min",
    "moments",
    "norm",
    "percentile",
    "prod",
    "ptp",
    "quantile",
    "sort",
    "std",
    "sum",
    "top_k",
    "var",
    # linear algebra
    "cholesky",
    "cholesky_inverse",
    "det",
    "dot",
    "eig",
    "eigh",
    "einsum",
    "inv",
    "logdet",
    "lstsq",
    "matmul",
    "matrix_rank",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
    "tensordot",
    # shapes
    "broadcast_to",
    "concatenate",
    "copy",
    "diag",
    "diagonal",
    "diff",
    "dstack",
    "expand_dims",
    "flip",
    "fliplr",
    "flipud",
    "get_item",
    "hstack",
    "meshgrid",
    "moveaxis",
    "nonzero",
    "pad",
    "ravel",
    "repeat",
    "reshape",
    "roll",
    "scatter",
    "scatter_update",
    "slice",
    "slice_update",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "take_along_axis",
    "tile",
    "trace",
    "transpose",
    "tril",
    "triu",
    "unstack",
    "vstack",
    # activations
    "binary_crossentropy",
    "categorical_crossentropy",
    "celu",
    "dot_product_attention",
    "elu",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "multi_hot",
    "normalize",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_categorical_crossentropy",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
    # convolutions, pooling and normalizations
    "adaptive_average_pool",
    "adaptive_max_pool",
    "average_pool",
    "batch_normalization",
    "conv",
    "conv_transpose",
    "depth_to_space",
    "depthwise_conv",
    "layer_normalization",
    "max_pool",
    "psnr",
    "rms_normalization",
    "separable_conv",
    "space_to_depth",
    # control flow and queries (eager: they take callables or answer in Python values)
    "cond",
    "custom_gradient",
    "dtype",
    "fori_loop",
    "identity",
    "is_tensor",
    "map",
    "scan",
    "select",
    "size",
    "switch",
    "vectorized_map",
    "while_loop",
]


def _records_symbolic_calls(name: str, function):
    """``function`` that, given symbolic tensors (functional API), records a graph node."""

    def wrapper(*args, **kwargs):
        if symbolic.is_symbolic(args) or symbolic.is_symbolic(kwargs):
            return symbolic.call_op(name, args, kwargs)
        return function(*args, **kwargs)

    wrapper.__name__, wrapper.__qualname__ = function.__name__, function.__qualname__
    wrapper.__doc__, wrapper.__wrapped__ = function.__doc__, function
    return wrapper


#: ops that take callables or answer with Python values: never recorded in a graph
_EAGER_ONLY = frozenset(
    "convert_to_numpy shape ndim cond fori_loop while_loop scan map switch vectorized_map "
    "custom_gradient is_tensor dtype size".split()
)
for _name in __all__:
    if _name not in _EAGER_ONLY:
        globals()[_name] = _records_symbolic_calls(_name, globals()[_name])
del _name
_eager_shape = shape


#: ``keras.ops.linalg``: the linear algebra under Keras's sub-namespace (also at the top level)
linalg = types.SimpleNamespace(
    **{
        name: globals()[name]
        for name in (
            "cholesky",
            "cholesky_inverse",
            "det",
            "eig",
            "eigh",
            "inv",
            "lstsq",
            "matrix_rank",
            "norm",
            "pinv",
            "qr",
            "solve",
            "solve_triangular",
            "svd",
        )
    }
)


def shape(x) -> tuple:  # noqa: F811 (symbolic tensors know their shape, None for the batch)
    """The shape of ``x`` as a tuple of ints (None where a symbolic tensor's size is open)."""
    return x.shape if isinstance(x, symbolic.KerasTensor) else _eager_shape(x)
