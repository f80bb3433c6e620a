"""A Responses API request, validated, and its translation into the internal chat-completions body.

The thinking signal: ``reasoning.effort`` becomes the chat body's ``reasoning: {effort}``, so it enters the
one precedence of :mod:`router.signals` under its own name (a conflict with the ``x-thinkgate-effort``
header names ``reasoning.effort``). ``max_output_tokens`` (reasoning + answer, as in OpenAI's API) becomes
``max_completion_tokens``; ``text.format`` becomes ``response_format`` (vLLM's structured outputs); function
``tools`` / ``tool_choice`` / ``parallel_tool_calls`` take the chat shape.

Fields of the Responses API that no vLLM backend can honour are refused with a 400 that says why
(:data:`REFUSED`); fields that only concern OpenAI's platform are accepted and have no effect
(:data:`IGNORED`); fields the Responses API does not define pass through to the chat body untouched (vLLM
sampling extras such as ``top_k``), like on ``/v1/chat/completions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import BadRequest
from gateway.responses.items import IdFactory, chat_messages, new_id, parse_input

#: Responses fields refused when set (not null / false), with the reason given to the client.
REFUSED: dict[str, str] = {
    "background": "background mode is not supported; stream instead",
    "conversation": "the Conversations API is not supported; chain turns with previous_response_id",
    "prompt": "stored prompt templates are not supported; send instructions and input",
    "max_tool_calls": "max_tool_calls is not supported (tool calls are the client's; cap them client-side)",
    "top_logprobs": "logprobs are not supported on /v1/responses; use /v1/chat/completions",
}

#: Responses fields accepted with no effect on a vLLM backend (prompt caching and tiers are OpenAI's).
IGNORED = frozenset(
    {
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "safety_identifier",
        "service_tier",
        "stream_options",
        "context_management",
        "truncation",
    }
)

#: Chat-completions fields that have a Responses counterpart: refused with a pointer to it.
CHAT_ONLY: dict[str, str] = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "max_completion_tokens": "max_output_tokens",
    "response_format": "text.format",
    "functions": "tools",
    "function_call": "tool_choice",
    "n": "one response per request (n is not part of the Responses API)",
    "logprobs": "/v1/chat/completions (logprobs are not supported on /v1/responses)",
}

#: ``include`` values accepted: thinkgate returns reasoning text in clear, so there is nothing to encrypt.
INCLUDABLE = frozenset({"reasoning.encrypted_content"})

_READ = frozenset(
    {
        "model",
        "input",
        "instructions",
        "previous_response_id",
        "store",
        "stream",
        "metadata",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "text",
        "include",
        "user",
    }
)

_SUMMARY_MODES = ("auto", "concise", "detailed")


def _bad(message: str, param: str, code: str = "invalid_value") -> BadRequest:
    return BadRequest(message, param=param, code=code)


def _opt_bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(f"{name} must be true or false", name)
    return value


def _opt_number(body: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"{name} must be a number between {low:g} and {high:g}", name)
    return value


def _metadata(value: Any) -> dict[str, str] | None:
    """OpenAI's limits: at most 16 pairs, keys up to 64 characters, string values up to 512."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _bad("metadata must be an object of string values", "metadata")
    if len(value) > 16:
        raise _bad("metadata holds at most 16 key-value pairs", "metadata")
    for key, item in value.items():
        if len(key) > 64:
            raise _bad(f"metadata key {key[:70]!r} is longer than 64 characters", "metadata")
        if not isinstance(item, str) or len(item) > 512:
            raise _bad(f"metadata.{key} must be a string of at most 512 characters", f"metadata.{key}")
    return dict(value)


def _tools(value: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tools as the client sent them, for the Response; tools in the chat shape)."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        raise _bad("tools must be a list", "tools")
    echo: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, raw in enumerate(value):
        param = f"tools[{index}]"
        if not isinstance(raw, Mapping):
            raise _bad(f"{param} must be an object", param)
        if raw.get("type") != "function":
            raise _bad(
                f"{param}.type {raw.get('type')!r} is not supported: thinkgate serves function tools only "
                "(hosted tools such as web_search run on OpenAI's platform)",
                f"{param}.type",
                "unsupported_value",
            )
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise _bad(f"{param}.name must be a non-empty string", f"{param}.name")
        if name in names:
            raise _bad(f"{param}.name {name!r} is declared twice", f"{param}.name")
        names.add(name)
        parameters = raw.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise _bad(f"{param}.parameters must be a JSON schema object", f"{param}.parameters")
        description = raw.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad(f"{param}.description must be a string", f"{param}.description")
        strict = raw.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _bad(f"{param}.strict must be true or false", f"{param}.strict")
        function: dict[str, Any] = {
            "name": name,
            "parameters": parameters or {"type": "object", "properties": {}},
        }
        if description is not None:
            function["description"] = description
        if strict is not None:
            function["strict"] = strict
        chat.append({"type": "function", "function": function})
        echo.append(
            {
                "type": "function",
                "name": name,
                "description": description,
                "parameters": parameters,
                "strict": strict,
            }
        )
    return echo, chat


