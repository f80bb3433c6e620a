"""The simulator over real sockets: vLLM-shaped chat, completions, tokenize, errors and discovery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from simulator.config import SimConfig
from simulator.server import RunningSim, run_sim
from simulator.tokenizer import IM_END_ID, THINK_END_ID, SimTokenizer
from tests.harness import usage_view

MSGS = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture(scope="module")
def tok() -> SimTokenizer:
    return SimTokenizer.load()


@pytest.fixture(scope="module")
def sim(tok: SimTokenizer) -> Iterator[RunningSim]:
    with run_sim(
        SimConfig(model="sim-qwen3", max_model_len=512, reasoning_words=40, answer_words=15), tokenizer=tok
    ) as s:
        yield s


@pytest.fixture(scope="module")
def client(sim: RunningSim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def stream_events(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST a streaming request; return the decoded events and check the [DONE] terminator."""
    with client.stream("POST", path, json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read().decode()
    frames = [f for f in raw.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames)
    assert frames[-1] == "data: [DONE]"
    return [orjson.loads(f[6:]) for f in frames[:-1]]


def accumulate(
    events: list[dict[str, Any]],
) -> tuple[str | None, str | None, str | None, dict[str, Any] | None]:
    reasoning: str | None = None
    content: str | None = None
    finish = None
    usage = None
    for ev in events:
        assert ev["object"] == "chat.completion.chunk" and ev["id"].startswith("chatcmpl-")
        if not ev["choices"]:
            usage = ev["usage"]
            continue
        choice = ev["choices"][0]
        delta = choice["delta"]
        assert "reasoning_content" not in delta
        if "reasoning" in delta:
            reasoning = (reasoning or "") + delta["reasoning"]
        if delta.get("content"):
            content = (content or "") + delta["content"]
        finish = choice["finish_reason"] or finish
    return reasoning, content, finish, usage


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="thinking"),
        pytest.param({"chat_template_kwargs": {"enable_thinking": False}}, id="no-thinking"),
        pytest.param({"thinking_token_budget": 4}, id="budget"),
        pytest.param({"max_tokens": 7}, id="length-in-reasoning"),
        pytest.param({"stop": ["the"]}, id="stop"),
    ],
)
def test_stream_and_non_stream_agree(client: httpx.Client, extra: dict[str, Any]) -> None:
    body = {"model": "sim-qwen3", "messages": MSGS, **extra}
    plain = client.post("/v1/chat/completions", json=body).json()
    events = stream_events(client, "/v1/chat/completions", {**body, "stream": True, "stream_options": {}})
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    reasoning, content, finish, usage = accumulate(events)
    message = plain["choices"][0]["message"]
    assert "reasoning_content" not in message
    assert (reasoning or None, content) == (message["reasoning"] or None, message["content"])
    assert finish == plain["choices"][0]["finish_reason"]
    assert usage_view(usage) == usage_view(plain["usage"])


def test_thinking_response_shape(client: httpx.Client) -> None:
    data = client.post("/v1/chat/completions", json={"messages": MSGS}).json()
    msg = data["choices"][0]["message"]
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert msg["reasoning"].startswith("\n") and msg["reasoning"].endswith("\n")
    assert msg["content"].startswith("\n\n")
    usage = data["usage"]
    assert usage["prompt_tokens_details"] is None
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # completion = <think> + reasoning + </think> + "\n\n" + answer + <|im_end|>
    assert 0 < usage["completion_tokens_details"]["reasoning_tokens"] < usage["completion_tokens"]
    assert data["choices"][0]["finish_reason"] == "stop"


