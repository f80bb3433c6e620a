"""The Anthropic Messages API request, validated (``POST /v1/messages`` and ``/v1/messages/count_tokens``).

Field names follow the ``anthropic`` SDK's request types. Blocks ignore fields we do not use
(``cache_control``, ``citations``); top-level fields that only tune Anthropic's own service (``service_tier``,
``cache_control``, ``speed``, ``inference_geo`` …) are ignored, and the ones that ask for
something no vLLM backend can do (server tools, MCP servers, documents) are refused with a 400 naming the
field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from gateway.errors import BadRequest

Number = StrictInt | StrictFloat


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TextBlock(_Part):
    type: Literal["text"]
    text: StrictStr


class ImageSource(_Part):
    type: Literal["base64", "url"]
    media_type: StrictStr | None = None
    data: StrictStr | None = None
    url: StrictStr | None = None

    @model_validator(mode="after")
    def _payload(self) -> ImageSource:
        if self.type == "base64" and (not self.data or not self.media_type):
            raise ValueError("a base64 image source needs 'media_type' and 'data'")
        if self.type == "url" and not self.url:
            raise ValueError("a url image source needs 'url'")
        return self


class ImageBlock(_Part):
    type: Literal["image"]
    source: ImageSource


class ToolUseBlock(_Part):
    type: Literal["tool_use"]
    id: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    input: dict[str, Any]


class ToolResultBlock(_Part):
    type: Literal["tool_result"]
    tool_use_id: StrictStr = Field(min_length=1)
    content: StrictStr | list[TextBlock] | None = None
    is_error: StrictBool = False


class ThinkingBlock(_Part):
    type: Literal["thinking"]
    thinking: StrictStr
    signature: StrictStr


class RedactedThinkingBlock(_Part):
    type: Literal["redacted_thinking"]
    data: StrictStr


Block = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class MessageParam(_Part):
    role: Literal["user", "assistant"]
    content: StrictStr | list[Block]


class Tool(_Part):
    """A client tool. Anthropic's server tools (``web_search_…``, ``bash_…``) carry another ``type``."""

    type: Literal["custom"] | None = None
    name: StrictStr = Field(pattern=r"^[a-zA-Z0-9_-]{1,128}$")
    description: StrictStr | None = None
    input_schema: dict[str, Any]


class ToolChoiceAuto(_Part):
    type: Literal["auto"]
    disable_parallel_tool_use: StrictBool = False


class ToolChoiceAny(_Part):
    type: Literal["any"]
    disable_parallel_tool_use: StrictBool = False


class ToolChoiceTool(_Part):
    type: Literal["tool"]
    name: StrictStr = Field(min_length=1)
    disable_parallel_tool_use: StrictBool = False


class ToolChoiceNone(_Part):
    type: Literal["none"]


ToolChoice = Annotated[
    ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")
]

Display = Literal["summarized", "omitted"]


class ThinkingEnabled(_Part):
    type: Literal["enabled"]
    budget_tokens: StrictInt = Field(ge=1)
    display: Display | None = None


class ThinkingDisabled(_Part):
    type: Literal["disabled"]


class ThinkingAdaptive(_Part):
    type: Literal["adaptive"]
    display: Display | None = None


Thinking = Annotated[ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive, Field(discriminator="type")]


class JsonSchemaFormat(_Part):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Part):
    """Anthropic's ``output_config``: ``effort`` (a level, as on adaptive-thinking models) and ``format``."""

    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: JsonSchemaFormat | None = None


class Metadata(_Part):
    """Anthropic's ``metadata`` has only ``user_id`` (an opaque id of the end user: stickiness here, never an
    episode — one user runs many tasks). ``episode_id`` / ``thinkgate_episode`` are thinkgate's extension
    naming an agent episode, as in a chat or Responses body's ``metadata``."""

    user_id: StrictStr | None = None
    episode_id: StrictStr | None = None
    thinkgate_episode: StrictStr | None = None


#: Top-level fields that need a capability a vLLM backend does not have; refused, never silently ignored.
REFUSED_FIELDS = {
    "mcp_servers": "MCP servers are run by Anthropic's service; thinkgate serves client tools only",
    "container": "code-execution containers are run by Anthropic's service",
    "context_management": "server-side context editing is not supported; send the context you want",
}


class CountTokensRequest(BaseModel):
    """``POST /v1/messages/count_tokens``: the prompt fields of a Messages request."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: StrictStr = Field(min_length=1)
    messages: list[MessageParam] = Field(min_length=1)
    system: StrictStr | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None


class MessagesRequest(CountTokensRequest):
    """``POST /v1/messages``."""

    max_tokens: StrictInt = Field(ge=1)
    stream: StrictBool = False
    stop_sequences: list[StrictStr] | None = None
    temperature: Number | None = Field(default=None, ge=0, le=1)
    top_p: Number | None = Field(default=None, ge=0, le=1)
    top_k: StrictInt | None = Field(default=None, ge=0)
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _budget_fits(self) -> MessagesRequest:
        if isinstance(self.thinking, ThinkingEnabled) and self.thinking.budget_tokens >= self.max_tokens:
            raise ValueError(
                "thinking.budget_tokens must be less than max_tokens (thinking counts toward it)"
            )
        return self


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _bad_request(exc: ValidationError) -> BadRequest:
    first = exc.errors()[0]
    # union members and discriminator tags add their names to the location; the client wants the field path
    parts = [
        str(p)
        for p in first["loc"]
        if not (isinstance(p, str) and (p in _TYPE_TAGS or "[" in p or p.startswith(("function-", "Strict"))))
    ]
    known = {"text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking"}
    parts = [p for i, p in enumerate(parts) if not (i > 0 and p in known and parts[i - 1].isdigit())]
    param = ".".join(parts)
    msg = first["msg"]
    if first["type"] == "missing":
        msg = f"{param}: Field required"
    elif param:
        msg = f"{param}: {msg}"
    return BadRequest(msg, param=param or None, code="invalid_value")


def _refuse(body: dict[str, Any]) -> None:
    for name, why in REFUSED_FIELDS.items():
        if body.get(name) is not None:
            raise BadRequest(f"{name}: not supported ({why})", param=name, code="unsupported_field")


def validate_messages(body: dict[str, Any]) -> MessagesRequest:
    """The request, or a 400 naming the first bad field."""
    _refuse(body)
    try:
        return MessagesRequest.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(exc) from None


def validate_count_tokens(body: dict[str, Any]) -> CountTokensRequest:
    _refuse(body)
    try:
        return CountTokensRequest.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(exc) from None
