"""TextVectorization: strings to token ids or token counts, on the host, as Keras 3.

Each sample goes through Keras's steps: standardize, split, n-grams, look up.

- ``standardize``: ``"lower_and_strip_punctuation"`` (the default), ``"lower"``,
  ``"strip_punctuation"``, None, or a callable taking and returning a NumPy
  array of str. As TensorFlow does it for Keras, lowering changes ASCII letters
  only, and the punctuation stripped is ASCII's (``string.punctuation``).
- ``split``: ``"whitespace"`` (runs of ASCII whitespace), ``"character"`` (each
  code point), None (each string is one token; a 2-D input gives one token per
  column), or a callable taking a 1-D array of str and returning one sequence of
  tokens per string.
- ``ngrams``: n, or a tuple of widths: the tokens joined by a space, all
  n-grams of the first width, then of the next.
- lookup: a vocabulary as ``StringLookup(mask_token="")`` keeps it. In "int"
  mode index 0 is padding (the empty token) and ``[UNK]`` is 1; in the other
  modes ``[UNK]`` is 0 and there is no padding index.

"int" gives int64 ids, padded with 0 after the tokens to the longest sample of
the batch, or padded and truncated to ``output_sequence_length``.
"multi_hot", "count" and "tf_idf" give ``(batch, vocabulary_size())`` floats
(``max_tokens`` columns with ``pad_to_max_tokens``); "one_hot" needs samples of
equal length (``split=None``). Ragged and sparse outputs are TensorFlow's and
are not offered.
"""

import re
import string

import numpy

from ..base import register_layer
from .host import check_choice, output_mode_of, string_array
from .lookup import _DROPPED, IndexLookup, string_token

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STRIP = str.maketrans("", "", string.punctuation)
_LOWER_AND_STRIP = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, string.punctuation)
_TABLES = {
    "lower": _LOWER,
    "strip_punctuation": _STRIP,
    "lower_and_strip_punctuation": _LOWER_AND_STRIP,
}
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")


