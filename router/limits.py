"""Rate limits and thinking-token quotas (policy ``limits:``): pure models and the admission rule.

Every counter is a *window that starts with its first use*: the first request of a key opens a window of
``window`` seconds (a minute for requests and tokens, ``thinking_period`` for the thinking quota); the
counter is dropped when the window ends. Inside one window the limit is exact — the stores (in-memory and
Redis) apply the same rule atomically, see :func:`admit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MINUTE_MS = 60_000
_PERIODS_MS = {"minute": MINUTE_MS, "hour": 3_600_000, "day": 86_400_000}

QuotaAction = Literal["reject", "no_thinking"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LimitRule(_Frozen):
    """The limits of one API key (``null`` = unlimited).

    ``requests_per_minute`` and ``tokens_per_minute`` (prompt + completion, estimated from the prompt size
    on admission and corrected with the usage the backend reports) reject with 429 when spent.
    ``thinking_tokens`` per ``thinking_period`` is the reasoning-token quota; when it is spent,
    ``on_quota_exhausted`` either rejects (429) or serves with thinking off.
    """

    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    thinking_tokens: int | None = Field(default=None, ge=1)
    thinking_period: Literal["minute", "hour", "day"] = "day"
    on_quota_exhausted: QuotaAction = "no_thinking"

    @property
    def period_ms(self) -> int:
        return _PERIODS_MS[self.thinking_period]

    @property
    def unlimited(self) -> bool:
        return (
            self.requests_per_minute is None
            and self.tokens_per_minute is None
            and self.thinking_tokens is None
        )


class LimitsPolicy(_Frozen):
    """``default`` applies to the anonymous caller (auth off) and to every key without a rule of its own;
    ``tenants`` give a rule to each key of a tenant, ``keys`` (by key name) override both. Counters are
    per key (the anonymous caller has one shared counter)."""

    default: LimitRule = LimitRule()
    tenants: dict[str, LimitRule] = Field(default_factory=dict)
    keys: dict[str, LimitRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> LimitsPolicy:
        for name in self.keys:
            if not name:
                raise ValueError("limits.keys: key names must not be empty")
        return self

    def rule_for(self, key_name: str | None, tenant: str) -> LimitRule:
        """The rule of a caller: its key's, else its tenant's, else ``default``."""
        if key_name is not None and key_name in self.keys:
            return self.keys[key_name]
        if key_name is not None and tenant in self.tenants:
            return self.tenants[tenant]
        return self.default


class Verdict(StrEnum):
    """What admission decided."""

    ADMIT = "admit"
    REQUESTS = "requests"  # rejected: requests per minute spent
    TOKENS = "tokens"  # rejected: tokens per minute spent
    THINKING = "thinking"  # rejected: thinking quota spent and the rule says reject


@dataclass(frozen=True, slots=True)
class Window:
    """A counter as a store sees it: the amount used and the milliseconds until the window ends
    (``reset_ms`` is 0 when no window is open)."""

    used: int = 0
    reset_ms: int = 0


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of admission, with the counters *after* it (for the ``x-ratelimit-*`` headers)."""

    verdict: Verdict
    requests: Window
    tokens: Window
    thinking: Window
    quota_exhausted: bool

    @property
    def admitted(self) -> bool:
        return self.verdict is Verdict.ADMIT


def admit(rule: LimitRule, requests: Window, tokens: Window, thinking: Window, estimate: int) -> Admission:
    """The admission rule on the counters *before* the request (the Lua script in
    :mod:`gateway.store.redis` implements exactly this).

    Rejected when requests used >= requests_per_minute, or tokens used >= tokens_per_minute (a request is
    admitted while any token budget is left; its estimate may overshoot and is corrected later), or the
    thinking quota is spent and ``on_quota_exhausted`` is ``reject``. An admitted request adds 1 to the
    request counter and ``estimate`` to the token counter (only counters the rule limits), opening a
    one-minute window if none is open.
    """
    exhausted = rule.thinking_tokens is not None and thinking.used >= rule.thinking_tokens
    verdict = Verdict.ADMIT
    if rule.requests_per_minute is not None and requests.used >= rule.requests_per_minute:
        verdict = Verdict.REQUESTS
    elif rule.tokens_per_minute is not None and tokens.used >= rule.tokens_per_minute:
        verdict = Verdict.TOKENS
    elif exhausted and rule.on_quota_exhausted == "reject":
        verdict = Verdict.THINKING
    if verdict is Verdict.ADMIT and rule.requests_per_minute is not None:
        requests = Window(requests.used + 1, requests.reset_ms or MINUTE_MS)
    if verdict is Verdict.ADMIT and rule.tokens_per_minute is not None:
        tokens = Window(tokens.used + max(estimate, 0), tokens.reset_ms or MINUTE_MS)
    return Admission(verdict, requests, tokens, thinking, exhausted)


def retry_after_ms(rule: LimitRule, admission: Admission) -> int:
    """How long a rejected caller should wait: until the window that rejected it ends."""
    window = {
        Verdict.REQUESTS: admission.requests,
        Verdict.TOKENS: admission.tokens,
        Verdict.THINKING: admission.thinking,
    }.get(admission.verdict)
    return 0 if window is None else window.reset_ms


def format_reset(ms: int) -> str:
    """A duration the way OpenAI writes ``x-ratelimit-reset-*``: ``12ms``, ``1.5s``, ``6m0s``."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{rest}s"


def rate_headers(rule: LimitRule, admission: Admission) -> dict[str, str]:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` for the limits the rule sets."""
    headers: dict[str, str] = {}
    for kind, limit, window in (
        ("requests", rule.requests_per_minute, admission.requests),
        ("tokens", rule.tokens_per_minute, admission.tokens),
    ):
        if limit is None:
            continue
        headers[f"x-ratelimit-limit-{kind}"] = str(limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(max(limit - window.used, 0))
        headers[f"x-ratelimit-reset-{kind}"] = format_reset(window.reset_ms)
    return headers


def check_names(limits: LimitsPolicy, keys: set[str], tenants: set[str]) -> None:
    """Raise ``ValueError`` when ``limits.keys`` / ``limits.tenants`` name a key / tenant ``auth:`` lacks."""
    for kind, names, known in (("keys", limits.keys, keys), ("tenants", limits.tenants, tenants)):
        for name in names:
            if name not in known:
                listed = ", ".join(sorted(known)) or "none"
                raise ValueError(f"limits.{kind}: unknown {kind[:-1]} {name!r}; auth.{kind} has: {listed}")
