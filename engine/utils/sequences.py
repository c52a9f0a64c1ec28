"""``pad_sequences`` and ``to_categorical``, as ``keras.utils`` has them (NumPy in, NumPy out)."""

import numpy

from .. import config
from ..tensor import Tensor


def pad_sequences(
    sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0
) -> numpy.ndarray:
    """A ``(len(sequences), maxlen, ...)`` array of the sequences, cut and padded to ``maxlen``
    (the longest one's length by default), at the start ("pre") or the end ("post")."""
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            f"pad_sequences: `sequences` must be a list of sequences; got "
            f"{type(sequences).__name__}."
        )
    lengths = []
    sample_shape = ()
    for sequence in sequences:
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(
                f"pad_sequences: `sequences` must be a list of iterables; found a "
                f"{type(sequence).__name__} ({sequence!r})."
            ) from None
        if not sample_shape and len(sequence):  # from the first non-empty sequence
            sample_shape = numpy.asarray(sequence).shape[1:]
    if maxlen is None:
        if not lengths:
            raise ValueError(
                "pad_sequences: `sequences` is empty, so its longest length is undefined; "
                "give `maxlen`."
            )
        maxlen = max(lengths)
    is_text = numpy.issubdtype(dtype, numpy.str_) or numpy.issubdtype(dtype, numpy.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ValueError(
            f"pad_sequences: `dtype` {dtype} cannot hold the padding `value` {value!r} (a "
            f"str); use dtype=object for strings of any length."
        )
    padded = numpy.full((len(lengths), maxlen, *sample_shape), value, dtype=dtype)
    for index, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        if truncating == "pre":
            kept = sequence[-maxlen:]
        elif truncating == "post":
            kept = sequence[:maxlen]
        else:
            raise ValueError(
                f"pad_sequences: `truncating` must be 'pre' or 'post'; got {truncating!r}."
            )
        kept = numpy.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences: the steps of sequence {index} have shape {kept.shape[1:]}, "
                f"but those of the first non-empty sequence have shape {sample_shape}."
            )
        if padding == "post":
            padded[index, : len(kept)] = kept
        elif padding == "pre":
            padded[index, -len(kept) :] = kept
        else:
            raise ValueError(f"pad_sequences: `padding` must be 'pre' or 'post'; got {padding!r}.")
    return padded


def to_categorical(x, num_classes=None):
    """One-hot rows of the class indices ``x`` (a last axis of size 1 is replaced).

    A NumPy array or list gives float64 NumPy rows, as Keras; a Tensor gives a
    Tensor of the float dtype on its backend (indices outside the classes: zero rows).
    """
    if isinstance(x, Tensor):
        labels = x.numpy()
        if labels.ndim > 1 and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])
        labels = labels.astype("int64")
        if num_classes is None:
            num_classes = int(labels.max()) + 1 if labels.size else 0
        rows = (labels[..., None] == numpy.arange(num_classes)).astype(config.floatx())
        return Tensor(rows, backend=x.backend)
    labels = numpy.array(x, dtype="int64")
    shape = labels.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if not num_classes:
        if not labels.size:
            raise ValueError("to_categorical: `x` is empty; give `num_classes`.")
        num_classes = int(labels.max()) + 1
    if labels.size and labels.max() >= num_classes:
        raise IndexError(
            f"to_categorical: class index {int(labels.max())} is out of range for "
            f"num_classes={num_classes}."
        )
    categorical = numpy.zeros((len(labels), num_classes))
    categorical[numpy.arange(len(labels)), labels] = 1
    return categorical.reshape((*shape, num_classes))
