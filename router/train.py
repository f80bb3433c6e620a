"""Training of the effort classifier (pure: data in, artifact mapping out); its evaluation and
cross-validation are :mod:`router.evaluation`.

The gateway reads the JSONL file and passes the parsed records in; nothing here touches disk. scikit-learn
(optional extra ``train``) is imported lazily inside the fitting functions, so importing this module and
using :func:`example_from_record` needs only the runtime dependencies.

Recipe (see docs/classifier.md):

* features of the latest user turn (:func:`router.features.text_features`): standardised hand-built signals
  plus unigrams/bigrams from a vocabulary that keeps only n-grams seen in at least ``min_sources`` sources
  (so one source's template words cannot dominate), each sample's n-grams scaled to unit norm;
* a logistic regression for think/no-think, sample-weighted so every source counts equally
  (``1/n_source ** source_power``, power 1) and thinking prompts count ``think_weight`` times (recall first);
* a level head for low/medium/high on the thinking prompts (:mod:`router.levels`: multinomial by default,
  or ordinal);
* calibration on out-of-fold logits from folds grouped by format family: Platt scaling of the think logit
  a temperature for the level logits, and (``fit_level_cuts``, on by default) the level cut points
  ``(medium, high)`` of :func:`router.classifier.choose_effort` that minimise the mean absolute level error
  of out-of-fold level distributions on the thinking prompts (:func:`router.levels.fit_level_cuts`; by
  default on folds grouped by source, ``level_cut_group="family"``: the calibration folds); off, the
  artifact stores the median cuts (0.5, 0.5).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from router.classifier import (
    ARTIFACT_FORMAT,
    ARTIFACT_VERSION,
    ARTIFACT_VERSION_WORDS,
    CLIP,
    MEDIAN_CUTS,
)
from router.conversation import ChatView, view_from_messages
from router.effort import CLASSIFIER_LEVELS, Effort
from router.features import DENSE_NAMES, TextFeatures, text_features
from router.levels import (
    BoolArray,
    IntArray,
    fit_level_cuts,
    fit_multinomial,
    fit_ordinal,
    fit_temperature,
    softmax_t,
)
from router.word_vectors import SIF_A, WordVectors, fold_word_vectors, mean_word_vector, word_weights

FloatArray = npt.NDArray[np.float64]
_LEVEL_INDEX = {e: i for i, e in enumerate(CLASSIFIER_LEVELS)}
#: The signals that measure a text's length, the first six of ``DENSE_NAMES`` (``TrainConfig.level_without``:
#: what the shipped level head is fitted without since the thirteenth session, so that it judges what is asked
#: rather than how long the text is).
LENGTH_SIGNALS: tuple[str, ...] = (
    "len_chars",
    "len_first_par",
    "len_last_par",
    "doc_chars",
    "paragraphs",
    "lines",
)
#: In ``TrainConfig.level_without``: every n-gram column (the level head then sees the hand-built signals and,
#: with ``word_vectors_levels``, the word vectors only).
NGRAMS = "ngrams"
#: The level heads by ``TrainConfig.level_model``.
_LEVEL_MODELS: dict[str, Callable[[Any, IntArray, BoolArray, FloatArray, float], FloatArray]] = {
    "multinomial": fit_multinomial,
    "ordinal": fit_ordinal,
}


class DataError(ValueError):
    """A training record is malformed."""


def signal_list(text: str) -> tuple[str, ...]:
    """``TrainConfig.level_without`` from a command line: signal names separated by commas, ``length`` for
    :data:`LENGTH_SIGNALS`, :data:`NGRAMS` for the n-grams. Raises :class:`DataError` on an unknown name."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        for name in LENGTH_SIGNALS if part == "length" else (part,) if part else ():
            if name not in DENSE_NAMES and name != NGRAMS:
                raise DataError(
                    f"unknown signal {name!r} (one of {', '.join(DENSE_NAMES)}, or length, or {NGRAMS})"
                )
            if name not in names:
                names.append(name)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled conversation."""

    view: ChatView
    think: bool
    effort: Effort
    source: str = "unknown"
    #: The format family (what the prompt looks like); cross-validation can leave out a whole family.
    family: str = ""

    def group(self, key: str) -> str:
        """The example's ``source`` or ``family`` (the source when no family is given)."""
        return (self.family or self.source) if key == "family" else self.source


