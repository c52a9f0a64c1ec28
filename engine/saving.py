"""Saving and loading models: one safetensors file, no pickle, atomic writes.

File layout (``format_version`` 2). A safetensors file whose string metadata holds

- ``format``: ``"engine.model"`` (``Model.save``) or ``"engine.weights"`` (``save_weights``);
- ``format_version``: ``"2"``;
- ``model_config``: JSON ``{"class_name": ..., "config": model.get_config()}``;
- ``compile_config``: JSON ``{"optimizer", "loss", "metrics", "weighted_metrics"}``, each
  a registry name or ``{"class_name", "config"}`` (absent when the model was not compiled,
  or was compiled with an unregistered custom loss or optimizer);
- ``training_state``: JSON ``{"shuffle_seed", "iterations"}``;

and tensors ``weights/000000``, ``weights/000001``... in ``model.weights`` order,
``optimizer/000003/m``... (the optimizer's slots, by the index of their
parameter in ``model.weights``, so that freezing a layer between saving and
loading, or non-trainable weights in between, cannot shift them) and
``optimizer/iterations``.

Version 1 files keyed the slots by the optimizer's own order instead (the
order of ``model.trainable_weights`` when it was first built); they still load.

Every tensor is written as a C-contiguous host NumPy array (safetensors' NumPy
binding writes non-contiguous arrays wrongly), so a file saved on any backend
loads on any other: loading builds the model on the current backend.

Extensions: model files are ``.safetensors``; ``.keras`` is accepted for Keras
programs, but the content is still this safetensors layout, not Keras's zip
archive. Weights files are ``.safetensors`` (``.weights.safetensors`` reads
well); Keras's ``.h5`` is refused with a message. Loading looks at the content,
never the extension.

Safety: loading parses JSON and tensors only. Class names are resolved only
through the allow-list registries (layers registered with
``@engine.layers.register_layer``, the built-in and registered losses, metrics
and optimizers); nothing is imported or evaluated from the file.

Atomicity: the bytes go to a temporary file in the target's directory, which is
flushed, fsynced and then renamed over the target with ``os.replace``. A failure
at any point leaves the previous file untouched.
"""

import contextlib
import json
import os
import struct
import tempfile
import warnings

import numpy
from safetensors.numpy import load as _load_tensors
from safetensors.numpy import save as _save_tensors

from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers
from .registry import custom_object_scope

FORMAT_VERSION = "2"
_READABLE_VERSIONS = ("1", "2")
MODEL_FORMAT = "engine.model"
WEIGHTS_FORMAT = "engine.weights"
_MODEL_EXTENSIONS = (".safetensors", ".keras")


# -- writing -----------------------------------------------------------------


def _host(array) -> numpy.ndarray:
    """A C-contiguous host copy, whatever the backend the array lives on."""
    if hasattr(array, "get") and hasattr(array, "__cuda_array_interface__"):  # CuPy
        array = array.get()
    return numpy.ascontiguousarray(numpy.asarray(array))


def _check_extension(path: str, allowed: tuple, what: str) -> None:
    if path.endswith(".h5"):
        raise ValueError(
            f"{what}: '{path}' names an HDF5 file; this library writes safetensors. "
            f"Use a path ending in '.safetensors'."
        )
    if not path.endswith(allowed):
        raise ValueError(
            f"{what}: the file name must end in {' or '.join(repr(e) for e in allowed)}; "
            f"got '{path}'."
        )


