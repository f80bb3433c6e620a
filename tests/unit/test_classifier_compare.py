"""benchmarks/classifier_compare.py: the common-prompt comparison and the written ship rule decide as stated."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "classifier_compare.py"

RECORDS = [
    {"prompt": "What is 17 * 23?", "think": True, "effort": "low", "source": "a", "family": "f1"},
    {"prompt": "Prove that there are infinitely many primes.", "think": True, "effort": "high", "source": "b",
     "family": "f2"},
    {"prompt": "hello there", "think": False, "effort": "none", "source": "c", "family": "f3"},
    {"prompt": "Translate 'good night' into German.", "think": False, "effort": "none", "source": "d",
     "family": "f4"},
]  # fmt: skip
EXTRA = {
    "prompt": "Sort these numbers: 5, 2, 9.",
    "think": True,
    "effort": "low",
    "source": "e",
    "family": "f5",
}
CUTS = {"median": [0.5, 0.5], "family": [0.5, 0.5], "source": [0.5, 0.5]}


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("classifier_compare", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _pred(index: int, record: dict[str, object], right: bool) -> dict[str, object]:
    """A held-out prediction that gets the record's think label and level right, or both wrong."""
    thinks = bool(record["think"]) is right
    p = 0.9 if thinks else 0.05
    level = str(record["effort"]) if right and record["think"] else "medium"
    share = {k: (0.8 if k == level else 0.1) for k in ("low", "medium", "high")}
    levels = {"none": 1 - p, **{k: p * v for k, v in share.items()}}
    return {"index": index, "p_think": p, "levels": levels, "level_cuts": [0.5, 0.5],
            "level_cut_candidates": CUTS}  # fmt: skip


def _run(
    compare: ModuleType, tmp: Path, base_right: bool, cand_right: bool, capsys: pytest.CaptureFixture[str]
) -> str:
    cand_rows = [EXTRA, *RECORDS]  # the candidate's corpus holds the base's prompts in another order
    args = [
        "--base-data", _write(tmp / "base.jsonl", RECORDS),
        "--base-pred", _write(tmp / "base_pred.jsonl", [_pred(i, r, base_right) for i, r in enumerate(RECORDS)]),
        "--cand-data", _write(tmp / "cand.jsonl", cand_rows),
        "--cand-pred", _write(tmp / "cand_pred.jsonl", [_pred(i, r, cand_right) for i, r in enumerate(cand_rows)]),
    ]  # fmt: skip
    assert compare.main(args) == 0
    return str(capsys.readouterr().out)


def test_a_better_candidate_ships(
    compare: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(compare, tmp_path, base_right=False, cand_right=True, capsys=capsys)
    assert "common prompts: 4 (base 4, not found 0)" in out
    assert "decision: SHIP" in out


def test_a_worse_candidate_does_not(
    compare: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(compare, tmp_path, base_right=True, cand_right=False, capsys=capsys)
    assert "decision: do not ship" in out
    assert "A common min S         FAIL" in out


def test_threshold_ties_go_to_the_default(compare: ModuleType) -> None:
    table = {0.2: {"S": 0.1}, 0.26: {"S": 0.101}, 0.34: {"S": 0.1}, 0.5: {"S": 0.3}}
    assert compare.pick_threshold(table, 0.28) == 0.26  # within 0.002 of the best, nearest 0.28
    assert compare.pick_threshold({0.1: {"S": 0.0}, 0.6: {"S": 0.5}}, 0.28) == 0.1


def _like_for_like(
    compare: ModuleType, tmp: Path, base_right: bool, cand_right: bool, capsys: pytest.CaptureFixture[str]
) -> str:
    data = _write(tmp / "data.jsonl", RECORDS)
    args = [
        "--like-for-like", "--base-data", data, "--cand-data", data,
        "--base-pred", _write(tmp / "base_pred.jsonl", [_pred(i, r, base_right) for i, r in enumerate(RECORDS)]),
        "--cand-pred", _write(tmp / "cand_pred.jsonl", [_pred(i, r, cand_right) for i, r in enumerate(RECORDS)]),
    ]  # fmt: skip
    assert compare.main(args) == 0
    return str(capsys.readouterr().out)


def test_like_for_like_ships_a_better_candidate(
    compare: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _like_for_like(compare, tmp_path, base_right=False, cand_right=True, capsys=capsys)
    assert "P best shortfall       pass" in out
    assert "decision: SHIP" in out


@pytest.mark.parametrize(("base_right", "cand_right"), [(True, False), (True, True)])
def test_like_for_like_needs_a_strictly_better_shortfall(
    compare: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    base_right: bool,
    cand_right: bool,
) -> None:
    """A worse candidate fails, and so does an equal one: the primary check is strict."""
    out = _like_for_like(compare, tmp_path, base_right, cand_right, capsys)
    assert "P best shortfall       FAIL" in out
    assert "decision: do not ship" in out


def test_like_for_like_refuses_different_prompt_sets(compare: ModuleType, tmp_path: Path) -> None:
    data = _write(tmp_path / "data.jsonl", RECORDS)
    base = _write(tmp_path / "base_pred.jsonl", [_pred(i, r, True) for i, r in enumerate(RECORDS)])
    cand = _write(tmp_path / "cand_pred.jsonl", [_pred(i, r, True) for i, r in enumerate(RECORDS[:3])])
    args = [
        "--like-for-like",
        "--base-data",
        data,
        "--cand-data",
        data,
        "--base-pred",
        base,
        "--cand-pred",
        cand,
    ]
    assert compare.main(args) == 2


def test_like_for_like_scores_named_families(
    compare: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--families``: both sides' effort error on those families' think prompts, the candidate's chosen-level
    mix given thinking, and one row per family with think prompts (named ones starred)."""
    data = _write(tmp_path / "data.jsonl", RECORDS)
    args = [
        "--like-for-like", "--base-data", data, "--cand-data", data, "--families", "f2",
        "--base-pred", _write(tmp_path / "base_pred.jsonl", [_pred(i, r, False) for i, r in enumerate(RECORDS)]),
        "--cand-pred", _write(tmp_path / "cand_pred.jsonl", [_pred(i, r, True) for i, r in enumerate(RECORDS)]),
    ]  # fmt: skip
    assert compare.main(args) == 0
    out = capsys.readouterr().out
    # base: both think prompts answered without thinking (low: 1 level off, high: 3); candidate: both right
    assert "all families   2.000 -> 0.000  0/1/0/1  given thinking: low 0.500 medium 0.000 high 0.500" in out
    assert "the 1 named    3.000 -> 0.000  0/0/0/1  given thinking: low 0.000 medium 0.000 high 1.000" in out
    assert "f2 *                       1  3.000  0.000  0/0/0/1" in out
    assert "f1                         1" in out and "f3 " not in out
