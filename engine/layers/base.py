"""The Layer base class: weights, building on first call, input checks, configs.

As in Keras 3, a layer creates its weights in ``build(input_shape)`` the first
time it is called (or when a model is built from an input shape), and its
``call`` is a few ops. A layer captures the current backend when it is built;
its weights live there.
"""

import collections
import contextvars
import inspect
import threading
import warnings

import numpy

from backends.errors import DeviceOutOfMemoryError

from .. import config, constraints, initializers, regularizers, symbolic
from ..registry import Registry, snake_case
from ..tensor import Tensor, keras_mask, no_grad

layer_registry = Registry(
    "layer",
    hint=(
        "If '{name}' is a custom layer, decorate its class with "
        "@engine.layers.register_layer, or pass custom_objects={{'{name}': {name}}} to "
        "load_model."
    ),
)
_name_counts: collections.Counter = collections.Counter()
#: set by ``load_model`` while it builds a model from a file's config: called with
#: ``(layer, name, shape)`` before each weight is allocated, so a config cannot ask for
#: weights its file does not hold (see ``engine.saving``)
weight_claims: contextvars.ContextVar = contextvars.ContextVar("weight_claims", default=None)


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
        """Raise Keras's error when ``shape`` does not fit (the messages are made only then:
        this runs at every call of the layer)."""
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            problem = f"expected ndim={self.ndim}, found ndim={rank};"
        elif self.min_ndim is not None and rank < self.min_ndim:
            problem = f"expected min_ndim={self.min_ndim}, found ndim={rank};"
        elif self.max_ndim is not None and rank > self.max_ndim:
            problem = f"expected max_ndim={self.max_ndim}, found ndim={rank};"
        else:
            for axis, size in self.axes.items():
                if size is not None and shape[axis] != size:
                    problem = f"expected axis {axis} of input shape to have value {size},"
                    break
            else:
                return
        raise ValueError(
            f"Input 0 of layer '{layer.name}' is incompatible with the layer: {problem} but "
            f"received input with shape {format_shape(shape)}."
        )


class CallSignature:
    """What ``cls.call`` takes, read once per class.

    ``positional``: the parameters after the first input that a positional
    argument of ``layer(x, ...)`` binds to (Keras passes ``mha(query, value)``
    on to ``call(query, value)``); ``mask``: where the input mask goes, ``mask``
    or, for a call taking several tensors, ``<first parameter>_mask``
    (Keras 3's ``query_mask``).
    """

    def __init__(self, cls):
        parameters = inspect.signature(cls.call).parameters
        self.names = frozenset(parameters)
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        positional = [name for name, p in parameters.items() if p.kind in kinds][1:]  # no self
        self.positional = positional[1:]
        self.training = "training" in parameters
        #: what ``training=None`` becomes: the default of ``call`` (Keras 3: augmentation
        #: layers default to True, Dropout to False; a model's None reaches its layers,
        #: each of which then applies its own default)
        default = parameters["training"].default if self.training else None
        self.training_default = None if default is inspect.Parameter.empty else default
        first_mask = f"{positional[0]}_mask" if positional else None
        self.mask = "mask" if "mask" in parameters else None
        if self.mask is None and first_mask in parameters:
            self.mask = first_mask
        #: where an attached mask of the first input goes when other tensor arguments come
        #: too (Keras 3: each tensor argument's to ``<argument>_mask``, none to ``mask``)
        self.first_mask = first_mask if first_mask in parameters else None


_call_signatures: dict[type, CallSignature] = {}


def call_signature(cls) -> CallSignature:
    signature = _call_signatures.get(cls)
    if signature is None:
        signature = _call_signatures[cls] = CallSignature(cls)
    return signature


def shape_arguments(method, kwargs: dict) -> dict:
    """The call's keyword arguments that ``method`` (``build``, ``compute_output_shape``) names:
    a tensor argument ``value`` as ``value_shape`` (Keras 3's rule), any other as it is."""
    names = inspect.signature(method).parameters
    arguments = {}
    for key, value in kwargs.items():
        if f"{key}_shape" in names and isinstance(value, (Tensor, symbolic.KerasTensor)):
            arguments[f"{key}_shape"] = tuple(value.shape)
        elif key in names:
            arguments[key] = value
    return arguments


