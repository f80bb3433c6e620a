"""The floor of a Python proxy of thinkgate's kind on this machine (issue 18) — a BENCHMARK TARGET ONLY.

This is not a product path and nothing in ``gateway/`` uses it: it has no policy, no routing, no validation,
no error envelopes, no timeouts, no metrics, no logs, no cancellation. It does only the least a gateway in
front of vLLM must do per chat request, so that ``hot_path.py --floor`` can measure, in the same run as
thinkgate, nginx and LiteLLM, what CPython itself costs for that work (uvloop, httptools, orjson) and which
layers of thinkgate's stack make the gap between that floor and thinkgate:

* read the request (HTTP/1.1, keep-alive, httptools), ``orjson.loads`` the body, set the backend's model name
  and splice one field in (``chat_template_kwargs``; ``stream_options.include_usage`` for a stream, as
  thinkgate asks upstream), ``orjson.dumps`` it;
* send it on a pooled keep-alive upstream connection (an asyncio Protocol, httptools' response parser, head
  and body in one write) to the backend (``mock_backend.py``);
* non-stream: ``orjson.loads`` the answer, normalise it (the client's model name back), ``orjson.dumps`` it,
  and write the response head and body in one write;
* stream: relay event by event — each SSE event parsed, normalised and re-serialised (``[DONE]`` passed
  as is), the first event alone in its own write (the first byte does not wait for the rest of its read),
  then the rest of each upstream read in one chunked write (the stream's end with the last one).

Layers (``--layer``), each adding one step of thinkgate's stack on top of the previous one:

* ``floor``: a server Protocol and the upstream Protocol wired by callbacks: no task, no future, no
  ``await`` per request (what a hand-written C-style event-driven proxy does, in Python);
* ``floor-async``: the same server Protocol, but each request is a coroutine (a task) that awaits the
  upstream exchange (futures woken by the upstream Protocol): the ``async``/``await`` style every Python
  web stack uses;
* ``floor-asgi``: the same coroutine as an ASGI app under thinkgate's HTTP server (``gateway.server.run``:
  uvicorn's httptools protocol with ``OneWriteProtocol``, uvicorn's default options as ``thinkgate serve``
  runs it: proxy headers, ``date`` and ``server`` headers, no access log);
* ``floor-asgi-client``: ``floor-asgi`` with thinkgate's upstream client (``gateway.backends.client``,
  with its slot accounting, deadline timer, keep-alive checks and response object) instead of the floor's;
* ``floor-framework``: ``floor-asgi-client`` inside thinkgate's framework shell: a ``GatewayApp`` (FastAPI
  with ``gateway/fastpath.py``'s hot routes) with ``RequestIdMiddleware``, the handler taking a Starlette
  ``Request`` (``await request.body()``) and returning a ``Response`` whose ASGI call runs the exchange (as
  thinkgate's ``PipelineResponse`` does).

What remains between ``floor-framework`` and thinkgate is thinkgate's own pipeline (front door, prologue,
decision, render, dispatch, disconnect watch, exchange, normalisation, relay, ledger, metrics, access log),
which ``request_cpu.py`` (in process) and ``request_stages.py`` (per stage) measure.

Run (normally started by ``hot_path.py --floor``):
``.venv/bin/python benchmarks/floor_proxy.py --layer floor --port 8100 --upstream http://127.0.0.1:9000``
(the ``floor-asgi*`` layers import ``gateway``: run with ``PYTHONPATH`` set to the repository root).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httptools
import orjson

LAYERS = ("floor", "floor-async", "floor-asgi", "floor-asgi-client", "floor-framework")
CHAT_PATH = b"/v1/chat/completions"
SPLICE = {"enable_thinking": False}  # the one field a gateway of this kind adds (instruct: no thinking)
USAGE = {"include_usage": True}
DONE = b"data: [DONE]"


# ---- the work on the bodies (the same in every layer) ----------------------------------------------------


def upstream_body(raw: bytes, backend_model: str) -> tuple[bytes, bool, Any]:
    """The request body for the backend, whether it is a stream, and the client's model name."""
    request = orjson.loads(raw)
    client_model = request.get("model")
    request["model"] = backend_model
    request["chat_template_kwargs"] = SPLICE
    stream = request.get("stream") is True
    if stream:
        request["stream_options"] = USAGE
    return orjson.dumps(request), stream, client_model


def normalise(raw: bytes, client_model: Any) -> bytes:
    """A non-stream answer parsed, the client's model name put back, serialised again."""
    answer = orjson.loads(raw)
    answer["model"] = client_model
    return orjson.dumps(answer)


