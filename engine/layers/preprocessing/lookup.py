"""StringLookup and IntegerLookup: tokens to vocabulary indices, on the host, as Keras 3.

The vocabulary is laid out as Keras lays it out. In ``output_mode="int"`` the
mask token (when there is one) is index 0, then come ``num_oov_indices``
out-of-vocabulary indices, then the tokens; in the other modes there is no
mask index (mask tokens in the input are dropped) and the OOV indices come
first. ``adapt`` orders the tokens by descending count, ties by descending
token (byte order for strings), keeps the first ``max_tokens`` minus the
special indices, and in ``"tf_idf"`` mode learns
``idf = log(1 + documents / (1 + documents holding the token))``, the OOV
indices taking the mean idf of the kept tokens. Unknown tokens with several
OOV indices go to bucket ``Fingerprint64(token) % num_oov_indices`` (strings;
integers: ``token % num_oov_indices``, or the hash with ``oov_method="farmhash"``).

Outputs: ``"int"`` gives int64 ids of the input's shape; ``"one_hot"`` encodes
each id (a last axis of size 1 is replaced); ``"multi_hot"``, ``"count"`` and
``"tf_idf"`` reduce the last axis (a 1-D input is one sample), to
``vocabulary_size()`` columns (``max_tokens`` with ``pad_to_max_tokens``), in
the layer's float dtype. The vocabulary (and idf weights) are in ``get_config``,
so a saved model keeps them (as JSON, never pickled).
"""

import collections
import math

import numpy

from ...tensor import Tensor
from ..base import register_layer
from .hashing import hash_bucket
from .host import HostLayer, check_choice, host_array, output_dtype_of, output_mode_of, string_array

#: the id of a mask token outside "int" mode: no column counts it
_DROPPED = -2


