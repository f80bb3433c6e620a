"""Admission against rate limits and thinking quotas (policy ``limits:``), and accounting after the answer.

The pipeline's prologue calls :meth:`Limiter.admit` before the upstream call, its ledger
:meth:`Grant.account` with the usage the backend reported. Store failures (Redis) never become a 500: with
``state.on_redis_error: open`` the request is served without limits (counted, logged once per interval), with
``closed`` it gets 503. A circuit breaker keeps a dead or slow Redis off the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from gateway.errors import GatewayError
from gateway.metrics import GatewayMetrics
from gateway.store.base import LimitStore, StoreError
from gateway.store.breaker import CircuitBreaker
from router.decide import Caps
from router.effort import Effort
from router.limits import Admission, LimitRule, Verdict, rate_headers, retry_after_ms
from router.policy import Policy

log = logging.getLogger("thinkgate.limits")
T = TypeVar("T")

#: seconds between two log lines about the same store failure
LOG_INTERVAL = 10.0

_WHAT = {
    Verdict.REQUESTS: "requests per minute",
    Verdict.TOKENS: "tokens per minute",
    Verdict.THINKING: "thinking-token quota",
}


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class StateUnavailable(GatewayError):
    """Shared state is unusable and ``state.on_redis_error`` is ``closed``."""

    status = 503
    type = "api_error"
    code = "shared_state_unavailable"


def estimate_tokens(json_bytes: int) -> int:
    """A cheap prompt-size estimate for admission from the request's JSON size: about four bytes per token.

    The size is the client's body as received (the prologue has it already); re-serialising the parsed
    messages to measure them cost ~0.1 ms on an 85 KB agent trajectory (``benchmarks/body_costs.py``). The
    estimate is corrected with the real usage after the answer (:meth:`Grant.account`)."""
    return max(json_bytes // 4, 1)


def merge_caps(first: Caps | None, second: Caps | None) -> Caps | None:
    """The tighter of two caps (``None`` = no cap)."""
    if first is None or second is None:
        return first or second
    efforts = [e for e in (first.max_effort, second.max_effort) if e is not None]
    budgets = [b for b in (first.max_budget, second.max_budget) if b is not None]
    return Caps(max_effort=min(efforts) if efforts else None, max_budget=min(budgets) if budgets else None)


@dataclass
class Grant:
    """An admitted request: headers to send, caps for the decision, and how to account its usage."""

    ident: str
    rule: LimitRule
    estimate: int
    headers: dict[str, str] = field(default_factory=dict)
    caps: Caps | None = None
    limiter: Limiter | None = None

    def account(self, prompt: int, completion: int, reasoning: int) -> None:
        """Correct the token estimate with the real usage and charge reasoning to the thinking quota (in the
        background: the response is not held up by the store)."""
        if self.limiter is None:
            return
        tokens = prompt + completion - self.estimate
        self.limiter.account_later(self.ident, self.rule, tokens, reasoning)


class Limiter:
    """Admission and accounting on a :class:`LimitStore` behind a :class:`CircuitBreaker`."""

    def __init__(self, store: LimitStore, breaker: CircuitBreaker, metrics: GatewayMetrics) -> None:
        self.store = store
        self.breaker = breaker
        self.metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_log = -math.inf

    async def guarded(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run a store call behind the circuit breaker; failures are counted, logged and re-raised."""
        if not self.breaker.allow():
            self.metrics.redis_errors.labels(op).inc()
            self.metrics.redis_up.set(0)
            raise StoreError("circuit breaker open")
        try:
            result = await call()
        except StoreError as exc:
            self.breaker.failure()
            self.metrics.redis_errors.labels(op).inc()
            self.metrics.redis_up.set(0)
            self._warn(str(exc))
            raise
        self.breaker.success()
        self.metrics.redis_up.set(1)
        return result

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= LOG_INTERVAL:
            self._last_log = now
            log.warning("shared state unavailable (%s); see thinkgate_redis_errors_total", message)

    async def admit(self, key_name: str | None, tenant: str, policy: Policy, estimate: int) -> Grant:
        """Admit a request or raise :class:`RateLimited` (429) / :class:`StateUnavailable` (503)."""
        rule = policy.limits.rule_for(key_name, tenant)
        ident = "anonymous" if key_name is None else f"key:{key_name}"
        if rule.unlimited:
            return Grant(ident, rule, estimate)
        try:
            admission = await self.guarded("admit", lambda: self.store.admit(ident, rule, estimate))
        except StoreError:
            if policy.state.on_redis_error == "closed":
                raise StateUnavailable(
                    "rate limits cannot be checked: shared state (Redis) is unavailable; retry shortly",
                    headers={"retry-after": "1"},
                ) from None
            return Grant(ident, rule, estimate)  # fail open: serve, unlimited, not accounted
        return self._grant(ident, key_name, rule, estimate, admission)

    def _grant(
        self, ident: str, key_name: str | None, rule: LimitRule, estimate: int, admission: Admission
    ) -> Grant:
        headers = rate_headers(rule, admission)
        if not admission.admitted:
            self.metrics.ratelimit_rejections.labels(admission.verdict.value).inc()
            wait_ms = retry_after_ms(rule, admission)
            headers["retry-after"] = str(max(math.ceil(wait_ms / 1000), 1))
            headers["retry-after-ms"] = str(max(wait_ms, 1))
            who = "the anonymous caller" if key_name is None else f"key {key_name!r}"
            raise RateLimited(
                f"rate limit reached for {who}: {_WHAT[admission.verdict]} spent; "
                f"retry after {headers['retry-after']}s",
                headers=headers,
            )
        caps = None
        if admission.quota_exhausted:
            caps = Caps(max_effort=Effort.NONE)
            headers["x-thinkgate-quota"] = "exhausted"
            self.metrics.quota_exhausted.inc()
        return Grant(ident, rule, estimate, headers, caps, self)

    def account_later(self, ident: str, rule: LimitRule, tokens: int, thinking: int) -> None:
        if (rule.tokens_per_minute is None or not tokens) and (rule.thinking_tokens is None or thinking <= 0):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._account(ident, rule, tokens, thinking))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _account(self, ident: str, rule: LimitRule, tokens: int, thinking: int) -> None:
        # a failure is counted and logged by guarded; the usage of this request is then lost
        with contextlib.suppress(StoreError):
            await self.guarded("account", lambda: self.store.account(ident, rule, tokens, thinking))

    async def drain(self) -> None:
        """Wait for pending accounting (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.store.close()
