"""A model's forward and loss, taped once and replayed on the next batches.

The default training step of a ``Sequential`` or functional model runs the same ops
on the same weights for every batch of one shape; only the batch's values change.
The first step runs the layers and the loss as usual while ``apply`` tapes each op
(``taping_ops``); the next ones run the taped ops' ``forward`` on the new batch and
targets, then their ``backward`` in reverse order. What is skipped is the layers' and
the loss's Python (input checks, casts, masks, reductions' bookkeeping) and the graph's
(``run_backward``'s heap): a tenth to a sixth of a small model's training step (W5,
W1), a third of its ``test_on_batch`` and ``predict_on_batch``. Values and gradients
are the eager step's, bit for bit, as the same kernels run on the same arrays in the
same order. ``evaluate`` replays its own tapes of forward and loss, ``predict`` of the
forward (``training=False``, no graph).

A tape is replayed only where that holds by construction:

- the model is a ``Sequential`` or ``Functional`` that keeps their ``call``, made of
  layers whose ``call`` runs the same ops for the same input shape and settings and
  changes nothing else but through a noted host call (``REPLAYED_LAYERS``, with built-in
  activations: dropout draws its mask inside its op; batch normalization's update of
  its moving statistics and an embedding's id check are noted with ``tensor.note_call``
  and repeated at every replay, where they ran; a recurrent layer's sequence is one op,
  and its dropout masks, drawn outside that op, refuse the tape; no user layer or
  activation, which may branch on values);
- the loss, taped with the forward, is a built-in one whose call is its ops
  (``REPLAYED_LOSSES``, exact types), given no sample or class weights; its targets'
  casts and reshapes are noted (``tensor.derive``) and made again from the next
  targets, and its label check (``note_call``) runs again at every replay. Other losses
  run as always on the replayed forward's output;
- each taped op reads only the batch, the targets (or an array ``derive`` made of
  them), the model's weights, a constant of the code (``note_constant``: a Python
  number, an array of the shapes alone) or an earlier op's output, and keeps no other
  array among its settings (``_plain``): a value computed from the batch outside the
  ops would be stale in a replay. A host call reads those, or an array an op kept;
- no weight is read twice and no op output more than twice (so no gradient is summed in
  another order than the eager backward's: two terms add the same either way); no
  layer added a loss (an activity regularizer; a weight's regularizer reads it twice);
  the model returns one tensor, without a mask;
- the batch (and targets) have the shape and dtype of the taped ones, the loss has the
  same settings, and no layer attribute was set since (``Layer.__setattr__`` counts all
  but a model's loop flags: another activation, ``trainable``, a rebuilt weight each
  make a new tape); a forward that sets attributes itself is not taped. A forward that
  cannot be taped is not tried again until one of these changes.

A model whose ``compute_loss`` is the user's runs its layers in training (that loss may
differentiate through their graph with ``create_graph=True``, which a replay does not
record). ``compile(run_eagerly=True)`` runs every step through the layers and the loss.
"""

import types

import numpy

import backends
from backends.errors import DeviceOutOfMemoryError

from .. import activations, layers
from ..functional.activation import Softmax as SoftmaxOp
from ..layers import base as layer_base
from ..losses import probabilistic, regression
from ..losses.base import LossFunctionWrapper
from ..tensor import (
    Function,
    Taping,
    Tensor,
    _accumulate_leaf,
    _initial_grad,
    apply,
    is_grad_enabled,
    taping_ops,
)

