"""The corpus records and the folds of ``encoder_finetune_cv.py`` (issue 15): reading the labelled JSONL, the
grouped K-fold by format family, the source-balanced training draw and the fast stage's sample weights."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LEVELS = ("low", "medium", "high")
RANK = {"none": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Record:
    text: str
    think: bool
    effort: str
    source: str
    family: str


def latest_user_text(record: dict[str, Any]) -> str:
    """A corpus record's ``prompt``, or the text of its latest user message (what the encoders embed)."""
    if isinstance(record.get("prompt"), str):
        return str(record["prompt"])
    for message in reversed(record.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def read_records(path: str) -> list[Record]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        out.append(
            Record(
                text=latest_user_text(row),
                think=bool(row["think"]),
                effort=str(row.get("effort", "none")),
                source=str(row["source"]),
                family=str(row["family"]),
            )
        )
    return out


def fold_of_families(records: list[Record], k: int) -> dict[str, int]:
    """Families sorted by size (largest first, ties by name), dealt to folds in snake order."""
    sizes = Counter(r.family for r in records)
    ordered = sorted(sizes, key=lambda f: (-sizes[f], f))
    out = {}
    for i, family in enumerate(ordered):
        rnd, pos = divmod(i, k)
        out[family] = pos if rnd % 2 == 0 else k - 1 - pos
    return out


def balanced_sample(indices: list[int], records: list[Record], cap: int, rng: random.Random) -> list[int]:
    """At most ``cap`` indices, every source the same quota (water-filling), drawn at random per source."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for i in indices:
        by_source[records[i].source].append(i)
    if len(indices) <= cap:
        return sorted(indices)
    sizes = sorted(len(v) for v in by_source.values())
    quota, left, n = 0, cap, len(sizes)
    for j, size in enumerate(sizes):
        share = left // (n - j)
        if size <= share:
            left -= size
        else:
            quota = share
            break
    else:
        quota = sizes[-1]
    picked: list[int] = []
    for source in sorted(by_source):
        members = by_source[source]
        picked.extend(members if len(members) <= quota else rng.sample(members, quota))
    return sorted(picked)


def sample_weights(chosen: list[int], records: list[Record]) -> dict[int, float]:
    """The fast stage's weights on the drawn set: every source the same total, think=true x1.5, mean 1."""
    per_source = Counter(records[i].source for i in chosen)
    raw = {i: (1.5 if records[i].think else 1.0) / per_source[records[i].source] for i in chosen}
    scale = len(raw) / sum(raw.values())
    return {i: w * scale for i, w in raw.items()}
