"""The official ``anthropic`` SDK, unchanged, against ``/v1/messages`` (simulated vLLM backends, real sockets):
``messages.create``, ``messages.stream``, a ``tool_use`` → ``tool_result`` round trip with thinking enabled,
``count_tokens``, ``models.list``, aliases, signatures and the Anthropic error envelope."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from gateway.config import parse_policy_text
from gateway.demo_policy import demo_policy_yaml
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import free_port, run_gateway
from tests.integration.conftest import Stack

USER: list[Any] = [{"role": "user", "content": "Write a haiku about routers."}]
KEY = "sk-ant-test-0123456789"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def client(url: str, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("api_key", "unused")
    return anthropic.Anthropic(base_url=url, max_retries=0, **kwargs)


@pytest.fixture(scope="module")
def strict() -> Iterator[str]:
    """A gateway with API keys on and ``on_invalid_thinking: reject``: a request that sends a thinking block
    back only succeeds if the block's signature verified."""
    with run_sim(SimConfig(model="sim-h", mode="hybrid")) as sim:
        text = demo_policy_yaml(sim.url, sim.url, sim.url)
        for name in ("sim-qwen3-thinking-2507", "sim-qwen3-instruct-2507", "sim-qwen3-hybrid"):
            text = text.replace(name, "sim-h")
        text = text.replace(
            "family: qwen3-thinking-2507\n    mode: thinking", "family: qwen3\n    mode: hybrid"
        )
        text = text.replace(
            "family: qwen3-instruct-2507\n    mode: instruct", "family: qwen3\n    mode: hybrid"
        )
        text += f"""
messages: {{on_invalid_thinking: reject}}
auth:
  enabled: true
  keys: [{{name: k, tenant: t, sha256: {hashlib.sha256(KEY.encode()).hexdigest()}}}]
  tenants: {{t: {{}}}}
"""
        with run_gateway(parse_policy_text(text)) as url:
            yield url


def test_create_through_an_alias(stack: Stack) -> None:
    raw = client(stack.gateway).messages.with_raw_response.create(
        model="claude-sonnet-4-5-20250929", max_tokens=300, messages=USER, thinking={"type": "disabled"}
    )
    assert raw.headers["x-thinkgate-effort"] == "none" and raw.headers["x-thinkgate-source"] == "explicit"
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.model == "claude-sonnet-4-5-20250929"
    assert [b.type for b in message.content] == ["text"] and message.content[0].text  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.id == "msg_" + raw.headers["x-request-id"]


def test_create_with_thinking_budget(stack: Stack) -> None:
    raw = client(stack.gateway).messages.with_raw_response.create(
        model="auto", max_tokens=2000, messages=USER, thinking={"type": "enabled", "budget_tokens": 1500}
    )
    assert raw.headers["x-thinkgate-budget"] == "1500" and raw.headers["x-thinkgate-effort"] == "medium"
    message = raw.parse()
    assert [b.type for b in message.content] == ["thinking", "text"]
    thinking = message.content[0]
    assert thinking.type == "thinking" and thinking.thinking and thinking.signature.startswith("tg1.")
    details = message.usage.output_tokens_details
    assert details is not None and 0 < details.thinking_tokens <= message.usage.output_tokens


