"""Every public operation of the gateway, with its request and response models: the one place to add a route.

A new front door (``/v1/responses``, ``/v1/messages``, …) adds one :class:`Operation` here with its request
and response models and its own error envelope (``error_model``); ``tests/unit/test_openapi.py`` fails while
an app route is missing from this list, and the schemathesis fuzz (``tests/integration/test_openapi_fuzz.py``)
then covers it with no further code.
"""

from __future__ import annotations

from gateway.anthropic.protocol import CountTokensRequest, MessagesRequest
from gateway.openapi.document import ADMIN_ERRORS, GENERATION_ERRORS, Operation
from gateway.openapi.models import (
    AnthropicErrorEnvelope,
    AnthropicMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Health,
    KeyCreated,
    KeyDeleted,
    KeyList,
    KeyRequest,
    MessageTokensCount,
    ModelList,
    PolicyView,
    Readiness,
    RouteReport,
    TextCompletion,
    TextCompletionRequest,
)
from gateway.openapi.responses import InputItemList, ResponseDeleted, ResponseObject, ResponsesCreateRequest
from router.policy import Policy

#: Anthropic's statuses (gateway.anthropic.errors): 502 becomes 500, 503 becomes 529
ANTHROPIC_ERRORS = (400, 401, 403, 404, 413, 429, 500, 504, 529)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/v1/chat/completions",
        "Chat completion at the effort thinkgate decides (JSON, or SSE with stream: true)",
        "generation",
        ok=ChatCompletion,
        request=ChatCompletionRequest,
        stream=True,
        errors=GENERATION_ERRORS,
        security="api_key",
    ),
    Operation(
        "post",
        "/v1/completions",
        "Text completion, passed to the pool the model names",
        "generation",
        ok=TextCompletion,
        request=TextCompletionRequest,
        stream=True,
        errors=GENERATION_ERRORS,
        security="api_key",
    ),
    Operation(
        "post",
        "/v1/responses",
        "OpenAI Responses API at the effort thinkgate decides (JSON, or typed SSE events with stream: true)",
        "generation",
        ok=ResponseObject,
        request=ResponsesCreateRequest,
        stream=True,
        errors=GENERATION_ERRORS,
        security="api_key",
    ),
    Operation(
        "get",
        "/v1/responses/{response_id}",
        "A stored response (the caller's own)",
        "generation",
        ok=ResponseObject,
        errors=(400, 401, 404, 503),
        path_params=("response_id",),
        security="api_key",
    ),
    Operation(
        "delete",
        "/v1/responses/{response_id}",
        "Delete a stored response",
        "generation",
        ok=ResponseDeleted,
        errors=(401, 404, 503),
        path_params=("response_id",),
        security="api_key",
    ),
    Operation(
        "get",
        "/v1/responses/{response_id}/input_items",
        "The input items of a stored response (cursor page: order, after, limit)",
        "generation",
        ok=InputItemList,
        errors=(400, 401, 404, 503),
        path_params=("response_id",),
        security="api_key",
    ),
    Operation(
        "post",
        "/v1/messages",
        "Anthropic Messages API: a message at the effort thinkgate decides (JSON, or SSE with stream: true)",
        "generation",
        ok=AnthropicMessage,
        request=MessagesRequest,
        stream=True,
        errors=ANTHROPIC_ERRORS,
        error_model=AnthropicErrorEnvelope,
        security="api_key",
    ),
    Operation(
        "post",
        "/v1/messages/count_tokens",
        "Anthropic Messages API: the prompt's tokens as the backend that would serve it counts them",
        "generation",
        ok=MessageTokensCount,
        request=CountTokensRequest,
        errors=ANTHROPIC_ERRORS,
        error_model=AnthropicErrorEnvelope,
        security="api_key",
    ),
    Operation(
        "get",
        "/v1/models",
        "Models the caller may use",
        "generation",
        ok=ModelList,
        errors=(401, 503),
        security="api_key",
    ),
    Operation(
        "post",
        "/v1/route",
        "The decision for a chat request, without generating",
        "routing",
        ok=RouteReport,
        request=ChatCompletionRequest,
        errors=(400, 401, 403, 404, 413, 503),
        security="api_key",
    ),
    Operation("get", "/health", "Liveness", "operations", ok=Health),
    Operation(
        "get", "/ready", "Readiness: some pool is healthy", "operations", ok=Readiness, also={503: Readiness}
    ),
    Operation(
        "get", "/metrics", "Prometheus metrics", "operations", ok=None, ok_media="text/plain; version=0.0.4"
    ),
    Operation("get", "/openapi.json", "This document", "operations", ok=None, ok_media="application/json"),
    Operation(
        "get",
        "/admin/policy",
        "The policy in use, with its text",
        "admin",
        ok=PolicyView,
        errors=ADMIN_ERRORS,
        security="admin",
    ),
    Operation(
        "put",
        "/admin/policy",
        "Replace the policy (YAML or JSON, validated like the policy file)",
        "admin",
        ok=PolicyView,
        request=Policy,
        text_body=("application/yaml",),
        errors=(400, *ADMIN_ERRORS, 409, 413, 503),
        security="admin",
    ),
    Operation(
        "post",
        "/admin/policy/rollback",
        "Go back to the previous policy",
        "admin",
        ok=PolicyView,
        errors=(*ADMIN_ERRORS, 409, 503),
        security="admin",
    ),
    Operation(
        "post",
        "/admin/keys",
        "Add a runtime API key (the key is in this response only)",
        "admin",
        ok=KeyCreated,
        ok_status=201,
        request=KeyRequest,
        errors=(400, *ADMIN_ERRORS, 409, 413, 503),
        security="admin",
    ),
    Operation(
        "get",
        "/admin/keys",
        "Every key's name, tenant and source",
        "admin",
        ok=KeyList,
        errors=ADMIN_ERRORS,
        security="admin",
    ),
    Operation(
        "delete",
        "/admin/keys/{name}",
        "Delete a runtime key",
        "admin",
        ok=KeyDeleted,
        errors=(*ADMIN_ERRORS, 404, 409, 503),
        path_params=("name",),
        security="admin",
    ),
)
