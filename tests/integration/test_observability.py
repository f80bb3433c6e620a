"""The dashboard and the alert rules match the code: traffic through every path of a real gateway (simulated
backends), then every ``thinkgate_*`` series named in deploy/grafana/thinkgate.json and
deploy/prometheus/alerts.yml must be in the scrape of ``/metrics``. Also: one access-log line per request.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.logs import ACCESS_LOGGER
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import make_policy, run_gateway

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\bthinkgate_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
USER = [{"role": "user", "content": "Plan a three-day trip; my email is jane.doe@example.com"}]


@dataclass
class Scrape:
    """The exported series names: with samples, and every name a declared family can produce."""

    sampled: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)
    text: str = ""


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass(frozen=True)
class Run:
    scrape: Scrape
    responses: dict[str, httpx.Response]
    log: list[dict[str, Any]]


def scrape(url: str) -> Scrape:
    text = httpx.get(url + "/metrics", timeout=10).text
    out = Scrape(text=text)
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("thinkgate_"):
            continue
        out.declared.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
        out.sampled.update(s.name for s in family.samples)
    return out


def used_names(text: str) -> set[str]:
    return set(NAME.findall(text))


def dashboard_names() -> set[str]:
    board = json.loads((DEPLOY / "grafana" / "thinkgate.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", ())]
    exprs += [v["definition"] for v in board["templating"]["list"] if "definition" in v]
    return used_names("\n".join(exprs))


def alert_names(file: str) -> set[str]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / file).read_text(encoding="utf-8"))
    return used_names("\n".join(r["expr"] for g in doc["groups"] for r in g["rules"]))


def chat(gw: str, body: dict[str, Any]) -> httpx.Response:
    payload = {"messages": USER, "max_tokens": 200, "seed": 1, **body}
    if not body.get("stream"):
        return httpx.post(gw + "/v1/chat/completions", json=payload, timeout=30)
    with httpx.stream("POST", gw + "/v1/chat/completions", json=payload, timeout=30) as resp:
        resp.read()
    assert resp.content.rstrip().endswith(b"data: [DONE]")
    return resp


def sims() -> dict[str, SimConfig]:
    return {
        "hybrid": SimConfig(model="sim-hybrid", mode="hybrid", reasoning_words=60),
        "thinking": SimConfig(model="sim-thinking", mode="thinking", seed=1, reasoning_words=60),
        "instruct": SimConfig(model="sim-instruct", mode="instruct", seed=2),
        "err0": SimConfig(model="sim-broken", mode="instruct", error_rate=1.0),
        "err1": SimConfig(model="sim-broken", mode="instruct", error_rate=1.0, seed=3),
    }


TRAFFIC: dict[str, dict[str, Any]] = {
    "instruct": {"model": "auto-fast"},
    "thinking": {"model": "auto-deep"},
    "classified": {"model": "auto"},
    "native-budget-stream": {
        "model": "auto",
        "reasoning_effort": "minimal",
        "stream": True,
        "stream_options": {"include_usage": True},
    },
    "thinking-stream": {"model": "auto-deep", "stream": True},
    "forcing": {"model": "forced"},
    "forcing-stream": {"model": "forced", "stream": True, "stream_options": {"include_usage": True}},
    "failover": {"model": "failover"},
    "upstream-error": {"model": "broken"},
    "backend-4xx": {"model": "auto-fast", "max_tokens": 10**7},
}


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    handler = Lines()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    try:
        with (
            run_sim(sims()["hybrid"]) as hybrid,
            run_sim(sims()["thinking"]) as thinking,
            run_sim(sims()["instruct"]) as instruct,
            run_sim(sims()["err0"]) as err0,
            run_sim(sims()["err1"]) as err1,
        ):
            policy = make_policy(
                {
                    "hybrid": {
                        "family": "qwen3",
                        "mode": "hybrid",
                        "model": "sim-hybrid",
                        "endpoints": [hybrid.url],
                    },
                    "forcing": {
                        "family": "qwen3",
                        "mode": "hybrid",
                        "model": "sim-hybrid",
                        "endpoints": [hybrid.url],
                        "budget": "forcing",
                    },
                    "thinking": {
                        "family": "qwen3-thinking-2507",
                        "mode": "thinking",
                        "model": "sim-thinking",
                        "endpoints": [thinking.url],
                    },
                    "instruct": {
                        "family": "qwen3-instruct-2507",
                        "mode": "instruct",
                        "model": "sim-instruct",
                        "endpoints": [instruct.url],
                    },
                    "flaky": {
                        "family": "qwen3-instruct-2507",
                        "mode": "instruct",
                        "model": "sim-broken",
                        "endpoints": [err0.url, err1.url],
                    },
                },
                {
                    "auto": {
                        "effort": "classify",
                        "thinking": ["hybrid", "thinking"],
                        "instruct": ["instruct"],
                    },
                    "auto-fast": {"effort": "none", "instruct": ["instruct"]},
                    "auto-deep": {"effort": "high", "thinking": ["thinking"]},
                    "forced": {"effort": "low", "thinking": ["forcing"]},
                    "failover": {"effort": "none", "instruct": ["flaky", "instruct"]},
                    "broken": {"effort": "none", "instruct": ["flaky"]},
                },
                budgets={"minimal": 4, "low": 8, "medium": 4096, "high": 16384},
            )
            with run_gateway(policy, max_attempts=3) as gw:
                responses = {name: chat(gw, body) for name, body in TRAFFIC.items()}
                result = scrape(gw)
    finally:
        logger.removeHandler(handler)
    yield Run(result, responses, [orjson.loads(line) for line in handler.lines])


def test_traffic_took_every_path(run: Run) -> None:
    status = {name: r.status_code for name, r in run.responses.items()}
    assert status == {
        **dict.fromkeys(TRAFFIC, 200),
        "upstream-error": 502,
        "backend-4xx": 400,
    }
    assert run.responses["forcing"].headers["x-thinkgate-budget-mode"] == "forcing"
    assert run.responses["failover"].headers["x-thinkgate-backend"] == "instruct"
    assert run.responses["thinking"].headers["x-thinkgate-effort"] == "high"
    assert run.responses["instruct"].headers["x-thinkgate-effort"] == "none"
    # the series these paths must have produced (so the names below are checked against real samples)
    for name in (
        "thinkgate_requests_total",
        "thinkgate_request_duration_seconds_bucket",
        "thinkgate_time_to_first_token_seconds_bucket",
        "thinkgate_tokens_total",
        "thinkgate_budget_hits_total",
        "thinkgate_upstream_errors_total",
        "thinkgate_upstream_retries_total",
        "thinkgate_endpoint_up",
        "thinkgate_inflight_requests",
        "thinkgate_decisions_total",
    ):
        assert name in run.scrape.sampled, name
    outcomes = re.findall(r'thinkgate_requests_total\{[^}]*outcome="([a-z_]+)"', run.scrape.text)
    assert {"ok", "upstream_error", "client_error"} <= set(outcomes)
    hits = re.findall(r'thinkgate_budget_hits_total\{effort="([a-z]+)"\} ([0-9.]+)', run.scrape.text)
    assert {e for e, v in hits if float(v) > 0} >= {"minimal", "low"}


@pytest.mark.parametrize("source", ["dashboard", "alerts.yml"])
def test_every_metric_in_dashboards_and_alerts_is_exported(run: Run, source: str) -> None:
    names = dashboard_names() if source == "dashboard" else alert_names(source)
    assert names, f"{source} names no thinkgate_ metric"
    exported = run.scrape.sampled | run.scrape.declared
    missing = sorted(names - exported)
    assert not missing, f"{source} uses metrics the gateway does not export: {missing}"


def test_the_name_check_can_fail(run: Run) -> None:
    names = used_names("sum(rate(thinkgate_requests_total[5m])) / sum(rate(thinkgate_request_total[5m]))")
    exported = run.scrape.sampled | run.scrape.declared
    assert names - exported == {"thinkgate_request_total"}
    assert "thinkgate_requests_bucket" not in exported  # a counter has no buckets


def test_every_request_counted_once(run: Run) -> None:
    """Requests (by outcome: ok, upstream and client errors), decisions and streams' first tokens are counted
    once per request: the bookkeeping runs after the answer's last byte, on every outcome."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(run.scrape.text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    assert totals["thinkgate_requests_total"] == len(TRAFFIC)
    assert totals["thinkgate_decisions_total"] == len(TRAFFIC)
    streams = [name for name, body in TRAFFIC.items() if body.get("stream")]
    assert totals["thinkgate_time_to_first_token_seconds_count"] == len(streams)
    assert totals["thinkgate_request_duration_seconds_count"] == len(TRAFFIC)


