"""Compare two rounds' family-CV predictions on the prompts they share, and apply a written ship rule.

Two corpora and the held-out predictions ``classifier_cv.py --save`` wrote for each (``--level-rules`` runs,
so every prediction carries the median / family / source cut-point candidates). The *common prompts* are the
base corpus's prompts found (by text) in the candidate corpus; both sides are scored against the candidate
corpus's labels (``--base-labels``: the base corpus's), each prompt by the model of its own round that held
out its family. Prints, for both sides, the pooled sweep on the common prompts, the candidate's own pooled
sweep, and the ship rule of ``.cache/classifier/rules_v13.txt``:

* shortfall ``S(t)`` = the summed distance of accuracy, recall on think and no-think precision from issue
  15's targets (0.95, 0.97, 0.93), over thresholds 0.10, 0.12, ..., 0.60;
* the candidate's threshold ``t_c``: the smallest ``S`` on its own pooled CV, ties (within 0.002) to the one
  nearest ``--default`` (0.28); its level rule: the lowest effort error on think prompts at ``t_c`` among
  median, family- and source-fitted cuts, ties within 0.01 to the median;
* ship iff (A) on the common prompts its minimum ``S`` is not above the base's; (B) on the common prompts its
  effort error on think prompts at ``t_c`` (its level rule) is not above the base's at ``--base-think`` (base
  level rule ``--base-rule``, default source); (C) at ``--default`` on the common prompts its accuracy,
  recall on think and no-think precision are each within 0.01 of the base's or better; (D) its own pooled
  ``S`` at ``t_c`` is not above ``--base-own-shortfall`` (the base round's own CV at its threshold).

    C=.cache/classifier
    .venv/bin/python benchmarks/classifier_compare.py \\
        --base-data $C/corpus_v11.jsonl --base-pred $C/cv_family_pred_v11.jsonl \\
        --cand-data $C/corpus_v13.jsonl --cand-pred $C/cv_family_pred_v13.jsonl [--base-own-shortfall 0.2730]

``--like-for-like`` applies the ninth round's rule (``.cache/classifier/rules_v15.txt``) instead: both
prediction files on *every* prompt of one corpus (``--cand-data``; the same families, so the same held-out
folds), each prediction with its own held-out model's cut points (the ``level_cuts`` it was saved with); ship
iff (P, primary) the candidate's best shortfall over the grid is strictly below the base's (4 decimals), and
at ``--default`` (E) its effort error on think prompts is not above the base's and (R1-R3) its accuracy,
recall on think and no-think precision are not below the base's (3 decimals). With ``--families F1,F2`` it
also prints, at ``--default``, both sides' effort error on the think prompts of those families (the
thirteenth session's check 1c), the chosen levels among think prompts given thinking (check 1d: the share of
low, medium and high) and a per-family table of think prompts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.classifier_artifact import read_examples
from router.classifier import ClassifierThresholds, Prediction, choose_effort
from router.effort import Effort
from router.evaluation import score_predictions
from router.train import Example

TARGETS = (0.95, 0.97, 0.93)
GRID = tuple(step / 100 for step in range(10, 61, 2))
RULES = ("median", "family", "source")
Pairs = list[tuple[Example, Prediction]]
Cuts = dict[str, tuple[float, float]]


def load(data: str, pred: str) -> tuple[list[Example], dict[int, tuple[Prediction, Cuts]]]:
    examples = read_examples(data)
    preds: dict[int, tuple[Prediction, Cuts]] = {}
    for line in Path(pred).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        cuts = row["level_cuts"]
        p = Prediction(p_think=row["p_think"], levels=row["levels"], level_cuts=(cuts[0], cuts[1]))
        cands = {k: (v[0], v[1]) for k, v in row.get("level_cut_candidates", {}).items()}
        preds[row["index"]] = (p, cands)
    return examples, preds


def with_rule(pairs: list[tuple[Example, Prediction, Cuts]], rule: str) -> Pairs:
    return [(ex, dataclasses.replace(p, level_cuts=c[rule])) for ex, p, c in pairs]


def rates(pairs: Pairs, think: float) -> dict[str, float]:
    m = score_predictions(pairs, ClassifierThresholds(think=think))["overall"]
    acc, rec, prec = m["accuracy"], m["recall_think"], m["precision_nothink"]
    short = sum(max(0.0, t - v) for t, v in zip(TARGETS, (acc, rec, prec), strict=True))
    return {"acc": acc, "rec": rec, "prec": prec, "ord_T": m["effort_error_think"],
            "share": m["think_share"], "S": short}  # fmt: skip


def sweep(name: str, pairs: Pairs) -> dict[float, dict[str, float]]:
    table = {t: rates(pairs, t) for t in GRID}
    print(f"\n{name}")
    print(f"{'think':>6s} {'acc':>6s} {'rec_T':>6s} {'prec_F':>6s} {'ord_T':>6s} {'share':>6s} {'S':>6s}")
    for t, r in table.items():
        print(
            f"{t:6.2f} {r['acc']:6.3f} {r['rec']:6.3f} {r['prec']:6.3f} {r['ord_T']:6.3f} "
            f"{r['share']:6.3f} {r['S']:6.4f}"
        )
    return table


def pick_threshold(table: dict[float, dict[str, float]], default: float) -> float:
    best = min(r["S"] for r in table.values())
    near = [t for t, r in table.items() if r["S"] <= best + 0.002]
    return min(near, key=lambda t: (abs(t - default), t))


def like_for_like(data: str, base_pred: str, cand_pred: str, default: float, families: set[str]) -> int:
    """The ninth round's rule: base and candidate on every prompt of one corpus, their own cut points."""
    examples, base = load(data, base_pred)
    _, cand = load(data, cand_pred)
    if set(base) != set(cand) or len(base) != len(examples):
        print(f"the two prediction files do not cover the same {len(examples)} prompts", file=sys.stderr)
        return 2
    base_pairs = [(examples[i], p) for i, (p, _) in sorted(base.items())]
    cand_pairs = [(examples[i], p) for i, (p, _) in sorted(cand.items())]
    base_table = sweep(f"base, {len(base_pairs)} prompts, own cut points", base_pairs)
    cand_table = sweep(f"candidate, {len(cand_pairs)} prompts, own cut points", cand_pairs)
    base_min, cand_min = (min(r["S"] for r in t.values()) for t in (base_table, cand_table))
    b0, c0 = rates(base_pairs, default), rates(cand_pairs, default)
    checks = {
        "P best shortfall": (round(cand_min, 4) < round(base_min, 4), f"{cand_min:.4f} < {base_min:.4f}"),
        "E effort error think": (
            round(c0["ord_T"], 3) <= round(b0["ord_T"], 3),
            f"{c0['ord_T']:.3f} <= {b0['ord_T']:.3f}",
        ),
    }
    for name, key in (("R1 accuracy", "acc"), ("R2 recall think", "rec"), ("R3 no-think precision", "prec")):
        checks[name] = (round(c0[key], 3) >= round(b0[key], 3), f"{c0[key]:.3f} >= {b0[key]:.3f}")
    print(f"\nship rule (like for like, think {default})")
    for name, (ok, text) in checks.items():
        print(f"  {name:22s} {'pass' if ok else 'FAIL'}  {text}")
    ship = all(ok for ok, _ in checks.values())
    print(f"decision: {'SHIP' if ship else 'do not ship'}")
    if families:
        by_family(base_pairs, cand_pairs, families, default)
    return 0


