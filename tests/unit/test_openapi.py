"""The OpenAPI document: served at /openapi.json, covers every route of the app, and names real schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Route

from gateway.app import create_app
from gateway.openapi.document import build_document
from gateway.openapi.operations import OPERATIONS
from gateway.settings import Settings
from tests.harness import make_policy

UNDOCUMENTED = {("GET", "/console")}  # pages for people, not API operations
#: the operator console's page, files and the private JSON API its page calls (gateway/console/): not public
#: operations, and absent (404) unless an admin token is set
CONSOLE_PREFIX = "/console/"


def _leaves(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, including those of included routers (FastAPI >= 0.16x keeps them behind a wrapper with
    ``original_router``; the app includes them without a prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _leaves(inner.routes)
        else:
            yield route


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    policy = make_policy(
        {"h": {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": ["http://127.0.0.1:9"]}},
        {"auto": {"thinking": ["h"], "instruct": ["h"]}},
    )
    app = create_app(Settings(), policy)
    client = TestClient(app)  # no lifespan: the document needs no backend
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    doc: dict[str, Any] = resp.json()
    routes = {
        (method, route.path)
        for route in _leaves(app.routes)
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD" and not route.path.startswith(CONSOLE_PREFIX)
    }
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert routes - UNDOCUMENTED == documented, "add the route to gateway/openapi/operations.py"
    return doc


def test_served_document_is_the_registry(document: dict[str, Any]) -> None:
    assert document == build_document(OPERATIONS, title="thinkgate", version="0.1.0")


def test_schemathesis_loads_every_operation(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) == len(OPERATIONS)


@pytest.mark.parametrize(
    ("path", "method"), [pytest.param(op.path, op.method, id=f"{op.method} {op.path}") for op in OPERATIONS]
)
def test_every_error_is_the_envelope(document: dict[str, Any], path: str, method: str) -> None:
    """OpenAI's envelope everywhere, except under /v1/messages: Anthropic's."""
    envelope = "AnthropicErrorEnvelope" if path.startswith("/v1/messages") else "ErrorEnvelope"
    responses = document["paths"][path][method]["responses"]
    for status, response in responses.items():
        if int(status) >= 400 and not (path == "/ready" and status == "503"):
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{envelope}"


@pytest.mark.parametrize(
    ("path", "model"),
    [
        pytest.param("/v1/chat/completions", "ChatCompletionRequest", id="chat"),
        pytest.param("/v1/completions", "TextCompletionRequest", id="completions"),
        pytest.param("/v1/route", "ChatCompletionRequest", id="route"),
    ],
)
def test_generation_endpoints_have_request_bodies(document: dict[str, Any], path: str, model: str) -> None:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{model}"}
    schema = document["components"]["schemas"][model]
    assert {"model", "stream"} <= set(schema["properties"])
    assert schema["additionalProperties"] is True  # unknown fields pass through to the backend


@pytest.mark.parametrize(
    ("path", "model", "required"),
    [
        pytest.param("/v1/messages", "MessagesRequest", {"model", "messages", "max_tokens"}, id="messages"),
        pytest.param("/v1/messages/count_tokens", "CountTokensRequest", {"model", "messages"}, id="count"),
    ],
)
def test_messages_request_bodies(document: dict[str, Any], path: str, model: str, required: set[str]) -> None:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{model}"}
    assert set(document["components"]["schemas"][model]["required"]) == required
