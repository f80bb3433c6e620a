"""The effort classifier: a :class:`ChatView` → calibrated scores → an effort level (pure, no I/O).

Two linear models share one feature set (:mod:`router.features`): a binary *think* model whose logit is
Platt-calibrated into ``p_think``, and a three-way *level* model (low / medium / high) trained on the prompts
that need thinking. The scores combine as ``levels = {none: 1 - p_think, low: p_think·q_low, ...}``.

The latest user turn is scored first. When it leans on earlier turns (a short follow-up, see
:func:`router.conversation.followup_weight`) and the context scores higher, the score moves towards the
context's, so "now do it for n = 7" in a math thread still thinks.

The artifact (a JSON mapping, built by :mod:`router.train`) holds the vocabulary, the weights, the feature
scaling and the calibration, and (version 2) static word vectors folded into five numbers per word
(``word_weights``: the word's weight in the mean, and its weighted contribution to each output); the gateway
reads it and passes it to :meth:`EffortClassifier.from_artifact`.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import mul, sub, truediv
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.conversation import ChatView, leaning
from router.effort import Effort
from router.features import DENSE_NAMES, TextFeatures, WordWeights, text_features

ARTIFACT_FORMAT = "thinkgate-effort-classifier"
ARTIFACT_VERSION = 1
#: The version of an artifact that also carries folded word vectors (``word_weights``); version 1 has none.
ARTIFACT_VERSION_WORDS = 2
#: Standardised hand-built signals are clipped to ``[-CLIP, CLIP]`` (odd inputs cannot dominate the score).
CLIP = 4.0
#: The thinking levels the level model chooses among, in order.
THINK_LEVELS: tuple[Effort, ...] = (Effort.LOW, Effort.MEDIUM, Effort.HIGH)
#: The level cut points ``(medium, high)`` of an artifact that does not carry fitted ones: the median of the
#: level distribution.
MEDIAN_CUTS: tuple[float, float] = (0.5, 0.5)


class ArtifactError(ValueError):
    """The classifier artifact is malformed or of an unknown format/version."""


@dataclass(frozen=True, slots=True)
class Reading:
    """All that :meth:`EffortClassifier.predict` reads of a conversation: the latest user turn, the bounded
    context before it, how much the turn leans on that context, and whether tools are offered. The steps of
    one agent task share it (tool calls and results come after the latest user turn), so a caller may cache
    predictions by it."""

    latest: str
    context: str
    alpha: float
    tools: bool


def read_view(view: ChatView) -> Reading:
    return reading_of(view.latest_user, view.context(), len(view.turns) >= 2, view.tools)


def reading_of(
    latest: str, context: str, other_turns: bool, tools: bool, *, weigh: Callable[[str], float] = leaning
) -> Reading:
    """The reading of a latest user turn, its context, whether the conversation has other turns, and tools;
    ``weigh`` is :func:`router.conversation.leaning` or a cache of it."""
    return Reading(latest, context, follow_alpha(latest, context, other_turns, weigh), tools)


def follow_alpha(
    latest: str, context: str, other_turns: bool, weigh: Callable[[str], float] = leaning
) -> float:
    """:attr:`Reading.alpha`: how much the latest user turn leans on its context (0 without one)."""
    return weigh(latest) if context and other_turns else 0.0


@dataclass(frozen=True, slots=True)
class Prediction:
    """Calibrated classifier output.

    ``p_think`` is the probability that the request needs thinking; ``levels`` maps ``none``, ``low``,
    ``medium``, ``high`` to probabilities summing to 1 (``levels["none"] == 1 - p_think``). ``evidence`` lists
    the strongest contributions to the think logit as ``(feature, contribution)``, largest first.
    ``level_cuts`` are the model's own ``(medium, high)`` cut points (fitted at training time), which
    :func:`choose_effort` uses where the policy's thresholds leave them unset.
    """

    p_think: float
    levels: dict[str, float]
    evidence: tuple[tuple[str, float], ...] = ()
    level_cuts: tuple[float, float] = MEDIAN_CUTS

    def thinking_share(self) -> dict[str, float]:
        """The distribution over low/medium/high given that the request thinks (sums to 1)."""
        total = sum(self.levels[e.value] for e in THINK_LEVELS)
        if total <= 0.0:
            return {e.value: 1.0 / len(THINK_LEVELS) for e in THINK_LEVELS}
        return {e.value: self.levels[e.value] / total for e in THINK_LEVELS}


class ClassifierThresholds(BaseModel):
    """How a :class:`Prediction` becomes an effort (policy ``classifier.thresholds``).

    * ``think``: thinking is on when ``p_think >= think``. Because ``p_think`` is calibrated, lowering it
      raises the think-share (and recall on prompts that need thinking); ``thinkgate calibrate`` proposes a
      value for a target think-share.
    * ``medium`` and ``high`` pick the level among thinking efforts from the level distribution *given
      thinking* (:meth:`Prediction.thinking_share`): ``high`` when ``P(high) >= high``, else ``medium`` when
      ``P(medium) + P(high) >= medium``, else ``low``. Unset (``None``, the default), each is the
      artifact's own cut point (``Prediction.level_cuts``): 0.5 for both (the median of the distribution)
      unless the artifact was trained with cut points fitted on out-of-fold predictions.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    think: float = Field(default=0.28, ge=0.0, le=1.0)
    medium: float | None = Field(default=None, ge=0.0, le=1.0)
    high: float | None = Field(default=None, ge=0.0, le=1.0)


