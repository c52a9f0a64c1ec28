"""The ``Metric`` base class and the reductions: ``Mean``, ``Sum``, ``MeanMetricWrapper``.

A metric's state is a few arrays (sums and counts) that live on the backend
of the data it is given, so updating it each batch queues device work and
never waits for the device; ``result()`` brings the state to the host and
computes there. ``metric.variables`` lists the state arrays in a fixed order:
the state of data split across processes is the elementwise sum of theirs
(sum each array across processes, write it back in place with ``v[...] =``),
which is what a data-parallel strategy does before ``result()``.
"""

import contextvars

import numpy

from .. import config
from ..functional._util import native
from ..layers.base import unique_name
from ..losses import labels as labels_module
from ..losses.base import mask_weights, same_rank
from ..registry import snake_case
from ..tensor import Tensor, keras_mask, no_grad


def shape_mismatch(name: str, y_true, y_pred, error) -> ValueError:
    message = (
        f"metric '{name}': cannot compare targets of shape {tuple(y_true.shape)} with "
        f"predictions of shape {tuple(y_pred.shape)} ({error})"
    )
    if y_true.ndim < y_pred.ndim and y_pred.shape[-1] > 1:
        message += (
            ". The targets look like sparse class indices: use a sparse metric such as "
            "'sparse_categorical_accuracy', or one-hot targets."
        )
    return ValueError(message)


class Metric:
    """Base class: ``update_state(y_true, y_pred, sample_weight=None)``, ``result()``,
    ``reset_state()``; the state is in ``variables``.

    A subclass declares its state with ``self.add_state(name, shape)`` (a zero array
    kept as ``self.<name>``), updates it in place (``self.total += ...``) after
    ``self.arrays(...)`` has put its inputs and state on one backend, and computes
    ``result()`` on the host (``self.host(self.total)``).
    """

    def __init__(self, dtype=None, name: str | None = None):
        # Keras's auto-names share one counter with the layers: "precision", "precision_1"
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = numpy.dtype(dtype or config.floatx()).name
        self._state_shapes: dict[str, tuple] = {}
        self._backend = None

    # -- state ------------------------------------------------------------

    def add_state(self, name: str, shape=(), dtype=None):
        """A zero array ``self.<name>`` of ``shape``, part of ``variables``."""
        array = numpy.zeros(shape, dtype=dtype or self.dtype)
        if self._backend is not None:
            array = self._backend.asarray(array)
        self._state_shapes[name] = tuple(shape)
        setattr(self, name, array)
        return array

    @property
    def variables(self) -> list:
        """The state arrays, this metric's then those of the metrics it holds."""
        found = [getattr(self, name) for name in getattr(self, "_state_shapes", {})]
        for value in vars(self).values():
            if isinstance(value, Metric) and value is not self:
                found.extend(value.variables)
        return found

    def reset_state(self) -> None:
        for name in getattr(self, "_state_shapes", {}):
            getattr(self, name)[...] = 0

    def _place(self, backend) -> None:
        """Keep the state on ``backend`` (moved there the first time, or after ``model.to``)."""
        previous = self._backend
        if previous is backend:
            return
        if previous is None or previous.xp is not backend.xp:
            for name in self._state_shapes:
                array = getattr(self, name)
                host = array if previous is None else previous.to_numpy(array)
                setattr(self, name, backend.asarray(host))
        self._backend = backend

    def arrays(self, *values):
        """``(backend, [arrays])``: the inputs on the backend of the first tensor among them
        (else the metric's, else the current one), the state moved there too."""
        backend = next((v.backend for v in values if isinstance(v, Tensor)), None)
        backend = backend or self._backend or config.get_backend()
        self._place(backend)
        return backend, [None if v is None else native(v, backend) for v in values]

    def _holds(self, value) -> bool:
        """Whether ``value`` needs no conversion: an array of the metric's backend in its
        dtype, or on a host backend a NumPy scalar of that dtype (a loss)."""
        backend = self._backend
        if backend is None:
            return False
        if type(value) is numpy.ndarray and backend.xp is numpy:  # a host loss, every step
            return value.dtype == self.dtype
        if not (
            backend.is_native(value) or (backend.xp is numpy and isinstance(value, numpy.generic))
        ):
            return False
        return value.dtype == self.dtype

    def float_arrays(self, *values):
        """``(xp, [arrays])`` as ``arrays``, each in the metric's float dtype."""
        backend, arrays = self.arrays(*values)
        return backend.xp, [None if a is None else a.astype(self.dtype, copy=False) for a in arrays]

    def host(self, array) -> numpy.ndarray:
        """A state array on the host, as float64 for the arithmetic of ``result()``."""
        copies = _HOST_COPIES.get()
        if copies is not None:
            found = copies.get(id(array))
            if found is not None and found[0] is array:
                return found[1].copy()
        if self._backend is not None:
            array = self._backend.to_numpy(array)
        return numpy.asarray(array, dtype=numpy.float64)

    # -- the interface ----------------------------------------------------

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the result, as Keras's ``metric(y_true, y_pred)``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


