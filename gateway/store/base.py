"""The interface of a limit store (in-memory or Redis) and its error type."""

from __future__ import annotations

from typing import Protocol

from router.limits import Admission, LimitRule


class StoreError(Exception):
    """The store could not answer (Redis down, slow or refusing); the message never holds an API key."""


class LimitStore(Protocol):
    """Counters of :mod:`router.limits`, updated atomically. ``ident`` names a key (never the key itself)."""

    async def admit(self, ident: str, rule: LimitRule, estimate: int) -> Admission:
        """Apply :func:`router.limits.admit` to the caller's counters and store the result."""
        ...

    async def account(self, ident: str, rule: LimitRule, tokens: int, thinking: int) -> None:
        """Add ``tokens`` (may be negative: a correction of the estimate; never below 0) to the token counter
        and ``thinking`` reasoning tokens to the quota counter."""
        ...

    async def ping(self) -> None:
        """Raise :class:`StoreError` when the store is unusable."""
        ...

    async def close(self) -> None: ...
