"""The circuit breaker, and the limiter's behaviour when its store fails (fail open / fail closed)."""

from __future__ import annotations

import logging

import pytest

from gateway.limits import Limiter, RateLimited, StateUnavailable
from gateway.metrics import GatewayMetrics
from gateway.store.breaker import BreakerState, CircuitBreaker
from gateway.store.memory import MemoryStore
from router.limits import Admission, LimitRule
from router.policy import Policy, parse_policy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


def test_breaker_opens_after_n_failures_and_probes_once() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=3, reset=1.0, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.failure()
    assert state(b) is BreakerState.CLOSED
    b.failure()
    assert state(b) is BreakerState.OPEN and not b.allow()
    clock.now += 1.0
    assert b.allow() and state(b) is BreakerState.HALF_OPEN
    assert not b.allow()  # one probe at a time
    b.failure()
    assert state(b) is BreakerState.OPEN and not b.allow()
    clock.now += 1.0
    assert b.allow()
    b.success()
    assert state(b) is BreakerState.CLOSED and b.allow()


def test_a_lost_probe_does_not_block_forever() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=1, reset=1.0, clock=clock)
    b.failure()
    clock.now += 1.0
    assert b.allow()  # the probe never reports back
    clock.now += 1.0
    assert b.allow()


def test_success_resets_the_failure_count() -> None:
    b = CircuitBreaker(failures=2, reset=1.0, clock=Clock())
    b.failure()
    b.success()
    b.failure()
    assert state(b) is BreakerState.CLOSED


class DeadStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def admit(self, ident: str, rule: LimitRule, estimate: int) -> Admission:
        from gateway.store.base import StoreError

        self.calls += 1
        raise StoreError("redis admit failed: ConnectionError")


def policy(on_error: str, rpm: int = 1) -> Policy:
    backends = {"p": {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": ["http://127.0.0.1:1"]}}
    return parse_policy(
        {
            "version": 1,
            "backends": backends,
            "state": {"on_redis_error": on_error, "breaker_failures": 2},
            "limits": {"default": {"requests_per_minute": rpm}},
        }
    )


async def test_fail_open_serves_counts_logs_once_and_breaker_stops_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = DeadStore()
    metrics = GatewayMetrics()
    limiter = Limiter(store, CircuitBreaker(2, 60.0), metrics)
    with caplog.at_level(logging.WARNING, "thinkgate.limits"):
        for _ in range(5):
            grant = await limiter.admit(None, "default", policy("open"), 1)
            assert grant.headers == {} and grant.caps is None
    assert store.calls == 2  # then the breaker is open: Redis is off the request path
    assert metrics.registry.get_sample_value("thinkgate_redis_errors_total", {"op": "admit"}) == 5
    assert metrics.registry.get_sample_value("thinkgate_redis_up") == 0
    assert len([r for r in caplog.records if r.name == "thinkgate.limits"]) == 1


async def test_fail_closed_is_503_not_500() -> None:
    limiter = Limiter(DeadStore(), CircuitBreaker(2, 60.0), GatewayMetrics())
    with pytest.raises(StateUnavailable) as err:
        await limiter.admit(None, "default", policy("closed"), 1)
    assert err.value.status == 503 and err.value.headers["retry-after"] == "1"


async def test_rejection_is_429_with_retry_after_and_headers() -> None:
    metrics = GatewayMetrics()
    limiter = Limiter(MemoryStore(), CircuitBreaker(2, 1.0), metrics)
    first = await limiter.admit("k", "t", policy("open", rpm=1), 1)
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(RateLimited) as err:
        await limiter.admit("k", "t", policy("open", rpm=1), 1)
    exc = err.value
    assert (exc.status, exc.type) == (429, "rate_limit_error")
    assert 1 <= int(exc.headers["retry-after"]) <= 60
    assert exc.headers["x-ratelimit-limit-requests"] == "1"
    assert (
        metrics.registry.get_sample_value("thinkgate_ratelimit_rejections_total", {"kind": "requests"}) == 1
    )


async def test_unlimited_rule_never_touches_the_store() -> None:
    store = DeadStore()
    limiter = Limiter(store, CircuitBreaker(2, 1.0), GatewayMetrics())
    p = parse_policy({**policy("closed").model_dump(mode="json"), "limits": {}})
    await limiter.admit(None, "default", p, 1)
    assert store.calls == 0