class Events:
    """Splits an upstream SSE body into events across reads; each event parsed, normalised, re-serialised."""

    __slots__ = ("model", "tail")

    def __init__(self, model: Any) -> None:
        self.model = model
        self.tail = b""

    def feed(self, data: bytes) -> list[bytes]:
        if self.tail:
            data = self.tail + data
        parts = data.split(b"\n\n")
        self.tail = parts.pop()
        out = []
        for event in parts:
            if event.startswith(b"data: {"):
                chunk = orjson.loads(event[6:])
                chunk["model"] = self.model
                out.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
            elif event:
                out.append(event + b"\n\n")  # [DONE], comments
        return out


def chunked(parts: list[bytes], end: bool) -> bytes:
    """``parts`` as one HTTP/1.1 chunk (and the body's last chunk when ``end``)."""
    data = b"".join(parts)
    out = b"%x\r\n%b\r\n" % (len(data), data) if data else b""
    return out + b"0\r\n\r\n" if end else out


JSON_HEAD = b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
EMPTY_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class Origin:
    """The backend: host, port, model, the request head's constant part and the idle connections."""

    def __init__(self, url: str, model: str) -> None:
        hostport = url.removeprefix("http://").rstrip("/")
        host, _, port = hostport.partition(":")
        self.host, self.port, self.model = host, int(port or 80), model
        self.head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: %b\r\ncontent-type: application/json\r\n"
            % (hostport.encode())
        )
        self.idle: list[Any] = []

    def request(self, body: bytes) -> bytes:
        return self.head + b"content-length: %d\r\n\r\n" % len(body) + body


# ---- layer "floor": callbacks only -----------------------------------------------------------------------


class CallbackUpstream(asyncio.Protocol):
    """A keep-alive backend connection that feeds its answer straight into the client's connection."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.client: CallbackServer | None = None
        self.stream = False
        self.events: Events | None = None
        self.status = 0
        self.keep_alive = False
        self.body: list[bytes] = []
        self.out: list[bytes] = []
        self.first = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def start(self, client: CallbackServer, payload: bytes, stream: bool, model: Any) -> None:
        self.client, self.stream, self.status, self.first = client, stream, 0, True
        self.events = Events(model) if stream else None
        self.body = []
        assert self.transport is not None
        self.transport.write(self.origin.request(payload))

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)
        if self.out and self.client is not None:
            self.client.write(chunked(self.out, False))
            self.out = []

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it once the message is complete

    def on_body(self, body: bytes) -> None:
        if self.events is None or self.status != 200:
            self.body.append(body)
            return
        out = self.events.feed(body)
        if self.first and out and self.client is not None:
            self.first = False
            self.client.write(SSE_HEAD + chunked(out[:1], False))  # the first event alone, with the head
            out = out[1:]
        self.out += out

    def on_message_complete(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        if self.events is not None and self.status == 200:
            client.write((SSE_HEAD if self.first else b"") + chunked(self.out, True))
            self.out = []
        else:
            raw = b"".join(self.body)
            out = normalise(raw, client.model) if self.status == 200 else raw
            client.write(JSON_HEAD % (self.status, len(out)) + out)
        if self.keep_alive:
            self.origin.idle.append(self)
        elif self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.origin.idle:
            self.origin.idle.remove(self)
        if self.client is not None:
            self.client.fail()


class _ServerConnection(asyncio.Protocol):
    """A client connection's HTTP/1.1 plumbing, shared by the layers' servers: httptools parses, each
    chat request's body goes to :meth:`request`, another path gets an empty 200, a parse error a 400 and
    the connection closed."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail(400)

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        raw, self.body = b"".join(self.body), []
        if self.url != CHAT_PATH:
            self.write(EMPTY_OK)  # /health
        else:
            self.request(raw)

    def request(self, raw: bytes) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def fail(self, status: int = 502) -> None:
        self.write(JSON_HEAD % (status, 2) + b"{}")
        if self.transport is not None:
            self.transport.close()


