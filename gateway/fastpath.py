"""Hot routes: generation requests skip the framework's own layers, never the app's middleware.

A FastAPI app passes every request through the framework's layers (server-error, telemetry, body-limit,
exception and exit-stack middlewares), the app's middleware (``add_middleware``: request id, the 500 envelope,
anything added later), then the router, which matches the path against every route and wraps the endpoint in
its own exception and exit-stack layers. For ``POST /v1/chat/completions`` and ``/v1/completions`` (nearly all
traffic) :class:`GatewayApp` runs a second stack built from the *same* middleware list at the same moment
(:meth:`GatewayApp.build_middleware_stack`) around the handler, and gives exceptions to the app's registered
handlers as the exception layer does (the catch-all ``Exception`` handler's job is done by
:class:`gateway.errors.UnexpectedErrors`, which is app middleware on both stacks). So middleware added later
runs for hot routes too; ``tests/unit/test_fastpath.py`` checks that a hot route and a normal route answer
the same (status, headers, body, middleware calls, bookkeeping). Every other request, and every other method
on these paths, takes the normal route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.middleware import HttpMiddleware

Handler = Callable[[Request], Awaitable[Response]]
ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class GatewayApp(FastAPI):
    """A FastAPI app with exact-path ``POST`` handlers that skip the framework's layers and the router."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_routes: dict[str, Handler] = {}
        self._hot_stack: ASGIApp | None = None

    def add_hot_route(self, path: str, handler: Handler) -> None:
        """Serve ``POST path`` with ``handler`` directly; other methods on ``path`` get 405 from FastAPI."""
        self.hot_routes[path] = handler
        self.router.add_route(path, handler, methods=["POST"])  # documents it, answers other methods

    def build_middleware_stack(self) -> ASGIApp:
        """The framework's stack, and (from the same middleware list, at the same time) the hot one."""
        hot: ASGIApp = self._serve_hot
        for cls, args, kwargs in reversed(self.user_middleware):
            layer = cls(hot, *args, **kwargs)
            # Only HTTP requests take this stack: an HttpMiddleware's own check of the scope type (its
            # ``__call__``) is skipped by calling its ``http`` directly (one coroutine less per layer).
            hot = layer.http if isinstance(layer, HttpMiddleware) else layer
        self._hot_stack = hot
        return super().build_middleware_stack()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.hot_routes:
            if self.middleware_stack is None:
                self.middleware_stack = self.build_middleware_stack()
            assert self._hot_stack is not None
            scope["app"] = self
            await self._hot_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        """The app's handler for ``exc`` as the exception layer finds it (by class, most specific first; the
        catch-all is not the exception layer's)."""
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            found = self.exception_handlers.get(cls)
            if found is not None:
                return found  # type: ignore[return-value]
        return None

    async def _serve_hot(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.hot_routes[scope["path"]](request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)
