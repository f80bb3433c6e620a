"""The gateway's HTTP server (gateway/server.py) on real sockets: a response's head goes out with its first
body bytes in one socket write, and everything uvicorn does around it still works — streams, a slow first
event, ``Expect: 100-continue``, HEAD, keep-alive, pipelining, an app exception, a client that disconnects
mid-stream, flow control — under ``thinkgate serve`` and ``thinkgate demo`` alike.

The writes are counted below the head-holding transport, on the transport uvicorn got from the event loop
(:class:`Recording`): one recorded call is one ``write``/``writev`` syscall on uvloop, so the counts do not
depend on timing or on how the kernel splits segments."""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.commands import demo, serve
from gateway.config import parse_policy_text
from gateway.demo_policy import demo_policy_yaml
from gateway.server import OneWriteProtocol
from gateway.settings import Settings
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import serve_app

Scope = dict[str, Any]
Message = dict[str, Any]


class Recording:
    """The event loop's transport, recording what reaches it: one entry per write/writelines call."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes]) -> None:
        parts = [bytes(d) for d in list_of_data]
        self.writes.append(b"".join(parts))
        self._transport.writelines(parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


CONNECTIONS: list[Recording] = []  # every connection of the servers below, in accept order


class RecordingProtocol(OneWriteProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        recording = Recording(transport)
        CONNECTIONS.append(recording)
        super().connection_made(cast(asyncio.Transport, recording))


@contextmanager
def served(app: Any) -> Iterator[tuple[str, int]]:
    CONNECTIONS.clear()
    with serve_app(app, http=RecordingProtocol) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def connect(addr: tuple[str, int]) -> tuple[socket.socket, BinaryIO]:
    sock = socket.create_connection(addr, timeout=10)
    return sock, sock.makefile("rb")


def read_head(f: BinaryIO) -> tuple[int, dict[str, str]]:
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 "), status
    headers = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status.split()[1]), headers


def read_body(f: BinaryIO, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return f.read(int(headers["content-length"]))
    assert headers.get("transfer-encoding") == "chunked", headers
    out = b""
    while size := int(f.readline().strip(), 16):
        out += f.read(size)
        assert f.readline() == b"\r\n"
    assert f.readline() == b"\r\n"
    return out


def read_response(f: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    status, headers = read_head(f)
    return status, headers, read_body(f, headers)


def get(path: str = "/", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nhost: test\r\n\r\n".encode()


def responses(writes: list[bytes]) -> list[bytes]:
    """The writes that start a final response (not the interim ``100 Continue``)."""
    return [w for w in writes if w.startswith(b"HTTP/1.1 ") and not w.startswith(b"HTTP/1.1 100 ")]


# ---- small ASGI apps -------------------------------------------------------------------------------


async def answer(scope: Scope, receive: Any, send: Any) -> None:
    """A complete answer: start with a content-length, then one body message (the gateway's JSON answers)."""
    if scope["type"] != "http":
        return
    body = b'{"ok": true, "path": "%s"}' % scope["path"].encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


def test_answer_head_and_body_in_one_write_over_keep_alive() -> None:
    with served(answer) as addr:
        sock, f = connect(addr)
        with sock:
            for i in range(4):
                sock.sendall(get(f"/r{i}"))
                status, headers, body = read_response(f)
                assert (status, body) == (200, b'{"ok": true, "path": "/r%d"}' % i)
                assert headers.get("connection") != "close"
        [conn] = CONNECTIONS
        assert len(conn.writes) == 4  # one per answer (it was two: head, then body)
        for i, w in enumerate(conn.writes):
            assert w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(b'"/r%d"}' % i)


def test_pipelined_requests_answer_in_order_one_write_each() -> None:
    with served(answer) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(get("/a") + get("/b") + get("/c"))
            bodies = [read_response(f)[2] for _ in range(3)]
        assert bodies == [b'{"ok": true, "path": "/%s"}' % p for p in (b"a", b"b", b"c")]
        assert len(CONNECTIONS[0].writes) == 3


def test_head_request_has_no_body_and_keeps_the_connection() -> None:
    with served(answer) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(get("/h", "HEAD"))
            status, headers = read_head(f)
            assert status == 200 and headers["content-length"] == str(len(b'{"ok": true, "path": "/h"}'))
            sock.sendall(get("/after"))  # the next bytes on the connection are the next response's
            assert read_response(f)[2] == b'{"ok": true, "path": "/after"}'
        writes = CONNECTIONS[0].writes
        assert len(writes) == 2 and writes[0].endswith(
            b"\r\n\r\n"
        )  # the HEAD answer: its head, flushed alone


async def stream(scope: Scope, receive: Any, send: Any) -> None:
    """A stream whose first event follows the start at once (the pipeline prefetches it), then two more."""
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )
    for i in range(3):
        if i:
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"data: %d\n\n" % i, "more_body": i < 2})


def test_stream_head_goes_with_the_first_event_and_every_event_follows() -> None:
    with served(stream) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(get())
            status, _, body = read_response(f)
        assert status == 200 and body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
        writes = CONNECTIONS[0].writes
        assert len(writes) == 3
        assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"data: 0\n\n\r\n")
        assert writes[2].endswith(b"data: 2\n\n\r\n0\r\n\r\n")


