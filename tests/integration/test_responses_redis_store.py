"""Stored responses in a real Redis: a chain written through one client (replica) loads through another,
entries carry the TTL, deletes are shared, and a dead Redis is a 503 on reads and a counted miss on writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.limits import StateUnavailable
from gateway.metrics import GatewayMetrics
from gateway.responses.keeping import Keeping
from gateway.responses.redis_store import RedisResponses
from gateway.responses.store import ResponseNotFound, load_chain
from gateway.store.redis import connect
from tests.redis_server import RedisServer, redis_server
from tests.unit.test_responses_store import record


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


async def test_a_chain_written_on_one_replica_loads_on_another(redis: RedisServer) -> None:
    a = RedisResponses(connect(redis.url, 2.0), "chain", 2.0, ttl=60)
    b = RedisResponses(connect(redis.url, 2.0), "chain", 2.0, ttl=60)
    try:
        await a.put(record("r1", owner="k"))
        await b.put(record("r2", ("r1",), owner="k"))
        await a.put(record("r3", ("r1", "r2"), owner="k"))
        chain = await load_chain(b, "r3", "k")
        assert chain.root == "r1"
        assert [i["content"][0]["text"] for i in chain.items()] == [
            "r1",
            "re r1",
            "r2",
            "re r2",
            "r3",
            "re r3",
        ]
        with pytest.raises(ResponseNotFound):
            await load_chain(b, "r3", "someone-else")
        assert await b.delete("r2") is True
        assert await a.delete("r2") is False
        with pytest.raises(ResponseNotFound, match="earlier turn"):
            await load_chain(a, "r3", "k")
    finally:
        await a.client.aclose()
        await b.client.aclose()


async def test_entries_carry_the_ttl(redis: RedisServer) -> None:
    client = connect(redis.url, 2.0)
    store = RedisResponses(client, "ttl", 2.0, ttl=30)
    try:
        await store.put(record("r1"))
        ttl = await client.pttl("ttl:resp:r1")
        assert 29_000 < ttl <= 30_000
    finally:
        await client.aclose()


async def test_a_dead_redis_is_503_on_read_and_a_counted_miss_on_write() -> None:
    server = RedisServer()
    server.start()
    client = connect(server.url, 0.3)
    metrics = GatewayMetrics()
    keeping = Keeping(RedisResponses(client, "dead", 0.3, ttl=30), metrics)
    try:
        assert await keeping.save(record("r1")) is True
        server.stop()
        assert await keeping.save(record("r2")) is False
        with pytest.raises(StateUnavailable) as info:
            await keeping.read("responses_chain", lambda s: load_chain(s, "r1", None))
        assert info.value.status == 503
        errors = {
            s.labels["op"]: s.value
            for m in metrics.registry.collect()
            if m.name == "thinkgate_redis_errors"
            for s in m.samples
            if s.name.endswith("_total")
        }
        assert errors == {"responses_put": 1.0, "responses_chain": 1.0}
    finally:
        server.stop()
        await client.aclose()
