"""Validation of the OpenAI request fields the gateway reads.

The models allow extra fields: validation only checks what we use, and the client's original JSON object is
what goes upstream (unknown fields pass through untouched).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from gateway.errors import BadRequest
from gateway.nesting import MAX_DEPTH, too_deep

MAX_N = 128


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(_Open):
    include_usage: StrictBool | None = None


class _Common(_Open):
    model: str = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt = Field(default=1, ge=1, le=MAX_N)
    max_tokens: StrictInt | None = Field(default=None, ge=1)


class ChatRequest(_Common):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)


class CompletionRequest(_Common):
    prompt: str | list[str] | list[int] | list[list[int]]


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a request body into a JSON object, or raise a 400 that says what is wrong."""
    if not raw.strip():
        raise BadRequest("request body is empty; expected a JSON object", code="invalid_json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    if too_deep(data):
        raise BadRequest(f"request body nests JSON deeper than {MAX_DEPTH} levels", code="invalid_value")
    return data


def _raise_validation(exc: ValidationError) -> None:
    first = exc.errors()[0]
    # union members add their type tag ("str", "list[...]") to the location; the client wants the field path
    parts = [str(p) for p in first["loc"] if not (isinstance(p, str) and (p in _TYPE_TAGS or "[" in p))]
    param = ".".join(parts)
    msg = first["msg"]
    if first["type"] == "missing":
        msg = f"missing required field {param!r}"
    elif param:
        msg = f"invalid value for {param!r}: {msg}"
    raise BadRequest(msg, param=param or None, code="invalid_value") from None


def _check_stream_options(req: _Common) -> None:
    if req.stream_options is not None and not req.stream:
        raise BadRequest("stream_options is only allowed when stream is true", param="stream_options")


def validate_chat(body: dict[str, Any]) -> ChatRequest:
    try:
        req = ChatRequest.model_validate(body)
    except ValidationError as exc:
        _raise_validation(exc)
        raise  # unreachable; keeps type checkers happy
    _check_stream_options(req)
    return req


def validate_completion(body: dict[str, Any]) -> CompletionRequest:
    try:
        req = CompletionRequest.model_validate(body)
    except ValidationError as exc:
        _raise_validation(exc)
        raise
    _check_stream_options(req)
    return req
