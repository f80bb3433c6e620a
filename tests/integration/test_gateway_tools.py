"""Tool calls through the gateway (chat completions) on the simulator, with the official OpenAI SDK: a
multi-step tool loop, streamed and not, several calls in one turn, at thinking and non-thinking efforts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import OpenAI

from tests.integration.conftest import Stack

TOOLS: Any = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("search", "get_weather")
]


def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.gateway + "/v1", api_key="unused", max_retries=0)


def step(stack: Stack, messages: list[Any], effort: str, stream: bool) -> tuple[Any, str | None]:
    """One model call; returns (tool calls as dicts, content)."""
    c = client(stack)
    if not stream:
        msg = c.chat.completions.create(
            model="auto",
            messages=messages,
            tools=TOOLS,
            reasoning_effort=effort,  # type: ignore[arg-type]
        ).choices[0]
        calls = [tc.model_dump() for tc in msg.message.tool_calls or []]
        assert msg.finish_reason == ("tool_calls" if calls else "stop")
        return calls, msg.message.content
    with c.chat.completions.stream(
        model="auto",
        messages=messages,
        tools=TOOLS,
        reasoning_effort=effort,  # type: ignore[arg-type]
    ) as s:
        final = s.get_final_completion().choices[0]
    calls = [
        {
            "id": tc.id,
            "type": "function",
            "function": {"name": tc.function.name, "arguments": tc.function.arguments},
        }
        for tc in final.message.tool_calls or []
    ]
    return calls, final.message.content


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("effort", ["none", "low"])
def test_tool_loop_through_the_gateway(stack: Stack, stream: bool, effort: str) -> None:
    messages: list[Any] = [
        {
            "role": "user",
            "content": 'call:search {"q": "capital of France"} call:get_weather {"city": "Paris"}',
        }
    ]
    calls, _ = step(stack, messages, effort, stream)
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("search", {"q": "capital of France"}),
        ("get_weather", {"city": "Paris"}),
    ]
    assert len({c["id"] for c in calls}) == 2
    messages.append({"role": "assistant", "content": None, "tool_calls": calls})
    messages += [
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "Paris"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": 'rain. call:search {"q": "umbrella"}'},
    ]
    calls, _ = step(stack, messages, effort, stream)
    assert [c["function"]["name"] for c in calls] == ["search"]
    messages.append({"role": "assistant", "content": None, "tool_calls": calls})
    messages.append({"role": "tool", "tool_call_id": calls[0]["id"], "content": "Umbrellas sell at 10 EUR."})
    calls, content = step(stack, messages, effort, stream)
    assert calls == [] and content
