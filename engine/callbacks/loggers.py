"""Callbacks that log training: a CSV file, TensorBoard event files."""

import collections.abc
import csv
import json
import os
import time

import numpy

from .base import Callback
from .monitors import learning_rate_logs


def _csv_value(value):
    """A log as Keras's ``CSVLogger`` writes it: a sequence (a per-class metric) as one
    quoted ``"[a, b]"`` field, anything else as it is."""
    if isinstance(value, str) or (isinstance(value, numpy.ndarray) and value.ndim == 0):
        return value
    if isinstance(value, collections.abc.Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` and every log, columns fixed by the first epoch.

    As Keras 3's: when the first epoch has no validation logs (no validation, or
    ``validation_freq`` > 1), a ``val_`` column of each log is added all the same, "NA"
    where an epoch has no value, so that later validations are not dropped."""

    chief_only = True

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
            if not any(key.startswith("val_") for key in self._keys):
                self._keys += [f"val_{key}" for key in self._keys]
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if not self._header_written:
                self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(_csv_value(logs.get(k, "NA")) for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


def _require_tensorboardx():
    try:
        import tensorboardX
    except ImportError:
        raise ImportError(
            "callbacks.TensorBoard writes its event files with the tensorboardX package, which "
            "is not installed: pip install 'engine-dl[tensorboard]' (or pip install "
            "tensorboardX). TensorFlow is not needed; view the logs with `tensorboard "
            "--logdir <log_dir>`."
        ) from None
    return tensorboardX


