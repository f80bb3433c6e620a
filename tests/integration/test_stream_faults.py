"""Upstream faults and client disconnects: retry before the first byte, in-band errors after it,
and a client that goes away cancels the upstream request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import make_policy, run_gateway, wait_until

USER = [{"role": "user", "content": "Tell me about the weather."}]


def hybrid_policy(*urls: str) -> Any:
    return make_policy(
        {"h": {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": list(urls)}},
        {"auto": {"thinking": ["h"], "instruct": ["h"]}},
    )


def stats(url: str) -> dict[str, int]:
    data: dict[str, int] = httpx.get(url + "/sim/stats", timeout=5).json()
    return data


def counted(gw: str) -> dict[str, float]:
    """Per-request series summed over their labels: requests by outcome, decisions, first tokens."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(gw + "/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == "thinkgate_requests_total":
                key = "requests:" + sample.labels["outcome"]
            elif sample.name in ("thinkgate_decisions_total", "thinkgate_time_to_first_token_seconds_count"):
                key = sample.name
            else:
                continue
            out[key] = out.get(key, 0.0) + sample.value
    return out


def set_faults(url: str, **faults: float) -> None:
    httpx.post(url + "/sim/faults", json=faults, timeout=5).raise_for_status()


@pytest.fixture
def slow_sim() -> Iterator[str]:
    with run_sim(SimConfig(model="sim", mode="hybrid", tokens_per_s=20, reasoning_words=200)) as sim:
        yield sim.url


def test_client_disconnect_cancels_upstream(slow_sim: str) -> None:
    with run_gateway(hybrid_policy(slow_sim)) as gw:
        body = {"model": "auto", "messages": USER, "stream": True, "reasoning_effort": "high"}
        with httpx.stream("POST", gw + "/v1/chat/completions", json=body, timeout=30) as resp:
            assert resp.status_code == 200
            it = resp.iter_bytes()
            first = next(it)
            assert first.startswith(b"data: ")
            assert stats(slow_sim)["in_flight"] == 1
        # the client closed its connection: the backend must see the cancellation promptly
        assert wait_until(lambda: stats(slow_sim)["cancelled"] == 1, timeout=3)
        assert stats(slow_sim)["in_flight"] == 0
        assert stats(slow_sim)["completed"] == 0
        text = httpx.get(gw + "/metrics", timeout=5).text
        assert 'outcome="client_gone"' in text
        assert 'thinkgate_inflight_requests{endpoint="' + slow_sim + '",pool="h"} 0.0' in text
        # counted once, after the end (the bookkeeping runs when the response call ends, on every outcome)
        assert counted(gw) == {
            "requests:client_gone": 1.0,
            "thinkgate_decisions_total": 1.0,
            "thinkgate_time_to_first_token_seconds_count": 1.0,
        }


def read_stream(url: str, body: dict[str, Any]) -> list[Any]:
    events: list[Any] = []
    with httpx.stream(
        "POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=30
    ) as resp:
        assert resp.status_code == 200
        raw = b"".join(resp.iter_bytes())
    for block in raw.split(b"\n\n"):
        if block.startswith(b"data: "):
            events.append("[DONE]" if block == b"data: [DONE]" else orjson.loads(block[6:]))
    return events


@pytest.mark.parametrize("budget", ["native", "forcing"])
def test_client_gone_before_the_first_byte_cancels_upstream(budget: str) -> None:
    """The client leaves while the gateway still waits for the backend's first event: once that arrives the
    backend request is closed at once, the endpoint's in-flight slot is given back and the request counted."""
    slow = SimConfig(model="sim", mode="hybrid", slow_first_byte_ms=800, tokens_per_s=20, reasoning_words=200)
    with run_sim(slow) as sim:
        policy = make_policy(
            {
                "h": {
                    "family": "qwen3",
                    "mode": "hybrid",
                    "model": "sim",
                    "endpoints": [sim.url],
                    "budget": budget,
                }
            },
            {"auto": {"thinking": ["h"], "instruct": ["h"]}},
        )
        with run_gateway(policy) as gw:
            body = {"model": "auto", "messages": USER, "stream": True, "reasoning_effort": "high"}
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(gw + "/v1/chat/completions", json=body, timeout=httpx.Timeout(5, read=0.2))
            assert wait_until(lambda: stats(sim.url)["cancelled"] == 1, timeout=5)
            assert stats(sim.url)["in_flight"] == 0 and stats(sim.url)["completed"] == 0
            inflight = f'thinkgate_inflight_requests{{endpoint="{sim.url}",pool="h"}} 0.0'
            assert wait_until(lambda: inflight in httpx.get(gw + "/metrics", timeout=5).text, timeout=3)
            assert 'outcome="client_gone"' in httpx.get(gw + "/metrics", timeout=5).text
            # once; no first token went out (no time-to-first-token sample at all)
            assert counted(gw) == {"requests:client_gone": 1.0, "thinkgate_decisions_total": 1.0}


