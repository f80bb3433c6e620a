"""Errors in the Anthropic shape ``{"type": "error", "error": {"type", "message"}}``, Anthropic's statuses.

The gateway's errors keep their meaning; only the envelope and a few statuses change to what Anthropic clients
expect: a backend that failed (502) is ``500 api_error``; no capacity (no healthy endpoint, shared state down:
503) is ``529 overloaded_error``, which the ``anthropic`` SDK retries; a timeout is ``504 timeout_error``;
validation errors of any kind are ``400 invalid_request_error``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

#: Gateway statuses that Anthropic's API does not use, and the one it uses for the same situation.
_STATUS = {405: 400, 408: 504, 409: 400, 415: 400, 422: 400, 502: 500, 503: 529}


def anthropic_status(status: int) -> int:
    mapped = _STATUS.get(status, status)
    if mapped not in _TYPES:
        return 500 if mapped >= 500 else 400
    return mapped


def error_body(status: int, message: str, request_id: str | None = None) -> dict[str, Any]:
    """The envelope for an (already mapped) Anthropic status."""
    body: dict[str, Any] = {"type": "error", "error": {"type": _TYPES[status], "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def error_type(status: int) -> str:
    return _TYPES[anthropic_status(status)]


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, request_id: str | None = None
) -> Response:
    mapped = anthropic_status(status)
    body = orjson.dumps(error_body(mapped, message, request_id))
    return Response(body, status_code=mapped, media_type="application/json", headers=headers)


def translate_error_body(raw: bytes, status: int) -> tuple[int, bytes]:
    """An OpenAI-shaped error body (the gateway's or a backend's) → the Anthropic status and body."""
    message = f"request failed with HTTP {status}"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        text = data["error"].get("message")
        if isinstance(text, str) and text:
            message = text
    mapped = anthropic_status(status)
    return mapped, orjson.dumps(error_body(mapped, message))
