"""Bad input gets a 4xx OpenAI error envelope, never a 500 or a hang (no backend needed to reject it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.harness import free_port, make_policy, run_gateway


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    dead = f"http://127.0.0.1:{free_port()}"
    policy = make_policy(
        {"h": {"family": "qwen3", "mode": "hybrid", "model": "m-hybrid", "endpoints": [dead]}},
        {
            "auto": {"thinking": ["h"], "instruct": ["h"]},
            "auto-fast": {"effort": "none", "instruct": ["h"], "allow_client_effort": False},
        },
    )
    with run_gateway(policy, max_body_bytes=4096) as url:
        yield url


def post(url: str, content: bytes | None = None, json: Any = None, **kw: Any) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", content=content, json=json, timeout=10, **kw)


MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("content", "status", "param", "needle"),
    [
        pytest.param(b"{not json", 400, None, "not valid JSON", id="invalid-json"),
        pytest.param(b"", 400, None, "empty", id="empty-body"),
        pytest.param(b"[1, 2]", 400, None, "JSON object", id="array-body"),
        pytest.param(b'{"model": "auto"}', 400, "messages", "missing required field", id="missing-messages"),
        pytest.param(
            b'{"model": "auto", "messages": []}', 400, "messages", "at least 1", id="empty-messages"
        ),
        pytest.param(b'{"model": "auto", "messages": "hi"}', 400, "messages", "", id="messages-not-list"),
        pytest.param(
            b'{"messages": [{"role": "user", "content": "x"}]}', 400, "model", "missing", id="missing-model"
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}',
            400,
            "messages.0.role",
            "",
            id="bad-role",
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"content": "x"}]}',
            400,
            "messages.0.role",
            "missing",
            id="missing-role",
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user", "content": 5}]}',
            400,
            "messages.0.content",
            "",
            id="content-int",
        ),
        pytest.param(b'{"model": "auto", "messages": [{"role": "user"}], "n": 0}', 400, "n", "", id="n-zero"),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "n": 1000}', 400, "n", "", id="n-huge"
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "n": "2"}', 400, "n", "", id="n-string"
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "max_tokens": 0}',
            400,
            "max_tokens",
            "",
            id="max-tokens-0",
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "max_tokens": -5}',
            400,
            "max_tokens",
            "",
            id="max-tokens-neg",
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "stream": "yes"}',
            400,
            "stream",
            "",
            id="stream-str",
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "stream_options": {"include_usage": true}}',
            400,
            "stream_options",
            "only allowed when stream",
            id="stream-options-without-stream",
        ),
        pytest.param(
            b'{"model": "nope", "messages": [{"role": "user"}]}',
            404,
            "model",
            "does not exist",
            id="unknown-model",
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "reasoning_effort": "ultra"}',
            400,
            "reasoning_effort",
            "unknown reasoning effort",
            id="bad-effort",
        ),
        pytest.param(
            b'{"model": "auto", "messages": [{"role": "user"}], "reasoning_effort": "high",'
            b' "chat_template_kwargs": {"enable_thinking": false}}',
            400,
            "chat_template_kwargs.enable_thinking",
            "contradictory",
            id="conflicting-signals",
        ),
        pytest.param(
            b'{"model": "auto-fast", "messages": [{"role": "user"}], "reasoning_effort": "high"}',
            400,
            "reasoning_effort",
            "always runs at effort none",
            id="fixed-model-refuses-override",
        ),
    ],
)
def test_rejected_with_envelope(
    gateway: str, content: bytes, status: int, param: str | None, needle: str
) -> None:
    resp = post(gateway, content=content, headers={"content-type": "application/json"})
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert needle in err["message"]
    assert err["param"] == param
    assert isinstance(err["code"], str)


def test_oversized_body_is_413(gateway: str) -> None:
    big = {"model": "auto", "messages": [{"role": "user", "content": "x" * 10_000}]}
    resp = post(gateway, json=big)
    assert resp.status_code == 413
    assert "exceeds the limit of 4096 bytes" in resp.json()["error"]["message"]


def test_unknown_route_is_enveloped(gateway: str) -> None:
    resp = httpx.get(gateway + "/v1/nothing", timeout=10)
    assert resp.status_code == 404
    assert "error" in resp.json()


def test_wrong_method(gateway: str) -> None:
    resp = httpx.get(gateway + "/v1/chat/completions", timeout=10)
    assert resp.status_code == 405
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_dead_backend_is_502_with_clear_message(gateway: str) -> None:
    resp = post(gateway, json={"model": "auto", "messages": MSG, "reasoning_effort": "none"})
    assert resp.status_code in (502, 503)
    err = resp.json()["error"]
    assert "backend" in err["message"] or "endpoint" in err["message"]
    assert resp.headers["x-thinkgate-effort"] == "none"


def test_ready_reports_unreachable(gateway: str) -> None:
    resp = httpx.get(gateway + "/ready", timeout=10)
    assert resp.status_code == 503
    assert resp.json()["pools"] == {"h": False}