def _think_mix(pairs: Pairs, thresholds: ClassifierThresholds) -> dict[Effort, int]:
    mix = dict.fromkeys((Effort.NONE, Effort.LOW, Effort.MEDIUM, Effort.HIGH), 0)
    for ex, pred in pairs:
        if ex.think:
            mix[choose_effort(pred, thresholds)[0]] += 1
    return mix


def by_family(base: Pairs, cand: Pairs, families: set[str], default: float) -> None:
    """Effort error on think prompts inside ``families``, the chosen-level mix and a per-family table."""
    th = ClassifierThresholds(think=default)
    print(f"\nthink prompts at {default}: effort error (base -> candidate), candidate chose N/L/M/H")
    every = {ex.family for ex, _ in cand}
    for name, keep in (("all families", every), (f"the {len(families)} named", families)):
        b = [(ex, p) for ex, p in base if ex.family in keep]
        c = [(ex, p) for ex, p in cand if ex.family in keep]
        eb, ec = (score_predictions(x, th)["overall"]["effort_error_think"] for x in (b, c))
        mix = _think_mix(c, th)
        given = sum(mix.values()) - mix[Effort.NONE]
        shares = " ".join(
            f"{e.value} {mix[e] / max(given, 1):.3f}" for e in (Effort.LOW, Effort.MEDIUM, Effort.HIGH)
        )
        print(
            f"  {name:14s} {eb:.3f} -> {ec:.3f}  {'/'.join(str(v) for v in mix.values())}  "
            f"given thinking: {shares}"
        )
    base_fam = score_predictions(base, th, group="family")
    cand_fam = score_predictions(cand, th, group="family")
    print(f"  {'family':22s} {'think':>5s} {'base':>6s} {'cand':>6s}  chose N/L/M/H")
    for fam in sorted({ex.family for ex, _ in cand if ex.think}):
        mix = _think_mix([(ex, p) for ex, p in cand if ex.family == fam], th)
        print(
            f"  {fam + (' *' if fam in families else ''):22s} {sum(mix.values()):5d} "
            f"{base_fam[fam]['effort_error_think']:6.3f} {cand_fam[fam]['effort_error_think']:6.3f}  "
            + "/".join(str(v) for v in mix.values())
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-data", required=True)
    parser.add_argument("--base-pred", required=True)
    parser.add_argument("--cand-data", required=True)
    parser.add_argument("--cand-pred", required=True)
    parser.add_argument(
        "--base-labels", action="store_true", help="score the common prompts on the base labels"
    )
    parser.add_argument("--base-think", type=float, default=0.28)
    parser.add_argument("--base-rule", choices=RULES, default="source")
    parser.add_argument("--base-own-shortfall", type=float, default=0.2730)
    parser.add_argument("--default", type=float, default=0.28)
    parser.add_argument(
        "--families",
        metavar="F1,F2",
        default="",
        help="with --like-for-like: also score the think prompts of these families and the chosen-level mix",
    )
    parser.add_argument(
        "--like-for-like",
        action="store_true",
        help="the ninth round's rule: both predictions on every prompt of --cand-data (rules_v15.txt)",
    )
    ns = parser.parse_args(argv)
    if ns.like_for_like:
        families = {f for f in ns.families.split(",") if f}
        return like_for_like(ns.cand_data, ns.base_pred, ns.cand_pred, ns.default, families)
    base_ex, base_pred = load(ns.base_data, ns.base_pred)
    cand_ex, cand_pred = load(ns.cand_data, ns.cand_pred)
    cand_raw = [json.loads(line) for line in Path(ns.cand_data).read_text(encoding="utf-8").splitlines()]
    base_raw = [json.loads(line) for line in Path(ns.base_data).read_text(encoding="utf-8").splitlines()]
    cand_index = {r["prompt"]: i for i, r in enumerate(cand_raw) if "prompt" in r}

    own = [(cand_ex[i], p, c) for i, (p, c) in sorted(cand_pred.items())]
    base_common: list[tuple[Example, Prediction, Cuts]] = []
    cand_common: list[tuple[Example, Prediction, Cuts]] = []
    missing = 0
    for i, (p, c) in sorted(base_pred.items()):
        j = cand_index.get(base_raw[i].get("prompt", ""))
        if j is None or j not in cand_pred:
            missing += 1
            continue
        label = base_ex[i] if ns.base_labels else cand_ex[j]
        base_common.append((label, p, c))
        cp, cc = cand_pred[j]
        cand_common.append((label, cp, cc))
    relabelled = sum(
        1
        for i in base_pred
        if (j := cand_index.get(base_raw[i].get("prompt", ""))) is not None
        and (base_ex[i].effort, base_ex[i].think) != (cand_ex[j].effort, cand_ex[j].think)
    )
    print(
        f"common prompts: {len(cand_common)} (base {len(base_pred)}, not found {missing}); labels: "
        f"{'base' if ns.base_labels else 'candidate'}; effort or think label differs on {relabelled}"
    )

    own_table = sweep(f"candidate, own pooled CV ({len(own)} prompts), median cuts", with_rule(own, "median"))
    t_c = pick_threshold(own_table, ns.default)
    rule_err = {r: rates(with_rule(own, r), t_c)["ord_T"] for r in RULES}
    best = min(rule_err.values())
    rule = "median" if rule_err["median"] <= best + 0.01 else min(rule_err, key=lambda r: rule_err[r])
    print(f"\ncandidate threshold t_c = {t_c:.2f} (own S {own_table[t_c]['S']:.4f})")
    print("level rules at t_c, own CV ord_T: " + ", ".join(f"{r} {e:.3f}" for r, e in rule_err.items()))
    print(f"chosen level rule: {rule}")

    base_pairs = with_rule(base_common, ns.base_rule)
    cand_pairs = with_rule(cand_common, rule)
    base_table = sweep(f"base on the common prompts ({ns.base_rule} cuts)", base_pairs)
    cand_table = sweep(f"candidate on the common prompts ({rule} cuts)", cand_pairs)

    base_min = min(r["S"] for r in base_table.values())
    cand_min = min(r["S"] for r in cand_table.values())
    base_ord = rates(base_pairs, ns.base_think)["ord_T"]
    cand_ord = cand_table[t_c]["ord_T"]
    b0, c0 = base_table[ns.default], cand_table[ns.default]
    own_s = own_table[t_c]["S"]
    checks = {
        "A common min S": (cand_min <= base_min, f"{cand_min:.4f} <= {base_min:.4f}"),
        "B common ord_T": (cand_ord <= base_ord, f"{cand_ord:.3f} (t_c) <= {base_ord:.3f} ({ns.base_think})"),
        "C common at default": (
            all(c0[k] >= b0[k] - 0.01 for k in ("acc", "rec", "prec")),
            " ".join(f"{k} {c0[k]:.3f} vs {b0[k]:.3f}" for k in ("acc", "rec", "prec")),
        ),
        "D own S at t_c": (own_s <= ns.base_own_shortfall, f"{own_s:.4f} <= {ns.base_own_shortfall:.4f}"),
    }
    print("\nship rule")
    for name, (ok, text) in checks.items():
        print(f"  {name:22s} {'pass' if ok else 'FAIL'}  {text}")
    ship = all(ok for ok, _ in checks.values())
    print(f"decision: {'SHIP' if ship else 'do not ship'} (threshold {t_c:.2f}, level rule {rule})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