def test_mid_stream_drop_becomes_error_event_then_done() -> None:
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", drop_rate=1.0)) as sim,
        run_gateway(hybrid_policy(sim.url)) as gw,
    ):
        events = read_stream(gw, {"model": "auto", "messages": USER, "reasoning_effort": "low"})
        assert events[-1] == "[DONE]"
        err = events[-2]["error"]
        assert err["type"] == "upstream_error"
        assert "dropped" in err["message"] or "closed" in err["message"]
        assert any(isinstance(e, dict) and e.get("choices") for e in events[:-2])


def test_mid_stream_drops_eject_the_endpoint() -> None:
    """Streams that die after their first event count toward passive health: after
    ``consecutive_failures`` of them in a row the endpoint is ejected and streams fail over to the next pool."""
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", drop_rate=1.0)) as dropper,
        run_sim(SimConfig(model="sim", mode="hybrid")) as good,
    ):
        spec = {"family": "qwen3", "mode": "hybrid", "model": "sim"}
        health = {"consecutive_failures": 2, "max_ejection_percent": 100}
        policy = make_policy(
            {
                "a": {**spec, "endpoints": [dropper.url], "health": health},
                "b": {**spec, "endpoints": [good.url]},
            },
            {"auto": {"thinking": ["a", "b"], "instruct": ["a", "b"]}},
        )
        with run_gateway(policy) as gw:
            body = {"model": "auto", "messages": USER, "reasoning_effort": "low"}
            for _ in range(2):  # both reach pool a, start, then drop
                events = read_stream(gw, body)
                assert events[-1] == "[DONE]" and events[-2]["error"]["type"] == "upstream_error"
            metrics = httpx.get(gw + "/metrics", timeout=5).text
            assert f'thinkgate_endpoint_ejections_total{{endpoint="{dropper.url}",pool="a"}} 1.0' in metrics
            assert f'thinkgate_endpoint_up{{endpoint="{dropper.url}",pool="a"}} 0.0' in metrics
            for _ in range(3):
                with httpx.stream("POST", gw + "/v1/chat/completions", json={**body, "stream": True}) as resp:
                    assert resp.headers["x-thinkgate-failover"] == "a->b"
                    raw = b"".join(resp.iter_bytes())
                assert raw.endswith(b"data: [DONE]\n\n") and b'"error"' not in raw
            assert stats(dropper.url)["received"] == 2


def test_error_before_first_byte_is_retried_on_another_endpoint() -> None:
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", error_rate=1.0)) as bad,
        run_sim(SimConfig(model="sim", mode="hybrid")) as good,
        run_gateway(hybrid_policy(bad.url, good.url)) as gw,
    ):
        retried = 0
        for stream in (False, True):
            for _ in range(4):
                body = {"model": "auto", "messages": USER, "reasoning_effort": "none", "stream": stream}
                resp = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
                assert resp.status_code == 200, resp.text
                # the head names the attempt that answered, not the one written first (built as it was sent)
                assert resp.headers["x-thinkgate-endpoint"] == good.url
                assert resp.headers["x-thinkgate-attempts"] in ("1", "2")
                retried += resp.headers["x-thinkgate-attempts"] == "2"
        assert stats(good.url)["completed"] == 8
        # the bad endpoint was tried, failed, and got ejected after three failures
        assert 1 <= stats(bad.url)["received"] <= 3
        assert retried == stats(bad.url)["received"]


def test_all_endpoints_failing_gives_502_and_no_sdk_retry() -> None:
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", error_rate=1.0)) as a,
        run_sim(SimConfig(model="sim", mode="hybrid", error_rate=1.0)) as b,
        run_gateway(hybrid_policy(a.url, b.url)) as gw,
    ):
        resp = httpx.post(gw + "/v1/chat/completions", json={"model": "auto", "messages": USER}, timeout=30)
        assert resp.status_code == 502
        assert resp.headers["x-should-retry"] == "false"
        assert resp.headers["x-request-id"] and resp.headers["x-thinkgate-front-door"] == "chat"
        assert "x-thinkgate-endpoint" not in resp.headers  # no attempt answered: no routing headers
        assert "failed (HTTP 500)" in resp.json()["error"]["message"]