def _tool_choice(value: Any, chat_tools: list[dict[str, Any]]) -> tuple[Any, Any, list[dict[str, Any]]]:
    """(tool_choice to echo, chat ``tool_choice`` or None, the chat tools it leaves allowed)."""
    names = {t["function"]["name"] for t in chat_tools}
    if value is None:
        return "auto", None, chat_tools
    if value in ("none", "auto", "required"):
        if value == "required" and not chat_tools:
            raise _bad("tool_choice 'required' needs at least one tool", "tool_choice")
        return value, value, chat_tools
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind == "function":
            name = value.get("name")
            if name not in names:
                raise _bad(f"tool_choice names function {name!r}, which is not in tools", "tool_choice.name")
            return dict(value), {"type": "function", "function": {"name": name}}, chat_tools
        if kind == "allowed_tools":
            mode = value.get("mode")
            if mode not in ("auto", "required"):
                raise _bad("tool_choice.mode must be auto or required", "tool_choice.mode")
            allowed = value.get("tools")
            if not isinstance(allowed, list) or not allowed:
                raise _bad("tool_choice.tools must be a non-empty list", "tool_choice.tools")
            keep: set[str] = set()
            for index, ref in enumerate(allowed):
                where = f"tool_choice.tools[{index}]"
                if (
                    not isinstance(ref, Mapping)
                    or ref.get("type") != "function"
                    or ref.get("name") not in names
                ):
                    raise _bad(f"{where} must name a function from tools", where)
                keep.add(str(ref["name"]))
            subset = [t for t in chat_tools if t["function"]["name"] in keep]
            return dict(value), mode, subset
    raise _bad(
        "tool_choice must be none, auto, required, {type: function, name} or {type: allowed_tools, …}",
        "tool_choice",
        "unsupported_value",
    )


def _reasoning(value: Any) -> tuple[str | None, str | None]:
    """(effort as sent — validated by the signal reader, summary mode)."""
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        raise _bad("reasoning must be an object", "reasoning")
    summary = value.get("summary")
    if summary is None:
        summary = value.get("generate_summary")  # the older name of the same setting
    if summary is not None and summary not in _SUMMARY_MODES:
        raise _bad(f"reasoning.summary must be one of {', '.join(_SUMMARY_MODES)}", "reasoning.summary")
    effort = value.get("effort")
    return effort, summary


