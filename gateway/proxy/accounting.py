"""Fill ``usage.completion_tokens_details.reasoning_tokens`` where the backend leaves it out (vLLM < 0.28) or
gets it wrong: vLLM 0.32 reports 0 when the chat template itself opened ``<think>`` (Qwen3-Thinking-2507,
DeepSeek-R1), although the parser returned the reasoning."""

from __future__ import annotations

from typing import Any

from gateway.tokens import ReasoningCounter


def lacks_reasoning_count(usage: Any, has_reasoning: bool = False) -> bool:
    """True when usage has no reasoning count, or says 0 although there is reasoning text."""
    if not isinstance(usage, dict):
        return False
    details = usage.get("completion_tokens_details")
    reported = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if not isinstance(reported, int):
        return True
    return reported == 0 and has_reasoning


def set_reasoning_count(usage: dict[str, Any], count: int) -> None:
    details = usage.get("completion_tokens_details")
    details = dict(details) if isinstance(details, dict) else {}
    details["reasoning_tokens"] = count
    usage["completion_tokens_details"] = details


async def count_texts(texts: list[str], counter: ReasoningCounter) -> int:
    return sum([await counter.count(t) for t in texts if t])


async def fill_completion(body: dict[str, Any], counter: ReasoningCounter) -> bool:
    """Count the reasoning of a non-streamed completion if the backend did not; True if it filled it in."""
    usage = body.get("usage")
    texts = []
    for choice in body.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            text = message.get("reasoning") or message.get("reasoning_content")
            if isinstance(text, str) and text:
                texts.append(text)
    if not lacks_reasoning_count(usage, bool(texts)):
        return False
    assert isinstance(usage, dict)
    set_reasoning_count(usage, await count_texts(texts, counter) if texts else 0)  # no coroutine for none
    return True
