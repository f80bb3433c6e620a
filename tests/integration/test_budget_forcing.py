"""Budget forcing by the gateway (pools with ``budget: forcing``), against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import make_policy, run_gateway, usage_view

USER = [{"role": "user", "content": "Work out how many weekdays are in March."}]
EARLY_STOP_TOKENS = 24  # Qwen: "the early stopping text is 24 tokens"


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[str, str]]:
    with run_sim(SimConfig(model="sim", mode="hybrid", reasoning_words=120)) as sim:
        policy = make_policy(
            {
                "h": {
                    "family": "qwen3",
                    "mode": "hybrid",
                    "model": "sim",
                    "endpoints": [sim.url],
                    "budget": "forcing",
                }
            },
            {"auto": {"thinking": ["h"], "instruct": ["h"]}},
            budgets={"minimal": 4, "low": 16, "medium": 64, "high": 100000},
        )
        with run_gateway(policy) as gw:
            yield gw, sim.url


def tokens(sim: str, text: str) -> int:
    count: int = httpx.post(
        sim + "/tokenize", json={"model": "sim", "prompt": text, "add_special_tokens": False}, timeout=10
    ).json()["count"]
    return count


def stream(gw: str, body: dict[str, Any]) -> tuple[str | None, str | None, Any, str | None]:
    reasoning = content = usage = finish = None
    with httpx.stream("POST", gw + "/v1/chat/completions", json={**body, "stream": True}, timeout=30) as resp:
        assert resp.status_code == 200
        raw = b"".join(resp.iter_bytes())
    blocks = [b[6:] for b in raw.split(b"\n\n") if b.startswith(b"data: ")]
    assert blocks[-1] == b"[DONE]"
    for block in blocks[:-1]:
        ev = orjson.loads(block)
        assert "error" not in ev, ev
        usage = ev.get("usage") or usage
        for ch in ev["choices"]:
            d = ch["delta"]
            if d.get("reasoning"):
                assert d["reasoning"] == d["reasoning_content"]
                reasoning = (reasoning or "") + d["reasoning"]
            if d.get("content"):
                content = (content or "") + d["content"]
            finish = ch.get("finish_reason") or finish
    return reasoning, content, usage, finish


@pytest.mark.parametrize(("effort", "budget"), [("minimal", 4), ("low", 16), ("medium", 64)])
def test_budget_cuts_and_answer_follows(env: tuple[str, str], effort: str, budget: int) -> None:
    gw, sim = env
    body = {"model": "auto", "messages": USER, "reasoning_effort": effort, "seed": 1}
    resp = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-budget-mode"] == "forcing"
    assert resp.headers["x-thinkgate-budget-hit"] == "true"
    data = resp.json()
    msg = data["choices"][0]["message"]
    usage = data["usage"]
    reasoning_tokens = usage["completion_tokens_details"]["reasoning_tokens"]
    assert reasoning_tokens <= budget + EARLY_STOP_TOKENS
    assert tokens(sim, msg["reasoning"]) <= budget + EARLY_STOP_TOKENS
    assert msg["reasoning"].endswith("give the solution based on the thinking directly now.")
    assert msg["content"] and data["choices"][0]["finish_reason"] == "stop"
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] > reasoning_tokens
    # the same request streamed gives the same answer and the same usage
    s_reasoning, s_content, s_usage, s_finish = stream(
        gw, {**body, "stream_options": {"include_usage": True}}
    )
    assert (s_reasoning, s_content, s_finish) == (msg["reasoning"], msg["content"], "stop")
    assert usage_view(s_usage) == usage_view(usage)


def test_generous_budget_is_not_hit(env: tuple[str, str]) -> None:
    gw, _ = env
    resp = httpx.post(
        gw + "/v1/chat/completions",
        json={"model": "auto", "messages": USER, "reasoning_effort": "high"},
        timeout=30,
    )
    assert resp.headers["x-thinkgate-budget-hit"] == "false"
    msg = resp.json()["choices"][0]["message"]
    assert "Considering the limited time" not in msg["reasoning"] and msg["content"]


def test_max_tokens_bounds_the_whole_answer(env: tuple[str, str]) -> None:
    gw, _ = env
    body = {"model": "auto", "messages": USER, "reasoning_effort": "low", "max_tokens": 50}
    data = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30).json()
    assert data["usage"]["completion_tokens"] <= 50
    assert data["choices"][0]["finish_reason"] == "length"


def test_effort_none_needs_no_forcing(env: tuple[str, str]) -> None:
    gw, _ = env
    resp = httpx.post(
        gw + "/v1/chat/completions",
        json={"model": "auto", "messages": USER, "reasoning_effort": "none"},
        timeout=30,
    )
    assert "x-thinkgate-budget-mode" not in resp.headers
    msg = resp.json()["choices"][0]["message"]
    assert msg["reasoning"] is None and msg["content"]


def test_n_above_one_is_refused(env: tuple[str, str]) -> None:
    gw, _ = env
    resp = httpx.post(
        gw + "/v1/chat/completions",
        json={"model": "auto", "messages": USER, "reasoning_effort": "low", "n": 2},
        timeout=30,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsupported_with_budget_forcing"


def test_forcing_fails_over_like_the_native_path() -> None:
    """A forcing pool whose endpoint answers 500: the next pool serves; headers, passive health and metrics
    say so as they do for native budgets, and no in-flight slot is left behind."""
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", error_rate=1.0)) as broken,
        run_sim(SimConfig(model="sim", mode="hybrid", reasoning_words=60)) as sim,
    ):
        forcing = {"family": "qwen3", "mode": "hybrid", "model": "sim", "budget": "forcing"}
        policy = make_policy(
            {"a": {**forcing, "endpoints": [broken.url]}, "b": {**forcing, "endpoints": [sim.url]}},
            {"auto": {"thinking": ["a", "b"], "instruct": ["b"]}},
            budgets={"minimal": 4, "low": 16, "medium": 64, "high": 100000},
        )
        with run_gateway(policy) as gw:
            body = {"model": "auto", "messages": USER, "reasoning_effort": "low"}
            first = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
            assert first.status_code == 200, first.text
            h = first.headers
            assert (h["x-thinkgate-backend"], h["x-thinkgate-endpoint"]) == ("b", sim.url)
            assert (h["x-thinkgate-failover"], h["x-thinkgate-attempts"]) == ("a->b", "2")
            assert h["x-thinkgate-budget-mode"] == "forcing" and h["x-thinkgate-budget-hit"] == "true"
            with httpx.stream("POST", gw + "/v1/chat/completions", json={**body, "stream": True}) as resp:
                assert resp.status_code == 200
                assert resp.headers["x-thinkgate-failover"] == "a->b"
                assert b"[DONE]" in b"".join(resp.iter_bytes())
            metrics = httpx.get(gw + "/metrics", timeout=5).text
            assert 'thinkgate_failovers_total{from_pool="a",to_pool="b"} 2.0' in metrics
            assert 'thinkgate_upstream_errors_total{kind="status_5xx",pool="a"} 2.0' in metrics
            assert 'thinkgate_upstream_retries_total{pool="b"} 2.0' in metrics
            for url, pool in ((broken.url, "a"), (sim.url, "b")):
                assert f'thinkgate_inflight_requests{{endpoint="{url}",pool="{pool}"}} 0.0' in metrics


TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("search", "grep")
]
TOOL_TASK = [
    {"role": "user", "content": 'Find it. call:search {"q": "weekdays in March"} call:grep {"p": "x"}'}
]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_forced_answer_returns_tool_calls(env: tuple[str, str], streamed: bool) -> None:
    """No vLLM tool parser runs on a forced run (raw /v1/completions): the gateway parses the family's
    tool-call syntax itself and answers as vLLM would (tool_calls, finish_reason tool_calls)."""
    from gateway.proxy.toolcalls import ToolCallAssembler

    gw, _ = env
    body = {"model": "auto", "messages": TOOL_TASK, "tools": TOOLS, "reasoning_effort": "low"}
    if not streamed:
        resp = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
        assert resp.headers["x-thinkgate-budget-mode"] == "forcing"
        choice = resp.json()["choices"][0]
        calls, finish = choice["message"]["tool_calls"], choice["finish_reason"]
        assert choice["message"]["reasoning"]
    else:
        with httpx.stream(
            "POST", gw + "/v1/chat/completions", json={**body, "stream": True}, timeout=30
        ) as r:
            assert r.headers["x-thinkgate-budget-mode"] == "forcing"
            raw = b"".join(r.iter_bytes())
        acc, finish = ToolCallAssembler(), None
        for block in [b[6:] for b in raw.split(b"\n\n") if b.startswith(b"data: ")][:-1]:
            for ch in orjson.loads(block)["choices"]:
                acc.feed(ch["delta"])
                finish = ch.get("finish_reason") or finish
        calls = acc.calls()
    assert [(c["function"]["name"], orjson.loads(c["function"]["arguments"])) for c in calls] == [
        ("search", {"q": "weekdays in March"}),
        ("grep", {"p": "x"}),
    ]
    assert finish == "tool_calls" and all(c["id"].startswith("chatcmpl-tool-") for c in calls)


def _tool_calls(resp: httpx.Response, streamed: bool) -> tuple[list[dict[str, Any]], str | None]:
    from gateway.proxy.toolcalls import ToolCallAssembler

    if not streamed:
        choice = resp.json()["choices"][0]
        return choice["message"]["tool_calls"], choice["finish_reason"]
    acc, finish = ToolCallAssembler(), None
    for block in [b[6:] for b in resp.content.split(b"\n\n") if b.startswith(b"data: ")][:-1]:
        for ch in orjson.loads(block)["choices"]:
            acc.feed(ch["delta"])
            finish = ch.get("finish_reason") or finish
    return acc.calls(), finish


@pytest.mark.parametrize("budget", ["native", "forcing"])
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_tool_calls_survive_a_failover(budget: str, streamed: bool) -> None:
    """A tool step whose first pool answers 500 is served by the next pool, tool calls intact, on the
    native-budget path and on the gateway's forcing path, streamed and not."""
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", error_rate=1.0)) as broken,
        run_sim(SimConfig(model="sim", mode="hybrid", reasoning_words=60)) as sim,
    ):
        pool = {"family": "qwen3", "mode": "hybrid", "model": "sim", "budget": budget}
        policy = make_policy(
            {"a": {**pool, "endpoints": [broken.url]}, "b": {**pool, "endpoints": [sim.url]}},
            {"auto": {"thinking": ["a", "b"], "instruct": ["b"]}},
            budgets={"minimal": 4, "low": 16, "medium": 64, "high": 100000},
        )
        body = {
            "model": "auto",
            "messages": TOOL_TASK,
            "tools": TOOLS,
            "reasoning_effort": "low",
            "stream": streamed,
        }
        with run_gateway(policy) as gw:
            resp = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
            assert resp.status_code == 200, resp.text
            assert resp.headers["x-thinkgate-failover"] == "a->b"
            assert resp.headers["x-thinkgate-backend"] == "b"
            calls, finish = _tool_calls(resp, streamed)
    assert [(c["function"]["name"], orjson.loads(c["function"]["arguments"])) for c in calls] == [
        ("search", {"q": "weekdays in March"}),
        ("grep", {"p": "x"}),
    ]
    assert finish == "tool_calls"
