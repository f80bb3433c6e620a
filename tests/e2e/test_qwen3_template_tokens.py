"""Our Qwen3 Jinja template renders prompts that tokenise to exactly the ids real vLLM produces for the same
messages with the model's official template (vLLM's chat-form ``/tokenize``)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import httpx
import pytest

from scripts.vllm.tiny_tools import TOOLS
from templates.prompt import render_prompt

CASES: list[tuple[str, list[dict[str, Any]], bool | None, bool]] = [
    ("single-user", [{"role": "user", "content": "hello there"}], None, False),
    (
        "system",
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}],
        None,
        False,
    ),
    (
        "multi-turn-prior-reasoning",
        [
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Two plus two is four."},
            {"role": "user", "content": "And 3+3?"},
        ],
        None,
        False,
    ),
    (
        "tool-loop",
        [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                # both keys, as the gateway sends history reasoning: vLLM 0.32's /tokenize ignores
                # `reasoning_content` alone (its chat endpoint reads it), and the template reads `reasoning_content`
                "reasoning": "I should call the tool.",
                "reasoning_content": "I should call the tool.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
        ],
        None,
        True,
    ),
    ("unicode", [{"role": "user", "content": "Übersetze: 你好, мир! 👋"}], None, False),
]


def template_source() -> str:
    return (resources.files("templates") / "jinja" / "qwen3.jinja").read_text(encoding="utf-8")


def vllm_ids(server: Any, messages: list[dict[str, Any]], thinking: bool | None, tools: bool) -> list[int]:
    body: dict[str, Any] = {"model": server.model, "messages": messages, "add_generation_prompt": True}
    if thinking is not None:
        body["chat_template_kwargs"] = {"enable_thinking": thinking}
    if tools:
        body["tools"] = TOOLS
    resp = httpx.post(server.url + "/tokenize", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    ids: list[int] = resp.json()["tokens"]
    return ids


def text_ids(server: Any, text: str) -> list[int]:
    resp = httpx.post(
        server.url + "/tokenize",
        json={"model": server.model, "prompt": text, "add_special_tokens": False},
        timeout=30,
    )
    ids: list[int] = resp.json()["tokens"]
    return ids


@pytest.mark.parametrize("thinking", [None, True, False], ids=["default", "on", "off"])
@pytest.mark.parametrize(("name", "messages", "_unused", "tools"), CASES, ids=[c[0] for c in CASES])
def test_same_token_ids_as_vllm(
    vllm_server: Any,
    name: str,
    messages: list[dict[str, Any]],
    _unused: object,
    tools: bool,
    thinking: bool | None,
) -> None:
    text = render_prompt(
        template_source(), messages, enable_thinking=thinking, tools=TOOLS if tools else None
    )
    assert text_ids(vllm_server, text) == vllm_ids(vllm_server, messages, thinking, tools), name
