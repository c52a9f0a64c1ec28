"""Model: a Layer with Keras's training API (compile, fit, evaluate, predict).

The training step is the hot path of small models: it is written to do no
work per batch beyond the forward pass, one backward pass, one fused update
per weight and the metric sums.
"""

import math
import warnings

import numpy

from .. import callbacks as callbacks_module
from .. import config, optimizers, random
from .. import losses as losses_module
from .. import metrics as metrics_module
from ..layers.base import Layer, format_shape
from ..tensor import Tensor, no_grad
from . import data as data_utils
from .summary import summarize


class Model(Layer):
    """Base class of models; ``Sequential`` fills in ``call`` and the layer list."""

    autocast = False  # each layer casts its own inputs

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_identifiers: list = []
        self.compiled_metrics: list | None = None
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._warned_nan = False

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
        """Configure training: optimizer, loss and metrics by name or object."""
        if loss is None:
            raise ValueError(
                f"compile: model '{self.name}' needs a `loss`, e.g. loss='mse' or "
                f"loss='sparse_categorical_crossentropy'."
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            metrics = [metrics]
        self._metric_identifiers = list(metrics)
        self.compiled_metrics = None
        self.compiled = True
        if self.built and self.backend is not None:
            self.optimizer.build(self.trainable_weights)

    def _require_compiled(self, where: str) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"{where}: model '{self.name}' must be compiled first; call "
                f"model.compile(optimizer=..., loss=...) before {where}()."
            )

    def _resolve_metrics(self, y_shape, y_pred_shape) -> None:
        if self.compiled_metrics is None:
            self.compiled_metrics = [
                metrics_module.get(m, y_shape, y_pred_shape, self.loss)
                for m in self._metric_identifiers
            ]

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [m.name for m in self.compiled_metrics or []]

    def reset_metrics(self) -> None:
        self._loss_tracker.reset_state()
        for metric in self.compiled_metrics or []:
            metric.reset_state()

    # -- one batch --------------------------------------------------------

    def _to_backend(self, array):
        if array is None:
            return None
        return self.backend.asarray(array)

    def _ensure_built(self, x_shape) -> None:
        if not self.built:
            self.build_from_shape((None, *x_shape[1:]))

    def train_step(self, x, y, sample_weight=None):
        """Forward, loss, backward and one optimizer update; returns ``(loss, y_pred)``."""
        y_pred = self(x, training=True)
        loss = self.loss(y, y_pred, sample_weight)
        penalties = self.losses
        if penalties:
            loss = loss + sum(penalties[1:], penalties[0])
        loss.backward()
        self.optimizer.apply(self._trainable_cache)
        return loss.data, y_pred

    def test_step(self, x, y, sample_weight=None):
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.loss(y, y_pred, sample_weight)
            penalties = self.losses
            if penalties:
                loss = loss + sum(penalties[1:], penalties[0])
        return loss.data, y_pred

    def _update_metrics(self, loss, y, y_pred, sample_weight, count: int) -> None:
        self._loss_tracker.update_state(loss, count)
        for metric in self.compiled_metrics:
            metric.update_state(y, y_pred, sample_weight)

    def _logs(self, prefix: str = "") -> dict:
        """Metrics first, then the loss, as Keras 3 orders them."""
        logs = {prefix + m.name: m.result() for m in self.compiled_metrics}
        logs[prefix + "loss"] = self._loss_tracker.result()
        return logs

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (and metrics) before the update."""
        self._require_compiled("train_on_batch")
        x, y, sample_weight = data_utils.prepare(x, y, sample_weight, "train_on_batch", self.dtype)
        if class_weight is not None:
            sample_weight = data_utils.class_weights_to_sample_weights(y, class_weight, self.dtype)
        self._begin_training(x.shape)
        self.reset_metrics()
        xb, yb, wb = self._to_backend(x), self._to_backend(y), self._to_backend(sample_weight)
        loss, y_pred = self.train_step(xb, yb, wb)
        self._resolve_metrics(y.shape, y_pred.shape)
        self._update_metrics(loss, yb, y_pred, wb, len(x))
        return self._results(return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sample_weight = data_utils.prepare(x, y, sample_weight, "test_on_batch", self.dtype)
        self._check_input(x, "test_on_batch")
        self.reset_metrics()
        xb, yb, wb = self._to_backend(x), self._to_backend(y), self._to_backend(sample_weight)
        loss, y_pred = self.test_step(xb, yb, wb)
        self._resolve_metrics(y.shape, y_pred.shape)
        self._update_metrics(loss, yb, y_pred, wb, len(x))
        return self._results(return_dict)

    def predict_on_batch(self, x) -> numpy.ndarray:
        x, _, _ = data_utils.prepare(x, None, None, "predict_on_batch", self.dtype, need_y=False)
        self._check_input(x, "predict_on_batch")
        with no_grad():
            return self.backend.to_numpy(self(self._to_backend(x), training=False).data)

    def _results(self, return_dict: bool):
        logs = self._logs()
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self.compiled_metrics]
        return values[0] if len(values) == 1 else values

    def _begin_training(self, x_shape) -> None:
        self._ensure_built(x_shape)
        self._check_input_shape(x_shape, "fit")
        self._trainable_cache = self.trainable_weights
        self.optimizer.build(self._trainable_cache)

    # -- fit / evaluate / predict -----------------------------------------

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
        validation_freq: int = 1,
    ):
        """Train for ``epochs`` epochs; returns a ``History`` with Keras's keys."""
        self._require_compiled("fit")
        batch_size = data_utils.check_batch_size(batch_size, "fit")
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit: `epochs` must be a non-negative integer, got {epochs!r}.")
        x, y, sample_weight = data_utils.prepare(x, y, sample_weight, "fit", self.dtype)
        if class_weight is not None:
            sample_weight = data_utils.class_weights_to_sample_weights(y, class_weight, self.dtype)
        validation = None
        if validation_data is not None:
            validation = self._prepare_validation(validation_data)
        elif validation_split:
            (x, y, sample_weight), validation = data_utils.split_validation(
                [x, y, sample_weight], validation_split
            )
        self._begin_training(x.shape)
        verbose = 1 if verbose == "auto" else int(verbose)
        n = len(x)
        steps = math.ceil(n / batch_size)
        history = callbacks_module.History()
        callback_list = list(callbacks or [])
        if verbose:
            callback_list.append(callbacks_module.ProgbarLogger(verbose))
        callback_list.append(history)
        params = {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size}
        hooks = callbacks_module.CallbackList(callback_list, self, params)
        batch_logs_needed = any(
            type(c).on_train_batch_end is not callbacks_module.Callback.on_train_batch_end
            for c in callback_list
        )
        self.stop_training = False
        self.history = history
        hooks.on_train_begin()
        generator = random.generator()
        epoch_logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            hooks.on_epoch_begin(epoch)
            for step, index in enumerate(
                data_utils.batch_indices(n, batch_size, shuffle, generator)
            ):
                hooks.on_train_batch_begin(step)
                xb, yb = self._to_backend(x[index]), self._to_backend(y[index])
                wb = self._to_backend(sample_weight[index]) if sample_weight is not None else None
                loss, y_pred = self.train_step(xb, yb, wb)
                if self.compiled_metrics is None:
                    self._resolve_metrics(y.shape, y_pred.shape)
                self._update_metrics(loss, yb, y_pred, wb, len(yb))
                if batch_logs_needed:
                    hooks.on_train_batch_end(step, self._logs())
                if self.stop_training:
                    break
            epoch_logs = self._logs()
            self._warn_if_not_finite(epoch_logs["loss"], epoch)
            if validation is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                val_logs = self._evaluate_arrays(*validation, validation_batch_size or batch_size)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            hooks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        hooks.on_train_end(epoch_logs)
        return history

    def _warn_if_not_finite(self, loss: float, epoch: int) -> None:
        if not math.isfinite(loss) and not self._warned_nan:
            self._warned_nan = True
            warnings.warn(
                f"fit: the loss of model '{self.name}' became {loss} in epoch {epoch + 1}. "
                f"Lower the learning rate, check the data, or use callbacks.TerminateOnNaN().",
                RuntimeWarning,
                stacklevel=3,
            )

    def _prepare_validation(self, validation_data):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "fit: `validation_data` must be a tuple (x_val, y_val) or "
                "(x_val, y_val, val_sample_weight)."
            )
        x_val, y_val, *rest = validation_data
        weights = rest[0] if rest else None
        return data_utils.prepare(x_val, y_val, weights, "fit (validation_data)", self.dtype)

    def _evaluate_arrays(self, x, y, sample_weight, batch_size: int) -> dict:
        self.reset_metrics()
        for index in data_utils.batch_indices(len(x), batch_size, False, None):
            xb, yb = self._to_backend(x[index]), self._to_backend(y[index])
            wb = self._to_backend(sample_weight[index]) if sample_weight is not None else None
            loss, y_pred = self.test_step(xb, yb, wb)
            self._resolve_metrics(y.shape, y_pred.shape)
            self._update_metrics(loss, yb, y_pred, wb, len(yb))
        return self._logs()

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        return_dict: bool = False,
        callbacks=None,
    ):
        """Loss (and metrics) on the given data, with layers in inference mode."""
        self._require_compiled("evaluate")
        batch_size = data_utils.check_batch_size(batch_size, "evaluate")
        x, y, sample_weight = data_utils.prepare(x, y, sample_weight, "evaluate", self.dtype)
        self._ensure_built(x.shape)
        self._check_input(x, "evaluate")
        self._evaluate_arrays(x, y, sample_weight, batch_size)
        return self._results(return_dict)

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None) -> numpy.ndarray:
        """Outputs for ``x`` in batches, as a NumPy array, with layers in inference mode."""
        batch_size = data_utils.check_batch_size(batch_size, "predict")
        x, _, _ = data_utils.prepare(x, None, None, "predict", self.dtype, need_y=False)
        self._ensure_built(x.shape)
        self._check_input(x, "predict")
        outputs = []
        with no_grad():
            for index in data_utils.batch_indices(len(x), batch_size, False, None):
                y_pred = self(self._to_backend(x[index]), training=False)
                outputs.append(self.backend.to_numpy(y_pred.data))
        return numpy.concatenate(outputs, axis=0)

    # -- inputs -----------------------------------------------------------

    @property
    def input_shape(self):
        return self._build_input_shape

    def _check_input(self, x, where: str) -> None:
        self._ensure_built(x.shape)
        self._check_input_shape(x.shape, where)

    def _check_input_shape(self, shape, where: str) -> None:
        expected = self._build_input_shape
        if expected is None:
            return
        if len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected[1:], shape[1:])
        ):
            raise ValueError(
                f"{where}: model '{self.name}' expects input of shape {format_shape(expected)} "
                f"(rank {len(expected)}), but got an array of shape {format_shape(shape)}."
            )

    # -- inspection and moving --------------------------------------------

    def summary(self, line_length: int = 80, print_fn=print) -> None:
        """Print the layers, their output shapes and parameter counts, as Keras does."""
        if not self.built:
            raise ValueError(
                f"Model '{self.name}' has not been built yet, so its weights and output shapes "
                f"are unknown. Give the first layer an input_shape (or start with "
                f"layers.Input(shape)), call model.build(input_shape), or fit it on data first."
            )
        summarize(self, line_length, print_fn)

    def layer_summaries(self) -> list[tuple[str, tuple, int]]:
        raise NotImplementedError

    def to(self, backend) -> "Model":
        """Move weights and optimizer state to another backend (``"numpy"``, ``"cupy"``...)."""
        target = config.resolve_backend(backend)
        super().to(target)
        if self.optimizer is not None:
            self.optimizer.to(target)
        return self

    def build(self, input_shape) -> None:
        raise NotImplementedError

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        if not isinstance(inputs, Tensor):
            backend = self.backend or config.get_backend()
            inputs = Tensor(inputs, backend=backend)
        return super().__call__(inputs, training=training, mask=mask, **kwargs)
