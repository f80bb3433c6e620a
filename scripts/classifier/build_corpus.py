"""Build the effort classifier's training corpus: the shared file plus public prompts in more formats.

Reads only pinned commits of public repositories, through ``git show`` on snapshots under ``/work/.mirror``
(brought there with the session's ``fetch`` tool; nothing is downloaded here), and the shared
``effort_train.jsonl``. Writes one JSONL (default ``.cache/classifier/corpus.jsonl``; never committed) with
``prompt``, ``think``, ``effort``, ``source``, ``category`` and ``family`` (the *format family* used by the
leave-one-family-out CV in ``benchmarks/classifier_cv.py --group family``), then prints counts per source.

Label rule (docs/classifier.md, "Corpus"): thinking helps where the answer must be *derived* through dependent
steps (calculation, deduction, search over options, executing a procedure by hand, code that must be
correct), whatever the vocabulary; it does not where the answer is retrieved, rewritten, formatted,
extracted, classified or written for style, however long or constrained the instructions are. Labels are
per source or per task category (the readers in ``corpus_sources.py``), never per item.

Licences: the shipped model is trained on this corpus, so no source may carry a non-commercial licence. Code
Alpaca (CC BY-NC 4.0), LogiQA 2.0 (CC BY-NC-SA 4.0) and WizardLM's test set (CC BY-NC 4.0) were used until
2026-12-07 and are not any more.

Reserved for evaluation and never used, not even re-worded: BIG-Bench Hard (27 tasks) and the BIG-bench tasks
it was built from, IFEval, MT-Bench, Vicuna-80, GSM8K test, MBPP test. Their texts are read here only to drop
any candidate that matches one of them (normalised exact match, word-3-gram Jaccard >= 0.5, or containment
>= 0.8 of the smaller side). Sources that are themselves BIG-bench copies of BBH tasks (``Bigbench_Date``,
``Bigbench_object_tracking`` in zero_shot_cot) and FollowBench items built from BBH, Vicuna or GSM8K are
excluded by name.

The readers, one per source, are in ``corpus_sources.py``; which of them each round runs, and the
generated procedures, in ``corpus_rounds.py``; the pinned commits and the git access in ``corpus_pinned.py``;
this script holds the reserved-set de-duplication and writes the corpus.

    python scripts/classifier/build_corpus.py [--shared ../shared/data/effort_train.jsonl] [--out FILE]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from corpus_pinned import load_json, load_jsonl, ls
from corpus_rounds import PROCEDURAL_SOURCES, for_round
from corpus_sources import ZS, Item, shared

# --- reserved evaluation sets (de-duplication only) ---------------------------------------------------------


def reserved_texts() -> list[str]:
    out: list[str] = []
    bbh = "suzgunmirac/BIG-Bench-Hard"
    listing = ls(bbh, "bbh/", recursive=False)
    for path in listing:
        if path.endswith(".json"):
            out.extend(e["input"] for e in load_json(bbh, path)["examples"])
    for r in load_jsonl("lm-sys/FastChat", "fastchat/llm_judge/data/mt_bench/question.jsonl"):
        out.extend(r["turns"])
    for r in load_jsonl("lm-sys/FastChat", "fastchat/llm_judge/data/vicuna_bench/question.jsonl"):
        out.extend(r["turns"])
    out.extend(
        r["prompt"]
        for r in load_jsonl(
            "ShotaSato0916/google-research-IFEval", "instruction_following_eval/data/input_data.jsonl"
        )
    )
    out.extend(r["question"] for r in load_jsonl(ZS, "dataset/grade-school-math/test.jsonl"))
    for r in load_jsonl("deepseek-ai/DeepSeek-Coder", "Evaluation/MBPP/data/mbpp.jsonl"):
        if 11 <= int(r["task_id"]) <= 510:  # MBPP's test split
            out.append(r["text"])
    return out


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", unicodedata.normalize("NFKC", text).lower()).split())


def shingles(norm: str) -> set[str]:
    words = norm.split()
    return {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))} if words else set()


class Dedup:
    """Near-duplicate test against a fixed set of texts (word-3-gram Jaccard, containment, exact match)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.sets: list[set[str]] = []
        self.index: dict[str, list[int]] = collections.defaultdict(list)
        for t in texts:
            self.add(t)

    def add(self, text: str) -> None:
        norm = normalise(text)
        # text in other scripts normalises to (almost) nothing: compare it raw instead
        self.exact.add(norm if len(norm.split()) >= 3 else " ".join(text.casefold().split()))
        sh = shingles(norm)
        for s in sh:
            self.index[s].append(len(self.sets))
        self.sets.append(sh)

    def hit(self, text: str, jaccard: float = 0.5, containment: float | None = 0.8) -> bool:
        norm = normalise(text)
        if len(norm.split()) < 3:
            return " ".join(text.casefold().split()) in self.exact
        if norm in self.exact:
            return True
        sh = shingles(norm)
        if not sh:
            return False
        common: collections.Counter[int] = collections.Counter()
        for s in sh:
            common.update(self.index.get(s, ()))
        for j, n in common.items():
            other = self.sets[j]
            if n / len(sh | other) >= jaccard:
                return True
            small = min(len(sh), len(other))
            if containment is not None and small >= 8 and n / small >= containment:
                return True
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", default="../shared/data/effort_train.jsonl")
    parser.add_argument("--out", default=".cache/classifier/corpus.jsonl")
    parser.add_argument("--new-only", action="store_true", help="leave out the shared file's prompts")
    parser.add_argument(
        "--round",
        type=int,
        choices=(4, 5, 6),
        default=4,
        help="4: the fourth round's corpus; 5: with the fifth round's sources; 6: and the sixth's",
    )
    ns = parser.parse_args(argv)
    reserved = Dedup(reserved_texts())
    print(f"reserved evaluation texts for de-duplication: {len(reserved.sets)}", file=sys.stderr)
    seen = Dedup(())
    items: list[Item] = []
    dropped: collections.Counter[str] = collections.Counter()
    candidates: list[Item] = [] if ns.new_only else list(shared(Path(ns.shared)))
    for make in for_round(ns.round):
        candidates.extend(make())
    for item in candidates:
        if not item.prompt.strip():
            continue
        if reserved.hit(item.prompt):
            dropped[f"{item.source} (reserved)"] += 1
            continue
        # generated prompts share their generator's template, so word-3-gram overlap says nothing about
        # their content: among themselves only exact repeats are dropped
        near = 1.01 if item.source in PROCEDURAL_SOURCES else 0.8
        if seen.hit(item.prompt, jaccard=near, containment=None):
            dropped[f"{item.source} (duplicate)"] += 1
            continue
        seen.add(item.prompt)
        items.append(item)
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it.__dict__, ensure_ascii=False) + "\n")
    counts = collections.Counter((it.family, it.source, it.think, it.effort) for it in items)
    print(f"{'family':22s} {'source':22s} think effort     n")
    for (fam, src, think, effort), n in sorted(counts.items()):
        print(f"{fam:22s} {src:22s} {think!s:5s} {effort:6s} {n:5d}")
    print(f"total {len(items)}; dropped: {dict(dropped)}")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
