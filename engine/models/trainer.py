"""Trainer: Keras's training API (compile, fit, train_on_batch) for ``Model``.

The training loop lives here, apart from the layer graph (``functional.py``)
and the model's structure (``model.py``), so that a custom ``train_step`` and
a distribution strategy plug into one place. The training step is the hot path
of small models: it does no work per batch beyond the forward pass, one
backward pass, one fused update per weight and the metric sums.

``Trainer`` mixes in the data plumbing (``batches.py``: checking, grouping and
batching what users give) and the evaluate/predict loops (``inference.py``).
"""

import functools
import math
import warnings

import numpy

from backends.errors import DeviceOutOfMemoryError

from .. import callbacks as callbacks_module
from .. import config, optimizers, random, symbolic
from .. import distribute as distribute_module
from .. import losses as losses_module
from .. import metrics as metrics_module
from ..layers import base as layer_base
from ..losses import labels as labels_module
from ..losses.labels import LabelChecks, note_batch
from ..metrics.base import HostCopies
from ..tensor import Tensor, no_grad
from . import data as data_utils
from . import outputs as outputs_module
from .batches import BatchData, count_samples, pack_data, unpack_x_y_sample_weight
from .inference import InferenceLoops, checked_callbacks
from .replay import TapedForwards

__all__ = ["Trainer", "unpack_x_y_sample_weight"]


