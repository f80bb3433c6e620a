"""Load-aware endpoint choice and effort shedding against simulators with real load."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import make_policy, run_gateway, wait_until

USER = [{"role": "user", "content": "Tell me about the weather."}]


def received(url: str) -> int:
    count: int = httpx.get(url + "/sim/stats", timeout=5).json()["received"]
    return count


async def _burst(gw: str, n: int, concurrency: int) -> list[int]:
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(i: int) -> int:
            async with sem:
                body = {"model": "auto", "messages": USER, "reasoning_effort": "none", "seed": i}
                return (await client.post(gw + "/v1/chat/completions", json=body)).status_code

        return list(await asyncio.gather(*(one(i) for i in range(n))))


@pytest.mark.parametrize("strategy", ["load", "round_robin"])
def test_slow_endpoint_receives_less_traffic(strategy: str) -> None:
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", tokens_per_s=500)) as fast,
        run_sim(SimConfig(model="sim", mode="hybrid", tokens_per_s=25, seed=1)) as slow,
    ):
        policy = make_policy(
            {
                "h": {
                    "family": "qwen3",
                    "mode": "hybrid",
                    "model": "sim",
                    "endpoints": [fast.url, slow.url],
                    "routing": {"strategy": strategy, "scrape_interval": 0.2},
                }
            },
            {"auto": {"thinking": ["h"], "instruct": ["h"]}},
        )
        with run_gateway(policy) as gw:
            codes = asyncio.run(_burst(gw, 32, 8))
        assert codes == [200] * 32
        n_fast, n_slow = received(fast.url), received(slow.url)
        assert n_fast + n_slow == 32
        if strategy == "load":
            assert n_slow * 4 <= n_fast, (n_fast, n_slow)
        else:
            assert n_slow == n_fast == 16  # the baseline the load-aware choice beats


def level(gw: str, pool: str) -> float:
    text = httpx.get(gw + "/metrics", timeout=5).text
    m = re.search(rf'thinkgate_shedding_level{{pool="{pool}"}} ([0-9.]+)', text)
    return float(m.group(1)) if m else -1.0


@pytest.fixture
def busy_thinking() -> Iterator[tuple[str, str]]:
    """A thinking sim with a tiny KV cache (long generations fill it) and an instruct sim."""
    with (
        run_sim(
            SimConfig(
                model="sim-t",
                mode="thinking",
                tokens_per_s=40,
                reasoning_words=400,
                kv_capacity_tokens=400,
                seed=1,
            )
        ) as t,
        run_sim(SimConfig(model="sim-i", mode="instruct", seed=2)) as i,
    ):
        yield t.url, i.url


def test_saturating_the_thinking_pool_engages_shedding_and_releasing_disengages(
    busy_thinking: tuple[str, str],
) -> None:
    t, i = busy_thinking
    policy = make_policy(
        {
            "t": {
                "family": "qwen3-thinking-2507",
                "mode": "thinking",
                "model": "sim-t",
                "endpoints": [t],
                "routing": {"scrape_interval": 0.1},
                "shedding": {
                    "engage": {"queue_per_endpoint": 50, "kv_usage": 0.6},
                    "disengage": {"queue_per_endpoint": 10, "kv_usage": 0.2},
                    "dwell_seconds": 0.3,
                    "max_steps": 1,
                },
            },
            "i": {"family": "qwen3-instruct-2507", "mode": "instruct", "model": "sim-i", "endpoints": [i]},
        },
        {"auto": {"thinking": ["t"], "instruct": ["i"]}},
    )
    olympiad = (
        "Find all functions f: R -> R such that f(x + f(y)) = f(x) + y for all real x, y, and prove it."
    )
    prompt = [{"role": "user", "content": olympiad}]

    def ask(**extra: Any) -> httpx.Response:
        body = {"model": "auto", "messages": prompt, "max_tokens": 4, **extra}
        r = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r

    with run_gateway(policy) as gw:
        calm = ask()
        decided = calm.headers["x-thinkgate-effort"]
        assert calm.headers["x-thinkgate-source"] == "classifier" and "x-thinkgate-shed" not in calm.headers
        assert decided not in ("none", "minimal", "low")  # else there is nothing to shed at floor low

        stop = threading.Event()
        done = threading.Event()

        def saturate() -> None:  # long thinking streams straight to the backend fill its KV cache
            body = {"model": "sim-t", "messages": prompt, "stream": True}
            with httpx.Client(timeout=30) as client:
                streams = [client.stream("POST", t + "/v1/chat/completions", json=body) for _ in range(6)]
                for s in streams:
                    s.__enter__()
                stop.wait(30)
                for s in streams:
                    s.__exit__(None, None, None)
            done.set()

        worker = threading.Thread(target=saturate, daemon=True)
        worker.start()
        try:
            assert wait_until(lambda: level(gw, "t") == 1.0, timeout=15)
            shed = ask()
            assert shed.headers["x-thinkgate-source"] == "shed"
            lower = {"high": "medium", "medium": "low", "xhigh": "high", "max": "xhigh"}[decided]
            assert shed.headers["x-thinkgate-shed"] == f"{decided}->{lower}"
            assert shed.headers["x-thinkgate-effort"] == lower
            explicit = ask(reasoning_effort="high")  # explicit requests are honoured
            assert explicit.headers["x-thinkgate-effort"] == "high"
            assert "x-thinkgate-shed" not in explicit.headers
        finally:
            stop.set()
            worker.join(10)
        assert done.is_set()
        assert wait_until(lambda: level(gw, "t") == 0.0, timeout=15)
        again = ask()
        assert again.headers["x-thinkgate-source"] == "classifier" and "x-thinkgate-shed" not in again.headers
        metrics = httpx.get(gw + "/metrics", timeout=5).text
        assert f'thinkgate_shed_total{{from_effort="{decided}",to_effort="{lower}"}} 1.0' in metrics
