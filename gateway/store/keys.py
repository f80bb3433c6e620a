"""Runtime API keys (``POST/GET/DELETE /admin/keys``): where they are stored and how each process keeps its
copy (:class:`gateway.auth.RuntimeKeys`) current.

Only SHA-256 digests are stored. Without Redis they live in this process. With Redis they are one hash,
``<prefix>:keys`` (field: the key's name; value: ``<sha256 hex>:<tenant>``), changed by Lua scripts (a name or
digest is never taken twice, even by two replicas at once); each change is announced on the channel
``<prefix>:keys``. Every process reads the whole hash at startup, when it hears of a change, after
re-subscribing and every ``refresh`` seconds, so authentication never waits on Redis; when Redis is down the
last copy stays in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.auth import RuntimeKey, RuntimeKeys
from gateway.errors import GatewayError
from gateway.store.base import StoreError
from gateway.store.redis import BoundedRedis

log = logging.getLogger("thinkgate.keys")

#: seconds between two log lines about failing to refresh the runtime keys
LOG_INTERVAL = 10.0

# KEYS: the hash. ARGV: name, "<hex>:<tenant>", hex digest, channel. Returns 0 added, 1 name taken,
# 2 digest taken.
_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if string.sub(v, 1, 64) == ARGV[3] then return 2 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 0
"""

# KEYS: the hash. ARGV: name, channel. Returns 1 when the name was there.
_REMOVE = """
local n = redis.call('HDEL', KEYS[1], ARGV[1])
if n == 1 then redis.call('PUBLISH', ARGV[2], ARGV[1]) end
return n
"""

_ADDED, _NAME_TAKEN, _DIGEST_TAKEN = 0, 1, 2


class KeyConflict(GatewayError):
    status = 409
    type = "conflict_error"
    code = "key_conflict"


class KeyNotFound(GatewayError):
    status = 404
    type = "not_found_error"
    code = "key_not_found"


class KeyBackend(Protocol):
    """Where runtime keys are stored."""

    async def load(self) -> tuple[RuntimeKey, ...]: ...

    async def add(self, key: RuntimeKey) -> int:
        """0 added, 1 the name is taken, 2 the digest is taken."""
        ...

    async def remove(self, name: str) -> bool: ...


class MemoryKeys:
    """Runtime keys of this process only."""

    def __init__(self) -> None:
        self._keys: dict[str, RuntimeKey] = {}

    async def load(self) -> tuple[RuntimeKey, ...]:
        return tuple(self._keys.values())

    async def add(self, key: RuntimeKey) -> int:
        if key.name in self._keys:
            return _NAME_TAKEN
        if any(k.sha256 == key.sha256 for k in self._keys.values()):
            return _DIGEST_TAKEN
        self._keys[key.name] = key
        return _ADDED

    async def remove(self, name: str) -> bool:
        return self._keys.pop(name, None) is not None


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _decode(name: bytes, value: bytes) -> RuntimeKey | None:
    text = value.decode("utf-8", "replace")
    hexdigest, _, tenant = text.partition(":")
    try:
        return RuntimeKey(name.decode("utf-8"), tenant, bytes.fromhex(hexdigest))
    except ValueError:
        return None


class RedisKeys(BoundedRedis):
    """Runtime keys in a Redis hash, changes announced on a channel."""

    def __init__(self, client: aioredis.Redis, prefix: str, timeout: float) -> None:
        super().__init__(client, timeout)
        self.key = f"{prefix}:keys"
        self.channel = f"{prefix}:keys"
        self._add = client.register_script(_ADD)
        self._remove = client.register_script(_REMOVE)

    async def load(self) -> tuple[RuntimeKey, ...]:
        raw: dict[bytes | str, bytes | str] = await self.call("read keys", self.client.hgetall(self.key))
        keys = (_decode(_bytes(name), _bytes(value)) for name, value in raw.items())
        return tuple(k for k in keys if k is not None and k.tenant)

    async def add(self, key: RuntimeKey) -> int:
        args = [key.name, f"{key.sha256.hex()}:{key.tenant}", key.sha256.hex(), self.channel]
        result: int = await self.call("add key", self._add(keys=[self.key], args=args))
        return int(result)

    async def remove(self, name: str) -> bool:
        result: int = await self.call("remove key", self._remove(keys=[self.key], args=[name, self.channel]))
        return bool(result)

    async def changes(self) -> AsyncIterator[None]:
        """One item when subscribed and one per announced change (raises :class:`StoreError` when the
        connection is lost; the caller subscribes again)."""
        pubsub = self.client.pubsub()
        try:
            await self.call("subscribe keys", pubsub.subscribe(self.channel))
            yield None
            while True:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except (TimeoutError, RedisError, OSError) as exc:
                    raise StoreError(f"redis keys channel lost: {type(exc).__name__}") from None
                if message is not None and message.get("type") == "message":
                    yield None
        finally:
            with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
                await pubsub.aclose()


class KeyManager:
    """Adds and removes runtime keys and keeps ``cache`` (the :class:`RuntimeKeys` the key store checks)
    current. Store failures on a change become :class:`StoreError` for the caller; failures to refresh are
    logged at most once per :data:`LOG_INTERVAL` and leave the cache as it was."""

    def __init__(self, backend: KeyBackend, cache: RuntimeKeys, refresh: float = 10.0) -> None:
        self.backend = backend
        self.cache = cache
        self.refresh_interval = refresh
        self._tasks: list[asyncio.Task[None]] = []
        self._logged_at = -LOG_INTERVAL

    async def reload(self) -> None:
        """Read every runtime key from the store into the cache (raises :class:`StoreError`)."""
        self.cache.replace(await self.backend.load())

    async def _reload_quietly(self) -> None:
        try:
            await self.reload()
        except StoreError as exc:
            now = time.monotonic()
            if now - self._logged_at >= LOG_INTERVAL:
                self._logged_at = now
                log.warning("runtime API keys not refreshed, the last copy stays in use: %s", exc)

    async def add(self, key: RuntimeKey) -> None:
        """Store ``key``; :class:`KeyConflict` (409) when its name or its key is taken."""
        outcome = await self.backend.add(key)
        if outcome == _NAME_TAKEN:
            raise KeyConflict(f"a runtime key named {key.name!r} exists; delete it first", param="name")
        if outcome == _DIGEST_TAKEN:
            raise KeyConflict("this key is already in use; choose another", param="key")
        await self._reload_quietly()

    async def remove(self, name: str) -> None:
        """Delete the runtime key ``name``; :class:`KeyNotFound` (404) when there is none."""
        if not await self.backend.remove(name):
            raise KeyNotFound(f"no runtime key named {name!r}")
        await self._reload_quietly()

    async def start(self) -> None:
        await self._reload_quietly()
        if isinstance(self.backend, RedisKeys):
            self._tasks.append(asyncio.create_task(self._listen(self.backend)))
            self._tasks.append(asyncio.create_task(self._poll()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _listen(self, backend: RedisKeys) -> None:
        while True:
            try:
                async for _ in backend.changes():
                    await self._reload_quietly()
            except StoreError:
                await asyncio.sleep(0.5)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            await self._reload_quietly()
