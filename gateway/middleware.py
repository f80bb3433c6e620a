"""Pure ASGI middleware (no ``BaseHTTPMiddleware``: it costs latency): the base every one of the app's own
middleware uses, and the one that gives every response an ``x-request-id`` (the client's own if it sent a sane
one, else a new one)."""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def client_request_id(scope: Scope) -> str | None:
    """The client's ``x-request-id`` when it is sane (printable, 1-128 characters), else ``None``."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None


def new_request_id() -> str:
    """32 random hex digits (``uuid.uuid4().hex`` has the same shape and cost 2 us to this 0.5 us)."""
    return os.urandom(16).hex()


class HttpMiddleware:
    """Base of the app's pure ASGI middleware: HTTP requests go to :meth:`http`, anything else (lifespan)
    passes straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestIdMiddleware(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = client_request_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        await self.app(scope, receive, send_with_request_id(send, rid))


def send_with_request_id(send: Send, rid: str) -> Send:
    """``send``, adding ``x-request-id: rid`` to the response start unless the response sets one."""
    header = (b"x-request-id", rid.encode("latin-1"))

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            for name, _ in headers:
                if name == b"x-request-id":
                    break
            else:  # copied only when it changes (the pipeline's own answers carry the id already)
                message["headers"] = [*headers, header]
        await send(message)

    return send_with_id
