"""Stored responses in Redis: ``<prefix>:resp:<id>`` holds the record's JSON, expiring after the TTL.

Every replica reads the same keys, so a ``previous_response_id`` chain continues wherever the next turn
lands. A chain loads with two calls (the previous record, then one ``MGET`` of its ancestors). Calls are
bounded like the limiter's (:class:`gateway.store.redis.BoundedRedis`); failures raise
:class:`gateway.store.base.StoreError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from gateway.responses.store import StoredResponse
from gateway.store.redis import BoundedRedis


class RedisResponses(BoundedRedis):
    def __init__(self, client: aioredis.Redis, prefix: str, timeout: float, ttl: float) -> None:
        super().__init__(client, timeout)
        self.prefix = prefix
        self._ttl_ms = max(int(ttl * 1000), 1)

    def _key(self, response_id: str) -> str:
        return f"{self.prefix}:resp:{response_id}"

    async def put(self, record: StoredResponse) -> None:
        await self.call(
            "store response", self.client.set(self._key(record.id), record.encode(), px=self._ttl_ms)
        )

    async def get_many(self, ids: Sequence[str]) -> list[StoredResponse | None]:
        if not ids:
            return []
        raw: list[bytes | str | None] = await self.call(
            "read responses", self.client.mget([self._key(i) for i in ids])
        )
        return [None if value is None else StoredResponse.decode(value) for value in raw]

    async def delete(self, response_id: str) -> bool:
        removed: int = await self.call("delete response", self.client.delete(self._key(response_id)))
        return removed > 0

    async def close(self) -> None:
        """Nothing: the client is the shared state's (the limiter's store closes it)."""