class IndexLookup(HostLayer):
    """The vocabulary table of StringLookup, IntegerLookup and TextVectorization."""

    #: a name for the tokens in error messages
    token_kind = "token"

    def __init__(
        self,
        max_tokens,
        num_oov_indices,
        mask_token,
        oov_token,
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        oov_method="floormod",
        salt=None,
        dtype=None,
        **kwargs,
    ):
        kwargs.pop("vocabulary_size", None)  # in Keras's configs; the vocabulary tells it
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        super().__init__(**kwargs)
        where = self._describe()
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 1):
            raise ValueError(
                f"{where}: if set, `max_tokens` must be greater than 1; got {max_tokens!r}."
            )
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(
                f"{where}: `pad_to_max_tokens=True` needs `max_tokens`; got max_tokens=None."
            )
        if not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(
                f"{where}: `num_oov_indices` must be an integer >= 0; got {num_oov_indices!r}."
            )
        self.output_mode = output_mode_of(output_mode, where)
        if invert and self.output_mode != "int":
            raise ValueError(
                f"{where}: `output_mode` must be 'int' when `invert` is true; got "
                f"output_mode={self.output_mode!r}."
            )
        if sparse:
            raise ValueError(
                f"{where}: sparse outputs are not supported (Keras has them only on TensorFlow)."
            )
        if idf_weights is not None and self.output_mode != "tf_idf":
            raise ValueError(
                f"{where}: `idf_weights` should only be set if `output_mode` is 'tf_idf'; got "
                f"output_mode={self.output_mode!r}."
            )
        if self.output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(
                f"{where}: with a `vocabulary` in output_mode='tf_idf', `idf_weights` must be "
                f"given too."
            )
        check_choice(oov_method, ("floormod", "farmhash"), "oov_method", where)
        if salt is not None:
            raise ValueError(f"{where}: `salt` (SipHash buckets) is not supported; leave it None.")
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = None if mask_token is None else self._token(mask_token)
        self.oov_token = None if oov_token is None else self._token(oov_token)
        self.invert = bool(invert)
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.dtype = self._output_dtype(dtype)
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._tokens: list = []
        self._index: dict = {}
        self._idf: numpy.ndarray | None = None
        self._vocabulary_known = False
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    def _output_dtype(self, dtype) -> str:
        return output_dtype_of(self.output_mode, dtype, self._describe())

    def _token(self, value):
        """One vocabulary entry as the table keys it (str, or int)."""
        raise NotImplementedError

    # -- the vocabulary ---------------------------------------------------

    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: mask and OOV indices included."""
        return self._token_start() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The token of each index (OOV indices show ``oov_token``; index 0 the mask)."""
        vocabulary = [self.oov_token] * self._token_start() + list(self._tokens)
        if self._oov_start():
            vocabulary[0] = self.mask_token
        return vocabulary if include_special_tokens else vocabulary[self._token_start() :]

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use ``vocabulary`` (a list or array, or a text file with one token a line), with
        its ``idf_weights`` in "tf_idf" mode, replacing any vocabulary the layer had."""
        where = self._describe()
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{where}: `idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(
                f"{where}: `idf_weights` should only be set if output_mode is 'tf_idf'; got "
                f"output_mode={self.output_mode!r}."
            )
        if isinstance(vocabulary, str):
            vocabulary = self._read_vocabulary_file(vocabulary)
        tokens = [self._token(item) for item in host_array(vocabulary).reshape(-1).tolist()]
        if not tokens:
            raise ValueError(f"{where}: cannot set an empty vocabulary.")
        token_start = self._token_start()
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        found_special = tokens[:token_start] == special
        given = len(tokens)
        if found_special:
            tokens = tokens[token_start:]
        repeated = [token for token, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(
                f"{where}: the vocabulary repeats {len(repeated)} term(s): {repeated[:10]}. "
                f"Give each term once."
            )
        for reserved, name in (
            (self.mask_token, "mask"),
            (self.oov_token if self.invert else None, "OOV"),
        ):
            if reserved is not None and reserved in tokens:
                raise ValueError(
                    f"{where}: the {name} token {reserved!r} is at index "
                    f"{tokens.index(reserved) + (token_start if found_special else 0)} of the "
                    f"vocabulary. A vocabulary need not hold the mask and OOV tokens; if it does, "
                    f"they must come first, in this order: {special}."
                )
        size = token_start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                f"{where}: the vocabulary has {size} entries (special tokens included), more "
                f"than max_tokens={self.max_tokens}."
            )
        idf = None
        if idf_weights is not None:
            idf = numpy.asarray(host_array(idf_weights), dtype="float64")
            if idf.ndim != 1 or len(idf) != given:
                raise ValueError(
                    f"{where}: `idf_weights` must be a 1-D array as long as the vocabulary "
                    f"({given}); got shape {idf.shape}."
                )
            if not found_special:  # the OOV indices take the mean idf
                idf = numpy.concatenate([numpy.full(token_start, idf.mean()), idf])
        self._install(tokens, idf)

    def _read_vocabulary_file(self, path: str) -> list:
        if self.output_mode == "tf_idf":
            raise ValueError(
                f"{self._describe()}: output_mode='tf_idf' cannot read its vocabulary from a "
                f"file; pass the tokens and their idf_weights."
            )
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return lines

    def _install(self, tokens: list, idf) -> None:
        """Make ``tokens`` the vocabulary; ``idf`` covers the special indices too."""
        self._tokens = list(tokens)
        start = self._token_start()
        self._index = {token: start + i for i, token in enumerate(self._tokens)}
        self._vocabulary_known = True
        if idf is not None:
            if self.pad_to_max_tokens:
                idf = numpy.concatenate([idf, numpy.zeros(self.max_tokens - len(idf))])
            self._idf = idf.astype(self.dtype)

    # -- adapt --------------------------------------------------------------

    def adapt(self, data, steps=None) -> None:
        """Learn the vocabulary (and idf weights) from a list or array of tokens, an
        ``engine.data.Dataset`` of them or any iterable of batches (at most ``steps``)."""
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' after setting a static vocabulary via the "
                f"`vocabulary` argument."
            )
        counts: collections.Counter = collections.Counter()
        document_counts: collections.Counter = collections.Counter()
        documents = 0
        for rows in self._adapt_documents(data, steps):
            for row in rows:
                counts.update(row)
                if self.output_mode == "tf_idf":
                    document_counts.update(set(row))
                documents += 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        if not counts:
            return  # as Keras: nothing seen, the vocabulary stays as it was
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens:
            ranked = ranked[: self.max_tokens - self._token_start()]
        tokens = [token for token, _ in ranked]
        idf = None
        if self.output_mode == "tf_idf":
            kept = numpy.array(
                [math.log(1 + documents / (1 + document_counts[t])) for t in tokens]
            ).astype(self.dtype)
            idf = numpy.concatenate([numpy.full(self._token_start(), kept.mean()), kept])
        self._install(tokens, idf)

    def _adapt_documents(self, data, steps):
        """Lists of token rows (each row one document), batch by batch."""
        from ...data import Dataset

        if isinstance(data, (list, tuple, numpy.ndarray, Tensor, str)) or hasattr(
            data, "__cuda_array_interface__"
        ):
            yield self._document_rows(self._adapt_inputs(data), whole_array=True)
            return
        if not (isinstance(data, Dataset) or hasattr(data, "__iter__")):
            raise TypeError(
                f"{self._describe()}.adapt: expected a list or array of "
                f"{self.token_kind}s, a Dataset or an iterable of batches; got "
                f"{type(data).__name__}."
            )
        for step, batch in enumerate(data):
            if steps is not None and step >= steps:
                break
            if isinstance(batch, (tuple, dict)):
                raise TypeError(
                    f"{self._describe()}.adapt: the dataset yields {type(batch).__name__}s; "
                    f"it must yield batches of {self.token_kind}s alone, e.g. "
                    f"dataset.map(lambda x, y: x)."
                )
            yield self._document_rows(self._adapt_inputs(batch), whole_array=False)

    def _adapt_inputs(self, data) -> numpy.ndarray:
        return self._host_inputs(data)

    def _document_rows(self, array: numpy.ndarray, whole_array: bool) -> list[list]:
        """Keras's documents: each element of a 1-D array given to ``adapt``, each row of
        a 2-D one; a 1-D batch of a dataset is one document."""
        if array.ndim == 0:
            return [[array.item()]]
        if array.ndim == 1:
            flat = array.tolist()
            return [[token] for token in flat] if whole_array else [flat]
        return array.reshape(len(array), -1).tolist()

    # -- calling --------------------------------------------------------------

    def call(self, inputs):
        if self.invert:
            return self._invert(inputs)
        ids = self.lookup(inputs)
        if self.output_mode == "int":
            return self._tensor(ids.astype(self.dtype))
        return self._tensor(self.encode(ids))

    def lookup(self, tokens: numpy.ndarray) -> numpy.ndarray:
        """The int64 id of each token (any shape); mask tokens outside "int" mode get an id
        that ``encode`` drops."""
        flat = tokens.reshape(-1).tolist()
        index = self._index
        ids = numpy.fromiter((index.get(t, -1) for t in flat), dtype="int64", count=len(flat))
        if self.mask_token is not None:
            is_mask = numpy.fromiter((t == self.mask_token for t in flat), bool, len(flat))
            ids[is_mask] = 0 if self.output_mode == "int" else _DROPPED
        missing = numpy.flatnonzero(ids == -1)
        if missing.size:
            if self.num_oov_indices == 0:
                unknown = list(dict.fromkeys(flat[i] for i in missing))
                raise ValueError(
                    f"{self._describe()}: with num_oov_indices=0 every input must be in the "
                    f"vocabulary; found out-of-vocabulary values {unknown[:10]}. Consider "
                    f"setting num_oov_indices=1."
                )
            if self.num_oov_indices == 1:
                ids[missing] = self._oov_start()
            else:
                ids[missing] = [self._oov_bucket(flat[i]) + self._oov_start() for i in missing]
        return ids.reshape(tokens.shape)

    def _oov_bucket(self, token) -> int:
        return hash_bucket(token, self.num_oov_indices)

    def _depth(self) -> int:
        if self.pad_to_max_tokens:
            return self.max_tokens
        if not self._vocabulary_known:
            raise RuntimeError(
                f"{self._describe()}: when using output_mode={self.output_mode!r} and "
                f"pad_to_max_tokens=False, you must set the layer's vocabulary before calling "
                f"it. Either pass a `vocabulary` argument to the layer, or call `adapt` with "
                f"some sample data."
            )
        return self.vocabulary_size()

    def encode(self, ids: numpy.ndarray) -> numpy.ndarray:
        """``ids`` in the layer's output mode (not "int"), as a host float array."""
        depth = self._depth()
        if ids.ndim == 0:
            ids = ids.reshape(1)
        if self.output_mode == "one_hot":
            if ids.ndim > 1 and ids.shape[-1] == 1:
                ids = ids.reshape(ids.shape[:-1])
            valid = (ids >= 0) & (ids < depth)
            return (numpy.arange(depth) == numpy.where(valid, ids, -1)[..., None]).astype(
                self.dtype
            )
        if ids.ndim > 2:
            raise ValueError(
                f"{self._describe()}: in output_mode={self.output_mode!r} the input may have "
                f"rank 2 at most (samples of tokens); got shape {ids.shape}."
            )
        rows = ids.reshape(1, -1) if ids.ndim == 1 else ids
        counts = numpy.zeros((len(rows), depth), dtype=self.dtype)
        row_of = numpy.repeat(numpy.arange(len(rows)), rows.shape[1])
        flat = rows.reshape(-1)
        keep = (flat >= 0) & (flat < depth)
        numpy.add.at(counts, (row_of[keep], flat[keep]), 1)
        if self.output_mode == "multi_hot":
            numpy.minimum(counts, 1, out=counts)
        elif self.output_mode == "tf_idf":
            if self._idf is None:
                raise ValueError(
                    f"{self._describe()}: output_mode='tf_idf' needs idf weights: call `adapt`, "
                    f"or give `vocabulary` and `idf_weights`."
                )
            counts *= self._idf[:depth]
        return counts[0] if ids.ndim == 1 else counts

    def _invert(self, ids: numpy.ndarray):
        vocabulary = numpy.array(self.get_vocabulary(), dtype=object)
        valid = (ids >= 0) & (ids < len(vocabulary))
        tokens = numpy.where(valid, vocabulary[numpy.where(valid, ids, 0)], self.oov_token)
        if self.mask_token is not None:
            tokens = numpy.where(ids == 0, self.mask_token, tokens)
        return tokens

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else None
        if depth is None and self._vocabulary_known:
            depth = self.vocabulary_size()
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return (*input_shape[:-1], depth)
            return (*input_shape, depth)
        return (*input_shape[:-1], depth)

    # -- configuration ------------------------------------------------------

    def get_config(self) -> dict:
        """Keras's keys; ``vocabulary`` (and ``idf_weights``) hold the current ones, so that
        a saved model keeps what ``adapt`` learned."""
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": False,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            **self._vocabulary_config(),
            "oov_method": self.oov_method,
            "salt": None,
        }

    def _vocabulary_config(self) -> dict:
        """The vocabulary with its special tokens, and the idf weights of its indices:
        what ``set_vocabulary`` takes back unchanged."""
        idf = None
        if self._idf is not None:
            idf = [float(w) for w in self._idf[: self.vocabulary_size()]]
        vocabulary = self.get_vocabulary() if self._vocabulary_known else None
        return {"vocabulary": vocabulary, "idf_weights": idf}


