"""The upstream HTTP seam: a keep-alive HTTP/1.1 client per backend pool, on asyncio with httptools.

Why not aiohttp (which this module used until issue 18): ``benchmarks/upstream_client.py`` measured the
whole exchange as the gateway does it (send, read or stream, close) against aiohttp tuned as far as its API
goes; see benchmarks/RESULTS.md ("Upstream seam"). What is here is the part of a client the gateway uses:
one request per connection at a time, keep-alive reuse (LIFO, connections the backend closed are skipped),
at most ``max_connections`` exchanges at once per pool (further ones wait, FIFO), ``http`` and ``https``
(system trust store), bodies framed by ``content-length``, ``chunked`` or the end of the connection
(httptools parses the response, :mod:`gateway.backends.http1`), no compression (none is asked for).

Timeouts (``router.policy.Timeouts``): ``connect`` bounds opening a new connection (TCP and TLS),
``first_byte`` the wait for the response headers (plus ``connect``), ``idle`` every wait for the next body
bytes, ``total`` the whole exchange — all on one lazily re-armed timer per exchange
(:mod:`gateway.backends.deadline`). Closing an unfinished response closes its connection, so the backend sees
the cancellation at once; a stream read to its end (:meth:`UpstreamResponse.done_reading`) may finish its body
in the background for up to ``DRAIN_S`` and keep its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from gateway.backends.deadline import Deadline
from gateway.backends.http1 import Connection, Origin, request_head
from router.policy import Timeouts

#: idle keep-alive connections older than this are closed instead of reused: vLLM (uvicorn) closes its side
#: after 5 s, and a request sent just as its close is under way would fail
KEEPALIVE_S = 4.0
#: how long a response the caller is done with (it saw ``[DONE]``) may take to end its body and go back to the
#: pool instead of being closed (the chunked terminator often arrives in a read after the last event)
DRAIN_S = 1.0


class UpstreamFailure(Exception):
    """Talking to an endpoint failed.

    ``kind`` is a metric label: connect, timeout, idle, protocol, probe.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class UpstreamResponse:
    """An open upstream response; the caller must :meth:`close` it (the relay does, in ``finally``)."""

    __slots__ = ("_client", "_conn", "_deadline", "_drain", "_idle", "_total", "status")

    def __init__(
        self, client: UpstreamClient, conn: Connection, deadline: Deadline, idle: float, total: float
    ) -> None:
        self.status = conn.status
        self._client: UpstreamClient | None = client
        self._conn = conn
        self._deadline = deadline
        self._idle = idle
        self._total = total
        self._drain = False

    @property
    def headers(self) -> dict[str, str]:
        """The response headers (names as sent)."""
        return {n.decode("latin-1"): v.decode("latin-1") for n, v in self._conn.headers}

    def _timed_out(self) -> UpstreamFailure:
        if self._deadline.fired == "total":
            return UpstreamFailure(
                "timeout", f"upstream exchange exceeded the total timeout of {self._total:g}s"
            )
        return UpstreamFailure("idle", f"upstream sent no data for {self._idle:g}s")

    async def _more(self) -> None:
        """Wait (bounded by the idle and total timeouts) until the connection has news."""
        conn, deadline = self._conn, self._deadline
        try:
            deadline.wait(self._idle)
            await conn.wait()
        except TimeoutError:
            raise self._timed_out() from None
        except asyncio.CancelledError:
            if deadline.expired():
                raise self._timed_out() from None
            raise
        finally:
            deadline.waited()

    async def read(self) -> bytes:
        """The whole body."""
        conn = self._conn
        while not conn.complete:
            if conn.error is not None:
                raise UpstreamFailure("protocol", conn.error)
            await self._more()
        return conn.take() if conn.chunks else b""

    async def receive(self) -> bytes:
        """The body bytes that arrived since the last call (joined), waiting for some if none did; ``b""`` at
        the end of the body. :class:`UpstreamFailure` on idle or total timeout or a dropped connection.

        A coroutine, not an async generator, for the relay: an async generator left before its end (the relay
        stops at ``[DONE]``, the opener after the first event) is closed by the event loop's finaliser hook,
        which costs a ``call_soon_threadsafe`` (an eventfd write on uvloop), a task and a loop turn per
        abandoned generator — on every stream."""
        conn = self._conn
        while True:
            if conn.chunks:
                data = conn.take()
                if data:
                    return data
            elif conn.complete:
                return b""
            elif conn.error is not None:
                raise UpstreamFailure("protocol", conn.error)
            else:
                await self._more()

    async def chunks(self) -> AsyncIterator[bytes]:
        """:meth:`receive` as an async iterator, up to the end of the body."""
        while raw := await self.receive():
            yield raw

    def done_reading(self) -> None:
        """The caller has all it wants (a stream's ``[DONE]``): on :meth:`close`, a body that has not quite
        ended may finish for up to ``DRAIN_S`` and keep its connection, instead of closing it."""
        self._drain = True

    def close(self) -> None:
        """Give the connection back if the body was read to its end (or may end: :meth:`done_reading`),
        else close it (the backend sees the cancellation); idempotent."""
        client = self._client
        if client is None:
            return
        self._client = None
        self._deadline.close()
        client._release(self._conn, self._drain)

    def __del__(self) -> None:
        # A safety net, not the way to close: a response dropped unclosed (a caller's bug, or a cancellation
        # between request() returning and the caller's try) still gives back its connection slot.
        if self._client is not None:
            with contextlib.suppress(Exception):
                self.close()