def test_stream(stack: Stack) -> None:
    with client(stack.gateway).messages.stream(
        model="auto",
        max_tokens=2000,
        messages=USER,
        thinking={"type": "adaptive"},
        stop_sequences=["zzz-never"],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"thinking", "text", "signature"} <= set(kinds)  # the SDK's own derived events
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_stream_raw_event_sequence(stack: Stack) -> None:
    body = {"model": "auto-fast", "max_tokens": 200, "messages": USER, "stream": True}
    with httpx.stream("POST", stack.gateway + "/v1/messages", json=body, timeout=30) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        names = [line[7:] for line in resp.iter_lines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_tool_round_trip_with_thinking(strict: str, stream: bool) -> None:
    c = client(strict, api_key=KEY)
    first_turn = [
        {"role": "user", "content": 'What is the weather in Paris? call:get_weather {"city": "Paris"}'}
    ]
    kwargs: dict[str, Any] = {
        "model": "auto",
        "max_tokens": 2000,
        "tools": [WEATHER],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    if stream:
        with c.messages.stream(messages=first_turn, **kwargs) as s:  # type: ignore[arg-type]
            first = s.get_final_message()
    else:
        first = c.messages.create(messages=first_turn, **kwargs)  # type: ignore[arg-type]
    assert first.stop_reason == "tool_use"
    assert first.content[0].type == "thinking"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    history: list[Any] = [
        *first_turn,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C, sunny"}],
        },
    ]
    second = c.messages.with_raw_response.create(
        messages=history, extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"}, **kwargs
    )
    assert (
        second.status_code == 200
    )  # the thinking block went back and verified (the gateway rejects otherwise)
    answer = second.parse()
    assert answer.stop_reason == "end_turn" and any(b.type == "text" for b in answer.content)
    # the same history with the thinking text changed: refused with the Anthropic envelope
    forged = [dict(b) for b in first.model_dump()["content"]]
    forged[0]["thinking"] = forged[0]["thinking"] + " (edited)"
    history[1] = {"role": "assistant", "content": forged}
    with pytest.raises(anthropic.BadRequestError) as err:
        c.messages.create(messages=history, **kwargs)
    assert err.value.status_code == 400
    assert err.value.body["type"] == "error"  # type: ignore[index]
    assert err.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "signature" in err.value.body["error"]["message"]  # type: ignore[index]


def test_thinking_blocks_sent_back_are_verified(strict: str) -> None:
    """Under ``on_invalid_thinking: reject`` a history with the gateway's own thinking block passes, the same
    block with its text edited is refused (400, Anthropic envelope), and a ``redacted_thinking`` block too."""
    c = client(strict, api_key=KEY)
    kwargs: dict[str, Any] = {
        "model": "auto",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    first = c.messages.create(messages=USER, **kwargs)
    assert first.content[0].type == "thinking"
    history: list[Any] = [
        *USER,
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "And now?"},
    ]
    assert c.messages.create(messages=history, **kwargs).content
    forged = first.model_dump()["content"]
    forged[0]["thinking"] += " (edited)"
    for block in (forged[0], {"type": "redacted_thinking", "data": "EmwKAhgBEgy"}):
        history[1] = {"role": "assistant", "content": [block, *forged[1:]]}
        with pytest.raises(anthropic.BadRequestError) as err:
            c.messages.create(messages=history, **kwargs)
        body: Any = err.value.body
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        assert "signature" in body["error"]["message"]


def test_count_tokens(stack: Stack) -> None:
    c = client(stack.gateway)
    short = c.messages.count_tokens(model="auto", messages=USER)
    longer = c.messages.count_tokens(
        model="auto",
        system="You are terse.",
        messages=USER,
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert 0 < short.input_tokens < longer.input_tokens
    made = c.messages.create(model="auto-fast", max_tokens=50, messages=USER)
    assert c.messages.count_tokens(model="auto-fast", messages=USER).input_tokens == made.usage.input_tokens


def test_models_list_in_anthropic_shape(stack: Stack) -> None:
    ids = [m.id for m in client(stack.gateway).models.list()]
    assert "auto" in ids and "sim-qwen3-hybrid" in ids and "claude-*" not in ids
    openai_shape = httpx.get(stack.gateway + "/v1/models", timeout=10).json()
    assert openai_shape["object"] == "list"


def test_x_api_key_and_bearer(strict: str) -> None:
    body = {"model": "auto-fast", "max_tokens": 50, "messages": USER}
    ok = httpx.post(
        strict + "/v1/messages", json=body, headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    )
    assert ok.status_code == 200 and ok.json()["type"] == "message"
    bearer = httpx.post(strict + "/v1/messages", json=body, headers={"authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200
    with pytest.raises(anthropic.AuthenticationError) as err:
        client(strict, api_key="wrong").messages.create(model="auto", max_tokens=50, messages=USER)
    assert err.value.body == {  # type: ignore[comparison-overlap]
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid API key"},
        "request_id": err.value.response.headers["x-request-id"],
    }


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        pytest.param(b"{not json", 400, "invalid_request_error", id="bad-json"),
        pytest.param({"model": "auto", "messages": USER}, 400, "invalid_request_error", id="no-max_tokens"),
        pytest.param(
            {"model": "nope", "max_tokens": 5, "messages": USER}, 404, "not_found_error", id="unknown-model"
        ),
        pytest.param(
            {
                "model": "auto",
                "max_tokens": 5,
                "messages": USER,
                "thinking": {"type": "disabled"},
                "output_config": {"effort": "high"},
            },
            400,
            "invalid_request_error",
            id="conflicting-signals",
        ),
        pytest.param(
            {
                "model": "auto",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "document"}]}],
            },
            400,
            "invalid_request_error",
            id="document",
        ),
        pytest.param([1, 2], 400, "invalid_request_error", id="not-an-object"),
    ],
)
def test_errors_use_the_anthropic_envelope(stack: Stack, body: Any, status: int, kind: str) -> None:
    content = body if isinstance(body, bytes) else None
    resp = httpx.post(
        stack.gateway + "/v1/messages", content=content, json=None if content else body, timeout=10
    )
    assert resp.status_code == status
    data = resp.json()
    assert data["type"] == "error" and data["error"]["type"] == kind and data["error"]["message"]


