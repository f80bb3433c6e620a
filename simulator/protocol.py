"""Request models for the simulated endpoints and the vLLM-shaped error they raise."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, model_validator

_ERROR_TYPES = {
    400: "BadRequestError",
    404: "NotFoundError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class SimError(Exception):
    """An error rendered as vLLM does: `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def body(self) -> dict[str, Any]:
        err_type = _ERROR_TYPES.get(self.status, "BadRequestError")
        return {
            "error": {"message": self.message, "type": err_type, "param": self.param, "code": self.status}
        }


class StreamOptions(BaseModel):
    """`stream_options`; vLLM defaults include_usage to true once the object is present."""

    model_config = ConfigDict(extra="allow")
    include_usage: bool = True
    continuous_usage_stats: bool = False


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    n: StrictInt = Field(default=1, ge=1, le=128)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: StrictInt | None = None
    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    thinking_token_budget: StrictInt | None = Field(default=None, ge=-1)

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> _Sampling:
        if self.stream_options is not None and not self.stream:
            raise ValueError("Stream options can only be defined when `stream=True`.")
        return self

    def stop_strings(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(s for s in self.stop if s)

    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ChatRequest(_Sampling):
    """`POST /v1/chat/completions` fields the simulator reads (others are accepted and ignored)."""

    messages: list[dict[str, Any]] = Field(min_length=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    chat_template_kwargs: dict[str, Any] | None = None
    include_reasoning: StrictBool = True
    add_generation_prompt: StrictBool = True
    continue_final_message: StrictBool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    reasoning_effort: ReasoningEffort | None = None

    def token_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionRequest(_Sampling):
    """`POST /v1/completions`: a text prompt or a list of token ids, continued raw."""

    prompt: str | list[StrictInt]
    return_token_ids: StrictBool = False
    echo: StrictBool = False


class TokenizeRequest(BaseModel):
    """`POST /tokenize` in either the completion form (`prompt`) or the chat form (`messages`)."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    add_special_tokens: bool | None = None
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    chat_template_kwargs: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    return_token_strs: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("exactly one of 'prompt' or 'messages' is required")
        return self


class DetokenizeRequest(BaseModel):
    """`POST /detokenize`."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    tokens: list[StrictInt]


M = TypeVar("M", bound=BaseModel)


def decode_body(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object body, raising a 400 `SimError` for anything else."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SimError(400, f"Invalid JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise SimError(400, "Request body must be a JSON object")
    return data


def validate_body(model: type[M], data: dict[str, Any]) -> M:
    """Validate a decoded body into `model`, raising a 400 `SimError` with a readable message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        msg = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        raise SimError(400, msg, param=loc or None) from exc


def parse_body(model: type[M], raw: bytes) -> M:
    """Decode a JSON body into `model`, raising a 400 `SimError` with a readable message."""
    return validate_body(model, decode_body(raw))
