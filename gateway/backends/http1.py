"""HTTP/1.1 on asyncio for the upstream client: one connection (its transport and httptools' response parser),
where to connect (:class:`Origin`), and the bytes of a request head.

A connection carries one exchange at a time (no pipelining). The response is framed by ``content-length``,
``chunked`` or the end of the connection; a ``1xx`` before it is skipped. Back-pressure: the connection stops
reading while more than ``HIGH_WATER`` body bytes wait for the reader. Pooling, limits and timeouts are
:mod:`gateway.backends.client`'s.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable

import httptools

#: body bytes buffered for the reader before the connection stops reading (it resumes when they are taken)
HIGH_WATER = 256 * 1024
#: a request whose body is at most this many bytes is copied behind its head into one write; a larger one
#: goes out with its head in one ``writelines`` (one ``writev`` on uvloop)
ONE_WRITE = 64 * 1024


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: the transport, the response parser and what it has parsed so far."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self.loop = loop
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
        waiter = self._waiter = self.loop.create_future()
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
        else:  # one writev on uvloop, without copying the body behind the head (two write()s before)
            self.transport.writelines((head, body))

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and self.error is None and not self.lost

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Origin:
    """Where to connect for one ``scheme://host:port``, and its idle connections (most recent last)."""

    __slots__ = ("host", "host_header", "idle", "port", "ssl")

    def __init__(self, origin: str) -> None:
        scheme, _, netloc = origin.partition("://")
        if scheme not in ("http", "https") or not netloc:
            raise ValueError(f"unsupported upstream URL {origin!r}")
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
        self.idle: list[Connection] = []


def request_head(
    method: str, path: str, host: bytes, headers: dict[str, str] | None, body: bytes | None
) -> bytes:
    """The request line and headers; ``Host`` and ``Content-Length`` are added, nothing else."""
    lines = [f"{method} {path} HTTP/1.1\r\nHost: ".encode("ascii"), host]
    for name, value in (headers or {}).items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"refusing to send header {name!r}: it would split the request")
        lines.append(f"\r\n{name}: {value}".encode("latin-1"))
    if body is not None:
        lines.append(b"\r\ncontent-length: %d" % len(body))
    elif method in ("POST", "PUT", "PATCH"):
        lines.append(b"\r\ncontent-length: 0")
    lines.append(b"\r\n\r\n")
    return b"".join(lines)
