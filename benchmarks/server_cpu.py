"""What the HTTP server layer costs per request in Python (issue 18): uvicorn's httptools protocol and the
gateway's ``gateway/server.py`` driven in process, without sockets.

A protocol object (uvicorn's ``HttpToolsProtocol``, or ``OneWriteProtocol`` of a revision's
``gateway/server.py``) is built as uvicorn builds it (``uvicorn.Config(proxy_headers=True)`` wraps the app in
``ProxyHeadersMiddleware``; the ``server`` and ``date`` default headers), connected to an in-memory
transport, and fed one keep-alive request at a time through ``data_received`` — the bytes an aiohttp client
sends for a chat request — until the response completes. Its CPU time (``time.process_time``) over N
sequential requests, minus the CPU of the same app called directly (``direct``: a scope dict,
``receive``/``send`` closures, no server), is the server's own Python share per request: parsing callbacks,
scope, request cycle, ``receive``/``send``, the head, flow control, the task, proxy headers. What this leaves
out: the socket syscalls and the event loop's I/O polling (C code in uvloop; ``server_writes.py`` counts the
syscalls per request).

Apps: ``trivial`` (reads the body, answers 1 KB of JSON with a content-length: the server's cost almost
alone), ``head`` (the same with the gateway's 11 answer headers), ``shaped`` (the gateway's message pattern
without its work: the body read, a ``DisconnectWatch`` listening on ``receive`` while the answer is made,
the gateway's answer head) and ``gateway`` (``create_app`` on a policy routing to ``mock_backend.py``, the
short chat task of ``request_cpu.py``: the real app, upstream socket included).

``--sockets`` then serves the first three apps over loopback (one server process per target, plus
``floor``: an httptools protocol that answers in ``data_received``, no ASGI) and drives each with aiohttp
closed loops at 1 and 64 connections, ``--rounds`` windows of ``--duration`` seconds per target in
alternating order: the server process's CPU per request, syscalls and event loop included.

``--calls`` also prints the Python function calls per request (``sys.setprofile``), by module, per target.

Each round is one child process (this checkout's app, this venv) in which every target serves: the app called
directly, uvicorn's own protocol, and ``OneWriteProtocol`` of each ``--rev``'s ``gateway/server.py`` (loaded
from ``git show REV:gateway/server.py`` as a module of its own), in interleaved blocks of 250 requests, so a
change of the box's load hits every target alike; the table shows medians over rounds.

Run: ``.venv/bin/python benchmarks/server_cpu.py --rev main --rev WORKTREE [--rounds 5] [--requests 3000]
[--app trivial --app gateway] [--calls] [--sockets [--duration 3]] [--json F]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import orjson
from hot_path import REPO, start_mock_with_policy
from loadgen import HOST, Processes
from request_cpu import body_for, call_once, chat_scope

ANSWER = orjson.dumps({"id": "x", "object": "chat.completion", "choices": [{"text": "y" * 900}]})


def scope_of(body: bytes) -> dict[str, Any]:
    """The scope uvicorn builds for ``request_bytes(body)`` (the same headers, lower-cased names)."""
    head = request_bytes(body).split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    headers = [(name.lower(), value) for name, _, value in (line.partition(b": ") for line in head)]
    return {**chat_scope(body), "headers": headers, "asgi": {"version": "3.0", "spec_version": "2.3"}}


def request_bytes(body: bytes) -> bytes:
    """A chat request as aiohttp 3 sends it (the load generator of ``hot_path.py``)."""
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {HOST}:8080\r\n"
        "Accept: */*\r\n"
        "Accept-Encoding: gzip, deflate\r\n"
        "User-Agent: Python/3.11 aiohttp/3.12.15\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the request body, answers ``ANSWER`` (the server's own cost, nearly alone)."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


#: the answer head of the gateway's short chat task (its own headers; the server adds date and server)
SHAPED_HEADERS = [
    (b"x-request-id", b"885b28b0951f22d4dadbba28809f11e7"),
    (b"x-thinkgate-effort", b"none"),
    (b"x-thinkgate-budget", b"0"),
    (b"x-thinkgate-source", b"classifier"),
    (b"x-thinkgate-front-door", b"chat"),
    (b"x-thinkgate-backend", b"mock"),
    (b"x-thinkgate-attempts", b"1"),
    (b"x-thinkgate-endpoint", b"http://127.0.0.1:43267"),
    (
        b"x-thinkgate-warnings",
        b"budget 0 ignored: thinking is off; sampling defaults (non-thinking): temperature=0.7",
    ),
    (b"content-length", b"%d" % len(ANSWER)),
    (b"content-type", b"application/json"),
]


async def shaped_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The gateway's message pattern without its work: read the body, listen for a disconnect while the
    answer is made (the pipeline's ``DisconnectWatch``), answer with the gateway's head."""
    from gateway.pipeline.disconnect import DisconnectWatch

    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    async with DisconnectWatch(receive) as watch:
        await asyncio.sleep(0)  # the listener starts and waits, as during an upstream call
        await send({"type": "http.response.start", "status": 200, "headers": SHAPED_HEADERS})
        watch.closing = True
        await send({"type": "http.response.body", "body": ANSWER})


