"""Limit counters in this process (the default: one gateway process, no external service)."""

from __future__ import annotations

import time
from collections.abc import Callable

from router.limits import MINUTE_MS, Admission, LimitRule, Window, admit


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class MemoryStore:
    """Counters in a dict: ``name -> (used, expires_at_ms)``. Every method runs without awaiting, so each is
    atomic on the event loop. Expired counters are dropped when touched and by a sweep every 1024 writes."""

    def __init__(self, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._clock = clock_ms
        self._counters: dict[str, tuple[int, int]] = {}
        self._writes = 0

    def _read(self, name: str, now: int) -> Window:
        entry = self._counters.get(name)
        if entry is None or entry[1] <= now:
            self._counters.pop(name, None)
            return Window()
        return Window(entry[0], entry[1] - now)

    def _write(self, name: str, window: Window, now: int) -> None:
        self._counters[name] = (window.used, now + window.reset_ms)
        self._writes += 1
        if self._writes % 1024 == 0:
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}

    async def admit(self, ident: str, rule: LimitRule, estimate: int) -> Admission:
        now = self._clock()
        req = self._read(f"{ident}:req", now) if rule.requests_per_minute is not None else Window()
        tok = self._read(f"{ident}:tok", now) if rule.tokens_per_minute is not None else Window()
        think = self._read(f"{ident}:think", now) if rule.thinking_tokens is not None else Window()
        result = admit(rule, req, tok, think, estimate)
        if result.admitted:
            if rule.requests_per_minute is not None:
                self._write(f"{ident}:req", result.requests, now)
            if rule.tokens_per_minute is not None:
                self._write(f"{ident}:tok", result.tokens, now)
        return result

    def _add(self, name: str, amount: int, window_ms: int, now: int) -> None:
        current = self._read(name, now)
        if amount < 0:
            if current.reset_ms:  # a correction only applies inside the window it corrects
                self._write(name, Window(max(current.used + amount, 0), current.reset_ms), now)
            return
        self._write(name, Window(current.used + amount, current.reset_ms or window_ms), now)

    async def account(self, ident: str, rule: LimitRule, tokens: int, thinking: int) -> None:
        now = self._clock()
        if rule.tokens_per_minute is not None and tokens:
            self._add(f"{ident}:tok", tokens, MINUTE_MS, now)
        if rule.thinking_tokens is not None and thinking > 0:
            self._add(f"{ident}:think", thinking, rule.period_ms, now)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._counters.clear()
