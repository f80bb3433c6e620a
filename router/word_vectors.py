"""Static word vectors as extra signals of the effort classifier (pure: arrays in, arrays out).

Training (:mod:`router.train`, ``TrainConfig.word_vectors``) gives each text the weighted mean of its tokens'
vectors (smooth inverse frequency weights from the training data) as extra standardised columns; the
artifact stores the trained columns folded into a few numbers per word (:func:`fold_word_vectors`), which
:func:`router.features.text_features` sums at decision time, so no vector table is loaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from router.features import word_tokens

FloatArray = npt.NDArray[np.float64]


class WordVectorsError(ValueError):
    """A word-vector table is malformed."""


#: The ``a`` of the words' weights ``a / (a + p(w))`` in the mean word vector (smooth inverse frequency).
SIF_A = 1e-3


@dataclass(frozen=True, slots=True, eq=False)
class WordVectors:
    """Static word vectors (one row of ``vectors`` per word of ``words``) given to training as extra signals;
    ``source`` names where they came from (recorded in the artifact's metadata)."""

    words: tuple[str, ...]
    vectors: FloatArray
    source: str = ""
    #: word -> row, built once (rebuilding it per text cost 1.7 ms of the 1.8 ms a text's mean vector took:
    #: 14 s of CPU in every training run on the 8,460-prompt corpus)
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words) or not len(self.words):
            raise WordVectorsError("word vectors must be one non-empty row per word")
        if len(set(self.words)) != len(self.words):
            raise WordVectorsError("word vectors list a word twice")
        object.__setattr__(self, "index", {w: i for i, w in enumerate(self.words)})


def word_weights(table: WordVectors, texts: Sequence[str]) -> FloatArray:
    """Each table word's weight ``SIF_A / (SIF_A + p(w))``, ``p(w)`` its share of the table words' token
    occurrences in ``texts`` (a word not seen: weight 1)."""
    index = table.index
    counts = np.zeros(len(table.words))
    for text in texts:
        for tok in word_tokens(text):
            i = index.get(tok)
            if i is not None:
                counts[i] += 1.0
    total = counts.sum()
    freq = counts / total if total > 0 else counts
    weights: FloatArray = SIF_A / (SIF_A + freq)
    return weights


def mean_word_vector(table: WordVectors, weights: FloatArray, text: str) -> FloatArray:
    """The weighted mean of the vectors of a text's tokens (:func:`router.features.word_tokens`, every
    occurrence) that are in the table; zeros when none is."""
    index = table.index
    rows = np.array([index[t] for t in word_tokens(text) if t in index], dtype=np.int64)
    if not len(rows):
        return np.zeros(table.vectors.shape[1])
    w = weights[rows]
    out: FloatArray = w @ table.vectors[rows] / w.sum()
    return out


def fold_word_vectors(
    table: WordVectors, weights: FloatArray, coef: FloatArray, mean: FloatArray, scale: FloatArray
) -> tuple[list[list[float]], FloatArray]:
    """The trained word-vector columns folded into per-word numbers.

    ``coef`` (outputs x dims) are the weights of the standardised columns ``(v - mean) / scale``. Returns the
    artifact's columns (each word's weight, then weight x its vector's contribution to each output; 4
    significant digits) and the constant per output that the biases absorb (subtract it from them). Exact
    while no column is clipped at ``CLIP`` (in the training data of the shipped model: rare outliers)."""
    u = coef / scale  # outputs x dims
    proj = table.vectors @ u.T  # words x outputs
    shift: FloatArray = u @ mean
    columns = [_sig(weights), *(_sig(weights * proj[:, k]) for k in range(coef.shape[0]))]
    return columns, shift


def _sig(values: FloatArray, digits: int = 4) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values.tolist()]
