"""Relay an opened upstream exchange to the client: JSON in one piece, or SSE chunk by chunk.

After the first byte an upstream failure becomes an in-band ``{"error": …}`` event followed by ``[DONE]``, and
counts toward the endpoint's passive health like a failure before it.
A client disconnect cancels the generator; its ``finally`` closes the upstream response at once, so the
backend sees the cancellation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from gateway.backends.client import UpstreamFailure
from gateway.errors import error_envelope
from gateway.metrics import GatewayMetrics
from gateway.proxy.accounting import count_texts, lacks_reasoning_count, set_reasoning_count
from gateway.proxy.dispatch import Opened, book_failure
from gateway.proxy.normalize import UsageTally, normalize_chunk
from gateway.proxy.sse import DONE, SSEEvent, encode_event
from gateway.tokens import ReasoningCounter

ChunkHook = Callable[[dict[str, Any]], dict[str, Any] | None]


def _error_event(message: str, code: str) -> bytes:
    return encode_event(orjson.dumps(error_envelope(message, 502, code=code, type="upstream_error")))


async def relay_stream(
    opened: Opened,
    *,
    metrics: GatewayMetrics,
    exclude_reasoning: bool,
    want_usage: bool,
    tally: UsageTally,
    on_first_chunk: Callable[[], None],
    on_done: Callable[[str], None],
    counter: ReasoningCounter | None = None,
) -> AsyncIterator[bytes]:
    """Yield SSE bytes for the client; ``on_done`` gets the outcome (ok, upstream_error, client_closed).

    When the backend's usage lacks the reasoning-token count, the reasoning deltas are kept and counted with
    ``counter`` before the usage chunk goes out.
    """
    outcome = "client_closed"
    first = True
    saw_done = False
    reasoning_parts: list[str] = []

    async def handle(event: SSEEvent) -> bytes | None:
        nonlocal saw_done
        if event.data == "[DONE]":
            saw_done = True
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
            raise UpstreamFailure(
                "upstream_event", f"backend {opened.pool.name!r} failed mid-stream: {message}"
            )
        if counter is not None:
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict):
                    text = delta.get("reasoning") or delta.get("reasoning_content")
                    if isinstance(text, str):
                        reasoning_parts.append(text)
            if lacks_reasoning_count(chunk.get("usage"), bool(reasoning_parts)):
                count = await count_texts(["".join(reasoning_parts)], counter)
                set_reasoning_count(chunk["usage"], count)
        out = normalize_chunk(chunk, exclude=exclude_reasoning, want_usage=want_usage, tally=tally)
        return None if out is None else encode_event(orjson.dumps(out))

    async def batch(events: list[SSEEvent]) -> bytes:
        """The client bytes for the events of one upstream read, sent as one piece (never delays an event:
        a batch holds only what has already arrived; one send per read halves the relay's CPU)."""
        out = []
        for event in events:
            data = await handle(event)
            if data is not None:
                out.append(data)
            if saw_done:
                break
        return b"".join(out)

    try:
        try:
            data = await batch(opened.first_events)
            if data:
                first = False
                on_first_chunk()
                yield data
            if not saw_done and not opened.ended:
                async for raw in opened.response.chunks():
                    data = await batch(opened.parser.feed(raw))
                    if data:
                        if first:
                            first = False
                            on_first_chunk()
                        yield data
                    if saw_done:
                        break
            if not saw_done:
                raise UpstreamFailure("protocol", "upstream closed the stream before [DONE]")
            outcome = "ok"
            opened.pool.record_success(opened.endpoint)
            yield DONE
        except UpstreamFailure as failure:
            outcome = "upstream_error"
            metrics.upstream_errors.labels(opened.pool.name, failure.kind).inc()
            book_failure(opened.pool, opened.endpoint, metrics)  # mid-stream failures count toward ejection
            yield _error_event(failure.message, failure.kind)
            yield DONE
    finally:
        opened.release(metrics)
        on_done(outcome)


def elapsed_since(start: float) -> float:
    return time.perf_counter() - start
