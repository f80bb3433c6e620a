"""The prologue of every front door: auth -> body -> validate (the front door's parser) -> target -> admit."""

from __future__ import annotations

import time

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from gateway.auth import Principal
from gateway.errors import PayloadTooLarge
from gateway.limits import Grant, Limiter, estimate_tokens, merge_caps
from gateway.middleware import new_request_id
from gateway.pipeline.door import Call, FrontDoor
from gateway.protocol import parse_json_object
from gateway.state import GatewayState, session_of
from router.decide import Caps
from router.records import record
from router.routing import Target


def gateway_state(request: Request) -> GatewayState:
    """The container in use when the request arrived (reload swaps ``app.state.gateway``, not its content)."""
    state: GatewayState = request.app.state.gateway
    return state


def request_id(request: Request) -> str:
    """The id the request-id middleware chose for this request (kept in the scope's ``state`` dict, read
    there: ``request.state`` builds a Starlette ``State`` around it first, ~3 us of a short request cold)."""
    rid = request.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else new_request_id()


#: The request headers the pipeline reads (:func:`prologue_headers`).
PROLOGUE_HEADERS = frozenset(
    {
        b"authorization",
        b"x-api-key",
        b"content-length",
        b"x-session-id",
        b"x-thinkgate-effort",
        b"x-thinkgate-episode",
    }
)


def prologue_headers(scope: Scope) -> dict[str, str]:
    """The :data:`PROLOGUE_HEADERS` the client sent (the first of repeated ones, as Starlette's
    ``Headers.get`` reads them), in one pass over the raw list. Six ``request.headers.get`` calls (five
    of them usually missing: a ``KeyError`` each inside ``Mapping.get``) were ~3 % of a 1 KB request's
    CPU (py-spy, 2026-12-07); this is ~1 us."""
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in PROLOGUE_HEADERS and (key := name.decode("latin-1")) not in out:
            out[key] = value.decode("latin-1")
    return out


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    return await receive_body(request.receive, limit, request.headers.get("content-length"))


async def receive_body(receive: Receive, limit: int, declared: str | None) -> bytes:
    """The body of the request whose ``content-length`` header is ``declared``, from its ASGI messages; 413 as
    soon as it is known to exceed ``limit`` bytes. As ``Request.stream`` reads it (a client that left raises
    Starlette's ``ClientDisconnect``), without its async generator, and without a join for the usual body
    that came in one message."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            continue
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


@record
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
    episode_header: str | None = None


async def admit(request: Request, door: FrontDoor) -> Admitted:
    """Run the prologue; raises the :class:`gateway.errors.GatewayError` of the first step that fails."""
    start = time.perf_counter()
    state = gateway_state(request)
    headers = prologue_headers(request.scope)
    principal = state.keys.authenticate(headers.get("authorization"), headers.get("x-api-key"))
    raw = await receive_body(request.receive, state.settings.max_body_bytes, headers.get("content-length"))
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
        episode_header=headers.get("x-thinkgate-episode"),
    )
