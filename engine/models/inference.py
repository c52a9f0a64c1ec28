"""``evaluate`` and ``predict`` (and their one-batch forms) for ``Model``.

``InferenceLoops`` is mixed into ``Model`` through ``Trainer``: the loops run the
layers in inference mode without recording a graph, call the ``on_test_*`` and
``on_predict_*`` hooks as Keras 3, and bring the outputs back to the host as NumPy.
``fit`` runs its validation through ``_evaluate_data``.
"""

import itertools
import math

import numpy

from .. import callbacks as callbacks_module
from .. import config, symbolic
from .. import distribute as distribute_module
from ..losses.labels import LabelChecks
from ..tensor import Tensor, no_grad
from . import data as data_utils


class InferenceLoops:
    """Mixed into ``Model`` (through ``Trainer``): the evaluation and prediction loops."""

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sample_weight = self._prepare(x, y, sample_weight, "test_on_batch")
        self._check_input(x, "test_on_batch")
        self.reset_metrics()
        xb, yb, wb = self._to_backend(x), self._to_backend(y), self._to_backend(sample_weight)
        with LabelChecks(y) as label_checks:
            self._run_step(xb, yb, wb, training=False)
        label_checks.verify()
        return self._results(return_dict)

    def predict_on_batch(self, x) -> numpy.ndarray:
        x, _, _ = self._prepare(x, None, None, "predict_on_batch", need_y=False)
        self._check_input(x, "predict_on_batch")
        with no_grad():
            outputs = self._inference_forward(self._to_backend(x))
            return self._join_predictions([self._host_outputs(outputs)])

    def _evaluate_data(self, data, batch_size, steps, hooks, where="fit (validation_data)"):
        """Loss and metrics over arrays ``(x, y, sample_weight)`` or a Dataset/generator,
        calling the ``on_test_*`` hooks as Keras 3 (in ``fit``, inside the epoch)."""
        hooks.on_test_begin()
        self.reset_metrics()
        self.stop_evaluating = False
        batch_logs_needed = hooks.wants_batch_logs("on_test_batch_end")
        targets = None if data_utils.is_batch_source(data) else data[1]
        # the targets' labels are checked once, or on the device at the end
        with LabelChecks(targets) as label_checks:
            batches = self._test_batches(data, batch_size, steps, where)
            cap = data_utils.capped_steps(steps)
            if cap is not None:
                batches = itertools.islice(batches, cap)
            for step, (xb, yb, wb) in enumerate(batches):
                hooks.on_test_batch_begin(step)
                self._run_step(xb, yb, wb, training=False)
                if batch_logs_needed:
                    hooks.on_test_batch_end(step, self._logs())
                if self.stop_evaluating:
                    break
        label_checks.verify("evaluation")
        logs = self._logs()
        hooks.on_test_end(logs)
        return logs

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict: bool = False,
    ):
        """Loss (and metrics) on arrays, a Dataset or a generator, layers in inference mode."""
        self._require_compiled("evaluate")
        self._distribution = distribute_module.distribution()
        data_utils.check_verbose(verbose, "evaluate")
        callback_list = checked_callbacks(callbacks, "evaluate")
        if data_utils.is_batch_source(x):
            if not self.built:
                raise ValueError(
                    f"evaluate: model '{self.name}' has not been built yet; fit it or build it "
                    f"with an input shape before evaluating on a Dataset or generator."
                )
            data = x
        else:
            batch_size = data_utils.check_batch_size(batch_size, "evaluate")
            data = self._prepare(x, y, sample_weight, "evaluate")
            self._ensure_built(data[0])
            self._check_input(data[0], "evaluate")
            steps = math.ceil(len(data[0]) / batch_size)
        shown = steps  # the progress total; _evaluate_data cuts the batches and warns
        most = config.max_steps_per_epoch()
        if most and (not steps or most < steps):
            shown = most
        params = {"verbose": verbose, "epochs": 1, "steps": shown}
        hooks = callbacks_module.CallbackList(callback_list, self, params)
        self._evaluate_data(data, batch_size, steps, hooks, "evaluate")
        return self._results(return_dict)

    def predict(
        self, x, batch_size=None, verbose="auto", steps=None, callbacks=None
    ) -> numpy.ndarray:
        """Outputs for ``x`` (arrays, a Dataset or a generator) as one NumPy array; the
        ``on_predict_*`` hooks get Keras 3's logs (``{"outputs": batch outputs}`` per batch)."""
        data_utils.check_verbose(verbose, "predict")
        callback_list = checked_callbacks(callbacks, "predict")
        if not data_utils.is_batch_source(x):
            batch_size = data_utils.check_batch_size(batch_size, "predict")
            x, _, _ = self._prepare(x, None, None, "predict", need_y=False)
            self._ensure_built(x)
            self._check_input(x, "predict")
            steps = math.ceil(len(x) / batch_size)
        batches = self._predict_batches(x, batch_size, steps)
        cap = data_utils.capped_steps(steps)
        if cap is not None:
            batches, steps = itertools.islice(batches, cap), cap
        hooks = callbacks_module.CallbackList(
            callback_list, self, {"verbose": verbose, "epochs": 1, "steps": steps}
        )
        hooks.on_predict_begin()
        self.stop_predicting = False
        outputs = []
        with no_grad():
            for step, xb in enumerate(batches):
                hooks.on_predict_batch_begin(step)
                outputs.append(self._host_outputs(self._inference_forward(xb)))
                hooks.on_predict_batch_end(step, {"outputs": self._structured(outputs[-1])})
                if self.stop_predicting:
                    break
        hooks.on_predict_end()
        if not outputs:
            raise ValueError("predict: the Dataset or generator yielded no batches.")
        return self._join_predictions(outputs)

    def _host_outputs(self, y_pred):
        if isinstance(y_pred, Tensor):
            return self.backend.to_numpy(y_pred.data)
        return [self.backend.to_numpy(t.data) for t in symbolic.flatten(y_pred)]

    def _join_predictions(self, batches: list):
        """One array, or (several outputs) the arrays in the model's output structure."""
        if isinstance(batches[0], numpy.ndarray):
            return numpy.concatenate(batches, axis=0)
        return self._structured([numpy.concatenate(parts, axis=0) for parts in zip(*batches)])

    def _structured(self, outputs):
        """Host outputs (an array, or a list for several) in the model's output structure."""
        if isinstance(outputs, numpy.ndarray):
            return outputs
        return symbolic.pack_like(getattr(self, "output", outputs), outputs)


def checked_callbacks(callbacks, where: str) -> list:
    """``callbacks`` as given to ``fit``/``evaluate``/``predict``, as a new list; one Callback
    alone is accepted, as Keras 3 does."""
    if callbacks is None:
        return []
    if isinstance(callbacks, callbacks_module.Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"{where}: `callbacks` must be a list of Callback instances, got "
            f"{type(callbacks).__name__}."
        )
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, callbacks_module.Callback):
            got = f"the class {callback.__name__}" if isinstance(callback, type) else repr(callback)
            raise TypeError(
                f"{where}: `callbacks[{i}]` must be a Callback instance (from engine.callbacks), "
                f"got {got}."
            )
    return list(callbacks)
