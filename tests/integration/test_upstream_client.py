"""The upstream HTTP client against a scripted HTTP/1.1 server on loopback (real sockets, no simulator).

Each test says what the server writes and checks what the gateway's client makes of it: framing
(content-length, chunked, end of connection), keep-alive reuse, the connection limit, every timeout kind,
closing an unfinished response, malformed responses, back-pressure and TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import ssl
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.app import create_app
from gateway.backends import client as client_module
from gateway.backends import http1
from gateway.backends.client import UpstreamClient, UpstreamFailure
from gateway.backends.pool import Pool
from gateway.metrics import GatewayMetrics
from gateway.pipeline.door import Call
from gateway.pipeline.native import open_native
from gateway.pipeline.plan import Step
from gateway.settings import Settings
from router.policy import BackendSpec, Timeouts
from tests.harness import make_policy

#: what the server does with one parsed request: write to the writer (and maybe wait, or close)
Script = Callable[[bytes, bytes, asyncio.StreamWriter, asyncio.StreamReader], Awaitable[None]]


@dataclass
class Server:
    url: str
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)  # (head, body)
    connections: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # set when a client connection ends


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[asyncio.Server] = []
    handlers: set[asyncio.Task[None]] = set()

    async def start(script: Script, tls: ssl.SSLContext | None = None) -> Server:
        state = Server("")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            state.connections += 1
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                while (req := await read_request(reader)) is not None:
                    state.requests.append(req)
                    await script(req[0], req[1], writer, reader)
                    if writer.is_closing():
                        break
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
                state.closed.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        state.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        return state

    yield start
    for server in servers:
        server.close()
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def answer_json(
    head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
) -> None:
    writer.write(ok(b'{"echo": %d}' % len(body), b"content-type: application/json\r\n"))


def make_client(max_connections: int = 4, **timeouts: float) -> UpstreamClient:
    return UpstreamClient(Timeouts(**timeouts), max_connections)


async def test_content_length_body_and_keep_alive_reuse(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(answer_json)
    client = make_client()
    await client.start()
    try:
        for size in (0, 10, 200_000):
            resp = await client.request(
                "POST", server.url + "/v1/x?q=1", body=b"a" * size, headers={"x-request-id": "r1"}
            )
            assert resp.status == 200
            assert resp.headers["content-type"] == "application/json"
            assert await resp.read() == b'{"echo": %d}' % size
            resp.close()
        assert server.connections == 1  # one connection, reused
        head, _ = server.requests[0]
        assert head.startswith(b"POST /v1/x?q=1 HTTP/1.1\r\n")
        assert b"\r\nx-request-id: r1\r\n" in head and b"\r\ncontent-length: 0\r\n" in head
        assert b"accept-encoding" not in head.lower()  # nothing compressed comes back
        assert len(server.requests[2][1]) == 200_000
    finally:
        await client.close()


async def test_waiting_is_called_once_when_the_request_first_waits(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    """``waiting`` runs once per request, before it first waits: after its write on an idle connection (the
    pipeline builds the answer's head then), before connecting on a new one, before queueing for a slot; a
    failing ``waiting`` fails the request and frees its slot."""
    answer = asyncio.Event()

    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        await answer.wait()  # no answer until the client has called waiting()
        writer.write(ok(b"{}"))

    server = await serve(script)
    client = make_client(max_connections=1)
    await client.start()
    calls: list[tuple[int, int]] = []  # (connections, requests) the server had seen by then

    def waiting() -> None:
        calls.append((server.connections, len(server.requests)))
        answer.set()

    async def one(hook: Callable[[], None] | None = waiting) -> None:
        resp = await asyncio.wait_for(client.request("POST", server.url + "/x", body=b"{}", waiting=hook), 5)
        assert await resp.read() == b"{}"
        resp.close()

    try:
        await one()  # no idle connection: called before connecting
        assert calls == [(0, 0)]
        answer.clear()
        await one()  # an idle connection: called after the write (the server may not have read it yet)
        assert len(calls) == 2 and calls[1][0] == 1
        answer.clear()
        calls.clear()
        first = asyncio.create_task(one(None))  # holds the only slot until answered
        await asyncio.sleep(0.05)
        second = asyncio.create_task(one())  # queues for the slot: called before it waits
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert len(calls) == 1

        def broken() -> None:
            raise RuntimeError("waiting failed")

        with pytest.raises(RuntimeError, match="waiting failed"):
            await client.request("POST", server.url + "/x", body=b"{}", waiting=broken)
        await one()  # the slot was freed
    finally:
        await client.close()


async def test_chunked_stream_arrives_chunk_by_chunk(serve: Callable[..., Awaitable[Server]]) -> None:
    gate = asyncio.Event()

    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"6\r\nfirst\n\r\n")
        await writer.drain()
        await gate.wait()  # the client must see the first chunk before the rest exists
        writer.write(b"7\r\nsecond\n\r\n0\r\n\r\n")

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        resp = await client.request("POST", server.url + "/s", body=b"{}")
        got = []
        async for chunk in resp.chunks():
            got.append(chunk)
            gate.set()
        resp.close()
        assert got == [b"first\n", b"second\n"]
        resp = await client.request("POST", server.url + "/s", body=b"{}")  # reused after a chunked body
        assert await resp.read() == b"first\nsecond\n"
        resp.close()
        assert server.connections == 1
    finally:
        await client.close()


async def test_body_until_the_connection_closes(serve: Callable[..., Awaitable[Server]]) -> None:
    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        writer.close()

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        for _ in range(2):  # the second request needs (and gets) a new connection
            resp = await client.request("GET", server.url + "/metrics")
            assert await resp.read() == b"all of it"
            resp.close()
        assert server.connections == 2
    finally:
        await client.close()


async def test_informational_response_is_skipped(serve: Callable[..., Awaitable[Server]]) -> None:
    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"real", b"x-a: 1\r\n"))

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        resp = await client.request("POST", server.url + "/", body=b"{}")
        assert (resp.status, resp.headers.get("x-a"), await resp.read()) == (200, "1", b"real")
        resp.close()
    finally:
        await client.close()


async def test_closing_an_unfinished_stream_closes_the_connection(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await reader.read()  # never finishes on its own: waits until the client goes

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        resp = await client.request("POST", server.url + "/s", body=b"{}")
        async for chunk in resp.chunks():
            assert chunk == b"hello"
            break
        resp.close()
        resp.close()  # idempotent
        await asyncio.wait_for(server.closed.wait(), 5)  # the backend sees the cancellation at once
    finally:
        await client.close()


async def test_the_connection_limit_queues_requests(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(answer_json)
    client = make_client(max_connections=1)
    await client.start()
    try:
        first = await client.request("POST", server.url + "/", body=b"1")
        second = asyncio.ensure_future(client.request("POST", server.url + "/", body=b"22"))
        await asyncio.sleep(0.05)
        assert not second.done()  # waits for the only slot
        assert await first.read() == b'{"echo": 1}'
        first.close()
        resp = await asyncio.wait_for(second, 5)
        assert await resp.read() == b'{"echo": 2}'
        resp.close()
        assert server.connections == 1
        # a waiter that is cancelled gives up its place without taking a slot
        held = await client.request("POST", server.url + "/", body=b"1")
        waiting = asyncio.ensure_future(client.request("POST", server.url + "/", body=b"1"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await held.read()
        held.close()
        resp = await asyncio.wait_for(client.request("POST", server.url + "/", body=b"1"), 5)
        resp.close()
        # a response dropped without close() (a caller's bug) still gives its slot back
        dropped = await client.request("POST", server.url + "/", body=b"1")
        del dropped
        resp = await asyncio.wait_for(client.request("POST", server.url + "/", body=b"1"), 5)
        resp.close()
    finally:
        await client.close()


async def test_connect_failure_is_a_connect_failure() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    client = make_client()
    await client.start()
    try:
        with pytest.raises(UpstreamFailure) as err:
            await client.request("POST", f"http://127.0.0.1:{port}/v1/chat/completions", body=b"{}")
        assert err.value.kind == "connect"
    finally:
        await client.close()


async def test_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def never(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(30)

    monkeypatch.setattr(loop, "create_connection", never)
    client = make_client(connect=0.1)
    await client.start()
    try:
        with pytest.raises(UpstreamFailure) as err:
            await client.request("POST", "http://127.0.0.1:9/x", body=b"{}")
        assert err.value.kind == "timeout" and "connect" in err.value.message
    finally:
        await client.close()


async def test_first_byte_idle_and_total_timeouts(serve: Callable[..., Awaitable[Server]]) -> None:
    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        if head.startswith(b"POST /hang"):
            await asyncio.sleep(30)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        if head.startswith(b"POST /drip"):
            for _ in range(200):  # a byte every 50 ms: never idle, but never done either
                writer.write(b"1\r\n.\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
        await asyncio.sleep(30)

    server = await serve(script)
    client = make_client(connect=0.2, first_byte=0.3, idle=0.6, total=1.5)
    await client.start()
    try:
        with pytest.raises(UpstreamFailure) as err:
            await client.request("POST", server.url + "/hang", body=b"{}")
        assert err.value.kind == "timeout"
        resp = await client.request("POST", server.url + "/quiet", body=b"{}")
        with pytest.raises(UpstreamFailure) as err:
            await resp.read()
        resp.close()
        assert err.value.kind == "idle"
        resp = await client.request("POST", server.url + "/drip", body=b"{}")
        got = b""
        with pytest.raises(UpstreamFailure) as err:
            async for chunk in resp.chunks():
                got += chunk
        resp.close()
        assert err.value.kind == "timeout" and "total" in err.value.message
        assert len(got) >= 5  # the drip was read until the total timeout, no idle timeout on the way
    finally:
        await client.close()


async def test_a_timeout_does_not_swallow_an_outside_cancellation(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        await reader.read()  # no answer; returns when the client goes

    server = await serve(script)
    client = make_client(first_byte=5)
    await client.start()
    try:
        task = asyncio.ensure_future(client.request("POST", server.url + "/", body=b"{}"))
        await asyncio.sleep(0.1)
        task.cancel()  # the client left: the request is cancelled, not turned into an upstream failure
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.closed.wait(), 5)
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("reply", "where"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort", "body"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel", "body"),
        (b"", "head"),
        (b"HTTP/1.1 200 OK\r\ncontent-len", "head"),
        (b"NOT HTTP AT ALL\r\n\r\n", "head"),
    ],
)
async def test_dropped_or_malformed_responses_are_protocol_failures(
    serve: Callable[..., Awaitable[Server]], reply: bytes, where: str
) -> None:
    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        with pytest.raises(UpstreamFailure) as err:
            resp = await client.request("POST", server.url + "/", body=b"{}")
            try:
                assert where == "body"
                async for _ in resp.chunks():
                    pass
            finally:
                resp.close()
        assert err.value.kind == "protocol"
    finally:
        await client.close()


async def test_status_and_probe_helpers(serve: Callable[..., Awaitable[Server]]) -> None:
    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        if head.startswith(b"GET /version"):
            writer.write(ok(b'{"version": "0.32.0"}'))
        elif head.startswith(b"GET /metrics"):
            writer.write(ok("vllm:num_requests_waiting 3\n# \xe9\n".encode()))
        else:
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy")

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        assert await client.get_json(server.url + "/version") == {"version": "0.32.0"}
        assert (await client.get_text(server.url + "/metrics")).startswith("vllm:num_requests_waiting 3")
        assert await client.get_status(server.url + "/health") == 503
        with pytest.raises(UpstreamFailure) as err:
            await client.get_json(server.url + "/health")
        assert err.value.kind == "probe"
        resp = await client.request("POST", server.url + "/v1/chat/completions", body=b"{}")
        assert (resp.status, await resp.read()) == (503, b"busy")
        resp.close()
    finally:
        await client.close()


async def test_header_values_cannot_split_the_request() -> None:
    client = make_client()
    await client.start()
    try:
        with pytest.raises(UpstreamFailure):
            await client.request(
                "POST", "http://127.0.0.1:9/x", body=b"", headers={"x-request-id": "a\r\nb: c"}
            )
    finally:
        await client.close()


async def test_a_slow_reader_pauses_the_connection(
    serve: Callable[..., Awaitable[Server]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1, "HIGH_WATER", 1024)
    total = 4 * 1024 * 1024

    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % total)
        for _ in range(total // 65536):
            writer.write(b"x" * 65536)
            await writer.drain()

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        resp = await client.request("POST", server.url + "/", body=b"{}")
        await asyncio.sleep(0.3)  # the server keeps writing; the client stops reading past the high water
        conn = resp._conn
        assert sum(len(c) for c in conn.chunks) < total
        got = 0
        async for chunk in resp.chunks():
            got += len(chunk)
        resp.close()
        assert got == total
    finally:
        await client.close()


def self_signed(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    return server_ctx, cert_path


async def test_https_backend_is_verified(
    serve: Callable[..., Awaitable[Server]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_ctx, cert_path = self_signed(tmp_path)
    server = await serve(answer_json, tls=server_ctx)
    untrusted = make_client()
    await untrusted.start()
    try:
        with pytest.raises(UpstreamFailure) as err:
            await untrusted.request("POST", server.url + "/", body=b"{}")
        assert err.value.kind == "connect"  # the system trust store does not know this certificate
    finally:
        await untrusted.close()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # how operators add a private CA
    trusted = make_client()
    await trusted.start()
    try:
        for _ in range(2):
            resp = await trusted.request("POST", server.url + "/v1/chat/completions", body=b"abc")
            assert await resp.read() == b'{"echo": 3}'
            resp.close()
        assert server.connections == 1
    finally:
        await trusted.close()


@pytest.mark.parametrize("ends", [True, False])
async def test_a_finished_stream_drains_and_keeps_its_connection(
    serve: Callable[..., Awaitable[Server]], monkeypatch: pytest.MonkeyPatch, ends: bool
) -> None:
    """After ``[DONE]`` the chunked terminator often comes in a later read: the connection waits for it (up
    to DRAIN_S) and is reused; a body that does not end in time closes its connection."""
    monkeypatch.setattr(client_module, "DRAIN_S", 0.5)

    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"e\r\ndata: [DONE]\n\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        if ends or head.startswith(b"POST /second"):
            writer.write(b"0\r\n\r\n")

    server = await serve(script)
    client = make_client()
    await client.start()
    try:
        resp = await client.request("POST", server.url + "/first", body=b"{}")
        async for chunk in resp.chunks():
            assert chunk == b"data: [DONE]\n\n"
            break
        resp.done_reading()
        resp.close()
        await asyncio.sleep(0.8)
        resp = await client.request("POST", server.url + "/second", body=b"{}")
        assert await resp.read() == b"data: [DONE]\n\n"
        resp.close()
        assert server.connections == (1 if ends else 2)
    finally:
        await client.close()


async def test_a_relayed_stream_leaves_no_async_generator_to_the_loop(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    """The opener reads a stream to its first event and the relay stops at ``[DONE]``: neither may leave an
    async generator unfinished, since the loop closes each one through its finaliser hook (a thread-safe
    wake-up and a task per stream). Two reads, the second one after the first event was relayed."""
    gate = asyncio.Event()
    first = b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
    rest = b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n'

    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        await gate.wait()
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))

    server = await serve(script)
    spec = {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": [server.url]}
    pool = Pool.build("p", BackendSpec.model_validate(spec))
    await pool.client.start()
    firstiter, finalizer = sys.get_asyncgen_hooks()
    finalised: list[object] = []

    def watch(agen: AsyncGenerator[Any, None]) -> None:
        finalised.append(agen)
        if finalizer is not None:
            finalizer(agen)

    sys.set_asyncgen_hooks(firstiter, watch)
    try:
        step = Step(pool, None, None, b"{}")
        call = Call(body={}, model="m", stream=True)
        lease = pool.acquire(pool.endpoints[0], GatewayMetrics())
        exchange = await open_native(step, lease, call, "rid", None)
        got = []
        async with contextlib.aclosing(exchange.chunks()) as batches:
            async for batch in batches:
                got.extend(c["choices"][0]["delta"]["content"] for c in batch)
                gate.set()
        exchange.close()
        del exchange, batches
        gc.collect()
        await asyncio.sleep(0)
        assert got == ["a", "b"]
        assert finalised == []
    finally:
        sys.set_asyncgen_hooks(firstiter, finalizer)
        await pool.client.close()


@pytest.mark.parametrize("reads", [1, 2])
async def test_the_last_read_of_a_stream_goes_out_with_its_end(
    serve: Callable[..., Awaitable[Server]], reads: int
) -> None:
    """Through the app: when [DONE] arrives in the read of the last events, those events and the stream's
    end are one body message (one socket write); events of an earlier read go out at once on their own."""
    gate = asyncio.Event()
    events = [
        b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n'
        % word
        for word in (b"a", b"b")
    ]

    async def script(
        head: bytes, body: bytes, writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        if not head.startswith(b"POST "):  # the gateway's probes
            answer = b'{"version":"0.32.0"}' if head.startswith(b"GET /version ") else b""
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer))
            return
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        parts = [events[0] + events[1] + b"data: [DONE]\n\n"]
        if reads == 2:
            parts = [events[0], events[1] + b"data: [DONE]\n\n"]
        for n, part in enumerate(parts):
            if n:
                await gate.wait()  # the first read was relayed before the rest exists
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    server = await serve(script)
    backends = {"b": {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": [server.url]}}
    app = create_app(Settings(), make_policy(backends, {"auto": {"thinking": ["b"], "instruct": ["b"]}}))
    body = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": {},
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            gate.set()

    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert sent[0]["status"] == 200
    assert len(bodies) == reads
    assert [m.get("more_body", False) for m in bodies] == [True] * (reads - 1) + [False]
    text = b"".join(m["body"] for m in bodies)
    assert text.endswith(b"data: [DONE]\n\n") and text.count(b"data: ") == 3
    assert [orjson.loads(e[6:])["choices"][0]["delta"]["content"] for e in text.split(b"\n\n")[:2]] == [
        "a",
        "b",
    ]
