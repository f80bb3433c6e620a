"""Stored responses in memory: TTL, bound, owners, and the chain lookup."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.responses.store import (
    Chain,
    MemoryResponses,
    ResponseNotFound,
    StoredResponse,
    load_chain,
    load_record,
)


def record(
    rid: str, ancestors: tuple[str, ...] = (), owner: str | None = None, text: str = ""
) -> StoredResponse:
    user = {
        "id": f"msg_in_{rid}",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text or rid}],
        "status": "completed",
    }
    answer = {
        "id": f"msg_out_{rid}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": f"re {rid}", "annotations": []}],
    }
    return StoredResponse(rid, owner, ancestors, [user], {"id": rid, "output": [answer]})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_roundtrip_is_a_copy() -> None:
    store = MemoryResponses(ttl=60, max_entries=10)
    rec = record("r1")
    run(store.put(rec))
    (got,) = run(store.get_many(["r1"]))
    assert got == rec
    got.input_items.clear()  # a reader cannot change what is stored
    assert run(store.get_many(["r1"]))[0] == rec


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    store = MemoryResponses(ttl=10, max_entries=10, clock=clock)
    run(store.put(record("r1")))
    clock.now = 9.9
    assert run(store.get_many(["r1"]))[0] is not None
    clock.now = 10.0
    assert run(store.get_many(["r1"])) == [None]


def test_the_oldest_go_when_full() -> None:
    store = MemoryResponses(ttl=60, max_entries=3)
    for i in range(5):
        run(store.put(record(f"r{i}")))
    assert [r is not None for r in run(store.get_many([f"r{i}" for i in range(5)]))] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_the_oldest_go_when_over_the_byte_bound() -> None:
    size = len(record("r0", text="x" * 1000).encode())
    store = MemoryResponses(ttl=60, max_entries=100, max_bytes=3 * size)
    for i in range(5):
        run(store.put(record(f"r{i}", text="x" * 1000)))
    kept = [r is not None for r in run(store.get_many([f"r{i}" for i in range(5)]))]
    assert kept == [False, False, True, True, True]
    run(store.delete("r3"))  # a deleted record frees its bytes: room for two more without evicting r2
    run(store.put(record("r5", text="x" * 1000)))
    assert [r is not None for r in run(store.get_many(["r2", "r4", "r5"]))] == [True, True, True]
    run(store.put(record("r4", text="x" * 1000)))  # a replaced record counts once
    assert [r is not None for r in run(store.get_many(["r2", "r4", "r5"]))] == [True, True, True]


def test_the_newest_stays_even_when_alone_over_the_byte_bound() -> None:
    store = MemoryResponses(ttl=60, max_entries=100, max_bytes=2048)
    run(store.put(record("small")))
    run(store.put(record("big", text="x" * 5000)))
    assert [r is not None for r in run(store.get_many(["small", "big"]))] == [False, True]
    run(store.put(record("next")))  # the big one goes when the next comes
    assert [r is not None for r in run(store.get_many(["big", "next"]))] == [False, True]


def test_delete() -> None:
    store = MemoryResponses(ttl=60, max_entries=3)
    run(store.put(record("r1")))
    assert run(store.delete("r1")) is True
    assert run(store.delete("r1")) is False
    assert run(store.get_many(["r1"])) == [None]


def test_chain_loads_every_turn_oldest_first() -> None:
    store = MemoryResponses(ttl=60, max_entries=10)
    run(store.put(record("r1")))
    run(store.put(record("r2", ("r1",))))
    run(store.put(record("r3", ("r1", "r2"))))
    chain: Chain = run(load_chain(store, "r3", None))
    assert chain.root == "r1"
    assert chain.ancestors == ("r1", "r2", "r3")
    texts = [i["content"][0]["text"] for i in chain.items()]
    assert texts == ["r1", "re r1", "r2", "re r2", "r3", "re r3"]


def test_a_missing_ancestor_breaks_the_chain() -> None:
    store = MemoryResponses(ttl=60, max_entries=10)
    run(store.put(record("r1")))
    run(store.put(record("r2", ("r1",))))
    run(store.delete("r1"))
    with pytest.raises(ResponseNotFound, match="earlier turn"):
        run(load_chain(store, "r2", None))


@pytest.mark.parametrize("reader", [None, "other"])
def test_another_owner_sees_nothing(reader: str | None) -> None:
    store = MemoryResponses(ttl=60, max_entries=10)
    run(store.put(record("r1", owner="alice")))
    with pytest.raises(ResponseNotFound) as info:
        run(load_chain(store, "r1", reader))
    assert info.value.status == 404 and info.value.param == "previous_response_id"
    with pytest.raises(ResponseNotFound):
        run(load_record(store, "r1", reader))
    assert run(load_record(store, "r1", "alice")).id == "r1"


def test_kept_records_cost_their_length_not_the_encoders_buffer() -> None:
    """orjson returns its whole write buffer (>= 4 KB, never shrunk); the store keeps exact-size copies, so
    1,000 records of ~1.4 KB hold ~1.4 MB plus the dict, not the ~16 MB they held before (tracemalloc sees
    every byte)."""
    import tracemalloc

    store = MemoryResponses(ttl=60, max_entries=1000)
    records = [record(f"resp_{i:04d}", text="x" * 1000) for i in range(1000)]
    size = len(records[0].encode())

    async def grown_by_puts() -> int:
        before = tracemalloc.get_traced_memory()[0]
        for rec in records:
            await store.put(rec)
        return tracemalloc.get_traced_memory()[0] - before

    tracemalloc.start()
    try:
        grown = run(grown_by_puts())
    finally:
        tracemalloc.stop()
    # the record's bytes plus its dict entry, key and (expiry, bytes) tuple: well under twice its length
    assert grown / 1000 < 2 * size, (grown / 1000, size)
