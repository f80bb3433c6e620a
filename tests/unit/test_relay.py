"""The relay's batches: a stream's first event goes out alone when its read holds much more (the rest of
that read follows in the next batch), else with the rest of that read; then one batch per read; the same
chunks either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from gateway.backends.client import UpstreamFailure, UpstreamResponse
from gateway.proxy.normalize import UsageTally
from gateway.proxy.relay import ChunkReader, read_chunks
from gateway.proxy.sse import SSEParser

RECORDING = Path(__file__).parent / "data" / "vllm-0.32-chat-stream.sse"


class Reads:
    """The reads an upstream response gives after the opener's (``b""`` at the end)."""

    def __init__(self, reads: list[bytes]) -> None:
        self.reads = reads
        self.done = False

    async def receive(self) -> bytes:
        return self.reads.pop(0) if self.reads else b""

    def done_reading(self) -> None:
        self.done = True


async def relay(reads: list[bytes]) -> tuple[list[list[dict[str, Any]]], Reads]:
    """The opener's first read through ``feed_first``, the others through the relay, as the exchange does."""
    parser = SSEParser()
    first = parser.feed_first(reads[0])
    response = Reads(reads[1:])
    reader = ChunkReader(pool="p", exclude=False, want_usage=True, tally=UsageTally(), counter=None)
    chunks = read_chunks(reader, cast(UpstreamResponse, response), parser, first, False)
    return [batch async for batch in chunks], response


async def test_the_first_event_of_a_read_goes_out_alone() -> None:
    raw = RECORDING.read_bytes()
    events = raw.count(b"\n\n") - 1  # [DONE] is no chunk
    batches, response = await relay([raw])
    assert [len(b) for b in batches] == [1, events - 1]
    assert response.done
    # two reads: the first two events (the rest of that read is short: both go out together), then the rest
    cut = raw.index(b"\n\n", raw.index(b"\n\n") + 2) + 2
    split, _ = await relay([raw[:cut], raw[cut:]])
    assert [len(b) for b in split] == [2, events - 2]
    assert [c for b in split for c in b] == [c for b in batches for c in b]


async def test_a_stream_that_ends_before_done_still_fails() -> None:
    raw = RECORDING.read_bytes()
    with pytest.raises(UpstreamFailure, match="before \\[DONE\\]"):
        await relay([raw[: raw.rindex(b"data: [DONE]")]])