_HOST_COPIES: contextvars.ContextVar = contextvars.ContextVar("metric_host_copies", default=None)


class HostCopies:
    """``with HostCopies(metrics):`` their ``result()`` read their state from one copy of it
    all to the host, made on entering, rather than a copy (a wait for the device) per state
    array: the logs of a loss and an accuracy cost one round trip, not four."""

    __slots__ = ("metrics", "_token")

    def __init__(self, metrics: list):
        self.metrics = metrics
        self._token = None

    def __enter__(self) -> "HostCopies":
        self._token = _HOST_COPIES.set(_copy_states(self.metrics))
        return self

    def __exit__(self, *error) -> bool:
        _HOST_COPIES.reset(self._token)
        return False


def _copy_states(metrics: list) -> dict | None:
    """``{id(state): (state, float64 host copy)}`` of the metrics' device states, one copy
    per device backend; None when none is on a device."""
    by_backend: dict = {}
    for metric in metrics:
        backend = metric._backend
        if backend is not None and labels_module.on_device(backend):
            by_backend.setdefault(id(backend), (backend, {}))[1].update(
                (id(array), array) for array in metric.variables
            )
    copies = {}
    for backend, states in by_backend.values():
        arrays = list(states.values())
        if not arrays:
            continue
        flat = backend.xp.concatenate([a.astype("float64").reshape(-1) for a in arrays])
        host, offset = backend.to_numpy(flat), 0
        for array in arrays:
            copies[id(array)] = (array, host[offset : offset + array.size].reshape(array.shape))
            offset += array.size
    return copies or None


def as_float(value):
    """A host result as Keras reports it: a Python float, or a NumPy vector."""
    value = numpy.asarray(value, dtype=numpy.float64)
    return float(value) if value.ndim == 0 else value


def divide_no_nan(numerator, denominator):
    """``numerator / denominator``, 0 where the denominator is 0 (Keras's ``divide_no_nan``)."""
    safe = numpy.where(denominator == 0, 1.0, denominator)
    return numpy.where(denominator == 0, 0.0, numerator / safe)


def samplewise(values, weights, xp, reduce: str):
    """Keras's ``reduce_to_samplewise_values``: ``(values * weights, weights)`` reduced to
    one per sample (``reduce`` is ``"mean"`` or ``"sum"`` over the other axes)."""
    if weights is not None:
        values, weights = same_rank(values, weights)
        if values.ndim > weights.ndim:
            values = getattr(values, reduce)(axis=tuple(range(weights.ndim, values.ndim)))
        weights = xp.broadcast_to(weights, values.shape)
        values = values * weights
        if weights.ndim > 1:
            weights = getattr(weights, reduce)(axis=tuple(range(1, weights.ndim)))
    if values.ndim > 1:
        values = getattr(values, reduce)(axis=tuple(range(1, values.ndim)))
    return values, weights


