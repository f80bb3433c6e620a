"""The chat path for pools whose thinking budget the gateway enforces itself (budget forcing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from gateway.backends.client import UpstreamFailure
from gateway.backends.pool import Endpoint, Pool
from gateway.errors import GatewayError, UpstreamError
from gateway.proxy.dispatch import book_failure
from gateway.proxy.forcing import (
    ForcedRun,
    ForcingSession,
    check_forcing_request,
    completion_body,
    forced_stream,
)
from gateway.render import Rendered
from gateway.state import GatewayState
from templates.registry import get_family


def _release(state: GatewayState, pool: Pool, endpoint: Endpoint) -> None:
    """Give back the endpoint's in-flight slot (count and gauge)."""
    endpoint.inflight -= 1
    state.metrics.inflight.labels(pool.name, endpoint.url).dec()


def _failed(state: GatewayState, pool: Pool, endpoint: Endpoint, kind: str) -> None:
    """Book a failed attempt the way the native dispatch does: in-flight slot, passive health, metrics."""
    _release(state, pool, endpoint)
    book_failure(pool, endpoint, state.metrics)
    state.metrics.upstream_errors.labels(pool.name, kind).inc()


async def _open(
    state: GatewayState,
    plan: list[tuple[Pool, Rendered]],
    rid: str,
    session: str | None,
    stream: bool,
) -> tuple[ForcedRun, Pool, Endpoint, int]:
    """Start a forced run on the first endpoint that answers; retried before the first byte, like
    :func:`gateway.proxy.dispatch.open_upstream` (same endpoint order, stickiness, health and metrics)."""
    last: GatewayError | None = None
    attempts = 0
    tried: set[str] = set()
    for pool, rendered in plan:
        family = get_family(pool.spec.family)
        assert rendered.forcing_budget is not None
        for endpoint in pool.candidates(tried, session):
            if attempts >= state.settings.max_attempts:
                break
            attempts += 1
            tried.add(endpoint.url)
            if attempts > 1:
                state.metrics.retries.labels(pool.name).inc()
            endpoint.inflight += 1
            state.metrics.inflight.labels(pool.name, endpoint.url).inc()
            run = ForcedRun(
                ForcingSession(pool, endpoint, family, rendered.payload, rid), rendered.forcing_budget
            )
            try:
                await run.start(stream)
            except UpstreamFailure as failure:
                _failed(state, pool, endpoint, failure.kind)
                status = 504 if failure.kind in ("timeout", "idle") else 502
                last = UpstreamError(
                    f"backend {pool.name!r}: {failure.message}", status=status, code=failure.kind
                )
                continue
            except UpstreamError as exc:
                if exc.status < 500:
                    _release(state, pool, endpoint)
                    raise
                _failed(state, pool, endpoint, "status_5xx")
                last = exc
                continue
            except BaseException:
                _release(state, pool, endpoint)
                raise
            pool.record_success(endpoint)
            return run, pool, endpoint, attempts
    if last is None:
        raise UpstreamError("no healthy endpoint for budget forcing", status=503, code="no_healthy_backend")
    last.headers["x-should-retry"] = "false"
    raise last


async def forced_chat(
    state: GatewayState,
    plan: list[tuple[Pool, Rendered]],
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    rid: str,
    stream: bool,
    want_usage: bool,
    exclude: bool,
    count: Callable[[str, str], None],
    record: Callable[[int, int, int, bool], None],
    session: str | None = None,
) -> Response:
    check_forcing_request(body)
    run, pool, endpoint, attempts = await _open(state, plan, rid, session, stream)
    headers["x-thinkgate-backend"] = pool.name
    headers["x-thinkgate-attempts"] = str(attempts)
    headers.update(state.routing_headers([p for p, _ in plan], pool, endpoint.url))
    headers["x-thinkgate-budget-mode"] = "forcing"
    model = pool.spec.model
    if not stream:
        try:
            async for _ in run.events(stream=False):
                pass
        except (UpstreamFailure, UpstreamError) as exc:
            count(pool.name, "upstream_error")
            if isinstance(exc, UpstreamError):
                exc.headers.update(headers)
                raise
            raise UpstreamError(
                f"backend {pool.name!r}: {exc.message}", code=exc.kind, headers=headers
            ) from None
        finally:
            _release(state, pool, endpoint)
        result = run.result
        assert result is not None
        headers["x-thinkgate-budget-hit"] = "true" if result.budget_hit else "false"
        record(result.prompt_tokens, result.completion_tokens, result.reasoning_tokens, result.budget_hit)
        count(pool.name, "ok")
        return Response(
            orjson.dumps(completion_body(result, model, exclude)),
            media_type="application/json",
            headers=headers,
        )

    async def relay() -> AsyncIterator[bytes]:
        outcome = "client_closed"
        try:
            async for data in forced_stream(
                run, model=model, exclude=exclude, want_usage=want_usage, metrics=state.metrics
            ):
                yield data
            outcome = "ok" if run.result is not None else "upstream_error"
        finally:
            run.close()
            _release(state, pool, endpoint)
            if run.result is not None:
                r = run.result
                record(r.prompt_tokens, r.completion_tokens, r.reasoning_tokens, r.budget_hit)
            count(pool.name, outcome)

    headers["cache-control"] = "no-cache"
    return StreamingResponse(relay(), media_type="text/event-stream", headers=headers)
