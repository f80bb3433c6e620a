"""Episode thinking accounts: the in-memory store and the Redis store (a real redis-server) behave alike; Redis
stays exact when several "replicas" spend on one episode at once; a dead Redis fails open through the breaker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gateway.episodes import EpisodeLedger
from gateway.limits import Limiter, StateUnavailable
from gateway.metrics import GatewayMetrics
from gateway.store.breaker import CircuitBreaker
from gateway.store.episodes import EpisodeStore, MemoryEpisodes, RedisEpisodes
from gateway.store.memory import MemoryStore
from gateway.store.redis import connect
from tests.redis_server import RedisServer, redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def stores(redis: RedisServer, prefix: str) -> dict[str, EpisodeStore]:
    return {"memory": MemoryEpisodes(), "redis": RedisEpisodes(connect(redis.url, 2.0), prefix, 2.0)}


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_spend_and_read(redis: RedisServer, kind: str) -> None:
    store = stores(redis, "ep1")[kind]
    assert await store.spent("t-abc") == 0
    assert await store.spend("t-abc", 300, 60_000) == 300
    assert await store.spend("t-abc", 200, 60_000) == 500
    assert await store.spent("t-abc") == 500
    assert await store.spent("t-other") == 0


async def test_redis_accounts_expire_and_are_shared_exactly(redis: RedisServer) -> None:
    replicas = [RedisEpisodes(connect(redis.url, 10.0), "ep2", 10.0) for _ in range(4)]
    await asyncio.gather(*(replicas[i % 4].spend("run-7", 10, 60_000) for i in range(200)))
    assert await replicas[0].spent("run-7") == 2000
    client = connect(redis.url, 2.0)
    ttl = await client.pttl("ep2:ep:{run-7}")
    assert 0 < ttl <= 60_000
    await replicas[0].spend("short", 5, 50)
    await asyncio.sleep(0.2)
    assert await replicas[1].spent("short") == 0


async def test_memory_accounts_expire() -> None:
    now = [0.0]
    store = MemoryEpisodes(clock=lambda: now[0])
    await store.spend("e", 7, 1000)
    now[0] = 0.9
    assert await store.spent("e") == 7
    now[0] = 1.1
    assert await store.spent("e") == 0


async def test_dead_redis_fails_open_or_closed_by_policy(redis: RedisServer) -> None:
    metrics = GatewayMetrics()
    limiter = Limiter(MemoryStore(), CircuitBreaker(3, 1.0), metrics)
    ledger = EpisodeLedger(RedisEpisodes(connect("redis://127.0.0.1:1/0", 0.2), "dead", 0.2), limiter)
    assert await ledger.left("e", 1000, fail_closed=False) is None
    with pytest.raises(StateUnavailable):
        await ledger.left("e", 1000, fail_closed=True)
    ledger.spend_later("e", 10, 60)  # lost, counted, never raised
    await ledger.drain()
    assert metrics.redis_errors.labels("episode")._value.get() >= 3


async def test_ledger_left_is_budget_minus_spent(redis: RedisServer) -> None:
    limiter = Limiter(MemoryStore(), CircuitBreaker(3, 1.0), GatewayMetrics())
    ledger = EpisodeLedger(RedisEpisodes(connect(redis.url, 2.0), "ep3", 2.0), limiter)
    assert await ledger.left("e", 1000, fail_closed=False) == 1000
    ledger.spend_later("e", 600, 60)
    ledger.spend_later("e", 600, 60)
    await ledger.drain()
    assert await ledger.left("e", 1000, fail_closed=False) == 0
