"""Two gateways sharing one real Redis: one limit for both, quotas, policy changes reaching the other
replica, and API keys never stored or logged in clear."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import LogCollector, run_gateway, wait_until
from tests.redis_server import RedisServer, redis_dump, redis_server

ALICE, BOB, CAROL = "sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef", "sk-carol-0123456789abcdef"
ADMIN = "admin-token-5f8e2a91c3"
FAST = {"model": "fast", "messages": [{"role": "user", "content": "hello"}]}
DEEP = {"model": "deep", "messages": [{"role": "user", "content": "prove it"}]}


def policy_yaml(sim: str, redis_url: str, team_rpm: int) -> str:
    return f"""\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim-h, endpoints: ["{sim}"]}}
models:
  fast: {{effort: none, instruct: [h]}}
  deep: {{effort: high, thinking: [h], instruct: [h]}}
state: {{redis_url: "{redis_url}", prefix: replicas, timeout: 5.0}}  # generous: CI shares 2 cores with vLLM
auth:
  enabled: true
  keys:
    - {{name: alice, tenant: team, env: TG_TEST_ALICE}}
    - {{name: bob, tenant: quota, env: TG_TEST_BOB}}
    - {{name: carol, tenant: quota, env: TG_TEST_CAROL}}
  tenants: {{team: {{}}, quota: {{}}}}
limits:
  tenants:
    team: {{requests_per_minute: {team_rpm}, tokens_per_minute: 1000000}}
  keys:
    bob: {{thinking_tokens: 1, thinking_period: hour, on_quota_exhausted: no_thinking}}
    carol: {{thinking_tokens: 1, on_quota_exhausted: reject}}
