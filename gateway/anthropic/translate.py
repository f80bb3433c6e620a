"""A Messages request → the internal chat-completions body the one pipeline decides on and renders.

What maps where (the rest of the pipeline sees an ordinary chat request):

* ``system`` (string or text blocks) → the first ``system`` message.
* user ``text``/``image`` blocks → a ``user`` message (text joined with newlines; images as ``image_url``
  parts); each ``tool_result`` → a ``tool`` message with its ``tool_call_id``, placed before the user's
  other blocks; ``is_error: true`` prefixes the content with ``Error: `` (what the model reads) and keeps
  ``is_error`` on the message (what the step policy reads; vLLM ignores the key).
* assistant ``text`` → ``content``; ``tool_use`` → ``tool_calls`` (``input`` as JSON ``arguments``);
  ``thinking`` with a valid signature → ``reasoning`` (the family's history rules in ``templates`` then keep
  or drop it); a thinking block whose signature fails, and every ``redacted_thinking`` block (opaque, never
  ours), is dropped or refused by ``messages.on_invalid_thinking``. Without the interleaved-thinking beta,
  only the turn's first thinking block is passed back (Claude thinks at the start of a turn only); with it,
  every step's thinking in the tool loop is.
* A final ``assistant`` message is a prefill: ``continue_final_message`` (vLLM) continues it.
* ``thinking`` → ``thinking`` and ``output_config.effort`` → ``reasoning_effort``: both are explicit signals
  of the one precedence (router.signals), so conflicts get the same 400 as on chat completions.
* ``tools`` → function tools (``input_schema`` → ``parameters``); ``tool_choice`` auto/any/tool/none →
  ``auto``/``required``/named function/``none``; ``disable_parallel_tool_use`` →
  ``parallel_tool_calls: false``.
* ``stop_sequences`` → ``stop``; ``temperature``/``top_p``/``top_k``/``max_tokens`` as they are;
  ``metadata.user_id`` → ``user`` (endpoint stickiness); ``output_config.format`` → ``response_format``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from gateway.anthropic.protocol import (
    CountTokensRequest,
    ImageBlock,
    MessageParam,
    MessagesRequest,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingAdaptive,
    ThinkingBlock,
    ThinkingDisabled,
    ThinkingEnabled,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
)
from gateway.anthropic.signature import ThinkingSigner
from gateway.errors import BadRequest

InvalidThinking = Literal["drop", "reject"]

#: The ``anthropic-beta`` value that lets Claude think between tool calls.
INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"


def interleaved(beta_header: str | None) -> bool:
    """Whether an ``anthropic-beta`` header (comma-separated) turns interleaved thinking on."""
    if not beta_header:
        return False
    return any(part.strip() == INTERLEAVED_BETA for part in beta_header.split(","))


@dataclass(frozen=True, slots=True)
class Translated:
    """The internal chat body and what the response writer needs to answer in the Messages shape."""

    body: dict[str, Any]
    model: str
    stop_sequences: tuple[str, ...]
    show_thinking: bool
    kept_thinking: int
    dropped_thinking: int


@dataclass(slots=True)
class _History:
    signer: ThinkingSigner
    on_invalid: InvalidThinking
    interleaved: bool
    turn_start: int
    kept: int = 0
    dropped: int = 0
    turn_thinking_seen: bool = False


def _texts(blocks: Sequence[TextBlock]) -> str:
    return "\n".join(b.text for b in blocks)


def _image_url(block: ImageBlock) -> dict[str, Any]:
    src = block.source
    url = src.url if src.type == "url" else f"data:{src.media_type};base64,{src.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _is_query(message: MessageParam) -> bool:
    """A user message that asks something (not only tool results): it starts a new assistant turn."""
    if message.role != "user":
        return False
    if isinstance(message.content, str):
        return True
    return any(not isinstance(b, ToolResultBlock) for b in message.content)


def _tool_result(block: ToolResultBlock) -> dict[str, Any]:
    content = block.content
    text = content if isinstance(content, str) else _texts(content or [])
    if block.is_error:
        # the model reads the prefix; the step policy (router.agent) reads the flag, which vLLM ignores
        return {
            "role": "tool",
            "tool_call_id": block.tool_use_id,
            "content": f"Error: {text}",
            "is_error": True,
        }
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": text}


def _user(message: MessageParam, index: int, out: list[dict[str, Any]]) -> None:
    if isinstance(message.content, str):
        out.append({"role": "user", "content": message.content})
        return
    if not message.content:
        raise BadRequest(f"messages.{index}.content: must not be empty", param=f"messages.{index}.content")
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(message.content):
        if isinstance(block, ToolResultBlock):
            out.append(_tool_result(block))
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(_image_url(block))
        else:
            param = f"messages.{index}.content.{j}"
            raise BadRequest(f"{param}: a user message cannot hold a {block.type} block", param=param)
    if not parts:
        return
    if all(p["type"] == "text" for p in parts):
        out.append({"role": "user", "content": "\n".join(p["text"] for p in parts)})
    else:
        out.append({"role": "user", "content": parts})


def _thinking(block: ThinkingBlock | RedactedThinkingBlock, param: str, history: _History) -> str | None:
    """The block's reasoning if the gateway may pass it back, else ``None`` (dropped) or a 400 (refused)."""
    genuine = isinstance(block, ThinkingBlock) and history.signer.verify(block.thinking, block.signature)
    if not genuine:
        if history.on_invalid == "reject":
            what = "redacted_thinking blocks" if isinstance(block, RedactedThinkingBlock) else "this block"
            raise BadRequest(
                f"{param}: the thinking block's signature does not verify ({what} did not come from this "
                "gateway, or was modified); send thinking blocks back exactly as received",
                param=f"{param}.signature",
                code="invalid_thinking_signature",
            )
        history.dropped += 1
        return None
    assert isinstance(block, ThinkingBlock)
    return block.thinking


