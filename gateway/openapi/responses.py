"""Pydantic shapes of the Responses API bodies (``/v1/responses``), for the OpenAPI document.

They describe what :mod:`gateway.responses.request` accepts (it validates by hand, to name each bad field in
its 400) and what :mod:`gateway.responses.result` writes. docs/responses.md lists what is refused and why.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# input items


class InputText(_Closed):
    type: Literal["input_text"]
    text: str


class InputImage(_Closed):
    type: Literal["input_image"]
    image_url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class OutputText(_Open):
    type: Literal["output_text"]
    text: str


class InputMessage(_Closed):
    """A message; ``type`` may be left out (the "easy" form). Assistant turns carry ``output_text`` parts."""

    type: Literal["message"] | None = None
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputText | InputImage | OutputText]
    id: str | None = None
    status: ItemStatus | None = None


class FunctionCallItem(_Closed):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str
    id: str | None = None
    status: ItemStatus | None = None


class FunctionCallOutputItem(_Closed):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[InputText]
    id: str | None = None
    status: ItemStatus | None = None


class SummaryText(_Closed):
    type: Literal["summary_text"]
    text: str


class ReasoningText(_Closed):
    type: Literal["reasoning_text"]
    text: str


class ReasoningItem(_Open):
    """A reasoning item sent back: its text goes back to the model per the family's history rules."""

    type: Literal["reasoning"]
    summary: list[SummaryText] = Field(default_factory=list)
    content: list[ReasoningText] | None = None
    id: str | None = None
    encrypted_content: str | None = None
    status: ItemStatus | None = None


InputItem = InputMessage | FunctionCallItem | FunctionCallOutputItem | ReasoningItem


# request


class FunctionTool(_Closed):
    type: Literal["function"]
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolChoiceFunction(_Closed):
    type: Literal["function"]
    name: str


class AllowedTool(_Closed):
    type: Literal["function"]
    name: str


class ToolChoiceAllowed(_Closed):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[AllowedTool] = Field(min_length=1)


class ResponsesReasoning(_Open):
    effort: Effort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


class FormatText(_Closed):
    type: Literal["text"]


class FormatJsonObject(_Closed):
    type: Literal["json_object"]


class FormatJsonSchema(_Closed):
    type: Literal["json_schema"]
    name: str = Field(min_length=1)
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None
    description: str | None = None


class TextOptions(_Closed):
    format: FormatText | FormatJsonObject | FormatJsonSchema | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ResponsesCreateRequest(_Open):
    """``POST /v1/responses``. Fields that are not part of the Responses API pass through to the backend."""

    model: str = Field(min_length=1)
    input: str | list[InputItem] = Field(min_length=1)
    instructions: str | None = None
    previous_response_id: str | None = Field(default=None, min_length=1)
    store: bool | None = None
    stream: bool | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceFunction | ToolChoiceAllowed | None = None
    parallel_tool_calls: bool | None = None
    reasoning: ResponsesReasoning | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    text: TextOptions | None = None
    include: list[Literal["reasoning.encrypted_content"]] | None = None
    user: str | None = None


# response


class InputTokensDetails(_Open):
    cached_tokens: int


class OutputTokensDetails(_Open):
    reasoning_tokens: int


class ResponsesUsage(_Open):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class OutputItem(_Open):
    """A ``reasoning``, ``message`` (``output_text`` parts) or ``function_call`` item."""

    id: str
    type: Literal["reasoning", "message", "function_call"]
    status: ItemStatus


class ResponseError(_Open):
    code: str
    message: str


class IncompleteDetails(_Open):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseObject(_Open):
    """A Response; with ``stream: true`` it arrives as typed ``text/event-stream`` events
    (``response.created`` … ``response.completed`` / ``incomplete`` / ``failed``), see docs/responses.md."""

    id: str
    object: Literal["response"]
    created_at: int
    status: Literal["completed", "incomplete", "failed", "in_progress"]
    model: str
    output: list[OutputItem]
    usage: ResponsesUsage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    previous_response_id: str | None = None
    store: bool


class ResponseDeleted(_Closed):
    id: str
    object: Literal["response.deleted"]
    deleted: Literal[True]


class InputItemList(_Closed):
    """One page of a stored response's input items (``order``, ``after``, ``limit`` query parameters)."""

    object: Literal["list"]
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool
