"""The check of integer class labels (``sparse_categorical_crossentropy``) without a host
round trip per training step.

Reading the smallest and largest label as Python numbers makes a device backend wait
for the step and copy them back, twice per step (issue 14). So:

- host labels (NumPy's backends) are checked where they are, at every call;
- in ``fit``, ``evaluate`` and ``train_on_batch``, whose targets are one NumPy array on
  the host, ``LabelChecks(host_targets=y)`` checks that array once (its smallest and
  largest label, and that all are whole numbers, found at the loss's first call); a
  loss given a batch that the loop made of it (``note_batch``), unchanged, only
  compares them with its number of classes, in Python;
- device labels of other data (a Dataset on the device, a custom ``train_step``,
  several outputs) are folded on the device into a running smallest and largest label,
  which ``LabelChecks.verify`` reads with one copy, at the end of each epoch of ``fit``
  and of each ``evaluate``;
- outside those loops (a loss called directly on device arrays), the labels are checked
  at once, which costs the round trip.

An ``Embedding``'s indices and a ``CategoryEncoding``'s token ids go the same way
(``check_indices``): at once on the host or outside a loop, folded on the device and read
at the epoch's end inside one.
"""

import contextvars

import numpy

from ..tensor import Tensor, note_call

_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("label_checks", default=None)


def on_device(backend) -> bool:
    """Whether reading ``backend``'s arrays as numbers waits for a device and copies them
    (the cupy backend; its CUDA simulator too, which runs the device paths on the host)."""
    return backend.xp is not numpy or backend.simulated


def range_error(name: str, num_classes: int, low, high, where: str = "") -> ValueError:
    return ValueError(
        f"{name}: labels must be integers in [0, {num_classes}) for a model with "
        f"{num_classes} outputs; got a label of {low if low < 0 else high}{where}."
    )


def whole_error(name: str, where: str = "") -> ValueError:
    return ValueError(f"{name}: labels must be whole numbers{where}.")


def index_error(name: str, size: int, low, high, where: str = "") -> ValueError:
    return ValueError(
        f"{name}: expected indices in [0, {size}) (input_dim={size}), but received index "
        f"{low if low < 0 else high}{where}."
    )


def token_error(name: str, size: int, low, high, where: str = "") -> ValueError:
    """Keras 3's message for a ``CategoryEncoding`` input outside ``[0, num_tokens)``."""
    return ValueError(
        f"{name}: input values must be in the range 0 <= values < num_tokens with "
        f"num_tokens={size}; got values from {low} to {high}{where}."
    )


#: the error of each kind of checked integers: ``(name, size, smallest, largest, where)``
_RANGE_ERRORS = {"labels": range_error, "indices": index_error, "tokens": token_error}


def note_batch(targets) -> None:
    """Tell the running ``LabelChecks`` that ``targets`` (on the backend) are a batch of its
    host targets."""
    checks = _ACTIVE.get()
    if checks is not None and checks._host_targets is not None:
        checks._batch = targets


def check_labels(name: str, y_true, labels, num_classes: int, backend) -> None:
    """Check class ``labels`` (an array of ``backend``, read from ``y_true``) against
    ``num_classes``: at once on the host, or as the running ``LabelChecks`` does it."""
    note_call(check_labels, name, y_true, labels, num_classes, backend)  # a replay repeats it
    checks = _ACTIVE.get()
    if checks is not None and checks.check_from_host(name, y_true, num_classes):
        return
    if not on_device(backend) or checks is None:
        _check_now(name, labels, num_classes)
    else:
        checks.defer(name, labels, num_classes, backend)


def check_indices(name: str, indices, size: int, backend, kind: str = "indices") -> None:
    """Check integer ``indices`` (an Embedding's; ``kind="tokens"``: a CategoryEncoding's)
    against ``[0, size)``: at once on the host or outside a loop, else folded into the
    running ``LabelChecks`` (read at the epoch's end, as device labels are)."""
    note_call(check_indices, name, indices, size, backend, kind)  # a replay repeats it
    checks = _ACTIVE.get()
    if checks is not None and on_device(backend):
        checks.defer(name, indices, size, backend, kind=kind)
    elif indices.size:
        _check_range_now(name, indices, size, kind)


