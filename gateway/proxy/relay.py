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
from gateway.proxy.sse import SSEEvent, SSEParser
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

    def _parse(self, event: SSEEvent) -> dict[str, Any] | None:
        """The event's chunk (``None`` for ``[DONE]``); raises on what is not a chunk. Synchronous: the
        common event costs no coroutine."""
        if event.data == "[DONE]":
            self.done = True
            return None
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamFailure("protocol", "upstream sent an event that is not JSON") from None
        if not isinstance(chunk, dict):
            raise UpstreamFailure("protocol", "upstream sent an event that is not a JSON object")
        if "error" in chunk and not chunk.get("choices"):
            err = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
            message = str(err.get("message") or "upstream error")
            raise UpstreamFailure("upstream_event", f"backend {self.pool!r} failed mid-stream: {message}")
        return chunk

    async def _count(self, chunk: dict[str, Any]) -> None:
        """Keep the reasoning deltas; fill the usage's reasoning count when the backend left it out."""
        assert self.counter is not None
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                text = delta.get("reasoning") or delta.get("reasoning_content")
                if isinstance(text, str):
                    self._reasoning.append(text)
        if lacks_reasoning_count(chunk.get("usage"), bool(self._reasoning)):
            count = await count_texts(["".join(self._reasoning)], self.counter)
            set_reasoning_count(chunk["usage"], count)

    async def batch(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        """The client chunks of the events of one upstream read (up to ``[DONE]``)."""
        out = []
        for event in events:
            chunk = self._parse(event)
            if chunk is None:
                break  # [DONE]
            if self.counter is not None:
                await self._count(chunk)
            chunk = normalize_chunk(chunk, exclude=self.exclude, want_usage=self.want_usage, tally=self.tally)
            if chunk is not None:
                out.append(chunk)
        return out


async def read_chunks(
    reader: ChunkReader,
    response: UpstreamResponse,
    parser: SSEParser,
    first_events: list[SSEEvent],
    ended: bool,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Batches of client chunks: first the events read while the stream was opened, then the rest."""
    batch = await reader.batch(first_events)
    if reader.done:
        response.done_reading()  # the rest of the body may end in the background and keep the connection
    if batch:
        yield batch
    if not reader.done and not ended:
        async for raw in response.chunks():
            batch = await reader.batch(parser.feed(raw))
            if reader.done:
                response.done_reading()
            if batch:
                yield batch
            if reader.done:
                break
    if not reader.done:
        raise UpstreamFailure("protocol", "upstream closed the stream before [DONE]")