class UpstreamClient:
    """A pooled client for one backend pool. Create in the app's lifespan, close on shutdown."""

    def __init__(self, timeouts: Timeouts, max_connections: int) -> None:
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._origins: dict[str, Origin] = {}
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._all: set[Connection] = set()
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        # The loop is kept: CPython 3.11's get_running_loop() (and current_task() without a loop) makes a
        # getpid() syscall, ~0.35 us here, which was three or four times per exchange.
        self._loop = asyncio.get_running_loop()
        self._started = True

    async def close(self) -> None:
        """Close every connection, idle or in use."""
        self._started = False
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        for origin in self._origins.values():
            origin.idle.clear()

    def _origin(self, url: str) -> tuple[Origin, str]:
        cut = url.find("/", url.find("://") + 3)
        base, path = (url, "/") if cut == -1 else (url[:cut], url[cut:])
        origin = self._origins.get(base)
        if origin is None:
            try:
                origin = self._origins[base] = Origin(base)
            except ValueError as exc:
                raise UpstreamFailure("connect", str(exc)) from None
        return origin, path

    def _free_slot(self) -> bool:
        """Take one of the ``max_connections`` exchange slots if one is free and nobody queues for one."""
        if self._in_use < self._max_connections and not self._waiters:
            self._in_use += 1
            return True
        return False

    async def _slot(self) -> None:
        """Wait for one of the ``max_connections`` exchange slots (FIFO), when :meth:`_free_slot` had none."""
        assert self._loop is not None
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _free hands its slot over: _in_use stays counted
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._free()  # the slot arrived as we were cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def _free(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._in_use -= 1

    def _idle_connection(self, origin: Origin) -> Connection | None:
        """The most recent idle connection to ``origin`` that may still be used (older ones are closed)."""
        assert self._loop is not None
        idle = origin.idle
        now = self._loop.time()
        while idle:
            conn = idle.pop()
            if not conn.lost and now - conn.idle_since < KEEPALIVE_S:
                return conn
            conn.close()
            self._all.discard(conn)
        return None

    async def _connect(self, origin: Origin) -> Connection:
        loop = self._loop
        assert loop is not None
        try:
            async with asyncio.timeout(self._timeouts.connect):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop, origin),
                    origin.host,
                    origin.port,
                    ssl=origin.ssl,
                    server_hostname=origin.host if origin.ssl is not None else None,
                )
        except TimeoutError:
            raise UpstreamFailure(
                "timeout", f"cannot connect to {origin.host}:{origin.port} within {self._timeouts.connect:g}s"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamFailure(
                "connect", f"cannot connect to {origin.host}:{origin.port}: {exc}"
            ) from None
        self._all.add(conn)
        return conn

    def _release(self, conn: Connection, drain: bool = False) -> None:
        if conn.reusable() and self._started:
            self._park(conn)
        elif drain and self._started and conn.headers_done and conn.error is None and not conn.lost:
            # Not counted against max_connections while it drains: it carries no exchange any more.
            timer = conn.loop.call_later(DRAIN_S, self._drop, conn)

            def parked() -> None:
                timer.cancel()
                if conn.reusable() and self._started:
                    self._park(conn)
                else:
                    self._drop(conn)

            conn.take()  # drop what was not read (and resume reading if it was paused)
            conn.parked = parked
        else:
            self._drop(conn)
        self._free()

    def _park(self, conn: Connection) -> None:
        conn.busy = False
        conn.idle_since = conn.loop.time()
        conn.origin.idle.append(conn)

    def _drop(self, conn: Connection) -> None:
        conn.parked = None
        conn.close()
        self._all.discard(conn)

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        first_byte: float | None = None,
        waiting: Callable[[], None] | None = None,
    ) -> UpstreamResponse:
        """Send a request and wait for the response headers (connect + first-byte timeouts).

        ``waiting()`` is called once, when the request first waits: right after its write when a slot and an
        idle connection are at hand (the usual case), else before it waits for a slot or a new connection. So
        work the caller needs after the answer, but that does not depend on it, runs while the backend works
        (an exception from it fails the request)."""
        if not self._started:
            raise RuntimeError("UpstreamClient used before start()")
        wait = first_byte if first_byte is not None else self._timeouts.first_byte
        origin, path = self._origin(url)
        try:
            head = request_head(method, path, origin.host_header, headers, body)
        except ValueError as exc:
            raise UpstreamFailure("protocol", str(exc)) from None
        assert self._loop is not None  # set by start()
        deadline = Deadline(self._loop, self._timeouts.total)
        slot = False
        conn: Connection | None = None
        try:
            deadline.wait(self._timeouts.connect + wait)
            if not self._free_slot():
                if waiting is not None:
                    waiting()
                    waiting = None
                await self._slot()
            slot = True
            conn = self._idle_connection(origin)
            if conn is None:
                if waiting is not None:
                    waiting()
                    waiting = None
                conn = await self._connect(origin)
            conn.send(head, body)
            if waiting is not None:
                waiting()
            while not conn.headers_done:
                if conn.error is not None:
                    raise UpstreamFailure("protocol", f"{url}: {conn.error} before answering")
                await conn.wait()
        except BaseException as exc:
            if conn is not None:
                conn.close()
                self._all.discard(conn)
            if slot:
                self._free()
            deadline.close()
            if isinstance(exc, asyncio.CancelledError) and deadline.expired():
                raise UpstreamFailure("timeout", f"no response from {url} within {wait:g}s") from None
            raise
        finally:
            deadline.waited()
        return UpstreamResponse(self, conn, deadline, self._timeouts.idle, self._timeouts.total)

    async def _get(self, url: str, timeout: float) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(timeout):
                resp = await self.request("GET", url, first_byte=timeout)
                try:
                    return resp.status, await resp.read()
                finally:
                    resp.close()
        except (TimeoutError, UpstreamFailure) as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None

    async def get_json(self, url: str, *, timeout: float = 2.0) -> Any:
        """Small GET helper for /version, /health and /metrics probes."""
        status, raw = await self._get(url, timeout)
        if status >= 400:
            raise UpstreamFailure("probe", f"GET {url} failed: HTTP {status}")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None

    async def get_status(self, url: str, *, timeout: float = 2.0) -> int:
        status, _ = await self._get(url, timeout)
        return status

    async def get_text(self, url: str, *, timeout: float = 2.0) -> str:
        """GET a small text body (``/metrics``); :class:`UpstreamFailure` on any failure or non-200."""
        status, raw = await self._get(url, timeout)
        if status >= 400:
            raise UpstreamFailure("probe", f"GET {url} failed: HTTP {status}")
        return raw.decode("utf-8", errors="replace")