#: Layers whose call is its ops and its noted host calls, given the input's shape and
#: dtype and the layer's attributes (built-in types only: a subclass may do more).
REPLAYED_LAYERS = frozenset(
    {
        layers.InputLayer,
        layers.Dense,
        layers.Dropout,
        layers.Activation,
        layers.ReLU,
        layers.LeakyReLU,
        layers.Softmax,
        layers.Conv1D,
        layers.Conv2D,
        layers.MaxPooling1D,
        layers.MaxPooling2D,
        layers.AveragePooling1D,
        layers.AveragePooling2D,
        layers.GlobalAveragePooling1D,
        layers.GlobalAveragePooling2D,
        layers.GlobalMaxPooling1D,
        layers.GlobalMaxPooling2D,
        layers.Flatten,
        layers.Reshape,
        layers.RepeatVector,
        layers.Permute,
        layers.Cropping1D,
        layers.Cropping2D,
        layers.UpSampling1D,
        layers.UpSampling2D,
        layers.ZeroPadding2D,
        # merge layers: Maximum and Minimum compare the inputs outside the ops, which the
        # tape refuses (a replay would keep the first batch's choice)
        layers.Add,
        layers.Subtract,
        layers.Multiply,
        layers.Average,
        layers.Maximum,
        layers.Minimum,
        layers.Concatenate,
        # its id check and cast are noted (``note_call``, ``derive``) and repeated
        layers.Embedding,
        # the whole sequence is one op (its dropout masks, drawn outside it, refuse the tape)
        layers.SimpleRNN,
        layers.LSTM,
        layers.GRU,
        layers.LayerNormalization,
        # its moving statistics' update is noted (``note_call``) and repeated
        layers.BatchNormalization,
    }
)

#: Losses whose call is its ops, given the targets' shape and dtype and the loss's
#: settings, besides what a replay repeats: the targets' casts and reshapes
#: (``tensor.derive``) and the label check (``tensor.note_call``).
REPLAYED_LOSSES = frozenset(
    {
        regression.mean_squared_error,
        regression.mean_absolute_error,
        probabilistic.binary_crossentropy,
        probabilistic.categorical_crossentropy,
        probabilistic.sparse_categorical_crossentropy,
    }
)
_LOSS_TYPES = (
    LossFunctionWrapper,
    regression.MeanSquaredError,
    regression.MeanAbsoluteError,
    probabilistic.BinaryCrossentropy,
    probabilistic.CategoricalCrossentropy,
    probabilistic.SparseCategoricalCrossentropy,
)

#: Tapes kept per model: a fit's full and last batches, in training and in validation...
TAPES_KEPT = 8
#: Forwards that set a layer attribute while taped (a layer that does so at every call
#: could never be replayed) after which a model stops taping.
WRITING_LIMIT = 3

_PLAIN_TYPES = (
    type(None),
    bool,
    int,
    float,
    str,
    type,
    numpy.dtype,
    types.FunctionType,
    types.BuiltinFunctionType,
    backends.Backend,
)


def _plain(value) -> bool:
    """Whether ``value`` is a setting that cannot hold values of a batch (no list, which
    ``forward`` could change in place; a dict is replayed read-only, ``_frozen``)."""
    if isinstance(value, tuple):
        return all(_plain(item) for item in value)
    if type(value) is slice:  # an index's
        return _plain(value.start) and _plain(value.stop) and _plain(value.step)
    if value is Ellipsis:
        return True
    if isinstance(value, dict):
        return all(_plain(key) and _plain(item) for key, item in value.items())
    # a NumPy scalar passes for a float or an int, but may be a batch's statistic
    return isinstance(value, _PLAIN_TYPES) and not isinstance(value, numpy.generic)


def _frozen(state: dict) -> dict:
    """``state`` with each dict (an activation's parameters) as a read-only copy, shared by
    the replays: an op changing one would fail instead of changing the next replay."""
    return {
        key: types.MappingProxyType(dict(value)) if isinstance(value, dict) else value
        for key, value in state.items()
    }


class _ReplayedOutput(Function):
    """Creator of a replayed forward's output: hands the loss's gradient to the tape."""

    def __init__(self, tape: "Tape", generation: int):
        self.tape = tape
        self.inputs = ()
        self.generation = generation  # the taped op's: the eager backward's order

    def backward(self, grad):
        self.tape.output_grad = grad
        return ()


