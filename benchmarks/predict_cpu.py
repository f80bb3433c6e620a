"""CPU of one classifier prediction on distinct prompts, revision against revision (issue 18, session 13).

With real traffic every request's latest user turn is new, so the gateway's answer cache never hits and
``EffortClassifier.predict_reading`` runs on each request. This script times it per prompt of the labelled
corpus by size class (short < 200 characters, medium 200-2,000, long > 2,000), each revision in its own
child process (``git archive`` of it, or this checkout for ``WORKTREE``; ``python -P``, this venv), the
revisions alternated round by round (first revision first in odd rounds, last in even ones), every child of
one round under the same ``PYTHONHASHSEED`` (the round's number: the n-gram sets' layout, and so a little of
the cost, follows the seed).

In a child: the packaged artifact is loaded and each prompt becomes a single-turn reading; a warm-up pass
predicts the first ``--warm`` prompts, then one timed pass predicts every prompt once (no cache anywhere in
``predict_reading``), class by class, ``time.thread_time`` around each class's block. Printed: µs per
prediction per class and pooled (all prompts), per revision the median over rounds, and the per-round ratio
last/first (median, min-max, rounds below 1). The outputs are not compared here
(``predict_identity.py`` does that).

Run: ``nice -n 5 .venv/bin/python benchmarks/predict_cpu.py --rev adc58e5 --rev WORKTREE [--rounds 6]
[--data /work/shared/data/effort_train.jsonl] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hot_path import REPO, source_dir

#: Size classes by prompt length in characters: name and upper bound (exclusive), in order.
CLASSES: tuple[tuple[str, float], ...] = (("short", 200), ("medium", 2_000), ("long", float("inf")))
POOLED = "pooled"


def size_class(prompt: str) -> str:
    return next(name for name, bound in CLASSES if len(prompt) < bound)


def child(data: str, warm: int) -> None:
    """Print ``RESULT {class: µs per prediction}`` for this process's code (``PYTHONPATH``)."""
    from gateway.classifier_artifact import load_classifier
    from router.classifier import read_view
    from router.conversation import ChatView

    prompts = [json.loads(line)["prompt"] for line in Path(data).read_text().splitlines() if line.strip()]
    clf = load_classifier()
    readings = [read_view(ChatView(turns=(("user", p),))) for p in prompts]
    for r in readings[:warm]:
        clf.predict_reading(r)
    predict = clf.predict_reading
    spent: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, _ in CLASSES:
        block = [r for p, r in zip(prompts, readings, strict=True) if size_class(p) == name]
        t0 = time.thread_time()
        for r in block:
            predict(r)
        spent[name] = time.thread_time() - t0
        counts[name] = len(block)
    result = {name: spent[name] / counts[name] * 1e6 for name in spent}
    result[POOLED] = sum(spent.values()) / sum(counts.values()) * 1e6
    print("COUNTS " + json.dumps(counts), file=sys.stderr)
    print("RESULT " + json.dumps(result), file=sys.stderr)


def run_rev(src: Path, seed: int, data: str, warm: int) -> tuple[dict[str, float], dict[str, int]]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'benchmarks'}", "PYTHONHASHSEED": str(seed)}
    code = "import sys, predict_cpu; predict_cpu.child(sys.argv[1], int(sys.argv[2]))"
    done = subprocess.run(
        [sys.executable, "-P", "-c", code, data, str(warm)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    found = {
        k: line.split(" ", 1)[1]
        for line in done.stderr.splitlines()
        for k in ("RESULT", "COUNTS")
        if line.startswith(k + " ")
    }
    if done.returncode != 0 or len(found) != 2:
        raise RuntimeError(f"{src}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return json.loads(found["RESULT"]), json.loads(found["COUNTS"])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--warm", type=int, default=300, help="prompts predicted before the timed pass")
    p.add_argument("--data", default="/work/shared/data/effort_train.jsonl")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs: list[str] = opts.rev or ["WORKTREE"]
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {rev: [] for rev in revs}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="thinkgate-predict-") as tmp:
        sources = {rev: source_dir(rev, Path(tmp)) for rev in revs}
        for r in range(opts.rounds):
            for rev in revs if r % 2 == 0 else revs[::-1]:
                result, counts = run_rev(sources[rev], r, opts.data, opts.warm)
                runs[rev].append(result)
            line = "  ".join(f"{rev} {runs[rev][-1][POOLED]:.1f}" for rev in revs)
            print(f"round {r + 1} (PYTHONHASHSEED={r}): µs per prediction, pooled: {line}", flush=True)
    width = max(12, *(len(rev) + 2 for rev in revs))
    print(f"\nµs per prediction (median of {opts.rounds} rounds); prompts per class: {counts}")
    head = "class".rjust(8) + "".join(rev.rjust(width) for rev in revs)
    print(head + ("   last/first per round: median (min-max), rounds below 1" if len(revs) > 1 else ""))
    for name in [*(c for c, _ in CLASSES), POOLED]:
        cells = "".join(f"{statistics.median(x[name] for x in runs[rev]):{width}.1f}" for rev in revs)
        ratio = ""
        if len(revs) > 1:
            per = [b[name] / a[name] for a, b in zip(runs[revs[0]], runs[revs[-1]], strict=True)]
            below = sum(x < 1 for x in per)
            ratio = f"   {statistics.median(per):.3f} ({min(per):.3f}-{max(per):.3f}) {below}/{len(per)}"
            ratio += "  per round: " + " ".join(f"{x:.3f}" for x in per)
        print(f"{name:>8}" + cells + ratio)
    print(f"load average before {load_before}, after {os.getloadavg()}")
    if opts.json:
        opts.json.write_text(json.dumps({"argv": sys.argv, "runs": runs, "counts": counts}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
