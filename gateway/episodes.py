"""Episode thinking budgets in the gateway: the ledger of thinking tokens spent per agent episode.

:class:`EpisodeLedger` reads what an episode has left before a step and charges the step's reasoning tokens
after it, on the store of :mod:`gateway.store.episodes` (memory, or Redis shared by replicas), behind the
limiter's circuit breaker: with ``state.on_redis_error: open`` a failing store serves the step without an
episode bound (counted in ``thinkgate_redis_errors_total``), with ``closed`` it answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib

from gateway.limits import Limiter, StateUnavailable
from gateway.pipeline.door import Call
from gateway.pipeline.plan import AgentInputs
from gateway.store.base import StoreError
from gateway.store.episodes import EpisodeStore
from router.episodes import Episode, find_episode
from router.steps import AgentPolicy


class EpisodeLedger:
    """Episode accounts behind the limiter's circuit breaker and Redis-failure policy."""

    def __init__(self, store: EpisodeStore, limiter: Limiter) -> None:
        self.store = store
        self.limiter = limiter
        self._tasks: set[asyncio.Task[None]] = set()

    async def left(self, episode: str, budget: int, *, fail_closed: bool) -> int | None:
        """Thinking tokens the episode may still spend; ``None`` when the store is unusable (fail open)."""
        try:
            spent = await self.limiter.guarded("episode", lambda: self.store.spent(episode))
        except StoreError:
            if fail_closed:
                raise StateUnavailable(
                    "episode budgets cannot be checked: shared state (Redis) is unavailable; retry shortly",
                    headers={"retry-after": "1"},
                ) from None
            return None
        return max(budget - spent, 0)

    def spend_later(self, episode: str, tokens: int, ttl_seconds: float) -> None:
        """Charge ``tokens`` to the episode in the background (the response is not held up)."""
        if tokens <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._spend(episode, tokens, int(ttl_seconds * 1000)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spend(self, episode: str, tokens: int, ttl_ms: int) -> None:
        with contextlib.suppress(StoreError):  # counted and logged by the breaker guard; this usage is lost
            await self.limiter.guarded("episode", lambda: self.store.spend(episode, tokens, ttl_ms))

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def episode_of(policy: AgentPolicy, call: Call, header: str | None) -> Episode | None:
    """The call's episode: found for agent requests (tools offered), for an explicit id, and whenever an
    episode budget is configured (pure)."""
    if not call.decided or (policy.episodes.budget is None and not call.body.get("tools") and not header):
        return None
    return find_episode(call.body, header, call.episode)


async def agent_inputs(
    ledger: EpisodeLedger,
    policy: AgentPolicy,
    call: Call,
    header: str | None,
    *,
    fail_closed: bool,
    budget_only: bool = False,
) -> AgentInputs:
    """The step policy, episode and thinking left for one call (:func:`episode_of`); what is left is read
    (never charged) only when an episode budget is configured. ``budget_only``: the episode is looked for
    only when a budget needs it before the step (the serving path: without a budget the episode only names
    the answer, :func:`answer_episode`, found after the upstream write — a task hash, ~170 bytecode
    instructions of a 1 KB agent step, 2026-12-07)."""
    budget = policy.episodes.budget
    if budget_only and budget is None:
        return AgentInputs(policy)
    episode = episode_of(policy, call, header)
    if episode is None:
        return AgentInputs(policy)
    left = None if budget is None else await ledger.left(episode.id, budget, fail_closed=fail_closed)
    return AgentInputs(policy, episode, left)


def answer_episode(agent: AgentInputs, call: Call, header: str | None) -> Episode | None:
    """The episode an answer names (``x-thinkgate-episode``): the one :func:`agent_inputs` found, or, when it
    did not look for one (``budget_only`` without a budget), :func:`episode_of` now."""
    if agent.episode is not None or agent.policy.episodes.budget is not None:
        return agent.episode
    return episode_of(agent.policy, call, header)
