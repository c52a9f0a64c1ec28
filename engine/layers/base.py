"""The Layer base class: weights, building on first call, input checks, configs.

As in Keras 3, a layer creates its weights in ``build(input_shape)`` the first
time it is called (or when a model is built from an input shape), and its
``call`` is a few ops. A layer captures the current backend when it is built;
its weights live there.
"""

import collections
import inspect

import numpy

from backends.errors import DeviceOutOfMemoryError

from .. import config, constraints, initializers, regularizers, symbolic
from ..registry import Registry, snake_case
from ..tensor import Tensor, no_grad

layer_registry = Registry(
    "layer",
    hint=(
        "If '{name}' is a custom layer, decorate its class with "
        "@engine.layers.register_layer, or pass custom_objects={{'{name}': {name}}} to "
        "load_model."
    ),
)
_name_counts: collections.Counter = collections.Counter()


def unique_name(prefix: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2``... as Keras auto-names layers."""
    count = _name_counts[prefix]
    _name_counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def reset_names() -> None:
    _name_counts.clear()


def register_layer(cls=None, name: str | None = None):
    """Class decorator making a layer loadable from saved configs."""
    if cls is None:
        return lambda c: layer_registry.register(c, name)
    return layer_registry.register(cls, name)


def format_shape(shape) -> str:
    return (
        "("
        + ", ".join("None" if s is None else str(s) for s in shape)
        + (",)" if len(shape) == 1 else ")")
    )


class InputSpec:
    """What a layer accepts: a rank (exact or minimum) and fixed sizes of some axes."""

    def __init__(self, ndim=None, min_ndim=None, axes=None, max_ndim=None):
        self.ndim, self.min_ndim, self.max_ndim = ndim, min_ndim, max_ndim
        self.axes = axes or {}

    def check(self, layer: "Layer", shape: tuple) -> None:
        prefix = f"Input 0 of layer '{layer.name}' is incompatible with the layer:"
        got = f"but received input with shape {format_shape(shape)}"
        if self.ndim is not None and len(shape) != self.ndim:
            raise ValueError(f"{prefix} expected ndim={self.ndim}, found ndim={len(shape)}; {got}.")
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(
                f"{prefix} expected min_ndim={self.min_ndim}, found ndim={len(shape)}; {got}."
            )
        if self.max_ndim is not None and len(shape) > self.max_ndim:
            raise ValueError(
                f"{prefix} expected max_ndim={self.max_ndim}, found ndim={len(shape)}; {got}."
            )
        for axis, size in self.axes.items():
            if size is not None and shape[axis] != size:
                raise ValueError(
                    f"{prefix} expected axis {axis} of input shape to have value {size}, {got}."
                )


_call_signatures: dict[type, tuple[bool, bool]] = {}


def _call_accepts(cls) -> tuple[bool, bool]:
    """Whether ``cls.call`` takes ``training`` and ``mask`` (cached per class)."""
    flags = _call_signatures.get(cls)
    if flags is None:
        parameters = inspect.signature(cls.call).parameters
        flags = _call_signatures[cls] = ("training" in parameters, "mask" in parameters)
    return flags


class Layer:
    """Base class of all layers."""

    #: merge layers take a list of tensors: ``build``/``compute_output_shape`` get a
    #: list of shapes and ``call`` a list of tensors
    multiple_inputs = False
    #: cast numeric inputs (float, int, bool) to the layer's dtype, so that integer
    #: data gives float outputs as in Keras; layers taking indices (Embedding) and
    #: pass-through layers (InputLayer) turn this off
    autocast = True

    def __init__(
        self,
        name: str | None = None,
        dtype: str | None = None,
        trainable: bool = True,
        input_shape=None,
        input_dim: int | None = None,
        batch_size: int | None = None,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) "
                f"{', '.join(sorted(kwargs))}."
            )
        object.__setattr__(self, "_layers", [])
        self._inbound_nodes: list = []
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = dtype or config.floatx()
        self._trainable = trainable
        self.built = False
        self.backend = None
        self.input_spec: InputSpec | None = None
        self.supports_masking = False
        self._weights: list[Tensor] = []
        self._trainable_flags: list[bool] = []
        self._regularized: list[tuple[Tensor, object]] = []
        self._build_input_shape = None
        if input_dim is not None:
            input_shape = (input_dim,)
        self._batch_input_shape = (
            (batch_size, *tuple(input_shape)) if input_shape is not None else None
        )

    def __setattr__(self, name, value):
        if isinstance(value, Layer) and name != "_parent":
            self._layers.append(value)
        object.__setattr__(self, name, value)

    # -- building ---------------------------------------------------------

    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included)."""

    def build_from_shape(self, input_shape) -> None:
        """Build on the current backend unless the layer already has one."""
        if self.built:
            return
        if self.backend is None:
            self.backend = config.get_backend()
        input_shape = list(input_shape) if self.multiple_inputs else tuple(input_shape)
        self.build(input_shape)
        self._build_input_shape = input_shape
        self.built = True

    def add_weight(
        self,
        name: str,
        shape,
        initializer="glorot_uniform",
        regularizer=None,
        trainable: bool = True,
        dtype=None,
        constraint=None,
    ) -> Tensor:
        """Create a weight on the layer's backend, initialized on the host.

        ``constraint`` (see ``engine.constraints``) is applied by the optimizer after
        each update of the weight.
        """
        initializer = initializers.get(initializer)
        values = numpy.asarray(initializer(tuple(shape), dtype or self.dtype))
        constraint = constraints.get(constraint)
        weight = (Tensor if constraint is None else constraints.ConstrainedWeight)(
            values,
            requires_grad=trainable and self._trainable,
            dtype=dtype or self.dtype,
            backend=self.backend,
            name=f"{self.name}/{name}",
        )
        if constraint is not None:
            weight.constraint = constraint
        self._weights.append(weight)
        self._trainable_flags.append(trainable)
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularized.append((weight, regularizer))
        return weight

    # -- calling ----------------------------------------------------------

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        if symbolic.is_symbolic(inputs):
            return self._call_symbolic(inputs, training, mask, kwargs)
        if self.multiple_inputs:
            inputs = self._input_list(inputs)
            shape = [tensor.shape for tensor in inputs]
        else:
            inputs = self._single_input(inputs)
            shape = inputs.shape
        if not self.built:
            self.build_from_shape(shape)
        if self.input_spec is not None and not self.multiple_inputs:
            self.input_spec.check(self, shape)
        takes_training, takes_mask = _call_accepts(type(self))
        if takes_training:
            kwargs["training"] = bool(training)
        if takes_mask and mask is not None:
            kwargs["mask"] = mask
        try:
            return self.call(inputs, **kwargs)
        except DeviceOutOfMemoryError:
            raise  # an inner layer has already named itself
        except _backend_of(inputs).out_of_memory_errors as error:
            raise DeviceOutOfMemoryError(
                f"Layer '{self.name}' ran out of {_backend_of(inputs).name} backend memory on "
                f"inputs of shape {shape} (batch size {_count(inputs)}). Use a smaller "
                f"batch_size in fit/evaluate/predict."
            ) from error

    def _single_input(self, inputs) -> Tensor:
        if isinstance(inputs, Tensor):
            if (
                self.autocast
                and inputs.data.dtype != self.dtype
                and inputs.data.dtype.kind in "fiub"
            ):
                return inputs.astype(self.dtype)
            return inputs
        if isinstance(inputs, dict) or (
            isinstance(inputs, (list, tuple))
            and any(isinstance(item, (Tensor, numpy.ndarray)) for item in inputs)
        ):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) takes one input tensor, but was "
                f"called on a {type(inputs).__name__} of {len(inputs)} tensors. To combine "
                f"several tensors use a merge layer first, e.g. layers.Concatenate()([a, b])."
            )
        return self._input_tensor(inputs)

    def _input_list(self, inputs) -> list[Tensor]:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) takes a list of input tensors, "
                f"but was called on one {type(inputs).__name__}."
            )
        return [self._single_input(item) for item in inputs]

    def _call_symbolic(self, inputs, training, mask, kwargs):
        """Record a node: build from the input shapes, compute output shapes, run nothing."""
        if self.multiple_inputs:
            if not isinstance(inputs, (list, tuple)) or not all(
                isinstance(t, symbolic.KerasTensor) for t in inputs
            ):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) takes a list of input tensors, "
                    f"but was called on {inputs!r}."
                )
            inputs = list(inputs)
            shape = [t.shape for t in inputs]
        elif isinstance(inputs, symbolic.KerasTensor):
            shape = inputs.shape
        else:
            count = len(symbolic.flatten(inputs))
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) takes one input tensor, but was "
                f"called on a {type(inputs).__name__} of {count} tensors. To combine several "
                f"tensors use a merge layer first, e.g. layers.Concatenate()([a, b])."
            )
        if not self.built:
            self.build_from_shape(shape)
        if self.input_spec is not None and not self.multiple_inputs:
            self.input_spec.check(self, shape)
        output_shape = self.compute_output_shape(shape)
        dtype = self.dtype if self.autocast else symbolic.flatten(inputs)[0].dtype
        shapes = [output_shape] if symbolic.is_shape(output_shape) else list(output_shape)
        outputs = [symbolic.KerasTensor(s, dtype) for s in shapes]
        call_kwargs = dict(kwargs)
        if training is not None:
            call_kwargs["training"] = training
        symbolic.Node(self, inputs, outputs, call_kwargs)
        return outputs[0] if symbolic.is_shape(output_shape) else outputs

    def _input_tensor(self, data) -> Tensor:
        backend = self.backend or config.get_backend()
        array = numpy.asarray(data) if not backend.is_native(data) else data
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Layer '{self.name}' expects numeric input; got an array of dtype {array.dtype}."
            )
        dtype = self.dtype if (self.autocast and array.dtype.kind in "fiub") else None
        return Tensor(array, dtype=dtype, backend=backend)

    def call(self, inputs, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output: passed through when the layer supports masking."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape) -> tuple:
        """Output shape for ``input_shape``; the default runs the layer on zeros."""
        self.build_from_shape(input_shape)
        probe_shape = tuple(1 if s is None else s for s in input_shape)
        dtype = self.dtype if self.autocast else "int64"
        probe = Tensor(self.backend.xp.zeros(probe_shape, dtype=dtype), backend=self.backend)
        with no_grad():
            output = self(probe)
        return (input_shape[0], *output.shape[1:])

    # -- weights ----------------------------------------------------------

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for weight, flag in zip(self._weights, self._trainable_flags):
            weight.requires_grad = flag and self._trainable
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self) -> list[Tensor]:
        """All weights, own first, then those of sub-layers, in creation order."""
        result = list(self._weights)
        for layer in self._layers:
            result.extend(layer.weights)
        return result

    @property
    def trainable_weights(self) -> list[Tensor]:
        if not self._trainable:
            return []
        result = [w for w, flag in zip(self._weights, self._trainable_flags) if flag]
        for layer in self._layers:
            result.extend(layer.trainable_weights)
        return result

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def losses(self) -> list[Tensor]:
        """Regularization penalties of this layer and its sub-layers, for the current weights."""
        penalties = [regularizer(weight) for weight, regularizer in self._regularized]
        for layer in self._layers:
            penalties.extend(layer.losses)
        return penalties

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has not been built yet, so its weights do not exist; "
                f"call it on data or build the model with an input shape first."
            )
        return int(sum(w.size for w in self.weights))

    def get_weights(self) -> list[numpy.ndarray]:
        """Host copies of the weights, in Keras's order."""
        return [numpy.array(w.numpy(), copy=True) for w in self.weights]

    def set_weights(self, weights) -> None:
        """Replace the weights with arrays of the same shapes, in ``get_weights`` order."""
        own = self.weights
        weights = list(weights)
        if not self.built and weights:
            raise ValueError(
                f"Layer '{self.name}' has not been built yet, so it has no weights to set "
                f"({len(weights)} arrays given); call it on data, or build it (or its model) "
                f"with an input shape first."
            )
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expects {len(own)} weight arrays "
                f"({', '.join(w.name for w in own) or 'none'}), but received {len(weights)}."
            )
        arrays = []
        for target, value in zip(own, weights):
            value = numpy.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(
                    f"Layer '{self.name}': weight '{target.name}' must be set from an array of "
                    f"numbers; got an array of dtype {value.dtype}."
                )
            if value.shape != target.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{target.name}' has shape "
                    f"{format_shape(target.shape)}, but the value given has shape "
                    f"{format_shape(value.shape)}."
                )
            arrays.append(value)
        for target, value in zip(own, arrays):
            target.data = target.backend.asarray(value.astype(target.dtype, copy=True))

    def to(self, backend) -> "Layer":
        """Move this layer's weights to another backend."""
        target = config.resolve_backend(backend)
        for weight in self._weights:
            if weight.backend is not target:
                weight.data = target.asarray(weight.backend.to_numpy(weight.data))
                weight.backend = target
                weight.grad = None
        for layer in self._layers:
            layer.to(target)
        self.backend = target
        return self

    # -- configuration ----------------------------------------------------

    def get_config(self) -> dict:
        config_dict = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config_dict["input_shape"] = list(self._batch_input_shape[1:])
        return config_dict

    @classmethod
    def from_config(cls, config_dict: dict) -> "Layer":
        return cls(**config_dict)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _backend_of(inputs):
    return (inputs[0] if isinstance(inputs, list) else inputs).backend


def _count(inputs) -> int:
    return (inputs[0] if isinstance(inputs, list) else inputs).shape[0]