class _Made:
    """An array a replay makes before its ops: the batch or the targets (``data`` set at
    each replay), one made from another as ``fn(parent, *args)`` (``tensor.derive``: the
    targets cast or reshaped, an embedding's float ids cast), or a constant of the code
    (``fn`` None, ``data`` kept)."""

    __slots__ = ("data", "parent", "fn", "args")

    def __init__(self, data=None, parent=None, fn=None, args=()):
        self.data, self.parent, self.fn, self.args = data, parent, fn, args


class _TupleOf:
    """A setting that is a tuple holding arrays (an index), item by item."""

    __slots__ = ("items",)

    def __init__(self, items: tuple):
        self.items = items  # sources; a plain item as a constant _Made


class _Attribute:
    """An array an op kept as an attribute in its forward (batch normalization's
    statistics), read by a host call."""

    __slots__ = ("index", "name")

    def __init__(self, index: int, name: str):
        self.index, self.name = index, name


def _value(source, values, running):
    """The array (or tuple) a taped ``source`` stands for in this replay."""
    kind = type(source)
    if kind is int:
        return values[source]
    if kind is _TupleOf:
        return tuple(_value(item, values, running) for item in source.items)
    if kind is _Attribute:
        return running[source.index].__dict__[source.name]
    return source.data


class Tape:
    """The ops of one forward (or of a forward and its loss), in the order they ran, with
    what each reads."""

    __slots__ = (
        "ops",
        "sources",
        "routes",
        "bindings",
        "calls",
        "batch",
        "targets",
        "made",
        "output_index",
        "output_generation",
        "prediction_index",
        "loss_settings",
        "tail",
        "writes",
        "differentiable",
        "weights",
        "running",
        "output_grad",
    )

    def __init__(self, recorded: "_Recorded", output, tail, prediction_index=None):
        self.ops = recorded.ops  # (op type, its settings before it ran)
        self.sources = recorded.sources  # per op, per input: an op's index, a weight, a _Made
        self.routes = _routes(recorded.sources, recorded.needs)
        self.bindings = recorded.bindings  # per op: (setting, source) of its array settings
        self.calls = recorded.calls  # per op and after the last: (fn, args, bound args)
        self.batch = recorded.batch  # the _Made of the batch, when an array is made of it
        self.targets = recorded.targets  # the _Made of the targets, or None
        self.made = recorded.made  # the _Made computed from the batch or targets, in order
        self.output_index = recorded.index_of[id(output)]
        self.output_generation = output.generation
        self.prediction_index = prediction_index  # a loss tape's model output
        self.loss_settings = None  # a loss tape's loss, as ``_loss_settings`` gives it
        self.differentiable = output.requires_grad  # else an inference forward
        self.tail = tail  # a final op run through ``apply`` on the replayed output, or None
        self.writes = layer_base.attribute_writes  # when taped
        # the weights read, with whether each required a gradient (which ops' settings hold)
        self.weights = tuple(
            (source, source.requires_grad)
            for row in self.sources
            for source in row
            if type(source) is Tensor
        )
        self.running = None  # the ops of the last forward, until its backward
        self.output_grad = None

    def current(self) -> bool:
        """Whether no layer attribute was set and no weight's ``requires_grad`` changed."""
        if self.writes != layer_base.attribute_writes:
            return False
        for weight, flag in self.weights:  # a loop: a generator costs more, at every step
            if weight.requires_grad is not flag:
                return False
        return True

    def run(self, x, y=None) -> list:
        """The taped ops' outputs for the batch ``x`` (and targets ``y``), repeating the
        taped host calls where they ran; keeps the ops for ``backward`` when differentiable."""
        if self.batch is not None:
            self.batch.data = x
        if self.targets is not None:
            self.targets.data = y
        for made in self.made:
            made.data = made.fn(made.parent.data, *made.args)
        values, running = [], []
        try:
            for (op_type, state), sources, bindings, calls in zip(
                self.ops, self.sources, self.bindings, self.calls
            ):
                if calls:
                    _run_calls(calls, values, running)
                fn = op_type.__new__(op_type)
                fn.__dict__.update(state)
                for name, source in bindings:
                    fn.__dict__[name] = _value(source, values, running)
                arrays = [  # _value, inline: an op's output, a weight's or a _Made's array
                    values[src] if type(src) is int else src.data for src in sources
                ]
                values.append(fn.forward(*arrays))
                running.append(fn)
            if self.calls[-1]:
                _run_calls(self.calls[-1], values, running)
        finally:  # the batch and targets are not kept between steps
            for made in (self.batch, self.targets, *self.made):
                if made is not None:
                    made.data = None
        if self.differentiable:
            self.running, self.output_grad = running, None
        return values

    def _output(self, values, backend) -> Tensor:
        output = Tensor._wrap(values[self.output_index], backend)
        if self.differentiable:
            output.requires_grad = True
            output.creator = _ReplayedOutput(self, self.output_generation - 1)
            output.generation = self.output_generation
        return output

    def forward(self, x, backend) -> Tensor:
        """The model's output for the batch ``x``; a training tape's output carries the
        loss's gradient to ``backward``."""
        output = self._output(self.run(x), backend)
        if self.tail is None:
            return output
        op_type, state = self.tail
        fn = op_type.__new__(op_type)
        fn.__dict__.update(state)
        return apply(fn, output)

    def step(self, x, y, backend) -> tuple:
        """``(loss, output)`` of a loss tape for the batch ``x`` and targets ``y``; the
        loss carries its gradient to ``backward``."""
        values = self.run(x, y)
        # the metrics read the output's values (``Metric.arrays``), not its graph
        return self._output(values, backend), Tensor._wrap(values[self.prediction_index], backend)

    def backward(self) -> None:
        """The weights' gradients from the output's, as the eager backward adds them."""
        running, grad = self.running, self.output_grad
        self.running = self.output_grad = None
        if grad is None:  # the loss does not depend on the output
            return
        pending = [None] * len(running)
        pending[self.output_index] = grad
        for index, routes in self.routes:
            grad_out = pending[index]
            if grad_out is None:
                continue
            grads = running[index].backward(grad_out)
            running[index] = pending[index] = None  # frees the op's saved arrays
            for position, source in routes:
                grad = grads[position]
                if grad is None:
                    continue
                if type(source) is int:  # read by one op, or by two (a sum of two terms)
                    earlier = pending[source]
                    pending[source] = grad if earlier is None else earlier + grad
                elif source.requires_grad:
                    _accumulate_leaf(source, grad)