#: Times any layer's attribute was set (``Layer.__setattr__``), or a weight or sub-layer
#: added or removed in place (``note_change``): a taped forward (``models/replay.py``) is
#: replayed, and a model's list of trainable weights kept, only while no layer has changed.
attribute_writes = 0


def note_change() -> None:
    """Count a change to a layer that no attribute write shows: a weight or a sub-layer
    appended to (or removed from) its lists."""
    global attribute_writes
    attribute_writes += 1


class Layer:
    """Base class of all layers."""

    #: attributes that do not change what ``call`` computes (a model's training flags):
    #: setting them leaves ``attribute_writes`` as it is
    _bookkeeping_attributes: frozenset = frozenset()

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
        self._added_losses: list[Tensor] = []
        self._build_input_shape = None
        if input_dim is not None:
            input_shape = (input_dim,)
        self._batch_input_shape = (
            (batch_size, *tuple(input_shape)) if input_shape is not None else None
        )

    def __setattr__(self, name, value):
        global attribute_writes
        if name not in self._bookkeeping_attributes:
            attribute_writes += 1
        if isinstance(value, Layer):
            self._track_sublayers(value)
        elif isinstance(value, (list, tuple, dict)) and "_layers" in self.__dict__:
            if not name.startswith("_"):  # Keras tracks layers held in lists and dicts
                value = _tracked(value, self)
            self._track_sublayers(value)
        object.__setattr__(self, name, value)

    def _track_sublayers(self, value) -> None:
        """Make ``value`` (a layer, or a container of layers) a sub-layer of this one."""
        if isinstance(value, Layer):
            if value is not self and not any(value is layer for layer in self._layers):
                self._layers.append(value)
                note_change()
        elif isinstance(value, dict):
            for item in value.values():
                self._track_sublayers(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._track_sublayers(item)

    # -- building ---------------------------------------------------------

    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included)."""

    def build_from_shape(self, input_shape, **shapes) -> None:
        """Build on the current backend unless the layer already has one.

        ``shapes``: those of the other tensor arguments of the call, for a ``build``
        that names them (``value_shape``).
        """
        if self.built:
            return
        if self.backend is None:
            self.backend = config.get_backend()
        if self.multiple_inputs:
            input_shape = list(input_shape)
        elif symbolic.is_shape(input_shape):
            input_shape = tuple(input_shape)
        self.build(input_shape, **shapes)
        self._build_input_shape = input_shape
        self.built = True

    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable: bool = True,
        regularizer=None,
        constraint=None,
        name: str | None = None,
        autocast: bool = True,
    ) -> Tensor:
        """Create a weight on the layer's backend, initialized on the host (Keras 3's
        arguments; ``initializer`` defaults to glorot_uniform for floats, else zeros).

        ``constraint`` (see ``engine.constraints``) is applied by the optimizer after
        each update of the weight.
        """
        if isinstance(shape, str):
            raise ValueError(
                f"Layer '{self.name}'.add_weight: `name` must be passed as a keyword argument "
                f"(as in Keras 3). Received: add_weight('{shape}', ...). Use: "
                f"add_weight(shape=..., name='{shape}')."
            )
        if shape is None:
            shape = ()
        try:
            shape = tuple(int(size) for size in shape)
        except TypeError:
            raise ValueError(
                f"Layer '{self.name}'.add_weight: `shape` must be a tuple of ints, got "
                f"{shape!r}. A size that is None is only known in build(input_shape)."
            ) from None
        if name is None:
            name = f"variable_{len(self._weights)}" if self._weights else "variable"
        if initializer is None:
            kind = numpy.dtype(dtype or self.dtype).kind
            initializer = "glorot_uniform" if kind == "f" else "zeros"
        claim = weight_claims.get()
        if claim is not None:
            claim(self, name, shape)
        if self.backend is None:
            self.backend = config.get_backend()
        initializer = initializers.get(initializer)
        # C order, whatever the initializer gave (orthogonal's Q.T is Fortran-ordered): the
        # fused optimizer kernels update weights in place through flat views
        values = numpy.asarray(initializer(shape, dtype or self.dtype), order="C")
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
        note_change()
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularized.append((weight, regularizer))
        return weight

    def add_loss(self, loss) -> None:
        """Add a scalar tensor to the losses ``fit`` minimizes (a KL term, an activity
        penalty...); cleared at the start of each outermost layer call, as in Keras."""
        if not isinstance(loss, Tensor):
            backend = self.backend or config.get_backend()
            loss = Tensor(numpy.asarray(loss, dtype=self.dtype), backend=backend)
        if not self._added_losses:
            _call_depth.layers_with_losses.append(self)
        self._added_losses.append(loss)

    # -- calling ----------------------------------------------------------

    def __call__(self, inputs, *args, training=None, mask=None, **kwargs):
        signature = _call_signatures.get(type(self)) or call_signature(type(self))
        if args:
            kwargs = self._bind_positional(signature, args, kwargs)
            training, mask = kwargs.pop("training", training), kwargs.pop("mask", mask)
        given = mask
        if type(inputs) is Tensor:  # the common case, inlined from _single_input
            data = inputs.data
            if mask is None:  # Keras 3: the mask the previous layer attached
                mask = inputs._keras_mask
            if self.autocast and data.dtype != self.dtype and data.dtype.kind in "fiub":
                inputs = inputs.astype(self.dtype)
            shape = data.shape
        elif symbolic.is_symbolic(inputs):
            return self._call_symbolic(inputs, training, mask, kwargs)
        else:
            if mask is None:
                mask = self._attached_mask(inputs)
            inputs = self._convert_inputs(inputs)
            shape = inputs.shape if isinstance(inputs, Tensor) else _shapes(inputs)
        call_mask = mask
        if kwargs:
            if given is None and _tensor_arguments(kwargs):
                # Keras 3: with several tensor arguments, attached masks go to the
                # ``<argument>_mask`` parameters only (an LSTM given initial states takes
                # no mask from its input)
                call_mask = None
                first = signature.first_mask
                if first is not None and mask is not None and kwargs.get(first) is None:
                    kwargs[first] = mask
                _attached_argument_masks(signature, kwargs)
            kwargs = {key: self._convert_argument(value) for key, value in kwargs.items()}
        if not self.built:
            self.build_from_shape(shape, **(kwargs and shape_arguments(self.build, kwargs)))
        if self.input_spec is not None and isinstance(inputs, Tensor):
            self.input_spec.check(self, shape)
        if signature.training:
            kwargs["training"] = signature.training_default if training is None else bool(training)
        if signature.mask and call_mask is not None:
            kwargs[signature.mask] = call_mask
        outermost = not _call_depth.value
        if outermost and _call_depth.layers_with_losses:
            _clear_added_losses()
        _call_depth.value += 1
        try:
            outputs = self.call(inputs, **kwargs)
            computes_mask = type(self).compute_mask is not Layer.compute_mask
            if computes_mask or (mask is not None and self.supports_masking):
                _attach_masks(outputs, self.compute_mask(inputs, mask))
            elif mask is not None:
                _warn_mask_dropped(self, mask)
            return outputs
        except DeviceOutOfMemoryError:
            raise  # an inner layer has already named itself
        except _backend_of(inputs).out_of_memory_errors as error:
            raise DeviceOutOfMemoryError(
                f"Layer '{self.name}' ran out of {_backend_of(inputs).name} backend memory on "
                f"inputs of shape {shape} (batch size {_count(inputs)}). Use a smaller "
                f"batch_size in fit/evaluate/predict."
            ) from error
        finally:
            _call_depth.value -= 1

    def _attached_mask(self, inputs):
        """The masks attached to a list of input tensors (a merge layer's), or None."""
        if not (self.multiple_inputs and isinstance(inputs, (list, tuple))):
            return None
        masks = [keras_mask(x) for x in inputs]
        return masks if any(m is not None for m in masks) else None

    def _bind_positional(self, signature: CallSignature, args: tuple, kwargs: dict) -> dict:
        """Positional arguments after the input, by the names ``call`` gives them."""
        if len(args) > len(signature.positional):
            raise TypeError(
                f"Layer '{self.name}' ({type(self).__name__}): call() takes "
                f"{len(signature.positional) + 1} positional argument(s) (inputs"
                f"{''.join(', ' + name for name in signature.positional)}), but "
                f"{len(args) + 1} were given."
            )
        bound = dict(zip(signature.positional, args))
        for name in bound:
            if name in kwargs:
                raise TypeError(
                    f"Layer '{self.name}' ({type(self).__name__}): got two values for "
                    f"argument '{name}' (one positional, one by keyword)."
                )
        return {**bound, **kwargs}

    def _convert_argument(self, value):
        """A tensor argument besides the inputs (``value`` of attention): float data on the
        layer's backend and in its dtype, as Keras converts every tensor argument; other
        values (boolean masks, flags, structures) as given."""
        if isinstance(value, Tensor):
            floating = value.data.dtype.kind == "f"
        else:
            backend = self.backend or config.get_backend()
            if not (isinstance(value, numpy.ndarray) or backend.is_native(value)):
                return value
            floating = value.dtype.kind == "f"
        return self._single_input(value) if floating else value

    def _convert_inputs(self, inputs):
        """Tensors on the layer's backend, in the layer's dtype; lists only where they fit.

        Built-in layers take one tensor (merge layers a list); a layer or model that
        users subclass may take any structure (a list, tuple or dict of tensors).
        """
        if isinstance(inputs, Tensor):
            return self._single_input(inputs)
        if self.multiple_inputs:
            return self._input_list(inputs)
        if _is_structure(inputs):
            if not _takes_structures(type(self)):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) takes one input tensor, but "
                    f"was called on a {type(inputs).__name__} of {len(inputs)} tensors. To "
                    f"combine several tensors use a merge layer first, e.g. "
                    f"layers.Concatenate()([a, b])."
                )
            return symbolic.map_structure(self._single_input, inputs)
        return self._input_tensor(inputs)

    def _single_input(self, inputs) -> Tensor:
        if isinstance(inputs, Tensor):
            if (
                self.autocast
                and inputs.data.dtype != self.dtype
                and inputs.data.dtype.kind in "fiub"
            ):
                return inputs.astype(self.dtype)
            return inputs
        if _is_structure(inputs):
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
        elif _takes_structures(type(self)):
            shape = symbolic.shapes_of(inputs)
        else:
            count = len(symbolic.flatten(inputs))
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) takes one input tensor, but was "
                f"called on a {type(inputs).__name__} of {count} tensors. To combine several "
                f"tensors use a merge layer first, e.g. layers.Concatenate()([a, b])."
            )
        if not self.built:
            self.build_from_shape(shape, **(kwargs and shape_arguments(self.build, kwargs)))
        if self.input_spec is not None and isinstance(inputs, symbolic.KerasTensor):
            self.input_spec.check(self, shape)
        extra = kwargs and shape_arguments(self.compute_output_shape, kwargs)
        output_shape = self.compute_output_shape(shape, **extra)
        dtype = self.dtype if self.autocast else symbolic.flatten(inputs)[0].dtype
        single = symbolic.is_shape(output_shape)
        shapes = [output_shape] if single else symbolic.flatten_shapes(output_shape)
        outputs = [symbolic.KerasTensor(s, dtype) for s in shapes]
        call_kwargs = dict(kwargs)
        if training is not None:
            call_kwargs["training"] = training
        symbolic.Node(self, inputs, outputs, call_kwargs)
        return outputs[0] if single else outputs

    def _input_tensor(self, data) -> Tensor:
        backend = self.backend or config.get_backend()
        array = numpy.asarray(data) if not backend.is_native(data) else data
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Layer '{self.name}' expects numeric input; got an array of dtype {array.dtype}."
            )
        dtype = self.dtype if (self.autocast and array.dtype.kind in "fiub") else None
        if backend.is_native(array) and (dtype is None or array.dtype == dtype):
            return Tensor._wrap(array, backend)  # a batch already in place: nothing to convert
        return Tensor(array, dtype=dtype, backend=backend)

    def call(self, inputs, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output: passed through when the layer supports masking."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape`` (the batch axis may be None).

        Every built-in layer computes it from the shapes alone. This fallback, for
        a custom layer that does not define it, builds the layer and runs its
        ``call`` once on zeros with a batch of one, as Keras traces ``call``.
        """
        self.build_from_shape(input_shape)
        dtype = self.dtype if self.autocast else "int64"
        xp = self.backend.xp

        def zeros(shape):
            probe = tuple(1 if s is None else s for s in shape)
            return Tensor(xp.zeros(probe, dtype=dtype), backend=self.backend)

        if symbolic.is_shape(input_shape):
            probe, batch = zeros(input_shape), input_shape[0]
        else:
            probe = symbolic.map_shapes(zeros, input_shape)
            batch = symbolic.flatten_shapes(input_shape)[0][0]
        with no_grad():
            output = self._probe(probe)
        return symbolic.map_structure(lambda t: (batch, *t.shape[1:]), output)

    def _probe(self, probe):
        """``self(probe)``; where that fails and ``call`` takes a mask, again with an all-True
        mask over the probe's leading axes: Keras traces ``call`` with the input's symbolic
        mask, which a masking layer (the masking guide's ``TemporalSoftmax``) may need."""
        try:
            return self(probe)
        except Exception as error:
            signature = call_signature(type(self))
            if signature.mask is None or not isinstance(probe, Tensor) or probe.ndim < 2:
                raise
            first_error = error
        xp = probe.backend.xp
        try:
            return self(probe, mask=xp.ones(probe.shape[:-1], dtype=bool))
        except Exception:
            raise first_error from None

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
    def variables(self) -> list[Tensor]:
        """Keras's name for ``weights``."""
        return self.weights

    @property
    def trainable_variables(self) -> list[Tensor]:
        """Keras's name for ``trainable_weights`` (what a custom training loop steps)."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[Tensor]:
        """Keras's name for ``non_trainable_weights``."""
        return self.non_trainable_weights

    @property
    def input(self):
        """The symbolic tensor(s) this layer was first called on in the functional API
        (Keras's ``layer.input``)."""
        tensors = self._first_call("input").input_tensors
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def output(self):
        """The symbolic tensor(s) this layer's first call in the functional API gave, as in
        ``keras.Model(model.inputs, model.get_layer("block_3").output)``."""
        outputs = self._first_call("output").outputs
        return outputs[0] if len(outputs) == 1 else outputs

    def _first_call(self, what: str):
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on a symbolic tensor (a "
                f"layers.Input or another layer's output), so it has no {what}."
            )
        return nodes[0]

    @property
    def trainable_weights(self) -> list[Tensor]:
        if not self._trainable:
            return []
        result = (
            [w for w, flag in zip(self._weights, self._trainable_flags) if flag]
            if self._weights
            else []
        )
        for layer in self._layers:
            result.extend(layer.trainable_weights)
        return result

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def losses(self) -> list[Tensor]:
        """``add_loss`` values since the outermost call began, then the weight
        regularization penalties, of this layer and its sub-layers."""
        penalties = list(self._added_losses)
        if self._regularized:
            penalties += [regularizer(weight) for weight, regularizer in self._regularized]
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


class _TrackedList(list):
    """A list attribute of a layer: layers appended to it become sub-layers."""

    def __init__(self, items, owner: "Layer"):
        super().__init__(items)
        self._owner = owner

    def append(self, item) -> None:
        super().append(item)
        self._owner._track_sublayers(item)

    def extend(self, items) -> None:
        items = list(items)
        super().extend(items)
        self._owner._track_sublayers(items)

    def insert(self, index, item) -> None:
        super().insert(index, item)
        self._owner._track_sublayers(item)

    def __setitem__(self, index, item) -> None:
        super().__setitem__(index, item)
        self._owner._track_sublayers(item)

    def __iadd__(self, items):
        self.extend(items)
        return self


class _TrackedDict(dict):
    """A dict attribute of a layer: layers stored in it become sub-layers (insertion order)."""

    def __init__(self, items, owner: "Layer"):
        super().__init__(items)
        self._owner = owner

    def __setitem__(self, key, item) -> None:
        super().__setitem__(key, item)
        self._owner._track_sublayers(item)

    def update(self, *args, **kwargs) -> None:
        items = dict(*args, **kwargs)
        super().update(items)
        self._owner._track_sublayers(items)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]


def _tracked(value, owner: "Layer"):
    if type(value) is list:
        return _TrackedList(value, owner)
    if type(value) is dict:
        return _TrackedDict(value, owner)
    return value


def _backend_of(inputs):
    first = symbolic.flatten(inputs)[0]
    return first.backend if isinstance(first, Tensor) else config.get_backend()  # host text


def _count(inputs) -> int:
    return symbolic.flatten(inputs)[0].shape[0]


def _shapes(inputs):
    return symbolic.map_structure(lambda t: tuple(t.shape), inputs)


def _is_structure(inputs) -> bool:
    """A dict, or a list/tuple holding tensors or arrays (not nested lists of numbers)."""
    if isinstance(inputs, dict):
        return True
    return isinstance(inputs, (list, tuple)) and any(
        isinstance(item, (Tensor, numpy.ndarray, symbolic.KerasTensor, list, tuple, dict))
        and not _is_numbers(item)
        for item in inputs
    )


def _is_numbers(item) -> bool:
    """Nested lists of plain numbers: array data, not a structure of inputs."""
    if isinstance(item, (list, tuple)):
        return all(_is_numbers(x) for x in item)
    return isinstance(item, (int, float, bool, numpy.number))


_takes_structures_cache: dict[type, bool] = {}


def _takes_structures(cls) -> bool:
    """Layers and models that users write may take several tensors; built-in ones take one
    (merge layers declare ``multiple_inputs``)."""
    flag = _takes_structures_cache.get(cls)
    if flag is None:
        flag = _takes_structures_cache[cls] = not cls.__module__.startswith("engine.")
    return flag


class _CallDepth(threading.local):
    """How deep this thread is in nested layer calls; the layers holding ``add_loss`` values."""

    def __init__(self):
        self.value = 0
        self.layers_with_losses: list = []


_call_depth = _CallDepth()


def _clear_added_losses() -> None:
    """Keras resets ``add_loss`` values at each outermost layer call."""
    for layer in _call_depth.layers_with_losses:
        layer._added_losses.clear()
    _call_depth.layers_with_losses.clear()


def _attached_argument_masks(signature: CallSignature, kwargs: dict) -> None:
    """Keras 3: a tensor argument's attached mask goes to ``<argument>_mask`` (attention's
    ``value_mask``) where ``call`` takes one and none was given."""
    for key, value in list(kwargs.items()):
        name = f"{key}_mask"
        if name in signature.names and kwargs.get(name) is None:
            mask = keras_mask(value)
            if mask is not None:
                kwargs[name] = mask


def _attach_masks(outputs, masks) -> None:
    """Attach ``compute_mask``'s result to the outputs that have no mask yet (Keras 3's
    ``_keras_mask``): one mask to one tensor, or a list zipped with a list of outputs."""
    if masks is None:
        return
    if isinstance(outputs, Tensor):
        if not isinstance(masks, (list, tuple)) and keras_mask(outputs) is None:
            outputs._keras_mask = masks
        return
    if isinstance(outputs, (list, tuple)):
        masks = masks if isinstance(masks, (list, tuple)) else [masks]
        for output, mask in zip(outputs, masks):
            if mask is not None and isinstance(output, Tensor) and keras_mask(output) is None:
                output._keras_mask = mask


def _warn_mask_dropped(layer: Layer, mask) -> None:
    """Keras 3's warning when a layer that does not support masking is given a mask."""
    masks = mask if isinstance(mask, (list, tuple)) else [mask]
    if any(m is not None for m in masks):
        warnings.warn(
            f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with "
            f"a mask attached to it. However, this layer does not support masking and will "
            f"therefore destroy the mask information. Downstream layers will not see the mask.",
            stacklevel=3,
        )


def _tensor_arguments(kwargs: dict) -> bool:
    """Whether a keyword argument is a tensor argument as Keras 3 counts them: a tensor or
    array, or a non-empty list of them (``None`` allowed), such as an RNN's initial states."""
    arrays = (Tensor, numpy.ndarray)  # Keras converts arrays to tensors before it counts
    for value in kwargs.values():
        if isinstance(value, arrays):
            return True
        if isinstance(value, (list, tuple)) and value:
            if all(v is None or isinstance(v, arrays) for v in value):
                return True
    return False