class CallbackServer(_ServerConnection):
    """A client connection: each complete request goes straight onto an idle backend connection."""

    def __init__(self, origin: Origin) -> None:
        super().__init__()
        self.origin = origin
        self.model: Any = None

    def request(self, raw: bytes) -> None:
        try:
            payload, stream, self.model = upstream_body(raw, self.origin.model)
        except (orjson.JSONDecodeError, AttributeError):
            self.write(JSON_HEAD % (400, 2) + b"{}")
            return
        idle = self.origin.idle
        if idle:
            idle.pop().start(self, payload, stream, self.model)
        else:
            asyncio.get_running_loop().create_task(self._connect(payload, stream))

    async def _connect(self, payload: bytes, stream: bool) -> None:
        loop = asyncio.get_running_loop()
        origin = self.origin
        try:
            _, conn = await loop.create_connection(lambda: CallbackUpstream(origin), origin.host, origin.port)
        except OSError:
            self.fail()
            return
        conn.start(self, payload, stream, self.model)


# ---- layers "floor-async", "floor-asgi", "floor-asgi-client": a coroutine per request ----------------------


class AsyncUpstream(asyncio.Protocol):
    """A keep-alive backend connection read by a coroutine: body bytes collect until it takes them."""

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self.loop = loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.status = 0
        self.keep_alive = False
        self.chunks: list[bytes] = []
        self.headers_done = self.complete = self.lost = self.park_at_end = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, payload: bytes) -> None:
        self.status, self.chunks = 0, []
        self.headers_done = self.complete = self.park_at_end = False
        assert self.transport is not None
        self.transport.write(self.origin.request(payload))

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it once the message is complete
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        if self.park_at_end:  # the reader was done at [DONE]; the body's end came later
            self.chunks = []
            self.release()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self in self.origin.idle:
            self.origin.idle.remove(self)
        self._wake()

    async def wait(self) -> None:
        if self.lost:
            raise ConnectionError("the backend closed the connection")
        self.waiter = self.loop.create_future()
        await self.waiter

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks = []
        return data

    def release(self) -> None:
        self.park_at_end = False
        if self.complete and not self.lost and self.keep_alive:
            self.origin.idle.append(self)
        elif self.transport is not None:
            self.transport.close()


class FloorResponse:
    """The floor client's answer, with the part of ``UpstreamResponse``'s interface the handler uses."""

    __slots__ = ("conn", "done", "status")

    def __init__(self, conn: AsyncUpstream) -> None:
        self.conn, self.status, self.done = conn, conn.status, False

    async def read(self) -> bytes:
        conn = self.conn
        while not conn.complete:
            await conn.wait()
        return conn.take()

    async def receive(self) -> bytes:
        conn = self.conn
        while True:
            if conn.chunks:
                return conn.take()
            if conn.complete:
                return b""
            await conn.wait()

    def done_reading(self) -> None:
        self.done = True

    def close(self) -> None:
        conn = self.conn
        if conn.complete or not self.done:
            conn.release()  # complete: back to the pool; else (an unfinished answer) closed
        else:
            conn.park_at_end = True


class FloorClient:
    """The floor's pooled upstream client: ``request`` as ``UpstreamClient.request`` (for one origin)."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin

    async def request(self, method: str, url: str, *, body: bytes, headers: dict[str, str]) -> FloorResponse:
        origin = self.origin
        if origin.idle:
            conn: AsyncUpstream = origin.idle.pop()
        else:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(
                lambda: AsyncUpstream(origin, loop), origin.host, origin.port
            )
        conn.send(body)
        while not conn.headers_done:
            await conn.wait()
        return FloorResponse(conn)


class Emit:
    """Where the handler's answer goes: the raw server writes to its socket; ``AsgiEmit`` sends messages."""

    def __init__(self, server: AsyncServer) -> None:
        self.server = server

    async def whole(self, status: int, body: bytes) -> None:
        self.server.write(JSON_HEAD % (status, len(body)) + body)

    async def first(self, event: bytes) -> None:
        self.server.write(SSE_HEAD + chunked([event], False))

    async def more(self, data: bytes, last: bool) -> None:
        self.server.write(chunked([data], last))