def _run_calls(calls, values, running) -> None:
    """The taped host calls (a label check, a moving average's update) on this replay's
    arrays."""
    for fn, args, bound in calls:
        args = list(args)
        for position, source in bound:
            args[position] = _value(source, values, running)
        fn(*args)


def _routes(sources, needs) -> tuple:
    """Last op first, those with an input whose gradient flows on: ``(op's index,
    ((input's position, its source), ...))``, the source an op's index or a weight (the
    batch, the targets and constants take none)."""
    routes = []
    for index in range(len(sources) - 1, -1, -1):
        flows = tuple(
            (position, source)
            for position, (source, needed) in enumerate(zip(sources[index], needs[index]))
            if needed and (type(source) is int or type(source) is Tensor)
        )
        if flows:
            routes.append((index, flows))
    return tuple(routes)


def replayable_model(model) -> bool:
    """Whether ``model``'s forward is only its layers' ops (see the module)."""
    from .functional import Functional  # they import the trainer, which imports this
    from .sequential import Sequential

    kind = type(model)
    if kind.call is not Functional.call and kind.call is not Sequential.call:
        return False
    if kind.__call__ is not Functional.__call__ and kind.__call__ is not layer_base.Layer.__call__:
        return False
    return all(
        type(layer) in REPLAYED_LAYERS
        and activations.is_builtin(getattr(layer, "activation", activations.linear))
        for layer in model.layers
    )


def replayable_loss(model, y) -> bool:
    """Whether ``model.loss`` on the targets ``y`` is only its ops, besides the label check
    and the targets' casts a replay repeats (``REPLAYED_LOSSES``, not a subclass)."""
    loss = model.loss
    return type(loss) in _LOSS_TYPES and loss.fn in REPLAYED_LOSSES and model.backend.is_native(y)