"""


@dataclass(frozen=True)
class Replicas:
    a: str
    b: str
    sim: str
    redis: RedisServer
    logs: list[str]


@pytest.fixture(scope="module")
def replicas() -> Iterator[Replicas]:
    mp = pytest.MonkeyPatch()
    for name, value in (("TG_TEST_ALICE", ALICE), ("TG_TEST_BOB", BOB), ("TG_TEST_CAROL", CAROL)):
        mp.setenv(name, value)
    mp.setenv("THINKGATE_ADMIN_TOKEN", ADMIN)
    logs: list[str] = []
    handler = LogCollector(logs)
    loggers = [logging.getLogger(), logging.getLogger("thinkgate.access")]
    for lg in loggers:
        lg.addHandler(handler)
    root_level = loggers[0].level
    loggers[0].setLevel(logging.INFO)
    try:
        with (
            redis_server() as server,
            run_sim(SimConfig(model="sim-h", mode="hybrid")) as sim,
            run_gateway(policy_yaml(sim.url, server.url, 20)) as a,
            run_gateway(policy_yaml(sim.url, server.url, 20)) as b,
        ):
            yield Replicas(a, b, sim.url, server, logs)
    finally:
        loggers[0].setLevel(root_level)
        for lg in loggers:
            lg.removeHandler(handler)
        mp.undo()


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def admin_put(url: str, text: str) -> httpx.Response:
    return httpx.put(url + "/admin/policy", content=text, headers=auth(ADMIN), timeout=10)


def version(url: str) -> int:
    out: int = httpx.get(url + "/admin/policy", headers=auth(ADMIN), timeout=10).json()["version"]
    return out


async def _burst(urls: list[str], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        calls = [
            client.post(urls[i % 2] + "/v1/chat/completions", json=FAST, headers=auth(ALICE))
            for i in range(n)
        ]
        return list(await asyncio.gather(*calls))


def test_1_two_replicas_share_one_limit_exactly(replicas: Replicas) -> None:
    responses = asyncio.run(_burst([replicas.a, replicas.b], 60))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 20 and statuses.count(429) == 40, statuses
    # each replica got 30 requests and at most 20 can pass in total, so both replicas must have refused some
    # (which of them admitted the 20 depends on timing; unshared limits would have admitted 40)
    refused_by = {
        url for url, r in zip([replicas.a, replicas.b] * 30, responses, strict=True) if r.status_code == 429
    }
    assert refused_by == {replicas.a, replicas.b}
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    ok = next(r for r in responses if r.status_code == 200)
    assert ok.headers["x-ratelimit-limit-requests"] == "20"
    assert int(ok.headers["x-ratelimit-remaining-requests"]) < 20
    assert ok.headers["x-ratelimit-limit-tokens"] == "1000000"
    assert ok.headers["x-ratelimit-reset-requests"].endswith("s")


def test_2_policy_change_reaches_the_other_replica(replicas: Replicas) -> None:
    before = version(replicas.b)
    start = time.monotonic()
    resp = admin_put(replicas.a, policy_yaml(replicas.sim, replicas.redis.url, 500))
    assert resp.status_code == 200, resp.text
    new = resp.json()["version"]
    assert new == before + 1
    assert wait_until(lambda: version(replicas.b) == new, timeout=5.0)
    print(f"policy version {new} reached replica b after {time.monotonic() - start:.3f}s")
    # the new limit is in force on the other replica: alice is admitted again
    resp = httpx.post(replicas.b + "/v1/chat/completions", json=FAST, headers=auth(ALICE), timeout=30)
    assert resp.status_code == 200 and resp.headers["x-ratelimit-limit-requests"] == "500"


def test_3_rollback_is_shared_too(replicas: Replicas) -> None:
    current = version(replicas.a)
    resp = httpx.post(replicas.b + "/admin/policy/rollback", headers=auth(ADMIN), timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == current + 1
    assert wait_until(lambda: version(replicas.a) == current + 1, timeout=5.0)
    text = httpx.get(replicas.a + "/admin/policy", headers=auth(ADMIN), timeout=10).json()["text"]
    assert "requests_per_minute: 20\n" in text and "requests_per_minute: 500" not in text


def test_4_a_bad_policy_never_replaces_a_good_one(replicas: Replicas) -> None:
    current = version(replicas.a)
    bad = policy_yaml(replicas.sim, replicas.redis.url, 20).replace(
        "requests_per_minute: 20", "requests_per_minute: -1"
    )
    resp = admin_put(replicas.a, bad)
    assert resp.status_code == 400
    assert "limits.tenants.team.requests_per_minute" in resp.json()["error"]["message"]
    assert "PUT /admin/policy:17:" in resp.json()["error"]["message"]  # the line of the bad value
    assert (version(replicas.a), version(replicas.b)) == (current, current)


def test_5_quota_spent_serves_without_thinking(replicas: Replicas) -> None:
    first = httpx.post(replicas.a + "/v1/chat/completions", json=DEEP, headers=auth(BOB), timeout=30)
    assert first.status_code == 200 and first.headers["x-thinkgate-effort"] == "high"
    assert first.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] > 1

    def exhausted() -> bool:
        r = httpx.post(replicas.b + "/v1/chat/completions", json=DEEP, headers=auth(BOB), timeout=30)
        return (
            r.status_code == 200
            and r.headers.get("x-thinkgate-quota") == "exhausted"
            and (r.headers["x-thinkgate-effort"] == "none")
        )

    assert wait_until(exhausted, timeout=5.0)


def test_6_quota_spent_rejects_when_the_policy_says_so(replicas: Replicas) -> None:
    first = httpx.post(replicas.b + "/v1/chat/completions", json=DEEP, headers=auth(CAROL), timeout=30)
    assert first.status_code == 200

    def rejected() -> bool:
        r = httpx.post(replicas.a + "/v1/chat/completions", json=DEEP, headers=auth(CAROL), timeout=30)
        return r.status_code == 429 and "thinking-token quota" in r.json()["error"]["message"]

    assert wait_until(rejected, timeout=5.0)


def test_7_keys_never_in_clear_in_redis_or_logs(replicas: Replicas) -> None:
    blob = redis_dump(replicas.redis.port)
    assert b"replicas:policy" in blob and b"replicas:rl:{key:alice}:req" in blob  # the scan saw our data
    assert replicas.logs  # and logging was captured
    text = "\n".join(replicas.logs)
    for secret in (ALICE, BOB, CAROL, ADMIN):
        assert secret.encode() not in blob
        assert secret not in text
