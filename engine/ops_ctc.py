"""Connectionist temporal classification of ``engine.ops`` (re-exported there): ``ctc_loss``
and ``ctc_decode``.

``ctc_loss(target, output, target_length, output_length, mask_index=0)`` is Keras 3's:
``output`` are logits of shape ``(batch, time, classes)`` (a log-softmax is taken over the
classes), ``target`` integer labels of shape ``(batch, max_label_length)`` of which the
first ``target_length`` count, the first ``output_length`` steps of each sample are
read, and class ``mask_index`` is the blank. It returns one loss per sample, the negative
log-probability of the labels summed over every alignment. The loss runs the CTC forward
(alpha) recursion in log space, vectorized over the batch; its gradient with respect to
the logits is exact: the softmax minus the normalized occupation of each class, from the
alpha-beta recursion. As in Keras, a sample whose labels cannot be aligned with its steps
(more labels, and blanks between repeats, than steps) gets a large finite loss (about
``1e5``) rather than infinity, and a finite gradient.

``ctc_decode(inputs, sequence_lengths, strategy="greedy", ...)`` decodes logits: the
greedy (best path) decoder, or a prefix beam search. Its results are Keras's: the decoded
labels of shape ``(paths, batch, time)`` (int32, padded with -1) and the scores: for
"greedy", shape ``(batch, 1)``, the negative sum over the steps of the largest logit; for
"beam_search", shape ``(batch, top_paths)``, the log-probability of each labelling.
Decoding carries no gradient. Both functions run eagerly, on tensors.
"""

import numpy

from . import config
from . import functional as F
from .conversion import backend_of
from .functional.ctc import CTCLoss
from .tensor import Tensor, apply

__all__ = ["ctc_decode", "ctc_loss"]


# -- arguments ----------------------------------------------------------------------------


def _native(function: str, name: str, value, backend):
    """``value`` (a tensor, array or nested list) as an array of ``backend``."""
    if isinstance(value, Tensor):
        return value.data
    if type(value).__name__ == "KerasTensor":
        raise TypeError(
            f"{function}: {name} is a symbolic tensor (functional API); {function} runs "
            f"eagerly, on tensors."
        )
    if backend.is_native(value):
        return value
    return backend.asarray(numpy.asarray(value))


def _integers(function: str, name: str, value, backend, ndim: int):
    array = _native(function, name, value, backend)
    if array.dtype.kind not in "iub" and not (
        array.dtype.kind == "f" and (array.size == 0 or bool((array == array.round()).all()))
    ):
        raise TypeError(f"{function}: {name} must hold integers; got dtype {array.dtype}.")
    if array.ndim != ndim:
        raise ValueError(
            f"{function}: {name} must have rank {ndim}; got shape {tuple(array.shape)}."
        )
    return array.astype("int64", copy=False)


def _logits(function: str, name: str, value, backend) -> Tensor:
    """``value`` as a float tensor of rank 3, at least float32 (Keras's ``result_type(dtype,
    "float32")``), keeping its gradient."""
    if not isinstance(value, Tensor):
        array = _native(function, name, value, backend)
        if array.dtype.kind != "f":
            array = array.astype(config.floatx())
        value = Tensor._wrap(array, backend)
    if value.ndim != 3:
        raise ValueError(
            f"{function}: {name} must be logits of shape (batch, time, classes); got shape "
            f"{tuple(value.shape)}."
        )
    if value.dtype.kind != "f" or value.dtype.itemsize < 4:
        if value.dtype.kind == "f":
            value = F.cast(value, "float32")
        else:
            value = Tensor._wrap(value.data.astype("float32"), backend)
    return value


def _lengths(function: str, name: str, value, backend, batch: int, most: int):
    lengths = _integers(function, name, value, backend, 1)
    if lengths.shape[0] != batch:
        raise ValueError(
            f"{function}: {name} must have shape ({batch},), one length per sample; got "
            f"shape {tuple(lengths.shape)}."
        )
    return backend.xp.clip(lengths, 0, most)


