"""A model's forward, taped once and replayed on the next batches.

The default training step of a ``Sequential`` or functional model runs the same ops
on the same weights for every batch of one shape; only the batch's values change.
The first step runs the layers as usual while ``apply`` tapes each op
(``taping_ops``); the next ones run the taped ops' ``forward`` on the new batch and,
once the loss has been differentiated, their ``backward`` in reverse order. What is
skipped is the layers' Python (input checks, casts, masks, the graph's bookkeeping):
a tenth of a small model's training step, a quarter of its ``predict_on_batch``.
Values and gradients are the layers', bit for bit, as the same kernels run on the
same arrays in the same order. ``evaluate`` and ``predict`` replay their own tapes
(``training=False``, no graph).

A tape is replayed only where that holds by construction:

- the model is a ``Sequential`` or ``Functional`` that keeps their ``call``, made of
  layers whose ``call`` runs the same ops for the same input shape and settings and
  changes nothing else (``REPLAYED_LAYERS``, with built-in activations: dropout draws
  its mask inside its op; no batch normalization, whose moving statistics are set
  outside the ops, and no user layer or activation, which may branch on values);
- each taped op reads only the batch, the model's weights or an earlier op's output,
  and keeps no array among its settings (``_plain``): a value computed from the batch
  outside an op would be stale in a replay;
- no weight and no op output is read twice (so no gradient is summed in another
  order than the eager backward's); no layer added a loss (an activity regularizer);
  the model returns one tensor, without a mask;
- the batch has the shape and dtype of the taped one, and no layer attribute was set
  since (``Layer.__setattr__`` counts all but a model's loop flags: another activation,
  ``trainable``, a rebuilt weight each make a new tape); a forward that sets attributes
  itself is not taped.

The loss with its penalties, and the metrics, run as always on the replayed output,
so sample and class weights and the weights' regularizers are untouched; a model whose
``compute_loss`` is the user's runs its layers in training (that loss may differentiate
through their graph with ``create_graph=True``, which a replay does not record).
``compile(run_eagerly=True)`` runs every step through the layers.
"""

import types

import numpy

import backends
from backends.errors import DeviceOutOfMemoryError

from .. import activations
from ..functional.activation import Softmax as SoftmaxOp
from ..layers import base as layer_base
from ..layers.activation_layers import LeakyReLU, ReLU, Softmax
from ..layers.conv import Conv1D, Conv2D
from ..layers.core import Activation, Dense, InputLayer
from ..layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from ..layers.regularization import Dropout
from ..layers.reshaping import Flatten, Reshape
from ..tensor import Function, Tensor, _accumulate_leaf, apply, is_grad_enabled, taping_ops

#: Layers whose training call is its ops and nothing more, given the input's shape
#: and dtype and the layer's attributes (built-in types only: a subclass may do more).
REPLAYED_LAYERS = frozenset(
    {
        InputLayer,
        Dense,
        Dropout,
        Activation,
        ReLU,
        LeakyReLU,
        Softmax,
        Conv1D,
        Conv2D,
        MaxPooling1D,
        MaxPooling2D,
        AveragePooling2D,
        GlobalAveragePooling1D,
        GlobalAveragePooling2D,
        GlobalMaxPooling2D,
        Flatten,
        Reshape,
    }
)

#: Tapes kept per model: a fit's full and last batches, in training and in validation...
TAPES_KEPT = 8
#: Forwards that set a layer attribute while taped (a layer that does so at every call
#: could never be replayed) after which a model stops taping.
WRITING_LIMIT = 3

_BATCH = object()  # a taped op's input that is the batch
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


