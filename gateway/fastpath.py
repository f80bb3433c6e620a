"""The hot path: generation requests go straight to their handler instead of through the framework stack.

A FastAPI app wraps every request in about ten layers (server-error, telemetry, body-limit and exception
middlewares, an exit stack, the router, the route's own exception wrapper) and every response message in as
many ``send`` wrappers. For ``POST /v1/chat/completions`` and ``/v1/completions`` (nearly all traffic)
:class:`GatewayApp` does what those layers do for our handlers in one place: the request id, the exception
handlers the app registered (so errors keep their OpenAI envelopes), and the response. Every other request,
and every other method on these paths, takes the normal FastAPI route.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.middleware import client_request_id, send_with_request_id

Handler = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("thinkgate.errors")


class GatewayApp(FastAPI):
    """A FastAPI app with exact-path ``POST`` handlers that skip the middleware stack and the router."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_routes: dict[str, Handler] = {}

    def add_hot_route(self, path: str, handler: Handler) -> None:
        """Serve ``POST path`` with ``handler`` directly; other methods on ``path`` get 405 from FastAPI."""
        self.hot_routes[path] = handler
        self.router.add_route(path, handler, methods=["POST"])  # documents it, answers other methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.hot_routes.get(scope["path"])
            if handler is not None:
                await self._serve(handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        rid = client_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        scope["app"] = self
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:  # every error becomes the envelope the app's own handlers make
            response = await self._error_response(request, exc)
        await response(scope, receive, send_with_request_id(send, rid))

    async def _error_response(self, request: Request, exc: Exception) -> Response:
        for cls in type(exc).__mro__:
            found = self.exception_handlers.get(cls)
            if found is None:
                continue
            if cls is Exception:
                log.error("unhandled error on %s", request.url.path, exc_info=exc)
            response = await found(request, exc)  # type: ignore[misc]
            if not isinstance(response, Response):
                raise TypeError(f"exception handler for {cls.__name__} returned {type(response).__name__}")
            return response
        raise exc
