"""The prologue of every front door: auth -> body -> validate (the front door's parser) -> target -> admit."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import orjson
from starlette.requests import Request

from gateway.auth import Principal
from gateway.errors import PayloadTooLarge
from gateway.limits import Grant, Limiter, estimate_tokens, merge_caps
from gateway.pipeline.door import Call, FrontDoor
from gateway.protocol import parse_json_object
from gateway.state import GatewayState, session_of
from router.decide import Caps
from router.routing import Target


def gateway_state(request: Request) -> GatewayState:
    """The container in use when the request arrived (reload swaps ``app.state.gateway``, not its content)."""
    state: GatewayState = request.app.state.gateway
    return state


def request_id(request: Request) -> str:
    """The id the request-id middleware chose for this request."""
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


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request past the prologue: everything later stages read, computed once."""

    state: GatewayState
    request_id: str
    start: float
    call: Call
    target: Target
    principal: Principal
    grant: Grant
    caps: Caps | None
    session: str | None
    effort_header: str | None


async def admit(request: Request, door: FrontDoor) -> Admitted:
    """Run the prologue; raises the :class:`gateway.errors.GatewayError` of the first step that fails."""
    start = time.perf_counter()
    state = gateway_state(request)
    headers = request.headers
    principal = state.keys.authenticate(headers.get("authorization"), headers.get("x-api-key"))
    raw = await read_body(request, state.settings.max_body_bytes)
    call = door.parse(parse_json_object(raw))
    size = len(raw)
    if call.resolve is not None:
        call = await call.resolve(request, principal)
        size = len(orjson.dumps(call.body))  # the body now carries stored turns the client did not send
    target = state.target(call.model, principal.policy.models)
    principal.check_model(target.name, target.virtual)  # an alias is checked as what it names
    limiter: Limiter = request.app.state.shared.limiter
    grant = await limiter.admit(
        principal.key_name, principal.tenant, state.policy, estimate_tokens(size)
    )  # limits (issue 6)
    return Admitted(
        state=state,
        request_id=request_id(request),
        start=start,
        call=call,
        target=target,
        principal=principal,
        grant=grant,
        caps=merge_caps(principal.caps, grant.caps),
        session=session_of(headers.get("x-session-id"), call.body),
        effort_header=headers.get("x-thinkgate-effort"),
    )
