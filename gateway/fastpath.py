"""Hot routes: generation requests skip the router's route matching, nothing else.

A FastAPI app passes every request through its middleware stack (server-error, telemetry, body-limit, the
user middleware such as the request id, exceptions, an exit stack) and then the router, which matches the
path against every route and wraps the endpoint in its own exception and exit-stack layers. For
``POST /v1/chat/completions`` and ``/v1/completions`` (nearly all traffic) :class:`GatewayApp` replaces only
that last part: at the router's entry it looks the exact path up in a dict and calls the handler. Every
middleware — including any added later — and every exception handler run exactly as for the other routes
(``tests/unit/test_fastpath.py`` checks the parity). Every other request, and every other method on these
paths, takes the normal route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class GatewayApp(FastAPI):
    """A FastAPI app with exact-path ``POST`` handlers that skip route matching."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_routes: dict[str, Handler] = {}
        self._route_match = self.router.middleware_stack
        self.router.middleware_stack = self._dispatch

    def add_hot_route(self, path: str, handler: Handler) -> None:
        """Serve ``POST path`` with ``handler`` directly; other methods on ``path`` get 405 from FastAPI."""
        self.hot_routes[path] = handler
        self.router.add_route(path, handler, methods=["POST"])  # documents it, answers other methods

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.hot_routes.get(scope["path"])
            if handler is not None:
                response = await handler(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self._route_match(scope, receive, send)
