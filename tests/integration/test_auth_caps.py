"""API keys, tenants and caps (policy ``auth:``), against a simulator."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from gateway.config import parse_policy_text
from gateway.demo_policy import demo_policy_yaml
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import run_gateway

CAPPED_KEY = "sk-team-capped-0123456789"
OPEN_KEY = "sk-open-abcdef"
USER = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def gw(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch_module.setenv("TG_TEST_OPEN_KEY", OPEN_KEY)
    with run_sim(SimConfig(model="sim-h", mode="hybrid")) as sim:
        text = (
            demo_policy_yaml(sim.url, sim.url, sim.url)
            .replace("sim-qwen3-thinking-2507", "sim-h")
            .replace("sim-qwen3-instruct-2507", "sim-h")
            .replace("sim-qwen3-hybrid", "sim-h")
        )
        text = text.replace(
            "family: qwen3-thinking-2507\n    mode: thinking", "family: qwen3\n    mode: hybrid"
        )
        text = text.replace(
            "family: qwen3-instruct-2507\n    mode: instruct", "family: qwen3\n    mode: hybrid"
        )
        text += f"""
auth:
  enabled: true
  keys:
    - {{name: capped, tenant: team, sha256: {hashlib.sha256(CAPPED_KEY.encode()).hexdigest()}}}
    - {{name: open, tenant: lab, env: TG_TEST_OPEN_KEY}}
  tenants:
    team: {{models: [auto, auto-fast], max_effort: low, max_budget: 600}}
    lab: {{}}
"""
        with run_gateway(parse_policy_text(text)) as url:
            yield url


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def post(gw: str, key: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(gw + "/v1/chat/completions", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("key", [None, "sk-wrong", CAPPED_KEY + "x", ""])
def test_missing_or_wrong_key_is_401(gw: str, key: str | None) -> None:
    resp = post(gw, key, {"model": "auto", "messages": USER})
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"
    assert resp.headers["www-authenticate"] == "Bearer"
    assert CAPPED_KEY not in resp.text


def test_sdk_raises_authentication_error(gw: str) -> None:
    client = openai.OpenAI(base_url=gw + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="auto", messages=USER)  # type: ignore[arg-type]


def test_tenant_model_allow_list(gw: str) -> None:
    assert post(gw, CAPPED_KEY, {"model": "auto-fast", "messages": USER}).status_code == 200
    resp = post(gw, CAPPED_KEY, {"model": "auto-deep", "messages": USER})
    assert resp.status_code == 403 and resp.json()["error"]["type"] == "permission_error"
    assert post(gw, CAPPED_KEY, {"model": "sim-h", "messages": USER}).status_code == 403
    ids = [
        m["id"]
        for m in httpx.get(gw + "/v1/models", headers={"authorization": f"Bearer {CAPPED_KEY}"}).json()[
            "data"
        ]
    ]
    assert ids == ["auto", "auto-fast"]


def test_caps_lower_effort_and_budget_and_say_so(gw: str) -> None:
    resp = post(gw, CAPPED_KEY, {"model": "auto", "messages": USER, "reasoning_effort": "high"})
    assert resp.status_code == 200
    assert resp.headers["x-thinkgate-effort"] == "low"
    assert resp.headers["x-thinkgate-budget"] == "600"
    assert resp.headers["x-thinkgate-capped"] == "true"
    resp = post(gw, CAPPED_KEY, {"model": "auto", "messages": USER, "reasoning_effort": "none"})
    assert "x-thinkgate-capped" not in resp.headers


def test_uncapped_tenant_and_env_key(gw: str) -> None:
    resp = post(gw, OPEN_KEY, {"model": "auto-deep", "messages": USER})
    assert resp.status_code == 200
    assert resp.headers["x-thinkgate-effort"] == "high" and "x-thinkgate-capped" not in resp.headers


def test_route_preview_applies_caps(gw: str) -> None:
    body = {"model": "auto", "messages": USER, "reasoning_effort": "xhigh"}
    out = httpx.post(
        gw + "/v1/route", json=body, headers={"authorization": f"Bearer {CAPPED_KEY}"}, timeout=10
    ).json()
    assert (out["effort"], out["budget"], out["capped"]) == ("low", 600, True)


def test_health_and_metrics_need_no_key(gw: str) -> None:
    assert httpx.get(gw + "/health").status_code == 200
    assert httpx.get(gw + "/metrics").status_code == 200


def test_missing_env_key_fails_startup() -> None:
    from gateway.app import create_app
    from gateway.settings import Settings

    text = (
        demo_policy_yaml("http://a", "http://b", "http://c")
        + """
auth:
  enabled: true
  keys: [{name: k, tenant: t, env: TG_TEST_SURELY_UNSET_VARIABLE}]
  tenants: {t: {}}
"""
    )
    with pytest.raises(ValueError, match="TG_TEST_SURELY_UNSET_VARIABLE"):
        create_app(Settings(), parse_policy_text(text))


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/route"])
def test_unknown_model_404_lists_only_the_tenants_models(gw: str, path: str) -> None:
    """Issue 12, defect 6: the 404 listed every model, including ones the caller's tenant may not use."""
    body: dict[str, Any] = {"model": "no-such-model", "messages": USER, "prompt": "hi"}
    headers = {"authorization": f"Bearer {CAPPED_KEY}"}
    resp = httpx.post(gw + path, json=body, headers=headers, timeout=30)
    assert resp.status_code == 404, resp.text
    message = resp.json()["error"]["message"]
    assert message.endswith("Available models: auto, auto-fast"), message
    assert "auto-deep" not in message and "sim-h" not in message


def test_unknown_model_404_lists_every_model_for_an_open_tenant(gw: str) -> None:
    resp = post(gw, OPEN_KEY, {"model": "no-such-model", "messages": USER})
    assert resp.status_code == 404
    assert resp.json()["error"]["message"].endswith("Available models: auto, auto-deep, auto-fast, sim-h")


def test_responses_front_door_applies_keys_tenants_and_caps(gw: str) -> None:
    """/v1/responses goes through the same prologue: 401 without a key, the tenant's model list, its caps."""
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gw + "/v1", api_key="sk-wrong-key-000000", max_retries=0).responses.create(
            model="auto", input="hello"
        )
    capped = openai.OpenAI(base_url=gw + "/v1", api_key=CAPPED_KEY, max_retries=0)
    raw = capped.responses.with_raw_response.create(model="auto", input="hello", reasoning={"effort": "high"})
    assert raw.headers["x-thinkgate-effort"] == "low"
    assert raw.headers["x-thinkgate-capped"] == "true"
    assert raw.headers["x-thinkgate-front-door"] == "responses"
    with pytest.raises(openai.PermissionDeniedError):
        capped.responses.create(model="auto-deep", input="hello")
