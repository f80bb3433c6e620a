"""The simulator's tool calls over real sockets: a trigger makes the model call a tool in Qwen3's format, and
vLLM's hermes parser shape comes back, streamed and not; several calls in one turn; a multi-step loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.proxy.toolcalls import ToolCallAssembler, normalize_tool_deltas
from simulator.config import SimConfig
from simulator.server import run_sim
from simulator.tokenizer import SimTokenizer
from tests.integration.test_sim_api import stream_events

TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("get_weather", "search")
]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    cfg = SimConfig(model="sim-qwen3", max_model_len=2048, reasoning_words=20, answer_words=10)
    with run_sim(cfg, tokenizer=SimTokenizer.load()) as sim, httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "sim-qwen3", "messages": [{"role": "user", "content": text}], "tools": TOOLS, **extra}


def reassemble(events: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]], str | None]:
    content: str | None = None
    calls = ToolCallAssembler()
    finish = None
    for ev in events:
        for choice in ev["choices"]:
            delta = choice["delta"]
            if delta.get("content"):
                content = (content or "") + delta["content"]
            normalize_tool_deltas(delta)
            calls.feed(delta)
            finish = choice["finish_reason"] or finish
    return content, calls.calls(), finish


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'call:get_weather {"city": "Paris"}', [("get_weather", {"city": "Paris"})], id="one-call"
        ),
        pytest.param(
            'call:search {"q": "tokyo population", "k": 3} then call:get_weather {"city": "Tōkyō"}',
            [("search", {"q": "tokyo population", "k": 3}), ("get_weather", {"city": "Tōkyō"})],
            id="two-calls-one-turn",
        ),
        pytest.param("call:search", [("search", {})], id="no-arguments"),
    ],
)
@pytest.mark.parametrize("thinking", [True, False], ids=["thinking", "no-thinking"])
def test_trigger_makes_tool_calls_streamed_and_not(
    client: httpx.Client, text: str, expected: list[tuple[str, Any]], thinking: bool
) -> None:
    body = ask(text, chat_template_kwargs={"enable_thinking": thinking})
    plain = client.post("/v1/chat/completions", json=body).json()
    choice = plain["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    # as vLLM 0.32: the "\n\n" the model writes after </think> is no content (non-streamed) ...
    assert choice["message"]["content"] is None
    assert bool(choice["message"]["reasoning"]) is thinking
    calls = choice["message"]["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == expected
    assert all(c["id"].startswith("chatcmpl-tool-") and c["type"] == "function" for c in calls)
    events = stream_events(client, "/v1/chat/completions", {**body, "stream": True})
    content, streamed, finish = reassemble(events)
    # ... but is streamed as a content delta
    assert (content, streamed, finish) == ("\n\n" if thinking else None, calls, "tool_calls")
    firsts = [
        tc for ev in events for ch in ev["choices"] for tc in ch["delta"].get("tool_calls", ()) if "id" in tc
    ]
    assert [tc["index"] for tc in firsts] == list(range(len(expected)))


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"tool_choice": "none"}, id="tool-choice-none"),
        pytest.param({"tools": None}, id="no-tools"),
        pytest.param({"messages": [{"role": "user", "content": "call:unknown_tool"}]}, id="unknown-tool"),
    ],
)
def test_no_call_without_an_offered_tool_and_trigger(client: httpx.Client, extra: dict[str, Any]) -> None:
    body = {**ask("call:search"), **extra}
    choice = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    assert choice["message"]["tool_calls"] == [] and choice["message"]["content"]
    assert choice["finish_reason"] == "stop"


def test_multi_step_tool_loop(client: httpx.Client) -> None:
    """Step 1 calls search; its result asks for get_weather; step 3 answers in text."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": 'call:search {"q": "capital of France"}'}]
    results = ['Paris. call:get_weather {"city": "Paris"}', "18°C, light rain"]
    for step in range(3):
        msg = client.post("/v1/chat/completions", json={"messages": messages, "tools": TOOLS}).json()
        message = msg["choices"][0]["message"]
        if step == 2:
            assert message["tool_calls"] == [] and message["content"]
            break
        (call,) = message["tool_calls"]
        assert call["function"]["name"] == ("search", "get_weather")[step]
        messages.append({"role": "assistant", "content": None, "tool_calls": message["tool_calls"]})
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": results[step]})
