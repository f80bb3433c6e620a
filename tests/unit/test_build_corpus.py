"""The corpus script's safety nets: the reserved-set near-duplicate test and the data-only unpickler."""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "classifier" / "build_corpus.py"


@pytest.fixture(scope="module")
def corpus() -> ModuleType:
    # the script imports its sibling modules (corpus_rounds, corpus_sources, corpus_pinned) as it does when run directly
    sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("build_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_corpus"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def readers(corpus: ModuleType) -> ModuleType:
    return sys.modules["corpus_sources"]


@pytest.fixture(scope="module")
def rounds(corpus: ModuleType) -> ModuleType:
    return sys.modules["corpus_rounds"]


RESERVED = (
    "Sort the following words alphabetically: List: oven costume counterpart",
    "Write an essay about the history of the bicycle in at least 300 words and highlight two sections.",
)


@pytest.mark.parametrize(
    "candidate",
    [
        "sort the following WORDS alphabetically -- list: oven, costume, counterpart",  # exact after normalising
        "Write an essay about the history of the bicycle in at least 250 words and highlight two sections.",
        "Please write an essay about the history of the bicycle in at least 300 words and highlight two "
        "sections. Use a friendly tone and give it a title.",  # contains a reserved text
    ],
    ids=["normalised-exact", "jaccard", "containment"],
)
def test_reserved_near_duplicates_are_caught(corpus: ModuleType, candidate: str) -> None:
    assert corpus.Dedup(RESERVED).hit(candidate)


def test_unrelated_prompt_is_kept(corpus: ModuleType) -> None:
    dedup = corpus.Dedup(RESERVED)
    assert not dedup.hit("What is the capital of the country that hosted the 1992 Summer Olympics?")
    assert not dedup.hit("hello")  # short texts are compared whole, not by shingles


class _Payload:
    """A pickle that would run a shell command when loaded by a plain unpickler."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo unpickled >&2",))


def test_data_only_unpickler_runs_nothing(readers: ModuleType) -> None:
    raw = pickle.dumps({"wiki_c07": [{"prompt": "Please generate a sentence.", "constraint": _Payload()}]})
    data = readers._DataOnlyUnpickler(io.BytesIO(raw)).load()
    row = data["wiki_c07"][0]
    assert row["prompt"] == "Please generate a sentence."
    assert isinstance(row["constraint"], readers._Opaque)  # os.system was never looked up, let alone called


def test_data_only_unpickler_keeps_builtin_types(readers: ModuleType) -> None:
    value = {"a": [1, 2.5, "x", (True, None)], "b": {frozenset({1}), 3}, "c": b"raw"}
    assert readers._DataOnlyUnpickler(io.BytesIO(pickle.dumps(value))).load() == value


@pytest.fixture(scope="module")
def procedural_plan() -> ModuleType:
    path = SCRIPT.with_name("procedural_prompts.py")
    spec = importlib.util.spec_from_file_location("procedural_prompts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # reasoning_gym is imported only when the plan runs, not here
    return module


def test_every_generated_task_and_size_has_a_label(rounds: ModuleType, procedural_plan: ModuleType) -> None:
    plans = (*procedural_plan.PLAN, *procedural_plan.PLAN_6)
    planned = {(task, size) for task, size, _, _ in plans}
    labelled = {(task, size) for task, (_, _, sizes) in rounds._PROCEDURAL.items() for size in sizes}
    assert planned == labelled  # no generated prompt without a written label, no label without prompts
    for source, family, sizes in rounds._PROCEDURAL.values():
        assert source.startswith("rg_") and family
        for think, effort in sizes.values():
            assert think is (effort != "none")


def test_mmlu_subject_rule_is_disjoint(readers: ModuleType) -> None:
    assert not set(readers._MMLU_DERIVED) & readers._MMLU_MIXED
    assert set(readers._MMLU_DERIVED.values()) <= {"low", "medium", "high"}


def test_sixth_round_adds_to_the_fifth(readers: ModuleType, rounds: ModuleType) -> None:
    """``--round 6`` is the fifth round's readers with two of them switched to their sixth-round rules."""
    fifth, sixth = rounds.for_round(5), rounds.for_round(6)
    assert len(fifth) == len(sixth)

    def key(make: Any) -> tuple[Any, Any]:
        return (getattr(make, "func", make), getattr(make, "keywords", None))

    changed = [key(b)[0] for a, b in zip(fifth, sixth, strict=True) if key(a) != key(b)]
    assert changed == [readers.competition_math, rounds.procedural]
    assert readers._MATH_EFFORT_6["Level 3"] == "high"
    assert {k: v for k, v in readers._MATH_EFFORT_6.items() if k != "Level 3"} == {
        k: v for k, v in readers._MATH_EFFORT.items() if k != "Level 3"
    }