def test_budget_and_switches(client: httpx.Client) -> None:
    def ask(**extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = client.post("/v1/chat/completions", json={"messages": MSGS, **extra}).json()
        return result

    budget = ask(thinking_token_budget=3)
    assert budget["usage"]["completion_tokens_details"]["reasoning_tokens"] == 3
    assert budget["choices"][0]["message"]["content"].startswith("\n\n")
    off = ask(chat_template_kwargs={"enable_thinking": False})
    assert off["choices"][0]["message"]["reasoning"] is None
    assert not off["choices"][0]["message"]["content"].startswith("\n")
    assert off["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    hidden = ask(include_reasoning=False)
    assert hidden["choices"][0]["message"]["reasoning"] is None
    assert hidden["choices"][0]["message"]["content"].startswith("\n\n")
    cut = ask(max_tokens=5)
    assert cut["choices"][0]["finish_reason"] == "length" and cut["choices"][0]["message"]["content"] is None
    two = ask(n=2, seed=3, temperature=0.6)
    assert [c["index"] for c in two["choices"]] == [0, 1]


@pytest.mark.parametrize(
    ("mode", "reasoning_prefix"),
    [pytest.param("instruct", None, id="instruct"), pytest.param("thinking", "", id="thinking")],
)
def test_other_modes(tok: SimTokenizer, mode: str, reasoning_prefix: str | None) -> None:
    with run_sim(SimConfig(mode=mode, reasoning_words=20, answer_words=8), tokenizer=tok) as s:
        data = httpx.post(
            f"{s.url}/v1/chat/completions",
            json={"messages": MSGS, "chat_template_kwargs": {"enable_thinking": True}},
            timeout=10,
        ).json()
        counted = httpx.post(f"{s.url}/tokenize", json={"messages": MSGS}, timeout=10).json()
    msg = data["choices"][0]["message"]
    if reasoning_prefix is None:
        assert msg["reasoning"] is None and not msg["content"].startswith("\n")
        assert counted["tokens"][-3:] == tok.encode("<|im_start|>assistant\n")
    else:
        # Thinking-2507: the prompt already ends in "<think>\n", the output has no opening tag.
        assert counted["tokens"][-2:] == tok.encode("<think>\n")
        assert msg["reasoning"] and not msg["reasoning"].startswith("\n")
        assert msg["content"].startswith("\n\n")


def test_completions_with_token_ids_and_budget(client: httpx.Client, tok: SimTokenizer) -> None:
    prompt_ids = tok.encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n")
    data = client.post(
        "/v1/completions",
        json={"prompt": prompt_ids, "max_tokens": 100, "return_token_ids": True, "thinking_token_budget": 5},
    ).json()
    choice = data["choices"][0]
    assert data["object"] == "text_completion" and data["id"].startswith("cmpl-")
    assert choice["prompt_token_ids"] == prompt_ids
    ids = choice["token_ids"]
    assert ids.index(THINK_END_ID) == 4  # "\n" in the prompt already counts against the budget
    assert ids[-1] == IM_END_ID and choice["finish_reason"] == "stop"
    assert "</think>\n\n" in choice["text"]
    assert data["usage"]["completion_tokens"] == len(ids)
    assert data["usage"]["prompt_tokens"] == len(prompt_ids)
    default = client.post("/v1/completions", json={"prompt": "Once upon a time"}).json()
    assert default["usage"]["completion_tokens"] <= 16
    events = stream_events(client, "/v1/completions", {"prompt": "Hello", "stream": True, "max_tokens": 6})
    assert (
        "".join(e["choices"][0]["text"] for e in events)
        == client.post("/v1/completions", json={"prompt": "Hello", "max_tokens": 6}).json()["choices"][0][
            "text"
        ]
    )


def test_tokenize_matches_tokenizer(client: httpx.Client, tok: SimTokenizer) -> None:
    data = client.post("/tokenize", json={"prompt": "Hello <think>"}).json()
    assert data == {"count": 3, "max_model_len": 512, "tokens": [9707, 220, 151667], "token_strs": None}
    chat = client.post(
        "/tokenize", json={"messages": MSGS, "chat_template_kwargs": {"enable_thinking": False}}
    ).json()
    assert chat["tokens"][-7:] == [151644, 77091, 198, 151667, 271, 151668, 271]
    thinking = client.post("/tokenize", json={"messages": MSGS}).json()
    usage = client.post("/v1/chat/completions", json={"messages": MSGS, "max_tokens": 1}).json()["usage"]
    assert usage["prompt_tokens"] == thinking["count"] == len(tok.encode(tok.render_chat(MSGS)))
    assert client.post("/detokenize", json={"tokens": [9707, 220, 151667]}).json() == {
        "prompt": "Hello <think>"
    }


@pytest.mark.parametrize(
    ("path", "body", "status", "err_type", "needle"),
    [
        pytest.param("/v1/chat/completions", {"model": "nope", "messages": MSGS}, 404, "NotFoundError",
                     "The model `nope` does not exist.", id="unknown-model"),
        pytest.param("/v1/chat/completions", {"messages": MSGS, "max_tokens": 5000}, 400, "BadRequestError",
                     "max_tokens=5000 cannot be greater than max_model_len=512", id="max-tokens"),
        pytest.param("/v1/chat/completions", {"messages": [{"role": "user", "content": "word " * 600}]}, 400,
                     "BadRequestError", "maximum context length is 512", id="prompt-too-long"),
        pytest.param("/v1/chat/completions", {"messages": MSGS, "stream_options": {"include_usage": True}},
                     400, "BadRequestError", "stream", id="stream-options-without-stream"),
        pytest.param("/v1/chat/completions", {"model": "sim-qwen3"}, 400, "BadRequestError", "messages",
                     id="missing-messages"),
        pytest.param("/v1/completions", {"prompt": [999999999]}, 400, "BadRequestError", "out of vocabulary",
                     id="bad-token-id"),
    ],
)  # fmt: skip
def test_errors_are_vllm_shaped(
    client: httpx.Client, path: str, body: dict[str, Any], status: int, err_type: str, needle: str
) -> None:
    resp = client.post(path, json=body)
    assert resp.status_code == status
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == err_type and err["code"] == status
    assert needle in err["message"]


def test_invalid_json_is_400(client: httpx.Client) -> None:
    resp = client.post("/v1/chat/completions", content=b"{oops", headers={"content-type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == 400


def test_discovery_endpoints(client: httpx.Client) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.content == b""
    assert client.get("/version").json() == {"version": "0.32.0"}
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    card = models["data"][0]
    assert (
        card["id"],
        card["object"],
        card["owned_by"],
        card["root"],
        card["parent"],
        card["max_model_len"],
    ) == (
        "sim-qwen3",
        "model",
        "vllm",
        "sim-qwen3",
        None,
        512,
    )
