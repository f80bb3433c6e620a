"""Endpoint choice and health inside a pool: score, power of two choices, stickiness, ejection, probes."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from gateway.backends.load import rendezvous
from gateway.backends.pool import Endpoint, Pool
from gateway.backends.scrape import ScrapedLoad
from router.policy import BackendSpec, ScoreWeights

URLS = [f"http://127.0.0.1:{9000 + i}" for i in range(4)]


def pool(n: int = 2, **spec: Any) -> Pool:
    base: dict[str, Any] = {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": URLS[:n]}
    return Pool.build("p", BackendSpec.model_validate({**base, **spec}))


def scraped(p: Pool, endpoint: Endpoint, waiting: float, running: float, kv: float) -> None:
    p.record_scrape(endpoint, ScrapedLoad(waiting=waiting, running=running, kv_usage=kv))


@pytest.mark.parametrize(
    ("inflight", "at_scrape", "load", "failures", "expected"),
    [
        pytest.param(0, 0, None, 0, 0.0, id="idle-no-scrape"),
        pytest.param(3, 0, None, 1, 3 + 4.0, id="no-scrape-inflight-and-failures"),
        # running 2 + waiting 1 = 3 reported; gateway sent 1 more since the scrape -> 4; +2*1 queue +4*0.5 kv
        pytest.param(2, 1, ScrapedLoad(1, 2, 0.5), 0, 4 + 2 + 2.0, id="scrape-corrected-by-inflight"),
        # other clients' load counts even when the gateway has nothing in flight there
        pytest.param(0, 0, ScrapedLoad(0, 5, 0.0), 0, 5.0, id="foreign-load"),
        # never below the gateway's own in-flight count (the scrape lags)
        pytest.param(6, 0, ScrapedLoad(0, 0, 0.0), 0, 6.0, id="floor-own-inflight"),
        pytest.param(0, 0, ScrapedLoad(None, None, None), 0, 0.0, id="families-missing"),
    ],
)
def test_score(
    inflight: int, at_scrape: int, load: ScrapedLoad | None, failures: int, expected: float
) -> None:
    p = pool(1)
    e = p.endpoints[0]
    e.inflight = at_scrape
    p.record_scrape(e, load)
    e.inflight = inflight
    e.failures = failures
    assert p.score(e) == pytest.approx(expected)


def test_stale_scrape_is_ignored() -> None:
    p = pool(1, routing={"scrape_interval": 1.0})
    e = p.endpoints[0]
    scraped(p, e, 10, 10, 1.0)
    now = time.monotonic()
    assert p.score(e, now) > 30
    assert p.score(e, now + 10) == 0.0


def test_two_choices_prefers_the_less_loaded_endpoint() -> None:
    p = pool(4)
    busy = p.endpoints[0]
    scraped(p, busy, 8, 4, 0.9)
    picks = Counter(p.candidates(set())[0].url for _ in range(400))
    assert picks[busy.url] == 0  # it loses every comparison it is drawn into
    assert all(picks[u] > 60 for u in URLS[1:4])  # the others share the traffic


def test_candidates_order_is_choice_then_score_and_respects_exclude() -> None:
    p = pool(3)
    for e, w in zip(p.endpoints, (0, 5, 2), strict=True):
        scraped(p, e, w, 0, 0.0)
    order = p.candidates(set())
    assert [e.url for e in order] == [URLS[0], URLS[2], URLS[1]]
    assert [e.url for e in p.candidates({URLS[0]})] == [URLS[2], URLS[1]]


@pytest.mark.parametrize("strategy", ["round_robin", "least_inflight", "load"])
def test_strategies_spread_idle_traffic(strategy: str) -> None:
    p = pool(3, routing={"strategy": strategy})
    picks = Counter(p.candidates(set())[0].url for _ in range(300))
    assert set(picks) == set(URLS[:3])
    if strategy == "round_robin":
        assert set(picks.values()) == {100}


def test_round_robin_ignores_load() -> None:
    p = pool(2, routing={"strategy": "round_robin"})
    p.endpoints[0].inflight = 50
    picks = Counter(p.candidates(set())[0].url for _ in range(10))
    assert picks[URLS[0]] == 5


def test_sticky_sessions_stay_and_spread() -> None:
    p = pool(4, routing={"sticky": True})
    homes = {s: p.candidates(set(), f"session-{s}")[0].url for s in range(40)}
    assert all(p.candidates(set(), f"session-{s}")[0].url == homes[s] for s in range(40))
    assert len(set(homes.values())) >= 3
    # an overloaded home is left (bounded stickiness)
    s0 = homes[0]
    home = next(e for e in p.endpoints if e.url == s0)
    scraped(p, home, 20, 20, 1.0)
    assert p.candidates(set(), "session-0")[0].url != s0


def test_rendezvous_moves_only_the_sessions_of_a_removed_endpoint() -> None:
    sessions = [f"s{i}" for i in range(200)]
    before = {s: rendezvous(URLS, s, str) for s in sessions}
    after = {s: rendezvous(URLS[1:], s, str) for s in sessions}
    moved = [s for s in sessions if before[s] != after[s]]
    assert moved and all(before[s] == URLS[0] for s in moved)


def test_sticky_off_ignores_session() -> None:
    p = pool(4)
    picks = {p.candidates(set(), "same")[0].url for _ in range(100)}
    assert len(picks) > 1


def test_ejection_after_consecutive_failures_grows_and_recovers() -> None:
    p = pool(2, health={"base_ejection_seconds": 30, "max_ejection_seconds": 70})
    e = p.endpoints[0]
    assert [p.record_failure(e) for _ in range(5)] == [False] * 4 + [True]
    now = time.monotonic()
    assert not e.healthy(now) and 29 < e.ejected_until - now <= 30
    assert [x.url for x in p.candidates(set())] == [URLS[1]]
    assert p.any_healthy()  # the other endpoint is healthy
    e.ejected_until = 0.0  # time passes
    assert e.healthy(time.monotonic()) and e.failures == 0
    for _ in range(5):
        p.record_failure(e)
    assert 59 < e.ejected_until - time.monotonic() <= 60  # second ejection: 2 x base
    e.ejected_until = 0.0
    for _ in range(5):
        p.record_failure(e)
    assert 69 < e.ejected_until - time.monotonic() <= 70  # capped at max


def test_success_resets_the_failure_streak() -> None:
    p = pool(2)
    e = p.endpoints[0]
    for _ in range(4):
        p.record_failure(e)
    p.record_success(e)
    assert not any(p.record_failure(e) for _ in range(4))
    assert e.healthy(time.monotonic())


@pytest.mark.parametrize(
    ("n", "percent", "ejectable"),
    [(2, 10, 1), (4, 50, 2), (10, 10, 1), (10, 30, 3), (3, 100, 3), (3, 0, 0)],
)
def test_max_ejection_percent_keeps_part_of_the_pool(n: int, percent: int, ejectable: int) -> None:
    p = pool(
        n,
        endpoints=[f"http://127.0.0.1:{9100 + i}" for i in range(n)],
        health={"max_ejection_percent": percent},
    )
    ejected = 0
    for e in p.endpoints:
        for _ in range(5):
            ejected += p.record_failure(e)
    assert ejected == ejectable


@pytest.mark.parametrize(
    ("down", "up", "results", "states"),
    [
        (1, 1, [True, False, True], [True, False, True]),
        (2, 1, [True, False, True, False, False, True], [True, True, True, True, False, True]),
        (
            1,
            3,
            [False, True, True, False, True, True, True],
            [False, False, False, False, False, False, True],
        ),
    ],
)
def test_probe_thresholds(down: int, up: int, results: list[bool], states: list[bool]) -> None:
    p = pool(1, health={"unhealthy_probes": down, "healthy_probes": up})
    e = p.endpoints[0]
    seen = []
    for ok in results:
        p.record_probe(e, ok)
        seen.append(e.healthy(time.monotonic()))
    assert seen == states


def test_passing_probe_does_not_end_a_passive_ejection() -> None:
    p = pool(2)
    e = p.endpoints[0]
    for _ in range(5):
        p.record_failure(e)
    p.record_probe(e, True)
    assert not e.healthy(time.monotonic())


def test_pool_load_means_over_fresh_healthy_endpoints() -> None:
    p = pool(3)
    assert p.current_load() is None
    scraped(p, p.endpoints[0], 6, 1, 0.9)
    scraped(p, p.endpoints[1], 0, 1, 0.1)
    load = p.current_load()
    assert load is not None
    assert load.queue_per_endpoint == pytest.approx(3.0) and load.kv_usage == pytest.approx(0.5)
    p.record_probe(p.endpoints[0], False)
    load = p.current_load()
    assert load is not None and load.queue_per_endpoint == 0.0


def test_weights_are_validated() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        ScoreWeights(queue=-1)


def decoded(p: Pool, endpoint: Endpoint, seconds: float, intervals: float) -> None:
    """A scrape whose cumulative inter-token latency histogram says ``seconds`` over ``intervals``."""
    p.record_scrape(endpoint, ScrapedLoad(0, 0, 0.0, itl_sum=seconds, itl_count=intervals))


def test_time_per_output_token_comes_from_scrape_deltas() -> None:
    p = pool(1)
    e = p.endpoints[0]
    decoded(p, e, 100.0, 1000)  # since vLLM started: no window yet
    assert e.tpot is None
    decoded(p, e, 101.0, 1100)  # 1 s over 100 intervals
    assert e.tpot == pytest.approx(0.01)
    decoded(p, e, 104.0, 1200)  # 3 s over 100: averaged with what is remembered
    assert e.tpot == pytest.approx(0.02)
    decoded(p, e, 104.0, 1200)  # nothing decoded: kept
    assert e.tpot == pytest.approx(0.02)
    decoded(p, e, 0.5, 10)  # vLLM restarted (counters went back): no window, new baseline
    assert e.tpot == pytest.approx(0.02) and e.itl_seen == (0.5, 10)
    decoded(p, e, 1.5, 20)
    assert e.tpot == pytest.approx(0.06)


def test_a_slow_decoder_loses_to_idle_fast_ones_until_its_measurement_expires() -> None:
    p = pool(4, routing={"speed_memory": 30.0})
    slow = p.endpoints[0]
    for e in p.endpoints:
        decoded(p, e, 0.0, 0)
        decoded(p, e, 1.0 if e is slow else 0.1, 100)  # 10 ms vs 1 ms per token
    picks = Counter(p.candidates(set())[0].url for _ in range(400))
    assert picks[slow.url] == 0  # idle but 10x slower: it loses every comparison
    assert p.candidates(set())[-1] is slow  # and is tried last
    p.endpoints[1].inflight = 5  # (5 + 1) x 1 < (0 + 1) x 10: a busy fast endpoint still wins
    assert Counter(p.candidates(set())[0].url for _ in range(400))[slow.url] == 0
    later = time.monotonic() + 31  # no fresh samples for longer than speed_memory: measured again
    assert p.tpot(slow, later) is None and p.fastest_tpot(p.endpoints, later) is None


@pytest.mark.parametrize(
    ("speed", "expected_share"),
    [pytest.param(0.0, 0.25, id="speed-0-ignores"), pytest.param(1.0, 0.0, id="on")],
)
def test_speed_weight(speed: float, expected_share: float) -> None:
    p = pool(4, routing={"weights": {"speed": speed}})
    for e in p.endpoints:
        decoded(p, e, 0.0, 0)
        decoded(p, e, 1.0 if e is p.endpoints[0] else 0.1, 100)
    picks = Counter(p.candidates(set())[0].url for _ in range(800))
    assert picks[URLS[0]] / 800 == pytest.approx(expected_share, abs=0.07)
