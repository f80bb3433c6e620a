"""The Messages front door on the simulator AND on real vLLM, same cases: the translated request is accepted,
the answer splits into a thinking and a text block, the stream reassembles into the same message, and
``count_tokens`` counts exactly the prompt the backend then reports."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.contract.conftest import Backend

USER: list[Any] = [{"role": "user", "content": "hello there"}]


def test_messages_thinking_stream_and_count(gateway: str, backend: Backend) -> None:
    client = anthropic.Anthropic(base_url=gateway, api_key="unused", max_retries=0, timeout=120)
    kwargs: dict[str, Any] = {
        "model": "auto",
        "max_tokens": 300,
        "messages": USER,
        "thinking": {"type": "enabled", "budget_tokens": 16},
        "extra_body": backend.sampling,
    }
    made = client.messages.create(**kwargs)
    assert [b.type for b in made.content] == ["thinking", "text"]
    assert made.stop_reason == "end_turn" and made.usage.output_tokens > 0
    details = made.usage.output_tokens_details
    assert details is not None and 0 < details.thinking_tokens <= 16
    with client.messages.stream(**kwargs) as stream:
        streamed = stream.get_final_message()
    assert streamed.model_dump(exclude={"id"}) == made.model_dump(exclude={"id"})
    counted = client.messages.count_tokens(model="auto", messages=USER, thinking=kwargs["thinking"])
    assert counted.input_tokens == made.usage.input_tokens
