"""Two ``thinkgate serve`` processes sharing one real Redis: one limit for both under concurrent load, a
policy change made on one process seen by the other, and runtime API keys shared."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import httpx

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import gateway_process as harness_gateway_process
from tests.harness import wait_until
from tests.redis_server import redis_server

KEY = "sk-proc-0123456789abcdef"
ADMIN = "admin-token-proc-42a7d1"
RPM = 25
FAST = {"model": "fast", "messages": [{"role": "user", "content": "hello"}]}


def policy_yaml(sim: str, redis_url: str, rpm: int) -> str:
    return f"""\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim-h, endpoints: ["{sim}"]}}
models:
  fast: {{effort: none, instruct: [h]}}
state: {{redis_url: "{redis_url}", prefix: procs, timeout: 2.0}}
auth:
  enabled: true
  keys:
    - {{name: loadgen, tenant: team, env: TG_TEST_PROC_KEY}}
  tenants: {{team: {{}}}}
limits:
  keys:
    loadgen: {{requests_per_minute: {rpm}}}
"""


def gateway_process(config: Path) -> AbstractContextManager[str]:
    """A ``thinkgate serve`` child process with the test's key and admin token in its environment."""
    return harness_gateway_process(config, env={"TG_TEST_PROC_KEY": KEY, "THINKGATE_ADMIN_TOKEN": ADMIN})


async def _burst(urls: list[str], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        calls = [
            client.post(
                urls[i % len(urls)] + "/v1/chat/completions",
                json=FAST,
                headers={"authorization": f"Bearer {KEY}"},
            )
            for i in range(n)
        ]
        return list(await asyncio.gather(*calls))


def admin_version(url: str) -> int:
    resp = httpx.get(url + "/admin/policy", headers={"authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    version: int = resp.json()["version"]
    return version


def test_two_processes_share_one_limit_and_the_policy(tmp_path: Path) -> None:
    with ExitStack() as stack:
        server = stack.enter_context(redis_server())
        sim = stack.enter_context(run_sim(SimConfig(model="sim-h", mode="hybrid")))
        config = tmp_path / "policy.yaml"
        config.write_text(policy_yaml(sim.url, server.url, RPM))
        a = stack.enter_context(gateway_process(config))
        b = stack.enter_context(gateway_process(config))

        n = 3 * RPM
        responses = asyncio.run(_burst([a, b], n))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == RPM and statuses.count(429) == n - RPM, statuses
        # each process got more than RPM requests, so with a counter of its own each would have admitted RPM
        # (2 * RPM in all): exactly RPM means they shared one counter. Which process admitted which request
        # depends on timing, so that is not asserted.
        targets = [a, b] * n
        assert all(targets[:n].count(url) > RPM for url in (a, b))
        assert {r.headers["x-ratelimit-limit-requests"] for r in responses} == {str(RPM)}
        for r in responses:
            if r.status_code == 429:
                assert 1 <= int(r.headers["retry-after"]) <= 60
                assert r.json()["error"]["type"] == "rate_limit_error"

        # a policy change on one process reaches the other (the file itself is unchanged)
        before = admin_version(b)
        new_text = policy_yaml(sim.url, server.url, 10 * RPM)
        resp = httpx.put(
            a + "/admin/policy", content=new_text, headers={"authorization": f"Bearer {ADMIN}"}, timeout=10
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["version"] == before + 1
        assert wait_until(lambda: admin_version(b) == before + 1, timeout=10.0, interval=0.1)
        text = httpx.get(b + "/admin/policy", headers={"authorization": f"Bearer {ADMIN}"}, timeout=10).json()
        assert f"requests_per_minute: {10 * RPM}" in text["text"]
        again = httpx.post(
            b + "/v1/chat/completions", json=FAST, headers={"authorization": f"Bearer {KEY}"}, timeout=30
        )
        assert again.status_code == 200 and again.headers["x-ratelimit-limit-requests"] == str(10 * RPM)

        # a runtime key added on one process is accepted by the other, and refused there once deleted
        admin = {"authorization": f"Bearer {ADMIN}"}
        added = httpx.post(
            a + "/admin/keys", json={"name": "late", "tenant": "team"}, headers=admin, timeout=10
        )
        assert added.status_code == 201, added.text
        late = {"authorization": f"Bearer {added.json()['key']}"}

        def status_on_b() -> int:
            return httpx.post(b + "/v1/chat/completions", json=FAST, headers=late, timeout=30).status_code

        assert wait_until(lambda: status_on_b() == 200, timeout=5.0, interval=0.1)
        assert httpx.delete(a + "/admin/keys/late", headers=admin, timeout=10).status_code == 200
        assert wait_until(lambda: status_on_b() == 401, timeout=5.0, interval=0.1)
