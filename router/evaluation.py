"""Evaluation of the effort classifier: metrics over labelled examples and leave-one-group-out CV (pure).

:class:`Metrics` accumulates (label, chosen effort) pairs into the issue-15 rates (accuracy, recall on
think, precision on no-think, effort error on think prompts) and budgets (``thinkgate eval`` and
``calibrate``, the console's tuning view); :func:`loso_predictions` trains one model per held-out source or
format family with :func:`router.train.train_artifact` and :func:`score_predictions` scores the held-out
predictions per group (``benchmarks/classifier_cv.py``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from router.classifier import ClassifierThresholds, EffortClassifier, Prediction, choose_effort
from router.effort import CLASSIFIER_LEVELS, Effort
from router.features import text_features
from router.train import Example, TrainConfig, train_artifact

_LEVEL_INDEX = {e: i for i, e in enumerate(CLASSIFIER_LEVELS)}


@dataclass(slots=True)
class Metrics:
    """Running evaluation metrics over (label, prediction) pairs."""

    n: int = 0
    correct: int = 0
    true_think: int = 0
    true_think_hit: int = 0
    pred_nothink: int = 0
    pred_nothink_right: int = 0
    pred_think: int = 0
    rank_error: int = 0
    rank_error_think: int = 0
    confusion: list[list[int]] = field(default_factory=lambda: [[0] * 4 for _ in range(4)])
    budget_pred: float = 0.0
    budget_true: float = 0.0

    def add(self, think: bool, effort: Effort, chosen: Effort, budgets: Mapping[str, int | None]) -> None:
        """Record one example: its labels and the effort chosen for it."""
        self.n += 1
        thinks = chosen.thinks
        self.correct += thinks == think
        self.pred_think += thinks
        if think:
            self.true_think += 1
            self.true_think_hit += thinks
        if not thinks:
            self.pred_nothink += 1
            self.pred_nothink_right += not think
        t, p = _LEVEL_INDEX[effort], _LEVEL_INDEX.get(chosen, 3)
        self.rank_error += abs(t - p)
        if think:
            self.rank_error_think += abs(t - p)
        self.confusion[t][p] += 1
        self.budget_pred += _budget(chosen, budgets)
        self.budget_true += _budget(effort if think else Effort.NONE, budgets)

    def summary(self) -> dict[str, float]:
        """Accuracy, recall on think=true, precision on think=false, ordinal error, think-share, budgets."""
        return {
            "n": self.n,
            "accuracy": _ratio(self.correct, self.n),
            "recall_think": _ratio(self.true_think_hit, self.true_think),
            "precision_nothink": _ratio(self.pred_nothink_right, self.pred_nothink),
            "ordinal_error": _ratio(self.rank_error, self.n),
            "effort_error_think": _ratio(self.rank_error_think, self.true_think),
            "think_share": _ratio(self.pred_think, self.n),
            "true_think_share": _ratio(self.true_think, self.n),
            "budget_per_request": _ratio(self.budget_pred, self.n),
            "label_budget_per_request": _ratio(self.budget_true, self.n),
        }


DEFAULT_BUDGETS: dict[str, int | None] = {"none": 0, "low": 1024, "medium": 4096, "high": 16384}


def _budget(effort: Effort, budgets: Mapping[str, int | None]) -> float:
    if effort is Effort.NONE:
        return 0.0
    value = budgets.get(effort.value)
    return float(value) if value is not None else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def loso_predictions(
    examples: Sequence[Example],
    config: TrainConfig | None = None,
    *,
    group: str = "source",
    progress: Callable[[str], None] | None = None,
    on_artifact: Callable[[str, Mapping[str, Any]], None] | None = None,
    only: Collection[str] | None = None,
) -> list[tuple[Example, Prediction]]:
    """Leave-one-group-out predictions: every example scored by a model trained only on the examples of the
    other groups (``group`` = ``source`` or ``family``; in group order, then file order). ``on_artifact``
    is given each held-out group and the artifact trained without it; ``only`` limits which groups are held
    out (each still trained on all others: a run can be split across processes)."""
    out: list[tuple[Example, Prediction]] = []
    feats = [text_features(ex.view.latest_user) for ex in examples]
    for held in sorted({ex.group(group) for ex in examples}):
        if only is not None and held not in only:
            continue
        if progress is not None:
            progress(held)
        keep = [i for i, ex in enumerate(examples) if ex.group(group) != held]
        train = [examples[i] for i in keep]
        test = [ex for ex in examples if ex.group(group) == held]
        artifact = train_artifact(train, config, features=[feats[i] for i in keep])
        if on_artifact is not None:
            on_artifact(held, artifact)
        clf = EffortClassifier.from_artifact(artifact)
        out.extend((ex, clf.predict(ex.view)) for ex in test)
    return out


def score_predictions(
    pairs: Sequence[tuple[Example, Prediction]], thresholds: ClassifierThresholds, *, group: str = "source"
) -> dict[str, dict[str, float]]:
    """Metrics per group (``source`` or ``family``) and ``overall`` (all pairs pooled) at the thresholds."""
    per_source: dict[str, Metrics] = defaultdict(Metrics)
    overall = Metrics()
    for ex, pred in pairs:
        chosen = choose_effort(pred, thresholds)[0]
        per_source[ex.group(group)].add(ex.think, ex.effort, chosen, DEFAULT_BUDGETS)
        overall.add(ex.think, ex.effort, chosen, DEFAULT_BUDGETS)
    results = {source: per_source[source].summary() for source in sorted(per_source)}
    results["overall"] = overall.summary()
    return results
