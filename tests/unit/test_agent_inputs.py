"""``gateway.episodes.agent_inputs`` with ``budget_only`` (the serving path) and ``answer_episode``: the episode
an answer names is the one the full lookup finds, whether it was found before the step or after the write."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, cast

import pytest

from gateway.episodes import EpisodeLedger, agent_inputs, answer_episode
from gateway.pipeline.door import Call
from router.episodes import Episode, EpisodePolicy
from router.steps import AgentPolicy


class Ledger:
    """Counts reads of what an episode has left."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    async def left(self, episode: str, budget: int, *, fail_closed: bool) -> int | None:
        self.reads.append(episode)
        return budget - 100


TOOLS = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]


def chat(**extra: Any) -> Call:
    body = {"model": "auto", "messages": [{"role": "user", "content": "fix the parser"}], **extra}
    return Call(body=body, model="auto", stream=False)


CASES = [
    (chat(tools=TOOLS), None, None),  # an agent step: the task hash
    (chat(), "run-7", None),  # the header names it
    (chat(metadata={"episode_id": "meta-1"}), None, None),
    (chat(), None, Episode("resp-1", "chain")),  # what the front door found (a Responses chain)
    (chat(), None, None),  # no tools, no id, no budget: no episode
    (Call(body={"model": "auto", "prompt": "x"}, model="auto", stream=False, decided=False), "run-7", None),
]


@pytest.mark.parametrize(("call", "header", "known"), CASES)
def test_without_a_budget_the_answer_names_the_episode_the_full_lookup_finds(
    call: Call, header: str | None, known: Episode | None
) -> None:
    call = replace(call, episode=known)
    policy = AgentPolicy()
    ledger = Ledger()
    full = asyncio.run(agent_inputs(cast(EpisodeLedger, ledger), policy, call, header, fail_closed=False))
    lean = asyncio.run(
        agent_inputs(cast(EpisodeLedger, ledger), policy, call, header, fail_closed=False, budget_only=True)
    )
    assert lean.episode is None and lean.left is None and lean.policy is policy
    assert answer_episode(lean, call, header) == full.episode == answer_episode(full, call, header)
    assert ledger.reads == []


def test_with_a_budget_the_episode_and_what_it_has_left_are_read_before_the_step() -> None:
    policy = AgentPolicy(episodes=EpisodePolicy(budget=1000))
    ledger = Ledger()
    call = chat(tools=TOOLS)
    got = asyncio.run(
        agent_inputs(cast(EpisodeLedger, ledger), policy, call, None, fail_closed=False, budget_only=True)
    )
    assert got.episode is not None and got.episode.id.startswith("t-")
    assert got.left == 900 and ledger.reads == [got.episode.id]
    assert answer_episode(got, call, None) == got.episode
