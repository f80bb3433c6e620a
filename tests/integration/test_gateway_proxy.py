"""The gateway in front of simulated vLLM servers: decisions, reasoning normalisation, streaming, usage."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import usage_view
from tests.integration.conftest import Stack

USER = [{"role": "user", "content": "Say hello to the team."}]


def chat(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=30)


def stream_events(url: str, body: dict[str, Any]) -> tuple[httpx.Response, list[Any]]:
    events: list[Any] = []
    with httpx.stream(
        "POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=30
    ) as resp:
        buf = b""
        for chunk in resp.iter_bytes():
            buf += chunk
        for block in buf.split(b"\n\n"):
            if block.startswith(b"data: "):
                data = block[6:]
                events.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return resp, events


def reassemble(events: list[Any]) -> dict[str, Any]:
    reasoning: str | None = None
    content: str | None = None
    finish = None
    usage = None
    for ev in events:
        if ev == "[DONE]":
            continue
        if ev.get("usage"):
            usage = ev["usage"]
        for choice in ev.get("choices") or []:
            delta = choice.get("delta") or {}
            assert delta.get("reasoning") == delta.get("reasoning_content")
            if delta.get("reasoning") is not None:
                reasoning = (reasoning or "") + delta["reasoning"]
            if delta.get("content"):
                content = (content or "") + delta["content"]
            finish = choice.get("finish_reason") or finish
    return {"reasoning": reasoning, "content": content, "finish_reason": finish, "usage": usage}


def test_instruct_effort_goes_to_instruct_pool(stack: Stack) -> None:
    resp = chat(stack.gateway, {"model": "auto-fast", "messages": USER})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-effort"] == "none"
    assert resp.headers["x-thinkgate-source"] == "virtual-model"
    assert resp.headers["x-thinkgate-backend"] == "qwen3-instruct"
    assert resp.headers["x-thinkgate-budget"] == "0"
    msg = resp.json()["choices"][0]["message"]
    assert msg["content"] and msg["reasoning"] is None and msg["reasoning_content"] is None
    assert resp.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_thinking_effort_reasoning_under_both_names(stack: Stack) -> None:
    resp = chat(stack.gateway, {"model": "auto-deep", "messages": USER})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-effort"] == "high"
    assert resp.headers["x-thinkgate-backend"] == "qwen3-thinking"
    assert resp.headers["x-thinkgate-budget"] == "16384"
    body = resp.json()
    msg = body["choices"][0]["message"]
    assert msg["reasoning"] and msg["reasoning"] == msg["reasoning_content"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_explicit_effort_on_hybrid_pool(stack: Stack) -> None:
    resp = chat(stack.gateway, {"model": "sim-qwen3-hybrid", "messages": USER, "reasoning_effort": "none"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-backend"] == "qwen3-hybrid"
    assert resp.json()["choices"][0]["message"]["reasoning"] is None
    resp = chat(
        stack.gateway, {"model": "sim-qwen3-hybrid", "messages": USER}, **{"x-thinkgate-effort": "low"}
    )
    assert resp.headers["x-thinkgate-effort"] == "low"
    assert resp.json()["choices"][0]["message"]["reasoning"]


@pytest.mark.parametrize("model", ["auto-fast", "auto-deep", "sim-qwen3-hybrid"])
def test_stream_reassembles_to_the_non_streamed_answer(stack: Stack, model: str) -> None:
    body = {"model": model, "messages": USER, "seed": 7}
    plain = chat(stack.gateway, body).json()
    resp, events = stream_events(stack.gateway, {**body, "stream_options": {"include_usage": True}})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    got = reassemble(events)
    msg = plain["choices"][0]["message"]
    assert got["reasoning"] == msg["reasoning"]
    assert got["content"] == msg["content"]
    assert got["finish_reason"] == plain["choices"][0]["finish_reason"]
    assert usage_view(got["usage"]) == usage_view(plain["usage"])


def test_usage_chunk_only_when_asked(stack: Stack) -> None:
    _, events = stream_events(stack.gateway, {"model": "auto-deep", "messages": USER})
    assert not any(isinstance(e, dict) and e.get("usage") for e in events)
    assert not any(isinstance(e, dict) and "usage" in e for e in events)
    _, events = stream_events(
        stack.gateway, {"model": "auto-deep", "messages": USER, "stream_options": {"include_usage": True}}
    )
    usage_chunks = [e for e in events if isinstance(e, dict) and e.get("usage")]
    assert len(usage_chunks) == 1 and usage_chunks[0]["choices"] == []
    assert events[-2] is usage_chunks[0]


def test_reasoning_exclude(stack: Stack) -> None:
    body = {"model": "auto-deep", "messages": USER, "reasoning": {"exclude": True}}
    msg = chat(stack.gateway, body).json()["choices"][0]["message"]
    assert "reasoning" not in msg and "reasoning_content" not in msg and msg["content"]
    _, events = stream_events(stack.gateway, body)
    got = reassemble(events)
    assert got["reasoning"] is None and got["content"]


def test_models_lists_virtual_and_served(stack: Stack) -> None:
    data = httpx.get(stack.gateway + "/v1/models", timeout=10).json()
    ids = [m["id"] for m in data["data"]]
    assert data["object"] == "list"
    assert ids[:3] == ["auto", "auto-fast", "auto-deep"]
    assert {"sim-qwen3-hybrid", "sim-qwen3-thinking-2507", "sim-qwen3-instruct-2507"} <= set(ids)


def test_completions_pass_through(stack: Stack) -> None:
    resp = httpx.post(
        stack.gateway + "/v1/completions",
        json={
            "model": "sim-qwen3-hybrid",
            "prompt": "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
            "max_tokens": 20,
        },
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["choices"][0]["text"]
    assert body["usage"]["completion_tokens"] <= 20


def test_upstream_4xx_is_normalised(stack: Stack) -> None:
    resp = chat(stack.gateway, {"model": "auto-fast", "messages": USER, "max_tokens": 10**6})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert isinstance(err["code"], str) and err["message"]
    assert err["type"] == "invalid_request_error"


def test_route_preview(stack: Stack) -> None:
    resp = httpx.post(
        stack.gateway + "/v1/route",
        json={"model": "auto", "messages": USER, "reasoning_effort": "medium"},
        timeout=10,
    )
    assert resp.status_code == 200
    out = resp.json()
    assert out["effort"] == "medium" and out["source"] == "explicit" and out["backend"] == "qwen3-thinking"


def test_metrics_exported(stack: Stack) -> None:
    chat(stack.gateway, {"model": "auto-fast", "messages": USER})
    text = httpx.get(stack.gateway + "/metrics", timeout=10).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    key = (
        "thinkgate_requests_total",
        tuple(
            sorted(
                {
                    "endpoint": "chat",
                    "model": "auto-fast",
                    "effort": "none",
                    "source": "virtual-model",
                    "pool": "qwen3-instruct",
                    "outcome": "ok",
                }.items()
            )
        ),
    )
    assert samples[key] >= 1
    assert samples[("thinkgate_tokens_total", (("effort", "none"), ("kind", "completion")))] > 0
    assert any(name == "thinkgate_request_duration_seconds_bucket" for name, _ in samples)


def test_request_id_propagates(stack: Stack) -> None:
    resp = chat(stack.gateway, {"model": "auto-fast", "messages": USER}, **{"x-request-id": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
