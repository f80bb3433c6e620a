"""Rewrite assistant history so earlier reasoning reaches the template exactly as the family expects.

PROTOCOLS §2.3, §13.3, §15.5: reasoning from turns up to the last real user query is dropped (answer-only
``content``); inside the unfinished tool-call loop after it, reasoning is kept and sent as both ``reasoning``
and ``reasoning_content`` (vLLM reads one or the other depending on release). Input reasoning comes from
``reasoning``, else ``reasoning_content``, else a ``<think>…</think>`` block inside ``content``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from templates.errors import InvalidRequestError
from templates.family import Family, HistoryPolicy
from templates.reasoning import THINK_END, THINK_START
from templates.vllm import VllmVersion, reads_history_reasoning

_REASONING_KEYS = ("reasoning", "reasoning_content")


def last_query_index(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index of the last ``user`` message that is not a ``<tool_response>`` wrapper (Qwen template rule).

    With no such message every turn counts as history (the template starts from the last index).
    """
    found = len(messages) - 1
    for index, message in enumerate(messages):
        content = message.get("content")
        wrapped = (
            isinstance(content, str)
            and content.startswith("<tool_response>")
            and content.endswith("</tool_response>")
        )
        if message.get("role") == "user" and not wrapped:
            found = index
    return found


def last_final_index(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index of the last assistant message without tool calls (a final answer); -1 if there is none."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "assistant" and not message.get("tool_calls"):
            return index
    return -1


def _split_inline(content: str) -> tuple[str, str]:
    """Split ``<think>r</think>answer`` at the last end tag into (reasoning, answer)."""
    cut = content.rfind(THINK_END)
    head, answer = content[:cut], content[cut + len(THINK_END) :]
    if THINK_START in head:
        head = head.split(THINK_START)[-1]
    return head.strip("\n"), answer.lstrip("\n")


def _input_reasoning(message: Mapping[str, Any]) -> str | None:
    for key in _REASONING_KEYS:
        value = message.get(key)
        if isinstance(value, str) and value.strip("\n"):
            return value.strip("\n")
    return None


def rewrite_history(
    family: Family, messages: object, version: VllmVersion, notes: list[str]
) -> list[dict[str, Any]]:
    """New message list with reasoning stripped or kept per ``family.history``; appends to ``notes``.

    Assistant messages are new objects; the others are the input's own (a caller that edits one replaces
    it in the list): copying every message was ~5 of the ~24 us this took on an 85 KB agent trajectory."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("'messages' must be a non-empty array of message objects")
    assistant = False
    for index, message in enumerate(messages):
        if not (type(message) is dict or isinstance(message, Mapping)) or not isinstance(
            role := message.get("role"), str
        ):
            raise InvalidRequestError(f"messages[{index}] must be an object with a string 'role'")
        assistant = assistant or role == "assistant"
    if not assistant:  # nothing to rewrite (a chat's first turn, a task's first step): no boundary to find
        return [message if type(message) is dict else dict(message) for message in messages]
    if family.history is HistoryPolicy.KEEP_IN_TURN:
        boundary = last_final_index(messages)
    else:
        boundary = last_query_index(messages)
    keeps = family.history is not HistoryPolicy.ANSWER_ONLY
    out: list[dict[str, Any]] = []
    stripped = kept = 0
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            out.append(message if type(message) is dict else dict(message))
            continue
        new = dict(message)
        reasoning = _input_reasoning(new)
        content = new.get("content")
        if isinstance(content, str) and THINK_END in content:
            inline, content = _split_inline(content)
            new["content"] = content
            reasoning = reasoning or inline or None
        for key in _REASONING_KEYS:
            new.pop(key, None)
        keep = keeps and index > boundary
        if reasoning and keep and _attach(family, new, reasoning, version):
            kept += 1
        elif reasoning:
            stripped += 1
        out.append(new)
    if stripped:
        why = (
            f"{family.name} renders answer-only history"
            if family.history is HistoryPolicy.ANSWER_ONLY
            else "before the last final answer, or not passable to this vLLM release"
            if family.history is HistoryPolicy.KEEP_IN_TURN
            else "before the last user query, or not passable to this vLLM release"
        )
        notes.append(f"history: dropped reasoning of {stripped} assistant turn(s) ({why})")
    if kept:
        notes.append(f"history: kept reasoning of {kept} tool-loop assistant turn(s)")
    return out


def _attach(family: Family, message: dict[str, Any], reasoning: str, version: VllmVersion) -> bool:
    """Put kept reasoning where this vLLM release passes it to the template; False if nowhere."""
    if reads_history_reasoning(version):
        message["reasoning"] = reasoning
        message["reasoning_content"] = reasoning
        return True
    content = message.get("content")
    if family.inline_history_think and (content is None or isinstance(content, str)):
        # vLLM <= 0.11.0 drops reasoning keys; the template splits an inline block out of content instead.
        message["content"] = f"{THINK_START}\n{reasoning}\n{THINK_END}\n\n{content or ''}"
        return True
    return False
