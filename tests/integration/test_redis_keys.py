"""Runtime API keys (``/admin/keys``): shared by two gateways through a real Redis, kept only as digests,
and still accepted from the process's copy while Redis is down; in memory without Redis."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis as sync_redis

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import LogCollector, run_gateway, wait_until
from tests.redis_server import RedisServer, redis_dump, redis_server

FILE_KEY = "sk-file-0123456789abcdef"
ADMIN = "admin-token-7c1d9e44b0"
GIVEN = "sk-given-key-0123456789abcdef"
FAST = {"model": "fast", "messages": [{"role": "user", "content": "hello"}]}


def policy_yaml(sim: str, redis_url: str | None) -> str:
    state = f'state: {{redis_url: "{redis_url}", prefix: keys, timeout: 2.0}}\n' if redis_url else ""
    return f"""\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim-h, endpoints: ["{sim}"]}}
models:
  fast: {{effort: none, instruct: [h]}}
{state}auth:
  enabled: true
  keys:
    - {{name: file-key, tenant: team, env: TG_TEST_FILE_KEY}}
  tenants: {{team: {{}}, small: {{max_effort: low}}}}
"""


@dataclass(frozen=True)
class Replicas:
    a: str
    b: str
    redis: RedisServer
    logs: list[str]


@pytest.fixture(scope="module")
def replicas() -> Iterator[Replicas]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TG_TEST_FILE_KEY", FILE_KEY)
    mp.setenv("THINKGATE_ADMIN_TOKEN", ADMIN)
    logs: list[str] = []
    handler = LogCollector(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        with (
            redis_server() as server,
            run_sim(SimConfig(model="sim-h", mode="hybrid")) as sim,
            run_gateway(policy_yaml(sim.url, server.url)) as a,
            run_gateway(policy_yaml(sim.url, server.url)) as b,
        ):
            yield Replicas(a, b, server, logs)
    finally:
        root.setLevel(level)
        root.removeHandler(handler)
        mp.undo()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def chat(url: str, key: str) -> int:
    return httpx.post(url + "/v1/chat/completions", json=FAST, headers=bearer(key), timeout=30).status_code


def add(url: str, body: dict[str, Any], token: str = ADMIN) -> httpx.Response:
    return httpx.post(url + "/admin/keys", json=body, headers=bearer(token), timeout=10)


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/admin/keys", {}, 401),
        ("GET", "/admin/keys", {}, 401),
        ("DELETE", "/admin/keys/x", {}, 401),
        ("POST", "/admin/keys", bearer("wrong-token"), 403),
        ("GET", "/admin/keys", bearer(FILE_KEY), 403),  # an API key is not the admin token
        ("DELETE", "/admin/keys/x", bearer("wrong-token"), 403),
    ],
)
def test_1_admin_token_is_required(
    replicas: Replicas, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    body = {"name": "sneaky", "tenant": "team"}
    resp = httpx.request(method, replicas.a + path, json=body, headers=headers, timeout=10)
    assert resp.status_code == status, resp.text
    listed = httpx.get(replicas.a + "/admin/keys", headers=bearer(ADMIN), timeout=10).json()["data"]
    assert "sneaky" not in [k["name"] for k in listed]


def test_2_a_key_added_on_a_works_on_b(replicas: Replicas) -> None:
    resp = add(replicas.a, {"name": "gen", "tenant": "small"})
    assert resp.status_code == 201, resp.text
    out = resp.json()
    key = out["key"]
    assert out["name"] == "gen" and out["tenant"] == "small" and len(key) >= 40
    assert chat(replicas.a, key) == 200  # the replica that added it knows it at once
    assert wait_until(lambda: chat(replicas.b, key) == 200, timeout=3.0)
    # the key's tenant applies: 'small' caps effort at low
    resp = httpx.post(
        replicas.b + "/v1/chat/completions",
        json={**FAST, "model": "sim-h", "reasoning_effort": "high"},
        headers=bearer(key),
        timeout=30,
    )
    assert resp.status_code == 200 and resp.headers["x-thinkgate-effort"] == "low", resp.headers

    given = add(replicas.b, {"name": "given", "tenant": "team", "key": GIVEN})
    assert given.status_code == 201 and given.json()["key"] == GIVEN
    assert wait_until(lambda: chat(replicas.a, GIVEN) == 200, timeout=3.0)
    assert chat(replicas.a, FILE_KEY) == 200  # policy keys are unaffected


def test_3_listing_shows_names_and_tenants_only(replicas: Replicas) -> None:
    for url in (replicas.a, replicas.b):
        resp = httpx.get(url + "/admin/keys", headers=bearer(ADMIN), timeout=10)
        assert resp.status_code == 200
        data = resp.json()["data"]
        assert {(k["name"], k["tenant"], k["source"]) for k in data} >= {
            ("file-key", "team", "policy"),
            ("gen", "small", "runtime"),
            ("given", "team", "runtime"),
        }
        assert all(set(k) == {"name", "tenant", "source"} for k in data)
        assert GIVEN not in resp.text and FILE_KEY not in resp.text


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"name": "x", "tenant": "nobody"}, 400, "unknown tenant 'nobody'"),
        ({"name": "file-key", "tenant": "team"}, 409, "key of the policy file"),
        ({"name": "gen", "tenant": "team"}, 409, "runtime key named 'gen'"),
        ({"name": "again", "tenant": "team", "key": GIVEN}, 409, "already in use"),
        ({"name": "again", "tenant": "team", "key": FILE_KEY}, 409, "already in use"),
        ({"name": "short", "tenant": "team", "key": "tooshort"}, 400, "'key' must be"),
        ({"name": "bad name!", "tenant": "team"}, 400, "'name' must be"),
        ({"name": "x"}, 400, "'tenant' must be"),
        ({"name": "x", "tenant": "team", "extra": 1}, 400, "unknown field(s): extra"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_4_bad_requests_are_refused(replicas: Replicas, body: Any, status: int, needle: str) -> None:
    resp = add(replicas.a, body)
    assert resp.status_code == status, resp.text
    assert needle in resp.json()["error"]["message"]


def test_5_deleted_keys_stop_working_on_both(replicas: Replicas) -> None:
    key = add(replicas.a, {"name": "temp", "tenant": "team"}).json()["key"]
    assert wait_until(lambda: chat(replicas.b, key) == 200, timeout=3.0)
    resp = httpx.delete(replicas.b + "/admin/keys/temp", headers=bearer(ADMIN), timeout=10)
    assert resp.status_code == 200 and resp.json() == {"name": "temp", "deleted": True}
    assert chat(replicas.b, key) == 401
    assert wait_until(lambda: chat(replicas.a, key) == 401, timeout=3.0)
    again = httpx.delete(replicas.a + "/admin/keys/temp", headers=bearer(ADMIN), timeout=10)
    assert again.status_code == 404
    policy_key = httpx.delete(replicas.a + "/admin/keys/file-key", headers=bearer(ADMIN), timeout=10)
    assert policy_key.status_code == 409


def test_6_keys_never_in_clear_in_redis_or_logs(replicas: Replicas) -> None:
    blob = redis_dump(replicas.redis.port)
    client = sync_redis.Redis(port=replicas.redis.port)
    stored: dict[Any, Any] = client.hgetall("keys:keys")
    client.close()
    assert set(stored) == {b"gen", b"given"}  # the scan saw the runtime keys ...
    assert stored[b"given"].startswith(hashlib.sha256(GIVEN.encode()).hexdigest().encode())
    text = "\n".join(replicas.logs)
    assert "runtime API key 'gen' added" in text  # ... and logging was captured
    for secret in (GIVEN, FILE_KEY, ADMIN):
        assert secret.encode() not in blob
        assert secret not in text


def test_7_cached_keys_work_while_redis_is_down(replicas: Replicas) -> None:
    replicas.redis.stop()
    try:
        for url in (replicas.a, replicas.b):
            assert chat(url, GIVEN) == 200  # from the process's copy (fail-open limits)
            assert chat(url, "sk-unknown-0123456789abcdef") == 401
        resp = add(replicas.a, {"name": "during", "tenant": "team"})
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "shared_state_unavailable"
        listed = httpx.get(replicas.b + "/admin/keys", headers=bearer(ADMIN), timeout=10).json()
        assert listed["stale"] is True and "given" in [k["name"] for k in listed["data"]]
    finally:
        replicas.redis.start()
    # Redis is back (empty: it kept nothing); the replicas notice on their next refresh and changes work again
    assert wait_until(lambda: add(replicas.a, {"name": "after", "tenant": "team"}).status_code == 201, 10.0)


def test_keys_in_memory_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_FILE_KEY", FILE_KEY)
    monkeypatch.setenv("THINKGATE_ADMIN_TOKEN", ADMIN)
    with (
        run_sim(SimConfig(model="sim-h", mode="hybrid")) as sim,
        run_gateway(policy_yaml(sim.url, None)) as url,
    ):
        key = add(url, {"name": "local", "tenant": "team"}).json()["key"]
        assert chat(url, key) == 200
        # a policy change keeps the runtime keys
        text = policy_yaml(sim.url, None).replace("small: {max_effort: low}", "small: {max_effort: medium}")
        assert (
            httpx.put(url + "/admin/policy", content=text, headers=bearer(ADMIN), timeout=10).status_code
            == 200
        )
        assert chat(url, key) == 200
        assert httpx.delete(url + "/admin/keys/local", headers=bearer(ADMIN), timeout=10).status_code == 200
        assert chat(url, key) == 401
