"""Callbacks that watch the logs and act on training: stop it, change the learning rate."""

import math
import warnings

import numpy

from ..optimizers.schedules import LearningRateSchedule
from .base import Callback


def _check_mode(owner: str, mode: str, monitor: str) -> str:
    """Keras's ``mode="auto"``: maximize accuracy-like and AUC metrics, minimize the rest."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: `mode` must be 'auto', 'min' or 'max', got {mode!r}.")
    if mode == "auto":
        name = monitor.removeprefix("val_")
        maximized = name in ("acc", "accuracy", "auc") or name.endswith(("accuracy", "_acc"))
        return "max" if maximized else "min"
    return mode


def optimizers_of(optimizer) -> list:
    """The optimizers whose learning rates a callback reads and sets: a MultiOptimizer's
    sub-optimizers (as Keras 3 loops over ``optimizer.optimizers``), else the optimizer."""
    return list(optimizer.optimizers) if hasattr(optimizer, "optimizers") else [optimizer]


def learning_rate_logs(optimizer) -> dict:
    """Keras's log keys: ``learning_rate``, or ``learning_rate_<name>`` per sub-optimizer."""
    if hasattr(optimizer, "optimizers"):
        return {f"learning_rate_{o.name}": o.learning_rate for o in optimizer.optimizers}
    return {"learning_rate": optimizer.learning_rate}


def _require_float_learning_rate(owner: str, model) -> None:
    """Keras refuses to set a learning rate over a schedule; say so before training starts."""
    for optimizer in optimizers_of(model.optimizer):
        schedule = optimizer._learning_rate
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
        if self.stopped_epoch > 0 and self.verbose > 0 and self.is_chief:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        # Keras 3 restores whenever a best epoch was recorded, stopped early or not
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0 and self.is_chief:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


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
            logs.update(learning_rate_logs(self.model.optimizer))
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
            several = hasattr(self.model.optimizer, "optimizers")
            reduced = False
            for optimizer in optimizers_of(self.model.optimizer):
                old = optimizer.learning_rate
                if old <= self.min_lr:
                    continue
                new = max(old * self.factor, self.min_lr)
                optimizer.learning_rate = new
                reduced = True
                if self.verbose > 0 and self.is_chief:
                    whose = f"{optimizer.name} " if several else ""
                    print(
                        f"Epoch {epoch + 1}: ReduceLROnPlateau reducing {whose}learning rate "
                        f"to {new}."
                    )
            if reduced:
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
        several = hasattr(self.model.optimizer, "optimizers")
        for optimizer in optimizers_of(self.model.optimizer):  # each sub-optimizer, as Keras
            try:
                lr = self.schedule(epoch, optimizer.learning_rate)
            except TypeError:  # Keras also accepts the older one-argument schedule(epoch)
                lr = self.schedule(epoch)
            if not isinstance(lr, (int, float, numpy.floating)) or isinstance(lr, bool):
                raise ValueError(
                    f"LearningRateScheduler: the schedule must return a float, got {lr!r} "
                    f"for epoch {epoch}."
                )
            optimizer.learning_rate = float(lr)
            if self.verbose > 0 and self.is_chief:
                whose = f"{optimizer.name} " if several else ""
                print(
                    f"Epoch {epoch + 1}: LearningRateScheduler setting {whose}learning rate "
                    f"to {lr}."
                )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(learning_rate_logs(self.model.optimizer))


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
            if self.is_chief:
                print(
                    f"Batch {batch} of epoch {self._epoch + 1}: invalid loss {loss}, "
                    "terminating training"
                )
            self.model.stop_training = True
