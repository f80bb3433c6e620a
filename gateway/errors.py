"""Error tree and the single place that renders the OpenAI error envelope.

Every error the gateway returns has the shape ``{"error": {"message", "type", "param", "code"}}`` that the
OpenAI SDK reads; ``code`` is a string (vLLM's integer codes are normalised to strings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.middleware import HttpMiddleware

log = logging.getLogger("thinkgate.errors")

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class GatewayError(Exception):
    """An error with an HTTP status and an OpenAI envelope."""

    status: int = 500
    type: str | None = None
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.param = param
        if code is not None:
            self.code = code
        if type is not None:
            self.type = type
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.message, self.status, param=self.param, code=self.code, type=self.type)


class BadRequest(GatewayError):
    status = 400
    code = "invalid_request"


class NotFound(GatewayError):
    status = 404
    code = "model_not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "request_too_large"


class UpstreamError(GatewayError):
    """The backend failed or could not be reached (502 bad gateway, 503 unavailable, 504 timeout)."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"


class UpstreamRejected(GatewayError):
    """The backend refused the request (HTTP 4xx): its envelope, normalised, goes to the client as it is."""

    status = 400


def error_envelope(
    message: str,
    status: int,
    *,
    param: str | None = None,
    code: str | int | None = None,
    type: str | None = None,
) -> dict[str, Any]:
    """The OpenAI error body for a status; integer codes (vLLM's) become strings."""
    err_type = type or _TYPE_BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": message,
            "type": err_type,
            "param": param,
            "code": None if code is None else str(code),
        }
    }


def error_response(
    message: str,
    status: int,
    *,
    param: str | None = None,
    code: str | int | None = None,
    type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = orjson.dumps(error_envelope(message, status, param=param, code=code, type=type))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


#: Renders a :class:`GatewayError` as a response in one API's envelope.
ErrorRenderer = Callable[[GatewayError], Response]


def openai_error(exc: GatewayError) -> Response:
    return error_response(
        exc.message, exc.status, param=exc.param, code=exc.code, type=exc.type, headers=exc.headers
    )


#: Path prefixes whose errors another API's envelope renders, registered by :func:`install_handlers`
#: (``/v1/messages`` answers Anthropic's); every other path gets OpenAI's.
_ENVELOPES: dict[str, ErrorRenderer] = {}


def renderer_for(path: str) -> ErrorRenderer:
    for prefix, render in _ENVELOPES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return render
    return openai_error


def unexpected_error(path: str, exc: Exception) -> Response:
    """The 500 for an exception nothing else handled; logged with its traceback."""
    log.error("unhandled error on %s", path, exc_info=exc)
    return renderer_for(path)(
        GatewayError(f"internal gateway error: {type(exc).__name__}", status=500, code="internal_error")
    )


class UnexpectedErrors(HttpMiddleware):
    """The innermost app middleware: an exception no handler took becomes the 500 envelope here, inside the
    other middleware (Starlette answers it in its outermost layer, which the request-id middleware never
    sees). Added first by :func:`install_handlers`, so middleware added after it wraps it."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sender)
        except Exception as exc:
            if started:
                raise
            await unexpected_error(scope["path"], exc)(scope, receive, send)


def install_handlers(app: FastAPI, envelopes: Mapping[str, ErrorRenderer] | None = None) -> None:
    """Render every error as an OpenAI envelope, or, under a path prefix of ``envelopes``, in that API's
    envelope; nothing escapes as an HTML or bare 500."""
    _ENVELOPES.update(envelopes or {})

    async def on_gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return renderer_for(request.url.path)(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = str(exc.detail) if exc.detail else "request failed"
        error = GatewayError(message, status=exc.status_code, headers=dict(exc.headers or {}))
        return renderer_for(request.url.path)(error)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        error = GatewayError(str(first.get("msg", "invalid request")), status=400, param=loc or None)
        return renderer_for(request.url.path)(error)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return unexpected_error(request.url.path, exc)

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)  # errors of the middleware itself
    # Every other Exception is answered inside the middleware (see UnexpectedErrors), like any answer.
    app.add_middleware(UnexpectedErrors)
