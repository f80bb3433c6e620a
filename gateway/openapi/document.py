"""Build the OpenAPI 3.1 document from the registry of operations (:mod:`gateway.openapi.operations`).

The schemas come from pydantic models (``components.schemas``); each operation says its request model, its
success response and the error statuses it can answer, all with its front door's error envelope. The
document is built once per app, on the first ``GET /openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.openapi.models import ErrorEnvelope

_REF = "#/components/schemas/{model}"
_DESCRIPTIONS = {
    400: "Invalid request (bad JSON, a value out of range, nesting over 64 levels, conflicting signals)",
    401: "Missing or invalid API key (or admin token)",
    403: "The caller may not do this (tenant limits, admin disabled)",
    404: "Unknown model or resource",
    409: "Conflict with the current state",
    413: "Request body larger than the configured limit",
    429: "Rate limit or quota exceeded",
    500: "The backend failed (Anthropic's api_error; the OpenAI endpoints say 502)",
    502: "The backend failed or returned an unusable answer",
    503: "No healthy backend, or shared state unavailable",
    504: "The backend timed out",
    529: "Overloaded: no healthy backend, or shared state unavailable (Anthropic's overloaded_error)",
}
GENERATION_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)
ADMIN_ERRORS = (401, 403)


@dataclass(frozen=True)
class Operation:
    """One public endpoint as the document describes it.

    ``request``: the JSON body model (``None``: no body). ``text_body``: other media types whose body is
    plain text (``PUT /admin/policy`` takes YAML). ``ok``: the success body model, or ``None`` with
    ``ok_media`` for a text body (``/metrics``). ``stream``: the success may also be ``text/event-stream``.
    ``errors``: the error statuses, each answered with ``error_model`` (the front door's own envelope)."""

    method: Literal["get", "post", "put", "delete"]
    path: str
    summary: str
    tag: str
    ok: type[BaseModel] | None
    request: type[BaseModel] | None = None
    text_body: tuple[str, ...] = ()
    ok_status: int = 200
    ok_media: str = "application/json"
    stream: bool = False
    errors: tuple[int, ...] = ()
    error_model: type[BaseModel] = ErrorEnvelope
    also: dict[int, type[BaseModel]] = field(default_factory=dict)  # other statuses with a non-error body
    path_params: tuple[str, ...] = ()
    security: Literal["api_key", "admin", "none"] = "none"


def _models(operations: Sequence[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    seen: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for op in operations:
        if op.request is not None:
            seen[(op.request, "validation")] = None
        for model in (op.ok, op.error_model, *op.also.values()):
            if model is not None:
                seen[(model, "serialization")] = None
    return list(seen)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(op: Operation, refs: Mapping[tuple[Any, JsonSchemaMode], dict[str, Any]]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "Success"}
    if op.ok is not None:
        ok["content"] = _json(refs[(op.ok, "serialization")])
    else:  # a body without a model: JSON of any shape (this document) or text (Prometheus)
        kind = "object" if op.ok_media == "application/json" else "string"
        ok["content"] = {op.ok_media: {"schema": {"type": kind}}}
    if op.stream:
        ok["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {str(op.ok_status): ok}
    for status, model in op.also.items():
        responses[str(status)] = {
            "description": "See the body",
            "content": _json(refs[(model, "serialization")]),
        }
    error_ref = refs[(op.error_model, "serialization")]
    for status in op.errors:
        responses[str(status)] = {"description": _DESCRIPTIONS[status], "content": _json(error_ref)}
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method + "_" + re.sub(r"[^A-Za-z0-9]+", "_", op.path).strip("_"),
        "tags": [op.tag],
        "responses": responses,
    }
    if op.path_params:
        out["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            for name in op.path_params
        ]
    content: dict[str, Any] = {}
    if op.request is not None:
        content.update(_json(refs[(op.request, "validation")]))
    for media in op.text_body:
        content[media] = {"schema": {"type": "string"}}
    if content:
        out["requestBody"] = {"required": True, "content": content}
    if op.security == "api_key":
        out["security"] = [{"apiKey": []}, {}]  # only when the policy turns auth on
    elif op.security == "admin":
        out["security"] = [{"adminToken": []}]
    return out


def build_document(operations: Sequence[Operation], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``operations``."""
    refs, defs = models_json_schema(_models(operations), ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "OpenAI-compatible gateway that decides how much a reasoning model thinks.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "A key of the policy's auth"},
                "adminToken": {"type": "http", "scheme": "bearer", "description": "The admin token"},
            },
        },
    }