class AsgiEmit(Emit):
    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.send = send

    async def whole(self, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def first(self, event: bytes) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        await self.send({"type": "http.response.body", "body": event, "more_body": True})

    async def more(self, data: bytes, last: bool) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": not last})


async def handle(client: Any, url: str, backend_model: str, raw: bytes, emit: Emit) -> None:
    """One chat request, as a coroutine: the same work as the ``floor`` layer's callbacks."""
    payload, stream, model = upstream_body(raw, backend_model)
    resp = await client.request("POST", url, body=payload, headers={"content-type": "application/json"})
    try:
        if not stream or resp.status != 200:
            answer = await resp.read()
            await emit.whole(resp.status, normalise(answer, model) if resp.status == 200 else answer)
            return
        events = Events(model)
        first = True
        while data := await resp.receive():
            out = events.feed(data)
            if first and out:
                first = False
                await emit.first(out[0])  # the first event alone
                out = out[1:]
            if out:
                last = out[-1].startswith(DONE)
                await emit.more(b"".join(out), last)
                if last:
                    resp.done_reading()
                    return
        if first:
            await emit.first(b"")  # a stream without events: the head
        await emit.more(b"", True)
    finally:
        resp.close()


class AsyncServer(_ServerConnection):
    """A client connection whose requests each run :func:`handle` as a task."""

    def __init__(self, client: FloorClient) -> None:
        super().__init__()
        self.client = client

    def request(self, raw: bytes) -> None:
        asyncio.get_running_loop().create_task(self._run(self.client.origin.model, raw))

    async def _run(self, model: str, raw: bytes) -> None:
        try:
            await handle(self.client, "/v1/chat/completions", model, raw, Emit(self))
        except (orjson.JSONDecodeError, AttributeError):
            self.write(JSON_HEAD % (400, 2) + b"{}")
        except OSError:
            self.write(JSON_HEAD % (502, 2) + b"{}")


def asgi_app(upstream: str, backend_model: str, thinkgate_client: bool) -> Any:
    """The coroutine as an ASGI app; its upstream client (the floor's or thinkgate's) made at start-up."""
    clients: list[Any] = []
    url = upstream.rstrip("/") + "/v1/chat/completions"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if thinkgate_client:
                        from gateway.backends.client import UpstreamClient
                        from router.policy import Timeouts

                        client = UpstreamClient(Timeouts(), 256)
                        await client.start()
                        clients.append(client)
                    else:
                        clients.append(FloorClient(Origin(upstream, backend_model)))
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] != "/v1/chat/completions":
            await AsgiEmit(send).whole(200, b"")
            return
        parts = []
        while True:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await handle(clients[0], url, backend_model, b"".join(parts), AsgiEmit(send))

    return app


def framework_app(upstream: str, backend_model: str) -> Any:
    """The ``floor-framework`` layer: the exchange with thinkgate's client inside thinkgate's app shell."""
    from contextlib import asynccontextmanager

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.backends.client import UpstreamClient
    from gateway.fastpath import GatewayApp
    from gateway.middleware import RequestIdMiddleware
    from router.policy import Timeouts

    clients: list[UpstreamClient] = []
    url = upstream.rstrip("/") + "/v1/chat/completions"

    @asynccontextmanager
    async def lifespan(_: Any) -> Any:
        client = UpstreamClient(Timeouts(), 256)
        await client.start()
        clients.append(client)
        yield
        await client.close()

    class Exchange(Response):
        def __init__(self, raw: bytes) -> None:  # Response.__init__ is not called, as in PipelineResponse
            self.raw = raw

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await handle(clients[0], url, backend_model, self.raw, AsgiEmit(send))

    async def chat(request: Request) -> Response:
        return Exchange(await request.body())

    async def health() -> Response:
        return Response(b"")

    app = GatewayApp(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestIdMiddleware)
    app.add_hot_route(CHAT_PATH.decode(), chat)
    app.add_api_route("/health", health, methods=["GET"])
    return app


async def serve_raw(layer: str, host: str, port: int, origin: Origin) -> None:
    loop = asyncio.get_running_loop()
    factory: Callable[[], asyncio.Protocol]
    if layer == "floor":
        factory = lambda: CallbackServer(origin)  # noqa: E731
    else:
        client = FloorClient(origin)
        factory = lambda: AsyncServer(client)  # noqa: E731
    server = await loop.create_server(factory, host, port, backlog=2048)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--layer", choices=LAYERS, default="floor")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="the backend's base URL, http://HOST:PORT")
    p.add_argument("--model", default="mock", help="the backend's model name")
    ns = p.parse_args()
    if ns.layer in ("floor", "floor-async"):
        import uvloop

        uvloop.run(serve_raw(ns.layer, ns.host, ns.port, Origin(ns.upstream, ns.model)))
        return
    # thinkgate's HTTP server: uvicorn + OneWriteProtocol, as `thinkgate serve` runs it
    from gateway.server import run

    if ns.layer == "floor-framework":
        app = framework_app(ns.upstream, ns.model)
    else:
        app = asgi_app(ns.upstream, ns.model, thinkgate_client=ns.layer == "floor-asgi-client")
    run(app, host=ns.host, port=ns.port, log_level="warning", access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
