"""No request's metric update is lost: after N requests of every outcome (ok, backend 4xx, upstream error, a
client that left mid-stream), scraped between rounds, ``/metrics`` holds exactly N of each, and the tokens the
clients were told about; with two workers every scrape, whichever worker serves it, holds all of them.

The per-request updates are tallied and handed to prometheus_client when the registry is collected (one
worker; with several they go to its mmap files at once): see gateway/metrics.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import gateway_process, make_policy, run_gateway, wait_until

USER = [{"role": "user", "content": "Explain why the sky is blue, step by step."}]


def pools(fast: str, broken: str, slow: str | None = None) -> dict[str, dict[str, Any]]:
    out = {
        "h": {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": [fast]},
        "broken": {
            "family": "qwen3-instruct-2507",
            "mode": "instruct",
            "model": "sim-broken",
            "endpoints": [broken],
        },
    }
    if slow is not None:
        out["slow"] = {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": [slow]}
    return out


MODELS: dict[str, dict[str, Any]] = {
    "auto": {"effort": "classify", "thinking": ["h"], "instruct": ["h"]},
    "fast": {"effort": "none", "instruct": ["h"]},
    "broken": {"effort": "none", "instruct": ["broken"]},
    "slow": {"effort": "high", "thinking": ["slow"]},
}


def totals(text: str) -> dict[str, float]:
    """Samples summed over their labels; requests by outcome, tokens by kind, in-flight by endpoint."""
    out: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "thinkgate_requests_total":
                out["requests:" + s.labels["outcome"]] += s.value
            elif s.name == "thinkgate_tokens_total":
                out["tokens:" + s.labels["kind"]] += s.value
            elif s.name == "thinkgate_inflight_requests":
                out["inflight"] += s.value
            elif s.name.startswith("thinkgate_") and not s.name.endswith(("_created", "_bucket")):
                out[s.name] += s.value
    return dict(out)


def usage_of(resp: httpx.Response, stream: bool) -> Counter[str]:
    """The usage the client was told: the answer's, or the last stream chunk's."""
    if stream:
        chunks = [b[6:] for b in resp.content.split(b"\n\n") if b.startswith(b"data: {")]
        usage = orjson.loads(chunks[-1])["usage"]
    else:
        usage = resp.json()["usage"]
    details = usage.get("completion_tokens_details") or {}
    return Counter(
        {
            "tokens:prompt": usage["prompt_tokens"],
            "tokens:completion": usage["completion_tokens"],
            "tokens:reasoning": details.get("reasoning_tokens") or 0,
        }
    )


def post(gw: str, model: str, *, stream: bool = False, **extra: Any) -> httpx.Response:
    """One request on a new connection (with several workers, connections spread over them)."""
    body: dict[str, Any] = {"model": model, "messages": USER, "max_tokens": 300, **extra}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)


def leave_mid_stream(gw: str) -> None:
    body = {"model": "slow", "messages": USER, "stream": True}
    with httpx.stream("POST", gw + "/v1/chat/completions", json=body, timeout=30) as resp:
        assert resp.status_code == 200
        assert next(resp.iter_bytes()).startswith(b"data: ")


def gone_now(gw: str) -> float | None:
    return totals(httpx.get(gw + "/metrics", timeout=5).text).get("requests:client_gone")


def test_every_update_of_every_outcome_is_counted_across_scrapes() -> None:
    slow_cfg = SimConfig(model="sim", mode="hybrid", tokens_per_s=20, reasoning_words=200)
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", reasoning_words=30)) as fast,
        run_sim(SimConfig(model="sim-broken", mode="instruct", error_rate=1.0)) as broken,
        run_sim(slow_cfg) as slow,
        run_gateway(make_policy(pools(fast.url, broken.url, slow.url), MODELS)) as gw,
    ):
        told: Counter[str] = Counter()
        for round_ in range(1, 4):
            for _ in range(4):
                r = post(gw, "auto")
                assert r.status_code == 200
                told += usage_of(r, stream=False)
            for _ in range(2):
                r = post(gw, "auto", stream=True)
                assert r.status_code == 200
                told += usage_of(r, stream=True)
            assert post(gw, "fast", max_tokens=10**7).status_code == 400  # the backend's 4xx
            assert post(gw, "broken").status_code >= 500
            leave_mid_stream(gw)
            # the gateway hears the disconnect and books the request after it; then every count is exact
            assert wait_until(lambda gone=float(round_): gone_now(gw) == gone)
            got = totals(httpx.get(gw + "/metrics", timeout=5).text)
            n = 9 * round_
            assert got["requests:ok"] == 6 * round_
            assert got["requests:client_error"] == round_
            assert got["requests:upstream_error"] == round_
            assert got["thinkgate_request_duration_seconds_count"] == n
            assert got["thinkgate_decisions_total"] == n
            assert got["thinkgate_decision_duration_seconds_count"] == n
            assert got["thinkgate_classifier_p_think_count"] == 6 * round_  # the "auto" requests
            assert (
                got["thinkgate_time_to_first_token_seconds_count"] == 3 * round_
            )  # two streams and the one left
            assert got["thinkgate_upstream_errors_total"] >= round_
            assert got["inflight"] == 0
            assert {k: got[k] for k in told} == dict(told)
            assert told["tokens:reasoning"] > 0


def test_two_workers_every_scrape_holds_every_request(tmp_path: Path) -> None:
    """Whichever worker serves a scrape, the other's requests are in it."""
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", reasoning_words=30)) as fast,
        run_sim(SimConfig(model="sim-broken", mode="instruct", error_rate=1.0)) as broken,
    ):
        policy = tmp_path / "policy.yaml"
        policy.write_text(
            orjson.dumps(
                {
                    "version": 1,
                    "backends": pools(fast.url, broken.url),
                    "models": {k: v for k, v in MODELS.items() if k != "slow"},
                }
            ).decode()
        )
        with gateway_process(policy, "--workers", "2") as base:
            told: Counter[str] = Counter()
            for i in range(24):
                r = post(base, "auto", stream=i % 3 == 0)
                assert r.status_code == 200
                told += usage_of(r, stream=i % 3 == 0)
            for _ in range(3):
                assert post(base, "broken").status_code >= 500
            for _ in range(6):  # new connections: the scrapes land on both workers
                got = totals(httpx.get(base + "/metrics", timeout=10).text)
                assert got["requests:ok"] == 24
                assert got["requests:upstream_error"] == 3
                assert got["thinkgate_request_duration_seconds_count"] == 27
                assert got["thinkgate_decisions_total"] == 27
                assert got["thinkgate_decision_duration_seconds_count"] == 27
                assert got["thinkgate_time_to_first_token_seconds_count"] == 8
                assert got["inflight"] == 0
                assert {k: got[k] for k in told} == dict(told)


def test_a_decision_that_ends_in_a_4xx_before_dispatch_is_observed_once() -> None:
    """The serving path observes a decision's metrics with the plan's after the answer's last byte; one that
    cannot be routed (no pool for the effort: 400) has no answer and is observed all the same, as it was made."""
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", reasoning_words=30)) as fast,
        run_sim(SimConfig(model="sim-broken", mode="instruct", error_rate=1.0)) as broken,
        run_gateway(
            make_policy(pools(fast.url, broken.url), {"deep": {"effort": "classify", "thinking": ["h"]}})
        ) as gw,
    ):
        r = post(gw, "deep", reasoning_effort="none")
        assert r.status_code == 400 and r.json()["error"]["code"] == "effort_not_supported"
        assert post(gw, "deep", reasoning_effort="high").status_code == 200
        got = totals(httpx.get(gw + "/metrics", timeout=5).text)
        assert got["thinkgate_decision_duration_seconds_count"] == 2
        assert got["thinkgate_decisions_total"] == 1  # counted for a served request only, as before
