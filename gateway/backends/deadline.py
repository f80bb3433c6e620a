"""One timer for all the timeouts of an upstream exchange (first byte, idle, total).

A timer per wait (``asyncio.timeout`` around every read) costs a timer handle per body chunk, and aiohttp's
own timeouts added more: ``benchmarks/upstream_client.py`` counts them in the seam's CPU per exchange.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Deadline:
    """The timeouts of one exchange on one lazily re-armed timer (instead of a timer per read).

    :meth:`wait` starts a wait on the upstream (headers, or the next body chunk) bounded by ``limit`` and by
    the exchange's total deadline; :meth:`waited` ends it. The timer fires at most once per ``limit`` while
    data keeps coming (it re-arms itself for the latest wait instead of being replaced on every chunk); when a
    wait has lasted ``limit`` or the total deadline has passed it cancels the waiting task, and
    :meth:`expired` turns that cancellation into the failure to raise.
    """

    __slots__ = ("_cancelling", "_handle", "_limit", "_loop", "_since", "_task", "_total_at", "fired")

    def __init__(self, loop: asyncio.AbstractEventLoop, total: float) -> None:
        self._loop = loop
        self._total_at = self._loop.time() + total
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._since: float | None = None
        self._limit = 0.0
        self._cancelling = 0
        self.fired: str | None = None  # "wait" or "total" once it cancelled the waiting task

    def wait(self, limit: float) -> None:
        task = asyncio.current_task(self._loop)  # with the loop given: no getpid() syscall (CPython 3.11)
        if task is None:
            raise RuntimeError("Deadline.wait() outside a task")
        now = self._loop.time()
        if now >= self._total_at:
            self.fired = "total"
            raise TimeoutError
        self._task, self._since, self._limit, self._cancelling = task, now, limit, task.cancelling()
        due = min(now + limit, self._total_at)
        if self._handle is None or self._handle.when() > due:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(due, self._fire)

    def waited(self) -> None:
        self._since = None

    def expired(self) -> bool:
        """After a ``CancelledError`` in a wait: whether this deadline caused it (then it is swallowed)."""
        task = self._task
        if self.fired is None or task is None:
            return False
        return task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        since = self._since
        if since is None or self._task is None:
            return  # not waiting now: the next wait() arms it again
        due = min(since + self._limit, self._total_at)
        if self._loop.time() + 0.001 < due:  # a timer may fire up to a clock tick early
            self._handle = self._loop.call_at(due, self._fire)
            return
        self.fired = "total" if due >= self._total_at else "wait"
        self._task.cancel()