def _check_now(name: str, labels, num_classes: int) -> None:
    """The direct check: copies the labels' extremes to the host (a round trip on a device)."""
    if labels.size == 0:
        return
    if labels.dtype.kind == "f" and not bool((labels == labels.round()).all()):
        raise whole_error(name)
    _check_range_now(name, labels.astype("int64", copy=False), num_classes, "labels")


def _check_range_now(name: str, values, size: int, kind: str) -> None:
    """Raise ``kind``'s range error unless every one of ``values`` (integers, not empty) is
    in ``[0, size)``; reads their extremes as Python numbers."""
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= size:
        raise _RANGE_ERRORS[kind](name, size, low, high)


class LabelChecks:
    """The label checks of one loop (``with LabelChecks(y) as checks:``, then
    ``checks.verify()`` where the loop reads its logs anyway).

    ``host_targets``: the loop's NumPy targets, checked once, for the losses given a batch
    of them unchanged (the loop marks each with ``note_batch``); other labels (another
    array, several outputs' targets, a Dataset's) are checked as ``check_labels`` says.
    """

    def __init__(self, host_targets=None):
        if type(host_targets) is not numpy.ndarray or host_targets.dtype.kind not in "biuf":
            host_targets = None
        self._host_targets = host_targets
        self._batch = None  # the latest batch of them on the backend (``note_batch``)
        self._host_summary = None  # (smallest, largest, all whole), found at first use
        #: ``{(loss name, classes): [smallest, largest, count of fractional labels]}``, device
        #: arrays folded at every deferred check
        self._pending: dict = {}
        self._backend = None
        self._token = None

    def __enter__(self) -> "LabelChecks":
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *error) -> bool:
        _ACTIVE.reset(self._token)
        return False

    def check_from_host(self, name: str, y_true, num_classes: int) -> bool:
        """Check the host targets' labels against ``num_classes``, when ``y_true`` is a batch
        of them; False otherwise."""
        if isinstance(y_true, Tensor):  # a custom train_step's
            y_true = y_true.data
        if self._batch is None or y_true is not self._batch:
            return False
        if self._host_summary is None:
            self._host_summary = _summary(self._host_targets)
        low, high, whole = self._host_summary
        if not whole:
            raise whole_error(name)
        if low is not None and (low < 0 or high >= num_classes):
            raise range_error(name, num_classes, low, high)
        return True

    def defer(self, name: str, labels, num_classes: int, backend, kind: str = "labels") -> None:
        """Fold the device ``labels`` (or an Embedding's ``kind="indices"``, a
        CategoryEncoding's ``kind="tokens"``) into the running check; nothing is read now."""
        if labels.size == 0:
            return
        xp = backend.xp
        as_int = labels.astype("int64", copy=False)
        fractional = (labels != labels.round()).sum() if labels.dtype.kind == "f" else None
        key = (name, num_classes, kind)
        state = self._pending.get(key)
        if state is None:
            zero = xp.zeros((), dtype="int64")
            state = self._pending[key] = [as_int.min(), as_int.max(), zero]
        else:
            state[0] = xp.minimum(state[0], as_int.min())
            state[1] = xp.maximum(state[1], as_int.max())
        if fractional is not None:
            state[2] = state[2] + fractional
        self._backend = backend

    def verify(self, when: str = "") -> None:
        """Raise for the bad labels deferred since the last call: one copy to the host."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        xp = self._backend.xp
        keys = list(pending)
        values = self._backend.to_numpy(xp.stack([v for key in keys for v in pending[key]]))
        for index, (name, num_classes, kind) in enumerate(keys):
            low, high, fractional = (int(v) for v in values[3 * index : 3 * index + 3])
            where = f" (device {kind} are checked once per {when})" if when else ""
            if fractional:
                raise whole_error(name, where)
            if low < 0 or high >= num_classes:
                raise _RANGE_ERRORS[kind](name, num_classes, low, high, where)


def _summary(targets: numpy.ndarray) -> tuple:
    """``(smallest, largest, all whole)`` of host labels (``None`` extremes when empty)."""
    if targets.size == 0:
        return None, None, True
    if targets.dtype.kind == "f":
        if not bool(numpy.all(targets == numpy.round(targets))):
            return None, None, False
        targets = targets.astype("int64")
    return int(targets.min()), int(targets.max()), True
