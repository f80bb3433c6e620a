"""The simulator over real sockets, one server per vLLM release: what an older backend does differently.

Expectations are written out per release (PROTOCOLS.md §2.8, §13.3-§13.6, §14), not derived from the profile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from simulator.config import SimConfig
from simulator.server import run_sim
from simulator.tokenizer import THINK_END_ID, SimTokenizer

MSGS = [{"role": "user", "content": "Why is the sky blue?"}]
ALL_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
LMH = {"low", "medium", "high"}

# version: (response reasoning keys, accepted efforts or None = ignored, chat budget, completions budget,
#           usage details, history keys read by chat, by /tokenize, return_token_ids, old qwen3 parser)
RC, R, BOTH = {"reasoning_content"}, {"reasoning"}, {"reasoning", "reasoning_content"}
EXPECTED: dict[str, tuple[Any, ...]] = {
    "0.10.0": (RC, None, "ignored", False, False, set(), set(), False, True),
    "0.10.1": (RC, LMH, "ignored", False, False, set(), set(), False, True),
    "0.11.0": (RC, LMH, "ignored", False, False, set(), set(), True, True),
    "0.12.0": (BOTH, LMH, "ignored", False, False, BOTH, BOTH, True, True),
    "0.18.0": (R, {"none"} | LMH, "ignored", False, False, R, R, True, False),
    "0.19.0": (R, {"none"} | LMH, "config", False, False, R, R, True, False),
    "0.20.0": (R, {"none"} | LMH, "enforced", False, False, R, R, True, False),
    "0.26.0": (R, set(ALL_EFFORTS), "enforced", True, False, BOTH, R, True, False),
    "0.32.0": (R, set(ALL_EFFORTS), "enforced", True, True, BOTH, R, True, False),
}
VERSIONS = list(EXPECTED)


@pytest.fixture(scope="module")
def tok() -> SimTokenizer:
    return SimTokenizer.load()


@pytest.fixture(scope="module")
def clients(tok: SimTokenizer) -> Iterator[dict[str, httpx.Client]]:
    with contextlib.ExitStack() as stack:
        out: dict[str, httpx.Client] = {}
        for version in VERSIONS:
            cfg = SimConfig(vllm_version=version, max_model_len=1024, reasoning_words=30, answer_words=10)
            sim = stack.enter_context(run_sim(cfg, tokenizer=tok))
            out[version] = stack.enter_context(httpx.Client(base_url=sim.url, timeout=10))
        yield out


def chat(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    resp = client.post("/v1/chat/completions", json={"messages": MSGS, **extra})
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def stream(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", path, json={**body, "stream": True, "stream_options": {}}) as resp:
        assert resp.status_code == 200
        frames = [f for f in resp.read().decode().split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    return [orjson.loads(f[6:]) for f in frames[:-1]]


def reasoning_of(message: dict[str, Any]) -> str | None:
    value = message.get("reasoning", message.get("reasoning_content"))
    return value if isinstance(value, str) else None


@pytest.mark.parametrize("version", VERSIONS)
def test_version_endpoint_and_reasoning_keys(clients: dict[str, httpx.Client], version: str) -> None:
    client, keys = clients[version], EXPECTED[version][0]
    assert client.get("/version").json() == {"version": version}
    message = chat(client)["choices"][0]["message"]
    assert {k for k in ("reasoning", "reasoning_content") if k in message} == keys
    assert all(message[k] and message[k] == reasoning_of(message) for k in keys)
    streamed: dict[str, str] = {}
    for event in stream(client, "/v1/chat/completions", {"messages": MSGS}):
        for choice in event["choices"]:
            for key, value in choice["delta"].items():
                if key != "role" and value:
                    streamed[key] = streamed.get(key, "") + value
    assert set(streamed) == keys | {"content"}
    assert all(streamed[k] == message[k] for k in keys) and streamed["content"] == message["content"]


@pytest.mark.parametrize("version", VERSIONS)
def test_reasoning_effort_values(clients: dict[str, httpx.Client], version: str) -> None:
    client, accepted = clients[version], EXPECTED[version][1]
    for effort in ALL_EFFORTS:
        resp = client.post(
            "/v1/chat/completions", json={"messages": MSGS, "reasoning_effort": effort, "max_tokens": 2}
        )
        if accepted is None or effort in accepted:
            assert resp.status_code == 200, (effort, resp.text)
        else:
            assert resp.status_code == 400, effort
            err = resp.json()["error"]
            assert (err["type"], err["code"], err["param"]) == ("BadRequestError", 400, "reasoning_effort")
            assert "'low'" in err["message"]
    # only >= 0.22 turns effort "none" into enable_thinking=false; older releases still think
    none_ok = accepted is None or "none" in accepted
    if none_ok:
        message = chat(client, reasoning_effort="none")["choices"][0]["message"]
        assert (reasoning_of(message) is None) is (version in ("0.26.0", "0.32.0"))


@pytest.mark.parametrize("version", VERSIONS)
def test_thinking_token_budget_in_chat(
    clients: dict[str, httpx.Client], tok: SimTokenizer, version: str
) -> None:
    client, mode = clients[version], EXPECTED[version][2]
    full = reasoning_of(chat(client)["choices"][0]["message"])
    assert full is not None
    resp = client.post("/v1/chat/completions", json={"messages": MSGS, "thinking_token_budget": 3})
    if mode == "config":
        assert resp.status_code == 400
        err = resp.json()["error"]
        assert err["message"].startswith(
            "thinking_token_budget is set but reasoning_config is not configured"
        )
        assert err["param"] == "thinking_token_budget"
        return
    assert resp.status_code == 200
    budgeted = reasoning_of(resp.json()["choices"][0]["message"])
    if mode == "ignored":
        assert budgeted == full
        # an unknown field is not validated either
        assert (
            client.post(
                "/v1/chat/completions", json={"messages": MSGS, "thinking_token_budget": -9}
            ).status_code
            == 200
        )
    else:
        assert budgeted is not None and len(tok.encode(budgeted)) <= 3 < len(tok.encode(full))
        assert (
            client.post(
                "/v1/chat/completions", json={"messages": MSGS, "thinking_token_budget": -9}
            ).status_code
            == 400
        )


@pytest.mark.parametrize("version", VERSIONS)
def test_completions_budget_and_token_ids(
    clients: dict[str, httpx.Client], tok: SimTokenizer, version: str
) -> None:
    client = clients[version]
    enforced, token_ids = EXPECTED[version][3], EXPECTED[version][7]
    prompt = tok.encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n")
    body = {"prompt": prompt, "max_tokens": 200, "return_token_ids": True}
    plain = client.post("/v1/completions", json=body).json()["choices"][0]
    budgeted = client.post("/v1/completions", json={**body, "thinking_token_budget": 4}).json()["choices"][0]
    if token_ids:
        assert plain["prompt_token_ids"] == prompt and THINK_END_ID in plain["token_ids"]
    else:
        assert plain["token_ids"] is None and plain["prompt_token_ids"] is None
    cut = budgeted["text"].index("</think>")
    assert (cut < plain["text"].index("</think>")) is enforced
    assert (budgeted["text"] == plain["text"]) is (not enforced)


@pytest.mark.parametrize("version", VERSIONS)
def test_usage_reasoning_details(clients: dict[str, httpx.Client], version: str) -> None:
    client, present = clients[version], EXPECTED[version][4]
    details = chat(client)["usage"]["completion_tokens_details"]
    streamed = stream(client, "/v1/chat/completions", {"messages": MSGS})[-1]["usage"]
    if present:
        assert details["reasoning_tokens"] > 0 and streamed["completion_tokens_details"] == details
    else:
        assert details is None and streamed.get("completion_tokens_details") is None
    assert streamed["completion_tokens"] > 0


CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def _tool_loop(**reasoning: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL], **reasoning},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_history_reasoning_read(clients: dict[str, httpx.Client], version: str) -> None:
    client = clients[version]
    chat_reads, tokenize_reads = EXPECTED[version][5], EXPECTED[version][6]
    thought = "I should call the weather tool for Paris."

    def counts(messages: list[dict[str, Any]]) -> tuple[int, int]:
        body = {"messages": messages, "max_tokens": 1}
        prompt_tokens = client.post("/v1/chat/completions", json=body).json()["usage"]["prompt_tokens"]
        return prompt_tokens, client.post("/tokenize", json={"messages": messages}).json()["count"]

    base_chat, base_tok = counts(_tool_loop())
    for key in ("reasoning", "reasoning_content"):
        in_chat, in_tok = counts(_tool_loop(**{key: thought}))
        assert (in_chat > base_chat) is (key in chat_reads), ("chat", key)
        assert (in_tok > base_tok) is (key in tokenize_reads), ("tokenize", key)
    both = counts(_tool_loop(reasoning=thought, reasoning_content=thought))
    assert (both[0] > base_chat, both[1] > base_tok) == (bool(chat_reads), bool(tokenize_reads))


@pytest.mark.parametrize("version", VERSIONS)
def test_truncated_thinking_parser(clients: dict[str, httpx.Client], version: str) -> None:
    client, old_parser = clients[version], EXPECTED[version][8]
    message = chat(client, max_tokens=5)["choices"][0]["message"]
    if old_parser:  # 0.9-0.16 qwen3 parser: no </think> -> the whole output is content, tags included
        assert reasoning_of(message) is None and message["content"].startswith("<think>")
    else:
        assert reasoning_of(message) and message["content"] is None
    deltas = [
        c["delta"]
        for e in stream(client, "/v1/chat/completions", {"messages": MSGS, "max_tokens": 5})
        for c in e["choices"]
    ]
    # streaming decides per delta: after a streamed <think> the text is reasoning on every release
    assert any(d.get("reasoning") or d.get("reasoning_content") for d in deltas)
    assert not any(d.get("content") for d in deltas)
