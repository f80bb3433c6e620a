"""The internal chat result → an Anthropic ``Message`` (non-streamed); pieces the stream writer shares.

Content blocks come in the model's order: ``thinking`` (the reasoning, signed), ``text`` (the answer),
``tool_use`` (one per tool call, ``input`` parsed from the JSON arguments). ``stop_reason``: ``tool_use`` when
the model called a tool, ``max_tokens`` when the length limit cut it, ``stop_sequence`` (with
``stop_sequence``) when one of the client's ``stop_sequences`` ended it, else ``end_turn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from gateway.anthropic.signature import ThinkingSigner


def message_id(request_id: str) -> str:
    """The message id for a request: tied to ``x-request-id`` so logs and client objects match."""
    return f"msg_{request_id}"


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's ``input`` object. Arguments that are not a JSON object (a model that broke the schema)
    are kept verbatim under ``arguments`` rather than lost."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"arguments": arguments}


def stop_reason(
    finish_reason: Any, matched: Any, stop_sequences: Sequence[str], tool_calls: bool
) -> tuple[str, str | None]:
    """(``stop_reason``, ``stop_sequence``) from vLLM's ``finish_reason`` and ``stop_reason`` (the matched
    stop string, an int for a stop token, or null)."""
    if tool_calls or finish_reason == "tool_calls":
        return "tool_use", None
    if finish_reason == "length":
        return "max_tokens", None
    if isinstance(matched, str) and matched in stop_sequences:
        return "stop_sequence", matched
    return "end_turn", None


def usage(chat_usage: Any) -> dict[str, Any]:
    """Anthropic usage from chat-completions usage: cached prompt tokens are ``cache_read_input_tokens``
    (Anthropic's ``input_tokens`` excludes them); reasoning tokens are
    ``output_tokens_details.thinking_tokens``."""
    u = chat_usage if isinstance(chat_usage, dict) else {}
    prompt = int(u.get("prompt_tokens") or 0)
    details = u.get("prompt_tokens_details")
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    out: dict[str, Any] = {
        "input_tokens": prompt - cached,
        "output_tokens": int(u.get("completion_tokens") or 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }
    completion_details = u.get("completion_tokens_details")
    if isinstance(completion_details, dict) and completion_details.get("reasoning_tokens") is not None:
        out["output_tokens_details"] = {"thinking_tokens": int(completion_details["reasoning_tokens"])}
    return out


def to_message(
    completion: dict[str, Any],
    *,
    msg_id: str,
    model: str,
    signer: ThinkingSigner,
    stop_sequences: Sequence[str],
) -> dict[str, Any]:
    """The ``Message`` for a normalized (reasoning mirrored, maybe excluded) chat completion."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    assert isinstance(message, dict)
    content: list[dict[str, Any]] = []
    reasoning = message.get("reasoning")
    if reasoning is None:
        reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": signer.sign(reasoning)})
    text = message.get("content")
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    if isinstance(text, str) and text and not (calls and text.isspace()):  # whitespace with calls: no answer
        content.append({"type": "text", "text": text})
    for call in calls:
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        assert isinstance(function, dict)
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": tool_input(function.get("arguments")),
            }
        )
    reason, sequence = stop_reason(
        choice.get("finish_reason"), choice.get("stop_reason"), stop_sequences, bool(calls)
    )
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage(completion.get("usage")),
    }
