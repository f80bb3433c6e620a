"""CPU of the classifier's features per prompt, two revisions of router/features.py in one process (issue 18).

In real traffic every request's latest user turn is new, so :func:`router.features.text_features` runs on each
request (``request_cpu.py --distinct`` measures that inside whole requests, where the per-round scatter of
10-30 % hides a few µs). This script loads ``router/features.py`` of a base revision (``git show``) and of the
candidate (the working tree, or ``--cand REV``) as two modules in this process, and:

1. checks that both give *equal* outputs (``==`` on every float) for every prompt of the labelled corpus,
   with and without the packaged artifact's word table, and that the classifier's final ``Prediction``
   (``p_think``, levels, evidence) is equal with either module, for the prompts as single turns and for
   threaded conversations built from them (a follow-up turn after an earlier prompt and a reply). Both run in
   this process, so frozen sets iterate in the same order; it exits non-zero on the first difference.
2. times, in alternating rounds, ``text_features(prompt, table)`` and ``predict`` over all prompts per module
   (``time.thread_time``, best of ``--passes`` passes per round), plus an A/A: the base module loaded twice,
   so the run shows its round-to-round noise. Printed: µs per prompt per round, and per-round ratios against
   the base. Each loaded module also carries a placement bias of several per cent that the A/A does not show
   (benchmarks/RESULTS.md, "Classifier features, session 12"): the check is exact, the timing is coarse.

Run: ``nice -n 10 .venv/bin/python benchmarks/features_cpu.py --base main [--cand REV] [--rounds 6]
[--data /work/shared/data/effort_train.jsonl]``
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import router.classifier as classifier_module  # noqa: E402
from gateway.classifier_artifact import load_classifier  # noqa: E402
from router.classifier import EffortClassifier, Reading, read_view  # noqa: E402
from router.conversation import ChatView  # noqa: E402

FOLLOW_UPS = ("now do it for n = 7", "why?", "Can you make it shorter and explain the second step again?")


def load_features(name: str, source: str, tmp: Path) -> ModuleType:
    """``source`` (a ``router/features.py``) as a module called ``name``."""
    path = tmp / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def source_at(rev: str | None) -> str:
    """``router/features.py`` at ``rev`` (``None``: the working tree)."""
    if rev is None:
        return (REPO / "router" / "features.py").read_text()
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:router/features.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def readings(prompts: Sequence[str]) -> list[Reading]:
    """Each prompt as a single turn, and every 10th as the context of a follow-up turn."""
    out = [read_view(ChatView(turns=(("user", p),))) for p in prompts]
    for i, p in enumerate(prompts[::10]):
        turns = (
            ("user", p),
            ("assistant", "Here is a first answer."),
            ("user", FOLLOW_UPS[i % len(FOLLOW_UPS)]),
        )
        out.append(read_view(ChatView(system="You are a helpful assistant.", turns=turns)))
    return out


def predict_with(clf: EffortClassifier, module: ModuleType, reading: Reading) -> Any:
    classifier_module.text_features = module.text_features  # type: ignore[attr-defined]
    return clf.predict_reading(reading)


def check(base: ModuleType, cand: ModuleType, clf: EffortClassifier, prompts: Sequence[str]) -> int:
    """Count the checks made; exit on the first difference."""
    table = clf._words
    n = 0
    for p in prompts:
        for words in (table, None):
            a, b = base.text_features(p, words), cand.text_features(p, words)
            if (a.dense, a.unigrams, a.pairs, a.words) != (b.dense, b.unigrams, b.pairs, b.words):
                sys.exit(f"DIFFERENT text_features (table={words is not None}) for {p[:80]!r}")
            n += 1
    for r in readings(prompts):
        a, b = predict_with(clf, base, r), predict_with(clf, cand, r)
        if (a.p_think, a.levels, a.evidence, a.level_cuts) != (b.p_think, b.levels, b.evidence, b.level_cuts):
            sys.exit(f"DIFFERENT prediction for {r.latest[:80]!r} (context {len(r.context)} chars)")
        n += 1
    return n


def best_us(fn: Callable[[], None], passes: int, n: int) -> float:
    best = float("inf")
    for _ in range(passes):
        gc.collect()
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="main", help="base revision of router/features.py")
    ap.add_argument("--cand", default=None, help="candidate revision (default: the working tree)")
    ap.add_argument("--data", default="/work/shared/data/effort_train.jsonl")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()

    prompts = [
        json.loads(line)["prompt"] for line in Path(args.data).read_text().splitlines() if line.strip()
    ]
    clf = load_classifier()
    table = clf._words
    with tempfile.TemporaryDirectory() as tmp:
        base_src = source_at(args.base)
        mods = {
            "base": load_features("features_base", base_src, Path(tmp)),
            "base-again": load_features("features_base_again", base_src, Path(tmp)),
            "cand": load_features("features_cand", source_at(args.cand), Path(tmp)),
        }
    print(
        f"checked equal: {check(mods['base'], mods['cand'], clf, prompts)} outputs "
        f"({len(prompts)} prompts with and without the word table, their predictions, threaded ones)"
    )
    single = [read_view(ChatView(turns=(("user", p),))) for p in prompts]

    def features_pass(m: ModuleType) -> Callable[[], None]:
        tf = m.text_features
        return lambda: [tf(p, table) for p in prompts] and None

    def predict_pass(m: ModuleType) -> Callable[[], None]:
        def run() -> None:
            classifier_module.text_features = m.text_features  # type: ignore[attr-defined]
            for r in single:
                clf.predict_reading(r)

        return run

    names = list(mods)
    results: dict[str, dict[str, list[float]]] = {k: {n: [] for n in names} for k in ("features", "predict")}
    for rnd in range(args.rounds):
        order = names if rnd % 2 == 0 else names[::-1]
        for name in order:
            results["features"][name].append(best_us(features_pass(mods[name]), args.passes, len(prompts)))
            results["predict"][name].append(best_us(predict_pass(mods[name]), args.passes, len(prompts)))
        print(
            f"round {rnd + 1}: "
            + "  ".join(f"{k} {n} {results[k][n][-1]:.1f}" for k in results for n in names)
        )
    for kind, per in results.items():
        print(f"\n{kind}: µs per prompt, median (min-max) over {args.rounds} rounds")
        for name in names:
            v = per[name]
            print(f"  {name:11s} {statistics.median(v):7.1f} ({min(v):.1f}-{max(v):.1f})")
        for name in names[1:]:
            ratios = [a / b for a, b in zip(per[name], per["base"], strict=True)]
            below = sum(r < 1 for r in ratios)
            print(
                f"  {name}/base per round: median {statistics.median(ratios):.3f} "
                f"({min(ratios):.3f}-{max(ratios):.3f}), below 1 in {below}/{len(ratios)}"
            )


if __name__ == "__main__":
    main()
