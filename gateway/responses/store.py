"""Stored responses and ``previous_response_id`` chains.

A :class:`StoredResponse` keeps what a later turn needs: this turn's input items, the Response (its output
items), who may read it, and the ids of its ancestors (oldest first), so a whole chain loads in one store
call. Stores: :class:`MemoryResponses` (this process; bounded, entries expire) and
:class:`gateway.responses.redis_store.RedisResponses` (shared by replicas, so a chain started on one replica
continues on another). Both keep records as JSON bytes: what goes in is what comes out, never a live object.

:func:`load_chain` is the one chain lookup (the front door and the agent-episode accounting both call it).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from gateway.errors import NotFound


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored turn. ``owner`` is the API key's name (``None`` with auth off): only it reads the record."""

    id: str
    owner: str | None
    ancestors: tuple[str, ...]  # previous responses of the chain, oldest first
    input_items: list[dict[str, Any]]
    response: dict[str, Any]

    @property
    def root(self) -> str:
        """The first response of the chain (the chain's stable id)."""
        return self.ancestors[0] if self.ancestors else self.id

    def items(self) -> list[dict[str, Any]]:
        """This turn as history for the next: its input, then its output."""
        return [*self.input_items, *self.response.get("output", [])]

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "owner": self.owner,
                "ancestors": self.ancestors,
                "input_items": self.input_items,
                "response": self.response,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> StoredResponse:
        data = orjson.loads(raw)
        return cls(data["id"], data["owner"], tuple(data["ancestors"]), data["input_items"], data["response"])


class ResponseStore(Protocol):
    """Where stored responses live. Reads of unknown or expired ids return ``None``; failures raise
    :class:`gateway.store.base.StoreError`."""

    async def put(self, record: StoredResponse) -> None: ...

    async def get_many(self, ids: Sequence[str]) -> list[StoredResponse | None]: ...

    async def delete(self, response_id: str) -> bool: ...

    async def close(self) -> None: ...


class MemoryResponses:
    """Records in an insertion-ordered dict: at most ``max_entries`` and ``max_bytes`` of encoded JSON (the
    oldest go first; the newest stays even when it alone is larger), each for ``ttl`` seconds. Every method
    runs without awaiting, so each is atomic on the event loop."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        # the count alone did not bound the memory: a record holds its turn's input items, so 10,000 agent
        # turns that resend 800 KB trajectories without previous_response_id would have kept ~8 GB
        self._max_bytes = max_bytes
        self._bytes = 0
        self._clock = clock
        self._records: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def put(self, record: StoredResponse) -> None:
        now = self._clock()
        self._drop(record.id)
        # a copy of exactly the encoded length: orjson (3.12+) returns its whole write buffer, a power of two
        # of at least 4 KB (16 KB for a ~1.3 KB record), and never shrinks it; at the default 10,000 records
        # that was ~150 MB of a worker's RSS for ~13 MB of JSON (benchmarks/memory_growth.py, RESULTS.md
        # "Memory under load, session 9"); the copy costs ~0.4 us per stored response
        encoded = bytes(memoryview(record.encode()))
        self._records[record.id] = (now + self._ttl, encoded)
        self._bytes += len(encoded)
        while len(self._records) > self._max or (self._bytes > self._max_bytes and len(self._records) > 1):
            self._pop_oldest()
        while self._records:  # entries expire in insertion order: drop the expired head
            first = next(iter(self._records.values()))
            if first[0] > now:
                break
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        self._bytes -= len(self._records.popitem(last=False)[1][1])

    def _drop(self, response_id: str) -> bool:
        entry = self._records.pop(response_id, None)
        if entry is None:
            return False
        self._bytes -= len(entry[1])
        return True

    async def get_many(self, ids: Sequence[str]) -> list[StoredResponse | None]:
        now = self._clock()
        out: list[StoredResponse | None] = []
        for response_id in ids:
            entry = self._records.get(response_id)
            if entry is None or entry[0] <= now:
                out.append(None)
            else:
                out.append(StoredResponse.decode(entry[1]))
        return out

    async def delete(self, response_id: str) -> bool:
        return self._drop(response_id)

    async def close(self) -> None:
        self._records.clear()
        self._bytes = 0


class ResponseNotFound(NotFound):
    code = "response_not_found"


def not_found(response_id: str, param: str | None = None) -> ResponseNotFound:
    return ResponseNotFound(
        f"response {response_id!r} not found (never stored, expired or deleted)", param=param
    )


async def load_record(store: ResponseStore, response_id: str, owner: str | None) -> StoredResponse:
    """One stored response of ``owner``; another key's response is as unknown as a missing one (404)."""
    (record,) = await store.get_many([response_id])
    if record is None or record.owner != owner:
        raise not_found(response_id)
    return record


@dataclass(frozen=True, slots=True)
class Chain:
    """The turns before a request that names ``previous_response_id``."""

    previous: StoredResponse
    records: tuple[StoredResponse, ...]  # oldest first, ending with ``previous``

    @property
    def root(self) -> str:
        """The chain's first response id: stable across every turn of the chain (an episode id)."""
        return self.previous.root

    @property
    def ancestors(self) -> tuple[str, ...]:
        """What a new turn on this chain stores as its ancestors."""
        return (*self.previous.ancestors, self.previous.id)

    def items(self) -> list[dict[str, Any]]:
        """Every earlier input and output item, oldest first."""
        return [item for record in self.records for item in record.items()]


async def load_chain(store: ResponseStore, previous_response_id: str, owner: str | None) -> Chain:
    """The chain ending at ``previous_response_id`` (two store calls); 404 if it or any ancestor is gone."""
    (previous,) = await store.get_many([previous_response_id])
    if previous is None or previous.owner != owner:
        raise not_found(previous_response_id, "previous_response_id")
    earlier = await store.get_many(previous.ancestors) if previous.ancestors else []
    for ancestor_id, record in zip(previous.ancestors, earlier, strict=True):
        if record is None or record.owner != owner:
            raise ResponseNotFound(
                f"response {ancestor_id!r}, an earlier turn of the chain ending at {previous_response_id!r}, "
                "is no longer stored; start a new chain",
                param="previous_response_id",
            )
    return Chain(previous, (*[r for r in earlier if r is not None], previous))