def _write_bytes(handle, data: bytes) -> None:
    """The one place bytes reach the file (tests replace it to simulate a failing disk)."""
    handle.write(data)


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the new one."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Cannot write '{path}': its directory '{os.path.dirname(path) or directory}' does "
            f"not exist; create it first (os.makedirs)."
        )
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
        )
    except OSError as error:  # it would name the temporary file, not the target
        raise type(error)(f"Cannot write '{path}': {error.strerror or error}.") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_bytes(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _weight_tensors(model) -> dict:
    return {f"weights/{i:06d}": _host(w.numpy()) for i, w in enumerate(model.weights)}


def _optimizer_tensors(model) -> dict:
    """The optimizer's slots, each keyed by its parameter's index in ``model.weights``."""
    optimizer = model.optimizer
    position = {id(weight): i for i, weight in enumerate(model.weights)}
    tensors = {}
    for param, slots in zip(optimizer._params, optimizer._slots):
        index = position.get(id(param))
        if index is None:  # state of a weight that is no longer part of the model
            continue
        for name in optimizer.slot_names:
            tensors[f"optimizer/{index:06d}/{name}"] = _host(slots[name])
    tensors["optimizer/iterations"] = numpy.array([optimizer.iterations], dtype=numpy.int64)
    return tensors


def _serialize_metric(metric):
    if isinstance(metric, str):
        return metric
    if isinstance(metric, metrics_module.Metric):
        return metrics_module._registry.serialize(metric)
    raise ValueError(f"metric {metric!r} is a function; register a Metric class to save it")


def compile_config(model) -> dict:
    """The compile arguments as registry names and configs (JSON-able)."""
    return {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": losses_module.serialize(model.loss),
        "metrics": [_serialize_metric(m) for m in model._metric_identifiers],
        "weighted_metrics": [_serialize_metric(m) for m in model._weighted_metric_identifiers],
    }


def _model_metadata(model, file_format: str) -> dict:
    metadata = {
        "format": file_format,
        "format_version": FORMAT_VERSION,
        "model_config": json.dumps(
            {"class_name": type(model).__name__, "config": model.get_config()}
        ),
        "training_state": json.dumps(
            {
                "shuffle_seed": getattr(model, "shuffle_seed", None),
                "iterations": model.optimizer.iterations if model.optimizer is not None else 0,
            }
        ),
    }
    return metadata


def _require_built(model, what: str) -> None:
    if not model.built:
        raise ValueError(
            f"{what}: model '{model.name}' has not been built yet, so it has no weights; "
            f"fit it or build it with an input shape first."
        )


def save_model(model, filepath, overwrite: bool = True) -> None:
    """``model.save``: architecture, weights, compile config and optimizer state."""
    path = os.fspath(filepath)
    _check_extension(path, _MODEL_EXTENSIONS, "save")
    _require_built(model, "save")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: '{path}' exists and overwrite=False.")
    metadata = _model_metadata(model, MODEL_FORMAT)
    tensors = _weight_tensors(model)
    if model.compiled:
        try:
            metadata["compile_config"] = json.dumps(compile_config(model))
        except ValueError as error:
            warnings.warn(
                f"save: '{path}' is saved without its compile config ({error}); "
                f"load_model will return an uncompiled model.",
                UserWarning,
                stacklevel=3,
            )
        else:
            tensors.update(_optimizer_tensors(model))
    atomic_write(path, _save_tensors(tensors, metadata=metadata))


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """``model.save_weights``: the weights (and the architecture, for reference only)."""
    path = os.fspath(filepath)
    _check_extension(path, (".safetensors",), "save_weights")
    _require_built(model, "save_weights")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: '{path}' exists and overwrite=False.")
    metadata = _model_metadata(model, WEIGHTS_FORMAT)
    atomic_write(path, _save_tensors(_weight_tensors(model), metadata=metadata))


# -- reading -----------------------------------------------------------------


def _read(path: str) -> tuple[dict, dict]:
    """``(metadata, tensors)`` of a file written here, or a ValueError naming the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    with open(path, "rb") as handle:
        data = handle.read()
    problem = "it is not a safetensors file"
    metadata = None
    if len(data) >= 8:
        (header_size,) = struct.unpack("<Q", data[:8])
        if header_size > len(data) - 8:
            problem = "it is truncated or not a safetensors file (its header runs past its end)"
        else:
            try:
                header = json.loads(data[8 : 8 + header_size])
                metadata = header.get("__metadata__") or {}
            except (ValueError, AttributeError):
                problem = "its safetensors header is corrupted"
    if metadata is None:
        raise ValueError(f"Cannot load '{path}': {problem}.")
    if metadata.get("format") not in (MODEL_FORMAT, WEIGHTS_FORMAT):
        raise ValueError(
            f"Cannot load '{path}': it is a safetensors file but not a model saved by this "
            f"library (its metadata has no format '{MODEL_FORMAT}')."
        )
    if metadata.get("format_version") not in _READABLE_VERSIONS:
        raise ValueError(
            f"Cannot load '{path}': format version {metadata.get('format_version')!r} is not "
            f"supported (this library reads versions {', '.join(_READABLE_VERSIONS)})."
        )
    try:
        tensors = _load_tensors(data)
    except Exception as error:  # safetensors raises its own SafetensorError
        raise ValueError(
            f"Cannot load '{path}': its tensors are corrupted or truncated ({error})."
        ) from None
    return metadata, tensors


def _json(metadata: dict, key: str, path: str):
    text = metadata.get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(
            f"Cannot load '{path}': its '{key}' is not valid JSON ({error})."
        ) from None


def _weights_from(tensors: dict) -> list:
    keys = sorted(k for k in tensors if k.startswith("weights/"))
    return [tensors[k] for k in keys]


def _build_model(model_config, path: str):
    from .layers.base import layer_registry
    from .models.model import Model

    if not isinstance(model_config, dict):
        raise ValueError(f"Cannot load '{path}': it has no model architecture.")
    cls = layer_registry.lookup(model_config.get("class_name", ""))
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"Cannot load '{path}': '{cls.__name__}' is not a model class.")
    return cls.from_config(dict(model_config.get("config", {})))


def _compile(model, compile_dict: dict, tensors: dict, format_version: str) -> None:
    optimizer = optimizers.get(compile_dict["optimizer"])
    loss = losses_module.get(compile_dict["loss"])
    metrics, weighted_metrics = (
        [m if isinstance(m, str) else metrics_module.get(m) for m in compile_dict.get(key, [])]
        for key in ("metrics", "weighted_metrics")
    )
    model.compile(
        optimizer=optimizer, loss=loss, metrics=metrics, weighted_metrics=weighted_metrics
    )
    restore_optimizer_state(model, tensors, format_version)


def restore_optimizer_state(model, tensors: dict, format_version: str = FORMAT_VERSION) -> None:
    """Put saved slots and the step count back into the model's optimizer.

    The optimizer's state is rebuilt in the order of the saved parameters, then
    extended to any trainable weight that had none.
    """
    optimizer = model.optimizer
    if "optimizer/iterations" in tensors:
        optimizer.iterations = int(tensors["optimizer/iterations"][0])
    slots = {k: v for k, v in tensors.items() if k.startswith("optimizer/") and k.count("/") == 2}
    if not slots:
        return
    # version 1 keyed slots by the optimizer's order, that of the trainable weights
    params = model.weights if format_version != "1" else model.trainable_weights
    indices = sorted({int(key.split("/")[1]) for key in slots})
    if indices[-1] >= len(params):
        raise ValueError(
            f"optimizer state for weight {indices[-1]} does not match the model, which has "
            f"{len(params)} weights"
        )
    optimizer._params, optimizer._slots, optimizer._index = [], [], {}
    optimizer.build([params[i] for i in indices])
    optimizer.build(model.trainable_weights)
    for key, array in slots.items():
        _, index, slot = key.split("/")
        param = params[int(index)]
        state = optimizer._slots[optimizer._index[id(param)]]
        if slot not in state:
            raise ValueError(
                f"optimizer state '{key}' names a slot {type(optimizer).__name__} does not have "
                f"(its slots: {', '.join(optimizer.slot_names) or 'none'})"
            )
        if tuple(state[slot].shape) != array.shape:
            raise ValueError(
                f"optimizer state '{key}' has shape {array.shape}, but weight '{param.name}' "
                f"has shape {tuple(param.shape)}"
            )
        state[slot] = param.backend.asarray(array.astype(state[slot].dtype))


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True):  # noqa: A002
    """The model saved in ``filepath``, built on the current backend, ready to continue training.

    ``custom_objects`` maps names in the file to classes that are not registered
    (``{"MyLayer": MyLayer}``), for this load only; as in Keras, the caller
    vouches for them.
    """
    path = os.fspath(filepath)
    with custom_object_scope(custom_objects):
        return _load_model(path, compile)


def _load_model(path: str, compile: bool):  # noqa: A002
    metadata, tensors = _read(path)
    if metadata["format"] != MODEL_FORMAT:
        raise ValueError(
            f"Cannot load '{path}' as a model: it holds weights only (written by "
            f"save_weights); build the model and call model.load_weights('{path}')."
        )
    try:
        model = _build_model(_json(metadata, "model_config", path), path)
        model.set_weights(_weights_from(tensors))
        state = _json(metadata, "training_state", path) or {}
        model.shuffle_seed = state.get("shuffle_seed")
        compile_dict = _json(metadata, "compile_config", path)
        if compile and compile_dict is not None:
            _compile(model, compile_dict, tensors, metadata["format_version"])
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        if str(error).startswith(f"Cannot load '{path}'"):
            raise
        raise ValueError(f"Cannot load '{path}': {error}") from None
    return model


def load_weights(model, filepath) -> None:
    """``model.load_weights``: weights from a ``save_weights`` or ``save`` file."""
    path = os.fspath(filepath)
    _, tensors = _read(path)
    _require_built(model, "load_weights")
    try:
        model.set_weights(_weights_from(tensors))
    except ValueError as error:
        raise ValueError(
            f"Cannot load weights from '{path}' into '{model.name}': {error}"
        ) from None