def test_hung_upstream_times_out_with_504() -> None:
    with run_sim(SimConfig(model="sim", mode="hybrid", hang_rate=1.0)) as sim:
        policy = make_policy(
            {
                "h": {
                    "family": "qwen3",
                    "mode": "hybrid",
                    "model": "sim",
                    "endpoints": [sim.url],
                    "timeouts": {"first_byte": 0.5},
                }
            },
            {"auto": {"thinking": ["h"], "instruct": ["h"]}},
        )
        with run_gateway(policy, max_attempts=1) as gw:
            resp = httpx.post(
                gw + "/v1/chat/completions", json={"model": "auto", "messages": USER}, timeout=30
            )
            assert resp.status_code == 504
            assert resp.json()["error"]["code"] == "timeout"
            assert wait_until(lambda: stats(sim.url)["cancelled"] == 1, timeout=3)


def test_endpoint_stopped_under_concurrent_load_loses_no_request() -> None:
    with run_sim(SimConfig(model="sim", mode="hybrid", tokens_per_s=400)) as keep:
        doomed = run_sim(SimConfig(model="sim", mode="hybrid", tokens_per_s=400, seed=3))
        victim = doomed.__enter__()
        try:
            with run_gateway(hybrid_policy(keep.url, victim.url)) as gw:

                async def load() -> list[int]:
                    async with httpx.AsyncClient(timeout=30) as client:

                        async def one(i: int) -> int:
                            body = {"model": "auto", "messages": USER, "reasoning_effort": "none", "seed": i}
                            r = await client.post(gw + "/v1/chat/completions", json=body)
                            return r.status_code

                        first = [asyncio.create_task(one(i)) for i in range(20)]
                        await asyncio.sleep(0.05)
                        await asyncio.to_thread(victim.stop)
                        rest = [asyncio.create_task(one(i)) for i in range(20, 60)]
                        return list(await asyncio.gather(*first, *rest))

                codes = asyncio.run(load())
        finally:
            doomed.__exit__(None, None, None)
    assert codes.count(200) == len(codes), codes


def test_responses_stream_drop_is_response_failed_and_not_stored() -> None:
    """The Responses front door's in-band error: ``response.failed`` is the last event, with the error."""
    with (
        run_sim(SimConfig(model="sim", mode="hybrid", drop_rate=1.0)) as sim,
        run_gateway(hybrid_policy(sim.url)) as gw,
    ):
        body = {
            "model": "auto",
            "input": "Tell me about the weather.",
            "reasoning": {"effort": "low"},
            "stream": True,
        }
        with httpx.stream("POST", gw + "/v1/responses", json=body, timeout=30) as resp:
            assert resp.status_code == 200
            raw = b"".join(resp.iter_bytes())
        events = [orjson.loads(block.split(b"\ndata: ", 1)[1]) for block in raw.split(b"\n\n") if block]
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        assert events[0]["type"] == "response.created"
        last = events[-1]
        assert last["type"] == "response.failed" and last["response"]["status"] == "failed"
        assert (
            "dropped" in last["response"]["error"]["message"]
            or "closed" in last["response"]["error"]["message"]
        )
        assert not any(e["type"] == "response.completed" for e in events)
        rid = last["response"]["id"]
        assert httpx.get(gw + f"/v1/responses/{rid}", timeout=5).status_code == 404


def test_responses_client_disconnect_cancels_upstream(slow_sim: str) -> None:
    with run_gateway(hybrid_policy(slow_sim)) as gw:
        body = {"model": "auto", "input": "Tell me.", "reasoning": {"effort": "high"}, "stream": True}
        with httpx.stream("POST", gw + "/v1/responses", json=body, timeout=30) as resp:
            assert resp.status_code == 200
            chunks = resp.iter_bytes()  # held: a dropped iterator would close the stream itself
            assert next(chunks).startswith(b"event: response.created")
            assert stats(slow_sim)["in_flight"] == 1
        assert wait_until(lambda: stats(slow_sim)["cancelled"] == 1, timeout=3)
        assert stats(slow_sim)["in_flight"] == 0