def test_slow_first_event_does_not_hold_the_head_back() -> None:
    gate = threading.Event()

    async def slow(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        while not gate.is_set():  # noqa: ASYNC110  (set from the test's thread, not the server's loop)
            await asyncio.sleep(0.005)
        await send({"type": "http.response.body", "body": b"late", "more_body": False})

    with served(slow) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(get())
            status, headers = read_head(f)  # arrives while the app still waits for its first event
            assert status == 200 and not gate.is_set()
            gate.set()
            assert read_body(f, headers) == b"late"
        writes = CONNECTIONS[0].writes
        assert len(writes) == 2 and writes[0].endswith(b"\r\n\r\n")


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


def test_expect_100_continue_goes_out_at_once_and_the_answer_in_one_write() -> None:
    with served(echo) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n"
            )
            assert f.readline() == b"HTTP/1.1 100 Continue\r\n" and f.readline() == b"\r\n"
            sock.sendall(b"hello")
            assert read_response(f)[::2] == (200, b"hello")
        assert [w[:12] for w in CONNECTIONS[0].writes] == [b"HTTP/1.1 100", b"HTTP/1.1 200"]
        assert CONNECTIONS[0].writes[1].endswith(b"\r\n\r\nhello")


async def fails_before_start(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        raise RuntimeError("boom")


async def fails_after_start(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
    raise RuntimeError("boom")


def test_app_exception_before_start_is_uvicorns_500_in_one_write() -> None:
    with served(fails_before_start) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(get())
            status, headers, body = read_response(f)
            assert (status, body, headers["connection"]) == (500, b"Internal Server Error", "close")
            assert f.read() == b""  # closed
        assert len(CONNECTIONS[0].writes) == 1


def test_app_exception_after_start_sends_the_head_then_closes() -> None:
    with served(fails_after_start) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(get())
            status, headers = read_head(f)
            assert status == 200 and headers["content-length"] == "10"
            assert f.read() == b""  # closed before the promised body, as uvicorn does


def test_client_disconnect_mid_stream_reaches_the_app() -> None:
    seen: list[str] = []

    async def endless(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/stream":
            await answer(scope, receive, send)
            return
        await receive()  # the request (no body)
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        listener = asyncio.ensure_future(receive())  # the next message: the disconnect
        while not listener.done():
            await send({"type": "http.response.body", "body": b"data: x\n\n", "more_body": True})
            await asyncio.sleep(0.01)
        seen.append(listener.result()["type"])

    with served(endless) as addr:
        sock, f = connect(addr)
        sock.sendall(get("/stream"))
        read_head(f)
        assert f.readline() == b"9\r\n" and f.readline() == b"data: x\n"
        f.close()
        sock.close()
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == ["http.disconnect"]
        sock, f = connect(addr)  # the server goes on
        with sock:
            sock.sendall(get())
            assert read_response(f)[0] == 200


def test_a_large_answer_is_delivered_through_flow_control() -> None:
    part = bytes(range(256)) * 4096  # 1 MiB per message, well above the transport's high-water mark

    async def large(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", b"%d" % (8 * len(part)))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i in range(8):
            await send({"type": "http.response.body", "body": part, "more_body": i < 7})

    with served(large) as addr:
        sock, f = connect(addr)
        with sock:
            sock.sendall(get())
            _, headers = read_head(f)
            time.sleep(0.2)  # a slow reader: the server's buffer fills and uvicorn pauses the app
            assert read_body(f, headers) == part * 8
        writes = CONNECTIONS[0].writes
        assert len(writes) == 8 and writes[0].startswith(b"HTTP/1.1 200") and writes[0].endswith(part)


# ---- the gateway itself ----------------------------------------------------------------------------


def test_gateway_answers_and_streams_with_the_head_in_the_first_write() -> None:
    with (
        run_sim(SimConfig(model="sim-qwen3-hybrid", mode="hybrid")) as hybrid,
        run_sim(SimConfig(model="sim-qwen3-thinking-2507", mode="thinking", seed=1)) as thinking,
        run_sim(SimConfig(model="sim-qwen3-instruct-2507", mode="instruct", seed=2)) as instruct,
    ):
        policy = parse_policy_text(demo_policy_yaml(hybrid.url, thinking.url, instruct.url))
        app = create_app(Settings(health_interval=0.5), policy)
        with served(app) as (host, port):
            url = f"http://{host}:{port}"
            body = {"model": "auto-fast", "messages": [{"role": "user", "content": "Say hello."}]}
            with httpx.Client(base_url=url, timeout=30) as client:
                first = client.post("/v1/chat/completions", json=body)
                assert first.status_code == 200 and first.json()["choices"][0]["message"]["content"]
                with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as resp:
                    text = b"".join(resp.iter_bytes())
                assert resp.status_code == 200 and text.endswith(b"data: [DONE]\n\n")
            [conn] = CONNECTIONS  # the client's keep-alive connection
            heads = responses(conn.writes)
            assert len(heads) == 2
            assert heads[0].startswith(b"HTTP/1.1 200") and heads[0].endswith(first.content)  # one write
            assert (
                b"\r\n\r\n" in heads[1] and b"data: {" in heads[1]
            )  # the stream's head with its first event


def test_serve_and_demo_run_the_one_write_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setenv("THINKGATE_CONFIG", "")  # serve.run sets it; restored after the test
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    policy = tmp_path / "policy.yaml"
    policy.write_text(demo_policy_yaml("http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9"))
    serve_ns = argparse.Namespace(
        config=str(policy), host="127.0.0.1", port=0, workers=1, log_level="warning"
    )
    assert serve.run(serve_ns) == 0
    demo_ns = argparse.Namespace(port=0, host="127.0.0.1", tokens_per_s=200.0, ttft_ms=0.0)
    assert demo.run(demo_ns) == 0
    assert [c["http"] for c in calls] == [OneWriteProtocol, OneWriteProtocol]
