"""Admin endpoints and hot reload without Redis (one process): token checks, versions, rollback, refused
changes, JSON bodies, the file watch, and a thinking quota in the in-memory store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.app import create_app
from gateway.settings import Settings
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import serve_app, wait_until

ADMIN = "admin-secret-7d1c"
FAST = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
DEEP = {"model": "deep", "messages": [{"role": "user", "content": "think"}]}


def policy_yaml(sim: str, rpm: int) -> str:
    return f"""\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim-h, endpoints: ["{sim}"]}}
models:
  fast: {{effort: none, instruct: [h]}}
  deep: {{effort: high, thinking: [h], instruct: [h]}}
limits:
  default: {{requests_per_minute: {rpm}, thinking_tokens: 1}}
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with run_sim(SimConfig(model="sim-h", mode="hybrid")) as server:
        yield server.url


@pytest.fixture
def gw(sim: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A gateway started from a policy file (so the file is watched)."""
    monkeypatch.setenv("THINKGATE_ADMIN_TOKEN", ADMIN)
    path = tmp_path / "policy.yaml"
    path.write_text(policy_yaml(sim, 1000))
    app = create_app(Settings(config=str(path), health_interval=0.5))
    with serve_app(app) as url:
        yield url, path


def admin(method: str, url: str, token: str | None = ADMIN, **kw: object) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.request(method, url, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong", 403), (ADMIN + "x", 403)])
def test_admin_token_checked(gw: tuple[str, Path], token: str | None, status: int) -> None:
    resp = admin("GET", gw[0] + "/admin/policy", token)
    assert resp.status_code == status
    assert ADMIN not in resp.text


def test_basic_auth_is_not_a_bearer_token(gw: tuple[str, Path]) -> None:
    resp = httpx.get(gw[0] + "/admin/policy", headers={"authorization": f"Basic {ADMIN}"}, timeout=10)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"


def test_admin_disabled_without_token_variable(gw: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THINKGATE_ADMIN_TOKEN")
    resp = admin("GET", gw[0] + "/admin/policy")
    assert resp.status_code == 403
    assert "THINKGATE_ADMIN_TOKEN" in resp.json()["error"]["message"]


def test_put_versions_and_rollback(gw: tuple[str, Path], sim: str) -> None:
    url, path = gw
    first = admin("GET", url + "/admin/policy").json()
    assert (first["version"], first["source"], first["previous_version"]) == (1, str(path), None)
    assert admin("POST", url + "/admin/policy/rollback").status_code == 409  # nothing to roll back to
    resp = admin("PUT", url + "/admin/policy", content=policy_yaml(sim, 7))
    assert resp.json() | {"sha256": ""} == {
        "version": 2, "source": "PUT /admin/policy", "sha256": "", "previous_version": 1, "shared": False
    }  # fmt: skip
    assert httpx.post(url + "/v1/chat/completions", json=FAST).headers["x-ratelimit-limit-requests"] == "7"
    back = admin("POST", url + "/admin/policy/rollback").json()
    assert (back["version"], back["source"]) == (3, "rollback to version 1")
    assert httpx.post(url + "/v1/chat/completions", json=FAST).headers["x-ratelimit-limit-requests"] == "1000"


def test_json_body_is_accepted(gw: tuple[str, Path], sim: str) -> None:
    data = yaml.safe_load(policy_yaml(sim, 9))
    resp = admin("PUT", gw[0] + "/admin/policy", content=json.dumps(data))
    assert resp.status_code == 200 and resp.json()["version"] == 2


@pytest.mark.parametrize(
    ("mutate", "status", "needle"),
    [
        (lambda t: t.replace("version: 1", "version: 2"), 400, "PUT /admin/policy:1: version"),
        (lambda t: t + "  bogus: 1\n", 400, "bogus"),
        (lambda t: t + "limits: [unclosed\n", 400, "invalid YAML"),
        (lambda t: t.replace("model: sim-h", "model: other"), 409, "'backends'"),
        (lambda t: t + "state: {redis_url: 'redis://127.0.0.1:1'}\n", 409, "'state'"),
        (lambda t: t + "  keys: {ghost: {requests_per_minute: 1}}\n", 400, "unknown key 'ghost'"),
    ],
)
def test_bad_or_refused_policy_changes_nothing(
    gw: tuple[str, Path], sim: str, mutate: object, status: int, needle: str
) -> None:
    url = gw[0]
    resp = admin("PUT", url + "/admin/policy", content=mutate(policy_yaml(sim, 5)))  # type: ignore[operator]
    assert resp.status_code == status, resp.text
    assert needle in resp.json()["error"]["message"]
    assert admin("GET", url + "/admin/policy").json()["version"] == 1


def test_file_watch_applies_good_changes_only(gw: tuple[str, Path], sim: str) -> None:
    url, path = gw
    path.write_text(policy_yaml(sim, 1000).replace("requests_per_minute: 1000", "requests_per_minute: 0"))
    path.write_text(policy_yaml(sim, 11))

    def limit() -> str | None:
        value: str | None = httpx.post(url + "/v1/chat/completions", json=FAST).headers.get(
            "x-ratelimit-limit-requests"
        )
        return value

    assert wait_until(lambda: limit() == "11", timeout=10)
    path.write_text("version: 1\nbackends: {}\n")  # invalid: kept out
    assert wait_until(
        lambda: (
            'thinkgate_policy_reloads_total{origin="file",outcome="invalid"} 1.0'
            in httpx.get(url + "/metrics").text
        ),
        timeout=10,
    )
    assert limit() == "11"
    assert admin("GET", url + "/admin/policy").json()["version"] == 2


def test_thinking_quota_in_memory(gw: tuple[str, Path]) -> None:
    url = gw[0]
    first = httpx.post(url + "/v1/chat/completions", json=DEEP, timeout=30)
    assert first.headers["x-thinkgate-effort"] == "high" and "x-thinkgate-quota" not in first.headers

    def off() -> bool:
        r = httpx.post(url + "/v1/chat/completions", json=DEEP, timeout=30)
        return r.headers.get("x-thinkgate-quota") == "exhausted" and r.headers["x-thinkgate-effort"] == "none"

    assert wait_until(off, timeout=5)
    assert "thinkgate_quota_exhausted_total 1.0" in httpx.get(url + "/metrics").text