def _mask_index(function: str, mask_index, num_classes: int) -> int:
    if isinstance(mask_index, bool) or not isinstance(mask_index, (int, numpy.integer)):
        raise TypeError(f"{function}: mask_index must be an integer; got {mask_index!r}.")
    if not 0 <= mask_index < num_classes:
        raise ValueError(
            f"{function}: mask_index={mask_index} is not a class of logits with "
            f"{num_classes} classes."
        )
    return int(mask_index)


def ctc_loss(target, output, target_length, output_length, mask_index=0) -> Tensor:
    """The CTC loss of each sample: ``-log p(target | output)``, shape ``(batch,)``.

    ``target``: integer labels ``(batch, max_label_length)``; ``output``: logits
    ``(batch, time, classes)``; ``target_length`` and ``output_length``: ``(batch,)``
    integer lengths (clipped to the label and time axes); ``mask_index``: the blank class.
    Differentiable with respect to ``output``.
    """
    name = "ctc_loss"
    backend = backend_of(
        name,
        {
            "target": target,
            "output": output,
            "target_length": target_length,
            "output_length": output_length,
        },
    )
    output = _logits(name, "output", output, backend)
    batch, steps, classes = output.shape
    mask_index = _mask_index(name, mask_index, classes)
    targets = _integers(name, "target", target, backend, 2)
    if targets.shape[0] != batch:
        raise ValueError(
            f"{name}: target has {targets.shape[0]} samples but output has {batch}; "
            f"target must have shape (batch, max_label_length)."
        )
    target_lengths = _lengths(
        name, "target_length", target_length, backend, batch, targets.shape[1]
    )
    output_lengths = _lengths(name, "output_length", output_length, backend, batch, steps)
    from .losses.labels import on_device  # engine.losses imports this module

    xp = backend.xp
    counted = xp.arange(targets.shape[1])[None, :] < target_lengths[:, None]
    if not on_device(backend) and counted.any():
        used = targets[counted]
        low, high = int(used.min()), int(used.max())
        if low < 0 or high >= classes:
            raise ValueError(
                f"{name}: labels must be integers in [0, {classes}) for logits with "
                f"{classes} classes; got a label of {low if low < 0 else high}."
            )
    # labels past each sample's length (padding) never count: any class will do there
    targets = xp.where(counted, targets, mask_index)
    return apply(CTCLoss(targets, target_lengths, output_lengths, mask_index), output)


# -- decoding -----------------------------------------------------------------------------


def _greedy(xp, inputs, lengths, merge_repeated: bool, mask_index: int):
    batch, steps, _ = inputs.shape
    best = inputs.argmax(axis=-1)
    scores = inputs.max(axis=-1)
    outside = xp.arange(steps)[None, :] >= lengths[:, None]
    best = xp.where(outside, mask_index, best)
    scores = xp.where(outside, xp.asarray(0, dtype=inputs.dtype), scores)
    if merge_repeated and steps > 1:
        repeated = xp.zeros((batch, steps), dtype=bool)
        repeated[:, 1:] = best[:, 1:] == best[:, :-1]
        best = xp.where(repeated, mask_index, best)
    blank = best == mask_index
    # the kept labels moved to the front, in order; -1 after them
    order = xp.argsort(xp.where(blank, steps, xp.arange(steps)[None, :]), axis=-1)
    decoded = xp.take_along_axis(xp.where(blank, -1, best), order, axis=-1)
    return decoded.astype("int32")[None], -scores.sum(axis=1)[:, None]


def _log_add(a: float, b: float) -> float:
    if a == -numpy.inf:
        return b
    if b == -numpy.inf:
        return a
    top = max(a, b)
    return top + numpy.log1p(numpy.exp(-abs(a - b)))