def _describe(evidence: Sequence[tuple[str, float]], positive: bool) -> str:
    picked = [name for name, value in evidence if (value > 0) == positive][:3]
    return ", ".join(picked) if picked else "no strong signal"


def choose_effort(pred: Prediction, thresholds: ClassifierThresholds) -> tuple[Effort, str]:
    """The effort for a prediction under the thresholds, and a short reason naming the top features."""
    if pred.p_think < thresholds.think:
        why = _describe(pred.evidence, positive=False)
        return Effort.NONE, f"p_think {pred.p_think:.2f} < {thresholds.think:.2f} ({why})"
    share = pred.thinking_share()
    medium = pred.level_cuts[0] if thresholds.medium is None else thresholds.medium
    high = pred.level_cuts[1] if thresholds.high is None else thresholds.high
    if share["high"] >= high:
        effort = Effort.HIGH
    elif share["medium"] + share["high"] >= medium:
        effort = Effort.MEDIUM
    else:
        effort = Effort.LOW
    why = _describe(pred.evidence, positive=True)
    return effort, f"p_think {pred.p_think:.2f} >= {thresholds.think:.2f}, {effort.value} ({why})"


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _softmax(values: Sequence[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def _floats(data: Mapping[str, Any], key: str, length: int | None = None) -> list[float]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) for v in value):
        raise ArtifactError(f"artifact field {key!r} must be a list of numbers")
    if length is not None and len(value) != length:
        raise ArtifactError(f"artifact field {key!r} has {len(value)} entries, expected {length}")
    return [float(v) for v in value]


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArtifactError(f"artifact field {key!r} must be a number")
    return float(value)


@dataclass(frozen=True, slots=True)
class _Scores:
    think: float
    levels: tuple[float, float, float]
    contributions: tuple[tuple[str, float], ...]


#: How many contributions a prediction's evidence lists.
_EVIDENCE = 6
#: One n-gram's weights on the four outputs (think, low, medium, high).
_Weights = tuple[float, float, float, float]
#: The weights by output of no n-grams.
_NO_COLUMNS: tuple[tuple[float, ...], ...] = ((), (), (), ())


def _strongest(values: Sequence[float]) -> list[int]:
    """The indices of the :data:`_EVIDENCE` values largest in magnitude, largest first (ties: lowest index
    first, as ``heapq.nlargest`` orders them)."""
    size = list(map(abs, values))
    return sorted(range(len(size)), key=size.__getitem__, reverse=True)[:_EVIDENCE]


