"""Losses and metrics of a model with several outputs, named as Keras 3 logs them.

``compile(loss=[...] or {"output": ...}, loss_weights=..., metrics=[[...], [...]] or
{...})`` on a model with outputs ``out`` and ``aux`` gives the logs ``loss`` (the
weighted sum), ``out_loss``, ``aux_loss``, ``out_<metric>``, ``aux_<metric>``.
Each per-output metric is an ordinary metric reading its own output, so the
training loop treats one output and several alike.
"""

from .. import losses as losses_module
from .. import metrics as metrics_module


def per_output(value, output_names: list[str], argument: str, default=None) -> list:
    """``value`` (one for all, a list in output order, or a dict by name) as one per output."""
    if isinstance(value, dict):
        unknown = [key for key in value if key not in output_names]
        if unknown:
            raise ValueError(
                f"compile: `{argument}` names {unknown[0]!r}, which is not an output of the "
                f"model; its outputs are {output_names}."
            )
        return [value.get(name, default) for name in output_names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(output_names):
            raise ValueError(
                f"compile: `{argument}` has {len(value)} entries, but the model has "
                f"{len(output_names)} outputs {output_names}."
            )
        return list(value)
    return [value] * len(output_names)


def _of_output(sample_weight, index: int):
    """The sample weights of output ``index``: one array for all, or one per output."""
    return sample_weight[index] if isinstance(sample_weight, list) else sample_weight


class OutputsLoss:
    """The weighted sum of one loss per output; keeps each output's latest loss value."""

    def __init__(self, loss, loss_weights, output_names: list[str]):
        losses = per_output(loss, output_names, "loss")
        if all(item is None for item in losses):
            raise ValueError(
                f"compile: `loss` gives no loss for any of the outputs {output_names}; give "
                f"one for at least one output (None leaves an output out, as in Keras)."
            )
        #: one per output; None for an output left out of the loss (its targets too)
        self.losses = [None if item is None else losses_module.get(item) for item in losses]
        weights = per_output(
            1.0 if loss_weights is None else loss_weights, output_names, "loss_weights", 1.0
        )
        self.weights = [float(w) for w in weights]
        self.output_names = output_names
        self.name = "loss"
        self.latest: list = [None] * len(output_names)

    @property
    def scored(self) -> list[int]:
        """The indices of the outputs that have a loss."""
        return [index for index, loss in enumerate(self.losses) if loss is not None]

    def __call__(self, y_true: list, y_pred: list, sample_weight=None):
        total = None
        for index, (loss, weight) in enumerate(zip(self.losses, self.weights)):
            if loss is None:
                continue
            value = loss(y_true[index], y_pred[index], _of_output(sample_weight, index))
            self.latest[index] = value.data
            term = value if weight == 1.0 else value * weight
            total = term if total is None else total + term
        return total

    def get_config(self) -> dict:
        return {
            "losses": [
                None if loss is None else losses_module.serialize(loss) for loss in self.losses
            ],
            "loss_weights": self.weights,
        }


class OutputLoss(metrics_module.Mean):
    """``<output>_loss``: the running mean of one output's loss."""

    def __init__(self, outputs_loss: OutputsLoss, index: int):
        self.outputs_loss, self.index = outputs_loss, index
        super().__init__(name=f"{outputs_loss.output_names[index]}_loss")

    def update_state(self, y_true, y_pred, sample_weight=None):
        count = len(y_pred[self.index])
        super().update_state(self.outputs_loss.latest[self.index], count)


class OutputMetric(metrics_module.Metric):
    """``<output>_<metric>``: a metric on one output of several."""

    def __init__(self, metric: metrics_module.Metric, index: int, output_name: str):
        self.metric, self.index = metric, index
        super().__init__(name=f"{output_name}_{metric.name}")

    def reset_state(self) -> None:
        if hasattr(self, "metric"):
            self.metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self.metric.update_state(
            y_true[self.index], y_pred[self.index], _of_output(sample_weight, self.index)
        )

    def result(self) -> float:
        return self.metric.result()


def output_metrics(identifiers, output_names, y_shapes, y_pred_shapes) -> list:
    """One ``OutputMetric`` per (output, metric) from ``compile``'s ``metrics``."""
    flat = isinstance(identifiers, (list, tuple)) and all(
        isinstance(item, (str, metrics_module.Metric)) for item in identifiers
    )
    if flat and len(identifiers) != len(output_names):
        identifiers = [list(identifiers)] * len(output_names)  # the same metrics on each
    per = per_output(identifiers, output_names, "metrics", default=[])
    result = []
    for index, (name, items) in enumerate(zip(output_names, per)):
        if items is None:
            continue
        if isinstance(items, (str, metrics_module.Metric)) or callable(items):
            items = [items]
        if items and y_shapes[index] is None:
            raise ValueError(
                f"compile: metrics are given for output {name!r}, which has no loss (None) "
                f"and so no targets; give it a loss or no metrics."
            )
        for item in items:
            metric = metrics_module.get(item, y_shapes[index], y_pred_shapes[index])
            result.append(OutputMetric(metric, index, name))
    return result


class CompileMetrics(metrics_module.Metric):
    """Keras 3's ``compile_metrics``: one metric in ``model.metrics`` standing for every
    metric given to ``compile``; a custom ``train_step`` updates it with ``(y, y_pred)``."""

    def __init__(self, model):
        self.model = model
        super().__init__(name="compile_metrics")

    def reset_state(self) -> None:
        if hasattr(self, "model"):
            for metric in self.model._all_metrics():
                metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        model = self.model
        if model.compiled_metrics is None:
            model._resolve_metrics(shape_of(y_true), shape_of(y_pred))
        for metric in model.compiled_metrics:
            metric.update_state(y_true, y_pred)
        for metric in model.compiled_weighted_metrics:
            metric.update_state(y_true, y_pred, sample_weight)

    def result(self) -> dict:
        model = self.model
        return {name: m.result() for name, m in zip(model._metric_names, model._all_metrics())}


def shape_of(value):
    """A tensor's or array's shape; a list of them for a model's several outputs."""
    if isinstance(value, (list, tuple)):  # None: no targets for an output without a loss
        return [None if item is None else tuple(item.shape) for item in value]
    return tuple(value.shape)
