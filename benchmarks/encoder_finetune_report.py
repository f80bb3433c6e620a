"""The ``report`` sub-command of ``encoder_finetune_cv.py`` (issue 15): the fine-tuned encoder's out-of-fold
predictions scored against the fast stage's on the same folds — pooled, per fold, per family — and the
decision rule fixed before the run (see that script's docstring)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
from encoder_folds import LEVELS, RANK, read_records
from think_scores import Array, logit, metrics

THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)


def _at_recall(p: Array, y: Array, floor: float = 0.97) -> tuple[float, float, float, float, float] | None:
    """(threshold, acc, rec_T, prec_F, share) with the best accuracy among thresholds with recall >= floor."""
    best = None
    for t in THRESHOLDS:
        m = metrics(p >= t, y)
        if m[1] >= floor and (best is None or m[0] > best[1]):
            best = (float(t), *m)
    return best


def _max_acc(p: Array, y: Array) -> tuple[float, float, float, float, float]:
    rows = [(float(t), *metrics(p >= t, y)) for t in THRESHOLDS]
    return max(rows, key=lambda r: r[1])


def _fmt_best(b: tuple[float, ...] | None, floor: float = 0.97) -> str:
    if b is None:
        return f"recall never >= {floor:.2f}"
    return f"t={b[0]:.2f} acc {b[1]:.3f} rec_T {b[2]:.3f} prec_F {b[3]:.3f} share {b[4]:.3f}"


def _read_p(path: str, n: int, field: str = "p_think") -> Array:
    out = np.full(n, np.nan)
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out[row["index"]] = row[field]
    return out


def cmd_report(ns: argparse.Namespace) -> int:
    records = read_records(ns.data)
    y = np.array([r.think for r in records])
    fam = np.array([r.family for r in records])
    n = len(records)
    p_ft = _read_p(ns.pred, n)
    fold = np.nan_to_num(_read_p(ns.pred, n, "fold"), nan=-1).astype(int)
    lv_ft = np.zeros((n, 3))
    for line in Path(ns.pred).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        lv_ft[row["index"]] = [row["levels"][x] for x in LEVELS]
    p_fast = _read_p(ns.fast, n)
    if np.isnan(p_fast).any():
        raise SystemExit(f"{ns.fast} does not cover every record of {ns.data}")
    m = ~np.isnan(p_ft)  # a cut-short run scores the folds it finished
    done = sorted(set(fold[m].tolist()))
    print(
        f"{n} prompts, {m.sum()} with a fine-tuned held-out prediction (folds {done}); "
        f"think-share there {y[m].mean():.3f}"
    )
    a = ns.avg_weight
    lo, hi = ns.band
    band = (p_fast >= lo) & (p_fast < hi)
    p_ft0 = np.where(m, p_ft, 0.5)
    models = {"fast, same folds": p_fast}
    if ns.fast_lofo:
        models["fast, leave-one-family-out"] = _read_p(ns.fast_lofo, n)
    models["fine-tuned MiniLM"] = p_ft0
    models[f"logit avg, {a:.2f} fine-tuned"] = 1 / (1 + np.exp(-((1 - a) * logit(p_fast) + a * logit(p_ft0))))
    # The cascade as one score: the fine-tuned probability inside the band, 0 or 1 (the fast stage's
    # decision at ``hi``) outside it, so a threshold t2 on it is the cascade at t2.
    models[f"cascade [{lo:.2f}, {hi:.2f})"] = np.where(band, p_ft0, (p_fast >= hi).astype(float))
    print(
        f"cascade: the fine-tuned model decides where the fast stage's p_think is in [{lo:.2f}, {hi:.2f}): "
        f"{band[m].mean():.3f} of the prompts reach it"
    )

    print("\npooled; @rec>=.97: the best accuracy among thresholds with recall on think >= 0.97")
    at = {}
    for name, p in models.items():
        best = _at_recall(p[m], y[m])
        at[name] = best
        print(f"  {name:30s} @rec>=.97 {_fmt_best(best)}")
        print(f"  {'':30s} max acc   {_fmt_best(_max_acc(p[m], y[m]))}")
    for name, p in list(models.items())[: 2 if ns.fast_lofo else 1]:
        fixed = metrics(p[m] >= ns.fast_threshold, y[m])
        print(
            f"  {name:30s} @{ns.fast_threshold:.2f}     acc {fixed[0]:.3f} rec_T {fixed[1]:.3f} "
            f"prec_F {fixed[2]:.3f} share {fixed[3]:.3f}"
        )

    if ns.diag_floors:
        print("  diagnostic (chosen after the run, not part of the decision): best accuracy at recall floors")
        for name, p in models.items():
            cells = [f"rec>={fl:.2f}: {_fmt_best(_at_recall(p[m], y[m], fl), fl)}" for fl in ns.diag_floors]
            low = metrics(p[m] >= THRESHOLDS[0], y[m])
            print(f"  {name:30s} " + ("\n" + " " * 33).join(cells))
            print(f"  {'':30s} recall at the lowest threshold {THRESHOLDS[0]:.2f}: {low[1]:.3f}")

    ref = "fast, same folds"
    names = list(models)
    thr = {name: (at[name][0] if at[name] else 0.5) for name in names}
    folds = sorted(set(fold[m].tolist()))
    print("\nper fold: accuracy (recall on think) at each model's pooled @rec>=.97 threshold")
    print("  fold     n " + " ".join(f"{name[:18]:>20s}" for name in names))
    per_fold: dict[str, list[float]] = {name: [] for name in names}
    for f in folds:
        mf = m & (fold == f)
        cells = []
        for name in names:
            met = metrics(models[name][mf] >= thr[name], y[mf])
            per_fold[name].append(met[0])
            cells.append(f"{met[0]:.3f} ({met[1]:.3f})")
        print(f"  {f:4d} {mf.sum():5d} " + " ".join(f"{c:>20s}" for c in cells))

    print(
        f"\ndecision (rules_ft_v11.txt): helps iff pooled acc @rec>=.97 >= {ref} + {ns.margin:.3f} "
        f"and per-fold acc >= {ref} + {ns.margin:.3f} in >= 3 of {len(folds)} folds"
    )
    base = at[ref][1] if at[ref] else float("nan")
    for name in names[names.index("fine-tuned MiniLM") :]:
        pooled = (at[name][1] if at[name] else float("nan")) - base
        wins = sum(1 for x, r in zip(per_fold[name], per_fold[ref], strict=True) if x - r >= ns.margin)
        verdict = "HELPS" if pooled >= ns.margin and wins >= 3 else "does not help"
        deltas = " ".join(f"{x - r:+.3f}" for x, r in zip(per_fold[name], per_fold[ref], strict=True))
        print(
            f"  {name:30s} pooled {pooled:+.3f}; per fold {deltas}; {wins} fold(s) >= +{ns.margin:.2f}: "
            f"{verdict}"
        )

    print(
        "\nper family: accuracy at each model's pooled @rec>=.97 threshold ("
        + ", ".join(f"{name} {thr[name]:.2f}" for name in names)
        + ")"
    )
    print(
        f"  {'family':22s} fold     n label "
        + " ".join(f"{name[:12]:>12s}" for name in names)
        + f"  fast@{ns.fast_threshold:.2f}  ft@0.50"
    )
    for family in sorted(set(fam[m].tolist())):
        mf = m & (fam == family)
        accs = [metrics(models[name][mf] >= thr[name], y[mf])[0] for name in names]
        accs.append(metrics(p_fast[mf] >= ns.fast_threshold, y[mf])[0])
        accs.append(metrics(p_ft0[mf] >= 0.5, y[mf])[0])
        print(
            f"  {family:22s} {int(fold[mf][0]):4d} {mf.sum():5d} {y[mf].mean():5.2f} "
            + " ".join(f"{v:12.3f}" for v in accs)
        )

    think_rows = m & y
    gold = np.array([RANK[records[i].effort] for i in np.flatnonzero(think_rows)])
    arg = lv_ft[think_rows].argmax(1) + 1
    chosen = Counter(LEVELS[i - 1] for i in arg)
    labels = Counter(records[i].effort for i in np.flatnonzero(think_rows))
    print(
        f"\nlevel head on the {think_rows.sum()} think prompts (argmax, thinking assumed): "
        f"mean |rank error| "
        f"{np.abs(arg - gold).mean():.3f}; chosen low/medium/high {chosen['low']}/{chosen['medium']}/"
        f"{chosen['high']}; labels {labels['low']}/{labels['medium']}/{labels['high']}"
    )
    return 0