def _assistant(message: MessageParam, index: int, history: _History) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": "assistant", "content": message.content}
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(message.content):
        param = f"messages.{index}.content.{j}"
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            arguments = orjson.dumps(block.input).decode()
            calls.append(
                {"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}}
            )
        elif isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            text = _thinking(block, param, history)
            in_turn = index > history.turn_start
            pass_back = in_turn and (history.interleaved or not history.turn_thinking_seen)
            if in_turn:
                history.turn_thinking_seen = True
            if text is not None and (pass_back or not in_turn):
                reasoning.append(text)  # from an earlier turn, the family's history rules strip it
                history.kept += 1 if in_turn else 0
        else:
            raise BadRequest(f"{param}: an assistant message cannot hold a {block.type} block", param=param)
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if reasoning:
        out["reasoning"] = "\n\n".join(reasoning)
    if calls:
        out["tool_calls"] = calls
    return out


def _tools(req: CountTokensRequest, body: dict[str, Any]) -> None:
    choice = req.tool_choice
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description is not None else {}),
                    "parameters": t.input_schema,
                },
            }
            for t in req.tools
        ]
    elif isinstance(choice, ToolChoiceAny | ToolChoiceTool):
        raise BadRequest(f"tool_choice {choice.type!r} needs tools", param="tool_choice")
    if choice is None or not req.tools:
        return
    if isinstance(choice, ToolChoiceAuto):
        body["tool_choice"] = "auto"
    elif isinstance(choice, ToolChoiceAny):
        body["tool_choice"] = "required"
    elif isinstance(choice, ToolChoiceTool):
        if choice.name not in {t.name for t in req.tools}:
            raise BadRequest(f"tool_choice.name: no tool named {choice.name!r}", param="tool_choice.name")
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif isinstance(choice, ToolChoiceNone):
        body["tool_choice"] = "none"
    if not isinstance(choice, ToolChoiceNone) and choice.disable_parallel_tool_use:
        body["parallel_tool_calls"] = False


def _thinking_signal(req: CountTokensRequest, body: dict[str, Any]) -> bool:
    """Put ``thinking`` / ``output_config.effort`` where the signal precedence reads them; returns whether
    the thinking text is shown (``display: omitted`` hides it)."""
    t = req.thinking
    if isinstance(t, ThinkingEnabled):
        body["thinking"] = {"type": "enabled", "budget_tokens": t.budget_tokens}
    elif isinstance(t, ThinkingDisabled):
        body["thinking"] = {"type": "disabled"}
    elif isinstance(t, ThinkingAdaptive):
        body["thinking"] = {"type": "adaptive"}
    if req.output_config is not None and req.output_config.effort is not None:
        body["reasoning_effort"] = req.output_config.effort
    if req.output_config is not None and req.output_config.format is not None:
        schema = req.output_config.format.schema_
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    omitted = isinstance(t, ThinkingEnabled | ThinkingAdaptive) and t.display == "omitted"
    if omitted:
        body["reasoning"] = {"exclude": True}  # think, but return no thinking text (router.signals)
    return not omitted


def to_chat(
    req: CountTokensRequest,
    *,
    signer: ThinkingSigner,
    on_invalid_thinking: InvalidThinking,
    interleaved: bool,
) -> Translated:
    """Translate; raises :class:`BadRequest` for content that has no chat-completions equivalent."""
    turn_start = max((i for i, m in enumerate(req.messages) if _is_query(m)), default=-1)
    history = _History(signer, on_invalid_thinking, interleaved, turn_start)
    messages: list[dict[str, Any]] = []
    if req.system is not None:
        system = req.system if isinstance(req.system, str) else _texts(req.system)
        messages.append({"role": "system", "content": system})
    for index, message in enumerate(req.messages):
        if message.role == "user":
            _user(message, index, messages)
        else:
            messages.append(_assistant(message, index, history))
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    if req.messages[-1].role == "assistant":
        body["add_generation_prompt"] = False
        body["continue_final_message"] = True
    _tools(req, body)
    show = _thinking_signal(req, body)
    stops: tuple[str, ...] = ()
    if isinstance(req, MessagesRequest):
        body["max_tokens"] = req.max_tokens
        body["stream"] = req.stream
        for name in ("temperature", "top_p", "top_k"):
            value = getattr(req, name)
            if value is not None:
                body[name] = value
        if req.stop_sequences:
            stops = tuple(req.stop_sequences)
            body["stop"] = list(stops)
        if req.metadata is not None and req.metadata.user_id:
            body["user"] = req.metadata.user_id
    return Translated(body, req.model, stops, show, history.kept, history.dropped)
