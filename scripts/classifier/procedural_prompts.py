"""Print procedurally generated reasoning prompts (one JSON object a line) for ``build_corpus.py``.

Runs under a separate interpreter that has ``reasoning-gym`` (Apache-2.0; open-thought/reasoning-gym) at the
pinned version below, never under the project's venv (the gateway does not depend on it):

    .cache/uv/bin/uv venv .cache/rg-venv --python 3.11
    .cache/uv/bin/uv pip install --python .cache/rg-venv/bin/python reasoning-gym==0.1.25
    .cache/rg-venv/bin/python scripts/classifier/procedural_prompts.py [--round 6] > prompts.jsonl

Each line has ``task`` (the generator's name), ``size`` (``small`` or ``large``: the two configurations each
task is drawn with, so that one format comes in an easy and a hard version), ``detail`` (the generator's
sub-task where it has one, e.g. the calendar question kind) and ``prompt``. Labels are not decided here but
in ``corpus_rounds.py`` (``_PROCEDURAL``), by task and size. Every generator is seeded, so two runs print the
same lines. ``--round 6`` prints the fifth round's lines unchanged and then the sixth round's (``PLAN_6``:
bare arithmetic, string and symbol procedures, zebra puzzles), seeded from 2000, so the fifth's stay the same.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import warnings
from typing import Any

PINNED = "0.1.25"

#: (task, size, generator options, count). The sizes are the generators' own difficulty knobs.
PLAN: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("word_sorting", "small", {"min_words": 3, "max_words": 5}, 20),
    ("word_sorting", "large", {"min_words": 9, "max_words": 14}, 20),
    ("number_sorting", "small", {"min_numbers": 3, "max_numbers": 5}, 15),
    ("number_sorting", "large", {"min_numbers": 9, "max_numbers": 14}, 15),
    ("spell_backward", "small", {"min_word_len": 4, "max_word_len": 8}, 25),
    ("word_sequence_reversal", "small", {"min_words": 4, "max_words": 8}, 25),
    ("letter_counting", "small", {"min_words": 5, "max_words": 10}, 30),
    ("leg_counting", "small", {"min_animals": 2, "max_animals": 3, "max_instances": 5}, 15),
    ("leg_counting", "large", {"min_animals": 6, "max_animals": 10}, 15),
    ("calendar_arithmetic", "small", {}, 50),
    ("time_intervals", "small", {}, 30),
    ("knights_knaves", "small", {"n_people": 2}, 20),
    ("knights_knaves", "medium", {"n_people": 3}, 20),
    ("knights_knaves", "large", {"n_people": 4}, 20),
    ("knights_knaves", "large", {"n_people": 5}, 20),
    ("self_reference", "large", {"difficulty": 5}, 20),
    ("syllogism", "small", {}, 50),
    ("propositional_logic", "small", {"max_vars": 2, "min_statements": 2, "max_statements": 3}, 15),
    (
        "propositional_logic",
        "large",
        {"min_vars": 4, "max_vars": 5, "min_statements": 4, "max_statements": 6},
        15,
    ),
    ("maze", "small", {"min_dist": 3, "max_dist": 5, "min_grid_size": 5, "max_grid_size": 6}, 20),
    ("maze", "large", {"min_dist": 12, "max_dist": 20, "min_grid_size": 10, "max_grid_size": 14}, 20),
    ("shortest_path", "small", {"min_rows": 3, "max_rows": 4, "min_cols": 3, "max_cols": 5}, 20),
    ("shortest_path", "large", {"min_rows": 7, "max_rows": 9, "min_cols": 7, "max_cols": 9}, 20),
    ("family_relationships", "small", {"min_family_size": 3, "max_family_size": 4}, 30),
    ("family_relationships", "large", {"min_family_size": 7, "max_family_size": 9}, 30),
    ("needle_haystack", "small", {"min_num_statements": 8, "max_num_statements": 20}, 60),
    ("needle_haystack", "large", {"min_num_statements": 30, "max_num_statements": 60}, 60),
)

#: The sixth round's additions (2026-12-07, third session): the sizes again decide the level (one operation
#: or one rule applied item by item: small; several dependent operations or rules: large).
PLAN_6: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("basic_arithmetic", "small", {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 2}, 40),
    ("basic_arithmetic", "large", {"min_terms": 5, "max_terms": 6, "min_digits": 2, "max_digits": 3}, 20),
    ("chain_sum", "small", {"min_terms": 2, "max_terms": 3, "min_digits": 1, "max_digits": 2}, 20),
    ("products", "small", {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 2}, 20),
    ("products", "large", {"min_terms": 2, "max_terms": 2, "min_digits": 3, "max_digits": 4}, 20),
    ("caesar_cipher", "small", {"min_words": 3, "max_words": 6}, 20),
    ("sentence_reordering", "small", {"min_words_in_sentence": 3, "max_words_in_sentence": 8}, 20),
    ("sentence_reordering", "large", {"min_words_in_sentence": 12, "max_words_in_sentence": 20}, 20),
    ("letter_jumble", "small", {"min_words": 3, "max_words": 6}, 20),
    ("number_filtering", "small", {"min_numbers": 3, "max_numbers": 8}, 20),
    ("isomorphic_strings", "small", {}, 20),
    ("string_insertion", "small", {}, 20),
    (
        "string_manipulation",
        "small",
        {"min_num_rules": 3, "max_num_rules": 4, "min_string_length": 5, "max_string_length": 8},
        20,
    ),
    (
        "string_manipulation",
        "large",
        {"min_num_rules": 7, "max_num_rules": 8, "min_string_length": 15, "max_string_length": 20},
        20,
    ),
    ("base_conversion", "small", {}, 20),
    ("binary_alternation", "small", {}, 20),
    ("zebra_puzzles", "large", {"num_people": 4, "num_characteristics": 4}, 20),
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sixth = args == ["--round", "6"]
    if args and not sixth:
        raise SystemExit("usage: procedural_prompts.py [--round 6]")
    version = importlib.metadata.version("reasoning-gym")
    if version != PINNED:
        raise SystemExit(f"reasoning-gym {version} installed; this script is pinned to {PINNED}")
    warnings.simplefilter("ignore")
    import reasoning_gym  # only inside the separate interpreter

    plans = [(1000 + i, plan) for i, plan in enumerate(PLAN)]
    if sixth:
        plans += [(2000 + i, plan) for i, plan in enumerate(PLAN_6)]
    for seed, (task, size, options, count) in plans:
        data = reasoning_gym.create_dataset(task, size=count, seed=seed, **options)
        for entry in data:
            meta = entry.get("metadata", {})
            detail = str(meta.get("task") or meta.get("task_type") or "")
            line = {"task": task, "size": size, "detail": detail, "prompt": entry["question"].strip()}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
