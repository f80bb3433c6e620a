"""The upstream HTTP seam: a keep-alive HTTP/1.1 client per backend pool, on asyncio with httptools.

Why not aiohttp (which this module used until issue 18): ``benchmarks/upstream_client.py`` measured the
whole exchange as the gateway does it (send, read or stream, close) against aiohttp tuned as far as its API
goes; see benchmarks/RESULTS.md ("Upstream seam"). What is here is the part of a client the gateway uses:
one request per connection at a time, keep-alive reuse (LIFO, connections the backend closed are skipped),
at most ``max_connections`` exchanges at once per pool (further ones wait, FIFO), ``http`` and ``https``
(system trust store), bodies framed by ``content-length``, ``chunked`` or the end of the connection
(httptools parses the response), no compression (none is asked for). Back-pressure: reading pauses while
more than ``HIGH_WATER`` body bytes wait for the relay.

Timeouts (``router.policy.Timeouts``): ``connect`` bounds opening a new connection (TCP and TLS),
``first_byte`` the wait for the response headers (plus ``connect``), ``idle`` every wait for the next body
bytes, ``total`` the whole exchange — all on one lazily re-armed timer per exchange (:class:`Deadline`).
Closing an unfinished response closes its connection, so the backend sees the cancellation at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httptools
import orjson

from router.policy import Timeouts

#: body bytes buffered for the relay before the connection stops reading (resumes when the relay catches up)
HIGH_WATER = 256 * 1024
#: a request whose body is at most this many bytes goes out in one write with its head
ONE_WRITE = 64 * 1024
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


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: the transport, the response parser and what it has parsed so far."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: _Origin) -> None:
        self._loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self.chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.headers_done = False
        self.complete = False
        self._informational = False
        self.keep_alive = False
        self.framed = False  # content-length or chunked: the end is known without the connection closing
        self.lost = False
        self.busy = False  # between send() and going back to the idle list
        self.parked: Callable[[], None] | None = None  # called once a drained response ends
        self.error: str | None = None
        self.idle_since = 0.0

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's is no subclass)

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # bytes on an idle connection: nothing asked for them, and it is unusable now
            self.lost = True
            if self.transport is not None:
                self.transport.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"upstream sent a malformed response: {exc}")
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.headers_done and not self.framed and not self.complete and self.error is None:
            self.complete = True  # a body without length ends with the connection
            self._wake()
        elif not self.complete:
            self._fail("upstream connection dropped" + (f": {exc}" if exc else " (closed by the backend)"))

    # -- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # an informational response (100 Continue): the real one follows
            self._informational = True
            self.headers = []
            return
        self.status = status
        self.keep_alive = self._parser.should_keep_alive()  # llhttp forgets it once the message is complete
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length" or (lname == b"transfer-encoding" and b"chunked" in value.lower()):
                self.framed = True
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.parked is not None:
            return  # draining: nobody reads it
        self.chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self.complete = True
        if self.parked is not None:  # drained after the caller was done with it
            parked, self.parked = self.parked, None
            parked()
        self._wake()

    # -- the exchange's side

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until the parser or the transport has news."""
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def take(self) -> bytes:
        """Every body byte buffered so far, as one bytes object; resumes reading if it was paused."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def send(self, head: bytes, body: bytes | None) -> None:
        """Reset the response state and write one request (the parser carries over: it reads one response
        after the other on a keep-alive connection)."""
        assert self.transport is not None
        self.busy = True
        self.headers = []
        self.status = 0
        self.headers_done = self.complete = self.framed = False
        if body is None:
            self.transport.write(head)
        elif len(body) <= ONE_WRITE:
            self.transport.write(head + body)
        else:
            self.transport.write(head)
            self.transport.write(body)

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and self.error is None and not self.lost

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Origin:
    """Where to connect for one ``scheme://host:port``, and its idle connections (most recent last)."""

    __slots__ = ("host", "host_header", "idle", "port", "ssl")

    def __init__(self, origin: str) -> None:
        scheme, _, netloc = origin.partition("://")
        if scheme not in ("http", "https") or not netloc:
            raise UpstreamFailure("connect", f"unsupported upstream URL {origin!r}")
        host, port = netloc, 443 if scheme == "https" else 80
        if netloc.startswith("["):  # [v6]:port
            end = netloc.index("]")
            host, rest = netloc[1:end], netloc[end + 1 :]
            if rest.startswith(":"):
                port = int(rest[1:])
        elif ":" in netloc:
            host, _, p = netloc.rpartition(":")
            port = int(p)
        self.host = host
        self.port = port
        self.host_header = netloc.encode("ascii")
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if scheme == "https" else None
        self.idle: list[_Connection] = []


