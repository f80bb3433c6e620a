"""What the gateway relies on from vLLM, checked against the simulator AND real vLLM with the same cases.

Direct cases talk to the backend; ``via gateway`` cases check the same facts after the gateway's relay.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from gateway.backends.scrape import parse_load
from tests.contract.conftest import Backend
from tests.harness import usage_view

MESSAGES = [{"role": "user", "content": "hello there"}]


def post(url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60)


def chat_body(backend: Backend, thinking: bool | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": backend.model,
        "messages": MESSAGES,
        "max_tokens": 400,
        **backend.sampling,
        **extra,
    }
    if thinking is not None:
        body["chat_template_kwargs"] = {"enable_thinking": thinking}
    return body


def sse(url: str, path: str, body: dict[str, Any]) -> list[Any]:
    with httpx.stream("POST", url + path, json={**body, "stream": True}, timeout=60) as resp:
        assert resp.status_code == 200
        raw = b"".join(resp.iter_bytes())
    out: list[Any] = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        if block.startswith(b"data: "):
            out.append("[DONE]" if block == b"data: [DONE]" else orjson.loads(block[6:]))
    return out


def join(events: list[Any]) -> tuple[str | None, str | None, Any, Any]:
    reasoning = content = None
    finish = usage = None
    for ev in events:
        if ev == "[DONE]":
            continue
        usage = ev.get("usage") or usage
        for ch in ev.get("choices") or []:
            d = ch.get("delta") or {}
            if d.get("reasoning"):
                reasoning = (reasoning or "") + d["reasoning"]
            if d.get("content"):
                content = (content or "") + d["content"]
            finish = ch.get("finish_reason") or finish
    return reasoning, content, finish, usage


def test_discovery(backend: Backend) -> None:
    assert httpx.get(backend.url + "/health", timeout=10).status_code == 200
    version = httpx.get(backend.url + "/version", timeout=10).json()["version"]
    assert version.startswith("0.32")
    models = httpx.get(backend.url + "/v1/models", timeout=10).json()
    card = next(m for m in models["data"] if m["id"] == backend.model)
    assert card["object"] == "model" and card["max_model_len"] == 2048


def test_thinking_off(backend: Backend) -> None:
    body = post(backend.url, "/v1/chat/completions", chat_body(backend, False)).json()
    msg = body["choices"][0]["message"]
    assert msg["reasoning"] is None and "reasoning_content" not in msg
    assert msg["content"] and not msg["content"].startswith("\n")
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


@pytest.mark.parametrize("thinking", [True, None], ids=["enable_thinking-true", "default"])
def test_thinking_on(backend: Backend, thinking: bool | None) -> None:
    body = post(backend.url, "/v1/chat/completions", chat_body(backend, thinking)).json()
    msg = body["choices"][0]["message"]
    assert msg["reasoning"] and msg["reasoning"].startswith("\n") and msg["reasoning"].endswith("\n")
    assert msg["content"].startswith("\n\n") and msg["content"].strip()
    usage = body["usage"]
    assert 0 < usage["completion_tokens_details"]["reasoning_tokens"] < usage["completion_tokens"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stream_shape_and_equivalence(backend: Backend) -> None:
    body = chat_body(backend, True, seed=3)
    plain = post(backend.url, "/v1/chat/completions", body).json()
    events = sse(backend.url, "/v1/chat/completions", {**body, "stream_options": {"include_usage": True}})
    assert events[-1] == "[DONE]"
    first = events[0]["choices"][0]
    assert first["delta"] == {"role": "assistant", "content": ""} or first["delta"].get("role") == "assistant"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] > 0
    # reasoning deltas all come before content deltas
    kinds = []
    for ev in events[1:-2]:
        for ch in ev["choices"]:
            d = ch.get("delta") or {}
            if d.get("reasoning"):
                kinds.append("r")
            if d.get("content"):
                kinds.append("c")
    assert kinds == sorted(kinds, key=lambda k: k == "c")
    reasoning, content, finish, usage = join(events)
    msg = plain["choices"][0]["message"]
    assert (reasoning, content, finish) == (
        msg["reasoning"],
        msg["content"],
        plain["choices"][0]["finish_reason"],
    )
    assert usage_view(usage) == usage_view(plain["usage"])


def count_tokens(backend: Backend, text: str) -> int:
    resp = post(
        backend.url, "/tokenize", {"model": backend.model, "prompt": text, "add_special_tokens": False}
    )
    count: int = resp.json()["count"]
    return count


@pytest.mark.parametrize("budget", [4, 16])
def test_native_thinking_budget(backend: Backend, budget: int) -> None:
    body = post(
        backend.url, "/v1/chat/completions", chat_body(backend, True, thinking_token_budget=budget)
    ).json()
    msg = body["choices"][0]["message"]
    assert msg["reasoning"] is not None
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] <= budget + 1
    assert count_tokens(backend, msg["reasoning"]) <= budget + 1
    assert msg["content"] and msg["content"].strip()


def test_tokenize_matches_prompt_usage(backend: Backend) -> None:
    tok = post(
        backend.url,
        "/tokenize",
        {
            "model": backend.model,
            "messages": MESSAGES,
            "add_generation_prompt": True,
            "chat_template_kwargs": {"enable_thinking": False},
        },
    ).json()
    assert tok["tokens"][-6:] == [77091, 198, 151667, 271, 151668, 271]  # assistant\n<think>\n\n</think>\n\n
    body = post(backend.url, "/v1/chat/completions", chat_body(backend, False)).json()
    assert body["usage"]["prompt_tokens"] == tok["count"]


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        pytest.param({"model": "no-such-model"}, 404, id="unknown-model"),
        pytest.param({"max_tokens": 5000}, 400, id="max-tokens-over-context"),
        pytest.param({"stream_options": {"include_usage": True}}, 400, id="stream-options-without-stream"),
    ],
)
def test_errors(backend: Backend, patch: dict[str, Any], status: int) -> None:
    resp = post(backend.url, "/v1/chat/completions", {**chat_body(backend, False), **patch})
    assert resp.status_code == status
    err = resp.json()["error"]
    assert err["message"] and err["code"] == status


def test_completions_raw_text(backend: Backend) -> None:
    prompt = "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n"
    body = post(
        backend.url,
        "/v1/completions",
        {"model": backend.model, "prompt": prompt, "max_tokens": 8, **backend.sampling},
    ).json()
    choice = body["choices"][0]
    assert choice["text"].startswith("<think>") and choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 8


# ---- the same facts through the gateway --------------------------------------------------------------------


@pytest.mark.parametrize("effort", ["none", "low"])
def test_via_gateway(backend: Backend, gateway: str, effort: str) -> None:
    body = {
        "model": "auto",
        "messages": MESSAGES,
        "reasoning_effort": effort,
        "max_tokens": 400,
        **backend.sampling,
    }
    resp = post(gateway, "/v1/chat/completions", body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-thinkgate-effort"] == effort
    data = resp.json()
    msg = data["choices"][0]["message"]
    assert msg["reasoning"] == msg["reasoning_content"]
    assert (msg["reasoning"] is None) == (effort == "none")
    assert msg["content"].strip()
    events = sse(gateway, "/v1/chat/completions", {**body, "stream_options": {"include_usage": True}})
    reasoning, content, _, usage = join(events)
    assert (reasoning, content) == (msg["reasoning"], msg["content"])
    assert usage_view(usage) == usage_view(data["usage"])


def test_models_via_gateway(backend: Backend, gateway: str) -> None:
    ids = [m["id"] for m in httpx.get(gateway + "/v1/models", timeout=10).json()["data"]]
    assert ids == ["auto", backend.model]


def test_load_metrics_the_router_reads(backend: Backend) -> None:
    """``/metrics`` has the families endpoint choice scrapes, and the inter-token latency histogram (decode
    speed) counts the intervals of a generation: ``max_tokens`` tokens give ``max_tokens - 1`` intervals."""
    before = parse_load(httpx.get(backend.url + "/metrics", timeout=10).text)
    assert before.running is not None and before.waiting is not None and before.kv_usage is not None
    assert before.itl_sum is not None and before.itl_count is not None
    body = chat_body(backend, False, max_tokens=12, ignore_eos=True)
    resp = post(backend.url, "/v1/chat/completions", body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["usage"]["completion_tokens"] == 12
    after = parse_load(httpx.get(backend.url + "/metrics", timeout=10).text)
    assert after.itl_count is not None and after.itl_sum is not None
    assert after.itl_count - before.itl_count == 11
    assert after.itl_sum >= before.itl_sum
