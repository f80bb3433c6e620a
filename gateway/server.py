"""The HTTP server of ``thinkgate serve`` and ``thinkgate demo``: uvicorn (httptools), with the response head
and the first body bytes of an answer in one socket write.

uvicorn writes the head to the socket as soon as the app sends ``http.response.start`` and every body message
in its own write, so a complete answer (start + one body message: the pipeline's JSON answers, Starlette's
responses, the 500 of an app exception) costs two ``write()`` syscalls and wakes the client twice, and a
stream's head goes out alone before its first event. nginx sends head and body in one write.
``OneWriteProtocol`` is uvicorn's protocol with one change: the connection's transport is wrapped
(:class:`HeadHoldingTransport`) and, when a request's ASGI task starts, told to hold the next write — the head
(an interim ``100 Continue`` passes at once) — until whichever comes first:

* the next write on the connection (the first body message): both go out in one ``writelines`` (one
  ``writev`` on uvloop, no copy);
* the end of the event-loop iteration (a ``call_soon`` callback), so a response whose first body is not
  sent in the same step of the app's task (a slow first event, a HEAD answer, which has no body write, an
  app that awaits I/O between start and body) is never held back longer than one turn of the loop;
* ``close()`` (the head goes out first) — ``abort()`` and a connection already closing drop it, as uvicorn
  would have written into a closing transport for nothing.

Every other write passes straight through, so every write keeps its order on the connection. Worst case: a
head waits for the callbacks already queued and the I/O events already ready in this loop iteration
(microseconds; it never waits for new I/O), and the end-of-turn callback may cost the loop one extra
``epoll_pwait`` with timeout 0 (a syscall that wakes nobody). What it buys (benchmarks/server_writes.py;
RESULTS.md, "Session 6 ...: one socket write per answer"): 2 -> 1 socket write per answer (JSON answers, error
envelopes, a mock stream whose events end in one message), and at one connection 0.03-0.06 ms less per request
on this VM (p50 0.83-0.93x, gateway CPU 0.82-0.98x): a loopback write also runs the client's receive path and
wakes it, twice before. At 64 connections: no change beyond the noise.

It relies on two internals of uvicorn's ``HttpToolsProtocol`` (``connection_made`` stores the transport that
every request cycle and the flow control use, and ``_start_asgi_task(cycle, app)`` starts each request's task,
pipelined ones included) and was verified with the uvicorn series in :data:`VERIFIED_UVICORN`;
:func:`check_uvicorn` refuses to start on another series or when those internals are missing, instead of
silently writing twice. After upgrading uvicorn: run ``tests/integration/test_server_writes.py``, then update
:data:`VERIFIED_UVICORN`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: the uvicorn release series whose internals ``OneWriteProtocol`` was checked against
VERIFIED_UVICORN = "0.55."
_INTERIM = b"HTTP/1.1 100 "  # uvicorn's "100 Continue" before the app reads the body: never held


class HeadHoldingTransport(asyncio.Transport):
    """A connection's transport that can hold one write until the next write or the end of the loop turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._hold = False
        self._held: bytes | None = None

    def hold_next_write(self) -> None:
        self._hold = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))
        elif self._hold and type(data) is bytes and not data.startswith(_INTERIM):  # uvicorn writes bytes
            self._hold = False
            self._held = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, *list_of_data))
        else:
            self._transport.writelines(list_of_data)

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose responses send their head with the first body bytes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        self._holding = HeadHoldingTransport(transport, self.loop)
        super().connection_made(self._holding)

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # the response of this task is the connection's next writer (pipelined requests start only after
        # the previous response completed), so its first write is its head
        self._holding.hold_next_write()
        super()._start_asgi_task(cycle, app)


def check_uvicorn() -> None:
    """Raise ``RuntimeError`` unless uvicorn has the series and internals ``OneWriteProtocol`` needs."""
    problems = []
    if not uvicorn.__version__.startswith(VERIFIED_UVICORN):
        problems.append(f"uvicorn {uvicorn.__version__} is not the verified series {VERIFIED_UVICORN}x")
    start = getattr(HttpToolsProtocol, "_start_asgi_task", None)
    if start is None or list(inspect.signature(start).parameters) != ["self", "cycle", "app"]:
        problems.append("HttpToolsProtocol._start_asgi_task(cycle, app) is missing")
    made = getattr(HttpToolsProtocol, "connection_made", None)
    if made is None or list(inspect.signature(made).parameters) != ["self", "transport"]:
        problems.append("HttpToolsProtocol.connection_made(transport) is missing")
    if problems:
        raise RuntimeError(
            "thinkgate's HTTP server (gateway/server.py) does not fit the installed uvicorn: "
            + "; ".join(problems)
            + " (run tests/integration/test_server_writes.py with it, then update VERIFIED_UVICORN)"
        )


def run(app: Any, **options: Any) -> None:
    """``uvicorn.run(app, **options)`` with :class:`OneWriteProtocol`, after :func:`check_uvicorn`."""
    check_uvicorn()
    uvicorn.run(app, http=OneWriteProtocol, **options)