class UpstreamResponse:
    """An open upstream response; the caller must :meth:`close` it (the relay does, in ``finally``)."""

    __slots__ = ("_client", "_conn", "_deadline", "_drain", "_idle", "_total", "status")

    def __init__(
        self, client: UpstreamClient, conn: _Connection, deadline: Deadline, idle: float, total: float
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

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (all that arrived since the last one, joined); :class:`UpstreamFailure`
        on idle or total timeout or a dropped connection."""
        conn = self._conn
        while True:
            if conn.chunks:
                yield conn.take()
            elif conn.complete:
                return
            elif conn.error is not None:
                raise UpstreamFailure("protocol", conn.error)
            else:
                await self._more()

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
        self._origins: dict[str, _Origin] = {}
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._all: set[_Connection] = set()
        self._started = False

    async def start(self) -> None:
        self._started = True

    async def close(self) -> None:
        """Close every connection, idle or in use."""
        self._started = False
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        for origin in self._origins.values():
            origin.idle.clear()

    def _origin(self, url: str) -> tuple[_Origin, str]:
        cut = url.find("/", url.find("://") + 3)
        base, path = (url, "/") if cut == -1 else (url[:cut], url[cut:])
        origin = self._origins.get(base)
        if origin is None:
            origin = self._origins[base] = _Origin(base)
        return origin, path

    async def _slot(self) -> None:
        """One of the ``max_connections`` exchange slots (FIFO when all are taken)."""
        if self._in_use < self._max_connections and not self._waiters:
            self._in_use += 1
            return
        waiter = asyncio.get_running_loop().create_future()
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

    async def _connection(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        idle = origin.idle
        now = loop.time()
        while idle:
            conn = idle.pop()
            if not conn.lost and now - conn.idle_since < KEEPALIVE_S:
                return conn
            conn.close()
            self._all.discard(conn)
        try:
            async with asyncio.timeout(self._timeouts.connect):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, origin),
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

    def _release(self, conn: _Connection, drain: bool = False) -> None:
        if conn.reusable() and self._started:
            self._park(conn)
        elif drain and self._started and conn.headers_done and conn.error is None and not conn.lost:
            # Not counted against max_connections while it drains: it carries no exchange any more.
            timer = conn._loop.call_later(DRAIN_S, self._drop, conn)

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

    def _park(self, conn: _Connection) -> None:
        conn.busy = False
        conn.idle_since = conn._loop.time()
        conn.origin.idle.append(conn)

    def _drop(self, conn: _Connection) -> None:
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
    ) -> UpstreamResponse:
        """Send a request and wait for the response headers (connect + first-byte timeouts)."""
        if not self._started:
            raise RuntimeError("UpstreamClient used before start()")
        wait = first_byte if first_byte is not None else self._timeouts.first_byte
        origin, path = self._origin(url)
        head = _request_head(method, path, origin.host_header, headers, body)
        deadline = Deadline(self._timeouts.total)
        slot = False
        conn: _Connection | None = None
        try:
            deadline.wait(self._timeouts.connect + wait)
            await self._slot()
            slot = True
            conn = await self._connection(origin)
            conn.send(head, body)
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


def _request_head(
    method: str, path: str, host: bytes, headers: dict[str, str] | None, body: bytes | None
) -> bytes:
    """The request line and headers; ``Host`` and ``Content-Length`` are added, nothing else."""
    lines = [f"{method} {path} HTTP/1.1\r\nHost: ".encode("ascii"), host]
    for name, value in (headers or {}).items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise UpstreamFailure("protocol", f"refusing to send header {name!r}: it would split the request")
        lines.append(f"\r\n{name}: {value}".encode("latin-1"))
    if body is not None:
        lines.append(b"\r\ncontent-length: %d" % len(body))
    elif method in ("POST", "PUT", "PATCH"):
        lines.append(b"\r\ncontent-length: 0")
    lines.append(b"\r\n\r\n")
    return b"".join(lines)
