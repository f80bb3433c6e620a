"""Thinking tokens spent per agent episode (policy ``agent.episodes``): in this process, or in Redis so that
every replica sees the same account.

Redis key: ``<prefix>:ep:{<episode id>}`` — an integer (tokens spent) whose TTL restarts at each step
(``agent.episodes.ttl_seconds``). Spending is one Lua script (``INCRBY`` + ``PEXPIRE``), so concurrent steps
on several replicas never lose an update. Failures raise :class:`gateway.store.base.StoreError`;
:class:`gateway.episodes.EpisodeLedger` decides what they mean.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis

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
