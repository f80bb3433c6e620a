"""Send one client request upstream: try endpoints in plan order, retrying only before the first byte.

A failed attempt (cannot connect, no headers in time, HTTP ≥ 500, stream ended before its first event) moves
to the next endpoint of the pool, then to the next pool of the plan, up to ``max_attempts``. A 4xx is the
client's problem and is returned as is (normalised). Every failed attempt counts toward the endpoint's passive
health (:meth:`Pool.record_failure`); pools without a healthy endpoint are skipped without an attempt. A
stream's success is recorded by the relay at ``[DONE]``, so streams that die mid-way add up to an ejection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.backends.client import UpstreamFailure, UpstreamResponse
from gateway.backends.pool import Endpoint, Pool
from gateway.errors import GatewayError, UpstreamError
from gateway.metrics import GatewayMetrics
from gateway.probes import publish_health
from gateway.proxy.normalize import upstream_error
from gateway.proxy.sse import SSEEvent, SSEParser


@dataclass(slots=True)
class Opened:
    """A successful upstream exchange, response headers received (and, for streams, the first events)."""

    pool: Pool
    endpoint: Endpoint
    response: UpstreamResponse
    attempts: int
    parser: SSEParser = field(default_factory=SSEParser)
    first_events: list[SSEEvent] = field(default_factory=list)
    ended: bool = False  # the stream ended while prefetching
    released: bool = False

    def release(self, metrics: GatewayMetrics) -> None:
        """Close the upstream response and give back the endpoint's in-flight slot (idempotent)."""
        if self.released:
            return
        self.released = True
        self.response.close()
        self.endpoint.inflight -= 1
        metrics.inflight.labels(self.pool.name, self.endpoint.url).dec()


def book_failure(pool: Pool, endpoint: Endpoint, metrics: GatewayMetrics) -> None:
    """A failed attempt on ``endpoint``, before or after the first byte: passive health, and the ejection
    metric and health gauges when it ejects the endpoint."""
    if pool.record_failure(endpoint):
        metrics.ejections.labels(pool.name, endpoint.url).inc()
        publish_health(pool, metrics)


class _Retryable(Exception):
    def __init__(self, kind: str, error: GatewayError) -> None:
        super().__init__(error.message)
        self.kind = kind
        self.error = error


async def _prefetch(opened: Opened) -> None:
    """Read until the first SSE event, so a stream that dies at once can still be retried elsewhere."""
    async for chunk in opened.response.chunks():
        opened.first_events.extend(opened.parser.feed(chunk))
        if opened.first_events:
            return
    opened.first_events.extend(opened.parser.close())
    opened.ended = True
    if not opened.first_events:
        raise UpstreamFailure("protocol", "upstream closed the stream before sending any event")


async def _attempt(
    pool: Pool,
    endpoint: Endpoint,
    path: str,
    body: bytes,
    headers: dict[str, str],
    stream: bool,
    attempts: int,
    metrics: GatewayMetrics,
) -> Opened:
    endpoint.inflight += 1
    metrics.inflight.labels(pool.name, endpoint.url).inc()
    response: UpstreamResponse | None = None
    try:
        response = await pool.client.request("POST", endpoint.url + path, body=body, headers=headers)
        if response.status >= 500:
            raw = await response.read()
            envelope, status = upstream_error(response.status, raw, pool.name)
            err = envelope["error"]
            raise _Retryable(
                "status_5xx",
                UpstreamError(err["message"], status=status, code=err["code"] or "upstream_error"),
            )
        opened = Opened(pool, endpoint, response, attempts)
        if stream and response.status == 200:
            await _prefetch(opened)
        return opened
    except UpstreamFailure as failure:
        status = 504 if failure.kind in ("timeout", "idle") else 502
        err = UpstreamError(f"backend {pool.name!r}: {failure.message}", status=status, code=failure.kind)
        if response is not None:
            response.close()
        endpoint.inflight -= 1
        metrics.inflight.labels(pool.name, endpoint.url).dec()
        raise _Retryable(failure.kind, err) from None
    except BaseException:
        if response is not None:
            response.close()
        endpoint.inflight -= 1
        metrics.inflight.labels(pool.name, endpoint.url).dec()
        raise


async def open_upstream(
    plan: Sequence[Pool],
    path: str,
    render: Callable[[Pool], bytes],
    headers: dict[str, str],
    *,
    stream: bool,
    max_attempts: int,
    metrics: GatewayMetrics,
    session: str | None = None,
) -> Opened:
    """Open the first exchange that succeeds; raise the last error (502/503/504) if none does.

    ``session`` (an ``x-session-id`` or ``user``) lets sticky pools keep a conversation on one endpoint."""
    last: GatewayError | None = None
    attempts = 0
    tried: set[str] = set()
    for pool in plan:
        body = render(pool)
        for endpoint in pool.candidates(tried, session):
            if attempts >= max_attempts:
                break
            attempts += 1
            tried.add(endpoint.url)
            try:
                opened = await _attempt(pool, endpoint, path, body, headers, stream, attempts, metrics)
            except _Retryable as retry:
                book_failure(pool, endpoint, metrics)
                metrics.upstream_errors.labels(pool.name, retry.kind).inc()
                if attempts > 1:
                    metrics.retries.labels(pool.name).inc()
                last = retry.error
                continue
            if attempts > 1:
                metrics.retries.labels(pool.name).inc()
            if not (stream and opened.response.status == 200):  # a stream succeeds at [DONE] (relay)
                pool.record_success(endpoint)
            return opened
    if last is None:
        names = ", ".join(p.name for p in plan)
        raise UpstreamError(
            f"no healthy endpoint in backend pool(s) {names}", status=503, code="no_healthy_backend"
        )
    last.headers["x-should-retry"] = "false" if attempts > 1 else last.headers.get("x-should-retry", "true")
    raise last
