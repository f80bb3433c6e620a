"""Episode thinking budgets, the pure part: which episode a request is, and how the budget bounds a step."""

from __future__ import annotations

from typing import Any

import pytest

from router.decide import level_for_budget
from router.decision import Decision, Source
from router.effort import Effort
from router.episodes import (
    Episode,
    EpisodePolicy,
    EpisodeSpent,
    apply_episode,
    chain_episode,
    find_episode,
    from_metadata,
    task_hash,
)
from router.policy import Budgets

TASK = [{"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": "Fix bug 12."}]
LATER = [
    *TASK,
    {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "function": {"name": "ls"}}]},
    {"role": "tool", "tool_call_id": "a", "content": "src/"},
    {"role": "user", "content": "also update the changelog"},
]


@pytest.mark.parametrize(
    ("body", "header", "chain", "source"),
    [
        pytest.param({"messages": TASK}, "run-42", None, "header", id="header"),
        pytest.param(
            {"messages": TASK, "metadata": {"episode_id": "run-42"}}, None, None, "metadata", id="metadata"
        ),
        pytest.param(
            {"messages": TASK, "metadata": {"thinkgate_episode": "e"}},
            None,
            chain_episode(TASK),
            "metadata",
            id="meta-wins",
        ),
        pytest.param({"messages": TASK}, None, chain_episode(TASK), "chain", id="responses-chain"),
        pytest.param({"messages": TASK}, None, Episode("m-1", "metadata"), "metadata", id="door-metadata"),
        pytest.param({"messages": TASK}, "h", Episode("m-1", "metadata"), "header", id="header-wins"),
        pytest.param({"messages": TASK}, "  ", None, "hash", id="blank-header-ignored"),
        pytest.param({"messages": TASK}, None, None, "hash", id="hash"),
    ],
)
def test_episode_sources(
    body: dict[str, Any], header: str | None, chain: Episode | None, source: str
) -> None:
    assert find_episode(body, header, chain).source == source


def test_a_chain_is_the_episode_its_first_turn_got_alone() -> None:
    assert chain_episode(TASK).id == find_episode({"messages": TASK}, None).id == task_hash(LATER)
    assert from_metadata({"user_id": "u-1"}) is None  # a user is not a task
    assert from_metadata({"thinkgate_episode": "e-1"}) == Episode("e-1", "metadata")
    assert from_metadata({"episode_id": "  "}) is None and from_metadata("e-1") is None


def test_hash_is_stable_across_the_steps_of_a_task_and_differs_between_tasks() -> None:
    assert task_hash(TASK) == task_hash(LATER) == find_episode({"messages": LATER}, None).id
    other = [TASK[0], {"role": "user", "content": "Fix bug 13."}]
    assert task_hash(other) != task_hash(TASK)
    assert task_hash([{"role": "user", "content": "Fix bug 12."}]) != task_hash(TASK)  # system prompt counts


def test_unusual_explicit_ids_are_hashed_not_echoed() -> None:
    assert find_episode({}, "ok-id_1.2").id == "ok-id_1.2"
    odd = find_episode({}, "line\nbreak")
    assert odd.id.startswith("x-") and "\n" not in odd.id
    assert find_episode({}, "y" * 500).id.startswith("x-")


def decision(effort: Effort, budget: int | None) -> Decision:
    return Decision(effort=effort, budget=budget, source=Source.CLASSIFIER, reason="classified")


LEVEL = lambda b: level_for_budget(b, Budgets())  # noqa: E731


@pytest.mark.parametrize(
    ("before", "left", "effort", "budget"),
    [
        pytest.param(decision(Effort.HIGH, 16384), None, Effort.HIGH, 16384, id="unknown-left-unchanged"),
        pytest.param(decision(Effort.MEDIUM, 4096), 10_000, Effort.MEDIUM, 4096, id="enough-left"),
        pytest.param(decision(Effort.HIGH, 16384), 3000, Effort.MEDIUM, 3000, id="bounded-by-what-is-left"),
        pytest.param(decision(Effort.XHIGH, None), 800, Effort.LOW, 800, id="unlimited-bounded"),
        pytest.param(decision(Effort.HIGH, 16384), 0, Effort.NONE, 0, id="spent-no-thinking"),
        pytest.param(decision(Effort.NONE, 0), 0, Effort.NONE, 0, id="not-thinking-anyway"),
    ],
)
def test_apply_episode(before: Decision, left: int | None, effort: Effort, budget: int) -> None:
    after = apply_episode(before, left, EpisodePolicy(budget=20_000), LEVEL)
    assert (after.effort, after.budget) == (effort, budget)
    if (effort, budget) != (before.effort, before.budget):
        assert "episode" in after.reason


def test_spent_episode_refused_by_policy_and_off_without_budget() -> None:
    with pytest.raises(EpisodeSpent, match="thinking budget of 100 tokens is spent"):
        apply_episode(decision(Effort.LOW, 1024), 0, EpisodePolicy(budget=100, on_spent="refuse"))
    assert apply_episode(decision(Effort.LOW, 1024), 0, EpisodePolicy()).budget == 1024
