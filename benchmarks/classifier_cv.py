"""Leave-one-group-out cross-validation of the effort classifier (a whole format family, or a source).

For every group in the data (``--group family``: the records' ``family`` field, e.g. all word problems, all
templated NLP tasks; ``--group source``: the ``source`` field): train on all other groups (the full recipe,
calibration included), then score the held-out group with the default thresholds. Prints per group and
overall: think/no-think accuracy, recall on think=true, precision on think=false, ordinal error of the effort
level (mean absolute rank difference over none<low<medium<high), the same error on think=true prompts only,
and the predicted vs labelled think-share.

    .venv/bin/python benchmarks/classifier_cv.py [--data .cache/classifier/corpus.jsonl] [--group family]
        [--think 0.26] [--sweep] [--save PRED.jsonl | --load PRED.jsonl]

``--save`` keeps the held-out predictions, so ``--load`` can re-score them (other thresholds, ``--sweep``)
without training again.

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
from router.classifier import ClassifierThresholds, Prediction
from router.train import Example, loso_predictions, score_predictions


def _fmt(value: float) -> str:
    return "   -  " if math.isnan(value) else f"{value:6.3f}"


def _save(examples: list[Example], pairs: list[tuple[Example, Prediction]], path: Path) -> None:
    position = {id(ex): i for i, ex in enumerate(examples)}
    with path.open("w", encoding="utf-8") as out:
        for ex, pred in pairs:
            row = {"index": position[id(ex)], "p_think": pred.p_think, "levels": pred.levels}
            out.write(json.dumps(row) + "\n")


def _load(examples: list[Example], path: Path) -> list[tuple[Example, Prediction]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        pairs.append((examples[row["index"]], Prediction(p_think=row["p_think"], levels=row["levels"])))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=".cache/classifier/corpus.jsonl")
    parser.add_argument("--group", choices=("family", "source"), default="family", help="what is left out")
    parser.add_argument("--think", type=float, default=ClassifierThresholds().think, help="think threshold")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--sweep", action="store_true", help="also print pooled metrics per think threshold")
    parser.add_argument("--save", help="write the held-out predictions to this JSONL file")
    parser.add_argument("--load", help="score the held-out predictions saved by --save (no training)")
    ns = parser.parse_args(argv)
    examples = read_examples(ns.data)
    started = time.perf_counter()
    if ns.load:
        pairs = _load(examples, Path(ns.load))
    else:
        from tqdm import tqdm

        groups = sorted({ex.group(ns.group) for ex in examples})
        bar = tqdm(total=len(groups), desc=f"held-out {ns.group}", file=sys.stderr)

        def step(source: str) -> None:
            bar.set_postfix_str(source)
            bar.update(1)

        pairs = loso_predictions(examples, group=ns.group, progress=step)
        bar.close()
    if ns.save:
        _save(examples, pairs, Path(ns.save))
    results = score_predictions(pairs, ClassifierThresholds(think=ns.think), group=ns.group)
    if ns.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"leave-one-{ns.group}-out CV, think threshold {ns.think}, {len(examples)} examples")
    cols = "".join(f"{c:>7s}" for c in ("acc", "rec_T", "prec_F", "ord", "ord_T", "share", "label"))
    print(f"{'held-out ' + ns.group:22s} {'n':>5s}{cols}")
    for source, m in results.items():
        print(
            f"{source:22s} {int(m['n']):5d} {_fmt(m['accuracy'])} {_fmt(m['recall_think'])} "
            f"{_fmt(m['precision_nothink'])} {_fmt(m['ordinal_error'])} {_fmt(m['effort_error_think'])} "
            f"{_fmt(m['think_share'])} {_fmt(m['true_think_share'])}"
        )
    if ns.sweep:
        print(f"\n{'think':>6s} {'acc':>6s} {'rec_T':>6s} {'prec_F':>6s} {'ord_T':>6s} {'share':>6s}")
        for step_ in range(10, 61, 2):
            m = score_predictions(pairs, ClassifierThresholds(think=step_ / 100))["overall"]
            print(
                f"{step_ / 100:6.2f} {m['accuracy']:6.3f} {m['recall_think']:6.3f} "
                f"{m['precision_nothink']:6.3f} {m['effort_error_think']:6.3f} {m['think_share']:6.3f}"
            )
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
