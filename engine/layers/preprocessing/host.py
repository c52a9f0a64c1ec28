"""The base of the preprocessing layers: they run on the host, strings in, tensors out.

Text never reaches a backend: a ``TextVectorization`` or ``StringLookup``
reads a NumPy array (or list) of strings in ``__call__``, does its work with
Python and NumPy, and returns a backend ``Tensor`` of integer ids or float
counts. Models let such data through on the host as far as the first layer
(see ``accepts_strings``), which is why these layers can start a
``Sequential`` or follow ``layers.Input(shape=(), dtype="string")``.
"""

import numpy

from ... import config, symbolic
from ...tensor import Tensor
from ..base import Layer

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def host_array(data) -> numpy.ndarray:
    """``data`` (a Tensor, a device array, a list or a NumPy array) as a host NumPy array."""
    if isinstance(data, Tensor):
        return data.backend.to_numpy(data.data)
    if hasattr(data, "get") and hasattr(data, "__cuda_array_interface__"):  # a CuPy array
        return data.get()
    return numpy.asarray(data)


def string_array(data, where: str, encoding: str = "utf-8") -> numpy.ndarray:
    """``data`` as a host array of ``str`` (bytes decoded), or a TypeError saying what came."""
    try:
        array = host_array(data)
    except ValueError as error:  # lists of different lengths
        raise ValueError(
            f"{where}: the input must be a rectangular array of strings (one string per "
            f"sample, or samples of equal length); got {type(data).__name__} ({error})."
        ) from None
    if array.dtype.kind == "U":
        return array
    if array.dtype.kind == "S":
        return numpy.char.decode(array, encoding)
    if array.dtype.kind == "O":
        flat = array.reshape(-1).tolist()
        if all(isinstance(item, str) for item in flat):
            return array
        if all(isinstance(item, (str, bytes)) for item in flat):
            decoded = [i.decode(encoding) if isinstance(i, bytes) else i for i in flat]
            return numpy.array(decoded, dtype=object).reshape(array.shape)
        wrong = next(item for item in flat if not isinstance(item, (str, bytes)))
        raise TypeError(
            f"{where} expects strings; got an array holding a {type(wrong).__name__} ({wrong!r})."
        )
    raise TypeError(
        f"{where} expects strings; got an array of dtype {array.dtype} "
        f"(first element {array.reshape(-1)[:1].tolist()})."
    )


def check_choice(value, allowed: tuple, argument: str, where: str) -> None:
    if value not in allowed:
        raise ValueError(
            f"{where}: `{argument}` must be one of {', '.join(map(repr, allowed))}; got {value!r}."
        )


def output_mode_of(output_mode, where: str) -> str:
    """Keras's ``output_mode``, its aliases ("binary", "tf-idf") resolved."""
    output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
    check_choice(output_mode, OUTPUT_MODES, "output_mode", where)
    return output_mode


def output_dtype_of(output_mode: str, dtype, where: str) -> str:
    """int64 ids in "int" mode, floats (``floatx`` unless ``dtype`` says) otherwise."""
    if dtype is None:
        return "int64" if output_mode == "int" else config.floatx()
    name = symbolic.standardize_dtype(dtype)
    kind = "iu" if output_mode == "int" else "f"
    if name == "string" or numpy.dtype(name).kind not in kind:
        wanted = "an integer" if output_mode == "int" else "a float"
        raise ValueError(
            f"{where}: in output_mode={output_mode!r} the output dtype must be {wanted} "
            f"dtype; got dtype={dtype!r}."
        )
    return name


class HostLayer(Layer):
    """A preprocessing layer: its ``call`` takes host NumPy data and returns a Tensor.

    Called on symbolic tensors it records a node like any layer, and its output
    takes the layer's ``dtype``; called on data it reads them on the host.
    """

    #: the models' data path lets strings through to this layer (``fit(x=texts)``)
    accepts_strings = True

    def __call__(self, inputs, *args, **kwargs):
        if symbolic.is_symbolic(inputs):
            return super().__call__(inputs, *args, **kwargs)
        array = self._host_inputs(inputs)
        if not self.built:
            self.build_from_shape(array.shape)
        return self.call(array)

    def _host_inputs(self, inputs) -> numpy.ndarray:
        """The inputs as the layer reads them: strings (or integers) on the host."""
        raise NotImplementedError

    def _tensor(self, array: numpy.ndarray) -> Tensor:
        return Tensor(array, backend=self.backend or config.get_backend())

    def _describe(self) -> str:
        return f"{type(self).__name__} '{self.name}'"
