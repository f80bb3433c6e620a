"""Helpers shared by the endpoint modules: body reading with a size limit, request ids, decision headers."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import Request
from starlette.background import BackgroundTask

from gateway.errors import PayloadTooLarge
from gateway.state import GatewayState
from router.decision import Decision


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def request_id(request: Request) -> str:
    """The id :class:`gateway.middleware.RequestIdMiddleware` chose for this request."""
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else uuid.uuid4().hex


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def after_response(call: Callable[[], None]) -> BackgroundTask:
    """Run ``call`` (metrics, access log, usage accounting) once the response has been sent, so the
    bookkeeping stays off the latency the client sees. Wrapped in a coroutine so Starlette runs it on the
    event loop right after the last body message (a plain function would go to its thread pool)."""

    async def run() -> None:
        call()

    return BackgroundTask(run)


def budget_label(budget: int | None) -> str:
    return "unlimited" if budget is None else str(budget)


def decision_headers(decision: Decision, rid: str) -> dict[str, str]:
    headers = {
        "x-request-id": rid,
        "x-thinkgate-effort": decision.effort.value,
        "x-thinkgate-budget": budget_label(decision.budget),
        "x-thinkgate-source": decision.source.value,
    }
    if decision.capped:
        headers["x-thinkgate-capped"] = "true"
    return headers
