"""Fill ``usage.completion_tokens_details.reasoning_tokens`` where the backend leaves it out (vLLM < 0.28)."""

from __future__ import annotations

from typing import Any

from gateway.tokens import ReasoningCounter


def lacks_reasoning_count(usage: Any) -> bool:
    if not isinstance(usage, dict):
        return False
    details = usage.get("completion_tokens_details")
    return not (isinstance(details, dict) and isinstance(details.get("reasoning_tokens"), int))


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
    if not lacks_reasoning_count(usage):
        return False
    assert isinstance(usage, dict)
    texts = []
    for choice in body.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            text = message.get("reasoning") or message.get("reasoning_content")
            if isinstance(text, str):
                texts.append(text)
    set_reasoning_count(usage, await count_texts(texts, counter))
    return True
