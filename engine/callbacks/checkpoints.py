"""Callbacks that write the model to disk: checkpoints, and backups to resume from."""

import json
import os
import warnings

from .. import saving
from ..optimizers.schedules import LearningRateSchedule
from .base import Callback
from .monitors import _Monitor, optimizers_of


class _SaveFrequency:
    """``save_freq``: "epoch", or every ``n`` training batches (counted across epochs)."""

    def _set_save_freq(self, owner: str, save_freq) -> None:
        if save_freq != "epoch" and (
            not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq <= 0
        ):
            raise ValueError(
                f"{owner}: `save_freq` must be 'epoch' or a positive integer (a number of "
                f"batches), got {save_freq!r}."
            )
        self.save_freq = save_freq
        self._batches_since_saving = 0

    def _needs_batch_hook(self, hook: str) -> bool:
        return hook == "on_train_batch_end" and self.save_freq != "epoch"

    def _batch_due(self) -> bool:
        """Count a training batch; whether a save is due after it."""
        if self.save_freq == "epoch":
            return False
        self._batches_since_saving += 1
        if self._batches_since_saving < self.save_freq:
            return False
        self._batches_since_saving = 0
        return True


class ModelCheckpoint(_SaveFrequency, _Monitor):
    """Save the model (or its weights) after every epoch, or only when ``monitor`` improves.

    ``filepath`` may hold ``str.format`` fields: ``{epoch}`` (1-based, as in
    Keras) and any log name, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``.
    With ``save_freq=n`` (an integer) it saves every ``n`` batches instead of
    every epoch, and ``{batch}`` (1-based, within the epoch) is available too.
    The file's directory is created if it does not exist.
    """

    chief_only = True

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
        self._set_save_freq("ModelCheckpoint", save_freq)
        self._epoch = 0
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.best = initial_value_threshold

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._batch_due():
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


_BACKUP_FILES = ("backup-a.safetensors", "backup-b.safetensors")
_METADATA_FILE = "training_metadata.json"


