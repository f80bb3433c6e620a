"""Tool calls, the same cases against the simulator and real vLLM (``--enable-auto-tool-choice
--tool-call-parser hermes``; the tiny model learned the triggers of ``scripts/vllm/tiny_tools.py``): the shape of
``tool_calls`` and of the streamed deltas, and streamed == non-streamed, with thinking on and off."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.proxy.toolcalls import ToolCallAssembler, normalize_tool_deltas
from scripts.vllm.tiny_tools import SEARCH, TOOLS, WEATHER
from tests.contract.conftest import Backend
from tests.contract.test_backend_contract import post, sse

TRIGGERS = f"{SEARCH} {WEATHER}"


def body(backend: Backend, thinking: bool) -> dict[str, Any]:
    return {
        "model": backend.model,
        "messages": [{"role": "user", "content": TRIGGERS}],
        "tools": TOOLS,
        "max_tokens": 300,
        "chat_template_kwargs": {"enable_thinking": thinking},
        "temperature": 0,
        **backend.sampling,
    }


@pytest.mark.parametrize("thinking", [True, False], ids=["thinking", "no-thinking"])
def test_two_calls_in_one_turn(backend: Backend, thinking: bool) -> None:
    req = body(backend, thinking)
    plain = post(backend.url, "/v1/chat/completions", req).json()
    choice = plain["choices"][0]
    msg = choice["message"]
    assert choice["finish_reason"] == "tool_calls"
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in msg["tool_calls"]] == [
        ("search", {"q": "capital of France"}),
        ("get_weather", {"city": "Paris"}),
    ]
    assert all(c["id"].startswith("chatcmpl-tool-") and c["type"] == "function" for c in msg["tool_calls"])
    assert msg["content"] is None  # the "\n\n" after </think> is not content (non-streamed)
    assert bool(msg["reasoning"]) is thinking

    events = sse(backend.url, "/v1/chat/completions", {**req, "stream": True})
    assert events[-1] == "[DONE]"
    calls, content, finish = ToolCallAssembler(), "", None
    firsts = []
    for ev in events[:-1]:
        for ch in ev["choices"]:
            delta = ch["delta"]
            for entry in delta.get("tool_calls") or ():
                if entry.get("id"):
                    firsts.append((entry["index"], entry["type"], entry["function"]["name"]))
            content += delta.get("content") or ""
            normalize_tool_deltas(delta)
            calls.feed(delta)
            finish = ch.get("finish_reason") or finish
    assert firsts == [(0, "function", "search"), (1, "function", "get_weather")]
    streamed = calls.calls()
    assert [c["function"] for c in streamed] == [c["function"] for c in msg["tool_calls"]]
    # streamed, vLLM 0.32 does send that "\n\n" as a content delta before the first call
    assert (content, finish) == ("\n\n" if thinking else "", "tool_calls")