def _loss_settings(loss) -> dict:
    """What a loss computes with: its attributes, and its function's arguments."""
    settings = dict(vars(loss))
    settings["fn_kwargs"] = dict(loss.fn_kwargs)
    return settings


class _Recorded:
    """A ``Taping`` turned into a tape's rows, each op's inputs and array settings (and
    each host call's arrays) resolved to what a replay has (an op's index, a weight, a
    ``_Made``: the batch, the targets, an array made of them, a constant; an op's
    ``_Attribute``), or refused (``ok`` False) where one is none of these."""

    def __init__(self, model, x, y, taping: Taping):
        self.x, self.y, self.derived = x, y, taping.derived
        self.weights = {id(weight) for weight in model.weights}
        self.index_of = {}  # id of an op's output tensor -> the op's index
        self.index_of_data = {}  # id of an op's output array -> the op's index
        self.attribute_of = {}  # id of an array an op kept -> its _Attribute
        self.reads = {}  # id of an op's output or a weight -> ops reading it
        self.batch = self.targets = None  # their _Made, when something is made of them
        self.made, self.made_of = [], {}
        self.ops, self.sources, self.needs, self.bindings = [], [], [], []
        calls_at = {}
        for position, fn, args in taping.calls:
            calls_at.setdefault(position, []).append((fn, args))
        self.calls = []
        self.ok = True
        for position, (fn, state, inputs, out) in enumerate(taping.ops):
            self.calls.append(self._calls(calls_at.get(position, ())))
            self._add(fn, state, inputs, out)
            if not self.ok:
                return
        self.calls.append(self._calls(calls_at.get(len(taping.ops), ())))

    def _add(self, fn, state, inputs, out) -> None:
        settings, bindings = {}, []
        for name, value in state.items():
            if _plain(value):
                settings[name] = value
                continue
            source = self._held_source(value)
            if source is None:
                self.ok = False
                return
            bindings.append((name, source))
        row = tuple(self._input_source(tensor) for tensor in inputs)
        if not self.ok or None in row:
            self.ok = False
            return
        index = len(self.ops)
        self.index_of[id(out)] = index
        self.index_of_data[id(out.data)] = index
        for name, value in fn.__dict__.items():  # as the op's forward left them
            if _is_array(value):
                self.attribute_of.setdefault(id(value), _Attribute(index, name))
        self.ops.append((type(fn), _frozen(settings)))
        self.sources.append(row)
        self.needs.append(tuple(tensor.requires_grad for tensor in inputs))
        self.bindings.append(tuple(bindings))

    def _input_source(self, tensor):
        key = id(tensor)
        if key in self.index_of:
            limit = 2  # two gradients sum the same in either order; three may not
        elif key in self.weights and tensor.creator is None:
            limit = 1  # a weight's gradient may add to one already there
        elif tensor.creator is None and not tensor.requires_grad:
            return self._made(tensor.data)
        else:  # a tensor made outside the taped ops
            return None
        reads = self.reads[key] = self.reads.get(key, 0) + 1
        if reads > limit:
            return None
        return self.index_of[key] if key in self.index_of else tensor

    def _held_source(self, value):
        """The source of a value that holds arrays, an op's setting or a host call's
        argument (an array, or a tuple), or None."""
        if _is_array(value):
            return self._array_source(value)
        if type(value) is not tuple:
            return None
        items = tuple(_Made(item) if _plain(item) else self._held_source(item) for item in value)
        return None if None in items else _TupleOf(items)

    def _array_source(self, array):
        """The batch, an op's output, an array an op kept, another _Made; None if none of
        these."""
        if array is self.x:
            return self._made(array)
        key = id(array)
        index = self.index_of_data.get(key)
        if index is not None:
            return index
        attribute = self.attribute_of.get(key)
        return attribute if attribute is not None else self._made(array)

    def _made(self, array):
        """The batch or targets (as the root of an array made of them), an array made of
        them, or a constant of the code; else None."""
        if array is self.x:
            if self.batch is None:
                self.batch = _Made()
            return self.batch
        if self.y is not None and array is self.y:
            if self.targets is None:
                self.targets = _Made()
            return self.targets
        key = id(array)
        made = self.made_of.get(key)
        if made is not None:
            return made
        entry = self.derived.get(key)
        if entry is None:
            return None
        _, parent, fn, args = entry
        if fn is None:
            made = _Made(array)
        else:
            parent_source = self._made(parent) if all(_plain(a) for a in args) else None
            if parent_source is None:
                return None
            made = _Made(None, parent_source, fn, args)
            self.made.append(made)
        self.made_of[key] = made
        return made

    def _calls(self, noted) -> tuple:
        calls = []
        for fn, args in noted:
            plain, bound = list(args), []
            for position, value in enumerate(args):
                if _plain(value):
                    continue
                source = self._held_source(value)
                if source is None:
                    self.ok = False
                    return ()
                plain[position] = None
                bound.append((position, source))
            calls.append((fn, tuple(plain), tuple(bound)))
        return tuple(calls)


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, Tensor)