def test_no_healthy_backend_is_529_overloaded() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    text = demo_policy_yaml(dead, dead, dead)
    with run_gateway(parse_policy_text(text)) as url, pytest.raises(anthropic.APIStatusError) as err:
        client(url).messages.create(model="auto-fast", max_tokens=5, messages=USER)
    assert err.value.status_code == 529  # the startup probe found every endpoint dead: no capacity
    assert err.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/v1/messages", 400, id="405-method"),
        pytest.param("POST", "/v1/messages/nope", 404, id="404-path"),
        pytest.param("GET", "/v1/messages/count_tokens", 400, id="405-count"),
    ],
)
def test_framework_errors_on_messages_paths_use_the_anthropic_envelope(
    stack: Stack, method: str, path: str, status: int
) -> None:
    resp = httpx.request(method, stack.gateway + path, json={}, timeout=10)
    assert resp.status_code == status
    assert resp.json()["type"] == "error" and resp.json()["error"]["message"]
    assert "x-request-id" in resp.headers


def test_front_door_label_and_header(stack: Stack) -> None:
    raw = client(stack.gateway).messages.with_raw_response.create(
        model="auto-fast", max_tokens=20, messages=USER
    )
    assert raw.headers["x-thinkgate-front-door"] == "messages"
    chat = httpx.post(
        stack.gateway + "/v1/chat/completions", json={"model": "auto-fast", "messages": USER}, timeout=10
    )
    assert chat.headers["x-thinkgate-front-door"] == "chat"
    scrape = httpx.get(stack.gateway + "/metrics", timeout=10).text
    assert 'thinkgate_decisions_total{effort="none",front_door="messages",source="virtual-model"}' in scrape
    assert 'thinkgate_requests_total{effort="none",endpoint="messages",model="auto-fast"' in scrape


def test_mid_stream_drop_is_an_error_event() -> None:
    """A backend that dies mid-stream: the last event is Anthropic's ``error`` (no ``message_stop``), which the
    SDK raises."""
    with (
        run_sim(SimConfig(model="sim-h", mode="hybrid", drop_rate=1.0)) as sim,
        run_gateway(
            parse_policy_text(
                "version: 1\nbackends:\n  h: {family: qwen3, mode: hybrid, model: sim-h, endpoints: ["
                + sim.url
                + "]}\nmodels:\n  auto: {thinking: [h], instruct: [h]}\n"
            )
        ) as gw,
    ):
        body = {
            "model": "auto",
            "max_tokens": 500,
            "messages": USER,
            "stream": True,
            "output_config": {"effort": "low"},
        }
        with httpx.stream("POST", gw + "/v1/messages", json=body, timeout=30) as resp:
            assert resp.status_code == 200
            names = [line[7:] for line in resp.iter_lines() if line.startswith("event: ")]
        assert names[0] == "message_start" and names[-1] == "error" and "message_stop" not in names
        with (
            pytest.raises(anthropic.APIStatusError) as err,
            client(gw).messages.stream(
                model="auto", max_tokens=500, messages=USER, output_config={"effort": "low"}
            ) as stream,
        ):
            for _ in stream:
                pass
        assert "dropped" in str(err.value) or "closed" in str(err.value)
