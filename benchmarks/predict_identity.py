"""Bit-identity of the classifier's predictions between two revisions (issue 18, session 13).

A speed change to ``router/classifier.py`` / ``router/features.py`` must leave every prediction *equal*: the
same floats to the last bit (compared as ``float.hex``), the same evidence. Each revision runs in its own
child process (``git archive`` of it, or this checkout for ``WORKTREE``; ``python -P``, this venv) under a
fixed ``PYTHONHASHSEED``, because the n-gram sets' iteration order (and so the order of a score's additions)
follows the string hash seed: two revisions are comparable only under the same seed, and the check runs
under several.

Each child predicts, with each artifact (the packaged one, and every ``--artifact PATH``):

* every prompt of the corpus as a single user turn,
* every prompt as a follow-up: the previous prompt, a short assistant reply, then the prompt (so the context
  is scored too and the follow-up weight applies; tools offered on every third),
* ``think_logit`` of every 7th prompt,

and prints one line per output (``p_think``, the four levels and ``think_logit`` as ``float.hex``, the
evidence with its rounded values as ``repr``). The parent compares the children's lines and exits non-zero
on the first difference.

Run: ``.venv/bin/python benchmarks/predict_identity.py --base adc58e5 [--cand WORKTREE] [--seed 0 --seed 1]
[--artifact prev=/tmp/prev.json.gz] [--data /work/shared/data/effort_train.jsonl]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hot_path import REPO, source_dir

REPLY = "Here is a first answer."


def outputs(clf: Any, prompts: Sequence[str]) -> Iterator[str]:
    """One line per output of ``clf`` on the corpus (see the module docstring)."""
    from router.conversation import ChatView

    def line(kind: str, i: int, pred: Any) -> str:
        levels = " ".join(f"{k}={v.hex()}" for k, v in pred.levels.items())
        return f"{kind} {i} p={pred.p_think.hex()} {levels} ev={pred.evidence!r} cuts={pred.level_cuts!r}"

    for i, p in enumerate(prompts):
        yield line("single", i, clf.predict(ChatView(turns=(("user", p),))))
    for i, p in enumerate(prompts):
        turns = (("user", prompts[i - 1]), ("assistant", REPLY), ("user", p))
        yield line("thread", i, clf.predict(ChatView(turns=turns, tools=i % 3 == 0)))
    for i in range(0, len(prompts), 7):
        yield f"logit {i} {clf.think_logit(prompts[i]).hex()}"


def child(data: str, artifacts: Sequence[str]) -> None:
    """Print every output of this process's code (``PYTHONPATH``) on the corpus, per artifact."""
    from gateway.classifier_artifact import load_classifier

    prompts = [json.loads(line)["prompt"] for line in Path(data).read_text().splitlines() if line.strip()]
    for artifact in ["", *artifacts]:
        clf = load_classifier(artifact or None)
        for out in outputs(clf, prompts):
            print(f"{artifact or 'packaged'} {out}")


def run(src: Path, seed: str, data: str, artifacts: Sequence[str]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'benchmarks'}", "PYTHONHASHSEED": seed}
    code = "import sys, predict_identity as m; m.child(sys.argv[1], sys.argv[2:])"
    done = subprocess.run(
        [sys.executable, "-P", "-c", code, data, *artifacts],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{src}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return done.stdout.splitlines()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--base", default="main", help="git revision of the reference")
    p.add_argument(
        "--cand", default="WORKTREE", help="git revision of the candidate (WORKTREE = this checkout)"
    )
    p.add_argument("--seed", action="append", help="PYTHONHASHSEED (repeatable; default 0 and 1)")
    p.add_argument("--artifact", action="append", default=[], help="another classifier artifact (repeatable)")
    p.add_argument("--data", default="/work/shared/data/effort_train.jsonl")
    opts = p.parse_args(argv)
    artifacts = [str(Path(a).resolve()) for a in opts.artifact]
    total = 0
    with tempfile.TemporaryDirectory(prefix="thinkgate-identity-") as tmp:
        work = Path(tmp)
        srcs = {rev: source_dir(rev, work) for rev in (opts.base, opts.cand)}
        packaged = {
            rev: (src / "router/artifacts/effort_classifier.json.gz").read_bytes()
            for rev, src in srcs.items()
        }
        if len({hashlib.sha256(b).hexdigest() for b in packaged.values()}) != 1:
            print("the packaged artifacts differ between the revisions", file=sys.stderr)
            return 1
        for seed in opts.seed or ["0", "1"]:
            base, cand = (run(srcs[rev], seed, opts.data, artifacts) for rev in (opts.base, opts.cand))
            if len(base) != len(cand):
                print(f"seed {seed}: {len(base)} outputs vs {len(cand)}", file=sys.stderr)
                return 1
            for a, b in zip(base, cand, strict=True):
                if a != b:
                    print(
                        f"seed {seed}: DIFFERENT\n  {opts.base}: {a[:400]}\n  {opts.cand}: {b[:400]}",
                        file=sys.stderr,
                    )
                    return 1
            total += len(base)
            print(f"seed {seed}: {len(base)} outputs equal ({opts.base} vs {opts.cand})", flush=True)
    print(f"all equal: {total} outputs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
