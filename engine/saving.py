"""Saving and loading models: one safetensors file, no pickle, atomic writes.

File layout (``format_version`` 3). A safetensors file whose string metadata holds

- ``format``: ``"engine.model"`` (``Model.save``) or ``"engine.weights"`` (``save_weights``);
- ``format_version``: ``"3"`` (version 3 added functional models, whose
  ``model_config`` holds the layer graph; versions 1 and 2 still load);
- ``model_config``: JSON ``{"class_name": ..., "config": model.get_config()}``;
- ``compile_config``: JSON ``{"optimizer", "loss", "metrics", "weighted_metrics"}``, each
  a registry name or ``{"class_name", "config"}`` (absent when the model was not compiled,
  or was compiled with an unregistered custom loss or optimizer);
- ``training_state``: JSON ``{"shuffle_seed", "iterations"}``;
- ``checksum``: ``"crc32:<8 hex digits>"`` of the header and the data (see ``_checksum``);
  files written before it existed load without the check;

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

Loading checks before it trusts: the path must be a regular file whose size is
what its header describes (a device or a FIFO is never read), the checksum must
match, the training state must be sane, and while the model is built from the
config every weight it creates must match a tensor of the file (``_FileWeights``).
Every refusal is a ``ValueError`` naming the file.

Atomicity: the bytes go to a temporary file ``.<name>.tmp-<host>-<pid>-<random>`` in
the target's directory, which is flushed, fsynced and then renamed over the target
with ``os.replace``. A failure at any point leaves the previous file untouched; a
temporary left by a process that was killed is removed by the next save or load
of that target. The file gets the mode an ``open()`` would give it (the umask's),
or keeps the mode of the file it replaces, as ``torch.save`` and Keras do.
"""

import collections
import contextlib
import inspect
import json
import os
import re
import secrets
import socket
import stat
import struct
import warnings
import zlib

import numpy
from safetensors.numpy import load as _load_tensors
from safetensors.numpy import save as _save_tensors

from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers
from .registry import custom_object_scope

FORMAT_VERSION = "3"
_READABLE_VERSIONS = ("1", "2", "3")
MODEL_FORMAT = "engine.model"
WEIGHTS_FORMAT = "engine.weights"
_MODEL_EXTENSIONS = (".safetensors", ".keras")
#: safetensors' own limit on the JSON header
_MAX_HEADER_BYTES = 100_000_000
_O_BINARY = getattr(os, "O_BINARY", 0)


# -- writing -----------------------------------------------------------------


def _host(array) -> numpy.ndarray:
    """A C-contiguous host copy, whatever the backend the array lives on."""
    if hasattr(array, "get") and hasattr(array, "__cuda_array_interface__"):  # CuPy
        array = array.get()
    array = numpy.asarray(array)
    # ascontiguousarray would make a 0-d array 1-d
    return array if array.flags.c_contiguous else numpy.array(array, order="C")


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


def _write_bytes(handle, data) -> None:
    """The one place bytes reach the file (tests replace it to simulate a failing disk)."""
    handle.write(data)


def _temporary_prefix(path: str) -> str:
    return f".{os.path.basename(path)}.tmp-"


def _remove_stale_temporaries(path: str) -> None:
    """Delete the temporaries of ``path`` left by writers on this host that no longer run.

    Another host's temporaries (a shared file system) and those of live processes
    are left alone: their writer may still rename them into place.
    """
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return
    directory = os.path.dirname(os.path.abspath(path))
    name = re.compile(re.escape(_temporary_prefix(path)) + r"(.+)-(\d+)-[0-9a-f]{8}")
    host = socket.gethostname()
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            match = name.fullmatch(entry)
            if match is None or match[1] != host:
                continue
            try:
                os.kill(int(match[2]), 0)
            except ProcessLookupError:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, entry))
            except (PermissionError, OverflowError):
                pass  # alive, under another user


def _create_temporary(path: str, directory: str) -> tuple[int, str]:
    """A new file next to ``path``, named so that ``_remove_stale_temporaries`` recognizes it,
    with the mode the umask gives a new file."""
    name = f"{_temporary_prefix(path)}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
    temporary = os.path.join(directory, name)
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    except OSError as error:  # it would name the temporary file, not the target
        raise type(error)(
            error.errno,
            f"Cannot write: {error.strerror} (creating a temporary file in '{directory}')",
            path,
        ) from None
    return fd, temporary


