"""Read an upstream chat-completions (or completions) SSE stream into normalised chunk batches.

One batch per upstream read (never delays an event: a batch holds only what has already arrived). The stream
ends at ``[DONE]``; a dropped connection, an event that is not a JSON object, an in-band ``{"error": …}`` or a
stream that ends before ``[DONE]`` raise :class:`gateway.backends.client.UpstreamFailure` — the pipeline
books it and the front door writes it in band.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.backends.client import UpstreamFailure, UpstreamResponse
from gateway.proxy.accounting import count_texts, lacks_reasoning_count, set_reasoning_count
from gateway.proxy.normalize import UsageTally, normalize_chunk
from gateway.proxy.sse import SSEEvent, SSEParser, load_json
from gateway.tokens import ReasoningCounter


@dataclass(slots=True)
class ChunkReader:
    """Turns upstream SSE events into client chunks (reasoning mirrored, usage tallied and filtered).

    When the backend's usage lacks the reasoning-token count, the reasoning deltas are kept and counted with
    ``counter`` before the usage chunk goes out.
    """

    pool: str
    exclude: bool
    want_usage: bool
    tally: UsageTally
    counter: ReasoningCounter | None
    done: bool = False
    _reasoning: list[str] = field(default_factory=list)

    async def batch(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        """The client chunks of the events of one upstream read (up to ``[DONE]``); raises on an event that
        is not a chunk.

        One loop with no call per event but the JSON parse and :func:`normalize_chunk` (the parse and the
        reasoning count used to be a method and a coroutine per event): the reasoning deltas are kept only
        when a counter may need them, and the counter is awaited only for a usage that lacks the count."""
        out = []
        counter, kept = self.counter, self._reasoning
        exclude, want_usage, tally = self.exclude, self.want_usage, self.tally
        for event in events:
            data = event.data
            if data == b"[DONE]":
                self.done = True
                break
            try:
                chunk = load_json(data)
            except orjson.JSONDecodeError:
                raise UpstreamFailure("protocol", "upstream sent an event that is not JSON") from None
            if not isinstance(chunk, dict):
                raise UpstreamFailure("protocol", "upstream sent an event that is not a JSON object")
            if "error" in chunk and not chunk.get("choices"):
                raise self._failure(chunk["error"])
            if counter is not None:
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") if isinstance(choice, dict) else None
                    if isinstance(delta, dict):
                        text = delta.get("reasoning") or delta.get("reasoning_content")
                        if isinstance(text, str):
                            kept.append(text)
                usage = chunk.get("usage")
                if usage is not None and lacks_reasoning_count(usage, bool(kept)):
                    set_reasoning_count(usage, await count_texts(["".join(kept)], counter))
            normalized = normalize_chunk(chunk, exclude=exclude, want_usage=want_usage, tally=tally)
            if normalized is not None:
                out.append(normalized)
        return out

    def _failure(self, error: Any) -> UpstreamFailure:
        """An in-band ``{"error": …}`` event as the failure to raise."""
        err = error if isinstance(error, dict) else {"message": str(error)}
        message = str(err.get("message") or "upstream error")
        return UpstreamFailure("upstream_event", f"backend {self.pool!r} failed mid-stream: {message}")


async def read_chunks(
    reader: ChunkReader,
    response: UpstreamResponse,
    parser: SSEParser,
    first_events: list[SSEEvent],
    ended: bool,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Batches of client chunks: the events the opener read; then what :meth:`SSEParser.feed_first` kept
    back of that read; then one batch per read.

    When the opener's read holds many events, ``feed_first`` parsed only its first (see there), so that event
    goes out alone and the client's first byte waits for no other: the mock of ``hot_path.py`` sends its
    whole stream in one read, whose parse and relay (~120 us of CPU for its 21 events, ``relay_cost.py``,
    2026-12-07) came before the first byte. The price is one more write for such a stream; a vLLM stream's
    first read holds one or two events, which go out together as before."""
    events = first_events
    kept = True  # what feed_first kept back of the opener's read is still to relay
    while True:
        batch = await reader.batch(events)
        if reader.done:
            response.done_reading()  # the rest of the body may end in the background and keep the connection
        if batch:
            yield batch
        if reader.done:
            return
        if kept:
            kept = False
            events = parser.feed(b"")
        elif ended or not (raw := await response.receive()):
            raise UpstreamFailure("protocol", "upstream closed the stream before [DONE]")
        else:
            events = parser.feed(raw)
