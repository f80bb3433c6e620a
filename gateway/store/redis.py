"""Limit counters and the shared policy in Redis, for several gateway replicas.

Each operation is one Lua script run atomically by Redis (no read-then-write race between replicas). Keys
(``<prefix>`` is ``state.prefix``):

- ``<prefix>:rl:{<ident>}:req|tok|think`` — counters with a TTL equal to their window (the hash tag keeps a
  caller's counters in one Redis Cluster slot);
- ``<prefix>:policy`` — hash: ``version``, ``text``, ``source`` and ``prev_*`` of the shared policy;
- channel ``<prefix>:policy`` — a message with the new version number after each change.

``ident`` is a key's *name* from the policy, never the key. Every call is bounded by the client's socket
timeouts and by :func:`asyncio.timeout`; any failure becomes :class:`gateway.store.base.StoreError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.store.base import StoreError
from router.limits import MINUTE_MS, Admission, LimitRule, Verdict, Window

T = TypeVar("T")

# KEYS: requests, tokens, thinking. ARGV: rpm, tpm, quota (0 = unlimited), reject on quota (1/0), estimate,
# window ms. Returns {verdict, req used, req ttl, tok used, tok ttl, think used, think ttl, exhausted}.
# Same rule as router.limits.admit.
_ADMIT = """
local function window(key, limit)
  if limit <= 0 then return 0, 0 end
  local used = tonumber(redis.call('GET', key) or '0')
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then ttl = 0 end
  return used, ttl
end
local rpm, tpm, quota = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local reject_quota, estimate, win = ARGV[4] == '1', tonumber(ARGV[5]), tonumber(ARGV[6])
local ru, rt = window(KEYS[1], rpm)
local tu, tt = window(KEYS[2], tpm)
local qu, qt = window(KEYS[3], quota)
local exhausted = 0
if quota > 0 and qu >= quota then exhausted = 1 end
local verdict = 0
if rpm > 0 and ru >= rpm then verdict = 1
elseif tpm > 0 and tu >= tpm then verdict = 2
elseif exhausted == 1 and reject_quota then verdict = 3 end
if verdict == 0 and rpm > 0 then
  ru = redis.call('INCR', KEYS[1])
  if rt == 0 then redis.call('PEXPIRE', KEYS[1], win); rt = win end
end
if verdict == 0 and tpm > 0 then
  tu = redis.call('INCRBY', KEYS[2], estimate)
  if tt == 0 then redis.call('PEXPIRE', KEYS[2], win); tt = win end
end
return {verdict, ru, rt, tu, tt, qu, qt, exhausted}
"""

# KEYS: tokens, thinking. ARGV: token amount (negative = correction), thinking amount, minute ms, period ms
# (an amount of 0 leaves its counter alone). Same as MemoryStore._add on each counter.
_ACCOUNT = """
local function add(key, amount, win)
  if amount == 0 then return end
  if amount < 0 then
    if redis.call('EXISTS', key) == 0 then return end
    local v = redis.call('INCRBY', key, amount)
    if v < 0 then redis.call('SET', key, 0, 'KEEPTTL') end
    return
  end
  redis.call('INCRBY', key, amount)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, win) end
end
add(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[3]))
add(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[4]))
return 0
"""

# KEYS: policy hash. ARGV: text, source, expected version ('' = any), channel.
# Returns {version, changed (1/0)}; {-1, 0} when the expected version is not the current one.
_PUBLISH = """
local cur = redis.call('HMGET', KEYS[1], 'version', 'text', 'source')
local version = tonumber(cur[1] or '0')
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= version then return {-1, 0} end
if cur[2] == ARGV[1] then return {version, 0} end
if cur[2] then
  redis.call('HSET', KEYS[1], 'prev_version', version, 'prev_text', cur[2], 'prev_source', cur[3])
end
version = version + 1
redis.call('HSET', KEYS[1], 'version', version, 'text', ARGV[1], 'source', ARGV[2])
redis.call('PUBLISH', ARGV[4], version)
return {version, 1}
"""

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def connect(url: str, timeout: float) -> aioredis.Redis:
    """A client that never retries and never waits longer than ``timeout`` per socket operation."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )
    return client


