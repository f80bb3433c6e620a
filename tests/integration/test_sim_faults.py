"""The simulator under load and under faults: metrics, queueing, cancellation, drops, hangs, stop()."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from simulator.config import SimConfig
from simulator.server import run_sim, run_sim_async
from simulator.tokenizer import SimTokenizer

MSGS = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def tok() -> SimTokenizer:
    return SimTokenizer.load()


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not found")


async def until(check: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    """Poll an async check until it returns truthy (a deadline guards against hangs, not speed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_metrics_move_under_load(tok: SimTokenizer) -> None:
    # slow enough that the two waiting requests wait over a second: a loaded box can miss a shorter window
    cfg = SimConfig(
        tokens_per_s=12, max_num_seqs=2, reasoning_words=10, answer_words=5, kv_capacity_tokens=1000
    )
    async with (
        run_sim_async(cfg, tokenizer=tok) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=20) as client,
    ):
        reqs = [
            asyncio.ensure_future(client.post("/v1/chat/completions", json={"messages": MSGS}))
            for _ in range(4)
        ]

        async def busy() -> bool:
            text = (await client.get("/metrics")).text
            return (
                metric(text, "vllm:num_requests_running", model_name="sim-qwen3", engine="0") == 2
                and metric(text, "vllm:num_requests_waiting", model_name="sim-qwen3", engine="0") == 2
                and metric(text, "vllm:kv_cache_usage_perc", model_name="sim-qwen3", engine="0") > 0
            )

        await until(busy, "2 running + 2 waiting")
        results = await asyncio.gather(*reqs)
        assert all(r.status_code == 200 for r in results)
        text = (await client.get("/metrics")).text
    assert metric(text, "vllm:num_requests_running") == 0
    assert metric(text, "vllm:kv_cache_usage_perc") == 0
    assert metric(text, "vllm:request_success_total", finished_reason="stop") == 4
    generated = sum(r.json()["usage"]["completion_tokens"] for r in results)
    assert metric(text, "vllm:generation_tokens_total") == generated
    assert metric(text, "vllm:prompt_tokens_total") == sum(
        r.json()["usage"]["prompt_tokens"] for r in results
    )
    assert metric(text, "vllm:time_to_first_token_seconds_count") == 4
    assert metric(text, "vllm:e2e_request_latency_seconds_count") == 4


async def test_client_disconnect_mid_stream_is_counted(tok: SimTokenizer) -> None:
    cfg = SimConfig(tokens_per_s=50, reasoning_words=200)
    async with (
        run_sim_async(cfg, tokenizer=tok) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=20) as client,
    ):
        body = {"messages": MSGS, "stream": True}
        async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
            chunks = resp.aiter_bytes()
            await chunks.__anext__()
            stats = (await client.get("/sim/stats")).json()
            assert stats["in_flight"] == 1 and stats["cancelled"] == 0

        async def cancelled() -> bool:
            s = (await client.get("/sim/stats")).json()
            return bool(s["cancelled"] == 1 and s["in_flight"] == 0)

        await until(cancelled, "the disconnect to be counted")
        text = (await client.get("/metrics")).text
        assert metric(text, "vllm:request_success_total", finished_reason="abort") == 1
        assert metric(text, "vllm:num_requests_running") == 0


async def test_hang_answers_nothing_until_client_leaves(tok: SimTokenizer) -> None:
    async with run_sim_async(SimConfig(hang_rate=1.0), tokenizer=tok) as sim:
        async with httpx.AsyncClient(base_url=sim.url, timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post("/v1/chat/completions", json={"messages": MSGS})
        async with httpx.AsyncClient(base_url=sim.url, timeout=5) as client:

            async def cancelled() -> bool:
                return bool((await client.get("/sim/stats")).json()["cancelled"] == 1)

            await until(cancelled, "hung request to be cancelled")
            # Faults can be switched off at runtime.
            assert (await client.post("/sim/faults", json={"hang_rate": 0})).json()["hang_rate"] == 0
            ok = await client.post("/v1/chat/completions", json={"messages": MSGS})
            assert ok.status_code == 200
            bad = await client.post("/sim/faults", json={"error_rate": 2})
            assert bad.status_code == 400


def test_error_fault_is_a_vllm_500(tok: SimTokenizer) -> None:
    with run_sim(SimConfig(error_rate=1.0), tokenizer=tok) as sim:
        resp = httpx.post(
            f"{sim.url}/v1/chat/completions", json={"messages": MSGS, "stream": True}, timeout=5
        )
        stats = httpx.get(f"{sim.url}/sim/stats").json()
    assert resp.status_code == 500
    err = resp.json()["error"]
    assert err["type"] == "InternalServerError" and err["code"] == 500
    assert stats["errors"] == 1 and stats["in_flight"] == 0


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "non-stream"])
def test_drop_cuts_the_connection(tok: SimTokenizer, stream: bool) -> None:
    with (
        run_sim(SimConfig(drop_rate=1.0), tokenizer=tok) as sim,
        httpx.Client(base_url=sim.url, timeout=5) as client,
    ):
        got = b""
        body = {"messages": MSGS, "stream": stream}
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("POST", "/v1/chat/completions", json=body) as r,
        ):
            for chunk in r.iter_bytes():
                got += chunk
        stats = client.get("/sim/stats").json()
    assert b"[DONE]" not in got
    if stream:
        assert got.count(b"data: ") == 3
    assert stats["dropped"] == 1 and stats["completed"] == 0


def test_slow_first_byte_and_ttft_are_reported(tok: SimTokenizer) -> None:
    with run_sim(SimConfig(slow_first_byte_ms=50, ttft_ms=20), tokenizer=tok) as sim:
        assert (
            httpx.post(f"{sim.url}/v1/chat/completions", json={"messages": MSGS}, timeout=5).status_code
            == 200
        )
        text = httpx.get(f"{sim.url}/metrics").text
    # TTFT includes the slow first byte + ttft_ms: the observation is not in the lowest buckets.
    assert metric(text, "vllm:time_to_first_token_seconds_bucket", le="0.04") == 0
    assert metric(text, "vllm:time_to_first_token_seconds_count") == 1


def test_stop_closes_listener_and_aborts_streams(tok: SimTokenizer) -> None:
    with run_sim(SimConfig(tokens_per_s=20, reasoning_words=200), tokenizer=tok) as sim:
        url = sim.url
        body = {"messages": MSGS, "stream": True}
        with (
            httpx.Client(base_url=url, timeout=5) as client,
            pytest.raises(httpx.TransportError),
            client.stream("POST", "/v1/chat/completions", json=body) as r,
        ):
            for n, _ in enumerate(r.iter_lines()):
                if n == 2:
                    sim.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)
    assert re.match(r"http://127\.0\.0\.1:\d+$", url)
