"""Failover on real sockets: an endpoint stopped under load, and a split pair whose pools go down."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from simulator.config import SimConfig
from simulator.server import RunningSim, run_sim
from tests.harness import make_policy, run_gateway, wait_until

USER = [{"role": "user", "content": "Tell me about the weather."}]


def events_of(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for block in raw.split(b"\n\n"):
        if block.startswith(b"data: "):
            out.append("[DONE]" if block == b"data: [DONE]" else orjson.loads(block[6:]))
    return out


def test_stopping_one_of_two_endpoints_under_load() -> None:
    """Non-stream requests never fail; streams open on the stopped endpoint end with an error event and
    ``[DONE]`` (the 5 s read timeout bounds the wait: the streams would otherwise run for ~5 s)."""
    slow = {"model": "sim", "mode": "hybrid", "tokens_per_s": 30, "reasoning_words": 120}
    with run_sim(SimConfig(**slow)) as keep:
        victim: RunningSim = RunningSim(SimConfig(**slow, seed=3)).start()
        try:
            policy = make_policy(
                {
                    "h": {
                        "family": "qwen3",
                        "mode": "hybrid",
                        "model": "sim",
                        "endpoints": [keep.url, victim.url],
                    }
                },
                {"auto": {"thinking": ["h"], "instruct": ["h"]}},
            )
            with run_gateway(policy) as gw:
                streams, codes = asyncio.run(_load(gw, victim))
                ready = httpx.get(gw + "/ready", timeout=5).json()
                assert ready["pools"] == {"h": True}
                assert wait_until(
                    lambda: (
                        f'thinkgate_endpoint_up{{endpoint="{victim.url}",pool="h"}} 0.0'
                        in httpx.get(gw + "/metrics", timeout=5).text
                    )
                )
        finally:
            victim.stop()
    assert codes.count(200) == len(codes) == 40, codes
    on_victim = [ev for url, ev in streams if url == victim.url]
    on_keep = [ev for url, ev in streams if url == keep.url]
    assert on_victim and on_keep  # load-aware choice spread the streams over both
    for events in on_victim:
        assert events[-1] == "[DONE]"
        assert events[-2]["error"]["type"] == "upstream_error"
    for events in on_keep:
        assert events[-1] == "[DONE]"
        assert all("error" not in e for e in events[:-1] if isinstance(e, dict))


async def _load(gw: str, victim: RunningSim) -> tuple[list[tuple[str, list[Any]]], list[int]]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=5)) as client:
        opened = asyncio.Event()
        started = 0

        async def stream(i: int) -> tuple[str, list[Any]]:
            nonlocal started
            body = {"model": "auto", "messages": USER, "reasoning_effort": "low", "stream": True, "seed": i}
            async with client.stream("POST", gw + "/v1/chat/completions", json=body) as resp:
                assert resp.status_code == 200
                url = resp.headers["x-thinkgate-endpoint"]
                raw = b""
                async for chunk in resp.aiter_bytes():
                    if not raw:
                        started += 1
                        if started == 4:
                            opened.set()
                    raw += chunk
            return url, events_of(raw)

        async def call(i: int) -> int:
            body = {"model": "auto", "messages": USER, "reasoning_effort": "none", "max_tokens": 8, "seed": i}
            return (await client.post(gw + "/v1/chat/completions", json=body)).status_code

        streams = [asyncio.create_task(stream(i)) for i in range(4)]
        await asyncio.wait_for(opened.wait(), 20)
        first = [asyncio.create_task(call(i)) for i in range(20)]
        await asyncio.sleep(0.05)
        await asyncio.to_thread(victim.stop)
        rest = [asyncio.create_task(call(i)) for i in range(20, 40)]
        codes = list(await asyncio.gather(*first, *rest))
        return list(await asyncio.gather(*streams)), codes


def split_policy(t: str, i: str, h: str, **extra: Any) -> Any:
    return make_policy(
        {
            "t": {"family": "qwen3-thinking-2507", "mode": "thinking", "model": "sim-t", "endpoints": [t]},
            "i": {"family": "qwen3-instruct-2507", "mode": "instruct", "model": "sim-i", "endpoints": [i]},
            "h": {"family": "qwen3", "mode": "hybrid", "model": "sim-h", "endpoints": [h]},
        },
        {"auto": {"thinking": ["t", "h"], "instruct": ["i", "h"]}},
        **extra,
    )


def ask(gw: str, effort: str) -> httpx.Response:
    body = {"model": "auto", "messages": USER, "reasoning_effort": effort}
    return httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)


def test_split_pair_fails_over_to_the_hybrid_pool_and_then_to_the_smallest_budget() -> None:
    with (
        run_sim(SimConfig(model="sim-t", mode="thinking", seed=1)) as t,
        run_sim(SimConfig(model="sim-i", mode="instruct", seed=2)) as i,
        run_sim(SimConfig(model="sim-h", mode="hybrid")) as h,
    ):
        t_sim, i_sim = t, i
        with run_gateway(split_policy(t.url, i.url, h.url)) as gw:
            healthy = ask(gw, "high")
            assert healthy.headers["x-thinkgate-backend"] == "t"
            assert "x-thinkgate-failover" not in healthy.headers

            t_sim.stop()  # the thinking pool is down: thinking requests go to the hybrid pool, thinking on
            for n in range(4):
                r = ask(gw, "high")
                assert r.status_code == 200, r.text
                assert r.headers["x-thinkgate-backend"] == "h"
                assert r.headers["x-thinkgate-failover"] == "t->h"
                assert r.headers["x-thinkgate-effort"] == "high"
                assert r.json()["choices"][0]["message"]["reasoning"], "the hybrid pool must think"
                if n == 0:  # the first one found out by trying (connect error), the later ones skip t
                    assert r.headers["x-thinkgate-attempts"] in ("1", "2")

            i_sim.stop()  # instruct down: effort none goes to the hybrid pool with thinking off
            r = ask(gw, "none")
            assert r.status_code == 200, r.text
            assert r.headers["x-thinkgate-failover"] == "i->h"
            assert not r.json()["choices"][0]["message"].get("reasoning")
            assert wait_until(lambda: httpx.get(gw + "/ready", timeout=5).json()["pools"]["i"] is False)
            metrics = httpx.get(gw + "/metrics", timeout=5).text
            assert 'thinkgate_failovers_total{from_pool="t",to_pool="h"} 4.0' in metrics
            assert 'thinkgate_failovers_total{from_pool="i",to_pool="h"} 1.0' in metrics


def test_instruct_request_falls_back_to_the_thinking_pool_at_the_smallest_budget() -> None:
    with (
        run_sim(SimConfig(model="sim-t", mode="thinking", seed=1)) as t,
        run_sim(SimConfig(model="sim-i", mode="instruct", seed=2)) as i,
        run_sim(SimConfig(model="sim-h", mode="hybrid")) as h,
    ):
        i.stop()
        h.stop()
        with run_gateway(split_policy(t.url, i.url, h.url)) as gw:
            r = ask(gw, "none")
            assert r.status_code == 200, r.text
            assert r.headers["x-thinkgate-backend"] == "t"
            assert r.headers["x-thinkgate-failover"] == "i->h->t"
            assert r.headers["x-thinkgate-effort"] == "none"
            assert r.headers["x-thinkgate-applied-effort"] == "minimal"
        with run_gateway(split_policy(t.url, i.url, h.url, failover={"instruct_to_thinking": False})) as gw:
            r = ask(gw, "none")
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "no_healthy_backend"
