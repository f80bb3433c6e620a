"""The Redis limit store against a real redis-server: the same table of cases as the in-memory store, and
admission that stays exact under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gateway.store.redis import RedisPolicyStore, RedisStore, connect
from router.limits import LimitRule
from tests.redis_server import RedisServer, redis_server
from tests.unit.test_limits_store import CASES, run_case


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.mark.parametrize("name", list(CASES))
async def test_redis_store_matches_memory_store(redis: RedisServer, name: str) -> None:
    rule, steps = CASES[name]
    store = RedisStore(connect(redis.url, 5.0), f"case{abs(hash(name))}", 5.0)
    try:
        await run_case(store, "key:k", rule, steps)
    finally:
        await store.close()


async def test_concurrent_admissions_stop_exactly_at_the_limit(redis: RedisServer) -> None:
    stores = [RedisStore(connect(redis.url, 5.0), "conc", 5.0) for _ in range(4)]  # four "replicas"
    rule = LimitRule(requests_per_minute=37)
    try:
        results = await asyncio.gather(*(stores[i % 4].admit("key:k", rule, 1) for i in range(200)))
    finally:
        for store in stores:
            await store.close()
    assert sum(r.admitted for r in results) == 37


async def test_counters_expire_with_their_window(redis: RedisServer) -> None:
    client = connect(redis.url, 1.0)
    store = RedisStore(client, "ttl", 5.0)
    await store.admit("key:k", LimitRule(requests_per_minute=5, tokens_per_minute=5), 3)
    await store.account("key:k", LimitRule(thinking_tokens=5, thinking_period="hour"), 0, 2)
    ttls = {k.decode(): await client.pttl(k) async for k in client.scan_iter("ttl:*")}
    await store.close()
    assert set(ttls) == {"ttl:rl:{key:k}:req", "ttl:rl:{key:k}:tok", "ttl:rl:{key:k}:think"}
    assert 0 < ttls["ttl:rl:{key:k}:req"] <= 60_000 and 60_000 < ttls["ttl:rl:{key:k}:think"] <= 3_600_000


async def test_policy_store_versions_and_compare_and_set(redis: RedisServer) -> None:
    store = RedisPolicyStore(connect(redis.url, 1.0), "pol", 1.0)
    try:
        assert await store.read() is None
        assert await store.publish("a: 1\n", "one") == (1, True)
        assert await store.publish("a: 1\n", "again") == (1, False)  # same text: same version
        assert await store.publish("a: 2\n", "two", expected=7) == (-1, False)
        assert await store.publish("a: 2\n", "two", expected=1) == (2, True)
        stored = await store.read()
        assert stored is not None
        assert (stored.version, stored.text, stored.prev_version, stored.prev_text) == (
            2,
            "a: 2\n",
            1,
            "a: 1\n",
        )
    finally:
        await store.client.aclose()


async def test_a_dead_redis_is_a_store_error_not_a_hang(redis: RedisServer) -> None:
    from gateway.store.base import StoreError

    dead = RedisServer()  # never started: connection refused
    store = RedisStore(connect(dead.url, 0.2), "dead", 0.2)
    with pytest.raises(StoreError, match="redis admit failed"):
        await store.admit("key:k", LimitRule(requests_per_minute=1), 1)
    await store.close()