@register_layer
class TextVectorization(IndexLookup):
    """Turns a batch of strings into token ids or token counts (Keras 3's layer)."""

    token_kind = "string"

    def __init__(
        self,
        max_tokens=None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        ngrams=None,
        output_mode="int",
        output_sequence_length=None,
        pad_to_max_tokens=False,
        vocabulary=None,
        idf_weights=None,
        sparse=False,
        ragged=False,
        encoding="utf-8",
        name=None,
        **kwargs,
    ):
        self.encoding = encoding
        where = f"TextVectorization '{name}'" if name else "TextVectorization"
        if not (standardize is None or callable(standardize)):
            check_choice(standardize, STANDARDIZE, "standardize", where)
        if not (split is None or callable(split)):
            check_choice(split, SPLIT, "split", where)
        if isinstance(ngrams, list):  # a tuple, back from a JSON config
            ngrams = tuple(ngrams)
        if not (
            ngrams is None
            or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 1)
            or (
                isinstance(ngrams, tuple)
                and ngrams
                and all(isinstance(n, int) and n >= 1 for n in ngrams)
            )
        ):
            raise ValueError(
                f"{where}: `ngrams` must be None, a positive integer or a tuple of positive "
                f"integers; got {ngrams!r}."
            )
        mode = output_mode_of(output_mode, where)
        if mode == "int" and not (
            output_sequence_length is None
            or (isinstance(output_sequence_length, int) and output_sequence_length >= 0)
        ):
            raise ValueError(
                f"{where}: `output_sequence_length` must be None or an integer >= 0 when "
                f"`output_mode` is 'int'; got {output_sequence_length!r}."
            )
        if mode != "int" and output_sequence_length is not None:
            raise ValueError(
                f"{where}: `output_sequence_length` must not be set if `output_mode` is not "
                f"'int'; got output_sequence_length={output_sequence_length!r}."
            )
        if ragged:
            raise ValueError(
                f"{where}: ragged outputs are not supported (Keras has them only on TensorFlow)."
            )
        self.standardize = standardize
        self.split = split
        self.ngrams = ngrams
        self._widths = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self.output_sequence_length = output_sequence_length
        super().__init__(
            max_tokens=max_tokens,
            num_oov_indices=1,
            mask_token="",
            oov_token="[UNK]",
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            output_mode=mode,
            pad_to_max_tokens=pad_to_max_tokens,
            sparse=sparse,
            name=name,
            **kwargs,
        )

    def _token(self, value):
        return string_token(value, self.encoding, self._describe())

    def _host_inputs(self, inputs) -> numpy.ndarray:
        return string_array(inputs, self._describe(), self.encoding)

    # -- text to tokens -----------------------------------------------------

    def token_rows(self, texts: numpy.ndarray) -> list[list[str]]:
        """The tokens of each sample: standardized, split and made into n-grams."""
        if texts.ndim == 0:
            texts = texts.reshape(1)
        texts = self._standardized(texts)
        if self.split is None:
            rows = texts.reshape(len(texts), -1).tolist()
        else:
            if texts.ndim > 2 or (texts.ndim == 2 and texts.shape[-1] != 1):
                raise ValueError(
                    f"{self._describe()}: to split strings the input must hold one string per "
                    f"sample, of shape (batch,) or (batch, 1); got shape {texts.shape}."
                )
            rows = self._split(texts.reshape(-1))
        if self._widths is not None:
            rows = [_ngrams(row, self._widths) for row in rows]
        return rows

    def _standardized(self, texts: numpy.ndarray) -> numpy.ndarray:
        if self.standardize is None:
            return texts
        if callable(self.standardize):
            result = numpy.asarray(self.standardize(texts.astype(str)))
            if result.shape != texts.shape:
                raise ValueError(
                    f"{self._describe()}: the `standardize` callable must return an array of "
                    f"the shape it was given, {texts.shape}; it returned shape {result.shape}."
                )
            return string_array(result, f"{self._describe()} (standardize's result)")
        table = _TABLES[self.standardize]
        flat = [text.translate(table) for text in texts.reshape(-1).tolist()]
        return numpy.array(flat, dtype=object).reshape(texts.shape)

    def _split(self, texts: numpy.ndarray) -> list[list[str]]:
        flat = texts.tolist()
        if self.split == "whitespace":
            return [[token for token in _WHITESPACE.split(text) if token] for text in flat]
        if self.split == "character":
            return [list(text) for text in flat]
        rows = self.split(texts.astype(str))
        if len(rows) != len(flat):
            raise ValueError(
                f"{self._describe()}: the `split` callable must return one sequence of tokens "
                f"per string ({len(flat)}); it returned {len(rows)}."
            )
        return [[string_token(t, self.encoding, self._describe()) for t in row] for row in rows]

    # -- adapt and call -------------------------------------------------------

    def _document_rows(self, array: numpy.ndarray, whole_array: bool) -> list[list]:
        return self.token_rows(array)  # each sample is one document

    def call(self, inputs):
        rows = self.token_rows(inputs)
        lengths = [len(row) for row in rows]
        flat = numpy.array([token for row in rows for token in row], dtype=object)
        ids = self.lookup(flat)
        if self.output_mode == "int":
            width = self.output_sequence_length
            if width is None:
                width = max(lengths, default=0)
            return self._tensor(_pad_rows(ids, lengths, width, 0).astype(self.dtype))
        if self.output_mode == "one_hot" and len(set(lengths)) > 1:
            raise ValueError(
                f"{self._describe()}: output_mode='one_hot' needs the same number of tokens in "
                f"every sample; got {min(lengths)} to {max(lengths)}. Use 'multi_hot' or "
                f"'count', or split=None."
            )
        return self._tensor(self.encode(_pad_rows(ids, lengths, max(lengths, default=0), _DROPPED)))

    def compute_output_shape(self, input_shape):
        batch = input_shape[0] if len(input_shape) else None
        if self.output_mode == "int":
            return (batch, self.output_sequence_length)
        depth = super().compute_output_shape((batch, None))[-1]
        if self.output_mode != "one_hot":
            return (batch, depth)
        if self.split is None and (len(input_shape) == 1 or input_shape[-1] == 1):
            return (batch, depth)  # one token a sample
        tokens = input_shape[1] if self.split is None else None
        return (batch, tokens, depth)

    def get_config(self) -> dict:
        for argument in ("standardize", "split"):
            if callable(getattr(self, argument)):
                raise ValueError(
                    f"{self._describe()}: its `{argument}` is a Python function, which a config "
                    f"cannot hold (it would need pickling). Save the weights alone with "
                    f"save_weights(), or use one of the built-in options."
                )
        return {
            **super(IndexLookup, self).get_config(),
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "ngrams": self.ngrams,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "sparse": False,
            "ragged": False,
            **self._vocabulary_config(),
            "encoding": self.encoding,
        }


def _ngrams(tokens: list[str], widths: tuple) -> list[str]:
    """All n-grams of each width in turn, as ``tf.strings.ngrams`` with separator " "."""
    return [
        " ".join(tokens[start : start + width])
        for width in widths
        for start in range(len(tokens) - width + 1)
    ]


def _pad_rows(ids: numpy.ndarray, lengths: list[int], width: int, value: int) -> numpy.ndarray:
    """The ragged rows of ``ids`` (consecutive, of ``lengths``) in a ``(rows, width)`` array,
    cut or padded at the end with ``value``."""
    out = numpy.full((len(lengths), width), value, dtype="int64")
    start = 0
    for row, length in enumerate(lengths):
        kept = min(length, width)
        out[row, :kept] = ids[start : start + kept]
        start += length
    return out
