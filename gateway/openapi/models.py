"""Pydantic shapes of the gateway's request and response bodies, for the OpenAPI document.

Request models extend the validation models of :mod:`gateway.protocol` (so the document cannot claim less than
the gateway checks) with the optional OpenAI and thinking fields the gateway reads or passes through. Response
models allow extra fields: a backend's JSON passes through with what it adds. The error envelope is exact: the
gateway never answers an error in another shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.protocol import ChatRequest, CompletionRequest

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# errors


class ErrorDetail(_Closed):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEnvelope(_Closed):
    """Every 4xx and 5xx of the OpenAI-shaped endpoints: ``{"error": {message, type, param, code}}``."""

    error: ErrorDetail


# generation requests


class ReasoningOptions(_Open):
    """OpenRouter-style ``reasoning``: an effort or a token budget, and whether to leave the thinking out."""

    effort: Effort | None = None
    max_tokens: int | None = Field(default=None, ge=0)
    exclude: bool | None = None


class ThinkingOptions(_Open):
    """Anthropic-style ``thinking``: on with a budget, or off."""

    type: Literal["enabled", "disabled"]
    budget_tokens: int | None = Field(default=None, ge=0)


class ToolFunction(_Open):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(_Open):
    type: Literal["function"]
    function: ToolFunction


class ChatCompletionRequest(ChatRequest):
    """``POST /v1/chat/completions`` (and ``/v1/route``): the OpenAI chat request; unknown fields pass
    through to the backend. Thinking signals, in precedence order, are described in the README."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    reasoning_effort: Effort | None = None
    reasoning: ReasoningOptions | None = None
    thinking: ThinkingOptions | None = None
    chat_template_kwargs: dict[str, Any] | None = None


class TextCompletionRequest(CompletionRequest):
    """``POST /v1/completions``: a raw prompt, passed to the pool the model names (no effort decision)."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None


# generation responses


class CompletionTokensDetails(_Open):
    reasoning_tokens: int | None = None


class Usage(_Open):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: CompletionTokensDetails | None = None


class AssistantMessage(_Open):
    role: Literal["assistant"]
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatChoice(_Open):
    index: int
    message: AssistantMessage
    finish_reason: str | None = None


class ChatCompletion(_Open):
    """A chat completion; with ``stream: true`` the same content arrives as ``text/event-stream`` chunks
    (``data: {...}`` lines ending with ``data: [DONE]``; errors after the first byte as ``{"error": …}``)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None


class TextChoice(_Open):
    index: int
    text: str
    finish_reason: str | None = None


class TextCompletion(_Open):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[TextChoice]
    usage: Usage | None = None


# models, route, health


class ModelCard(_Open):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    thinkgate: dict[str, Any]


class ModelList(_Open):
    object: Literal["list"]
    data: list[ModelCard]


class UpstreamRequest(_Open):
    """One step of the failover chain: the first request the gateway would send that pool."""

    backend: str
    mode: Literal["hybrid", "thinking", "instruct"]
    budget_mode: Literal["native", "forcing"]
    path: str
    body: dict[str, Any]
    warnings: list[str]


class RouteEpisode(_Closed):
    """The request's agent episode and what its thinking budget does to this step (nothing is charged)."""

    id: str
    source: Literal["header", "metadata", "chain", "hash"]
    budget: int | None
    left: int | None
    on_spent: Literal["no_thinking", "refuse"]
    effect: Literal["none", "bounded", "no_thinking", "refuse", "unknown"]


class RouteReport(_Open):
    """What ``/v1/route`` decides for a chat body, without generating (a dry run of the whole render); for
    an agent trajectory also its step (``step``), the decision of every model call in it (``steps``) and its
    episode (``episode``)."""

    model: str
    effort: Effort
    budget: int | None
    budget_label: str
    source: str
    reason: str
    scores: dict[str, float]
    capped: bool
    backend: str
    backend_model: str
    plan: list[str]
    shed: str | None = None
    warnings: list[str]
    upstream: list[UpstreamRequest]
    step: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = Field(default_factory=list)
    episode: RouteEpisode | None = None


class Health(_Closed):
    status: Literal["ok"]


class Readiness(_Closed):
    status: Literal["ready", "unavailable"]
    policy_loaded: bool
    pools: dict[str, bool]


# admin


class PolicyView(_Closed):
    version: int
    source: str
    sha256: str
    previous_version: int | None
    shared: bool
    text: str | None = None


class KeyRequest(_Closed):
    """A runtime API key to add; without ``key`` the gateway generates one."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    tenant: str = Field(min_length=1)
    key: str | None = Field(default=None, pattern=r"^[\x21-\x7e]{20,256}$")


class KeyCreated(_Closed):
    name: str
    tenant: str
    key: str
    auth_enabled: bool


class KeyInfo(_Closed):
    name: str
    tenant: str
    source: Literal["policy", "runtime"]


class KeyList(_Closed):
    object: Literal["list"]
    data: list[KeyInfo]
    stale: bool


class KeyDeleted(_Closed):
    name: str
    deleted: Literal[True]


# the Anthropic Messages front door (/v1/messages); requests are gateway.anthropic.protocol's models


class AnthropicErrorDetail(_Closed):
    type: Literal[
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
    ]
    message: str


class AnthropicErrorEnvelope(_Closed):
    """Every 4xx and 5xx under ``/v1/messages``: ``{"type": "error", "error": {type, message}}``."""

    type: Literal["error"]
    error: AnthropicErrorDetail
    request_id: str | None = None


class ContentBlock(_Open):
    """``thinking`` (``thinking``, ``signature``), ``text`` (``text``) or ``tool_use`` (``id``, ``name``,
    ``input``)."""

    type: Literal["thinking", "text", "tool_use"]


class AnthropicUsage(_Open):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class AnthropicMessage(_Open):
    """A ``Message`` of the Anthropic Messages API."""

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]
    stop_sequence: str | None
    usage: AnthropicUsage


class MessageTokensCount(_Closed):
    input_tokens: int
