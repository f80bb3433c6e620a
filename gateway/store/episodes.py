"""Thinking tokens spent per agent episode (policy ``agent.episodes``): in this process, or in Redis so that
every replica sees the same account.

Redis key: ``<prefix>:ep:{<episode id>}`` — an integer (tokens spent) whose TTL restarts at each step
(``agent.episodes.ttl_seconds``). Spending is one Lua script (``INCRBY`` + ``PEXPIRE``), so concurrent steps
on several replicas never lose an update. Failures go through the limiter's circuit breaker and
``state.on_redis_error``: ``open`` serves the step without an episode bound (counted in
``thinkgate_redis_errors_total``), ``closed`` answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis

from gateway.limits import Limiter, StateUnavailable
from gateway.store.base import StoreError
from gateway.store.redis import BoundedRedis

_SPEND = """
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
"""


class EpisodeStore(Protocol):
    async def spent(self, episode: str) -> int:
        """Thinking tokens the episode has spent (0 for an unknown or expired one)."""
        ...

    async def spend(self, episode: str, tokens: int, ttl_ms: int) -> int:
        """Add ``tokens``; the account expires ``ttl_ms`` after this call. Returns the new total."""
        ...


class MemoryEpisodes:
    """Accounts in a dict ``episode -> (spent, expires_at)``; each method is atomic on the event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._spent: dict[str, tuple[int, float]] = {}

    async def spent(self, episode: str) -> int:
        entry = self._spent.get(episode)
        if entry is None or entry[1] <= self._clock():
            self._spent.pop(episode, None)
            return 0
        return entry[0]

    async def spend(self, episode: str, tokens: int, ttl_ms: int) -> int:
        now = self._clock()
        total = await self.spent(episode) + tokens
        self._spent[episode] = (total, now + ttl_ms / 1000)
        if len(self._spent) > self._max:  # drop expired accounts, then the oldest-expiring ones
            live = sorted((v[1], k) for k, v in self._spent.items() if v[1] > now)
            self._spent = {k: self._spent[k] for _, k in live[-self._max // 2 :]}
        return total


class RedisEpisodes(BoundedRedis):
    """Accounts in Redis, shared by every replica."""

    def __init__(self, client: aioredis.Redis, prefix: str, timeout: float) -> None:
        super().__init__(client, timeout)
        self.prefix = prefix
        self._spend = client.register_script(_SPEND)

    def key(self, episode: str) -> str:
        return f"{self.prefix}:ep:{{{episode}}}"

    async def spent(self, episode: str) -> int:
        value = await self.call("episode", self.client.get(self.key(episode)))
        return int(value or 0)

    async def spend(self, episode: str, tokens: int, ttl_ms: int) -> int:
        total = await self.call("episode", self._spend(keys=[self.key(episode)], args=[tokens, ttl_ms]))
        return int(total)


class EpisodeLedger:
    """Episode accounts behind the limiter's circuit breaker and Redis-failure policy."""

    def __init__(self, store: EpisodeStore, limiter: Limiter) -> None:
        self.store = store
        self.limiter = limiter
        self._tasks: set[asyncio.Task[None]] = set()

    async def left(self, episode: str, budget: int, *, fail_closed: bool) -> int | None:
        """Thinking tokens the episode may still spend; ``None`` when the store is unusable (fail open)."""
        try:
            spent = await self.limiter._guarded("episode", lambda: self.store.spent(episode))
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
            await self.limiter._guarded("episode", lambda: self.store.spend(episode, tokens, ttl_ms))

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
