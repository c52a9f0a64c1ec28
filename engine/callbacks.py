"""Callbacks with Keras's names and hooks."""

import csv
import math
import os
import warnings

import numpy

from .optimizers.schedules import LearningRateSchedule
from .utils.progbar import Progbar


class Callback:
    """Base class: override any of the ``on_*`` hooks; ``self.model`` is set by ``fit``."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model, params: dict):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call_all(*args, **kwargs):
            for callback in self.callbacks:
                getattr(callback, hook)(*args, **kwargs)

        return call_all


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]``, ``history.epoch``."""

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
    """Prints ``Epoch i/n`` and a progress bar (``verbose=1``) or one line per epoch (2)."""

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", flush=True)
            # a Dataset's or generator's length is known after its first epoch, as in Keras
            steps = self.params.get("steps") or getattr(self, "_steps_seen", 0)
            self._bar = Progbar(steps, verbose=self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None:
            self._bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            steps = self.params.get("steps") or getattr(self, "_seen", 0)
            self._steps_seen = steps
            self._bar.update(steps, logs, finalize=True)
            self._bar = None


def _check_mode(owner: str, mode: str, monitor: str) -> str:
    """Keras's ``mode="auto"``: maximize accuracy-like and AUC metrics, minimize the rest."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: `mode` must be 'auto', 'min' or 'max', got {mode!r}.")
    if mode == "auto":
        name = monitor.removeprefix("val_")
        maximized = name in ("acc", "accuracy", "auc") or name.endswith(("accuracy", "_acc"))
        return "max" if maximized else "min"
    return mode


def wants_batch_logs(callback: Callback) -> bool:
    """Whether ``fit`` must compute the logs after every batch for ``callback``."""
    hook = type(callback).on_train_batch_end
    if hook is ModelCheckpoint.on_train_batch_end:
        return callback.save_freq != "epoch"
    return hook is not Callback.on_train_batch_end


def _require_float_learning_rate(owner: str, model) -> None:
    """Keras refuses to set a learning rate over a schedule; say so before training starts."""
    schedule = model.optimizer._learning_rate
    if isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            f"{owner}: the optimizer's `learning_rate` is a schedule "
            f"({type(schedule).__name__}), which {owner} cannot set. Use one or the other: "
            f"create the optimizer with a float `learning_rate` to use {owner}."
        )


class _Monitor(Callback):
    """Shared by the callbacks that watch one metric for improvement."""

    def __init__(self, owner: str, monitor: str, mode: str, min_delta: float):
        super().__init__()
        self.monitor = monitor
        self.mode = _check_mode(owner, mode, monitor)
        self.min_delta = abs(float(min_delta))
        self._owner = owner
        self._warned_missing = False

    def _current(self, logs) -> float | None:
        value = (logs or {}).get(self.monitor)
        if value is None and not self._warned_missing:
            self._warned_missing = True
            warnings.warn(
                f"{self._owner}: the monitored metric '{self.monitor}' is not available; "
                f"available metrics are: {', '.join(logs or {}) or 'none'}.",
                RuntimeWarning,
                stacklevel=3,
            )
        return value

    def _improved(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__("EarlyStopping", monitor, mode, min_delta)
        self.patience, self.verbose = patience, verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # as in Keras, the first monitored epoch is the best so far
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # a baseline must be beaten before improvements reset the patience
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        # Keras 3 restores whenever a best epoch was recorded, stopped early or not
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (or its weights) after every epoch, or only when ``monitor`` improves.

    ``filepath`` may hold ``str.format`` fields: ``{epoch}`` (1-based, as in
    Keras) and any log name, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``.
    With ``save_freq=n`` (an integer) it saves every ``n`` batches instead of
    every epoch, and ``{batch}`` (1-based, within the epoch) is available too.
    The file's directory is created if it does not exist.
    """

    def __init__(
        self,
        filepath,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq="epoch",
        initial_value_threshold: float | None = None,
    ):
        super().__init__("ModelCheckpoint", monitor, mode, 0.0)
        if save_freq != "epoch" and (
            not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq <= 0
        ):
            raise ValueError(
                f"ModelCheckpoint: `save_freq` must be 'epoch' or a positive integer (a number "
                f"of batches), got {save_freq!r}."
            )
        self.save_freq = save_freq
        self._epoch = 0
        self._batches_since_saving = 0
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.best = initial_value_threshold

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_saving += 1
        if self._batches_since_saving >= self.save_freq:
            self._batches_since_saving = 0
            self._save(self._epoch, dict(logs or {}), batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {})

    def _save(self, epoch: int, logs: dict, batch: int | None = None) -> None:
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None:
            fields.setdefault("batch", batch + 1)
        try:
            path = self.filepath.format(**fields)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint: filepath '{self.filepath}' names {error}, which is not in "
                f"the logs of epoch {epoch + 1} (available: {', '.join(fields)})."
            ) from None
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not self._improved(value, self.best):
                return
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to {value}, "
                    f"saving model to {path}"
                )
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:  # as Keras does, create the checkpoint's directory
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.save_best_only:  # only now: after a failed write, the next value must save
            self.best = value


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: `factor` must be < 1.0, got {factor}.")
        super().__init__("ReduceLROnPlateau", monitor, mode, min_delta)
        self.factor, self.patience, self.verbose = float(factor), patience, verbose
        self.cooldown, self.min_lr = cooldown, float(min_lr)

    def on_train_begin(self, logs=None):
        _require_float_learning_rate("ReduceLROnPlateau", self.model)
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value, self.best):
            self.best = value
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old = self.model.optimizer.learning_rate
            if old > self.min_lr:
                new = max(old * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new
                if self.verbose > 0:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch, lr)`` (or ``(epoch)``)."""

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_train_begin(self, logs=None):
        _require_float_learning_rate("LearningRateScheduler", self.model)

    def on_epoch_begin(self, epoch, logs=None):
        try:
            lr = self.schedule(epoch, self.model.optimizer.learning_rate)
        except TypeError:  # Keras also accepts the older one-argument schedule(epoch)
            lr = self.schedule(epoch)
        if not isinstance(lr, (int, float, numpy.floating)) or isinstance(lr, bool):
            raise ValueError(
                f"LearningRateScheduler: the schedule must return a float, got {lr!r} "
                f"for epoch {epoch}."
            )
        self.model.optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` and every log, columns fixed by the first epoch."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator, self.append = separator, append
        self._file = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._keys = None
        self._header_written = bool(has_rows)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if not self._header_written:
                self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(logs.get(k, "NA") for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite, saying where."""

    def __init__(self):
        super().__init__()
        self._epoch = 0
        self.stopped_batch = None
        self.stopped_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped_batch, self.stopped_epoch = batch, self._epoch
            print(
                f"Batch {batch} of epoch {self._epoch + 1}: invalid loss {loss}, "
                "terminating training"
            )
            self.model.stop_training = True