class EffortClassifier:
    """A loaded classifier; :meth:`predict` is pure and thread-safe (no mutable state)."""

    __slots__ = (
        "_cal_a",
        "_cal_b",
        "_dense_w",
        "_follow_gain",
        "_level_cuts",
        "_mean",
        "_pair_keys",
        "_pair_w",
        "_prior",
        "_scale",
        "_temperature",
        "_tools_logit",
        "_uni_keys",
        "_uni_w",
        "_words",
        "metadata",
    )

    def __init__(
        self,
        *,
        mean: Sequence[float],
        scale: Sequence[float],
        dense_weights: Sequence[Sequence[float]],
        gram_weights: Mapping[str, tuple[float, float, float, float]],
        calibration: tuple[float, float],
        temperature: float,
        prior_think: float,
        follow_gain: float,
        tools_logit: float,
        level_cuts: tuple[float, float] = MEDIAN_CUTS,
        metadata: Mapping[str, Any] | None = None,
        word_weights: WordWeights | None = None,
    ) -> None:
        """Build from parts; most callers use :meth:`from_artifact`.

        ``dense_weights`` has one row per output (think, low, medium, high) whose last entry is the bias;
        ``gram_weights`` maps an n-gram to its four output weights; ``word_weights`` (optional) maps a word to
        its folded word-vector numbers (:func:`router.features.word_sums`).
        """
        n = len(DENSE_NAMES)
        if len(mean) != n or len(scale) != n:
            raise ArtifactError(f"dense scaling must have {n} entries")
        if len(dense_weights) != 4 or any(len(row) != n + 1 for row in dense_weights):
            raise ArtifactError(f"dense weights must be 4 rows of {n + 1} numbers")
        if not 0.0 < prior_think < 1.0:
            raise ArtifactError("prior_think must be strictly between 0 and 1")
        if temperature <= 0:
            raise ArtifactError("levels temperature must be positive")
        if not all(0.0 <= c <= 1.0 for c in level_cuts):
            raise ArtifactError("level cut points must be between 0 and 1")
        self._level_cuts = (float(level_cuts[0]), float(level_cuts[1]))
        self._mean = tuple(mean)
        self._scale = tuple(s if s > 0 else 1.0 for s in scale)
        self._dense_w = tuple(tuple(row) for row in dense_weights)
        # the n-grams' four output weights, unigrams by string and bigrams by token pair (what TextFeatures
        # holds), and the key sets a text's n-grams are intersected with
        self._uni_w: dict[str, _Weights] = {}
        self._pair_w: dict[tuple[str, str], _Weights] = {}
        for g, w in gram_weights.items():
            parts = g.split(" ")
            if len(parts) == 1:
                self._uni_w[g] = w
            elif len(parts) == 2:
                self._pair_w[(parts[0], parts[1])] = w
        self._uni_keys = frozenset(self._uni_w)
        self._pair_keys = frozenset(self._pair_w)
        self._cal_a, self._cal_b = calibration
        self._temperature = temperature
        self._prior = prior_think
        self._follow_gain = follow_gain
        self._tools_logit = tools_logit
        self._words: WordWeights | None = dict(word_weights) if word_weights else None
        self.metadata: dict[str, Any] = dict(metadata or {})

    @classmethod
    def from_artifact(cls, data: Mapping[str, Any]) -> EffortClassifier:
        """Build from a parsed artifact mapping; raises :class:`ArtifactError` when it is malformed."""
        if not isinstance(data, Mapping):
            raise ArtifactError("artifact must be a JSON object")
        version = data.get("version")
        if data.get("format") != ARTIFACT_FORMAT or version not in (ARTIFACT_VERSION, ARTIFACT_VERSION_WORDS):
            raise ArtifactError(
                f"unsupported artifact format {data.get('format')!r} version {version!r}; "
                f"expected {ARTIFACT_FORMAT!r} version {ARTIFACT_VERSION} or {ARTIFACT_VERSION_WORDS}"
            )
        names = data.get("dense_names")
        if names != list(DENSE_NAMES):
            raise ArtifactError("artifact dense_names do not match this code's features; retrain it")
        n = len(DENSE_NAMES)
        dense = data.get("dense_weights")
        if not isinstance(dense, list) or len(dense) != 4:
            raise ArtifactError("artifact field 'dense_weights' must be 4 rows")
        rows = [_floats({"row": row}, "row", n + 1) for row in dense]
        vocab = data.get("vocab")
        weights = data.get("gram_weights")
        if not isinstance(vocab, list) or not all(isinstance(v, str) for v in vocab):
            raise ArtifactError("artifact field 'vocab' must be a list of strings")
        if not isinstance(weights, list) or len(weights) != 4:
            raise ArtifactError("artifact field 'gram_weights' must be 4 lists")
        columns = [_floats({"col": col}, "col", len(vocab)) for col in weights]
        grams = {g: (columns[0][i], columns[1][i], columns[2][i], columns[3][i]) for i, g in enumerate(vocab)}
        cal = data.get("calibration")
        if not isinstance(cal, Mapping):
            raise ArtifactError("artifact field 'calibration' must be an object")
        meta = data.get("metadata")
        cuts = cal.get("level_cuts", {"medium": MEDIAN_CUTS[0], "high": MEDIAN_CUTS[1]})
        if not isinstance(cuts, Mapping):
            raise ArtifactError("artifact field 'calibration.level_cuts' must be an object {medium, high}")
        return cls(
            mean=_floats(data, "dense_mean", n),
            scale=_floats(data, "dense_scale", n),
            dense_weights=rows,
            gram_weights=grams,
            calibration=(_number(cal, "a"), _number(cal, "b")),
            temperature=_number(cal, "levels_temperature"),
            prior_think=_number(data, "prior_think"),
            follow_gain=_number(data, "follow_gain"),
            tools_logit=_number(data, "tools_logit"),
            level_cuts=(_number(cuts, "medium"), _number(cuts, "high")),
            metadata=meta if isinstance(meta, Mapping) else None,
            word_weights=_word_weights(data) if version == ARTIFACT_VERSION_WORDS else None,
        )

    def _score(self, feats: TextFeatures, explain: bool) -> _Scores:
        # Written for speed (CPU per uncached prediction, benchmarks/RESULTS.md "Hot path, session 12, request
        # side"): C-level maps, one weight lookup per n-gram, the strongest signals found by C-level sorts.
        # Every sum adds the same numbers in the same order as the plain loops did, so the scores are
        # bit-identical (tests/unit/test_classifier_scoring.py compares them with the plain formulas).
        z = map(truediv, map(sub, feats.dense, self._mean), self._scale)  # (v - m) / s
        x = list(map(min, itertools.repeat(CLIP), map(max, itertools.repeat(-CLIP), z)))  # min(C, max(-C, z))
        out = [row[-1] + sum(map(mul, row, x)) for row in self._dense_w]
        for k, v in enumerate(feats.words):
            out[k] += v
        # the sums run in the intersections' own order, as they always did
        uni = list(feats.unigrams & self._uni_keys)
        pairs = list(feats.pairs & self._pair_keys)
        present = len(uni) + len(pairs)
        norm = 1.0 / math.sqrt(present) if present else 0.0
        # each n-gram's weights by output: (think..., low..., medium..., high...)
        uni_cols = tuple(zip(*map(self._uni_w.__getitem__, uni), strict=True)) or _NO_COLUMNS
        pair_cols = tuple(zip(*map(self._pair_w.__getitem__, pairs), strict=True)) or _NO_COLUMNS
        for k in range(4):
            out[k] += norm * (sum(uni_cols[k]) + sum(pair_cols[k]))
        contributions: tuple[tuple[str, float], ...] = ()
        if explain:
            think = list(map(mul, self._dense_w[0], x))  # each signal's contribution (map stops at len(x))
            # the candidates: the strongest few of each kind. A signal outside its kind's strongest six
            # has six signals before it at least as strong, so it never made the evidence; the six stay in
            # their own order, so ties break as when all signals were candidates.
            dense = sorted(_strongest(think))
            top_uni, top_pairs = _strongest(uni_cols[0]), _strongest(pair_cols[0])
            candidates = itertools.chain(
                ((DENSE_NAMES[i], think[i], i) for i in dense),
                (("word vectors", v, -2) for v in feats.words[:1]),
                ((uni[i], uni_cols[0][i] * norm, -1) for i in top_uni),
                ((" ".join(pairs[i]), pair_cols[0][i] * norm, -1) for i in top_pairs),
            )
            top = heapq.nlargest(_EVIDENCE, candidates, key=lambda item: abs(item[1]))
            contributions = tuple(
                (
                    name if i == -2 else f'"{name}"' if i < 0 else name if x[i] >= 0 else f"low {name}",
                    round(value, 3),
                )
                for name, value, i in top
            )
        return _Scores(out[0], (out[1], out[2], out[3]), contributions)

    @property
    def level_cuts(self) -> tuple[float, float]:
        """The artifact's ``(medium, high)`` level cut points (what unset policy thresholds mean)."""
        return self._level_cuts

    def think_logit(self, text: str) -> float:
        """Uncalibrated think logit of one text on its own (used by training and diagnostics)."""
        return self._score(text_features(text, self._words), explain=False).think

    def predict(self, view: ChatView) -> Prediction:
        """Calibrated scores for a conversation. Never raises on an odd view; an empty one gets the prior."""
        return self.predict_reading(read_view(view))

    def predict_reading(self, reading: Reading) -> Prediction:
        """:meth:`predict` for what it reads of a view (equal readings give equal predictions)."""
        latest, context, alpha = reading.latest, reading.context, reading.alpha
        if not latest.strip():
            if not context.strip():
                return self._prior_prediction()
            alpha = 1.0
        own = self._score(text_features(latest, self._words), explain=True)
        z, levels, evidence = own.think, own.levels, own.contributions
        if alpha > 0.0:
            ctx = self._score(text_features(context, self._words), explain=False)
            if not latest.strip():
                z, levels = ctx.think, ctx.levels
                evidence = (("context", round(ctx.think, 3)),)
            elif ctx.think > z:
                shift = alpha * self._follow_gain * (ctx.think - z)
                z += shift
                levels = tuple(  # type: ignore[assignment]
                    (1 - alpha) * a + alpha * b for a, b in zip(levels, ctx.levels, strict=True)
                )
                evidence = (("follow-up context", round(shift, 3)), *evidence)
        if reading.tools and self._tools_logit:
            z += self._tools_logit
            evidence = (*evidence, ("tools", self._tools_logit))
        p = _sigmoid(self._cal_a * z + self._cal_b)
        q = _softmax([v / self._temperature for v in levels])
        return Prediction(p_think=p, levels=_levels(p, q), evidence=evidence, level_cuts=self._level_cuts)

    def _prior_prediction(self) -> Prediction:
        q = (1 / 3, 1 / 3, 1 / 3)
        return Prediction(
            p_think=self._prior,
            levels=_levels(self._prior, q),
            evidence=(("empty prompt", 0.0),),
            level_cuts=self._level_cuts,
        )


