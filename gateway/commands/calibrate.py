"""``thinkgate calibrate``: propose classifier thresholds for a target think-share on a JSONL file.

The think threshold is the ``(1 - share)`` quantile of ``p_think`` over the file, so that the requested share
of its prompts would think; the level cut points stay unset (the artifact's own). Prints a YAML snippet for
the policy file and the accuracy and recall those thresholds give on the file's labels.
"""

from __future__ import annotations

import argparse
import sys

from gateway.classifier_artifact import load_classifier, read_examples
from router.classifier import ArtifactError, ClassifierThresholds, choose_effort
from router.evaluation import DEFAULT_BUDGETS, Metrics
from router.train import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("--data", required=True, help="labelled JSONL file of representative prompts")
    parser.add_argument(
        "--target-think-share", type=float, required=True, help="wanted think-share in (0, 1)"
    )
    parser.add_argument("--artifact", help="classifier artifact (default: the packaged one)")


def propose_think_threshold(p_think: list[float], share: float) -> float:
    """The threshold on ``p_think`` that makes about ``share`` of the given scores think."""
    if not 0.0 < share < 1.0:
        raise ValueError("target think-share must be strictly between 0 and 1")
    if not p_think:
        raise ValueError("no prompts to calibrate on")
    ranked = sorted(p_think, reverse=True)
    k = max(1, min(len(ranked), round(share * len(ranked))))
    upper = ranked[k - 1]
    lower = ranked[k] if k < len(ranked) else 0.0
    return round((upper + lower) / 2, 4)


def run(ns: argparse.Namespace) -> int:
    """Propose thresholds; returns the exit status (2 on bad input)."""
    try:
        examples = read_examples(ns.data)
        clf = load_classifier(ns.artifact)
        preds = [clf.predict(ex.view) for ex in examples]
        think = propose_think_threshold([p.p_think for p in preds], ns.target_think_share)
    except (DataError, ArtifactError, ValueError) as exc:
        print(f"thinkgate calibrate: {exc}", file=sys.stderr)
        return 2
    thresholds = ClassifierThresholds(think=think)
    metrics = Metrics()
    for ex, pred in zip(examples, preds, strict=True):
        metrics.add(ex.think, ex.effort, choose_effort(pred, thresholds)[0], DEFAULT_BUDGETS)
    s = metrics.summary()
    print(f"# {len(examples)} prompts; think-share at this threshold {s['think_share']:.3f}")
    print(f"# on the labels: accuracy {s['accuracy']:.3f}, recall on think=true {s['recall_think']:.3f}")
    print("classifier:")
    print("  thresholds:")
    print(f"    think: {thresholds.think}")
    medium, high = clf.level_cuts
    print(f"    # medium: {medium}, high: {high} are the artifact's own level cut points (unset = those)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m gateway.commands.calibrate``)."""
    parser = argparse.ArgumentParser(prog="thinkgate calibrate", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