class EventWriter:
    """One run directory's event file, written with tensorboardX: what ``TensorBoard`` needs
    (scalars, weight histograms, the model's config for the graph dashboard)."""

    def __init__(self, directory: str):
        self._writer = _require_tensorboardx().SummaryWriter(directory)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._writer.add_scalar(tag, value, step)

    def histogram(self, tag: str, values: numpy.ndarray, step: int) -> None:
        self._writer.add_histogram(tag, values, step)

    def model_config(self, config_json: str, step: int) -> None:
        """The ``graph_keras_model`` summary Keras writes: TensorBoard's graph dashboard draws
        the layers from it (its "Keras" tag)."""
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto

        metadata = SummaryMetadata(
            plugin_data=SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1")
        )
        tensor = TensorProto(dtype="DT_STRING", string_val=[config_json.encode()])
        summary = Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        self._writer.file_writer.add_summary(summary, step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class TensorBoard(Callback):
    """Write TensorBoard event files, as Keras 3 does: ``log_dir/train`` and
    ``log_dir/validation``.

    Per epoch the scalars ``epoch_<name>`` (``epoch_loss``, ``epoch_accuracy``...,
    ``epoch_learning_rate``; validation ones under ``validation`` without the ``val_``
    prefix); with ``update_freq="batch"`` (or ``n``) also ``batch_<name>`` every (n-th)
    training batch; after each evaluation ``evaluation_<name>_vs_iterations`` at the
    optimizer's step count; with ``histogram_freq=n`` a histogram of every weight
    (``<layer>/<weight>/histogram``) every n-th epoch; with ``write_graph`` the model's
    layer graph. Needs the ``tensorboardX`` package (``pip install 'engine-dl[tensorboard]'``);
    view with ``tensorboard --logdir log_dir``.

    Not supported: ``write_images``, ``profile_batch`` (Keras refuses it on its torch and
    numpy backends too) and ``embeddings_freq``; each raises a ValueError when set.
    """

    #: makes the writer of one run directory (tests put a recording fake here)
    writer_class = EventWriter
    chief_only = True

    def __init__(
        self,
        log_dir="logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq: int = 0,
        embeddings_metadata=None,
    ):
        super().__init__()
        for name, value in (
            ("write_images", write_images),
            ("profile_batch", profile_batch),
            ("embeddings_freq", embeddings_freq),
            ("embeddings_metadata", embeddings_metadata),
        ):
            if value:
                raise ValueError(
                    f"TensorBoard: `{name}` is not supported by this library, got {value!r}; "
                    f"leave it at its default."
                )
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(
                f"TensorBoard: `histogram_freq` must be a non-negative integer (epochs), got "
                f"{histogram_freq!r}."
            )
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            not isinstance(update_freq, int) or isinstance(update_freq, bool) or update_freq < 1
        ):
            raise ValueError(
                f"TensorBoard: `update_freq` must be 'epoch', 'batch' or a positive integer "
                f"(batches), got {update_freq!r}."
            )
        if self.writer_class is EventWriter:
            _require_tensorboardx()  # say so now, not after the data is loaded
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self._writers: dict = {}
        self._global_train_batch = 0
        self._global_test_batch = 0

    def _needs_batch_hook(self, hook: str) -> bool:
        return hook == "on_train_batch_end" and self.update_freq != "epoch"

    def _writer(self, run: str):
        """The writer of ``train`` or ``validation``, created at its first use (as Keras:
        no event file until there is something to write)."""
        if run not in self._writers:
            self._writers[run] = self.writer_class(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model) -> None:
        self._close_writers()
        super().set_model(model)
        if self.write_graph:
            config = _graph_config(model)
            if config is not None:
                self._writer("train").model_config(json.dumps(config), 0)

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._epoch_start_iterations = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer = self._writer("train")
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self._batch_start_time
            writer.scalar("batch_steps_per_second", 1.0 / seconds, self._global_train_batch)
        for name, value in logs.items():
            writer.scalar(f"batch_{name}", value, self._global_train_batch)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return
        writer = self._writer("validation")
        for name, value in logs.items():
            writer.scalar(f"evaluation_{name}_vs_iterations", value, optimizer.iterations)

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start_iterations = self.model.optimizer.iterations
            self._epoch_start_time = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    def _log_epoch_metrics(self, epoch: int, logs: dict) -> None:
        train = {name: value for name, value in logs.items() if not name.startswith("val_")}
        validation = {name[4:]: value for name, value in logs.items() if name.startswith("val_")}
        optimizer = self.model.optimizer
        if optimizer is not None:  # learning_rate_<name> per sub-optimizer, as Keras
            train.update({k: float(v) for k, v in learning_rate_logs(optimizer).items()})
        if self.write_steps_per_second:
            steps = optimizer.iterations - self._epoch_start_iterations
            train["steps_per_second"] = steps / (time.perf_counter() - self._epoch_start_time)
        for run, values in (("train", train), ("validation", validation)):
            if values:
                writer = self._writer(run)
                for name, value in values.items():
                    writer.scalar(f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                tag = f"{weight.path.replace(':', '_')}/histogram"
                writer.histogram(tag, weight.numpy(), epoch)
        writer.flush()


def _graph_config(model) -> dict | None:
    """The model's config laid out as Keras's ``to_json``, which TensorBoard's graph
    dashboard reads (a layer's inputs as ``__keras_tensor__`` entries); None for a
    subclassed model, whose layers form no graph (Keras writes none either)."""
    try:
        config = {"class_name": type(model).__name__, "config": model.get_config()}
    except NotImplementedError:
        return None
    if not isinstance(config["config"].get("layers"), list):
        return None
    _keras_inbound_nodes(config["config"]["layers"])
    return config


def _keras_inbound_nodes(layers: list) -> None:
    for layer in layers:
        for node in layer.get("inbound_nodes") or []:
            args = node.get("args", [])
            node["args"] = [_keras_tensors(args)] if _is_reference(args) else _keras_tensors(args)
        nested = layer.get("config", {}).get("layers")
        if isinstance(nested, list):
            _keras_inbound_nodes(nested)


def _is_reference(value) -> bool:
    """A layer input as this library's config writes it: ``[layer_name, node, tensor]``."""
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(index, int) for index in value[1:])
    )


def _keras_tensors(value):
    if _is_reference(value):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": value}}
    if isinstance(value, list):
        return [_keras_tensors(item) for item in value]
    if isinstance(value, dict):
        return {key: _keras_tensors(item) for key, item in value.items()}
    return value


class RemoteMonitor(Callback):
    """Keras's ``RemoteMonitor`` posts the logs to an HTTP server: not available here (this
    library makes no network connections); use ``CSVLogger`` or ``TensorBoard``."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "callbacks.RemoteMonitor is not available: this library makes no network "
            "connections. Log with callbacks.CSVLogger or callbacks.TensorBoard instead, or "
            "post the logs yourself from a LambdaCallback(on_epoch_end=...)."
        )
