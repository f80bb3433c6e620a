"""Leave-one-source-out cross-validation of the effort classifier.

For every source in the data: train on all other sources (the full recipe, calibration included), then score
the held-out source with the default thresholds. Prints per source and overall: think/no-think accuracy,
recall on think=true, precision on think=false, ordinal error of the effort level (mean absolute rank
difference over none<low<medium<high) and the predicted vs labelled think-share.

    .venv/bin/python benchmarks/classifier_cv.py [--data ../shared/data/effort_train.jsonl] [--think 0.35]
        [--sweep]

``--sweep`` also prints pooled accuracy and recall for a range of think thresholds (same predictions).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.classifier_artifact import read_examples
from router.classifier import ClassifierThresholds
from router.train import loso_predictions, score_predictions


def _fmt(value: float) -> str:
    return "   -  " if math.isnan(value) else f"{value:6.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/effort_train.jsonl")
    parser.add_argument("--think", type=float, default=ClassifierThresholds().think, help="think threshold")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--sweep", action="store_true", help="also print pooled metrics per think threshold")
    ns = parser.parse_args(argv)
    examples = read_examples(ns.data)
    started = time.perf_counter()
    from tqdm import tqdm

    sources = sorted({ex.source for ex in examples})
    bar = tqdm(total=len(sources), desc="held-out source", file=sys.stderr)

    def step(source: str) -> None:
        bar.set_postfix_str(source)
        bar.update(1)

    pairs = loso_predictions(examples, progress=step)
    bar.close()
    results = score_predictions(pairs, ClassifierThresholds(think=ns.think))
    if ns.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"leave-one-source-out CV, think threshold {ns.think}, {len(examples)} examples")
    cols = "".join(f"{c:>7s}" for c in ("acc", "rec_T", "prec_F", "ord", "share", "label"))
    print(f"{'held-out source':20s} {'n':>5s}{cols}")
    for source, m in results.items():
        print(
            f"{source:20s} {int(m['n']):5d} {_fmt(m['accuracy'])} {_fmt(m['recall_think'])} "
            f"{_fmt(m['precision_nothink'])} {_fmt(m['ordinal_error'])} {_fmt(m['think_share'])} "
            f"{_fmt(m['true_think_share'])}"
        )
    if ns.sweep:
        print(f"\n{'think':>6s} {'acc':>6s} {'rec_T':>6s} {'share':>6s}")
        for step_ in range(10, 61, 2):
            m = score_predictions(pairs, ClassifierThresholds(think=step_ / 100))["overall"]
            print(f"{step_ / 100:6.2f} {m['accuracy']:6.3f} {m['recall_think']:6.3f} {m['think_share']:6.3f}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