def test_one_access_log_line_per_request(run: Run) -> None:
    by_id = {line["request_id"]: line for line in run.log}
    assert len(by_id) == len(run.log), "a request was logged twice"
    expected_outcome = {"upstream-error": "upstream_error", "backend-4xx": "client_error"}
    for name, resp in run.responses.items():
        line = by_id[resp.headers["x-request-id"]]
        assert line["event"] == "request"
        assert line["model"] == TRAFFIC[name]["model"]
        assert line["effort"] == resp.headers["x-thinkgate-effort"]
        assert line["source"] == resp.headers["x-thinkgate-source"]
        assert line["outcome"] == expected_outcome.get(name, "ok")
        assert line["latency_ms"] > 0
        if resp.status_code == 200:
            assert line["pool"] == resp.headers["x-thinkgate-backend"]
            assert line["completion_tokens"] > 0 and line["prompt_tokens"] > 0
    assert by_id[run.responses["thinking"].headers["x-request-id"]]["reasoning_tokens"] > 0
    assert by_id[run.responses["forcing"].headers["x-request-id"]]["budget_hit"] is True
    # text is off by default: neither the prompt nor the completion appears
    assert not any("prompt" in line or "completion" in line for line in run.log)
    assert "example.com" not in json.dumps(run.log)