class Trainer(InferenceLoops, BatchData):
    """Mixed into ``Model`` before ``Layer``: the training state and loops."""

    #: the data-parallel strategy (``engine.distribute``) of the running fit or evaluate
    _distribution = None
    #: Keras's switch: True runs every training step through the layers' ``call``
    #: (no taped forward, ``replay.py``)
    run_eagerly = False
    #: set by the loops at each call or epoch; a taped forward stays current past them
    _bookkeeping_attributes = frozenset(
        {
            "_distribution",
            "_initial_epoch",
            "_metric_names",
            "_step_logs",
            "compiled_metrics",
            "compiled_weighted_metrics",
            "history",
            "stop_evaluating",
            "stop_predicting",
            "stop_training",
        }
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        #: set by a callback to end ``evaluate`` or ``predict`` after the current batch
        self.stop_evaluating = False
        self.stop_predicting = False
        #: the epoch ``fit`` starts at, when a callback's ``on_train_begin`` sets it
        #: (``BackupAndRestore`` resuming); used once, as Keras 3's ``_initial_epoch``
        self._initial_epoch = None
        self.history = None
        self._metric_identifiers: list = []
        self._weighted_metric_identifiers: list = []
        #: built at the first batch, when the shapes of targets and predictions are known:
        #: ``metrics`` see no sample weights, ``weighted_metrics`` do (as in Keras 3)
        self.compiled_metrics: list | None = None
        self.compiled_weighted_metrics: list | None = None
        self._metric_names: list[str] = []
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._compile_metrics = outputs_module.CompileMetrics(self)
        #: the logs a custom train_step/test_step returned for the latest batch
        self._step_logs: dict | None = None
        self._warned_nan = False
        #: (input shape, the model's input shape) that ``_begin_training`` last found fitting
        self._checked_input_shape = None
        #: drawn once from engine.random at the first fit and saved with the model:
        #: epoch e is shuffled by default_rng([shuffle_seed, e]) and its dropout masks
        #: come from a backend stream seeded by (shuffle_seed, e), so a resumed run
        #: (load_model, then fit(initial_epoch=k)) sees the same batches and masks
        self.shuffle_seed: int | None = None

    # -- compile ----------------------------------------------------------

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        loss_weights=None,
        weighted_metrics=None,
        run_eagerly=None,
        steps_per_execution=1,
        jit_compile="auto",
    ) -> None:
        """Configure training: optimizer, loss and metrics by name or object.

        ``loss`` may be left out when ``train_step`` is overridden (a GAN's compile
        calls ``super().compile()`` and keeps its own optimizers and losses).
        ``run_eagerly=True`` runs the layers and the loss at every step instead of replaying
        their taped ops (``replay.py``; the values are the same). ``steps_per_execution``
        and ``jit_compile`` are accepted for Keras's programs and change nothing.
        """
        self.optimizer = optimizers.get(optimizer)
        self.run_eagerly = bool(run_eagerly)
        self.__dict__.pop("_taped_forwards", None)
        if loss is None:
            self.loss = None
            self._metric_identifiers = _metric_list(metrics)
            self._weighted_metric_identifiers = _metric_list(weighted_metrics)
        elif self._several_outputs():
            self.loss = outputs_module.OutputsLoss(loss, loss_weights, self.output_names)
            self._metric_identifiers = metrics
            self._weighted_metric_identifiers = weighted_metrics
        else:
            self.loss = losses_module.get(loss)
            self._metric_identifiers = _metric_list(metrics)
            self._weighted_metric_identifiers = _metric_list(weighted_metrics)
        self.compiled_metrics = self.compiled_weighted_metrics = None
        self.compiled = True
        if self.built and self.backend is not None:
            self.optimizer.build(self.trainable_weights)

    def _require_compiled(self, where: str) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"{where}: model '{self.name}' must be compiled first; call "
                f"model.compile(optimizer=..., loss=...) before {where}()."
            )

    def _several_outputs(self) -> bool:
        return len(getattr(self, "output_names", ())) > 1

    def _resolve_metrics(self, y_shape, y_pred_shape) -> None:
        if self.compiled_metrics is not None:
            return
        if self._several_outputs():
            names = self.output_names
            scored = self.loss.scored if self.loss is not None else []
            per_output_losses = scored if len(scored) > 1 else []  # Keras: with several
            self.compiled_metrics = [
                outputs_module.OutputLoss(self.loss, i) for i in per_output_losses
            ] + outputs_module.output_metrics(
                self._metric_identifiers, names, y_shape, y_pred_shape
            )
            self.compiled_weighted_metrics = outputs_module.output_metrics(
                self._weighted_metric_identifiers, names, y_shape, y_pred_shape
            )
        else:
            self.compiled_metrics, self.compiled_weighted_metrics = (
                [metrics_module.get(m, y_shape, y_pred_shape) for m in identifiers]
                for identifiers in (self._metric_identifiers, self._weighted_metric_identifiers)
            )
        # Keras 3's log names: a repeated metric gets "_1", "_2"...; a weighted one
        # repeating a plain one's name is "weighted_<name>"
        names: list[str] = []
        for metric in self.compiled_metrics:
            name = metric.name
            if name in names:
                name = _next_free(name, names)
            names.append(name)
        for metric in self.compiled_weighted_metrics:
            name = metric.name
            if name in names:
                name = f"weighted_{metric.name}"
                if name in names:
                    name = _next_free(name, names)
            names.append(name)
        self._metric_names = names

    @property
    def compile_metrics(self):
        """``metrics`` as given to ``compile`` (names, Metric objects, per-output lists)."""
        return self._metric_identifiers

    @property
    def compile_weighted_metrics(self):
        """``weighted_metrics`` as given to ``compile``."""
        return self._weighted_metric_identifiers

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + (self._metric_names if self.compiled_metrics is not None else [])

    def _all_metrics(self) -> list:
        return (self.compiled_metrics or []) + (self.compiled_weighted_metrics or [])

    @property
    def metrics(self) -> list:
        """The loss tracker and, when ``compile`` was given metrics, one ``compile_metrics``
        container that updates them all (as Keras 3); a custom ``train_step`` updates these
        (or a subclass overrides this property with its own trackers)."""
        if self._metric_identifiers or self._weighted_metric_identifiers:
            return [self._loss_tracker, self._compile_metrics]
        return [self._loss_tracker]

    def get_metrics_result(self) -> dict:
        """The current result of each of ``metrics`` by name (a container's dict spread
        out), as Keras's: what a custom ``train_step`` may return as its logs."""
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
        return logs

    def reset_metrics(self) -> None:
        if self._step_logs is not None:  # Layer.__setattr__ costs more than the test
            self._step_logs = None
        self._loss_tracker.reset_state()
        for metric in self._all_metrics():
            metric.reset_state()
        if type(self).metrics is not Trainer.metrics:
            for metric in self.metrics:
                metric.reset_state()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``y_pred`` against ``y``, plus the layers' ``losses``
        (regularization penalties, ``add_loss`` values), as one scalar tensor."""
        terms = list(self.losses)
        if self.loss is not None:
            if y is None:
                raise ValueError(
                    f"compute_loss: model '{self.name}' was compiled with a loss, which needs "
                    f"the targets `y`; fit(x, y) or give y to compute_loss."
                )
            terms.insert(0, self.loss(y, y_pred, sample_weight))
        if not terms:
            raise ValueError(
                f"compute_loss: model '{self.name}' has no loss: compile it with loss=..., or "
                f"add one with self.add_loss(...) in call."
            )
        return terms[0] if len(terms) == 1 else sum(terms[1:], terms[0])

    def zero_grad(self) -> None:
        """Clear the gradients of every weight, as before a custom step's ``backward``."""
        for weight in self.weights:
            weight.grad = None

    # -- one batch --------------------------------------------------------

    def _train_step(self, x, y, sample_weight=None):
        """Forward, loss, backward and one optimizer update; returns ``(loss, y_pred)``."""
        # a compute_loss of the user's may look into the graph (differentiate with
        # create_graph=True) behind the output, which a replayed forward does not record
        default_loss = type(self).compute_loss is Trainer.compute_loss
        forwards = self._replayed_forwards() if default_loss else None
        if forwards is None:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        else:
            loss, y_pred = forwards.step(self, x, y, sample_weight, True)
        try:
            if forwards is None:
                loss.backward()
            else:
                forwards.backward(loss)
        except loss.backend.out_of_memory_errors as error:
            raise DeviceOutOfMemoryError(
                f"Model '{self.name}' ran out of {loss.backend.name} backend memory in the "
                f"backward pass of a batch of {count_samples(x)} samples. Use a smaller batch_size "
                f"in fit."
            ) from error
        self.optimizer.step(self._trainable_cache)
        return loss.data, y_pred

    def _replayed_forwards(self) -> TapedForwards | None:
        """The taped forwards of this model (``replay.py``), or None to run the layers at
        every step (``run_eagerly``, a data-parallel strategy)."""
        if self.run_eagerly or self._distribution is not None:
            return None
        forwards = self.__dict__.get("_taped_forwards")
        if forwards is None:  # set past Layer.__setattr__, which counts layer changes
            forwards = TapedForwards()
            object.__setattr__(self, "_taped_forwards", forwards)
        return forwards

    def _inference_forward(self, x):
        """``self(x, training=False)`` (under ``no_grad``), replayed where it can be."""
        forwards = self._replayed_forwards()
        if forwards is None:
            return self(x, training=False)
        return forwards.forward(self, x, False)

    def _test_step(self, x, y, sample_weight=None):
        forwards = self._replayed_forwards()
        with no_grad():
            if forwards is not None and type(self).compute_loss is Trainer.compute_loss:
                loss, y_pred = forwards.step(self, x, y, sample_weight, False)
            else:
                y_pred = self._inference_forward(x)
                loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        return loss.data, y_pred

    def train_step(self, data) -> dict:
        """One training step on a batch ``data`` (``x``, ``(x, y)`` or ``(x, y, sample_weight)``,
        as Tensors); returns the logs. Override it for custom training: ``self.zero_grad()``,
        ``loss = self.compute_loss(...)``, ``loss.backward()``, ``self.optimizer.apply(grads,
        variables)``, update ``self.metrics``, return ``{name: value}``."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        self._record(*self._train_step(x, y, sample_weight), y, sample_weight)
        return self._logs()

    def test_step(self, data) -> dict:
        """One evaluation step on a batch ``data``; returns the logs. Override to customize."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        self._record(*self._test_step(x, y, sample_weight), y, sample_weight)
        return self._logs()

    def _record(self, loss, y_pred, y, sample_weight) -> None:
        if self.compiled_metrics is None:
            self._resolve_metrics(outputs_module.shape_of(y), outputs_module.shape_of(y_pred))
        self._update_metrics(loss, y, y_pred, sample_weight, count_samples(y_pred))

    def _run_step(self, xb, yb, wb, training: bool):
        """One batch through the default step, or the user's ``train_step``/``test_step``
        (given the batch as Tensors); returns the loss, for the divergence warning."""
        note_batch(yb)  # a batch of targets whose labels may be checked on the host
        if not self._custom_step(training):
            self._require_loss("fit" if training else "evaluate")
            loss, y_pred = (self._train_step if training else self._test_step)(xb, yb, wb)
            self._record(loss, y_pred, yb, wb)
            return loss
        data = symbolic.map_structure(self._as_tensor, pack_data(xb, yb, wb))
        step = self.train_step if training else self.test_step
        self._step_logs = _checked_logs(step(data), type(self).__name__, step.__name__)
        return self._step_logs.get("loss", 0.0)

    def _custom_step(self, training: bool) -> bool:
        """Whether a subclass overrides ``train_step`` (``test_step`` when not training)."""
        if training:
            return type(self).train_step is not Trainer.train_step
        return type(self).test_step is not Trainer.test_step

    def _as_tensor(self, array):
        if array is None or isinstance(array, Tensor):
            return array
        return Tensor(array, backend=self.backend)

    def _require_loss(self, where: str) -> None:
        if self.loss is None and not self.losses:
            raise ValueError(
                f"{where}: model '{self.name}' was compiled without a loss; give "
                f"compile(loss=...), or override train_step/test_step."
            )

    def _update_metrics(self, loss, y, y_pred, sample_weight, count: int) -> None:
        tracker = self._loss_tracker
        if self.backend is not None and tracker._backend is not self.backend:
            tracker._place(self.backend)  # the loss is a bare array: keep the mean on its backend
        tracker.update_state(loss, count)
        for metric in self.compiled_metrics:
            metric.update_state(y, y_pred)
        for metric in self.compiled_weighted_metrics:
            metric.update_state(y, y_pred, sample_weight)

    def _logs(self, prefix: str = "") -> dict:
        """Metrics first, then the loss, as Keras 3 orders them (or a custom step's logs);
        with a data-parallel strategy, of every rank's data."""
        if self._distribution is not None:
            states = None if self._step_logs is not None else self._metric_states()
            return self._distribution.global_logs(self._local_logs, prefix, states)
        return self._local_logs(prefix)

    def _metric_states(self) -> list:
        return [self._loss_tracker, *self._all_metrics()]

    def _local_logs(self, prefix: str = "") -> dict:
        if self._step_logs is not None:
            return {prefix + key: value for key, value in self._step_logs.items()}
        if self.backend is not None and labels_module.on_device(self.backend):
            with HostCopies(self._metric_states()):  # one copy, not one a state
                return self._metric_results(prefix)
        return self._metric_results(prefix)

    def _metric_results(self, prefix: str) -> dict:
        logs = {
            prefix + name: metric.result()
            for name, metric in zip(self._metric_names, self._all_metrics())
        }
        logs[prefix + "loss"] = self._loss_tracker.result()
        return logs

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (and metrics) before the update."""
        self._require_compiled("train_on_batch")
        data_utils.check_one_weighting(sample_weight, class_weight, "train_on_batch")
        x, y, sample_weight = self._prepare(x, y, sample_weight, "train_on_batch")
        if class_weight is not None:
            sample_weight = data_utils.class_weights_to_sample_weights(y, class_weight, self.dtype)
        self._begin_training(x)
        self.reset_metrics()
        xb, yb, wb = self._to_backend(x), self._to_backend(y), self._to_backend(sample_weight)
        with LabelChecks(y) as label_checks:
            self._run_step(xb, yb, wb, training=True)
        label_checks.verify()
        return self._results(return_dict)

    def _results(self, return_dict: bool):
        if not (
            return_dict
            or self._metric_names
            or self._step_logs is not None
            or self._distribution is not None
            or self.backend is None
            or labels_module.on_device(self.backend)
        ):
            return self._loss_tracker.result()  # the loss alone: what ``_logs`` would give
        logs = self._logs()
        if return_dict:
            return logs
        if self._step_logs is not None:
            values = list(logs.values())
            return values[0] if len(values) == 1 else values
        values = [logs["loss"]] + [logs[name] for name in self._metric_names]
        return values[0] if len(values) == 1 else values

    def _begin_training(self, x) -> None:
        self._ensure_built(x)
        # checked once per shape: train_on_batch calls this at every batch
        checked = (x.shape, self._build_input_shape)
        if checked != getattr(self, "_checked_input_shape", None):
            self._check_input_shape(x.shape, "fit")
            object.__setattr__(self, "_checked_input_shape", checked)
        # the list, and the optimizer's slots for it, are kept while no layer changed (a
        # weight or a sub-layer added, ``trainable`` set) and the optimizer is the same
        kept = (layer_base.attribute_writes, self.optimizer)
        if self.__dict__.get("_trainable_kept") != kept:
            weights = self.trainable_weights
            self.optimizer.build(weights)
            # set past Layer.__setattr__, which would count them as changes to the model
            object.__setattr__(self, "_trainable_cache", weights)
            if _computes_trainable_weights(self):
                object.__setattr__(self, "_trainable_kept", kept)

    # -- fit --------------------------------------------------------------

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs: int = 1,
        verbose="auto",
        callbacks=None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        class_weight=None,
        sample_weight=None,
        initial_epoch: int = 0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        distribute=None,
    ):
        """Train for ``epochs`` epochs; returns a ``History`` with Keras's keys.

        ``x`` is an array (with targets ``y``), an ``engine.data.Dataset`` of
        ``(x, y[, sample_weight])`` batches (a fresh pass each epoch, at most
        ``steps_per_epoch`` batches), or a generator of such batches (each
        epoch takes ``steps_per_epoch`` batches, or runs until it is exhausted).

        Shuffling and dropout are reproducible and resumable: epoch ``e`` uses the
        permutation of ``numpy.random.default_rng([model.shuffle_seed, e])`` (none
        when one batch holds all the samples: it would only reorder that batch), and
        reseeds the backend's generator (dropout masks) from
        ``(model.shuffle_seed, e)`` before its first batch, where ``shuffle_seed``
        is drawn once from ``engine.random`` at the first fit and saved with the
        model.

        ``distribute``: an ``engine.distribute.DataParallel`` (default: the one set
        with ``engine.distribute.set_distribution``, if any) to train on every rank's
        share of each batch.
        """
        self._require_compiled("fit")
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit: `epochs` must be a non-negative integer, got {epochs!r}.")
        most = config.max_epochs()  # a debugging cap (keras.config.set_max_epochs)
        if most and most < epochs:
            warnings.warn(f"Limiting epochs to {most}", stacklevel=2)
            epochs = most
        progress = data_utils.check_verbose(verbose, "fit")
        if not isinstance(validation_freq, (list, tuple)) and (
            not isinstance(validation_freq, int) or validation_freq < 1
        ):
            raise ValueError(
                f"fit: `validation_freq` must be a positive integer or a list of epochs, got "
                f"{validation_freq!r}."
            )
        callback_list = checked_callbacks(callbacks, "fit")
        self._distribution = distribute_module.resolve(distribute)
        epoch_batches, x_sample, y, steps, batch_size, validation_data = self._fit_data(
            x,
            y,
            batch_size,
            sample_weight,
            class_weight,
            validation_split,
            validation_data,
            shuffle,
            steps_per_epoch,
        )
        if self._distribution is not None and data_utils.is_batch_source(x):
            epoch_batches = self._distribution.shard_batches(epoch_batches)
        cap = data_utils.capped_steps(steps)
        if cap is not None:
            steps, epoch_batches = cap, data_utils.first_batches(epoch_batches, cap)
        self._begin_training(x_sample)
        validation = None
        if validation_data is not None:
            validation = self._prepare_validation(validation_data)
        # as Keras 3: a History or ProgbarLogger given in `callbacks` is used, not added
        history = _first(callback_list, callbacks_module.History)
        if history is None:
            history = callbacks_module.History()
            callback_list.append(history)
        if progress and _first(callback_list, callbacks_module.ProgbarLogger) is None:
            callback_list.append(callbacks_module.ProgbarLogger(progress))
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        hooks = callbacks_module.CallbackList(callback_list, self, params)
        self.stop_training = False
        self.history = history
        hooks.on_train_begin()
        initial_epoch, self._initial_epoch = self._initial_epoch or initial_epoch, None
        if self.shuffle_seed is None:
            self.shuffle_seed = int(random.generator().integers(2**63))
        if self._distribution is not None:  # the ranks agree, then take rank 0's state
            self._distribution.begin_fit(self, count_samples(x_sample), steps)
        batch_logs_needed = hooks.wants_batch_logs()
        warn_not_finite = _first(callback_list, callbacks_module.TerminateOnNaN) is None
        # the divergence warning reads the loss after each batch only where that copies
        # nothing to the host (host arrays, or batch logs that callbacks read anyway); on a
        # device backend otherwise (and for the batches between a progress bar's draws),
        # from the epoch's logs (a NaN or inf batch loss leaves the running mean NaN or inf)
        warn_each_batch = warn_not_finite and (batch_logs_needed or self._loss_on_host())
        epoch_logs: dict = {}
        # the targets' labels are checked once per fit, or on the device once per epoch
        with LabelChecks(y) as label_checks:
            for epoch in range(initial_epoch, epochs):
                if not self._train_epoch(
                    epoch, epoch_batches(epoch), hooks, batch_logs_needed, warn_each_batch
                ):
                    warnings.warn(
                        f"fit: the input ran out of data in epoch {epoch + 1}; training stops. "
                        f"Give `steps_per_epoch` so that the generator yields steps_per_epoch * "
                        f"epochs batches, or pass an engine.data.Dataset (re-read every epoch).",
                        UserWarning,
                        stacklevel=2,
                    )
                    break
                label_checks.verify("epoch")  # device labels: one copy per epoch
                epoch_logs = self._logs()
                if warn_not_finite and not self._warned_nan:  # batches no check read
                    self._warn_if_not_finite(epoch_logs.get("loss", 0.0), epoch, None)
                if validation is not None and _should_validate(epoch, validation_freq):
                    val_logs = self._evaluate_data(
                        validation, validation_batch_size or batch_size, validation_steps, hooks
                    )
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                hooks.on_epoch_end(epoch, epoch_logs)
                if self._distribution is not None:  # every rank stops at the same epoch
                    self.stop_training = self._distribution.any(self.stop_training)
                if self.stop_training:
                    break
        hooks.on_train_end(epoch_logs)
        if self._distribution is not None:
            self._distribution.end_fit(self)
            self._distribution = None
        return history

    def _fit_data(
        self,
        x,
        y,
        batch_size,
        sample_weight,
        class_weight,
        validation_split,
        validation_data,
        shuffle,
        steps_per_epoch,
    ):
        """``(epoch -> batches, x (a sample), y, steps, batch_size, validation_data)`` for
        ``fit``; ``y`` the host targets of arrays (None for a Dataset or generator)."""
        if data_utils.is_batch_source(x):
            if validation_split:
                raise ValueError(
                    "fit: `validation_split` needs arrays; with a Dataset or generator pass "
                    "`validation_data` instead."
                )
            epoch_batches, x_sample = self._source_batches(x, steps_per_epoch, class_weight)
            return epoch_batches, x_sample, None, steps_per_epoch, None, validation_data
        batch_size = data_utils.check_batch_size(batch_size, "fit")
        data_utils.check_one_weighting(sample_weight, class_weight, "fit")
        x, y, sample_weight = self._prepare(x, y, sample_weight, "fit")
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = data_utils.split_validation(
                [x, y, sample_weight], validation_split
            )
        if class_weight is not None:  # the training part only: val_loss stays unweighted
            sample_weight = data_utils.class_weights_to_sample_weights(y, class_weight, self.dtype)
        epoch_batches = self._array_batches(x, y, sample_weight, batch_size, shuffle)
        steps = math.ceil(len(x) / batch_size)
        return epoch_batches, x, y, steps, batch_size, validation_data

    def _train_epoch(
        self, epoch: int, batches, hooks, batch_logs_needed: bool, warn_each_batch: bool
    ) -> bool:
        """One epoch's training steps; False when the data ran out before its first batch.

        ``batch_logs_needed``: some callback reads the logs after each batch; they are made
        (on a device backend: copied to the host) only for the batches whose logs a callback
        reads: a progress bar's only when it draws (``CallbackList.batch_logs_due``).
        ``warn_each_batch``: no TerminateOnNaN watches the loss, so a warning does, read
        after each batch (from the logs when they are made anyway).
        """
        self.reset_metrics()
        hooks.on_epoch_begin(epoch)
        rank = self._distribution.rank if self._distribution is not None else 0
        # the dropout stream's seed is worked out at its first draw, if the epoch makes one
        self.backend.seed(functools.partial(_epoch_seed, self.shuffle_seed, epoch, rank))
        loss_on_host = self._loss_on_host()
        # every rank makes the logs at the same batches (they are summed across the ranks)
        logs_every_batch = self._distribution is not None
        step = -1
        for step, (xb, yb, wb) in enumerate(batches):
            hooks.on_train_batch_begin(step)
            xb, yb, wb = self._to_backend(xb), self._to_backend(yb), self._to_backend(wb)
            # a diverging run is reported once, by the warning below or by TerminateOnNaN;
            # NumPy's overflow warnings from every op on the way would only repeat it
            with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss = self._run_step(xb, yb, wb, training=True)
            if batch_logs_needed and (logs_every_batch or hooks.batch_logs_due()):
                logs = self._logs()
                if warn_each_batch and not self._warned_nan:
                    self._warn_if_not_finite(logs.get("loss", 0.0), epoch, step)
                hooks.on_train_batch_end(step, logs)
            else:
                if batch_logs_needed:  # a progress bar between two draws: it counts the batch
                    hooks.on_train_batch_end(step, None)
                if warn_each_batch and loss_on_host and not self._warned_nan:
                    self._warn_if_not_finite(float(loss), epoch, step)
            if self.stop_training:
                break
        return step >= 0

    def _loss_on_host(self) -> bool:
        """Whether reading the loss as a number copies nothing (the backend's arrays are
        NumPy's); a GPU backend would wait for the step and copy the loss back."""
        return self.backend.xp is numpy

    def _warn_if_not_finite(self, loss: float, epoch: int, batch: int | None) -> None:
        """Warn once per model, at the first batch (or epoch, when the loss is read once per
        epoch) whose loss is NaN or infinite."""
        if not math.isfinite(loss) and not self._warned_nan:
            self._warned_nan = True
            where = f"at batch {batch} of epoch" if batch is not None else "in epoch"
            warnings.warn(
                f"fit: the loss of model '{self.name}' became {loss} {where} {epoch + 1}. "
                f"Lower the learning rate, check the data, or use "
                f"callbacks.TerminateOnNaN() to stop training there.",
                RuntimeWarning,
                stacklevel=3,
            )


def _checked_logs(logs, class_name: str, step: str) -> dict:
    """A custom step's logs as ``{name: float}`` (nested metric results flattened)."""
    if not isinstance(logs, dict):
        raise TypeError(
            f"{class_name}.{step} must return a dict of metric names to numbers, e.g. "
            f"{{'loss': loss}}; it returned {type(logs).__name__}."
        )
    flat = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            flat.update(_checked_logs(value, class_name, step))
            continue
        try:
            flat[key] = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{class_name}.{step} returned {key!r}: {value!r}, which is not a number."
            ) from None
    return flat


