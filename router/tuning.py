"""A scored, labelled set at an operating point: metrics, the sweep over the think threshold, misjudgements.

``thinkgate eval`` and the console's Tune view both call these functions on the classifier's predictions, so
the page and the command print the same numbers for the same thresholds and budgets (one path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.classifier import ClassifierThresholds, Prediction, choose_effort
from router.effort import Effort
from router.evaluation import Metrics
from router.train import Example

#: the think thresholds a sweep visits: 0.00, 0.01, ..., 1.00 (the console's operating point snaps to them)
THINK_GRID: tuple[float, ...] = tuple(i / 100 for i in range(101))


@dataclass(frozen=True, slots=True)
class Judgement:
    """One example at an operating point: its label, the effort chosen for it and why."""

    index: int
    think: bool
    label: Effort
    chosen: Effort
    p_think: float
    reason: str

    @property
    def wrong(self) -> bool:
        """Thinking on/off differs from the label (what ``accuracy`` counts)."""
        return self.chosen.thinks != self.think


def metrics_at(
    examples: Sequence[Example],
    preds: Sequence[Prediction],
    thresholds: ClassifierThresholds,
    budgets: Mapping[str, int | None],
) -> Metrics:
    """The evaluation metrics of ``preds`` against the labels under ``thresholds`` and ``budgets``."""
    metrics = Metrics()
    for ex, pred in zip(examples, preds, strict=True):
        metrics.add(ex.think, ex.effort, choose_effort(pred, thresholds)[0], budgets)
    return metrics


def sweep(
    examples: Sequence[Example],
    preds: Sequence[Prediction],
    thresholds: ClassifierThresholds,
    budgets: Mapping[str, int | None],
    grid: Sequence[float] = THINK_GRID,
) -> list[dict[str, Any]]:
    """The metrics summary at each think threshold of ``grid`` (``medium``/``high`` kept), with ``think``."""
    out: list[dict[str, Any]] = []
    for think in grid:
        th = thresholds.model_copy(update={"think": think})
        out.append({"think": think, **metrics_at(examples, preds, th, budgets).summary()})
    return out


def judge(
    examples: Sequence[Example], preds: Sequence[Prediction], thresholds: ClassifierThresholds
) -> list[Judgement]:
    """Every example's judgement under ``thresholds``, in input order."""
    out: list[Judgement] = []
    for i, (ex, pred) in enumerate(zip(examples, preds, strict=True)):
        chosen, reason = choose_effort(pred, thresholds)
        out.append(Judgement(i, ex.think, ex.effort, chosen, pred.p_think, reason))
    return out


def misjudged(judgements: Sequence[Judgement], think: float, limit: int) -> list[Judgement]:
    """The wrongly judged examples, most confidently wrong first (farthest ``p_think`` from ``think``)."""
    wrong = [j for j in judgements if j.wrong]
    wrong.sort(key=lambda j: (-abs(j.p_think - think), j.index))
    return wrong[:limit]
