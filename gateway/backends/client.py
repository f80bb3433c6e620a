"""The upstream HTTP seam: one pooled aiohttp session per backend pool, with explicit timeouts.

aiohttp was chosen over httpx by measurement (``benchmarks/upstream_client.py``; LiteLLM reports the same
direction). Connect and first-byte timeouts apply while waiting for response headers, the idle timeout between
two body chunks, the total timeout to the whole exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from router.policy import Timeouts


class UpstreamFailure(Exception):
    """Talking to an endpoint failed.

    ``kind`` is a metric label: connect, timeout, idle, protocol, probe.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Deadline:
    """The timeouts of one exchange on one lazily re-armed timer (instead of a timer per read).

    :meth:`wait` starts a wait on the upstream (headers, or the next body chunk) bounded by ``limit`` and by
    the exchange's total deadline; :meth:`waited` ends it. The timer fires at most once per ``limit`` while
    data keeps coming (it re-arms itself for the latest wait instead of being replaced on every chunk); when a
    wait has lasted ``limit`` or the total deadline has passed it cancels the waiting task, and
    :meth:`expired` turns that cancellation into the failure to raise.
    """

    __slots__ = ("_cancelling", "_handle", "_limit", "_loop", "_since", "_task", "_total_at", "fired")

    def __init__(self, total: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._total_at = self._loop.time() + total
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._since: float | None = None
        self._limit = 0.0
        self._cancelling = 0
        self.fired: str | None = None  # "wait" or "total" once it cancelled the waiting task

    def wait(self, limit: float) -> None:
        task = asyncio.current_task()
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


@dataclass(slots=True)
class UpstreamResponse:
    """An open upstream response; the caller must :meth:`close` it (the relay does, in ``finally``)."""

    status: int
    headers: dict[str, str]
    _resp: aiohttp.ClientResponse
    _idle: float
    _deadline: Deadline
    _total: float

    def _timed_out(self) -> UpstreamFailure:
        if self._deadline.fired == "total":
            return UpstreamFailure(
                "timeout", f"upstream exchange exceeded the total timeout of {self._total:g}s"
            )
        return UpstreamFailure("idle", f"upstream sent no data for {self._idle:g}s")

    async def read(self) -> bytes:
        deadline = self._deadline
        try:
            deadline.wait(self._idle)
            return await self._resp.read()
        except TimeoutError:
            raise self._timed_out() from None
        except asyncio.CancelledError:
            if deadline.expired():
                raise self._timed_out() from None
            raise
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("protocol", f"upstream connection failed while reading: {exc}") from None
        finally:
            deadline.waited()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; :class:`UpstreamFailure` on idle timeout or a dropped connection."""
        content = self._resp.content
        deadline = self._deadline
        idle = self._idle
        while True:
            try:
                deadline.wait(idle)
                chunk = await content.readany()
            except TimeoutError:
                raise self._timed_out() from None
            except asyncio.CancelledError:
                if deadline.expired():
                    raise self._timed_out() from None
                raise
            except aiohttp.ClientError as exc:
                raise UpstreamFailure("protocol", f"upstream connection dropped: {exc}") from None
            finally:
                deadline.waited()
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        """Close now: an unfinished response closes its connection, so the backend sees the cancellation."""
        self._deadline.close()
        self._resp.close()


class UpstreamClient:
    """A pooled client for one backend pool. Create in the app's lifespan, close on shutdown."""

    def __init__(self, timeouts: Timeouts, max_connections: int) -> None:
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=self._max_connections, keepalive_timeout=30
        )
        # Timeouts are this module's Deadline (one lazily re-armed timer per exchange); aiohttp only bounds
        # the socket connect of a new connection. Bodies are not compressed (no Accept-Encoding is sent), so
        # there is nothing to decompress.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeouts.connect),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient used before start()")
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        first_byte: float | None = None,
    ) -> UpstreamResponse:
        """Send a request and wait for the response headers (connect + first-byte timeouts)."""
        wait = first_byte if first_byte is not None else self._timeouts.first_byte
        deadline = Deadline(self._timeouts.total)
        try:
            deadline.wait(self._timeouts.connect + wait)
            resp = await self.session.request(method, url, data=body, headers=headers)
        except asyncio.CancelledError:
            if deadline.expired():
                raise UpstreamFailure("timeout", f"no response from {url} within {wait:g}s") from None
            deadline.close()
            raise
        except TimeoutError:
            deadline.close()
            raise UpstreamFailure(
                "timeout", f"cannot connect to {url} within {self._timeouts.connect:g}s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            deadline.close()
            raise UpstreamFailure("connect", f"cannot connect to {url}: {exc.os_error}") from None
        except aiohttp.ServerDisconnectedError:
            deadline.close()
            raise UpstreamFailure("protocol", f"{url} closed the connection before answering") from None
        except aiohttp.ClientError as exc:
            deadline.close()
            raise UpstreamFailure("protocol", f"request to {url} failed: {exc}") from None
        finally:
            deadline.waited()
        return UpstreamResponse(
            resp.status, dict(resp.headers), resp, self._timeouts.idle, deadline, self._timeouts.total
        )

    async def get_json(self, url: str, *, timeout: float = 2.0) -> Any:
        """Small GET helper for /version, /health and /metrics probes."""
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None

    async def get_status(self, url: str, *, timeout: float = 2.0) -> int:
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url) as resp:
                    await resp.read()
                    return resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None

    async def get_text(self, url: str, *, timeout: float = 2.0) -> str:
        """GET a small text body (``/metrics``); :class:`UpstreamFailure` on any failure or non-200."""
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.text(errors="replace")
        except (TimeoutError, aiohttp.ClientError, UnicodeDecodeError) as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None
