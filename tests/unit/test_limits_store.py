"""The in-memory limit store, on a table of cases that tests/integration/test_redis_store.py runs against a
real Redis too (same behaviour in both stores)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gateway.store.base import LimitStore
from gateway.store.memory import MemoryStore
from router.limits import LimitRule, Verdict


@dataclass(frozen=True)
class Admit:
    estimate: int
    verdict: Verdict
    used: tuple[int, int, int]  # requests, tokens, thinking after the call
    exhausted: bool = False


@dataclass(frozen=True)
class Account:
    tokens: int
    thinking: int


RPM2 = LimitRule(requests_per_minute=2)
TPM100 = LimitRule(tokens_per_minute=100)
QUOTA_REJECT = LimitRule(thinking_tokens=50, on_quota_exhausted="reject")
QUOTA_OFF = LimitRule(requests_per_minute=10, thinking_tokens=50, thinking_period="hour")

CASES: dict[str, tuple[LimitRule, list[Any]]] = {
    "requests per minute": (
        RPM2,
        [Admit(9, Verdict.ADMIT, (1, 0, 0)), Admit(9, Verdict.ADMIT, (2, 0, 0)), Admit(9, Verdict.REQUESTS, (2, 0, 0))],
    ),
    "tokens admitted while any budget is left": (
        TPM100,
        [Admit(60, Verdict.ADMIT, (0, 60, 0)), Admit(60, Verdict.ADMIT, (0, 120, 0)), Admit(1, Verdict.TOKENS, (0, 120, 0))],
    ),
    "a correction below the estimate frees tokens": (
        TPM100,
        [Admit(80, Verdict.ADMIT, (0, 80, 0)), Admit(80, Verdict.ADMIT, (0, 160, 0)), Account(-100, 0),
         Admit(10, Verdict.ADMIT, (0, 70, 0))],
    ),
    "a correction never goes below zero": (
        TPM100,
        [Admit(10, Verdict.ADMIT, (0, 10, 0)), Account(-500, 0), Admit(5, Verdict.ADMIT, (0, 5, 0))],
    ),
    "thinking quota spent, reject": (
        QUOTA_REJECT,
        [Admit(1, Verdict.ADMIT, (0, 0, 0)), Account(0, 49), Admit(1, Verdict.ADMIT, (0, 0, 49)), Account(0, 1),
         Admit(1, Verdict.THINKING, (0, 0, 50), exhausted=True)],
    ),
    "thinking quota spent, serve without thinking": (
        QUOTA_OFF,
        [Account(0, 70), Admit(1, Verdict.ADMIT, (1, 0, 70), exhausted=True),
         Admit(1, Verdict.ADMIT, (2, 0, 70), exhausted=True)],
    ),
    "unlimited counters are not stored": (
        LimitRule(requests_per_minute=5),
        [Account(1000, 1000), Admit(1000, Verdict.ADMIT, (1, 0, 0))],
    ),
}  # fmt: skip


async def run_case(store: LimitStore, ident: str, rule: LimitRule, steps: list[Any]) -> None:
    """Apply the steps and check every admission (the reset is checked for presence, not value)."""
    for i, step in enumerate(steps):
        if isinstance(step, Account):
            await store.account(ident, rule, step.tokens, step.thinking)
            continue
        got = await store.admit(ident, rule, step.estimate)
        used = (got.requests.used, got.tokens.used, got.thinking.used)
        assert (got.verdict, used, got.quota_exhausted) == (step.verdict, step.used, step.exhausted), (
            f"step {i}"
        )
        for window, limit in ((got.requests, rule.requests_per_minute), (got.tokens, rule.tokens_per_minute)):
            assert (window.reset_ms > 0) == (limit is not None and window.used > 0), f"step {i}"


@pytest.mark.parametrize("name", list(CASES))
async def test_memory_store(name: str) -> None:
    rule, steps = CASES[name]
    await run_case(MemoryStore(), "key:k", rule, steps)


async def test_counters_are_per_key() -> None:
    store = MemoryStore()
    assert (await store.admit("key:a", RPM2, 1)).requests.used == 1
    assert (await store.admit("key:b", RPM2, 1)).requests.used == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


async def test_window_ends_after_a_minute_and_reset_counts_down() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    await store.admit("k", RPM2, 1)
    clock.now += 20_000
    second = await store.admit("k", RPM2, 1)
    assert second.requests == type(second.requests)(2, 40_000)
    assert (await store.admit("k", RPM2, 1)).verdict is Verdict.REQUESTS
    clock.now += 40_000
    assert (await store.admit("k", RPM2, 1)).requests.used == 1


async def test_thinking_period_outlives_the_minute() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    await store.account("k", QUOTA_OFF, 0, 60)
    clock.now += 59 * 60_000
    assert (await store.admit("k", QUOTA_OFF, 1)).quota_exhausted
    clock.now += 60_000
    assert not (await store.admit("k", QUOTA_OFF, 1)).quota_exhausted


async def test_correction_after_the_window_is_dropped() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    await store.admit("k", TPM100, 90)
    clock.now += 61_000
    await store.account("k", TPM100, -50, 0)
    assert (await store.admit("k", TPM100, 10)).tokens.used == 10
