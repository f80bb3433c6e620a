"""The split topology on real vLLM: a Qwen3-Thinking-2507-style server (template opens ``<think>``, parser
``deepseek_r1``) for thinking efforts, and the ``qwen3-instruct-2507`` family for effort none.

The instruct side runs on the hybrid server with thinking pinned off by the family (what the
``qwen3-instruct-2507`` family sends); a real Instruct-2507 model would simply ignore that kwarg.
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
USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def gateway(vllm_server: Any, vllm_thinking_server: Any) -> Iterator[str]:
    think, hybrid = vllm_thinking_server, vllm_server
    policy = make_policy(
        {
            "thinking": {"family": "qwen3-thinking-2507", "mode": "thinking", "model": think.model, "endpoints": [think.url]},
            "thinking-forced": {
                "family": "qwen3-thinking-2507", "mode": "thinking", "model": think.model, "endpoints": [think.url],
                "budget": "forcing",
            },
            "instruct": {"family": "qwen3-instruct-2507", "mode": "instruct", "model": hybrid.model, "endpoints": [hybrid.url]},
        },
        {
            "auto": {"thinking": ["thinking"], "instruct": ["instruct"]},
            "forced": {"thinking": ["thinking-forced"], "instruct": ["instruct"]},
        },
        budgets={"minimal": 4, "low": 16, "medium": 64, "high": 4096},
    )  # fmt: skip
    with run_gateway(policy) as url:
        yield url


def call(gw: str, body: dict[str, Any], streamed: bool) -> tuple[httpx.Headers, dict[str, Any]]:
    body = {"temperature": 0, **body}
    if not streamed:
        resp = httpx.post(gw + "/v1/chat/completions", json=body, timeout=120)
        assert resp.status_code == 200, resp.text
        data = resp.json()
        msg = data["choices"][0]["message"]
        assert msg["reasoning"] == msg["reasoning_content"]
        return resp.headers, {
            "reasoning": msg["reasoning"],
            "content": msg["content"],
            "usage": data["usage"],
        }
    payload = {**body, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", gw + "/v1/chat/completions", json=payload, timeout=120) as resp:
        assert resp.status_code == 200
        raw = b"".join(resp.iter_bytes())
        headers = resp.headers
    reasoning = content = usage = None
    for block in raw.split(b"\n\n"):
        if block.startswith(b"data: {"):
            ev = orjson.loads(block[6:])
            assert "error" not in ev, ev
            usage = ev.get("usage") or usage
            for ch in ev["choices"]:
                d = ch["delta"]
                if d.get("reasoning"):
                    reasoning = (reasoning or "") + d["reasoning"]
                if d.get("content"):
                    content = (content or "") + d["content"]
    return headers, {"reasoning": reasoning, "content": content, "usage": usage}


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_thinking_pool_full_reasoning(gateway: str, streamed: bool) -> None:
    headers, got = call(gateway, {"model": "auto", "messages": USER, "reasoning_effort": "high"}, streamed)
    assert headers["x-thinkgate-backend"] == "thinking"
    assert got["reasoning"].startswith(REASONING_START)  # the template opened <think>: no tag, no newline
    assert got["content"].strip() == ANSWER
    assert got["usage"]["completion_tokens_details"]["reasoning_tokens"] > 60


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_instruct_pool_for_effort_none(gateway: str, streamed: bool) -> None:
    headers, got = call(gateway, {"model": "auto", "messages": USER, "reasoning_effort": "none"}, streamed)
    assert headers["x-thinkgate-backend"] == "instruct"
    assert got["reasoning"] is None and got["content"] == ANSWER


@pytest.mark.parametrize("model", ["auto", "forced"])
@pytest.mark.parametrize(("effort", "budget"), [("minimal", 4), ("low", 16), ("medium", 64)])
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_budgets_on_thinking_2507(
    gateway: str, vllm_thinking_server: Any, model: str, effort: str, budget: int, streamed: bool
) -> None:
    headers, got = call(gateway, {"model": model, "messages": USER, "reasoning_effort": effort}, streamed)
    forcing = model == "forced"
    assert headers.get("x-thinkgate-budget-mode") == ("forcing" if forcing else None)
    if not streamed:
        assert headers["x-thinkgate-budget-hit"] == "true"
    allowed = budget + (24 if forcing else 0)
    assert 0 < got["usage"]["completion_tokens_details"]["reasoning_tokens"] <= allowed
    count = httpx.post(
        vllm_thinking_server.url + "/tokenize",
        json={"model": vllm_thinking_server.model, "prompt": got["reasoning"], "add_special_tokens": False},
        timeout=30,
    ).json()["count"]
    assert count <= allowed
    assert got["reasoning"].startswith("Let me")
    assert got["content"].strip() == ANSWER
    usage = usage_view(got["usage"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
