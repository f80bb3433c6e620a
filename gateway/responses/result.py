"""The Response object: what the request asked (echoed) + the output items, status and usage.

One :class:`Frame` per request holds the echoed part; :func:`response_object` adds the outcome. The stream
writer and the JSON writer both build their final object here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.responses.items import IdFactory
from gateway.responses.request import ResponsesRequest


@dataclass(frozen=True, slots=True)
class Frame:
    """The echoed part of a Response: the request, its id, the served model and the decided effort."""

    id: str
    created_at: int
    model: str
    effort: str | None
    request: ResponsesRequest

    def response(
        self,
        *,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        incomplete_reason: str | None = None,
        error: dict[str, Any] | None = None,
        completed_at: int | None = None,
    ) -> dict[str, Any]:
        req = self.request
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "completed_at": completed_at,
            "error": error,
            "incomplete_details": None if incomplete_reason is None else {"reason": incomplete_reason},
            "instructions": req.instructions,
            "max_output_tokens": req.max_output_tokens,
            "max_tool_calls": None,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": req.parallel_tool_calls,
            "previous_response_id": req.previous_response_id,
            "reasoning": {"effort": self.effort, "summary": req.summary},
            "service_tier": "default",
            "store": req.store,
            "temperature": req.temperature,
            "text": req.text_echo,
            "tool_choice": req.tool_choice_echo,
            "tools": req.tools_echo,
            "top_p": req.top_p,
            "truncation": "disabled",
            "usage": usage,
            "user": req.user,
            "metadata": req.metadata or {},
        }


#: chat ``finish_reason`` -> Responses ``incomplete_details.reason`` (other reasons complete the response)
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def usage_of(chat_usage: Any) -> dict[str, Any] | None:
    """Responses usage from a chat-completions ``usage`` object."""
    if not isinstance(chat_usage, dict):
        return None
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    details = chat_usage.get("completion_tokens_details")
    reasoning = int(details.get("reasoning_tokens") or 0) if isinstance(details, dict) else 0
    prompt_details = chat_usage.get("prompt_tokens_details")
    cached = int(prompt_details.get("cached_tokens") or 0) if isinstance(prompt_details, dict) else 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": int(chat_usage.get("total_tokens") or prompt + completion),
    }


def output_items(
    message: dict[str, Any], ids: IdFactory, *, summary: bool, incomplete: bool
) -> list[dict[str, Any]]:
    """The output items of a whole chat-completions ``message``: what :class:`OutputBuilder` builds from the
    same pieces (the stream tests check both against each other), made directly: the JSON path is hot."""
    items: list[dict[str, Any]] = []
    reasoning = message.get("reasoning")
    if reasoning is None:
        reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        text = [{"type": "summary_text", "text": reasoning}] if summary else []
        items.append(
            {
                "id": ids("rs"),
                "type": "reasoning",
                "summary": text,
                "content": [{"type": "reasoning_text", "text": reasoning}],
                "status": "completed",
            }
        )
    content = message.get("content")
    calls = message.get("tool_calls") or ()
    if calls and isinstance(content, str) and content.isspace():
        content = None  # whitespace before tool calls is not an answer (as the stream writer drops it)
    if (isinstance(content, str) and content) or (not calls and not incomplete):
        part: dict[str, Any] = {
            "type": "output_text",
            "text": content or "",
            "annotations": [],
            "logprobs": [],
        }
        items.append(
            {
                "id": ids("msg"),
                "type": "message",
                "status": "completed",
                "content": [part],
                "role": "assistant",
            }
        )
    for call in calls:
        function = call.get("function") or {}
        item_id = ids("fc")
        items.append(
            {
                "id": item_id,
                "type": "function_call",
                "status": "completed",
                "call_id": call.get("id") or ids("call"),
                "name": function.get("name") or "",
                "arguments": function.get("arguments") or "",
            }
        )
    if incomplete and items:
        items[-1]["status"] = "incomplete"
    return items


def response_from_completion(
    frame: Frame, completion: dict[str, Any], ids: IdFactory, *, now: int
) -> dict[str, Any]:
    """The Response for a (normalised, non-streamed) chat completion; only its first choice is read."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}
    reason = INCOMPLETE_REASONS.get(str(choice.get("finish_reason")))
    output = output_items(
        message, ids, summary=frame.request.summary is not None, incomplete=reason is not None
    )
    return frame.response(
        status="completed" if reason is None else "incomplete",
        output=output,
        usage=usage_of(completion.get("usage")),
        incomplete_reason=reason,
        completed_at=now if reason is None else None,
    )