async def head_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``trivial_app`` with the gateway's answer head (``SHAPED_HEADERS``): what 11 headers more cost."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": SHAPED_HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


#: ``--app`` choices other than ``gateway``
APPS: dict[str, Any] = {"trivial": trivial_app, "head": head_app, "shaped": shaped_app}


class MemoryTransport(asyncio.Transport):
    """A connected socket's transport in memory: keeps what is written; loopback peer and local address."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.out += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": (HOST, 50000), "sockname": (HOST, 8080)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def protocol_class(target: str, server_py: str) -> Any:
    """uvicorn's own protocol (``uvicorn``), or ``OneWriteProtocol`` of the file ``server_py`` (a revision's
    ``gateway/server.py``, loaded as its own module so that several revisions serve in one process)."""
    if target == "uvicorn":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    spec = importlib.util.spec_from_file_location(f"server_cpu_{abs(hash(target))}", server_py)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.check_uvicorn()
    return module.OneWriteProtocol


class Served:
    """One connection of a protocol class serving ``app`` as ``thinkgate serve`` would, fed in memory."""

    def __init__(self, cls: Any, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        import uvicorn
        from uvicorn.server import ServerState

        config = uvicorn.Config(app, proxy_headers=True, access_log=False, log_level="warning")
        config.load()
        state = ServerState()
        state.default_headers = [(b"date", b"Mon, 07 Dec 2026 17:00:00 GMT"), *config.encoded_headers]
        self.transport = MemoryTransport()
        self.protocol = cls(config=config, server_state=state, app_state={}, _loop=loop)
        self.protocol.connection_made(self.transport)
        self.done: asyncio.Future[None] | None = None
        completed = self.protocol.on_response_complete

        def on_response_complete() -> None:  # read when each request's cycle is built
            completed()
            if self.done is not None and not self.done.done():
                self.done.set_result(None)

        self.protocol.on_response_complete = on_response_complete
        self.loop = loop

    async def one(self, data: bytes) -> None:
        self.done = self.loop.create_future()
        self.transport.out.clear()
        self.protocol.data_received(data)
        await self.done
        if not self.transport.out.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(bytes(self.transport.out[:200]))


async def direct(app: Any, body: bytes, scope: dict[str, Any]) -> None:
    """The app called without a server, as ``request_cpu.py`` calls it."""
    await call_once(app, body, scope)


def runner(
    target: str, server_py: str, app: Any, body: bytes, loop: asyncio.AbstractEventLoop
) -> Callable[[], Any]:
    if target == "direct":
        scope = scope_of(body)
        return lambda: direct(app, body, scope)
    served = Served(protocol_class(target, server_py), app, loop)
    data = request_bytes(body)
    return lambda: served.one(data)


async def cpu_us(ones: dict[str, Callable[[], Any]], n: int, block: int = 250) -> dict[str, float]:
    """CPU µs per request of each runner over ``n`` requests, in interleaved blocks of ``block`` requests
    (so that a change of the box's load between targets hits them all alike)."""
    spent = dict.fromkeys(ones, 0.0)
    for one in ones.values():
        for _ in range(200):
            await one()
    for _ in range(max(1, n // block)):
        for target, one in ones.items():
            began = time.process_time()
            for _ in range(block):
                await one()
            spent[target] += time.process_time() - began
    return {target: s / (max(1, n // block) * block) * 1e6 for target, s in spent.items()}


def module_of(frame: Any) -> str:
    name = frame.f_globals.get("__name__", "?") if frame is not None else "?"
    return "server.py" if str(name).startswith("server_cpu_") else str(name).split(".")[0]


async def calls_per_request(one: Callable[[], Any], n: int) -> dict[str, float]:
    """Python function calls (and C calls) per request, by top-level module of the caller's code."""
    for _ in range(50):
        await one()
    counts: Counter[str] = Counter()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            counts[module_of(frame)] += 1
        elif event == "c_call":
            counts["C calls"] += 1

    sys.setprofile(profile)
    try:
        for _ in range(n):
            await one()
    finally:
        sys.setprofile(None)
    return {k: v / n for k, v in counts.most_common()}


def child(args: list[str]) -> None:
    """In the child: ``POLICY APP REQUESTS CALLS [NAME=SERVER_PY]...``; prints ``RESULT {...}`` on stderr."""
    policy, app_name, requests, calls = args[0], args[1], int(args[2]), args[3]
    servers = dict(arg.split("=", 1) for arg in ["direct=", "uvicorn=", *args[4:]])
    body = body_for(0)

    async def measure(app: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        ones = {name: runner(name, path, app, body, loop) for name, path in servers.items()}
        out: dict[str, Any] = {"cpu": await cpu_us(ones, requests), "calls": {}}
        if calls == "1":
            for target, one in ones.items():
                out["calls"][target] = await calls_per_request(one, 200)
        return out

    async def main() -> dict[str, Any]:
        if app_name != "gateway":
            return await measure(APPS[app_name])
        from gateway.app import create_app
        from gateway.settings import Settings

        app = create_app(Settings(config=policy))
        async with app.router.lifespan_context(app):
            return await measure(app)

    import uvloop

    result = uvloop.run(main())
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), file=sys.stderr)


def run_child(policy: Path, app: str, servers: dict[str, Path], requests: int, calls: bool) -> Any:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'benchmarks'}"}
    code = "import sys, server_cpu; server_cpu.child(sys.argv[1:])"
    argv = [sys.executable, "-P", "-c", code, str(policy), app, str(requests), "1" if calls else "0"]
    argv += [f"{name}={path}" for name, path in servers.items()]
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def server_py(rev: str, work: Path) -> Path:
    """``gateway/server.py`` of ``rev`` (``WORKTREE``: this checkout's file as it is)."""
    if rev == "WORKTREE":
        return REPO / "gateway" / "server.py"
    out = work / f"server-{rev.replace('/', '_').replace('~', '-')}.py"
    show = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:gateway/server.py"], capture_output=True)
    out.write_bytes(show.stdout)
    return out


# ---- over loopback sockets (``--sockets``) ----------------------------------------------------------


class FloorProtocol(asyncio.Protocol):
    """The floor of an httptools server on uvloop: parse each request (only the message-complete callback)
    and answer ``ANSWER`` in one write; no ASGI, no scope, no task. What it costs per request is the socket
    reads and writes, the event loop and the parser, i.e. what no Python server layer can save."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpRequestParser(self)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        self.answer = head % len(ANSWER) + ANSWER
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        assert self.transport is not None
        self.transport.write(self.answer)


def serve(args: list[str]) -> None:
    """In a server child: ``APP TARGET SERVER_PY PORT`` — serve ``APP`` (not ``gateway``) on 127.0.0.1
    with uvicorn's protocol (``uvicorn``), a revision's ``OneWriteProtocol``, or ``FloorProtocol``."""
    app_name, target, path, port = args[0], args[1], args[2], int(args[3])
    import uvloop

    if target == "floor":

        async def floor() -> None:
            server = await asyncio.get_running_loop().create_server(FloorProtocol, HOST, port)
            await server.serve_forever()

        uvloop.run(floor())
        return
    import uvicorn

    app = APPS[app_name]
    cls = protocol_class(target, path)
    options: dict[str, Any] = {
        "loop": "uvloop",
        "lifespan": "off",
        "access_log": False,
        "log_level": "warning",
    }
    config = uvicorn.Config(app, host=HOST, port=port, http=cls, **options)
    uvicorn.Server(config).run()


async def socket_rounds(
    urls: dict[str, str], pids: dict[str, int], rounds: int, duration: float, concurrency: int
) -> dict[str, list[float]]:
    """Closed loops of ``concurrency`` connections against each server in turn, ``rounds`` times (the order
    reversed every other round): the server process's CPU µs per request in each window."""
    from loadgen import aiohttp_sender, aiohttp_session, closed_loop, cpu_seconds

    body = body_for(0)
    out: dict[str, list[float]] = {name: [] for name in urls}
    names = list(urls)
    async with aiohttp_session(concurrency) as session:
        for n in range(rounds):
            for name in names if n % 2 == 0 else names[::-1]:
                send = aiohttp_sender(session, urls[name] + "/v1/chat/completions", body, stream=False)
                pid = pids[name]
                result = await closed_loop(
                    send,
                    name,
                    concurrency=concurrency,
                    duration=duration,
                    warmup=0.5,
                    cpu=lambda pid=pid: {"server": cpu_seconds(pid)},  # type: ignore[misc]
                )
                if result.errors or not result.ok:
                    raise RuntimeError(f"{name}: {result.first_error}")
                out[name].append(result.cpu_ms_per_request("server") * 1000)
    return out


def sockets(
    work: Path, apps: Sequence[str], servers: dict[str, Path], opts: argparse.Namespace
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Per app and connection count: each target's server CPU µs per request over loopback."""
    from loadgen import free_port, run_async

    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'benchmarks'}"}
    code = "import sys, server_cpu; server_cpu.serve(sys.argv[1:])"
    targets = {"floor": Path(), "uvicorn": Path(), **servers}
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for app in apps:
        if app == "gateway":
            continue  # end to end with the gateway app: hot_path.py
        procs = Processes(work, REPO)
        try:
            urls, pids = {}, {}
            for name, path in targets.items():
                port = free_port()
                child = procs.start(
                    f"{app}-{len(urls)}",
                    [sys.executable, "-P", "-c", code, app, name, str(path), str(port)],
                    env=env,
                )
                urls[name] = f"http://{HOST}:{port}"
                procs.wait_ok(f"{app}-{len(urls) - 1}", urls[name] + "/", timeout=30)
                pids[name] = child.proc.pid
            out[app] = {}
            for conns in (1, 64):
                print(f"sockets: {app}, {conns} connection(s)", file=sys.stderr, flush=True)
                out[app][str(conns)] = run_async(socket_rounds(urls, pids, opts.rounds, opts.duration, conns))
        finally:
            procs.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--app", action="append", choices=(*APPS, "gateway"), help="default: all")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=3000, help="requests per target and round")
    p.add_argument("--calls", action="store_true", help="also count Python calls per request (first round)")
    p.add_argument("--sockets", action="store_true", help="also over loopback (not the gateway app)")
    p.add_argument("--duration", type=float, default=3.0, help="seconds per loopback window")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs = opts.rev or ["WORKTREE"]
    apps = opts.app or [*APPS, "gateway"]
    load_before = os.getloadavg()
    runs: dict[str, dict[str, list[float]]] = {app: {} for app in apps}
    calls: dict[str, dict[str, Any]] = {app: {} for app in apps}
    with tempfile.TemporaryDirectory(prefix="thinkgate-server-cpu-") as tmp:
        work = Path(tmp)
        servers = {f"server.py@{rev}": server_py(rev, work) for rev in revs}
        procs = Processes(work, REPO)
        try:
            _, policy = start_mock_with_policy(procs, work)
            for n in range(opts.rounds):
                for app in apps:
                    print(f"round {n + 1}: {app}", file=sys.stderr, flush=True)
                    got = run_child(policy, app, servers, opts.requests, opts.calls and n == 0)
                    for col, us in got["cpu"].items():
                        runs[app].setdefault(col, []).append(us)
                    calls[app].update(got["calls"])
        finally:
            procs.close()
        over_sockets = sockets(work, apps, servers, opts) if opts.sockets else {}
    print(f"CPU µs per request in process, median of {opts.rounds} rounds of {opts.requests} requests")
    for app in apps:
        med = {col: statistics.median(v) for col, v in runs[app].items()}
        base = med["direct"]
        print(f"\napp: {app}")
        print("  target".ljust(28) + "µs/req".rjust(10) + "  server share µs".rjust(18) + "  per-round µs")
        for col, v in med.items():
            share = "" if col == "direct" else f"{v - base:18.1f}"
            rounds = ", ".join(f"{x:.1f}" for x in runs[app][col])
            print(f"  {col:<26}{v:10.1f}{share:>18}  [{rounds}]")
        if len(revs) > 1:
            first, last = f"server.py@{revs[0]}", f"server.py@{revs[-1]}"
            ratios = [b / a for a, b in zip(runs[app][first], runs[app][last], strict=True)]
            spread = f"per round {min(ratios):.3f}-{max(ratios):.3f}"
            print(f"  {last} / {first}: {med[last] / med[first]:.3f} ({spread})")
        for col, c in calls[app].items():
            top = ", ".join(f"{k} {v:.1f}" for k, v in c.items() if v >= 0.5)
            print(f"  calls per request, {col}: {top}")
    for app, by_conns in over_sockets.items():
        for conns, by_target in by_conns.items():
            print(f"\nover loopback, app {app}, {conns} connection(s): server CPU µs per request")
            for name, values in by_target.items():
                rounds = ", ".join(f"{x:.1f}" for x in values)
                print(f"  {name:<26}{statistics.median(values):10.1f}  [{rounds}]")
    print(f"\nload average before {load_before}, after {os.getloadavg()}")
    if opts.json:
        report = {"argv": sys.argv, "runs": runs, "calls": calls, "sockets": over_sockets}
        opts.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
