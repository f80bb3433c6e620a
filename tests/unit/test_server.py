"""gateway/server.py without sockets: the start-up check of uvicorn's internals, and what the head-holding
transport does with a held head on close, abort and a closing connection (tests/integration/
test_server_writes.py runs it on real sockets)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway import server
from gateway.server import HeadHoldingTransport, check_uvicorn


def test_the_installed_uvicorn_is_the_verified_one() -> None:
    check_uvicorn()  # thinkgate serve would refuse to start otherwise


def test_another_uvicorn_series_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "VERIFIED_UVICORN", "0.1.")
    with pytest.raises(RuntimeError, match=r"not the verified series 0\.1\.x"):
        check_uvicorn()


def test_missing_internals_refuse_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(HttpToolsProtocol, "_start_asgi_task")
    with pytest.raises(RuntimeError, match=r"_start_asgi_task\(cycle, app\) is missing"):
        check_uvicorn()


class Fake:
    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, data: Any) -> None:
        self.calls.append(("writelines", list(data)))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.calls.append("close")

    def abort(self) -> None:
        self.calls.append("abort")


def holding() -> tuple[HeadHoldingTransport, Fake, asyncio.AbstractEventLoop]:
    fake, loop = Fake(), asyncio.new_event_loop()
    t = HeadHoldingTransport(cast(asyncio.Transport, fake), loop)
    t.hold_next_write()
    return t, fake, loop


def test_the_held_head_goes_with_the_next_write_then_writes_pass_through() -> None:
    t, fake, loop = holding()
    t.write(b"head")
    t.write(b"body")
    t.write(b"more")
    loop.run_until_complete(asyncio.sleep(0))  # the end-of-turn flush finds nothing left
    loop.close()
    assert fake.calls == [("writelines", [b"head", b"body"]), ("write", b"more")]


def test_a_head_without_a_body_goes_out_at_the_end_of_the_loop_turn() -> None:
    t, fake, loop = holding()
    t.write(b"head")
    assert fake.calls == []
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert fake.calls == [("write", b"head")]


def test_interim_100_continue_is_not_held() -> None:
    t, fake, loop = holding()
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(b"body")
    loop.close()
    assert fake.calls == [
        ("write", b"HTTP/1.1 100 Continue\r\n\r\n"),
        ("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"body"]),
    ]


def test_close_sends_the_held_head_first_abort_and_a_closing_connection_drop_it() -> None:
    t, fake, loop = holding()
    t.write(b"head")
    t.close()
    assert fake.calls == [("write", b"head"), "close"]
    t, fake, _ = holding()
    t.write(b"head")
    t.abort()
    assert fake.calls == ["abort"]
    t, fake, loop2 = holding()
    t.write(b"head")
    fake.closing = True
    loop2.run_until_complete(asyncio.sleep(0))
    assert fake.calls == []
    for each in (loop, loop2):
        each.close()
