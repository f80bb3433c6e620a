"""Smoke tests straight against the real vLLM server: the facts the gateway and the simulator rely on.

The tiny model always thinks the same fixed reasoning and gives the same answer (see
``scripts/vllm/build_model.py``), so with temperature 0 the exact texts can be asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realvllm import VllmServer, installed_model_dir

THINK_END_PROMPT_TAIL = [
    151644,
    77091,
    198,
    151667,
    271,
    151668,
    271,
]  # <|im_start|>assistant\n<think>\n\n</think>\n\n
ASSISTANT_PROMPT_TAIL = [151644, 77091, 198]  # <|im_start|>assistant\n
MESSAGES = [{"role": "user", "content": "What is 2+2?"}]


@pytest.fixture(scope="module")
def client(vllm_server: VllmServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=vllm_server.url, timeout=60.0) as c:
        yield c


@pytest.fixture(scope="module")
def facts(vllm_server: VllmServer) -> dict[str, str]:
    """The reasoning/answer texts the served tiny model was trained on (written by build_model.py)."""
    model_dir: Path = vllm_server.model_dir or installed_model_dir()
    data: dict[str, str] = json.loads((model_dir / "thinkgate_tiny_model.json").read_text())
    return data


def chat(client: httpx.Client, model: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": MESSAGES, "temperature": 0, **extra}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def count_tokens(client: httpx.Client, model: str, text: str) -> int:
    r = client.post("/tokenize", json={"model": model, "prompt": text, "add_special_tokens": False})
    assert r.status_code == 200, r.text
    count: int = r.json()["count"]
    return count


def test_health_is_empty_200(client: httpx.Client) -> None:
    r = client.get("/health")
    assert (r.status_code, r.content) == (200, b"")


def test_version(client: httpx.Client) -> None:
    assert client.get("/version").json() == {"version": "0.32.0"}


def test_models_lists_served_name(client: httpx.Client, vllm_server: VllmServer) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    (entry,) = [m for m in body["data"] if m["id"] == vllm_server.model]
    assert (entry["object"], entry["owned_by"], entry["max_model_len"]) == ("model", "vllm", 2048)


@pytest.mark.parametrize("thinking", [True, False, None], ids=["thinking-on", "thinking-off", "default"])
def test_chat_thinking_switch(
    client: httpx.Client, vllm_server: VllmServer, facts: dict[str, str], thinking: bool | None
) -> None:
    extra: dict[str, Any] = (
        {} if thinking is None else {"chat_template_kwargs": {"enable_thinking": thinking}}
    )
    body = chat(client, vllm_server.model, **extra)
    (choice,) = body["choices"]
    msg, usage = choice["message"], body["usage"]
    assert (body["object"], body["model"], choice["finish_reason"]) == (
        "chat.completion",
        vllm_server.model,
        "stop",
    )
    assert "reasoning_content" not in msg
    if thinking is False:
        assert (msg["reasoning"], msg["content"]) == (None, facts["answer"])
        assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}
    else:  # vLLM's qwen3 parser keeps the newlines around the reasoning and before the answer
        assert msg["reasoning"] == f"\n{facts['reasoning']}\n"
        assert msg["content"] == f"\n\n{facts['answer']}"
        reasoning_tokens = count_tokens(client, vllm_server.model, msg["reasoning"])
        assert usage["completion_tokens_details"] == {"reasoning_tokens": reasoning_tokens}
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] is None


def test_stream_chunk_order(client: httpx.Client, vllm_server: VllmServer, facts: dict[str, str]) -> None:
    body = {
        "model": vllm_server.model,
        "messages": MESSAGES,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        payloads = [line.removeprefix("data: ") for line in r.iter_lines() if line]
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    # unlike the non-streamed usage, the stream's usage has no prompt_tokens_details key at all
    assert set(usage_chunk["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "completion_tokens_details",
    }
    finish = chunks[-2]["choices"][0]
    # with --enable-auto-tool-choice (tests/realvllm.py) the last delta is empty (it was {"content": ""}
    # without a tool parser), as the simulator sends it
    assert (finish["delta"], finish["finish_reason"]) == ({}, "stop")
    kinds = [next(iter(c["choices"][0]["delta"])) for c in chunks[1:-2]]
    first_content = kinds.index("content")
    assert set(kinds[:first_content]) == {"reasoning"} and set(kinds[first_content:]) == {"content"}
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-2]]
    assert "".join(d.get("reasoning", "") for d in deltas) == f"\n{facts['reasoning']}\n"
    assert "".join(d.get("content", "") for d in deltas) == f"\n\n{facts['answer']}"
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}


@pytest.mark.parametrize("budget", [4, 16, 64])
def test_thinking_token_budget_cuts_reasoning(
    client: httpx.Client, vllm_server: VllmServer, facts: dict[str, str], budget: int
) -> None:
    full = f"\n{facts['reasoning']}\n"
    assert count_tokens(client, vllm_server.model, full) > 64  # the budgets below really cut it
    body = chat(client, vllm_server.model, thinking_token_budget=budget)
    (choice,) = body["choices"]
    reasoning = choice["message"]["reasoning"]
    assert full.startswith(reasoning) and len(reasoning) < len(full)
    assert count_tokens(client, vllm_server.model, reasoning) <= budget
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": budget}
    assert (choice["message"]["content"], choice["finish_reason"]) == (f"\n\n{facts['answer']}", "stop")


def test_completion_after_gateway_early_stop_text(
    client: httpx.Client, vllm_server: VllmServer, facts: dict[str, str]
) -> None:
    prefix = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    prompt = prefix + "<think>\n" + facts["reasoning"][:40] + facts["early_stop"]
    r = client.post(
        "/v1/completions",
        json={"model": vllm_server.model, "prompt": prompt, "temperature": 0, "max_tokens": 32},
    )
    assert r.status_code == 200, r.text
    (choice,) = r.json()["choices"]
    assert (choice["text"], choice["finish_reason"]) == (facts["answer"], "stop")


@pytest.mark.parametrize(
    ("thinking", "tail"),
    [(False, THINK_END_PROMPT_TAIL), (True, ASSISTANT_PROMPT_TAIL)],
    ids=["thinking-off", "thinking-on"],
)
def test_tokenize_messages(
    client: httpx.Client, vllm_server: VllmServer, thinking: bool, tail: list[int]
) -> None:
    body = {
        "model": vllm_server.model,
        "messages": MESSAGES,
        "add_generation_prompt": True,
        "chat_template_kwargs": {"enable_thinking": thinking},
    }
    r = client.post("/tokenize", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["tokens"][-len(tail) :] == tail
    assert (data["count"], data["max_model_len"]) == (len(data["tokens"]), 2048)


def test_max_tokens_cut_inside_reasoning(client: httpx.Client, vllm_server: VllmServer) -> None:
    body = chat(client, vllm_server.model, max_tokens=5)
    (choice,) = body["choices"]
    assert (choice["finish_reason"], choice["message"]["content"]) == ("length", None)
    assert choice["message"]["reasoning"] == "\nLet me think"


@pytest.mark.parametrize(
    ("extra", "status", "err_type", "param", "message_part"),
    [
        ({"model": "nope"}, 404, "NotFoundError", "model", "The model `nope` does not exist."),
        (
            {"max_tokens": 5000},
            400,
            "BadRequestError",
            "max_tokens",
            "cannot be greater than max_model_len=2048",
        ),
        (
            {"thinking_token_budget": -5},
            400,
            "BadRequestError",
            "thinking_token_budget",
            "non-negative integer",
        ),
    ],
    ids=["unknown-model", "max-tokens-too-large", "negative-budget"],
)
def test_error_bodies(
    client: httpx.Client,
    vllm_server: VllmServer,
    extra: dict[str, Any],
    status: int,
    err_type: str,
    param: str,
    message_part: str,
) -> None:
    body = {"model": vllm_server.model, "messages": MESSAGES, **extra}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status
    err = r.json()["error"]
    assert (err["type"], err["param"], err["code"]) == (err_type, param, status)
    assert message_part in err["message"]