def _taped(model, x, taping: Taping, output, y=None, prediction=None) -> Tape | None:
    """The tape of a forward (with ``prediction``: of a forward, the model's output, and
    its loss, ``output``) that ``taping`` collected, or None where a replay could differ."""
    if type(output) is not Tensor or output._keras_mask is not None:
        return None
    if prediction is not None and (
        type(prediction) is not Tensor or prediction._keras_mask is not None
    ):
        return None
    if any(layer._added_losses for layer in model.layers):
        return None
    recorded = _Recorded(model, x, y, taping)
    if not recorded.ok or id(output) not in recorded.index_of or id(output) in recorded.reads:
        return None
    if prediction is not None:
        index = recorded.index_of.get(id(prediction))
        return None if index is None else Tape(recorded, output, None, index)
    tail = None
    ops, sources = recorded.ops, recorded.sources
    last_type, _ = ops[-1]
    if recorded.index_of[id(output)] == len(ops) - 1 and issubclass(last_type, SoftmaxOp):
        # a final softmax runs as the layers run it, on the replayed logits: a
        # cross-entropy then reads those from it, as it does from the layers' output
        source, calls = sources[-1][0], recorded.calls
        # calls has a row more than ops: those after the softmax (none may follow it), and
        # those before it, which become the last row, after the ops left
        if type(source) is int and not recorded.bindings[-1] and not calls[-1]:
            tail = ops.pop()
            for rows in (sources, recorded.needs, recorded.bindings, calls):
                rows.pop()
            output = taping.ops[-1][2][0]
    return Tape(recorded, output, tail)


