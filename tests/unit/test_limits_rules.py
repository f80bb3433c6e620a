"""Pure limit logic: the policy section, rule lookup, the admission rule, header formatting, cap merging."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.limits import estimate_tokens, merge_caps
from router.decide import Caps
from router.effort import Effort
from router.limits import (
    Admission,
    LimitRule,
    LimitsPolicy,
    Verdict,
    Window,
    admit,
    check_names,
    format_reset,
    rate_headers,
    retry_after_ms,
)

LIMITS = LimitsPolicy(
    default=LimitRule(requests_per_minute=1),
    tenants={"team": LimitRule(requests_per_minute=10)},
    keys={"vip": LimitRule(requests_per_minute=100)},
)


@pytest.mark.parametrize(
    ("key", "tenant", "rpm"),
    [
        (None, "default", 1),
        ("vip", "team", 100),
        ("other", "team", 10),
        ("lone", "solo", 1),
        (None, "team", 1),
    ],
)
def test_rule_for(key: str | None, tenant: str, rpm: int) -> None:
    assert LIMITS.rule_for(key, tenant).requests_per_minute == rpm


@pytest.mark.parametrize(
    "data",
    [
        {"default": {"requests_per_minute": 0}},
        {"default": {"thinking_period": "week"}},
        {"default": {"on_quota_exhausted": "degrade"}},
        {"default": {"rpm": 3}},
    ],
)
def test_bad_limits_are_rejected(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LimitsPolicy.model_validate(data)


def test_check_names() -> None:
    check_names(LIMITS, {"vip"}, {"team"})
    with pytest.raises(ValueError, match="unknown key 'vip'"):
        check_names(LIMITS, set(), {"team"})
    with pytest.raises(ValueError, match="unknown tenant 'team'"):
        check_names(LIMITS, {"vip"}, set())


FULL = LimitRule(
    requests_per_minute=3, tokens_per_minute=100, thinking_tokens=10, on_quota_exhausted="reject"
)


@pytest.mark.parametrize(
    ("req", "tok", "think", "verdict"),
    [
        (Window(2, 5), Window(99, 5), Window(9, 5), Verdict.ADMIT),
        (Window(3, 5), Window(0, 0), Window(0, 0), Verdict.REQUESTS),
        (Window(3, 5), Window(100, 5), Window(10, 5), Verdict.REQUESTS),  # requests are checked first
        (Window(0, 0), Window(100, 5), Window(10, 5), Verdict.TOKENS),
        (Window(0, 0), Window(0, 0), Window(10, 5), Verdict.THINKING),
    ],
)
def test_admit_table(req: Window, tok: Window, think: Window, verdict: Verdict) -> None:
    got = admit(FULL, req, tok, think, 7)
    assert got.verdict is verdict
    if verdict is Verdict.ADMIT:
        assert (got.requests.used, got.tokens.used) == (req.used + 1, tok.used + 7)
    else:
        assert (got.requests, got.tokens) == (req, tok)


def test_admit_opens_a_minute_window_and_keeps_an_open_one() -> None:
    fresh = admit(FULL, Window(), Window(), Window(), 1)
    assert (fresh.requests.reset_ms, fresh.tokens.reset_ms) == (60_000, 60_000)
    running = admit(FULL, Window(1, 1234), Window(5, 999), Window(), 1)
    assert (running.requests.reset_ms, running.tokens.reset_ms) == (1234, 999)


def test_no_thinking_mode_admits_and_flags() -> None:
    rule = LimitRule(thinking_tokens=10)
    got = admit(rule, Window(), Window(), Window(10, 5), 1)
    assert got.admitted and got.quota_exhausted


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0ms"), (12, "12ms"), (999, "999ms"), (1000, "1s"), (1500, "1.5s"), (59_999, "59.999s"),
     (60_000, "1m0s"), (360_000, "6m0s"), (3_600_000, "1h0m0s"), (-5, "0ms")],
)  # fmt: skip
def test_format_reset(ms: int, text: str) -> None:
    assert format_reset(ms) == text


def test_rate_headers_only_for_set_limits_and_never_negative() -> None:
    rule = LimitRule(requests_per_minute=5)
    adm = Admission(Verdict.ADMIT, Window(7, 2500), Window(), Window(), False)
    assert rate_headers(rule, adm) == {
        "x-ratelimit-limit-requests": "5",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2.5s",
    }
    assert rate_headers(LimitRule(), adm) == {}


def test_retry_after_is_the_rejecting_window() -> None:
    adm = Admission(Verdict.TOKENS, Window(1, 10), Window(5, 20), Window(1, 30), False)
    assert retry_after_ms(FULL, adm) == 20
    assert retry_after_ms(FULL, Admission(Verdict.ADMIT, Window(), Window(), Window(), False)) == 0


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (None, None, None),
        (Caps(max_effort=Effort.LOW), None, Caps(max_effort=Effort.LOW)),
        (None, Caps(max_effort=Effort.NONE), Caps(max_effort=Effort.NONE)),
        (Caps(Effort.LOW, 600), Caps(max_effort=Effort.NONE), Caps(Effort.NONE, 600)),
        (Caps(Effort.HIGH, None), Caps(Effort.MEDIUM, 100), Caps(Effort.MEDIUM, 100)),
    ],
)
def test_merge_caps(a: Caps | None, b: Caps | None, want: Caps | None) -> None:
    assert merge_caps(a, b) == want


def test_estimate_tokens() -> None:
    assert estimate_tokens(len(b'{"messages": [{"role": "user", "content": "' + b"x" * 400 + b'"}]}')) > 100
    assert estimate_tokens(len(b'{"prompt": ""}')) == 3
    assert estimate_tokens(0) == 1
