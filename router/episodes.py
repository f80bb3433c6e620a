"""Episode thinking budgets (policy ``agent.episodes``): one task's thinking across all its steps (pure).

An episode is identified by (first match): an explicit id (the ``x-thinkgate-episode`` header, or
``metadata.episode_id`` / ``metadata.thinkgate_episode`` in the body or in the front door's own request), a
Responses ``previous_response_id`` chain (the hash of its first turn's task, so a chain and a full-input
replay of the same task are one episode), else a stable hash of the task's system prompt and first user
turn — every harness resends those unchanged on every step. The gateway keeps the thinking
tokens spent per episode (memory, or Redis shared by replicas); :func:`apply_episode` gives a step at most
what is left and, once it is spent, runs it without thinking or refuses it (``on_spent``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from router.decision import Decision
from router.effort import Effort

#: Longest explicit id used as given (longer or unusual ones are hashed).
MAX_ID_CHARS = 128
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:@/+=-]{1,128}$")
_HEAD_CHARS = 4000


class EpisodePolicy(BaseModel):
    """``budget``: thinking tokens one episode may spend over all its steps (``null``: no episode budget).
    ``on_spent``: ``no_thinking`` runs later steps without thinking, ``refuse`` answers them 429.
    ``ttl_seconds``: an episode's account is forgotten this long after its last step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget: int | None = Field(default=None, ge=0)
    on_spent: Literal["no_thinking", "refuse"] = "no_thinking"
    ttl_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)


class EpisodeSpent(ValueError):
    """The episode's thinking budget is spent and the policy refuses further steps."""


@dataclass(frozen=True, slots=True)
class Episode:
    """Which episode a request belongs to and how that was found (``header``, ``metadata``, ``chain``,
    ``hash``)."""

    id: str
    source: str


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _usable(value: str) -> str:
    value = value.strip()
    return value if _SAFE_ID.match(value) else "x-" + _digest(value)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content[:_HEAD_CHARS]
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        parts = [p.get("text") for p in content if isinstance(p, Mapping)]
        return "\n".join(p for p in parts if isinstance(p, str))[:_HEAD_CHARS]
    return ""


def task_hash(messages: Any) -> str:
    """A stable id of a task: hash of the system/developer text and the first user turn."""
    system: list[str] = []
    first_user = ""
    if isinstance(messages, Sequence) and not isinstance(messages, (str, bytes, bytearray)):
        for msg in messages:
            if not isinstance(msg, Mapping):
                continue
            role = msg.get("role")
            if role in ("system", "developer"):
                system.append(_text(msg.get("content")))
            elif role == "user":
                first_user = _text(msg.get("content"))
                break
    return "t-" + _digest("\n".join(system), first_user)


def from_metadata(metadata: Any) -> Episode | None:
    """The explicit episode id of a ``metadata`` object (``episode_id``, else ``thinkgate_episode``)."""
    if isinstance(metadata, Mapping):
        for key in ("episode_id", "thinkgate_episode"):
            value = metadata.get(key)
            if isinstance(value, str) and value.strip():
                return Episode(_usable(value), "metadata")
    return None


def chain_episode(first_turn: Any) -> Episode:
    """The episode of a Responses ``previous_response_id`` chain: the task hash of its first turn's chat
    messages — the id the first turn got on its own, and the one a full-input replay of the task gets."""
    return Episode(task_hash(first_turn), "chain")


def find_episode(body: Mapping[str, Any], header: str | None, known: Episode | None = None) -> Episode:
    """The episode of a chat body (see the module docstring for the order). ``known``: what the front door
    found in its own request (its ``metadata``, a Responses chain)."""
    if header is not None and header.strip():
        return Episode(_usable(header), "header")
    found = from_metadata(body.get("metadata"))
    if found is not None:
        return found
    if known is not None:
        return known
    return Episode(task_hash(body.get("messages")), "hash")


def apply_episode(
    decision: Decision,
    left: int | None,
    policy: EpisodePolicy,
    level_for: Callable[[int], Effort] | None = None,
) -> Decision:
    """Bound ``decision`` by the ``left`` thinking tokens of its episode (``None``: unknown, unchanged).

    A step that thinks gets a budget of at most ``left``; with nothing left it runs without thinking or raises
    :class:`EpisodeSpent` (``on_spent: refuse``). ``level_for(budget)`` names the level of a lowered budget.
    """
    if left is None or policy.budget is None or not decision.effort.thinks:
        return decision
    if left <= 0:
        if policy.on_spent == "refuse":
            raise EpisodeSpent(
                f"the episode's thinking budget of {policy.budget} tokens is spent; start a new task or "
                "raise agent.episodes.budget"
            )
        return dataclasses.replace(
            decision,
            effort=Effort.NONE,
            budget=0,
            reason=f"{decision.reason}; episode thinking budget ({policy.budget}) spent: no thinking",
            episode_effect="no_thinking",
        )
    if decision.budget is not None and decision.budget <= left:
        return decision
    effort = decision.effort
    if level_for is not None:
        effort = min(effort, level_for(left))
    return dataclasses.replace(
        decision,
        effort=effort,
        budget=left,
        reason=f"{decision.reason}; episode has {left} thinking tokens left: step budget {left}",
        episode_effect="bounded",
    )
