"""The callback base class, the list that calls the hooks, and the callbacks ``fit`` adds."""

import numpy

from ..utils.progbar import Progbar


class Callback:
    """Base class: override any of the ``on_*`` hooks; ``self.model`` and ``self.params``
    (``verbose``, ``epochs``, ``steps``) are set by ``fit``, ``evaluate`` and ``predict``.

    Every hook gets ``logs``, a dict: ``{}`` at the begin hooks and ``on_predict_end``, the
    running metrics after a training or test batch, ``{"outputs": ...}`` after a predict
    batch, the epoch's metrics (and ``val_`` ones) at ``on_epoch_end``, as in Keras 3.
    """

    #: a callback that only reports or writes files (progress bar, checkpoints, logs): in
    #: data-parallel training (``engine.distribute``) only the chief, rank 0, runs its hooks
    chief_only = False

    def __init__(self):
        self.model = None
        self.params: dict = {}

    @property
    def is_chief(self) -> bool:
        """Whether this process is the one that prints and writes files: rank 0 of the
        model's data-parallel strategy in ``fit``/``evaluate``, else True."""
        distribution = getattr(self.model, "_distribution", None)
        return distribution is None or distribution.is_chief

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name of ``on_train_batch_begin``."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name of ``on_train_batch_end``."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


def python_logs(logs) -> dict:
    """Keras's ``pythonify_logs``: a new dict sorted by name, nested dicts flattened into it,
    numbers as Python floats (arrays, such as predict's outputs, are left as they are)."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(python_logs(value))
            continue
        if isinstance(value, (int, float, numpy.number)) or (
            isinstance(value, numpy.ndarray) and value.ndim == 0
        ):
            value = float(value)
        result[key] = value
    return result


#: (callback class, hook) -> whether the class overrides the hook; ``fit`` makes a
#: CallbackList per call, and a one-step ``fit`` would otherwise ask again each time
_class_overrides: dict[tuple[type, str], bool] = {}


def _overrides(callback: Callback, hook: str) -> bool:
    if hook in vars(callback):  # LambdaCallback sets its hooks on the instance
        return True
    key = (type(callback), hook)
    found = _class_overrides.get(key)
    if found is None:
        found = _class_overrides[key] = getattr(key[0], hook) is not getattr(Callback, hook)
    return found


#: the base class's batch hooks that call Keras's older names
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def wants_batch_logs(callback: Callback, hook: str = "on_train_batch_end") -> bool:
    """Whether ``callback`` does anything at the per-batch ``hook``: the loops compute the
    running metrics after a batch, and call that hook, only when some callback does."""
    needs = getattr(callback, "_needs_batch_hook", None)
    if needs is not None:
        return needs(hook)
    if hook == "on_train_batch_end" and not _overrides(callback, hook):
        return _overrides(callback, "on_batch_end")
    return _overrides(callback, hook)


class CallbackList:
    """Calls a hook on every callback in order, as Keras 3's ``CallbackList``: the logs are
    one new dict per call (made by ``python_logs``), so a callback may add a key that the
    callbacks after it see (``ReduceLROnPlateau``'s ``learning_rate``, then ``History``)."""

    def __init__(self, callbacks, model, params: dict):
        self.callbacks = list(callbacks)
        self.model, self.params = model, params
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)
        # off the chief, the chief-only callbacks are skipped; they still count in
        # wants_batch_logs, so that every rank computes (and sums) the same logs
        distribution = getattr(model, "_distribution", None)
        chief = distribution is None or distribution.is_chief
        self._running = [c for c in self.callbacks if chief or not c.chief_only]
        #: the running callbacks that do something at each hook, found at its first call
        self._implementing: dict[str, list] = {}

    def wants_batch_logs(self, hook: str = "on_train_batch_end") -> bool:
        return any(wants_batch_logs(callback, hook) for callback in self.callbacks)

    def batch_logs_due(self, hook: str = "on_train_batch_end") -> bool:
        """Whether a callback reads this batch's logs: one with a ``batch_logs_due`` method
        (a progress bar, which draws at most every 0.05 s) when that says so, any other
        always. ``fit`` makes the logs, which on a device backend is a copy to the host,
        only for such batches."""
        for callback in self._implementers(hook):
            due = getattr(callback, "batch_logs_due", None)
            if due is None or due():
                return True
        return False

    def _implementers(self, hook: str) -> list:
        """The running callbacks whose ``hook`` is not the base class's no-op: a hook no
        callback implements costs no logs dict and no calls (``fit`` calls some per batch)."""
        found = self._implementing.get(hook)
        if found is None:
            alias = _ALIASES.get(hook)
            found = self._implementing[hook] = [
                callback
                for callback in self._running
                if _overrides(callback, hook) or (alias is not None and _overrides(callback, alias))
            ]
        return found

    def _call(self, hook: str, *args, logs) -> None:
        callbacks = self._implementers(hook)
        if callbacks:
            logs = python_logs(logs)
            for callback in callbacks:
                getattr(callback, hook)(*args, logs)

    def _call_batch(self, hook: str, batch: int, logs) -> None:
        callbacks = self._implementers(hook)
        if callbacks:
            logs = python_logs(logs)
            for callback in callbacks:  # Keras passes a batch hook's logs by keyword
                getattr(callback, hook)(batch, logs=logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs=logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]``, ``history.epoch``.

    ``fit`` adds one and returns it (the one in ``callbacks=``, if given, as Keras does).
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        #: the epochs each key was logged at: ``val_`` keys skip epochs when
        #: ``fit(validation_freq=n > 1)`` validates only every n-th epoch
        self.epochs_by_key: dict[str, list[int]] = {}

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
            self.epochs_by_key.setdefault(name, []).append(epoch)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a progress bar (``verbose=1``) or one line per epoch (2);
    ``verbose`` defaults to ``params["verbose"]`` ("auto" is 1), as Keras's."""

    chief_only = True

    def __init__(self, verbose: int | None = None):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def _verbose(self) -> int:
        if self.verbose is not None:
            return self.verbose
        verbose = self.params.get("verbose", 1)
        return 1 if verbose == "auto" else verbose

    def on_epoch_begin(self, epoch, logs=None):
        if self._verbose():
            print(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", flush=True)
            # a Dataset's or generator's length is known after its first epoch, as in Keras
            steps = self.params.get("steps") or getattr(self, "_steps_seen", 0)
            self._bar = Progbar(steps, verbose=self._verbose())

    def batch_logs_due(self) -> bool:
        """Whether the bar draws at this batch, and so reads its logs (a subclass with its
        own ``on_train_batch_end`` gets every batch's)."""
        if type(self).on_train_batch_end is not ProgbarLogger.on_train_batch_end:
            return True
        return self._bar is not None and self._bar.due()

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None:  # no logs (a batch between draws): the bar keeps the last
            self._bar.update(batch + 1, _numbers(logs) if logs else None)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            steps = self.params.get("steps") or getattr(self, "_seen", 0)
            self._steps_seen = steps
            self._bar.update(steps, _numbers(logs), finalize=True)
            self._bar = None


def _numbers(logs) -> dict:
    return {name: value for name, value in (logs or {}).items() if isinstance(value, float)}


class LambdaCallback(Callback):
    """A callback made of functions, with Keras's arguments: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``; any other
    hook may be given by keyword too (``on_test_end=...``), as Keras allows.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, function in hooks.items():
            if function is not None:
                if not callable(function):
                    raise TypeError(
                        f"LambdaCallback: `{name}` must be a function, got "
                        f"{type(function).__name__}."
                    )
                setattr(self, name, function)
