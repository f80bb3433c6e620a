"""gateway/server.py without sockets: the start-up check of uvicorn's internals, and what the head-holding
transport does with a held head on close, abort and a closing connection (tests/integration/
test_server_writes.py runs it on real sockets)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway import server
from gateway.server import HeadHoldingTransport, check_uvicorn, head_lines


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


def test_head_lines_are_the_headers_as_lines() -> None:
    headers = {"x-thinkgate-effort": "low", "x-warn": "caf\u00e9; \tok", "cache-control": "no-cache"}
    lines = b"x-thinkgate-effort: low\r\nx-warn: caf\xe9; \tok\r\ncache-control: no-cache\r\n"
    assert head_lines(headers) == lines
    assert head_lines({}) == b""  # not a blank line: that would end the head


@pytest.mark.parametrize(
    "header",
    [
        ("x-thinkgate-episode", "run-1\r\nset-cookie: stolen=1"),  # header injection
        ("x-thinkgate-episode", "run-1\nset-cookie: stolen=1"),
        ("x-thinkgate-episode", "run-1\rx"),
        ("x-thinkgate-episode", "nul\x00"),
        ("x-thinkgate-episode", "del\x7f"),
        ("x-thinkgate-episode", "not latin-1: \u20ac"),
        ("x-bad name", "v"),
        ("x-bad:name", "v"),
        ("x-bad\r\nname", "v"),
        ("X-Upper", "v"),  # uvicorn lower-cases names: plain headers
        ("content-length", "10"),  # framing headers: uvicorn must see them
        ("transfer-encoding", "chunked"),
        ("connection", "close"),
    ],
)
def test_head_lines_refuse_what_uvicorn_refuses_and_framing_headers(header: tuple[str, str]) -> None:
    assert head_lines({"x-request-id": "abc", header[0]: header[1], "x-other": "ok"}) is None


def test_head_lines_admit_what_uvicorn_admits_past_the_fast_test() -> None:
    # not plain text (a name with "_", a value with a tab and a non-printable Latin-1 character), but nothing
    # uvicorn's patterns refuse
    assert head_lines({"x_under": "a\tb\xa0c", "x-\u00e9": "v"}) == b"x_under: a\tb\xa0c\r\nx-\xe9: v\r\n"


def test_head_lines_go_into_the_next_head_before_its_blank_line_once() -> None:
    t, fake, loop = holding()
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # an interim response is no head for them
    t.insert_lines(b"x-a: 1\r\n")
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    t.write(b"HTTP/1.1 200 OK\r\ndate: d\r\n\r\n")
    t.write(b"body")
    t.hold_next_write()
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")  # the next response's head: nothing left to insert
    t.write(b"next")
    t.insert_lines(b"x-b: 2\r\n")  # never written (the client left): not the next request's
    t.hold_next_write()
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(b"last")
    loop.close()
    assert fake.calls == [
        ("write", b"HTTP/1.1 100 Continue\r\n\r\n"),
        ("write", b"HTTP/1.1 100 Continue\r\n\r\n"),
        ("writelines", [b"HTTP/1.1 200 OK\r\ndate: d\r\nx-a: 1\r\n\r\n", b"body"]),
        ("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"next"]),
        ("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"last"]),
    ]