class Mean(Metric):
    """The weighted mean of the values given: ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(dtype=dtype, name=name)
        self.add_state("total")
        self.add_state("count")

    def update_state(self, values, sample_weight=None) -> None:
        kind = type(sample_weight)
        if (
            kind is int
            or kind is float
            or (isinstance(sample_weight, (int, float)) and kind is not bool)
        ):
            # one weight for the batch (the loss tracker's batch size): no array to send
            if not self._holds(values):
                xp, (values,) = self.float_arrays(values)
            total = values.mean() * sample_weight if values.ndim else values * sample_weight
            if (
                isinstance(total, numpy.generic)
                and type(self.total) is numpy.ndarray
                and type(self.count) is numpy.ndarray
            ):
                # on the host, as scalars: the same roundings as ``+=`` (a ufunc's on 0-d
                # arrays), at a seventh of its cost (0.1 against 0.7-0.85 us)
                self.total[()] = self.total[()] + total
                self.count[()] = self.count[()] + sample_weight
            else:
                self.total += total
                self.count += sample_weight
            return
        xp, (values, weights) = self.float_arrays(values, sample_weight)
        self._accumulate(values, weights, xp)

    def _accumulate(self, values, weights, xp) -> None:
        values, weights = samplewise(values, weights, xp, "mean")
        self.total += values.sum()
        if weights is not None:
            self.count += weights.sum()
        else:
            self.count += values.shape[0] if values.ndim else 1

    def result(self) -> float:
        total, count = self.total, self.count
        if type(total) is numpy.ndarray and type(count) is numpy.ndarray:  # on the host
            if total.ndim == 0 and count.ndim == 0:  # the loss tracker at every step
                count = float(count)
                return float(total) / count if count != 0 else 0.0
        total, count = self.host(total), self.host(count)
        if total.ndim == 0 and count.ndim == 0:  # divide_no_nan's float64 division, in Python
            count = float(count)
            return float(total) / count if count != 0 else 0.0
        return as_float(divide_no_nan(total, count))


class Sum(Metric):
    """The weighted sum of the values given."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(dtype=dtype, name=name)
        self.add_state("total")

    def update_state(self, values, sample_weight=None) -> None:
        xp, (values, weights) = self.float_arrays(values, sample_weight)
        values, _ = samplewise(values, weights, xp, "sum")
        self.total += values.sum()

    def result(self) -> float:
        return as_float(self.host(self.total))


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred, **kwargs)``, one value per sample.

    ``fn`` gets ``y_true`` as an array and ``y_pred`` as a tensor that records no
    gradient (the loss functions of ``engine.losses`` and the metric functions
    of ``engine.metrics`` take both), and returns a tensor or an array.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or unique_name(snake_case(type(self).__name__)), dtype=dtype)
        self._fn = _public_function(fn) if isinstance(fn, str) else fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        mask = keras_mask(y_pred)  # Keras 3: a masked output's masked steps count for nothing
        backend, (y_true, y_pred, weights) = self.arrays(y_true, y_pred, sample_weight)
        try:
            with no_grad():
                values = self._fn(y_true, Tensor._wrap(y_pred, backend), **self._fn_kwargs)
        except ValueError as error:  # a shape mismatch, raised deep in the function
            raise shape_mismatch(self.name, y_true, y_pred, error) from None
        if isinstance(values, Tensor):
            values = values.data
        values = values.astype(self.dtype, copy=False)
        if weights is not None:
            weights = weights.astype(self.dtype, copy=False)
        if mask is not None:
            weights = mask_weights(mask, weights, values.dtype, "sum", backend)
        self._accumulate(values, weights, backend.xp)

    def get_config(self) -> dict:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:  # subclasses know their function
            name = getattr(self._fn, "__name__", "")
            if _public_function(name, required=False) is not self._fn:
                raise ValueError(
                    f"MeanMetricWrapper '{self.name}': cannot save its function {self._fn!r}, "
                    f"which is not one of engine.metrics' functions; write a Metric subclass "
                    f"and register it with @engine.saving.register_keras_serializable()."
                )
            config["fn"] = name
        return config


def _public_function(name: str, required: bool = True):
    """The metric or loss function ``engine.metrics.<name>`` (how a wrapper is saved)."""
    from .. import metrics

    fn = getattr(metrics, name, None) if name in metrics.__all__ else None
    if fn is None or isinstance(fn, type) or not callable(fn):
        if not required:
            return None
        raise ValueError(
            f"MeanMetricWrapper: `fn` {name!r} is not a function of engine.metrics (such as "
            f"'mean_squared_error' or 'binary_accuracy')."
        )
    return fn