def _should_validate(epoch: int, validation_freq) -> bool:
    """Keras's ``validation_freq``: every n-th epoch (1-based, counted from epoch 1 even when
    resuming with ``initial_epoch``), or the epochs listed."""
    if isinstance(validation_freq, (list, tuple)):
        return epoch + 1 in validation_freq
    return (epoch + 1) % validation_freq == 0


def _first(callback_list: list, kind: type):
    return next((callback for callback in callback_list if isinstance(callback, kind)), None)


def _metric_list(metrics) -> list:
    """``compile``'s ``metrics``/``weighted_metrics``: None, one metric or a list of them."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
        return [metrics]
    return list(metrics)


def _next_free(name: str, taken: list[str]) -> str:
    index = 1
    while f"{name}_{index}" in taken:
        index += 1
    return f"{name}_{index}"


def _epoch_seed(shuffle_seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of epoch ``epoch``'s dropout stream: independent of its shuffling stream (and,
    in data-parallel training, of the other ranks')."""
    entropy = [shuffle_seed, epoch, 1] + ([rank] if rank else [])
    return int(numpy.random.SeedSequence(entropy).generate_state(1)[0])


def _computes_trainable_weights(model) -> bool:
    """Whether ``model.trainable_weights`` is ``Layer``'s for it and every layer it holds
    (a list that changes only with them); an override of the user's may change it at will."""
    pending = [model]
    while pending:
        layer = pending.pop()
        if type(layer).trainable_weights is not layer_base.Layer.trainable_weights:
            return False
        pending.extend(layer._layers)
    return True
