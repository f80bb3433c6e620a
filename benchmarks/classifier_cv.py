"""Leave-one-group-out cross-validation of the effort classifier (a whole format family, or a source).

For every group in the data (``--group family``: the records' ``family`` field, e.g. all word problems, all
templated NLP tasks; ``--group source``: the ``source`` field): train on all other groups (the full recipe,
calibration included), then score the held-out group with the default thresholds. Prints per group and
overall: think/no-think accuracy, recall on think=true, precision on think=false, ordinal error of the effort
level (mean absolute rank difference over none<low<medium<high), the same error on think=true prompts only,
and the predicted vs labelled think-share.

    .venv/bin/python benchmarks/classifier_cv.py [--data .cache/classifier/corpus.jsonl] [--group family]
        [--think 0.26] [--sweep] [--level-rules] [--save PRED.jsonl | --load PRED.jsonl]
        [--calibration-folds K] [--fold-split greedy|hash] [--think-weight-share W]
        [--calibration-think-share P] [--weight-group source|family]
        [--word-vectors VECTORS.npz [--word-vectors-think-only]] [--level-model multinomial|ordinal]
        [--level-temperature family|source] [--levels-c C] [--level-without SIGNALS]
        [--only G1,G2]

``--save`` keeps the held-out predictions, so ``--load`` can re-score them (other thresholds, ``--sweep``)
without training again.

``--sweep`` also prints pooled accuracy and recall for a range of think thresholds (same predictions).

The level cut points are each held-out model's own: fitted inside each training run on its out-of-fold
predictions (``--median-level-cuts``: 0.5 / 0.5); ``--medium M --high H`` score with fixed ones instead
(``--medium 0.5 --high 0.5``: the median rule on the same predictions).

``--level-rules`` fits every held-out model's cut points three ways (median 0.5 / 0.5; on its calibration
folds grouped by family; on folds grouped by source: ``TrainConfig.all_level_cuts``), keeps them with
``--save``, and prints the effort error on think prompts of each rule on the same held-out predictions.

``--levels`` also prints, per group, how the think=true prompts are labelled (low/medium/high) and which
effort the held-out model chose for them at the threshold (none/low/medium/high): whether the effort head
uses the whole scale where it should.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.classifier_artifact import read_examples, read_word_vectors
from router.classifier import MEDIAN_CUTS, ClassifierThresholds, Prediction, choose_effort
from router.evaluation import loso_predictions, score_predictions
from router.train import Example, TrainConfig, signal_list


def _fmt(value: float) -> str:
    return "   -  " if math.isnan(value) else f"{value:6.3f}"


Candidates = dict[int, dict[str, tuple[float, float]]]


def _save(
    examples: list[Example], pairs: list[tuple[Example, Prediction]], cands: Candidates, path: Path
) -> None:
    position = {id(ex): i for i, ex in enumerate(examples)}
    with path.open("w", encoding="utf-8") as out:
        for ex, pred in pairs:
            row: dict[str, Any] = {
                "index": position[id(ex)],
                "p_think": pred.p_think,
                "levels": pred.levels,
                "level_cuts": list(pred.level_cuts),
            }
            if id(ex) in cands:
                row["level_cut_candidates"] = {k: list(v) for k, v in cands[id(ex)].items()}
            out.write(json.dumps(row) + "\n")


def _load(examples: list[Example], path: Path, cands: Candidates) -> list[tuple[Example, Prediction]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        cuts = tuple(row.get("level_cuts", MEDIAN_CUTS))
        pred = Prediction(p_think=row["p_think"], levels=row["levels"], level_cuts=(cuts[0], cuts[1]))
        ex = examples[row["index"]]
        pairs.append((ex, pred))
        if "level_cut_candidates" in row:
            cands[id(ex)] = {k: (v[0], v[1]) for k, v in row["level_cut_candidates"].items()}
    return pairs


def _print_level_rules(
    pairs: list[tuple[Example, Prediction]], cands: Candidates, thresholds: ClassifierThresholds
) -> None:
    """Effort error on think prompts of each level rule, on the same held-out predictions."""
    print(f"\nlevel rules at think {thresholds.think} (same held-out predictions, each model's cut points)")
    print(f"{'rule':8s} {'ord_T':>6s} {'ord':>6s}  chosen L/M/H on think prompts  cut points (medium, high)")
    for rule in ("median", "family", "source"):
        if not all(rule in cands.get(id(ex), {}) for ex, _ in pairs):
            print(f"{rule:8s} (not fitted in this run)")
            continue
        swapped = [(ex, dataclasses.replace(pred, level_cuts=cands[id(ex)][rule])) for ex, pred in pairs]
        m = score_predictions(swapped, thresholds)["overall"]
        mix = {"low": 0, "medium": 0, "high": 0}
        for ex, pred in swapped:
            effort, _ = choose_effort(pred, thresholds)
            if ex.think and effort.value in mix:
                mix[effort.value] += 1
        cuts = sorted({cands[id(ex)][rule] for ex, _ in pairs})
        shown = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in cuts)
        print(
            f"{rule:8s} {m['effort_error_think']:6.3f} {m['ordinal_error']:6.3f}  "
            f"{mix['low']}/{mix['medium']}/{mix['high']:<22d} {shown}"
        )


def _print_levels(
    pairs: list[tuple[Example, Prediction]], thresholds: ClassifierThresholds, group: str
) -> None:
    levels = ("none", "low", "medium", "high")
    label: dict[str, dict[str, int]] = {}
    chosen: dict[str, dict[str, int]] = {}
    for ex, pred in pairs:
        if not ex.think:
            continue
        for key in (ex.group(group), "overall"):
            label.setdefault(key, dict.fromkeys(levels, 0))[ex.effort.value] += 1
            effort, _ = choose_effort(pred, thresholds)
            chosen.setdefault(key, dict.fromkeys(levels, 0))[effort.value] += 1
    print(
        f"\neffort on think=true prompts at think {thresholds.think}"
        " (label low/medium/high -> chosen none/low/medium/high)"
    )
    print(f"{'held-out ' + group:22s} {'n':>5s} {'label L/M/H':>15s}   {'chosen N/L/M/H':>19s}")
    for key in [*sorted(k for k in label if k != "overall"), "overall"]:
        lab, cho = label[key], chosen[key]
        lab_s = "/".join(f"{lab[e]}" for e in levels[1:])
        cho_s = "/".join(f"{cho[e]}" for e in levels)
        print(f"{key:22s} {sum(lab.values()):5d} {lab_s:>15s}   {cho_s:>19s}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=".cache/classifier/corpus.jsonl")
    parser.add_argument("--group", choices=("family", "source"), default="family", help="what is left out")
    parser.add_argument("--think", type=float, default=ClassifierThresholds().think, help="think threshold")
    parser.add_argument("--medium", type=float, help="fixed medium cut point (default: each model's own)")
    parser.add_argument("--high", type=float, help="fixed high cut point (default: each model's own)")
    parser.add_argument(
        "--median-level-cuts",
        dest="fit_level_cuts",
        action="store_false",
        help="train without fitting the level cut points (TrainConfig.fit_level_cuts)",
    )
    parser.add_argument(
        "--calibration-folds", type=int, help="calibration folds (TrainConfig.calibration_folds)"
    )
    parser.add_argument(
        "--fold-split", choices=("greedy", "hash"), help="how groups are dealt into the calibration folds"
    )
    parser.add_argument(
        "--think-weight-share", type=float, help="think share of the training weight (TrainConfig)"
    )
    parser.add_argument(
        "--calibration-think-share", type=float, help="think share of the Platt fit's weight (TrainConfig)"
    )
    parser.add_argument(
        "--weight-group", choices=("source", "family"), help="what weighs the same in training (TrainConfig)"
    )
    parser.add_argument(
        "--word-vectors", metavar="PATH", help="static word vectors (.npz) as extra signals (TrainConfig)"
    )
    parser.add_argument(
        "--word-vectors-think-only",
        dest="word_vectors_levels",
        action="store_false",
        help="the word vectors in the think model only (TrainConfig.word_vectors_levels off)",
    )
    parser.add_argument(
        "--level-model",
        choices=("multinomial", "ordinal"),
        help="the level head (TrainConfig.level_model; default multinomial)",
    )
    parser.add_argument(
        "--level-temperature",
        dest="level_temperature_group",
        choices=("family", "source"),
        help="the folds the level temperature is fitted on (TrainConfig.level_temperature_group)",
    )
    parser.add_argument("--levels-c", type=float, help="inverse L2 strength of the level head (TrainConfig)")
    parser.add_argument(
        "--level-without",
        metavar="SIGNALS",
        type=signal_list,
        help="signals the level head is fitted without, comma-separated, length = the six length signals, "
        "ngrams = every n-gram (TrainConfig.level_without)",
    )
    parser.add_argument(
        "--only",
        metavar="G1,G2",
        help="hold out only these groups (to split a run across processes: --save each, concatenate, --load)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--sweep", action="store_true", help="also print pooled metrics per think threshold")
    parser.add_argument("--save", help="write the held-out predictions to this JSONL file")
    parser.add_argument("--load", help="score the held-out predictions saved by --save (no training)")
    parser.add_argument("--levels", action="store_true", help="also print the effort mix on think prompts")
    parser.add_argument(
        "--level-rules",
        action="store_true",
        help="fit the cut points three ways (median, family folds, source folds) and compare them",
    )
    ns = parser.parse_args(argv)
    examples = read_examples(ns.data)
    started = time.perf_counter()
    cands: Candidates = {}
    if ns.load:
        pairs = _load(examples, Path(ns.load), cands)
    else:
        from tqdm import tqdm

        groups = sorted({ex.group(ns.group) for ex in examples})
        only = set(ns.only.split(",")) if ns.only else None
        if only is not None:
            if only - set(groups):
                parser.error(f"--only: no such {ns.group}: {', '.join(sorted(only - set(groups)))}")
            groups = [g for g in groups if g in only]
        bar = tqdm(total=len(groups), desc=f"held-out {ns.group}", file=sys.stderr)

        def step(source: str) -> None:
            bar.set_postfix_str(source)
            bar.update(1)

        def keep(held: str, artifact: Any) -> None:
            found = artifact["metadata"].get("level_cut_candidates", {})
            for ex in examples:
                if ex.group(ns.group) == held:
                    cands[id(ex)] = {k: (v[0], v[1]) for k, v in found.items()}

        split: dict[str, Any] = {}
        if ns.calibration_folds is not None:
            split["calibration_folds"] = ns.calibration_folds
        if ns.fold_split is not None:
            split["fold_split"] = ns.fold_split
        for key in (
            "think_weight_share",
            "calibration_think_share",
            "weight_group",
            "level_model",
            "level_temperature_group",
            "levels_c",
        ):
            if getattr(ns, key) is not None:
                split[key] = getattr(ns, key)
        if ns.level_without:
            split["level_without"] = ns.level_without
        if ns.word_vectors:
            split["word_vectors"] = read_word_vectors(ns.word_vectors)
            split["word_vectors_levels"] = ns.word_vectors_levels
        config = TrainConfig(fit_level_cuts=ns.fit_level_cuts, all_level_cuts=ns.level_rules, **split)
        pairs = loso_predictions(examples, config, group=ns.group, progress=step, on_artifact=keep, only=only)
        bar.close()
    if ns.save:
        _save(examples, pairs, cands, Path(ns.save))
    base = ClassifierThresholds(think=ns.think, medium=ns.medium, high=ns.high)
    results = score_predictions(pairs, base, group=ns.group)
    if ns.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"leave-one-{ns.group}-out CV, think threshold {ns.think}, {len(examples)} examples")
    cuts = sorted({pred.level_cuts for _, pred in pairs})
    fixed = f"{ns.medium or 'own'}, {ns.high or 'own'}"
    print(f"level cut points (medium, high): {fixed}; the models' own: {cuts}")
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
            m = score_predictions(pairs, base.model_copy(update={"think": step_ / 100}))["overall"]
            print(
                f"{step_ / 100:6.2f} {m['accuracy']:6.3f} {m['recall_think']:6.3f} "
                f"{m['precision_nothink']:6.3f} {m['effort_error_think']:6.3f} {m['think_share']:6.3f}"
            )
    if ns.levels:
        _print_levels(pairs, base, ns.group)
    if ns.level_rules or cands:
        _print_level_rules(pairs, cands, base)
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