def _text_format(value: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(``text`` to echo, chat ``response_format`` or None)."""
    if value is None:
        return {"format": {"type": "text"}}, None
    if not isinstance(value, Mapping):
        raise _bad("text must be an object", "text")
    verbosity = value.get("verbosity")
    if verbosity is not None and verbosity not in ("low", "medium", "high"):
        raise _bad("text.verbosity must be low, medium or high", "text.verbosity")
    fmt = value.get("format")
    echo: dict[str, Any] = {"format": {"type": "text"}}
    if verbosity is not None:
        echo["verbosity"] = verbosity
    if fmt is None:
        return echo, None
    if not isinstance(fmt, Mapping):
        raise _bad("text.format must be an object", "text.format")
    kind = fmt.get("type")
    if kind == "text":
        return echo, None
    if kind == "json_object":
        echo["format"] = {"type": "json_object"}
        return echo, {"type": "json_object"}
    if kind == "json_schema":
        name = fmt.get("name")
        if not isinstance(name, str) or not name:
            raise _bad("text.format.name must be a non-empty string", "text.format.name")
        schema = fmt.get("schema")
        if not isinstance(schema, Mapping):
            raise _bad("text.format.schema must be a JSON schema object", "text.format.schema")
        strict = fmt.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _bad("text.format.strict must be true or false", "text.format.strict")
        description = fmt.get("description")
        spec: dict[str, Any] = {"name": name, "schema": dict(schema)}
        if strict is not None:
            spec["strict"] = strict
        if isinstance(description, str):
            spec["description"] = description
        echo["format"] = {"type": "json_schema", **spec}
        return echo, {"type": "json_schema", "json_schema": spec}
    raise _bad("text.format.type must be text, json_object or json_schema", "text.format.type")


@dataclass(slots=True)
class ResponsesRequest:
    """What the front door read from a ``POST /v1/responses`` body."""

    model: str
    items: list[dict[str, Any]]  # this request's input, canonical (see gateway.responses.items)
    instructions: str | None
    previous_response_id: str | None
    store: bool
    stream: bool
    metadata: dict[str, str] | None
    effort: str | None
    summary: str | None
    max_output_tokens: int | None
    temperature: float | None
    top_p: float | None
    user: str | None
    tools_echo: list[dict[str, Any]]
    tool_choice_echo: Any
    parallel_tool_calls: bool
    text_echo: dict[str, Any]
    chat_fields: dict[str, Any] = field(default_factory=dict)  # tools, sampling, format … in the chat shape

    def chat_body(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        """The internal chat-completions body for ``history`` (the chain's earlier items) + this input."""
        body: dict[str, Any] = {"model": self.model}
        body["messages"] = chat_messages([*history, *self.items], self.instructions)
        body.update(self.chat_fields)
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body


def parse_request(body: Mapping[str, Any], ids: IdFactory = new_id) -> ResponsesRequest:
    """Validate a Responses body (already a JSON object); every error is a 400 naming the field."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad(
            "missing required field 'model'" if model is None else "model must be a non-empty string", "model"
        )
    chat: dict[str, Any] = {}  # fields the Responses API does not define pass through
    for name, value in body.items():
        if name in _READ or name in IGNORED:
            continue
        if name in REFUSED:
            if value is not None and value is not False and not (name == "top_logprobs" and value == 0):
                raise _bad(REFUSED[name], name, "unsupported_parameter")
        elif name in CHAT_ONLY:
            raise _bad(f"{name} is a chat-completions field; on /v1/responses use {CHAT_ONLY[name]}", name)
        else:
            chat[name] = value
    if "input" not in body or body["input"] is None:
        raise _bad("missing required field 'input'", "input")
    items = parse_input(body["input"], ids)
    if not items:
        raise _bad("input must hold at least one item", "input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _bad("instructions must be a string", "instructions")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise _bad("previous_response_id must be a non-empty string", "previous_response_id")
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list):
            raise _bad("include must be a list", "include")
        for index, value in enumerate(include):
            if value not in INCLUDABLE:
                raise _bad(
                    f"include value {value!r} is not supported; supported: {', '.join(sorted(INCLUDABLE))}",
                    f"include[{index}]",
                    "unsupported_value",
                )
    max_output = body.get("max_output_tokens")
    if max_output is not None and (
        isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 1
    ):
        raise _bad("max_output_tokens must be a positive integer", "max_output_tokens")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("user must be a string", "user")

    echo_tools, chat_tools = _tools(body.get("tools"))
    echo_choice, chat_choice, chat_tools = _tool_choice(body.get("tool_choice"), chat_tools)
    parallel = _opt_bool(body, "parallel_tool_calls", True)
    effort, summary = _reasoning(body.get("reasoning"))
    echo_text, response_format = _text_format(body.get("text"))
    temperature = _opt_number(body, "temperature", 0, 2)
    top_p = _opt_number(body, "top_p", 0, 1)

    if chat_tools:
        chat["tools"] = chat_tools
        chat["parallel_tool_calls"] = parallel
    if chat_choice is not None and chat_tools:
        chat["tool_choice"] = chat_choice
    if effort is not None:
        chat["reasoning"] = {"effort": effort}
    if max_output is not None:
        chat["max_completion_tokens"] = max_output
    if temperature is not None:
        chat["temperature"] = temperature
    if top_p is not None:
        chat["top_p"] = top_p
    if response_format is not None:
        chat["response_format"] = response_format
    if user is not None:
        chat["user"] = user

    return ResponsesRequest(
        model=model,
        items=items,
        instructions=instructions,
        previous_response_id=previous,
        store=_opt_bool(body, "store", True),
        stream=_opt_bool(body, "stream", False),
        metadata=_metadata(body.get("metadata")),
        effort=effort if isinstance(effort, str) else None,
        summary=summary,
        max_output_tokens=max_output,
        temperature=temperature,
        top_p=top_p,
        user=user,
        tools_echo=echo_tools,
        tool_choice_echo=echo_choice,
        parallel_tool_calls=parallel,
        text_echo=echo_text,
        chat_fields=chat,
    )
