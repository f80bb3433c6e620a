"""The native opener: one HTTP request to vLLM, which enforces the thinking budget itself (or needs none)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.backends.client import UpstreamFailure, UpstreamResponse
from gateway.backends.pool import Lease
from gateway.errors import UpstreamError
from gateway.pipeline.door import Call
from gateway.pipeline.exchange import Usage
from gateway.pipeline.plan import Step
from gateway.proxy.accounting import fill_completion
from gateway.proxy.normalize import UsageTally, normalize_completion, upstream_exception
from gateway.proxy.relay import ChunkReader, read_chunks
from gateway.proxy.sse import SSEEvent, SSEParser
from gateway.tokens import ReasoningCounter


@dataclass(slots=True)
class NativeExchange:
    """One upstream response. A stream is read up to its first event before it counts as opened, so a
    stream that dies at once can still be retried elsewhere."""

    step: Step
    lease: Lease
    response: UpstreamResponse
    call: Call
    exclude: bool
    counter: ReasoningCounter | None
    tally: UsageTally = field(default_factory=UsageTally)
    parser: SSEParser = field(default_factory=SSEParser)
    first_events: list[SSEEvent] = field(default_factory=list)
    ended: bool = False  # the stream ended while prefetching
    budget_mode: str = "native"
    reader: ChunkReader | None = None

    async def prefetch(self) -> None:
        """Read until the first SSE event (the bytes after it in its read are parsed by the relay, after the
        first event went out: :meth:`SSEParser.feed_first`)."""
        response, parser = self.response, self.parser
        while chunk := await response.receive():
            self.first_events = parser.feed_first(chunk)
            if self.first_events:
                return
        self.first_events = parser.close()
        self.ended = True
        if not self.first_events:
            raise UpstreamFailure("protocol", "upstream closed the stream before sending any event")

    async def answer(self) -> dict[str, Any]:
        raw = await self.response.read()  # the pipeline closes the exchange after the client's write
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            pool = self.step.pool.name
            raise UpstreamError(f"backend {pool!r} returned a body that is not a JSON object")
        if self.counter is not None:
            await fill_completion(data, self.counter)
        return normalize_completion(data, exclude=self.exclude, tally=self.tally)

    def chunks(self) -> AsyncGenerator[list[dict[str, Any]], None]:
        reader = self.reader = ChunkReader(
            pool=self.step.pool.name,
            exclude=self.exclude,
            want_usage=self.call.want_usage,
            tally=self.tally,
            counter=self.counter,
        )
        return read_chunks(reader, self.response, self.parser, self.first_events, self.ended)

    def finished(self) -> bool:
        return self.reader is not None and self.reader.done  # [DONE] was in the last batch's read

    def usage(self) -> Usage | None:
        t = self.tally
        if not t.seen:
            return None
        rendered = self.step.rendered
        hit = rendered is not None and rendered.budget_hit(t.reasoning)
        return Usage(t.prompt, t.completion, t.reasoning, hit)

    def reports_budget_hit(self) -> bool:
        rendered = self.step.rendered
        return rendered is not None and rendered.native_budget is not None and self.tally.seen

    def close(self) -> None:
        self.response.close()
        self.lease.release()


async def open_native(
    step: Step,
    lease: Lease,
    call: Call,
    request_id: str,
    counter: ReasoningCounter | None,
    waiting: Callable[[], None] | None = None,
) -> NativeExchange:
    """Send ``step.body`` to the lease's endpoint (``waiting()`` when it first waits: see
    :meth:`gateway.backends.client.UpstreamClient.request`); raise
    :class:`UpstreamFailure` / 5xx ``UpstreamError`` (retried elsewhere) or
    :class:`gateway.errors.UpstreamRejected` (a 4xx, not retried)."""
    pool = step.pool
    headers = {"content-type": "application/json", "x-request-id": request_id}
    response = await pool.client.request(
        "POST", lease.endpoint.url + call.path, body=step.body, headers=headers, waiting=waiting
    )
    try:
        if response.status >= 400:
            raise upstream_exception(response.status, await response.read(), pool.name)
        exclude = step.decision is not None and step.decision.exclude_reasoning
        exchange = NativeExchange(step, lease, response, call, exclude, counter)
        if call.stream and response.status == 200:
            await exchange.prefetch()
        return exchange
    except BaseException:
        response.close()
        raise