def atomic_write(path: str, *chunks) -> None:
    """Write ``chunks`` (bytes-like) to ``path`` so that ``path`` is either the old file or
    the new one."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Cannot write '{path}': its directory '{os.path.dirname(path) or directory}' does "
            f"not exist; create it first (os.makedirs)."
        )
    _remove_stale_temporaries(path)
    fd, temporary = _create_temporary(path, directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            with contextlib.suppress(OSError):  # keep the mode of the file replaced, if any
                os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
            for chunk in chunks:
                _write_bytes(handle, chunk)
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


def _checksum(header: dict, data) -> str:
    """CRC-32 (as Keras's ``.keras`` archives have) of the header and the data section.

    The header is taken in a canonical JSON form without the checksum itself, so
    that it covers every tensor's dtype, shape and offsets and all the metadata.
    It detects damage, not forgery: whoever can edit the file can recompute it.
    """
    metadata = {k: v for k, v in header.get("__metadata__", {}).items() if k != "checksum"}
    canonical = json.dumps({**header, "__metadata__": metadata}, sort_keys=True).encode()
    return f"crc32:{zlib.crc32(data, zlib.crc32(canonical)):08x}"


def _serialize(tensors: dict, metadata: dict) -> tuple[bytes, memoryview]:
    """The file as ``(length and header, data)``, its header carrying ``_checksum``."""
    serialized = _save_tensors(tensors, metadata=metadata)
    (header_size,) = struct.unpack("<Q", serialized[:8])
    header = json.loads(serialized[8 : 8 + header_size])
    data = memoryview(serialized)[8 + header_size :]
    header["__metadata__"]["checksum"] = _checksum(header, data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors aligns the data to 8 bytes
    return struct.pack("<Q", len(text)) + text, data


def _weight_tensors(model) -> dict:
    return {f"weights/{i:06d}": _host(w.numpy()) for i, w in enumerate(model.weights)}


def _optimizer_tensors(model) -> dict:
    """The optimizer's slots, each keyed by its parameter's index in ``model.weights``."""
    optimizer = model.optimizer
    position = {id(weight): i for i, weight in enumerate(model.weights)}
    tensors = {}
    for param in model.weights:
        slots = optimizer.slots(param)
        if slots is None:  # no state yet (never trained, or frozen)
            continue
        index = position[id(param)]
        for name, array in slots.items():  # a MultiOptimizer's weights differ in slots
            tensors[f"optimizer/{index:06d}/{name}"] = _host(array)
    tensors["optimizer/iterations"] = numpy.array([optimizer.iterations], dtype=numpy.int64)
    return tensors


def _serialize_metric(metric):
    if isinstance(metric, str):
        return metric
    if isinstance(metric, metrics_module.Metric):
        return metrics_module.serialize(metric)
    raise ValueError(f"metric {metric!r} is a function; register a Metric class to save it")


def _serialize_metrics(identifiers):
    """``compile``'s metrics (a list, or per output a list of lists or a dict) as JSON."""
    if identifiers is None:
        return []
    if isinstance(identifiers, dict):
        return {name: _serialize_metrics(items) for name, items in identifiers.items()}
    if isinstance(identifiers, (list, tuple)):
        return [_serialize_metrics(item) for item in identifiers]
    return _serialize_metric(identifiers)


def _deserialize_metrics(identifiers):
    if isinstance(identifiers, dict) and "class_name" not in identifiers:
        return {name: _deserialize_metrics(items) for name, items in identifiers.items()}
    if isinstance(identifiers, list):
        return [_deserialize_metrics(item) for item in identifiers]
    return identifiers if isinstance(identifiers, str) else metrics_module.get(identifiers)


def compile_config(model) -> dict:
    """The compile arguments as registry names and configs (JSON-able)."""
    loss = model.loss
    if hasattr(loss, "output_names"):  # one loss per output
        loss = {"per_output": loss.get_config()}
    else:
        loss = losses_module.serialize(loss)
    return {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": loss,
        "metrics": _serialize_metrics(model.compile_metrics),
        "weighted_metrics": _serialize_metrics(model.compile_weighted_metrics),
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
    build_config = model.get_build_config()
    if build_config is not None:
        metadata["build_config"] = json.dumps(build_config)
    return metadata


def _check_serializable(model) -> None:
    """Every class of the user's in the model whose constructor takes arguments must give
    them back from ``get_config``, or ``load_model`` could not rebuild it (as Keras checks).

    An unregistered class saves; loading it needs the class registered
    (``@engine.saving.register_keras_serializable()``) or passed in ``custom_objects``.
    """
    pending, seen = [model], set()
    while pending:
        layer = pending.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        pending.extend(layer._layers)
        cls = type(layer)
        if cls.__module__.startswith("engine."):
            continue
        required = [
            p.name
            for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        overridden = any(
            "get_config" in vars(klass)
            for klass in cls.__mro__
            if not klass.__module__.startswith("engine.") and klass is not object
        )
        if required and not overridden:
            raise ValueError(
                f"save: {cls.__name__}.__init__ takes {', '.join(required)}, but "
                f"{cls.__name__} does not override get_config() to return them, so "
                f"load_model could not rebuild '{layer.name}'. Add get_config() returning "
                f"{{**super().get_config(), {', '.join(repr(n) + ': ...' for n in required)}}}, "
                f"and register the class with @engine.saving.register_keras_serializable(); "
                f"or save the weights alone with save_weights()."
            )


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
    _check_serializable(model)
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
    atomic_write(path, *_serialize(tensors, metadata))


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """``model.save_weights``: the weights (and the architecture, for reference only)."""
    path = os.fspath(filepath)
    _check_extension(path, (".safetensors",), "save_weights")
    _require_built(model, "save_weights")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: '{path}' exists and overwrite=False.")
    metadata = _model_metadata(model, WEIGHTS_FORMAT)
    atomic_write(path, *_serialize(_weight_tensors(model), metadata))


# -- reading -----------------------------------------------------------------


def _read(path: str) -> tuple[dict, dict]:
    """``(metadata, tensors)`` of a file written here, or a ValueError naming the file.

    Nothing is read before the file is known to be a regular file whose size is the
    one its header describes, so a device, a FIFO or a huge file is refused at once.
    """
    _remove_stale_temporaries(path)
    mode = os.stat(path).st_mode  # its OSError names the file
    if not stat.S_ISREG(mode):
        kinds = (
            (stat.S_ISDIR, "a directory"),
            (stat.S_ISFIFO, "a FIFO"),
            (stat.S_ISSOCK, "a socket"),
        )
        kind = next((name for is_kind, name in kinds if is_kind(mode)), "a device")
        raise ValueError(f"Cannot load '{path}': it is {kind}, not a regular file.")
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        header, header_size = _read_header(handle, size, path)
        described = 8 + header_size + _data_size(header, path)
        if size != described:
            raise ValueError(
                f"Cannot load '{path}': the file is {size} bytes, but its header describes "
                f"{described} bytes; it is truncated, or not a safetensors file."
            )
        handle.seek(0)
        data = handle.read(size)
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(
            f"Cannot load '{path}': its safetensors '__metadata__' must be a JSON object of "
            f"strings; found {json.dumps(metadata)[:80]}."
        )
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
    _verify_checksum(header, metadata, memoryview(data)[8 + header_size :], path)
    try:
        tensors = _load_tensors(data)
    except Exception as error:  # safetensors raises its own SafetensorError
        raise ValueError(
            f"Cannot load '{path}': its tensors are corrupted or truncated ({error})."
        ) from None
    return metadata, tensors


def _read_header(handle, size: int, path: str) -> tuple[dict, int]:
    """The parsed JSON header and its length, bounds checked before it is read."""
    if size < 8:
        raise ValueError(f"Cannot load '{path}': it is not a safetensors file ({size} bytes).")
    (header_size,) = struct.unpack("<Q", handle.read(8))
    if header_size > size - 8:
        raise ValueError(
            f"Cannot load '{path}': it is truncated or not a safetensors file (its header of "
            f"{header_size} bytes runs past its end, at {size} bytes)."
        )
    if header_size > _MAX_HEADER_BYTES:
        raise ValueError(
            f"Cannot load '{path}': its header of {header_size} bytes is larger than "
            f"safetensors allows ({_MAX_HEADER_BYTES})."
        )
    try:
        header = json.loads(handle.read(header_size))
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise ValueError(f"Cannot load '{path}': its safetensors header is corrupted.")
    return header, header_size


def _data_size(header: dict, path: str) -> int:
    """The length of the data section: the end of the last tensor the header lists."""
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
        ):
            raise ValueError(
                f"Cannot load '{path}': its safetensors header is corrupted (tensor "
                f"{name!r} has data_offsets {offsets!r})."
            )
        end = max(end, offsets[1])
    return end


def _verify_checksum(header: dict, metadata: dict, data, path: str) -> None:
    stored = metadata.get("checksum")
    if stored is None:
        return  # written before checksums
    computed = _checksum(header, data)
    if stored != computed:
        raise ValueError(
            f"Cannot load '{path}': its checksum does not match its contents (stored "
            f"{stored}, computed {computed}); the file was changed or damaged after it was "
            f"saved."
        )


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
    except RecursionError:
        raise ValueError(f"Cannot load '{path}': its '{key}' is nested too deeply.") from None


def _weights_from(tensors: dict) -> list:
    keys = sorted(k for k in tensors if k.startswith("weights/"))
    return [tensors[k] for k in keys]


class _FileWeights:
    """The weight shapes a file holds, claimed one by one as its model is built.

    A config is trusted only as far as the file's tensors vouch for it. Building
    the model from the config runs each layer's initializers, which allocate
    whatever the config asks for (``Dense(units=2**28)`` on 16 inputs: 16 GiB),
    and ``set_weights`` would compare shapes only afterwards. So while
    ``load_model`` builds, every ``Layer.add_weight`` first claims a weight
    tensor of the file with the same shape, and is refused before its
    initializer runs when none is left. Shapes are matched as a multiset, not in
    order, because a layer may create its weights in another order than
    ``model.weights`` lists them; ``set_weights`` then checks the order. A model
    built within its file's shapes allocates no more than the file holds.
    """

    def __init__(self, path: str, arrays: list):
        self.path = path
        self.unclaimed = collections.Counter(tuple(array.shape) for array in arrays)

    def claim(self, layer, name, shape) -> None:
        shape = tuple(shape)
        if self.unclaimed[shape] > 0:
            self.unclaimed[shape] -= 1
            return
        left = [shape for shape, count in self.unclaimed.items() if count > 0]
        listed = ", ".join(str(shape) for shape in left[:8]) + (", ..." if len(left) > 8 else "")
        raise ValueError(
            f"Cannot load '{self.path}': its config makes layer '{layer.name}' create weight "
            f"'{name}' of shape {shape}, but the file holds no such tensor (its weight "
            f"tensors not yet matched have shapes {listed or 'none'})."
        )

    @contextlib.contextmanager
    def checking_builds(self):
        """Within the block, this thread's ``Layer.add_weight`` calls claim from ``self``."""
        from .layers.base import weight_claims

        token = weight_claims.set(self.claim)
        try:
            yield
        finally:
            weight_claims.reset(token)


def _model_class(model_config, where: str):
    """The registered model class ``{"class_name": ..., "config": ...}`` names."""
    from .layers.base import Layer, layer_registry

    if not isinstance(model_config, dict):
        raise ValueError(f"{where}: it has no model architecture.")
    cls = layer_registry.lookup(model_config.get("class_name", ""))
    # a model is a Layer that trains; saving does not import models (they import saving)
    if not (isinstance(cls, type) and issubclass(cls, Layer) and hasattr(cls, "fit")):
        raise ValueError(f"{where}: '{cls.__name__}' is not a model class.")
    return cls


def _build_model(model_config, weights: list, path: str, build_config=None):
    """The model ``model_config`` describes, built only if ``weights`` have its shapes."""
    cls = _model_class(model_config, f"Cannot load '{path}'")
    with _FileWeights(path, weights).checking_builds():
        model = cls.from_config(dict(model_config.get("config", {})))
        if not model.built and build_config is not None:
            model.build_from_config(build_config)
    return model


def model_to_json(model, **kwargs) -> str:
    """``model``'s architecture as JSON (``json.dumps`` takes ``kwargs``): its class, its
    config and, once built, its build config, as ``save`` keeps them; no weights."""
    _check_serializable(model)
    document = {"class_name": type(model).__name__, "config": model.get_config()}
    build_config = model.get_build_config()
    if build_config is not None:
        document["build_config"] = build_config
    return json.dumps(document, **kwargs)


def model_from_json(json_string, custom_objects: dict | None = None):
    """A new model, with new weights, of the architecture ``model.to_json()`` wrote;
    ``custom_objects`` as for ``load_model``."""
    where = "model_from_json"
    try:
        document = json.loads(json_string)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: expected the JSON text of model.to_json(); {error}.") from None
    with custom_object_scope(custom_objects):
        cls = _model_class(document, where)
        model = cls.from_config(dict(document.get("config", {})))
        build_config = document.get("build_config")
        if not model.built and build_config is not None:
            model.build_from_config(build_config)
    return model


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _training_state(metadata: dict, path: str) -> dict:
    """The ``training_state``, checked here so that a damaged one cannot fail inside ``fit``."""
    state = _json(metadata, "training_state", path)
    state = {} if state is None else state
    if not isinstance(state, dict):
        raise ValueError(
            f"Cannot load '{path}': its 'training_state' must be a JSON object; found "
            f"{json.dumps(state)[:80]}."
        )
    for field, allowed, wanted in (
        ("shuffle_seed", (None,), "null or a non-negative integer"),
        ("iterations", (), "a non-negative integer"),
    ):
        value = state.get(field)
        if field in state and value not in allowed and not _is_count(value):
            raise ValueError(
                f"Cannot load '{path}': its training_state field '{field}' must be {wanted}; "
                f"found {value!r}."
            )
    return state


def _compile(model, compile_dict: dict, tensors: dict, format_version: str) -> None:
    optimizer = optimizers.get(compile_dict["optimizer"])
    loss, loss_weights = compile_dict["loss"], None
    if isinstance(loss, dict) and "per_output" in loss:
        per_output = loss["per_output"]
        loss = [losses_module.get(item) for item in per_output["losses"]]
        loss_weights = per_output["loss_weights"]
    else:
        loss = losses_module.get(loss)
    metrics, weighted_metrics = (
        _deserialize_metrics(compile_dict.get(key, [])) for key in ("metrics", "weighted_metrics")
    )
    model.compile(
        optimizer=optimizer,
        loss=loss,
        loss_weights=loss_weights,
        metrics=metrics,
        weighted_metrics=weighted_metrics,
    )
    restore_optimizer_state(model, tensors, format_version)


def restore_optimizer_state(model, tensors: dict, format_version: str = FORMAT_VERSION) -> None:
    """Put saved slots and the step count back into the model's optimizer.

    The optimizer's state is rebuilt in the order of the saved parameters, then
    extended to any trainable weight that had none.
    """
    optimizer = model.optimizer
    if "optimizer/iterations" in tensors:
        iterations = tensors["optimizer/iterations"]
        if iterations.shape != (1,) or iterations.dtype.kind not in "iu" or iterations[0] < 0:
            raise ValueError(
                f"optimizer state 'optimizer/iterations' must be one non-negative integer; "
                f"found {iterations.tolist()!r} ({iterations.dtype})"
            )
        optimizer.iterations = int(iterations[0])
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
    optimizer.reset()
    optimizer.build([params[i] for i in indices])
    optimizer.build(model.trainable_weights)
    for key, array in slots.items():
        _, index, slot = key.split("/")
        param = params[int(index)]
        state = optimizer.slots(param)
        if slot not in state:
            raise ValueError(
                f"optimizer state '{key}' names a slot {type(optimizer).__name__} does not have "
                f"for weight '{param.name}' (its slots: {', '.join(state) or 'none'})"
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
    state = _training_state(metadata, path)
    weights = _weights_from(tensors)
    try:
        build_config = _json(metadata, "build_config", path)
        model = _build_model(_json(metadata, "model_config", path), weights, path, build_config)
        model.set_weights(weights)
        model.shuffle_seed = state.get("shuffle_seed")
        compile_dict = _json(metadata, "compile_config", path)
        if compile and compile_dict is not None:
            _compile(model, compile_dict, tensors, metadata["format_version"])
    except RecursionError:
        raise ValueError(f"Cannot load '{path}': its config is nested too deeply.") from None
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


# Keras's registration and serialization names in ``keras.saving``, shared with
# ``engine.utils`` (one set of custom objects behind both)
from .utils import serialization as _serialization  # noqa: E402

CustomObjectScope = _serialization.CustomObjectScope
deserialize_keras_object = _serialization.deserialize_keras_object
get_custom_objects = _serialization.get_custom_objects
get_registered_name = _serialization.get_registered_name
get_registered_object = _serialization.get_registered_object
register_keras_serializable = _serialization.register_keras_serializable
serialize_keras_object = _serialization.serialize_keras_object