class TapedForwards:
    """A model's tapes, one per batch shape and dtype (and targets'), training flag and
    grad mode, and the training tape that ran last (whose backward is to come)."""

    __slots__ = ("tapes", "writing", "last")

    def __init__(self):
        self.tapes: dict = {}
        self.writing = 0  # taped forwards that set layer attributes
        self.last = None

    def forward(self, model, x, training: bool):
        """``model(x, training=training)``: replayed, taped for the next batches, or run."""
        self.last = None
        backend = model.backend
        if backend is None or not backend.is_native(x):  # not built, or several inputs
            return model(x, training=training)
        key = (x.shape, x.dtype, backend, training, is_grad_enabled())
        tape = self._current(key)
        if type(tape) is Tape:
            try:
                return tape.forward(x, backend)
            except backend.out_of_memory_errors as error:
                raise _out_of_memory(model, backend, x) from error
        if tape is not None or not self._taping(model):  # refused since nothing changed
            return model(x, training=training)
        writes = layer_base.attribute_writes
        with taping_ops() as taping:
            output = model(x, training=training)
        if layer_base.attribute_writes != writes:  # a layer built or changed itself
            self.writing += 1
            return output
        self._keep(key, _taped(model, x, taping, output))
        return output

    def step(self, model, x, y, sample_weight, training: bool) -> tuple:
        """``(loss, y_pred)``: the model's default ``compute_loss`` of ``model(x)`` against
        ``y``, both replayed from one tape where the loss is ``replayable_loss``'s (and no
        sample weight); else the forward alone."""
        backend = model.backend
        if (
            sample_weight is not None
            or backend is None
            or not backend.is_native(x)
            or not replayable_loss(model, y)
        ):
            return self._forward_and_loss(model, x, y, sample_weight, training)
        self.last = None
        key = (x.shape, x.dtype, y.shape, y.dtype, backend, training, is_grad_enabled())
        tape = self._current(key, model.loss)
        if type(tape) is Tape:
            try:
                return tape.step(x, y, backend)
            except backend.out_of_memory_errors as error:
                raise _out_of_memory(model, backend, x) from error
        if tape is not None or not self._taping(model):  # refused since nothing changed
            return self._forward_and_loss(model, x, y, None, training)
        writes = layer_base.attribute_writes
        settings = _loss_settings(model.loss)
        with taping_ops() as taping:
            y_pred = model(x, training=training)
            loss = model.compute_loss(x, y, y_pred, training=training)
        if layer_base.attribute_writes != writes:
            self.writing += 1
            return loss, y_pred
        tape = None
        if all(_plain(value) for value in settings.values()):
            tape = _taped(model, x, taping, loss, y, y_pred)
        self._keep(key, tape, settings)
        return loss, y_pred

    def _forward_and_loss(self, model, x, y, sample_weight, training: bool) -> tuple:
        y_pred = self.forward(model, x, training)
        return model.compute_loss(x, y, y_pred, sample_weight, training=training), y_pred

    def _current(self, key, loss=None) -> "Tape | _Refused | None":
        """The tape of ``key`` (or its refusal) if nothing changed since it was taped (then
        the one whose backward comes next, when differentiable); a stale one is dropped."""
        tape = self.tapes.get(key)
        if tape is None:
            return None
        # ``vars(loss)`` equals its ``_loss_settings`` copy while nothing in it changed
        if not tape.current() or (loss is not None and vars(loss) != tape.loss_settings):
            del self.tapes[key]
            return None
        if tape.differentiable:
            self.last = tape
        return tape

    def _taping(self, model) -> bool:
        return self.writing < WRITING_LIMIT and replayable_model(model)

    def _keep(self, key, tape: Tape | None, loss_settings=None) -> None:
        """Keep ``tape``, or that ``key``'s forward was refused (no taping again until a
        layer attribute or the loss's settings change)."""
        if tape is None:
            tape = _Refused()
        tape.loss_settings = loss_settings
        if len(self.tapes) >= TAPES_KEPT:
            del self.tapes[next(iter(self.tapes))]
        self.tapes[key] = tape

    def backward(self, loss: Tensor) -> None:
        """``loss.backward()``, with the gradients of a replayed forward's weights; a
        replayed loss hands its seed to its tape directly (it has no graph to walk)."""
        tape, self.last = self.last, None
        creator = loss.creator
        if type(creator) is _ReplayedOutput and creator.tape is tape:
            tape.output_grad = _initial_grad(loss, None, False, "backward()", "grad")
        else:
            loss.backward()
        if tape is not None:
            tape.backward()


class _Refused:
    """A forward that could not be taped (``_taped`` found what a replay could get wrong),
    until a layer attribute changes."""

    __slots__ = ("writes", "loss_settings")
    differentiable = False

    def __init__(self):
        self.writes = layer_base.attribute_writes
        self.loss_settings = None

    def current(self) -> bool:
        return self.writes == layer_base.attribute_writes


def _out_of_memory(model, backend, x) -> DeviceOutOfMemoryError:
    """The error naming the model and the batch when a replay ran out of device memory."""
    return DeviceOutOfMemoryError(
        f"Model '{model.name}' ran out of {backend.name} backend memory in the forward pass "
        f"of a batch of shape {x.shape}. Use a smaller batch_size."
    )