def _beam_search_one(log_probs, length: int, beam_width: int, top_paths: int, blank: int):
    """Prefix beam search of one sample: the ``top_paths`` best labellings and their
    log-probabilities, from ``log_probs`` (steps, classes) on the host."""
    classes = log_probs.shape[1]
    neg_inf = -numpy.inf
    # prefix -> (log p ending in a blank, log p ending in its last label)
    beams = {(): (0.0, neg_inf)}
    for t in range(length):
        row = log_probs[t]
        grown: dict = {}

        def add(prefix, blank_part, label_part, grown=grown):
            old_blank, old_label = grown.get(prefix, (neg_inf, neg_inf))
            grown[prefix] = (_log_add(old_blank, blank_part), _log_add(old_label, label_part))

        for prefix, (p_blank, p_label) in beams.items():
            total = _log_add(p_blank, p_label)
            add(prefix, total + row[blank], neg_inf)
            for k in range(classes):
                if k == blank:
                    continue
                if prefix and prefix[-1] == k:
                    # the same label again needs a blank between; else it repeats in place
                    add(prefix + (k,), neg_inf, p_blank + row[k])
                    add(prefix, neg_inf, p_label + row[k])
                else:
                    add(prefix + (k,), neg_inf, total + row[k])
        ranked = sorted(grown.items(), key=lambda item: -_log_add(*item[1]))
        beams = dict(ranked[:beam_width])
    ranked = sorted(beams.items(), key=lambda item: -_log_add(*item[1]))[:top_paths]
    paths = [prefix for prefix, _ in ranked]
    scores = [_log_add(*parts) for _, parts in ranked]
    while len(paths) < top_paths:  # fewer labellings than paths asked for
        paths.append(None)
        scores.append(neg_inf)
    return paths, scores


def _beam_search(backend, inputs, lengths, beam_width: int, top_paths: int, mask_index: int):
    host = numpy.asarray(backend.to_numpy(inputs), dtype=numpy.float64)
    host = host - host.max(axis=-1, keepdims=True)
    host = host - numpy.log(numpy.exp(host).sum(axis=-1, keepdims=True))
    host_lengths = numpy.asarray(backend.to_numpy(lengths))
    batch, steps, _ = host.shape
    decoded = numpy.full((top_paths, batch, steps), -1, dtype=numpy.int32)
    scores = numpy.full((batch, top_paths), -numpy.inf)
    for b in range(batch):
        paths, path_scores = _beam_search_one(
            host[b], int(host_lengths[b]), beam_width, top_paths, mask_index
        )
        for i, (path, score) in enumerate(zip(paths, path_scores)):
            if path is not None:
                decoded[i, b, : len(path)] = path
            scores[b, i] = score
    return backend.asarray(decoded), backend.asarray(scores.astype(inputs.dtype))


def _positive(function: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(f"{function}: {name} must be a positive integer; got {value!r}.")
    return int(value)


def ctc_decode(
    inputs,
    sequence_lengths,
    strategy="greedy",
    beam_width=100,
    top_paths=1,
    merge_repeated=True,
    mask_index=0,
):
    """Decode CTC logits ``inputs`` ``(batch, time, classes)`` of ``sequence_lengths`` steps.

    Returns ``(decoded, scores)`` as Keras 3: ``decoded`` int32 labels padded with -1,
    shape ``(1, batch, time)`` for ``strategy="greedy"`` and ``(top_paths, batch, time)``
    for ``"beam_search"``; ``scores`` ``(batch, 1)``, the negative sum of the largest
    logit of each step (greedy), or ``(batch, top_paths)``, each labelling's
    log-probability (beam search, which always merges repeated labels, as Keras's).
    """
    name = "ctc_decode"
    backend = backend_of(name, {"inputs": inputs, "sequence_lengths": sequence_lengths})
    if strategy not in ("greedy", "beam_search"):
        raise ValueError(
            f"{name}: invalid strategy {strategy!r}; supported values are 'greedy' and "
            f"'beam_search'."
        )
    logits = _logits(name, "inputs", inputs, backend).data
    batch, steps, classes = logits.shape
    mask_index = _mask_index(name, mask_index, classes)
    lengths = _lengths(name, "sequence_lengths", sequence_lengths, backend, batch, steps)
    if strategy == "greedy":
        decoded, scores = _greedy(backend.xp, logits, lengths, bool(merge_repeated), mask_index)
    else:
        beam_width = _positive(name, "beam_width", beam_width)
        top_paths = _positive(name, "top_paths", top_paths)
        decoded, scores = _beam_search(backend, logits, lengths, beam_width, top_paths, mask_index)
    return Tensor._wrap(decoded, backend), Tensor._wrap(scores, backend)