def _word_weights(data: Mapping[str, Any]) -> dict[str, tuple[float, float, float, float, float]]:
    """A version-2 artifact's ``word_weights``: ``{"words": [...], "columns": 5 lists}`` (each word's weight,
    then its weighted contributions to think, low, medium, high)."""
    table = data.get("word_weights")
    if not isinstance(table, Mapping):
        raise ArtifactError("artifact field 'word_weights' must be an object {words, columns}")
    words = table.get("words")
    cols = table.get("columns")
    if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
        raise ArtifactError("artifact field 'word_weights.words' must be a non-empty list of strings")
    if not isinstance(cols, list) or len(cols) != 5:
        raise ArtifactError("artifact field 'word_weights.columns' must be 5 lists")
    c = [_floats({"col": col}, "col", len(words)) for col in cols]
    if any(v < 0.0 for v in c[0]):
        raise ArtifactError("artifact word weights must not be negative")
    return dict(zip(words, zip(c[0], c[1], c[2], c[3], c[4], strict=True), strict=True))


def _levels(p: float, q: Sequence[float]) -> dict[str, float]:
    return {
        Effort.NONE.value: 1.0 - p,
        Effort.LOW.value: p * q[0],
        Effort.MEDIUM.value: p * q[1],
        Effort.HIGH.value: p * q[2],
    }