@register_layer
class StringLookup(IndexLookup):
    """Maps strings to indices of a vocabulary (Keras 3's ``layers.StringLookup``).

    ``invert=True`` maps indices back to strings (a host NumPy array: strings
    never become tensors).
    """

    token_kind = "string"

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token="[UNK]",
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        encoding="utf-8",
        name=None,
        salt=None,
        **kwargs,
    ):
        self.encoding = encoding
        super().__init__(
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            invert=invert,
            output_mode=output_mode,
            pad_to_max_tokens=pad_to_max_tokens,
            sparse=sparse,
            salt=salt,
            name=name,
            **kwargs,
        )
        self.accepts_strings = not self.invert

    def _output_dtype(self, dtype) -> str:
        return "string" if self.invert else super()._output_dtype(dtype)

    def _token(self, value):
        return string_token(value, self.encoding, self._describe())

    def _host_inputs(self, inputs) -> numpy.ndarray:
        if self.invert:
            return _integer_array(inputs, self._describe())
        return string_array(inputs, self._describe(), self.encoding)

    def _invert(self, ids):
        return super()._invert(ids).astype(str)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("oov_method")
        return {**config, "encoding": self.encoding}


@register_layer
class IntegerLookup(IndexLookup):
    """Maps integers to indices of a vocabulary (Keras 3's ``layers.IntegerLookup``)."""

    token_kind = "integer"
    accepts_strings = False

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token=-1,
        vocabulary=None,
        vocabulary_dtype="int64",
        idf_weights=None,
        invert=False,
        output_mode="int",
        sparse=False,
        pad_to_max_tokens=False,
        oov_method="floormod",
        salt=None,
        name=None,
        **kwargs,
    ):
        if vocabulary_dtype != "int64":
            raise ValueError(
                f"IntegerLookup: only vocabulary_dtype='int64' is supported (as in Keras); got "
                f"{vocabulary_dtype!r}."
            )
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            invert=invert,
            output_mode=output_mode,
            pad_to_max_tokens=pad_to_max_tokens,
            sparse=sparse,
            oov_method=oov_method,
            salt=salt,
            name=name,
            **kwargs,
        )

    def _token(self, value):
        if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, (int, numpy.integer)):
            if not (isinstance(value, (float, numpy.floating)) and float(value).is_integer()):
                raise TypeError(
                    f"{self._describe()}: vocabulary entries and special tokens must be "
                    f"integers; got {type(value).__name__} {value!r}."
                )
        return int(value)

    def _host_inputs(self, inputs) -> numpy.ndarray:
        return _integer_array(inputs, self._describe())

    def _oov_bucket(self, token) -> int:
        if self.oov_method == "floormod":
            return token % self.num_oov_indices
        return hash_bucket(token, self.num_oov_indices)

    def _invert(self, ids):
        return self._tensor(super()._invert(ids).astype("int64"))

    def get_config(self) -> dict:
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype}


def string_token(value, encoding: str, where: str) -> str:
    """A vocabulary entry or special token of a string vocabulary (bytes decoded)."""
    if isinstance(value, bytes):
        return value.decode(encoding)
    if not isinstance(value, str):
        raise TypeError(
            f"{where}: vocabulary entries and special tokens must be strings; got "
            f"{type(value).__name__} {value!r}."
        )
    return value


def _integer_array(data, where: str) -> numpy.ndarray:
    """``data`` as a host int64 array (floats holding whole numbers are accepted)."""
    array = host_array(data)
    if array.dtype.kind in "iu":
        return array.astype("int64", copy=False)
    if array.dtype.kind == "f" and numpy.all(numpy.isfinite(array)) and numpy.all(array % 1 == 0):
        return array.astype("int64")
    raise TypeError(
        f"{where} expects integers; got an array of dtype {array.dtype} (first element "
        f"{array.reshape(-1)[:1].tolist()})."
    )
