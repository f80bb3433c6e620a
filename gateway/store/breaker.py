"""A circuit breaker that keeps a slow or dead dependency off the request path."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are refused without trying
    HALF_OPEN = "half_open"  # one probe call is in flight; its outcome closes or re-opens


class CircuitBreaker:
    """``failures`` failed calls in a row open the breaker; after ``reset`` seconds one probe call is let
    through (half-open): success closes it, failure opens it for another ``reset`` seconds. While the probe
    is in flight other calls are refused.

    Usage: ``if breaker.allow(): try call; breaker.success() except: breaker.failure()``.
    """

    def __init__(self, failures: int, reset: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = failures
        self._reset = reset
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """Whether a call may be tried now (an open breaker past ``reset`` lets exactly one probe through)."""
        if self._state is BreakerState.CLOSED:
            return True
        # a probe that never reported back (cancelled) does not block the breaker: after ``reset`` seconds
        # another probe is let through
        if self._clock() - self._opened_at >= self._reset:
            self._state = BreakerState.HALF_OPEN
            self._opened_at = self._clock()
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._state = BreakerState.CLOSED

    def failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
