"""Redis killed mid-run: fail-open keeps serving (no 5xx), fail-closed answers 503 (never 500), and limits
are enforced again once Redis is back (the circuit breaker recovers by itself)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import run_gateway, wait_until
from tests.redis_server import RedisServer, redis_server

BODY = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}


def policy_yaml(sim: str, redis_url: str, mode: str) -> str:
    return f"""\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim-h, endpoints: ["{sim}"]}}
models:
  fast: {{effort: none, instruct: [h]}}
state: {{redis_url: "{redis_url}", on_redis_error: {mode}, prefix: {mode}, timeout: 0.2, breaker_reset: 0.2}}
limits:
  default: {{requests_per_minute: 3}}
"""


@dataclass(frozen=True)
class Setup:
    open: str
    closed: str
    redis: RedisServer


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with (
        redis_server() as server,
        run_sim(SimConfig(model="sim-h", mode="hybrid")) as sim,
        run_gateway(policy_yaml(sim.url, server.url, "open")) as fail_open,
        run_gateway(policy_yaml(sim.url, server.url, "closed")) as fail_closed,
    ):
        yield Setup(fail_open, fail_closed, server)


def post(url: str) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=BODY, timeout=30)


def metric(url: str, name: str) -> float | None:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_redis_killed_and_restarted(setup: Setup) -> None:
    # limits work while Redis is up
    assert [post(setup.open).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert post(setup.closed).status_code == 200

    setup.redis.stop()
    open_statuses = [post(setup.open).status_code for _ in range(12)]
    assert open_statuses == [200] * 12  # fail open: served, unlimited, no 5xx
    closed = [post(setup.closed) for _ in range(6)]
    assert [r.status_code for r in closed] == [503] * 6  # fail closed: 503, never 500
    assert closed[0].json()["error"]["code"] == "shared_state_unavailable"
    assert closed[0].headers["retry-after"] == "1"
    assert metric(setup.open, "thinkgate_redis_up") == 0
    errors = metric(setup.open, "thinkgate_redis_errors_total")
    assert errors is not None and errors >= 12
    assert httpx.get(setup.open + "/admin/policy", timeout=10).status_code == 403  # admin off, not 500

    setup.redis.start()  # same port, empty (no persistence)
    assert wait_until(lambda: "x-ratelimit-limit-requests" in post(setup.open).headers, timeout=10)
    statuses = [post(setup.open).status_code for _ in range(4)]
    assert 429 in statuses and 500 not in statuses  # limits resume (one of the 3 was used by the probe)
    assert wait_until(lambda: post(setup.closed).status_code == 200, timeout=10)
    assert metric(setup.open, "thinkgate_redis_up") == 1