def example_from_record(record: Mapping[str, Any]) -> Example:
    """Parse one JSONL record: ``prompt`` (string) or ``messages`` (chat list), ``effort`` (none/low/
    medium/high), optional ``think`` (bool; default ``effort != none``), ``source`` and ``family``. Raises
    :class:`DataError`.
    """
    if not isinstance(record, Mapping):
        raise DataError("record must be a JSON object")
    if isinstance(record.get("messages"), list):
        view = view_from_messages(record["messages"], tools=bool(record.get("tools")))
    elif isinstance(record.get("prompt"), str):
        view = ChatView(turns=(("user", record["prompt"]),))
    else:
        raise DataError("record needs 'prompt' (string) or 'messages' (list)")
    raw_effort = record.get("effort")
    if not isinstance(raw_effort, str):
        raise DataError("record needs 'effort' (one of none, low, medium, high)")
    try:
        effort = Effort(raw_effort.strip().lower())
    except ValueError:
        raise DataError(f"unknown effort {raw_effort!r}; expected none, low, medium or high") from None
    if effort not in CLASSIFIER_LEVELS:
        raise DataError(f"effort {raw_effort!r} is not a classifier level (none, low, medium, high)")
    think = record.get("think", effort is not Effort.NONE)
    if not isinstance(think, bool):
        raise DataError("'think' must be true or false")
    source = record.get("source", "unknown")
    family = record.get("family") or ""
    return Example(view=view, think=think, effort=effort, source=str(source), family=str(family))


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Training hyper-parameters. The defaults are the fourth round's recipe; the shipped artifact (the eighth
    round's candidate 2) sets ``calibration_folds=5``, ``fold_split="hash"``, ``think_weight_share=0.7367``,
    ``calibration_think_share=0.5027`` and ``weight_group="family"`` (``thinkgate train`` flags; see
    docs/classifier.md, "Commands")."""

    c: float = 0.25
    levels_c: float = 0.5
    min_sources: int = 3
    min_count: int = 3
    max_vocab: int = 20000
    think_weight: float = 1.5
    source_power: float = 1.0
    #: The think class's share of the total training weight, or ``None``: whatever the per-source weights and
    #: ``think_weight`` give (0.7367 on the shipped fourth round's corpus, 0.7413 on the sixth round's).
    #: Set, the think examples' weights are scaled so their total is this share in every fit (the final
    #: model, calibration and level-cut folds, every model of a cross-validation), whichever groups exist.
    think_weight_share: float | None = None
    #: The think class's share of the weight in the Platt fit of the think logit, or ``None``: every example
    #: counts once (the class mix of the training data: 0.5027 think on the shipped corpus, 0.5382 on the
    #: sixth round's). Set, ``p_think`` is calibrated to that class mix whatever the data's.
    calibration_think_share: float | None = None
    dense_gain: float = 0.5
    #: How many folds the calibration (Platt scaling, level temperature, family-fitted cut points) uses.
    calibration_folds: int = 3
    #: How the groups are dealt into the calibration folds: ``greedy`` (largest group into the currently
    #: smallest fold: balanced, but adding or removing one group can reshuffle every fold) or ``hash`` (a
    #: group's fold is the SHA-256 of its name modulo ``calibration_folds``: adding or removing a group leaves
    #: every other group in its fold; empty folds are dropped).
    fold_split: str = "greedy"
    #: How many source-grouped folds (greedy split) the level cut points are fitted on (``level_cut_group``
    #: ``source``).
    level_cut_folds: int = 3
    follow_gain: float = 0.8
    tools_logit: float = 0.4
    #: Hand-set logit shifts for binary signals (general domain knowledge, not fitted): the think logit of a
    #: text with the signal on moves by this much relative to the same text with it off.
    priors: tuple[tuple[str, float], ...] = ()
    #: What makes every group count equally in the sample weights (``source`` or ``family``).
    weight_group: str = "source"
    #: What the calibration folds are grouped by (``family``: calibrated for formats not seen in training).
    fold_group: str = "family"
    #: Fit the level cut points on the out-of-fold level distributions (:func:`fit_level_cuts`); off: store
    #: the median (0.5, 0.5).
    fit_level_cuts: bool = True
    #: What the folds the cut points are fitted on are grouped by: ``family`` (the calibration folds' own
    #: out-of-fold levels) or ``source`` (three more level-head fits on folds grouped by source, scored with
    #: the calibrated temperature). ``source`` since the fourth round of 2026-12-07: on the family CV of the
    #: 6,915-prompt corpus its held-out effort error was 0.583, the median's 0.604, family folds' 0.627
    #: (docs/classifier.md).
    level_cut_group: str = "source"
    #: Fit the cut points both ways and keep every candidate (median, family, source) in the artifact's
    #: ``metadata.level_cut_candidates`` (cross-validation scores the three rules on the same predictions).
    all_level_cuts: bool = False
    seed: int = 0
    #: Static word vectors as extra signals (``None``: none). Each text gets the weighted mean of its tokens'
    #: vectors (weight ``SIF_A / (SIF_A + p(w))``, ``p(w)`` the word's token frequency in the training data),
    #: standardised like the hand-built signals, in both models (or the think model only:
    #: ``word_vectors_levels``); the artifact stores them folded into a few numbers per word
    #: (:func:`router.word_vectors.fold_word_vectors`).
    word_vectors: WordVectors | None = field(default=None, repr=False, compare=False)
    #: With ``word_vectors``: whether the level head gets their columns too (``True``) or only the think model
    #: does (``False``: the level head is fitted on the other columns exactly as without vectors, and the
    #: artifact's folded level contributions are zero).
    word_vectors_levels: bool = True
    #: The level head: ``multinomial`` (three free rows of weights, the recipe until the twelfth session) or
    #: ``ordinal`` (one difficulty score ``s`` shared by the levels, :func:`router.levels.fit_ordinal`: the
    #: logits are ``0``, ``a·s + b1`` and ``2a·s + b2``, an adjacent-category ordinal model, so the level
    #: distribution moves along one axis and the artifact's three level rows are ``0``, ``a·w`` and ``2a·w``).
    level_model: str = "multinomial"
    #: What the folds the level temperature is fitted on are grouped by: ``family`` (the calibration folds'
    #: out-of-fold levels, the recipe) or ``source`` (the level head's out-of-fold levels on the 3 folds of
    #: whole sources the source cut points use). Measured in the twelfth session with the ordinal head: the
    #: source-fold temperature came out flatter (8.30 against 6.29), held-out effort error 0.591 -> 0.587,
    #: not shipped (docs/classifier.md).
    level_temperature_group: str = "family"
    #: Hand-built signals (:data:`router.features.DENSE_NAMES`) the level head is fitted without (their level
    #: weights are zero), and :data:`NGRAMS` for every n-gram column; the think model still sees every
    #: column, so its weights, its calibration and every binary decision are those of the same recipe without
    #: this setting. ``LENGTH_SIGNALS`` is the shipped artifact's (the thirteenth session's first candidate,
    #: passed by flag); ``LENGTH_SIGNALS`` plus ``NGRAMS`` its second candidate, not shipped
    #: (docs/classifier.md).
    level_without: tuple[str, ...] = ()


# --- model fitting ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Raw:
    vocab: list[str]
    mean: FloatArray
    scale: FloatArray
    think_coef: FloatArray  # dense + vocab, then bias
    level_coef: FloatArray  # 3 x (dense + vocab + bias)


def _vocabulary(feats: Sequence[TextFeatures], sources: Sequence[str], cfg: TrainConfig) -> list[str]:
    seen_in: dict[str, set[str]] = defaultdict(set)
    count: Counter[str] = Counter()
    for tf, src in zip(feats, sources, strict=True):
        count.update(tf.grams)
        for g in tf.grams:
            seen_in[g].add(src)
    need_sources = min(cfg.min_sources, len(set(sources)))
    kept = [g for g, n in count.items() if n >= cfg.min_count and len(seen_in[g]) >= need_sources]
    kept.sort(key=lambda g: (-count[g], g))
    return sorted(kept[: cfg.max_vocab])


def _matrix(feats: Sequence[TextFeatures], vocab: Sequence[str], mean: FloatArray, scale: FloatArray) -> Any:
    """Rows = samples; columns = standardised dense signals, then vocabulary n-grams (unit norm per row)."""
    from scipy import sparse

    index = {g: i for i, g in enumerate(vocab)}
    dense = np.clip((np.array([tf.dense for tf in feats], dtype=np.float64) - mean) / scale, -CLIP, CLIP)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, tf in enumerate(feats):
        present = [index[g] for g in tf.grams if g in index]
        if not present:
            continue
        norm = 1.0 / math.sqrt(len(present))
        rows.extend([r] * len(present))
        cols.extend(present)
        vals.extend([norm] * len(present))
    grams = sparse.csr_matrix((vals, (rows, cols)), shape=(len(feats), len(vocab)))
    return sparse.hstack([sparse.csr_matrix(dense), grams], format="csr")


def sample_weights(examples: Sequence[Example], cfg: TrainConfig) -> FloatArray:
    """Per-example training weights, mean 1: ``think_weight`` for thinking prompts, divided by
    ``n_source ** source_power`` (power 1: every source weighs the same in total, whatever its size); with
    ``think_weight_share`` the think examples are then scaled so that their total is that share."""
    key = cfg.weight_group
    sizes = Counter(ex.group(key) for ex in examples)
    w = np.array(
        [
            (cfg.think_weight if ex.think else 1.0) / sizes[ex.group(key)] ** cfg.source_power
            for ex in examples
        ],
        dtype=np.float64,
    )
    if cfg.think_weight_share is not None:
        w = _class_share(w, np.array([ex.think for ex in examples], dtype=bool), cfg.think_weight_share)
    scaled: FloatArray = w * (len(w) / float(w.sum()))
    return scaled


def _class_share(w: FloatArray, think: npt.NDArray[np.bool_], share: float) -> FloatArray:
    """``w`` with the ``think`` rows scaled so that they hold ``share`` of the total (unchanged when a class
    is missing)."""
    if not 0.0 < share < 1.0:
        raise DataError(f"a class weight share must be between 0 and 1, got {share}")
    on, off = float(w[think].sum()), float(w[~think].sum())
    if on <= 0.0 or off <= 0.0:
        return w
    out: FloatArray = np.where(think, w * (share * off / ((1.0 - share) * on)), w)
    return out


def _design(
    examples: Sequence[Example], feats: Sequence[TextFeatures], cfg: TrainConfig
) -> tuple[list[str], FloatArray, FloatArray, Any, FloatArray]:
    """Vocabulary, dense standardisation, design matrix and sample weights of one training set."""
    vocab = _vocabulary(feats, [ex.source for ex in examples], cfg)
    dense = np.array([tf.dense for tf in feats], dtype=np.float64)
    mean = dense.mean(axis=0)
    scale = dense.std(axis=0)
    scale[scale <= 1e-9] = 1.0
    scale = scale / cfg.dense_gain
    return vocab, mean, scale, _matrix(feats, vocab, mean, scale), sample_weights(examples, cfg)


def _fit_raw(examples: Sequence[Example], feats: Sequence[TextFeatures], cfg: TrainConfig) -> _Raw:
    from sklearn.linear_model import LogisticRegression

    vocab, mean, scale, x, w = _design(examples, feats, cfg)
    y = np.array([ex.think for ex in examples], dtype=np.int64)
    if len(set(y.tolist())) < 2:
        raise DataError("training data needs both think=true and think=false examples")
    think = LogisticRegression(C=cfg.c, solver="liblinear", max_iter=2000)
    think.fit(x, y, sample_weight=w)
    think_coef = np.concatenate([think.coef_[0], think.intercept_])
    _apply_priors(think_coef, mean, scale, cfg.priors)
    return _Raw(vocab, mean, scale, think_coef, _level_head(examples, x, w, cfg))


def _level_head(examples: Sequence[Example], x: Any, w: FloatArray, cfg: TrainConfig) -> FloatArray:
    """The level head's weights over every column of ``x`` (3 x (columns + bias)), fitted on the thinking
    examples; fitted without the signals (or n-grams) of ``level_without`` and (with ``word_vectors_levels``
    off) the word-vector columns, whose weights are then zero."""
    fit = _LEVEL_MODELS.get(cfg.level_model)
    if fit is None:
        raise DataError(f"level_model must be 'multinomial' or 'ordinal', got {cfg.level_model!r}")
    levels = np.array([_LEVEL_INDEX[ex.effort] - 1 for ex in examples], dtype=np.int64)
    keep = np.array([ex.think for ex in examples], dtype=np.bool_) & (levels >= 0)
    unknown = sorted(set(cfg.level_without) - {*DENSE_NAMES, NGRAMS})
    if unknown:
        raise DataError(f"level_without: unknown signals {', '.join(unknown)}")
    hidden = {DENSE_NAMES.index(name) for name in cfg.level_without if name != NGRAMS}
    table = cfg.word_vectors
    n_dense = len(DENSE_NAMES)
    n_vectors = table.vectors.shape[1] if table is not None else 0
    if table is not None and not cfg.word_vectors_levels:
        hidden.update(range(n_dense, n_dense + n_vectors))
    if NGRAMS in cfg.level_without:
        hidden.update(range(n_dense + n_vectors, x.shape[1]))
    if not hidden:
        return fit(x, levels, keep, w, cfg.levels_c)
    cols = np.array([j for j in range(x.shape[1]) if j not in hidden], dtype=np.int64)
    fitted = fit(x[:, cols], levels, keep, w, cfg.levels_c)
    full = np.zeros((3, x.shape[1] + 1))
    full[:, cols] = fitted[:, :-1]
    full[:, -1] = fitted[:, -1]
    return full


def _oof_levels_by_source(
    examples: Sequence[Example], feats: Sequence[TextFeatures], cfg: TrainConfig
) -> FloatArray:
    """Out-of-fold level logits from level-head fits on folds grouped by source (not family)."""
    out = np.zeros((len(examples), 3))
    folds = _group_folds([ex.source for ex in examples], cfg.level_cut_folds)
    if len(folds) < 2:  # a single source: plain k-fold, as for the calibration
        order = np.random.default_rng(cfg.seed).permutation(len(examples)).tolist()
        folds = [order[i :: cfg.level_cut_folds] for i in range(cfg.level_cut_folds)]
    for held in folds:
        held_set = set(held)
        train_idx = [i for i in range(len(examples)) if i not in held_set]
        if not held or not train_idx:
            continue
        sub = [examples[i] for i in train_idx]
        vocab, mean, scale, x, w = _design(sub, [feats[i] for i in train_idx], cfg)
        coef = _level_head(sub, x, w, cfg)
        xh = _matrix([feats[i] for i in held], vocab, mean, scale)
        out[held] = np.asarray(xh @ coef[:, :-1].T + coef[:, -1], dtype=np.float64)
    return out


def _apply_priors(
    coef: FloatArray, mean: FloatArray, scale: FloatArray, priors: Sequence[tuple[str, float]]
) -> None:
    """Add the hand-set logit shifts of binary signals to the fitted think weights (in place).

    The shift is divided by the standardised (clipped) distance between the signal on (1) and off (0), so
    the logit moves by exactly the prior whatever the training data's scaling.
    """
    for name, shift in priors:
        if name not in DENSE_NAMES:
            raise DataError(f"unknown signal {name!r} in priors")
        i = DENSE_NAMES.index(name)
        on = min(CLIP, max(-CLIP, (1.0 - mean[i]) / scale[i]))
        off = min(CLIP, max(-CLIP, (0.0 - mean[i]) / scale[i]))
        if on != off:
            coef[i] += shift / (on - off)


def _raw_logits(raw: _Raw, feats: Sequence[TextFeatures]) -> tuple[FloatArray, FloatArray]:
    x = _matrix(feats, raw.vocab, raw.mean, raw.scale)
    think = x @ raw.think_coef[:-1] + raw.think_coef[-1]
    levels = x @ raw.level_coef[:, :-1].T + raw.level_coef[:, -1]
    return np.asarray(think, dtype=np.float64), np.asarray(levels, dtype=np.float64)


def _group_folds(sources: Sequence[str], k: int) -> list[list[int]]:
    groups = sorted(set(sources), key=lambda s: (-sources.count(s), s))
    folds: list[list[int]] = [[] for _ in range(min(k, len(groups)))]
    sizes = [0] * len(folds)
    members: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sources):
        members[s].append(i)
    for g in groups:  # greedy balance: biggest source into the smallest fold
        j = sizes.index(min(sizes))
        folds[j].extend(members[g])
        sizes[j] += len(members[g])
    return folds


def _hash_folds(groups: Sequence[str], k: int) -> list[list[int]]:
    """Folds by group name: a group's fold is the SHA-256 of its name modulo ``k`` (empty folds dropped), so
    a fold's membership does not depend on the other groups or on any group's size."""
    fold_of = {g: int.from_bytes(hashlib.sha256(g.encode()).digest()[:8], "big") % k for g in set(groups)}
    folds: list[list[int]] = [[] for _ in range(k)]
    for i, g in enumerate(groups):
        folds[fold_of[g]].append(i)
    return [f for f in folds if f]


def calibration_split(groups: Sequence[str], k: int, how: str) -> list[list[int]]:
    """The calibration folds (lists of example indices) for ``TrainConfig.fold_split`` ``how``."""
    if how == "greedy":
        return _group_folds(groups, k)
    if how == "hash":
        return _hash_folds(groups, k)
    raise DataError(f"fold_split must be 'greedy' or 'hash', got {how!r}")


def _calibrate(
    think_logits: FloatArray,
    y: FloatArray,
    level_logits: FloatArray,
    lv: FloatArray,
    think_share: float | None,
) -> Any:
    from sklearn.linear_model import LogisticRegression

    weight: FloatArray | None = None  # every example once (the shipped recipe)
    if think_share is not None:
        weight = _class_share(np.ones(len(y)), y.astype(bool), think_share)
        weight = weight * (len(weight) / float(weight.sum()))
    platt = LogisticRegression(C=100.0, max_iter=1000)
    platt.fit(think_logits.reshape(-1, 1), y, sample_weight=weight)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return a, b, fit_temperature(level_logits, lv)


def train_artifact(
    examples: Sequence[Example],
    config: TrainConfig | None = None,
    *,
    features: Sequence[TextFeatures] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit the classifier on labelled examples and return the artifact mapping (JSON-serialisable).

    ``features`` are the examples' :func:`text_features` of the latest user turn when the caller already has
    them (cross-validation computes them once). Raises :class:`DataError` when the data cannot train a model
    (one class only, too few examples).
    """
    cfg = config or TrainConfig()
    if len(examples) < 10:
        raise DataError(f"need at least 10 labelled examples, got {len(examples)}")
    if len({ex.think for ex in examples}) < 2:
        raise DataError("training data needs both think=true and think=false examples")
    feats = (
        list(features) if features is not None else [text_features(ex.view.latest_user) for ex in examples]
    )
    table = cfg.word_vectors
    sif = np.zeros(0)
    if table is not None:  # the mean word vector as extra dense columns (exactly as the family CV had them)
        texts = [ex.view.latest_user for ex in examples]
        sif = word_weights(table, texts)
        feats = [
            TextFeatures(f.dense + tuple(mean_word_vector(table, sif, t).tolist()), f.unigrams, f.pairs)
            for f, t in zip(feats, texts, strict=True)
        ]
    sources = [ex.source for ex in examples]
    folds = calibration_split(
        [ex.group(cfg.fold_group) for ex in examples], cfg.calibration_folds, cfg.fold_split
    )
    if len(folds) < 2:  # a single source: plain k-fold
        order = np.random.default_rng(cfg.seed).permutation(len(examples)).tolist()
        folds = [order[i :: cfg.calibration_folds] for i in range(cfg.calibration_folds)]
    oof_think = np.zeros(len(examples))
    oof_levels = np.zeros((len(examples), 3))
    for n, held in enumerate(folds, 1):
        held_set = set(held)
        train_idx = [i for i in range(len(examples)) if i not in held_set]
        if progress is not None:
            progress(f"calibration fold {n}/{len(folds)}")
        sub = [examples[i] for i in train_idx]
        if len({ex.think for ex in sub}) < 2:
            continue
        raw = _fit_raw(sub, [feats[i] for i in train_idx], cfg)
        t, lv = _raw_logits(raw, [feats[i] for i in held])
        oof_think[held] = t
        oof_levels[held] = lv
    y = np.array([float(ex.think) for ex in examples])
    level_y = np.array([_LEVEL_INDEX[ex.effort] - 1 for ex in examples])
    keep = y.astype(bool) & (level_y >= 0)
    a, b, temp = _calibrate(
        oof_think, y, oof_levels[keep], level_y[keep].astype(np.float64), cfg.calibration_think_share
    )
    for name in ("level_cut_group", "level_temperature_group"):
        if getattr(cfg, name) not in ("family", "source"):
            raise DataError(f"{name} must be 'family' or 'source', got {getattr(cfg, name)!r}")
    labels = level_y[keep].astype(np.float64)
    fit_cuts = cfg.fit_level_cuts or cfg.all_level_cuts
    by_source: FloatArray | None = None
    if cfg.level_temperature_group == "source" or (
        fit_cuts and (cfg.all_level_cuts or cfg.level_cut_group == "source")
    ):
        if progress is not None:
            progress("level head on source folds")
        by_source = _oof_levels_by_source(examples, feats, cfg)
    if by_source is not None and cfg.level_temperature_group == "source":
        temp = fit_temperature(by_source[keep], labels)
    candidates: dict[str, tuple[float, float]] = {"median": MEDIAN_CUTS}
    if fit_cuts:
        if cfg.all_level_cuts or cfg.level_cut_group == "family":
            candidates["family"] = fit_level_cuts(softmax_t(oof_levels[keep], temp), labels)
        if by_source is not None and (cfg.all_level_cuts or cfg.level_cut_group == "source"):
            candidates["source"] = fit_level_cuts(softmax_t(by_source[keep], temp), labels)
    rule = cfg.level_cut_group if cfg.fit_level_cuts else "median"
    cut_medium, cut_high = candidates[rule]
    if progress is not None:
        progress("final fit")
    raw = _fit_raw(examples, feats, cfg)
    n_dense = len(DENSE_NAMES)
    n_cols = n_dense + (table.vectors.shape[1] if table is not None else 0)  # then the n-grams
    coef = np.vstack([raw.think_coef, raw.level_coef])  # 4 x (columns + bias)
    bias = coef[:, -1].copy()
    extra: dict[str, Any] = {}
    if table is not None:
        columns, shift = fold_word_vectors(
            table, sif, coef[:, n_dense:n_cols], raw.mean[n_dense:], raw.scale[n_dense:]
        )
        bias -= shift
        extra["word_weights"] = {"words": list(table.words), "columns": columns}
    dense_rows = [np.concatenate([coef[k, :n_dense], bias[k : k + 1]]) for k in range(4)]
    gram_cols = [coef[k, n_cols:-1] for k in range(4)]
    keep_gram = np.max(np.abs(np.vstack(gram_cols)), axis=0) >= 1e-3
    vocab = [g for g, k in zip(raw.vocab, keep_gram.tolist(), strict=True) if k]
    config_meta = {k: getattr(cfg, k) for k in cfg.__slots__ if k != "word_vectors"}
    if table is not None:
        config_meta["word_vectors"] = {
            "words": len(table.words),
            "dims": int(table.vectors.shape[1]),
            "sif_a": SIF_A,
            "source": table.source,
        }
    return {
        "format": ARTIFACT_FORMAT,
        "version": ARTIFACT_VERSION if table is None else ARTIFACT_VERSION_WORDS,
        "dense_names": list(DENSE_NAMES),
        "dense_mean": _round(raw.mean[:n_dense]),
        "dense_scale": _round(raw.scale[:n_dense]),
        "dense_weights": [_round(row) for row in dense_rows],
        "vocab": vocab,
        "gram_weights": [_round(col[keep_gram]) for col in gram_cols],
        "calibration": {
            "a": round(a, 5),
            "b": round(b, 5),
            "levels_temperature": round(temp, 4),
            "level_cuts": {"medium": cut_medium, "high": cut_high},
        },
        "prior_think": round(float(np.clip(y.mean(), 0.01, 0.99)), 4),
        "follow_gain": cfg.follow_gain,
        "tools_logit": cfg.tools_logit,
        "metadata": {
            "examples": len(examples),
            "sources": sorted(set(sources)),
            "think_share": round(float(y.mean()), 4),
            "level_cut_rule": rule,
            "level_cut_candidates": {k: list(v) for k, v in candidates.items()},
            "config": config_meta,
        },
        **extra,
    }


def _round(values: FloatArray) -> list[float]:
    return [round(float(v), 5) for v in values]
