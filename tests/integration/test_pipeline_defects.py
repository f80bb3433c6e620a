"""Regression tests for the defects the duplicated request paths caused (issue 12, defects 1-4).

Each failed on commit 3c8187d (checked by running this file against a checkout of it, with the simulator's
import path of that commit): a dead forcing-mode thinking pool blocked thinking traffic instead of failing over
to the native hybrid pool; streamed ``/v1/completions`` never corrected the token estimate; render notes were
dropped; a client that left a non-streamed, a not-yet-started or a forced request left the backend working.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from gateway.limits import estimate_tokens
from gateway.logs import ACCESS_LOGGER
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import free_port, make_policy, run_gateway, wait_until

JSON = {"content-type": "application/json"}
USER = [{"role": "user", "content": "How many weekdays are in March 2026?"}]


def stats(sim: str) -> dict[str, int]:
    data: dict[str, int] = httpx.get(sim + "/sim/stats", timeout=5).json()
    return data


def metrics(gw: str) -> str:
    return httpx.get(gw + "/metrics", timeout=5).text


# -- defect 1: a dead forcing-mode thinking pool fails over to the healthy native hybrid pool ------------------


def split_policy(thinking_url: str, hybrid_url: str) -> Any:
    return make_policy(
        {
            "t": {
                "family": "qwen3",
                "mode": "hybrid",
                "model": "sim-t",
                "endpoints": [thinking_url],
                "budget": "forcing",
            },
            "h": {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": [hybrid_url]},
        },
        {"deep": {"effort": "high", "thinking": ["t", "h"]}},
    )


@pytest.mark.parametrize("when", ["dead-at-startup", "dies-after-startup"])
def test_dead_forcing_thinking_pool_fails_over_to_the_native_hybrid_pool(when: str) -> None:
    with run_sim(SimConfig(model="sim", mode="hybrid")) as hybrid:
        if when == "dead-at-startup":
            thinking_url = f"http://127.0.0.1:{free_port()}"  # nothing listens
            with run_gateway(split_policy(thinking_url, hybrid.url)) as gw:
                answers = [
                    httpx.post(
                        gw + "/v1/chat/completions", json={"model": "deep", "messages": USER}, timeout=30
                    )
                    for _ in range(4)
                ]
        else:
            with run_sim(SimConfig(model="sim-t", mode="hybrid")) as thinking:
                policy = split_policy(thinking.url, hybrid.url)
                with run_gateway(policy, health_interval=60) as gw:
                    ok = httpx.post(
                        gw + "/v1/chat/completions", json={"model": "deep", "messages": USER}, timeout=30
                    )
                    assert ok.status_code == 200 and ok.headers["x-thinkgate-backend"] == "t"
                    thinking.stop()
                    answers = [
                        httpx.post(
                            gw + "/v1/chat/completions", json={"model": "deep", "messages": USER}, timeout=30
                        )
                        for _ in range(4)
                    ]
    for resp in answers:
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-thinkgate-backend"] == "h"
        assert resp.headers["x-thinkgate-failover"] == "t->h"
        assert "x-thinkgate-budget-mode" not in resp.headers  # h enforces its budget natively
        assert resp.json()["choices"][0]["message"]["content"]


# -- defect 2: streamed /v1/completions reconcile usage against the token limit ----------------------------


def test_streamed_completions_correct_the_token_estimate() -> None:
    with run_sim(SimConfig(model="sim", mode="hybrid", answer_words=30)) as sim:
        policy = make_policy(
            {"h": {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": [sim.url]}},
            {"auto": {"thinking": ["h"], "instruct": ["h"]}},
            limits={"default": {"tokens_per_minute": 1_000_000}},
        )
        with run_gateway(policy) as gw:
            body = {
                "model": "sim",
                "prompt": "Write a short note about the weather in spring.",
                "max_tokens": 40,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            sent = orjson.dumps(body)  # the estimate is from the size of the body as sent
            with httpx.stream("POST", gw + "/v1/completions", content=sent, headers=JSON, timeout=30) as resp:
                assert resp.status_code == 200
                first_left = int(resp.headers["x-ratelimit-remaining-tokens"])
                raw = b"".join(resp.iter_bytes())
            events = [orjson.loads(b[6:]) for b in raw.split(b"\n\n") if b.startswith(b"data: {")]
            usage = next(e["usage"] for e in events if e.get("usage"))
            used = usage["prompt_tokens"] + usage["completion_tokens"]
            assert used != estimate_tokens(len(sent))  # else the test could not tell a correction from none
            assert first_left == 1_000_000 - estimate_tokens(len(sent))
            time.sleep(0.3)  # the correction is written in the background after the last byte
            probe = {"model": "sim", "prompt": "hi", "max_tokens": 1}
            sent = orjson.dumps(probe)
            second = httpx.post(gw + "/v1/completions", content=sent, headers=JSON, timeout=30)
            left = int(second.headers["x-ratelimit-remaining-tokens"])
            assert left == 1_000_000 - used - estimate_tokens(len(sent))


# -- defect 3: render notes surface (header, access log, metric, /v1/route) --------------------------------


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def hybrid_gateway() -> Iterator[tuple[str, str]]:
    with run_sim(SimConfig(model="sim", mode="hybrid")) as sim:
        policy = make_policy(
            {"h": {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": [sim.url]}},
            {"auto": {"thinking": ["h"], "instruct": ["h"]}},
        )
        with run_gateway(policy) as gw:
            yield gw, sim.url


def test_render_notes_reach_the_header_the_log_the_metrics_and_route(hybrid_gateway: tuple[str, str]) -> None:
    gw, _ = hybrid_gateway
    handler = Lines()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    try:
        body = {"model": "auto", "messages": USER, "reasoning_effort": "none", "thinking_token_budget": 12}
        resp = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
        assert wait_until(lambda: bool(handler.lines), timeout=3)
    finally:
        logger.removeHandler(handler)
    assert resp.status_code == 200
    removed = "client thinking_token_budget 12 removed"
    assert removed in resp.headers["x-thinkgate-warnings"]
    line = orjson.loads(handler.lines[-1])
    assert any(removed in w for w in line["warnings"])
    assert len(line["warnings"]) == resp.headers["x-thinkgate-warnings"].count("; ") + 1
    assert f'thinkgate_render_warnings_total{{pool="h"}} {len(line["warnings"])}.0' in metrics(gw)
    route = httpx.post(gw + "/v1/route", json=body, timeout=30).json()
    assert route["warnings"] == line["warnings"]
    assert route["upstream"][0]["warnings"] == line["warnings"]


# -- /v1/route is a dry run of the whole render --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"model": "auto", "messages": USER, "reasoning_effort": "low"}, id="thinking"),
        pytest.param({"model": "auto", "messages": USER, "reasoning_effort": "none"}, id="instruct"),
        pytest.param(
            {
                "model": "auto",
                "messages": USER,
                "stream": True,
                "thinking": {"type": "enabled", "budget_tokens": 99},
            },
            id="stream-budget",
        ),
    ],
)
def test_route_shows_the_exact_body_the_gateway_sends(
    hybrid_gateway: tuple[str, str], body: dict[str, Any]
) -> None:
    gw, sim = hybrid_gateway
    route = httpx.post(gw + "/v1/route", json=body, timeout=30).json()
    (step,) = route["upstream"]
    assert step["backend"] == "h" and step["mode"] == "hybrid" and step["budget_mode"] == "native"
    assert step["path"] == "/v1/chat/completions"
    with httpx.stream("POST", gw + "/v1/chat/completions", json=body, timeout=30) as resp:
        assert resp.status_code == 200
        resp.read()
    sent = httpx.get(sim + "/sim/requests", timeout=5).json()[-1]
    assert step["body"] == sent


def test_route_of_a_forcing_step_shows_its_first_request() -> None:
    with run_sim(SimConfig(model="sim", mode="hybrid")) as sim:
        policy = make_policy(
            {
                "f": {
                    "family": "qwen3",
                    "mode": "hybrid",
                    "model": "sim",
                    "endpoints": [sim.url],
                    "budget": "forcing",
                }
            },
            {"auto": {"thinking": ["f"], "instruct": ["f"]}},
        )
        with run_gateway(policy) as gw:
            body = {"model": "auto", "messages": USER, "reasoning_effort": "low"}
            (step,) = httpx.post(gw + "/v1/route", json=body, timeout=30).json()["upstream"]
    assert step["budget_mode"] == "forcing" and step["path"] == "/tokenize"
    assert step["body"]["add_generation_prompt"] is True
    assert step["body"]["chat_template_kwargs"] == {"enable_thinking": True}
    assert step["body"]["messages"][-1] == USER[-1]


# -- defect 4: a client that leaves cancels the backend's work on every path ---------------------------------


def slow_policy(url: str, budget: str) -> Any:
    return make_policy(
        {"h": {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": [url], "budget": budget}},
        {"auto": {"thinking": ["h"], "instruct": ["h"]}},
    )


def leave_after(gw: str, body: dict[str, Any], seconds: float) -> None:
    """Send ``body`` and drop the connection after ``seconds`` without an answer; ``seconds`` 0 (streams):
    read until the first answer text arrives, then drop it."""
    if seconds == 0:
        with httpx.stream("POST", gw + "/v1/chat/completions", json=body, timeout=30) as resp:
            for chunk in resp.iter_bytes():
                if b'"content":"' in chunk.replace(b'"content":""', b""):
                    return
        raise AssertionError("the stream ended before its answer")
    timeout = httpx.Timeout(30, read=seconds)
    with pytest.raises(httpx.ReadTimeout):
        if body.get("stream"):
            with httpx.stream("POST", gw + "/v1/chat/completions", json=body, timeout=timeout) as resp:
                for _ in resp.iter_bytes():
                    pass
        else:
            httpx.post(gw + "/v1/chat/completions", json=body, timeout=timeout)


def assert_counted_as_gone(gw: str, sim: str, *, completed: int) -> None:
    assert wait_until(lambda: stats(sim)["in_flight"] == 0, timeout=3)
    assert stats(sim)["completed"] == completed
    inflight = f'thinkgate_inflight_requests{{endpoint="{sim}",pool="h"}} 0.0'
    assert wait_until(lambda: inflight in metrics(gw), timeout=3)
    text = metrics(gw)
    assert 'outcome="client_gone"' in text
    assert 'outcome="ok"' not in text
    assert "thinkgate_tokens_total{" not in text  # nothing billed as a success


@pytest.mark.parametrize(
    ("case", "budget", "sim", "body", "leave", "completed"),
    [
        pytest.param(
            "non-stream",
            "native",
            {"tokens_per_s": 50, "reasoning_words": 400},
            {"reasoning_effort": "high", "max_tokens": 400},
            0.5,
            0,
            id="native-non-stream",
        ),
        pytest.param(
            "before-first-byte",
            "native",
            {"slow_first_byte_ms": 6000, "tokens_per_s": 50},
            {"reasoning_effort": "high", "stream": True},
            0.3,
            0,
            id="native-stream-before-first-byte",
        ),
        pytest.param(
            "forcing-pass-1",
            "forcing",
            {"tokens_per_s": 50, "reasoning_words": 600},
            {"thinking": {"type": "enabled", "budget_tokens": 500}, "max_tokens": 900},
            0.5,
            0,
            id="forcing-non-stream-first-pass",
        ),
        pytest.param(
            "forcing-pass-2",
            "forcing",
            {"tokens_per_s": 50, "reasoning_words": 200, "answer_words": 400},
            {"thinking": {"type": "enabled", "budget_tokens": 10}, "max_tokens": 900},
            2.0,
            1,
            id="forcing-non-stream-second-pass",
        ),
        pytest.param(
            "stream-after-first-byte",
            "native",
            {"tokens_per_s": 50, "reasoning_words": 20, "answer_words": 400},
            {"reasoning_effort": "high", "stream": True},
            0,
            0,
            id="native-stream-after-first-byte",
        ),
        pytest.param(
            "forcing-stream-second-pass",
            "forcing",
            {"tokens_per_s": 50, "reasoning_words": 200, "answer_words": 400},
            {"thinking": {"type": "enabled", "budget_tokens": 10}, "max_tokens": 900, "stream": True},
            0,
            1,
            id="forcing-stream-second-pass",
        ),
        pytest.param(
            "forcing-stream-before-first-byte",
            "forcing",
            {"slow_first_byte_ms": 6000, "tokens_per_s": 50},
            {"reasoning_effort": "high", "stream": True},
            0.3,
            0,
            id="forcing-stream-before-first-byte",
        ),
    ],
)
def test_a_client_that_leaves_cancels_the_backend_at_once(
    case: str, budget: str, sim: dict[str, Any], body: dict[str, Any], leave: float, completed: int
) -> None:
    """The backend sees the cancellation right away (long before it would have finished, or sent its first
    byte), the request counts as ``client_gone`` and no tokens are billed."""
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", **sim)) as backend,
        run_gateway(slow_policy(backend.url, budget)) as gw,
    ):
        leave_after(gw, {"model": "auto", "messages": USER, **body}, leave)
        # the backend would need several more seconds to finish (or to send its first byte)
        assert wait_until(lambda: stats(backend.url)["cancelled"] == 1, timeout=2.5), case
        assert_counted_as_gone(gw, backend.url, completed=completed)
