"""Would a second stage on frozen MiniLM embeddings help the fast classifier on unseen format families?

Leave-one-format-family-out, like ``classifier_cv.py --group family``: for every family, a logistic head is
trained on the other families' embeddings and scores the held-out family. Inputs:

* ``--data``: the labelled corpus (``scripts/classifier/build_corpus.py``);
* ``--embeddings``: frozen all-MiniLM-L6-v2 sentence embeddings of the same file, one row per line
  (``scripts/classifier/encoder_embeddings.py``; needs torch, so it runs outside ``.venv``);
* ``--fast``: the fast stage's held-out predictions for the same file
  (``classifier_cv.py --group family --save``), so both stages are scored on families they never saw.

Compared, pooled over all held-out families (think/no-think only; levels stay the fast stage's):

* the fast stage alone;
* the embedding head alone, and a head on the embeddings plus the fast stage's logit;
* a cascade: the fast stage decides outside a band ``[lo, hi)`` of its ``p_think`` (think when above),
  the second-stage head decides inside it (think when its probability >= ``t2``); the share of prompts in
  the band is the share that would reach the second stage;
* a logit average of the two stages.

For each, "best @ recall >= .97" is the highest accuracy over thresholds (step 0.01) whose recall on
think=true is at least 97 % (the rule the fast stage's default threshold is chosen by), and "max acc" the
highest accuracy at any threshold. ``--families`` prints a per-family table at fixed thresholds.

    .venv/bin/python benchmarks/encoder_cv.py --data .cache/classifier/corpus.jsonl \
        --embeddings .cache/classifier/minilm_ht128.npy --fast .cache/classifier/cv_family_pred.jsonl \
        [--C 1.0] [--families]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from think_scores import Array, logit, metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.classifier_artifact import read_examples

THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
BANDS = ((0.15, 0.40), (0.10, 0.50), (0.10, 0.60), (0.05, 0.70), (0.05, 0.80), (0.02, 0.95))


def _fmt(row: tuple[float, ...]) -> str:
    return " ".join("   -  " if np.isnan(v) else f"{v:6.3f}" for v in row)


def _held_out_head(features: Array, y: Array, fam: Array, weights: Array, c: float) -> Array:
    p = np.zeros(len(y))
    for family in sorted(set(fam)):
        test = fam == family
        head = LogisticRegression(C=c, max_iter=3000)
        head.fit(features[~test], y[~test], sample_weight=weights[~test])
        p[test] = head.predict_proba(features[test])[:, 1]
    return p


def _best(decisions: list[tuple[float, Array]], y: Array) -> str:
    """Best accuracy with recall >= .97 and the max accuracy over a list of (threshold, decisions)."""
    scored = [(t, *metrics(pred, y)) for t, pred in decisions]
    ok = [r for r in scored if r[2] >= 0.97]
    top = max(scored, key=lambda r: r[1])
    best = max(ok, key=lambda r: r[1]) if ok else None
    head = (
        f"t={best[0]:.2f} acc {best[1]:.3f} rec_T {best[2]:.3f} prec_F {best[3]:.3f} share {best[4]:.3f}"
        if best
        else "no threshold reaches recall .97"
    )
    return f"{head} | max acc {top[1]:.3f} (t={top[0]:.2f}, rec_T {top[2]:.3f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=".cache/classifier/corpus.jsonl")
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--fast", required=True, help="classifier_cv.py --group family --save output")
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the logistic head")
    parser.add_argument("--think", type=float, default=0.26, help="fast-stage threshold for --families")
    parser.add_argument("--families", action="store_true", help="per-family table")
    ns = parser.parse_args(argv)

    examples = read_examples(ns.data)
    y = np.array([ex.think for ex in examples])
    fam = np.array([ex.group("family") for ex in examples])
    emb = np.load(ns.embeddings)
    if emb.shape[0] != len(examples):
        raise SystemExit(f"{ns.embeddings} has {emb.shape[0]} rows, {ns.data} {len(examples)} records")
    p_fast = np.full(len(examples), np.nan)
    for line in Path(ns.fast).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        p_fast[row["index"]] = row["p_think"]
    if np.isnan(p_fast).any():
        raise SystemExit(f"{ns.fast} does not cover every record of {ns.data}")
    # The fast stage's training weights: every source counts the same, think=true 1.5x.
    per_source = Counter(ex.source for ex in examples)
    weights = np.array([1.0 / per_source[ex.source] for ex in examples]) * np.where(y, 1.5, 1.0)
    weights *= len(weights) / weights.sum()

    p_emb = _held_out_head(emb, y, fam, weights, ns.C)
    p_both = _held_out_head(np.hstack([emb, logit(p_fast)[:, None]]), y, fam, weights, ns.C)

    print(f"{len(y)} prompts, {len(set(fam))} families, think-share {y.mean():.3f}; head C={ns.C}")
    fast_at = metrics(p_fast >= ns.think, y)
    print(f"fast stage @ {ns.think:.2f}: acc {fast_at[0]:.3f} rec_T {fast_at[1]:.3f} prec_F {fast_at[2]:.3f}")
    for name, p in (
        ("fast stage alone", p_fast),
        ("embedding head alone", p_emb),
        ("emb + fast logit", p_both),
    ):
        print(f"{name:26s} {_best([(t, p >= t) for t in THRESHOLDS], y)}")
    for a in (0.1, 0.15, 0.2, 0.25, 0.33, 0.5):
        z = 1 / (1 + np.exp(-((1 - a) * logit(p_fast) + a * logit(p_emb))))
        print(f"{f'logit avg, {a:.2f} embedding':26s} {_best([(t, z >= t) for t in THRESHOLDS], y)}")
    print("cascade: fast stage outside [lo, hi), second stage inside (t = its threshold t2)")
    for name, p2 in (("embedding head", p_emb), ("emb + fast logit", p_both)):
        for lo, hi in BANDS:
            band = (p_fast >= lo) & (p_fast < hi)
            decisions = [(t, np.where(band, p2 >= t, p_fast >= hi)) for t in THRESHOLDS]
            print(
                f"  {name:17s} [{lo:.2f}, {hi:.2f}) 2nd-stage share {band.mean():.3f}: {_best(decisions, y)}"
            )

    if ns.families:
        band = (p_fast >= 0.10) & (p_fast < 0.50)
        cascade = np.where(band, p_emb >= 0.5, p_fast >= 0.50)
        print(
            f"per family, accuracy: fast @ {ns.think:.2f} | embedding head @ 0.5 | emb + fast logit @ 0.5 |"
        )
        print("  cascade [0.10, 0.50) with the embedding head @ 0.5")
        print(f"  {'family':22s}    n label   fast    emb   both   casc")
        for family in sorted(set(fam)):
            m = fam == family
            accs = [
                metrics(pred[m], y[m])[0]
                for pred in (p_fast >= ns.think, p_emb >= 0.5, p_both >= 0.5, cascade)
            ]
            print(f"  {family:22s} {m.sum():4d} {y[m].mean():5.2f} {_fmt(tuple(accs))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