class BackupAndRestore(_SaveFrequency, Callback):
    """Back up the training state in ``backup_dir``; after an interruption, ``fit`` resumes
    from it.

    At the end of every epoch (or every ``save_freq`` batches) the model is written with
    ``model.save``: weights, the optimizer's slots, step count and learning rate, and the
    shuffle seed; then the epoch reached. When ``fit`` starts again with a callback on the
    same directory (say after a crash, in a new process, on a new model built and compiled
    alike), that state is loaded into the model and training resumes at that epoch. With
    ``save_freq="epoch"`` the run ends with the weights an uninterrupted run reaches, since
    epoch ``e``'s shuffling and dropout depend only on the shuffle seed and ``e``. With an
    integer ``save_freq`` it resumes, as Keras does, at the start of the epoch the last
    backup was made in, from that backup's weights: that epoch's earlier batches run again.

    When ``fit`` ends (not by an exception), the backup is deleted if
    ``delete_checkpoint``. ``double_checkpoint=True`` keeps the previous backup too, and
    resumes from it when the latest cannot be read.

    Files: the model goes to ``backup-a.safetensors`` and ``backup-b.safetensors`` in
    turn, then ``training_metadata.json`` names the current one (each written atomically),
    so that a crash while writing leaves the previous backup in force.
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                "BackupAndRestore: `backup_dir` must name a directory, got an empty value."
            )
        self._set_save_freq("BackupAndRestore", save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._metadata_path = os.path.join(self.backup_dir, _METADATA_FILE)
        self._latest: dict | None = None
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self._batches_since_saving = 0
        self._latest = self._read_metadata()
        self._current_epoch = 0
        if self._latest is None:
            return
        backups = [self._latest]
        if self.double_checkpoint and self._latest.get("previous"):
            backups.append(self._latest["previous"])
        for i, backup in enumerate(backups):
            path = os.path.join(self.backup_dir, backup["model"])
            try:
                saved = saving.load_model(path)
            except (OSError, ValueError) as error:
                if i + 1 == len(backups):
                    raise ValueError(
                        f"BackupAndRestore: cannot resume from the backup in "
                        f"'{self.backup_dir}': {error}"
                    ) from error
                warnings.warn(
                    f"BackupAndRestore: the latest backup cannot be read ({error}); resuming "
                    f"from the previous one (epoch {backup['epoch'] - 1}).",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            break
        _restore_training_state(saved, self.model, self.backup_dir)
        self._current_epoch = backup["epoch"]
        self.model._initial_epoch = backup["epoch"]

    def on_train_batch_end(self, batch, logs=None):
        if self._batch_due():
            self._save(batch)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save(0)

    def on_train_end(self, logs=None):
        self._latest = None
        if not self.delete_checkpoint or not self.is_chief:
            return
        for name in (*_BACKUP_FILES, _METADATA_FILE):
            try:
                os.remove(os.path.join(self.backup_dir, name))
            except FileNotFoundError:
                pass
        try:  # Keras removes the directory: here only when nothing else is left in it
            os.rmdir(self.backup_dir)
        except OSError:
            pass

    def _save(self, batch: int) -> None:
        if not self.is_chief:  # every rank restores from the backup; rank 0 writes it
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        latest = self._latest
        name = (
            _BACKUP_FILES[1] if latest and latest["model"] == _BACKUP_FILES[0] else _BACKUP_FILES[0]
        )
        self.model.save(os.path.join(self.backup_dir, name))
        record = {"epoch": self._current_epoch, "batch": batch, "model": name}
        if self.double_checkpoint and latest is not None:
            record["previous"] = {key: latest[key] for key in ("epoch", "batch", "model")}
        saving.atomic_write(self._metadata_path, json.dumps(record).encode())
        self._latest = record
        if latest is not None and not self.double_checkpoint:
            os.remove(os.path.join(self.backup_dir, latest["model"]))

    def _read_metadata(self) -> dict | None:
        """The backup record, checked: it names only this callback's own files."""
        try:
            with open(self._metadata_path, encoding="utf-8") as handle:
                record = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise ValueError(
                f"BackupAndRestore: cannot read '{self._metadata_path}' ({error}); delete "
                f"'{self.backup_dir}' to start training afresh."
            ) from error
        for entry in (record, record.get("previous") if isinstance(record, dict) else None):
            if entry is None:
                continue
            epoch = entry.get("epoch") if isinstance(entry, dict) else None
            if (
                not isinstance(epoch, int)
                or isinstance(epoch, bool)
                or epoch < 0
                or entry.get("model") not in _BACKUP_FILES
            ):
                raise ValueError(
                    f"BackupAndRestore: '{self._metadata_path}' is not a backup record written "
                    f"by this callback; delete '{self.backup_dir}' to start training afresh."
                )
        return record


def _restore_training_state(saved, model, backup_dir: str) -> None:
    """Copy into ``model`` what ``fit`` needs to continue exactly from ``saved`` (the model
    loaded from a backup): weights, the optimizer's slots, step count and learning rate, and
    the shuffle seed."""
    try:
        model.set_weights(saved.get_weights())
    except ValueError as error:
        raise ValueError(
            f"BackupAndRestore: the backup in '{backup_dir}' was made from another model "
            f"({error}); use a new `backup_dir` for a new model."
        ) from None
    model.shuffle_seed = saved.shuffle_seed
    source, target = saved.optimizer, model.optimizer
    if source is None:
        warnings.warn(
            f"BackupAndRestore: the backup in '{backup_dir}' has no optimizer state (the "
            f"model's compile config could not be saved); training resumes with a fresh one.",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    target.iterations = source.iterations
    for backed, own in zip(optimizers_of(source), optimizers_of(target)):  # a MultiOptimizer's
        own.iterations = backed.iterations
        schedules = (backed._learning_rate, own._learning_rate)
        if not any(isinstance(rate, LearningRateSchedule) for rate in schedules):
            own.learning_rate = backed.learning_rate  # as set by ReduceLROnPlateau, say
    for own, backed_up in zip(model.weights, saved.weights):
        slots = source.slots(backed_up)
        if slots is None:
            continue
        target.build([own])
        state = target.slots(own)
        for name, array in slots.items():
            state[name] = (
                None if array is None else own.backend.asarray(backed_up.backend.to_numpy(array))
            )