class Tape:
    """The ops of one forward, in the order they ran, with what each reads."""

    __slots__ = (
        "ops",
        "sources",
        "needs",
        "output_index",
        "output_generation",
        "tail",
        "writes",
        "differentiable",
        "weights",
        "running",
        "output_grad",
    )

    def __init__(self, ops, sources, needs, output_index, output, tail):
        self.ops = ops  # (op type, its attributes before it ran)
        self.sources = sources  # per op, per input: _BATCH, an earlier op's index, a weight
        self.needs = needs  # per op, per input: whether its gradient flows on
        self.output_index = output_index
        self.output_generation = output.generation
        self.differentiable = output.requires_grad  # else an inference forward
        self.tail = tail  # a final op run through ``apply`` on the replayed output, or None
        self.writes = layer_base.attribute_writes  # when taped
        # the weights read, with whether each required a gradient (which ops' settings hold)
        self.weights = tuple(
            (source, source.requires_grad)
            for row in sources
            for source in row
            if source is not _BATCH and type(source) is not int
        )
        self.running = None  # the ops of the last forward, until its backward
        self.output_grad = None

    def current(self) -> bool:
        """Whether no layer attribute was set and no weight's ``requires_grad`` changed."""
        return self.writes == layer_base.attribute_writes and all(
            weight.requires_grad is flag for weight, flag in self.weights
        )

    def forward(self, x, backend) -> Tensor:
        """The model's output for the batch ``x``; a training tape's output carries the
        loss's gradient to ``backward``."""
        values, running = [], []
        for (op_type, state), sources in zip(self.ops, self.sources):
            fn = op_type.__new__(op_type)
            fn.__dict__.update(state)
            arrays = [
                x if source is _BATCH else values[source] if type(source) is int else source.data
                for source in sources
            ]
            values.append(fn.forward(*arrays))
            running.append(fn)
        output = Tensor._wrap(values[self.output_index], backend)
        if self.differentiable:
            self.running, self.output_grad = running, None
            output.requires_grad = True
            output.creator = _ReplayedOutput(self, self.output_generation - 1)
            output.generation = self.output_generation
        if self.tail is None:
            return output
        op_type, state = self.tail
        fn = op_type.__new__(op_type)
        fn.__dict__.update(state)
        return apply(fn, output)

    def backward(self) -> None:
        """The weights' gradients from the output's, as the eager backward adds them."""
        running, grad = self.running, self.output_grad
        self.running = self.output_grad = None
        if grad is None:  # the loss does not depend on the output
            return
        pending = [None] * len(running)
        pending[self.output_index] = grad
        for index in range(len(running) - 1, -1, -1):
            grad_out = pending[index]
            if grad_out is None:
                continue
            grads = running[index].backward(grad_out)
            running[index] = pending[index] = None  # frees the op's saved arrays
            for source, needed, grad in zip(self.sources[index], self.needs[index], grads):
                if grad is None or not needed or source is _BATCH:
                    continue
                if type(source) is int:  # read by this op alone: nothing to add to
                    pending[source] = grad
                elif source.requires_grad:
                    _accumulate_leaf(source, grad)


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


def _taped(model, x, taped: list, output) -> Tape | None:
    """The tape of a forward that ``taped`` collected, or None where a replay could differ."""
    if type(output) is not Tensor or output._keras_mask is not None:
        return None
    if any(layer._added_losses for layer in model.layers):
        return None
    weights = {id(weight): weight for weight in model.weights}
    index_of = {}  # id of an op's output -> the op's index
    ops, sources, needs, read = [], [], [], set()
    for fn, state, inputs, out in taped:
        if not all(_plain(value) for value in state.values()):
            return None
        row = []
        for tensor in inputs:
            key = id(tensor)
            if tensor.data is x and tensor.creator is None and not tensor.requires_grad:
                row.append(_BATCH)
                continue
            if key in read:
                return None
            read.add(key)
            if key in index_of:
                row.append(index_of[key])
            elif key in weights and tensor.creator is None:
                row.append(tensor)
            else:  # a tensor made outside the taped ops
                return None
        index_of[id(out)] = len(ops)
        ops.append((type(fn), _frozen(state)))
        sources.append(tuple(row))
        needs.append(tuple(tensor.requires_grad for tensor in inputs))
    output_index = index_of.get(id(output))
    if output_index is None or id(output) in read:
        return None
    tail = None
    last_type, _ = ops[-1]
    if output_index == len(ops) - 1 and issubclass(last_type, SoftmaxOp):
        # a final softmax runs as the layers run it, on the replayed logits: a
        # cross-entropy then reads those from it, as it does from the layers' output
        source = sources[-1][0]
        if type(source) is int:
            tail = ops.pop()
            sources.pop()
            needs.pop()
            output_index, output = source, taped[-1][2][0]
    return Tape(ops, sources, needs, output_index, output, tail)


class TapedForwards:
    """A model's tapes, one per batch shape and dtype, training flag and grad mode, and
    the training tape that ran last (whose backward is to come)."""

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
        tape = self.tapes.get(key)
        if tape is not None:
            if tape.current():
                if tape.differentiable:
                    self.last = tape
                try:
                    return tape.forward(x, backend)
                except backend.out_of_memory_errors as error:
                    raise DeviceOutOfMemoryError(
                        f"Model '{model.name}' ran out of {backend.name} backend memory in "
                        f"the forward pass of a batch of shape {x.shape}. Use a smaller "
                        f"batch_size."
                    ) from error
            del self.tapes[key]
        if self.writing >= WRITING_LIMIT or not replayable_model(model):
            return model(x, training=training)
        writes = layer_base.attribute_writes
        with taping_ops() as taped:
            output = model(x, training=training)
        if layer_base.attribute_writes != writes:  # a layer built or changed itself
            self.writing += 1
            return output
        tape = _taped(model, x, taped, output)
        if tape is not None:
            if len(self.tapes) >= TAPES_KEPT:
                del self.tapes[next(iter(self.tapes))]
            self.tapes[key] = tape
        return output

    def backward(self) -> None:
        """After the loss's backward: the gradients of a replayed forward's weights."""
        tape, self.last = self.last, None
        if tape is not None:
            tape.backward()
