"""``thinkgate eval``: score the classifier on a labelled JSONL file.

Prints think/no-think accuracy, recall on think=true, precision on think=false, the confusion matrix over
none/low/medium/high, think-share, ordinal error and the mean thinking budget per request (an upper bound on
thinking tokens) for the chosen efforts vs the labels. ``--policy`` reads ``budgets:`` and
``classifier: {thresholds: ...}`` from a policy YAML; ``--plot`` draws accuracy against the thinking tokens
spent per request as the think threshold moves, and the metrics against the threshold, with the operating
point marked. The metrics come from :mod:`router.tuning`, which the console's Tune view uses too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.classifier_artifact import load_classifier, read_examples
from router.classifier import ArtifactError, ClassifierThresholds, Prediction
from router.effort import CLASSIFIER_LEVELS
from router.evaluation import DEFAULT_BUDGETS
from router.train import DataError, Example
from router.tuning import metrics_at, sweep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("--data", required=True, help="labelled JSONL file")
    parser.add_argument("--policy", help="policy YAML: reads budgets and classifier.thresholds")
    parser.add_argument("--artifact", help="classifier artifact (default: the packaged one)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--plot", help="write a PNG: accuracy vs thinking tokens spent, metrics vs threshold")


def read_policy_parts(path: str) -> tuple[ClassifierThresholds, dict[str, int | None]]:
    """Thresholds and budgets from a policy YAML (plain ``yaml.safe_load``; the full loader is elsewhere)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read policy {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise DataError(f"policy {path} must be a mapping")
    budgets: dict[str, int | None] = dict(DEFAULT_BUDGETS)
    raw_budgets = data.get("budgets") or {}
    if not isinstance(raw_budgets, Mapping):
        raise DataError("policy budgets must be a mapping")
    for level in ("low", "medium", "high"):
        if level in raw_budgets:
            value = raw_budgets[level]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise DataError(f"policy budgets.{level} must be a positive integer or null")
            budgets[level] = value
    classifier = data.get("classifier") or {}
    thresholds_raw = classifier.get("thresholds") if isinstance(classifier, Mapping) else None
    try:
        thresholds = ClassifierThresholds.model_validate(thresholds_raw or {})
    except ValueError as exc:
        raise DataError(f"policy classifier.thresholds: {exc}") from exc
    return thresholds, budgets


def _predict_all(examples: list[Example], path: str | None) -> list[Prediction]:
    from tqdm import tqdm

    clf = load_classifier(path)
    return [clf.predict(ex.view) for ex in tqdm(examples, desc="classifying", file=sys.stderr, disable=None)]


def _plot(
    examples: list[Example],
    preds: list[Prediction],
    th: ClassifierThresholds,
    budgets: Mapping[str, int | None],
    out: str,
) -> None:
    """Accuracy against thinking tokens spent (the trade-off a threshold buys), and the metrics against the
    think threshold; the operating point marked on both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sweep(examples, preds, th, budgets)
    here = metrics_at(examples, preds, th, budgets).summary()
    grid = [p["think"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot([p["budget_per_request"] for p in points], [p["accuracy"] for p in points], marker=".", ms=3)
    left.plot([here["budget_per_request"]], [here["accuracy"]], "o", color="crimson", ms=8)
    left.annotate(
        f"threshold {th.think:.2f}: accuracy {here['accuracy']:.3f}, {here['budget_per_request']:.0f} tokens",
        (here["budget_per_request"], here["accuracy"]),
        textcoords="offset points",
        xytext=(8, -14),
        fontsize=8,
    )
    left.set_xlabel("thinking tokens per request (budget of the chosen effort, mean)")
    left.set_ylabel("think/no-think accuracy")
    left.set_title("accuracy vs thinking tokens spent")
    left.grid(alpha=0.3)
    for key, label in (
        ("accuracy", "accuracy"),
        ("recall_think", "think recall"),
        ("think_share", "think-share"),
    ):
        right.plot(grid, [p[key] for p in points], label=label)
    right.axvline(th.think, color="crimson", linestyle="--", label=f"operating point ({th.think:.2f})")
    right.set_xlabel("think threshold on p_think")
    right.set_ylabel("share of requests")
    right.set_ylim(0, 1.02)
    right.set_title("metrics vs threshold")
    right.legend(loc="lower left", fontsize=8)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _print_report(result: dict[str, Any]) -> None:
    s = result["summary"]
    print(f"examples: {int(s['n'])}   thresholds: {result['thresholds']}")
    for key in (
        "accuracy",
        "recall_think",
        "precision_nothink",
        "ordinal_error",
        "effort_error_think",
        "think_share",
        "true_think_share",
    ):
        value = s[key]
        print(f"  {key:18s} {'-' if math.isnan(value) else f'{value:.4f}'}")
    print(f"  budgets {result['budgets']}")
    print(
        f"  thinking budget per request: chosen {s['budget_per_request']:.0f} tokens, "
        f"labels {s['label_budget_per_request']:.0f} tokens"
    )
    levels = [e.value for e in CLASSIFIER_LEVELS]
    print("confusion (rows = label, columns = chosen):")
    print("          " + "".join(f"{name:>8s}" for name in levels))
    for name, row in zip(levels, result["confusion"], strict=True):
        print(f"  {name:8s}" + "".join(f"{n:8d}" for n in row))


def run(ns: argparse.Namespace) -> int:
    """Evaluate; returns the exit status (2 on bad input)."""
    try:
        thresholds, budgets = (
            read_policy_parts(ns.policy) if ns.policy else (ClassifierThresholds(), dict(DEFAULT_BUDGETS))
        )
        examples = read_examples(ns.data)
        preds = _predict_all(examples, ns.artifact)
    except (DataError, ArtifactError) as exc:
        print(f"thinkgate eval: {exc}", file=sys.stderr)
        return 2
    metrics = metrics_at(examples, preds, thresholds, budgets)
    result = {
        "summary": metrics.summary(),
        "confusion": metrics.confusion,
        "thresholds": thresholds.model_dump(),
        "budgets": budgets,
    }
    if ns.json:
        print(json.dumps(result, indent=2))
    else:
        _print_report(result)
    if ns.plot:
        _plot(examples, preds, thresholds, budgets, ns.plot)
        print(f"wrote {ns.plot}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m gateway.commands.eval``)."""
    parser = argparse.ArgumentParser(prog="thinkgate eval", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