class BoundedRedis:
    def __init__(self, client: aioredis.Redis, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    async def call(self, what: str, awaitable: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout * 2):
                return await awaitable
        except _FAILURES as exc:
            raise StoreError(f"redis {what} failed: {type(exc).__name__}") from None


class RedisStore(BoundedRedis):
    """:class:`gateway.store.base.LimitStore` on Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str, timeout: float) -> None:
        super().__init__(client, timeout)
        self.prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._account = client.register_script(_ACCOUNT)

    def _key(self, ident: str, kind: str) -> str:
        return f"{self.prefix}:rl:{{{ident}}}:{kind}"

    async def admit(self, ident: str, rule: LimitRule, estimate: int) -> Admission:
        keys = [self._key(ident, "req"), self._key(ident, "tok"), self._key(ident, "think")]
        args = [
            rule.requests_per_minute or 0,
            rule.tokens_per_minute or 0,
            rule.thinking_tokens or 0,
            1 if rule.on_quota_exhausted == "reject" else 0,
            max(estimate, 0),
            MINUTE_MS,
        ]
        raw: list[int] = await self.call("admit", self._admit(keys=keys, args=args))
        verdict = (Verdict.ADMIT, Verdict.REQUESTS, Verdict.TOKENS, Verdict.THINKING)[int(raw[0])]
        return Admission(
            verdict,
            Window(int(raw[1]), int(raw[2])),
            Window(int(raw[3]), int(raw[4])),
            Window(int(raw[5]), int(raw[6])),
            bool(raw[7]),
        )

    async def account(self, ident: str, rule: LimitRule, tokens: int, thinking: int) -> None:
        tokens = tokens if rule.tokens_per_minute is not None else 0
        thinking = max(thinking, 0) if rule.thinking_tokens is not None else 0
        if tokens or thinking:
            keys = [self._key(ident, "tok"), self._key(ident, "think")]
            args = [tokens, thinking, MINUTE_MS, rule.period_ms]
            await self.call("account", self._account(keys=keys, args=args))

    async def ping(self) -> None:
        await self.call("ping", self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """The shared policy as Redis holds it."""

    version: int
    text: str
    source: str
    prev_version: int | None
    prev_text: str | None
    prev_source: str | None


def _text(value: Any) -> str | None:
    return None if value is None else value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisPolicyStore(BoundedRedis):
    """The current and previous policy text in a Redis hash; changes announced on a channel."""

    def __init__(self, client: aioredis.Redis, prefix: str, timeout: float) -> None:
        super().__init__(client, timeout)
        self.key = f"{prefix}:policy"
        self.channel = f"{prefix}:policy"
        self._publish = client.register_script(_PUBLISH)

    async def read(self) -> StoredPolicy | None:
        raw: dict[Any, Any] = await self.call("read policy", self.client.hgetall(self.key))
        data = {k.decode(): _text(v) for k, v in raw.items()}
        if not data.get("version") or data.get("text") is None:
            return None
        prev = data.get("prev_version")
        return StoredPolicy(
            int(data["version"] or 0),
            data["text"] or "",
            data.get("source") or "",
            int(prev) if prev else None,
            data.get("prev_text"),
            data.get("prev_source"),
        )

    async def publish(self, text: str, source: str, expected: int | None = None) -> tuple[int, bool]:
        """Store ``text`` as the next version and announce it (unchanged text keeps the version).
        With ``expected``, only when the current version is that one; returns ``(-1, False)`` otherwise."""
        args = [text, source, "" if expected is None else expected, self.channel]
        raw: list[int] = await self.call("publish policy", self._publish(keys=[self.key], args=args))
        return int(raw[0]), bool(raw[1])

    async def versions(self) -> AsyncIterator[int]:
        """Version numbers announced on the channel, from the moment of subscription (raises
        :class:`StoreError` when the connection is lost; the caller reconnects)."""
        pubsub = self.client.pubsub()
        try:
            await self.call("subscribe", pubsub.subscribe(self.channel))
            yield 0  # subscribed: the caller re-reads the hash to catch changes it missed
            while True:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except _FAILURES as exc:
                    raise StoreError(f"redis policy channel lost: {type(exc).__name__}") from None
                if message is not None and message.get("type") == "message":
                    yield int(message["data"])
        finally:
            with contextlib.suppress(*_FAILURES):
                await pubsub.aclose()
